# Write-audit-publish: a failing error check keeps the table's snapshot and deletes staged files;
# its dependents are skipped, independent models still run.
P="--project project"
run() { $SLUICE model run --project project --threads 1 --ds 2024-01-01 "$@"; }
files() { find "$DATA_DIR/lake/refined/orders/data" -name '*.parquet' 2>/dev/null | wc -l; }
current() { $SLUICE table snapshots refined.orders --format csv | tail -n 1 | cut -d, -f1; }
$SLUICE sql -e "CREATE TABLE raw.orders (order_id INT, user_id INT, amount DECIMAL(10,2))"
$SLUICE sql -e "INSERT INTO raw.orders VALUES (1, 10, 5.00), (2, 11, 7.00)"
echo "== good data publishes"
run
before=$(current); files_before=$(files)
echo "files: $files_before"
echo "== bad rows: a NULL user and a negative amount"
$SLUICE sql -e "INSERT INTO raw.orders VALUES (3, NULL, 1.00), (4, 12, -3.00), (5, 12, 1.00)"
run
echo "exit: $?"
after=$(current)
[ "$before" = "$after" ] && echo "snapshot unchanged" || echo "SNAPSHOT CHANGED: $before -> $after"
echo "files: $(files)"
$SLUICE sql --format csv -e "SELECT * FROM refined.orders ORDER BY order_id"
$SLUICE sql --format csv -e "SELECT check_name, severity, passed, failing_count, sample FROM _system.quality_results WHERE NOT passed ORDER BY check_name"
echo "== a model failing its checks on its first run leaves no table"
$SLUICE sql -e "DROP TABLE refined.orders PURGE"
run refined.orders
$SLUICE sql -e "SELECT * FROM refined.orders"
echo "== fixed at the source: publishes"
$SLUICE sql -e "DELETE FROM raw.orders WHERE user_id IS NULL OR amount < 0"
run +curated.user_totals
$SLUICE sql --format csv -e "SELECT * FROM curated.user_totals ORDER BY 1"

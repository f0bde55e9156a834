# Every materialization: table, view, incremental append / merge / insert_overwrite, and PII.
P="--project project"
run() { $SLUICE model run --project project --threads 1 "$@"; }
$SLUICE sql -e "CREATE TABLE raw.orders (order_id INT, status VARCHAR, amount DECIMAL(10,2), order_ts TIMESTAMP)"
$SLUICE sql -e "INSERT INTO raw.orders VALUES (1, 'placed', 10.00, '2024-01-01 10:00:00'), (2, 'paid', 20.00, '2024-01-01 11:00:00'), (3, 'placed', 5.00, '2024-01-02 09:00:00')"
$SLUICE sql -e "CREATE TABLE raw.customers AS SELECT 1 AS customer_id, 'Jane Doe' AS name, 'jane.doe@example.com' AS email, '+84 912 345 678' AS phone UNION ALL SELECT 2, 'Bob', NULL, '555-0100'"
echo "== list, graph, plan"
$SLUICE model list $P
$SLUICE model graph $P
$SLUICE model plan refined.orders_daily $P --ds 2024-01-01 --var fx=2
echo "== day 1"
run --ds 2024-01-01
for t in refined.orders_append refined.orders_merge refined.orders_daily curated.status_counts curated.paid_orders; do
  echo "-- $t"; $SLUICE sql --format csv -e "SELECT * FROM $t ORDER BY ALL"
done
$SLUICE sql --format csv -e "SELECT customer_id, length(name) AS hash_len, name = sha256('golden-salt' || 'Jane Doe') AS salted, email, phone FROM refined.customers ORDER BY 1"
echo "== day 2: order 1 paid, order 4 placed"
$SLUICE sql -e "UPDATE raw.orders SET status = 'paid' WHERE order_id = 1"
$SLUICE sql -e "INSERT INTO raw.orders VALUES (4, 'placed', 7.50, '2024-01-02 18:00:00')"
run --ds 2024-01-02 refined.orders_append refined.orders_merge+ refined.orders_daily
for t in refined.orders_append refined.orders_merge refined.orders_daily curated.status_counts curated.paid_orders; do
  echo "-- $t"; $SLUICE sql --format csv -e "SELECT * FROM $t ORDER BY ALL"
done
echo "== re-run day 1 of the insert_overwrite model with fx=2: only 2024-01-01 changes"
run --ds 2024-01-01 --var fx=2 orders_daily
$SLUICE sql --format csv -e "SELECT * FROM refined.orders_daily ORDER BY ALL"
$SLUICE table snapshots refined.orders_daily --format csv | cut -d, -f4-8 | tail -n +2
echo "== errors"
run --ds 2024-13-01 orders_daily
run nope

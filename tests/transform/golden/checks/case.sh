# Every check type on a published table; results land in _system.quality_results.
$SLUICE sql -e "CREATE TABLE raw.orders AS SELECT * FROM (VALUES (1), (2), (3), (4), (5), (6)) AS t(n)"
$SLUICE sql -e "CREATE TABLE refined.users AS SELECT * FROM (VALUES (10), (11), (12)) AS t(id)"
$SLUICE sql -e "CREATE TABLE refined.orders AS SELECT * FROM (VALUES
  (1, 10, 'placed',  25.00, 'a@x.com', DATE '2020-01-01'),
  (2, 11, 'paid',     0.00, 'b@x.com', DATE '2020-01-01'),
  (2, 12, 'shipped', 40.00, 'not-an-email', DATE '2020-01-02'),
  (4, 99, 'lost',  1500.00, NULL, DATE '2020-01-02'),
  (5, NULL, NULL,    10.00, 'e@x.com', DATE '2020-01-02'),
  (6, 10, 'placed',   5.00, 'f@x.com', DATE '2020-01-01'),
  (7, 10, 'test',     1.00, 'g@x.com', DATE '2020-01-03')
) AS t(order_id, user_id, status, amount, email, order_day)"
$SLUICE sql -e "ALTER TABLE refined.orders ADD COLUMN created_at TIMESTAMP"
$SLUICE sql -e "UPDATE refined.orders SET created_at = CAST(now() AS TIMESTAMP) - INTERVAL 1 HOUR"
$SLUICE quality list --project project
$SLUICE quality run --project project
echo "== one table"
$SLUICE quality run refined.users --project project
$SLUICE quality run refined.nope --project project
echo "== recorded"
$SLUICE sql --format csv -e "SELECT table_name, check_name, severity, passed, failing_count, snapshot_id IS NOT NULL AS has_snapshot FROM _system.quality_results ORDER BY checked_at, table_name, check_name"

# The example warehouse, built from the raw fixture with one command; its saved queries' results.
EX=../../../../examples/ecommerce
$SLUICE sql -f $EX/sql/raw_fixture.sql >/dev/null
$SLUICE model run --project $EX --ds 2024-03-01 | grep -E '^(FAIL|SKIP|run)|FAIL|WARN' | sed -E 's/ +[0-9]+ rows//'
$SLUICE quality run --project $EX | tail -n 1
for q in revenue_by_category top_products customer_ltv fraud_rate; do
  echo "-- $q"; $SLUICE sql --format csv -f $EX/sql/$q.sql
done
echo "-- user_features"
$SLUICE sql --format csv -e "SELECT count(*) AS users, sum(CAST(churned AS INT)) AS churned, sum(orders_90d) AS orders_90d, sum(payment_failures) AS failures FROM curated.user_features"
echo "-- re-run refined.orders for one day: only that day's changes are merged"
$SLUICE sql -e "UPDATE raw.shop_orders SET status = 'SHIPPED', updated_at = TIMESTAMP '2024-03-02 09:00:00' WHERE order_id = 1" >/dev/null
$SLUICE model run --project $EX --ds 2024-03-02 --var since=2024-03-02 refined.orders | grep -E '^(OK|FAIL)' | sed -E 's/ +[0-9.]+s.*//'
$SLUICE sql --format csv -e "SELECT order_id, status FROM refined.orders WHERE order_id IN (1, 2) ORDER BY 1"

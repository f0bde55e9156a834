-- Latest version per order, cleaned.
-- config: materialized=table, partition_by=month(order_ts)
SELECT order_id, user_id, lower(status) AS status, amount, order_ts
FROM raw.bench_orders
WHERE amount >= 0
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1

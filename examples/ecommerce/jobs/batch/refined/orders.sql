-- Orders: upserted by order_id from the rows changed up to the logical date. A first run (or
-- --var since=1970-01-01) loads everything; `--ds D --var since=D` re-merges one day's changes.
-- config: materialized=incremental, strategy=merge, unique_key=order_id, partition_by=day(order_ts)
SELECT order_id, user_id, lower(trim(status)) AS status, created_at AS order_ts, updated_at
FROM raw.shop_orders
WHERE updated_at < TIMESTAMP '{{ next_ds }}'
  AND updated_at >= TIMESTAMP '{{ var('since', '1970-01-01') }}'
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1

-- Orders: upserted by order_id from the rows changed up to the logical date, the latest version
-- per order. A first run (or --var since=1970-01-01) loads everything; `--ds D --var since=D`
-- re-merges one day's changes. Amounts are in the order's currency.
-- config: materialized=incremental, strategy=merge, unique_key=order_id, partition_by=day(ordered_at)
SELECT order_id, user_id, upper(trim(status)) AS status,
       upper(trim(status)) IN ('PAID', 'SHIPPED', 'DELIVERED') AS is_revenue,
       total_amount, upper(trim(currency)) AS currency, ordered_at, shipping_date,
       nullif(trim(note), '') AS note, updated_at
FROM raw.shop_orders
WHERE updated_at < TIMESTAMPTZ '{{ next_ds }} 00:00:00+00'
  AND updated_at >= TIMESTAMPTZ '{{ var('since', '1970-01-01') }} 00:00:00+00'
  AND total_amount >= 0
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC, _ingested_at DESC) = 1

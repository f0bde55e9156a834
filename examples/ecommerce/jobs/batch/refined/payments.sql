-- Payment attempts: the latest version per payment_id (a PENDING attempt later settles).
-- config: materialized=incremental, strategy=merge, unique_key=payment_id
SELECT payment_id, order_id, user_id, amount, lower(trim(method)) AS method,
       upper(trim(status)) AS status, nullif(lower(trim(failure_reason)), '') AS failure_reason,
       created_at, updated_at
FROM raw.shop_payments
WHERE updated_at < TIMESTAMPTZ '{{ next_ds }} 00:00:00+00'
QUALIFY row_number() OVER (PARTITION BY payment_id ORDER BY updated_at DESC, _ingested_at DESC) = 1

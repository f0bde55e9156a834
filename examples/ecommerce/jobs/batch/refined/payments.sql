-- config: materialized=incremental, strategy=merge, unique_key=payment_id
SELECT payment_id, order_id, lower(method) AS method, lower(status) AS status,
       created_at AS paid_ts, updated_at
FROM raw.shop_payments
WHERE updated_at < TIMESTAMP '{{ next_ds }}'
QUALIFY row_number() OVER (PARTITION BY payment_id ORDER BY updated_at DESC) = 1

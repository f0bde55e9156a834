-- config: materialized=incremental, strategy=append
SELECT order_id, status, amount, order_ts
FROM raw.orders
WHERE CAST(order_ts AS DATE) = DATE '{{ ds }}'

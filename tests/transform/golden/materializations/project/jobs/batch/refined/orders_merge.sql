-- config: materialized=incremental, strategy=merge, unique_key=order_id
SELECT order_id, status, amount, order_ts
FROM raw.orders
WHERE CAST(order_ts AS DATE) <= DATE '{{ ds }}'

-- config: materialized=incremental, strategy=merge, unique_key=order_id
SELECT order_id, user_id, amount FROM raw.orders

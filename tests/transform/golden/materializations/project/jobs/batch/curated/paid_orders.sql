-- config: materialized=view
SELECT order_id, amount FROM refined.orders_merge WHERE status = 'paid'

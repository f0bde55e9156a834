-- config: materialized=table
SELECT user_id, count(*) AS orders, CAST(sum(amount) AS DECIMAL(14, 2)) AS lifetime_value,
       min(order_ts) AS first_order_ts, max(order_ts) AS last_order_ts
FROM curated.fact_orders
WHERE status <> 'cancelled'
GROUP BY user_id

-- Customer lifetime value: revenue orders (PAID, SHIPPED, DELIVERED) per user. Amounts are
-- summed as recorded (no currency conversion).
-- config: materialized=table
SELECT user_id, count(*) AS orders, CAST(sum(amount) AS DECIMAL(14, 2)) AS lifetime_value,
       CAST(avg(amount) AS DECIMAL(14, 2)) AS avg_order_value,
       min(ordered_at) AS first_order_at, max(ordered_at) AS last_order_at
FROM curated.fact_orders
WHERE is_revenue
GROUP BY user_id

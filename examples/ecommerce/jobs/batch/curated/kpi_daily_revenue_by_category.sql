-- Daily revenue by top-level product category and currency: the lines of revenue orders (PAID,
-- SHIPPED, DELIVERED) at the price paid. Per day it sums to the orders' totals.
-- config: materialized=table, partition_by=month(date_key)
SELECT f.date_key, coalesce(p.category, 'UNKNOWN') AS category, f.currency,
       count(DISTINCT f.order_id) AS orders, CAST(sum(i.quantity) AS BIGINT) AS units,
       CAST(sum(i.line_amount) AS DECIMAL(14, 2)) AS revenue
FROM curated.fact_orders AS f
JOIN refined.order_items AS i ON i.order_id = f.order_id
LEFT JOIN curated.dim_products AS p ON p.product_id = i.product_id
WHERE f.is_revenue
GROUP BY ALL

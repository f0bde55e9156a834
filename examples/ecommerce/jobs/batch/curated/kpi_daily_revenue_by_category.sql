-- config: materialized=table, partition_by=month(date_key)
SELECT f.date_key, p.category, count(DISTINCT f.order_id) AS orders,
       CAST(sum(i.quantity * p.price) AS DECIMAL(14, 2)) AS revenue
FROM curated.fact_orders AS f
JOIN refined.order_items AS i ON i.order_id = f.order_id
JOIN curated.dim_products AS p ON p.product_id = i.product_id
WHERE f.status <> 'cancelled'
GROUP BY ALL

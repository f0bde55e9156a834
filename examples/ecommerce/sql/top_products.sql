-- The 5 best-selling products by revenue (lines of PAID, SHIPPED, DELIVERED orders at the price paid).
SELECT p.product_id, p.name, p.category, sum(i.quantity) AS units,
       CAST(sum(i.line_amount) AS DECIMAL(14, 2)) AS revenue
FROM curated.fact_orders AS f
JOIN refined.order_items AS i ON i.order_id = f.order_id
JOIN curated.dim_products AS p ON p.product_id = i.product_id
WHERE f.is_revenue
GROUP BY ALL
ORDER BY revenue DESC, p.product_id
LIMIT 5;

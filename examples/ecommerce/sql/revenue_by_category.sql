-- Revenue by product category, all time.
SELECT category, sum(orders) AS orders, sum(revenue) AS revenue
FROM curated.kpi_daily_revenue_by_category
GROUP BY category
ORDER BY revenue DESC;

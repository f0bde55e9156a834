-- Revenue by top-level product category and currency, all time (PAID, SHIPPED, DELIVERED orders).
SELECT category, currency, sum(orders) AS orders, sum(units) AS units, sum(revenue) AS revenue
FROM curated.kpi_daily_revenue_by_category
GROUP BY category, currency
ORDER BY revenue DESC, category, currency;

-- Customer lifetime value: the top 5 customers (ids and masked emails only: no raw PII).
SELECT l.user_id, u.email_masked, u.country, l.orders, l.lifetime_value, l.avg_order_value
FROM curated.kpi_customer_ltv AS l
JOIN curated.dim_users AS u ON u.user_id = l.user_id AND u.is_current
ORDER BY l.lifetime_value DESC, l.user_id
LIMIT 5;

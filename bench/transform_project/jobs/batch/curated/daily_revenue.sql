-- config: materialized=table
SELECT CAST(order_ts AS DATE) AS day, status, count(*) AS orders, sum(amount) AS revenue
FROM refined.orders GROUP BY ALL

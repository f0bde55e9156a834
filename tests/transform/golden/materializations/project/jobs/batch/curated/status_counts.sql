-- config: materialized=table
SELECT status, count(*) AS orders, sum(amount) AS amount
FROM refined.orders_merge
GROUP BY status

-- config: materialized=table
SELECT user_id, sum(amount) AS total FROM refined.orders GROUP BY user_id

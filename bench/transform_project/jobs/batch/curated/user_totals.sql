-- config: materialized=table
SELECT u.user_id, u.country, count(o.order_id) AS orders, coalesce(sum(o.amount), 0) AS spent,
       max(o.order_ts) AS last_order_ts
FROM raw.bench_users AS u LEFT JOIN refined.orders AS o ON o.user_id = u.user_id
GROUP BY ALL

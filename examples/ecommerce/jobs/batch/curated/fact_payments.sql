-- config: materialized=table, partition_by=day(paid_ts)
SELECT p.payment_id, p.order_id, f.user_id, p.method, p.status, p.paid_ts,
       CAST(p.paid_ts AS DATE) AS date_key, f.amount
FROM refined.payments AS p
LEFT JOIN curated.fact_orders AS f ON f.order_id = p.order_id

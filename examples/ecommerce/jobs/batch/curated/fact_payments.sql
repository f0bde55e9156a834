-- One row per payment attempt, with its attempt number within the order, by day.
-- config: materialized=table, partition_by=day(created_at)
SELECT p.payment_id, p.order_id, p.user_id, p.method, p.status, p.failure_reason,
       p.status = 'FAILED' AS is_failed, p.amount, p.created_at,
       CAST(p.created_at AS DATE) AS date_key,
       row_number() OVER (PARTITION BY p.order_id ORDER BY p.created_at, p.payment_id) AS attempt_no
FROM refined.payments AS p

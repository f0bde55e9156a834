-- Churn features per current user, as of the last order in the data: revenue-order counts and
-- amounts over 30/60/90 days, failed payment attempts, days since the last order, and the churn
-- label (no order in the last 30 days).
-- config: materialized=table
WITH as_of AS (SELECT max(ordered_at) AS t FROM curated.fact_orders),
orders AS (
  SELECT f.user_id, f.order_id, f.amount, f.ordered_at, a.t
  FROM curated.fact_orders AS f, as_of AS a
  WHERE f.is_revenue
),
failures AS (
  SELECT user_id, count(*) FILTER (WHERE is_failed) AS payment_failures
  FROM curated.fact_payments GROUP BY user_id
)
SELECT u.user_id, any_value(u.country) AS country, any_value(u.status) AS status,
       count(o.order_id) FILTER (WHERE o.ordered_at > o.t - INTERVAL 30 DAY) AS orders_30d,
       count(o.order_id) FILTER (WHERE o.ordered_at > o.t - INTERVAL 60 DAY) AS orders_60d,
       count(o.order_id) FILTER (WHERE o.ordered_at > o.t - INTERVAL 90 DAY) AS orders_90d,
       CAST(coalesce(sum(o.amount) FILTER (WHERE o.ordered_at > o.t - INTERVAL 30 DAY), 0) AS DECIMAL(14, 2)) AS amount_30d,
       CAST(coalesce(sum(o.amount) FILTER (WHERE o.ordered_at > o.t - INTERVAL 60 DAY), 0) AS DECIMAL(14, 2)) AS amount_60d,
       CAST(coalesce(sum(o.amount) FILTER (WHERE o.ordered_at > o.t - INTERVAL 90 DAY), 0) AS DECIMAL(14, 2)) AS amount_90d,
       coalesce(any_value(fl.payment_failures), 0) AS payment_failures,
       date_diff('day', max(o.ordered_at), (SELECT t FROM as_of)) AS days_since_last_order,
       coalesce(max(o.ordered_at) <= (SELECT t FROM as_of) - INTERVAL 30 DAY, true) AS churned
FROM curated.dim_users AS u
LEFT JOIN orders AS o ON o.user_id = u.user_id
LEFT JOIN failures AS fl ON fl.user_id = u.user_id
WHERE u.is_current
GROUP BY u.user_id

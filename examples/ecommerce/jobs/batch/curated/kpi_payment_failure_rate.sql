-- Payment attempts and the share that failed, per day.
-- config: materialized=table
SELECT date_key, count(*) AS payments, count(*) FILTER (WHERE is_failed) AS failed,
       round(count(*) FILTER (WHERE is_failed) / count(*), 4) AS failure_rate
FROM curated.fact_payments
GROUP BY date_key

-- config: materialized=table
SELECT date_key, count(*) AS payments, count(*) FILTER (WHERE status = 'failed') AS failed,
       round(count(*) FILTER (WHERE status = 'failed') / count(*), 4) AS failure_rate
FROM curated.fact_payments
GROUP BY date_key

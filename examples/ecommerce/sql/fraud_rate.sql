-- Payment failure ("fraud") rate by payment method, and overall.
SELECT coalesce(method, 'ALL') AS method, count(*) AS payments,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       round(count(*) FILTER (WHERE status = 'failed') / count(*), 4) AS failure_rate
FROM curated.fact_payments
GROUP BY ROLLUP (method)
ORDER BY method NULLS LAST;

-- Payment failure ("fraud") rate by payment method, and overall; suspected fraud separately.
SELECT coalesce(method, 'ALL') AS method, count(*) AS payments,
       count(*) FILTER (WHERE is_failed) AS failed,
       count(*) FILTER (WHERE failure_reason = 'fraud_suspected') AS fraud_suspected,
       round(count(*) FILTER (WHERE is_failed) / count(*), 4) AS failure_rate
FROM curated.fact_payments
GROUP BY ROLLUP (method)
ORDER BY method NULLS LAST;

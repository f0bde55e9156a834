-- One row per day between the first and the last order (UTC).
-- config: materialized=table
SELECT CAST(d AS DATE) AS date_key, year(d) AS year, quarter(d) AS quarter, month(d) AS month,
       day(d) AS day, dayname(d) AS day_name, dayofweek(d) IN (0, 6) AS is_weekend
FROM (SELECT unnest(generate_series(CAST(min(ordered_at) AS DATE), CAST(max(ordered_at) AS DATE),
                                    INTERVAL 1 DAY)) AS d
      FROM refined.orders)

-- One row per day between the first and the last order.
-- config: materialized=table
SELECT CAST(d AS DATE) AS date_key, year(d) AS year, month(d) AS month, day(d) AS day,
       dayname(d) AS day_name, dayofweek(d) IN (0, 6) AS is_weekend
FROM (SELECT unnest(generate_series(CAST(min(order_ts) AS DATE), CAST(max(order_ts) AS DATE),
                                    INTERVAL 1 DAY)) AS d
      FROM refined.orders)

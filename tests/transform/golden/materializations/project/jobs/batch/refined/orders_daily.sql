-- Replaces the rows of one logical day on each run.
-- config: materialized=incremental, strategy=insert_overwrite, partition_by=day(order_ts)
SELECT order_id, status, amount * {{ var('fx', '1') }} AS amount, order_ts
FROM raw.orders
WHERE order_ts >= TIMESTAMP '{{ ds }}' AND order_ts < TIMESTAMP '{{ next_ds }}'

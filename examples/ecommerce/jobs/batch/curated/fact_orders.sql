-- One row per order: its lines, units and amounts (in the order's currency), by day.
-- config: materialized=table, partition_by=day(ordered_at)
SELECT o.order_id, o.user_id, o.status, o.is_revenue, o.currency, o.ordered_at,
       CAST(o.ordered_at AS DATE) AS date_key, o.shipping_date,
       count(i.line_no) AS items, CAST(coalesce(sum(i.quantity), 0) AS BIGINT) AS units,
       CAST(coalesce(sum(i.line_amount), 0) AS DECIMAL(14, 2)) AS items_amount,
       CAST(o.total_amount AS DECIMAL(14, 2)) AS amount
FROM refined.orders AS o
LEFT JOIN refined.order_items AS i ON i.order_id = o.order_id
GROUP BY ALL

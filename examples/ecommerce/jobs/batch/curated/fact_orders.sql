-- config: materialized=table, partition_by=day(order_ts)
SELECT o.order_id, o.user_id, o.status, o.order_ts, CAST(o.order_ts AS DATE) AS date_key,
       count(i.order_item_id) AS items, coalesce(sum(i.quantity), 0) AS units,
       CAST(coalesce(sum(i.quantity * p.price), 0) AS DECIMAL(14, 2)) AS amount
FROM refined.orders AS o
LEFT JOIN refined.order_items AS i ON i.order_id = o.order_id
LEFT JOIN refined.products AS p ON p.product_id = i.product_id
GROUP BY ALL

-- config: materialized=table
SELECT order_item_id, order_id, product_id, quantity
FROM raw.shop_order_items
WHERE quantity > 0

-- Order lines, keyed by (order_id, line_no); lines with a quantity <= 0 or a negative price are
-- dropped.
-- config: materialized=table
SELECT order_id, CAST(line_no AS INTEGER) AS line_no, product_id, quantity, unit_price,
       CAST(quantity * unit_price AS DECIMAL(14, 2)) AS line_amount
FROM raw.shop_order_items
WHERE quantity > 0 AND unit_price >= 0
QUALIFY row_number() OVER (PARTITION BY order_id, line_no ORDER BY _ingested_at DESC) = 1

-- Products with a normalized category name; rows with a price <= 0 are dropped.
-- config: materialized=table
SELECT p.product_id, p.name, upper(trim(c.name)) AS category, p.price, p.updated_at
FROM raw.shop_products AS p
LEFT JOIN raw.shop_categories AS c ON c.category_id = p.category_id
WHERE p.price > 0
QUALIFY row_number() OVER (PARTITION BY p.product_id ORDER BY p.updated_at DESC) = 1

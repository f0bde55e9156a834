-- Products: the latest version per product_id, with the normalized top-level category and the
-- leaf subcategory (categories are a two-level tree); rows with a price <= 0 are dropped.
-- config: materialized=table
SELECT p.product_id, upper(trim(p.sku)) AS sku, trim(p.name) AS name,
       upper(trim(coalesce(top.name, c.name, 'unknown'))) AS category,
       upper(trim(coalesce(c.name, 'unknown'))) AS subcategory,
       p.price, p.active, json_extract_string(p.attributes, '$.color') AS color,
       p.created_at, p.updated_at
FROM raw.shop_products AS p
LEFT JOIN (SELECT * FROM raw.shop_categories
           QUALIFY row_number() OVER (PARTITION BY category_id ORDER BY updated_at DESC, _ingested_at DESC) = 1)
  AS c ON c.category_id = p.category_id
LEFT JOIN (SELECT * FROM raw.shop_categories
           QUALIFY row_number() OVER (PARTITION BY category_id ORDER BY updated_at DESC, _ingested_at DESC) = 1)
  AS top ON top.category_id = c.parent_id
WHERE p.price > 0
QUALIFY row_number() OVER (PARTITION BY p.product_id ORDER BY p.updated_at DESC, p._ingested_at DESC) = 1

-- config: materialized=table
SELECT product_id, sku, name, category, subcategory, price, active, color
FROM refined.products

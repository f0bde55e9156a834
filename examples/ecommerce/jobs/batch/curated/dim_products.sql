-- config: materialized=table
SELECT product_id, name, category, price FROM refined.products

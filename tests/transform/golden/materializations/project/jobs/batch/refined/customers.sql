-- config: materialized=table, pii=email:mask, phone:mask, name:hash
SELECT customer_id, name, email, phone FROM raw.customers

-- Raw tables with generated, fixed-seed data in the shape `sluice ingest` gives the example's
-- PostgreSQL `shop` source (raw.shop_<table>). Until batch ingest runs in your setup, this builds
-- them: sluice sql -f examples/ecommerce/sql/raw_fixture.sql
-- Deliberate faults, as real sources have: duplicate versions of rows, mixed-case categories and
-- countries, untrimmed emails, a negative price.
CREATE TABLE raw.shop_categories AS
  SELECT * FROM (VALUES (1, 'electronics'), (2, 'Books'), (3, ' HOME '), (4, 'toys'), (5, 'Sports'))
  AS t(category_id, name);
CREATE TABLE raw.shop_users AS
  SELECT i AS user_id, 'User ' || i AS name,
         CASE WHEN i % 7 = 0 THEN ' USER' || i || '@Example.com ' ELSE 'user' || i || '@example.com' END AS email,
         '+1 555 01' || lpad(CAST(i AS VARCHAR), 2, '0') AS phone,
         (['vn', 'US', 'fr ', 'De', 'sg'])[1 + i % 5] AS country,
         TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) HOUR AS created_at,
         TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) HOUR AS updated_at
  FROM range(1, 201) AS r(i);
-- a second, later version of some users (a move), as an incremental extract would deliver
INSERT INTO raw.shop_users
  SELECT user_id, name, email, phone, 'JP', created_at, TIMESTAMP '2024-02-15 12:00:00'
  FROM raw.shop_users WHERE user_id % 25 = 0;
CREATE TABLE raw.shop_products AS
  SELECT i AS product_id, 1 + i % 5 AS category_id, 'Product ' || i AS name,
         CAST(CASE WHEN i = 13 THEN -5 ELSE 5 + (i * 37) % 200 END AS DECIMAL(10, 2)) AS price,
         TIMESTAMP '2024-01-01 00:00:00' AS updated_at
  FROM range(1, 51) AS r(i);
CREATE TABLE raw.shop_orders AS
  SELECT i AS order_id, 1 + (i * 7919) % 200 AS user_id,
         (['placed', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + (i * 31) % 5] AS status,
         TIMESTAMP '2024-01-01 00:00:00' + INTERVAL ((i * 97) % (60 * 24)) HOUR AS created_at,
         TIMESTAMP '2024-01-01 00:00:00' + INTERVAL ((i * 97) % (60 * 24) + 2) HOUR AS updated_at
  FROM range(1, 3001) AS r(i);
-- duplicate versions: the same order seen twice, the later one wins
INSERT INTO raw.shop_orders
  SELECT order_id, user_id, 'delivered', created_at, updated_at + INTERVAL 1 DAY
  FROM raw.shop_orders WHERE order_id % 50 = 0;
CREATE TABLE raw.shop_order_items AS
  SELECT o.order_id * 10 + k AS order_item_id, o.order_id, 1 + (o.order_id * 13 + k * 7) % 50 AS product_id,
         1 + (o.order_id + k) % 3 AS quantity
  FROM range(1, 3001) AS o(order_id), range(0, 3) AS r(k)
  WHERE k < 1 + o.order_id % 3;
CREATE TABLE raw.shop_payments AS
  SELECT o.order_id AS payment_id, o.order_id,
         (['card', 'paypal', 'bank_transfer'])[1 + o.order_id % 3] AS method,
         CASE WHEN o.order_id % 17 = 0 THEN 'failed' ELSE 'succeeded' END AS status,
         o.created_at + INTERVAL 10 MINUTE AS created_at,
         o.created_at + INTERVAL 10 MINUTE AS updated_at
  FROM raw.shop_orders AS o QUALIFY row_number() OVER (PARTITION BY o.order_id ORDER BY o.updated_at) = 1;

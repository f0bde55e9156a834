-- Raw tables with generated, fixed-seed data in exactly the shape `sluice ingest shop` gives the
-- example's PostgreSQL `shop` source (raw.shop_<table>: the columns of `sluice gen oltp`'s schema
-- with their lake types, then the lineage columns, partitioned by day(_ingested_at)). For use
-- without PostgreSQL: sluice sql -f examples/ecommerce/sql/raw_fixture.sql
-- (scripts/warehouse.sh builds the same tables from a real source.)
-- Deliberate faults, as real sources have: duplicate versions of rows (incremental loads keep
-- every version), mixed-case and padded countries and emails, a negative price, an item with
-- quantity 0.
CREATE TABLE raw.shop_users (user_id BIGINT, email VARCHAR, full_name VARCHAR, country VARCHAR,
  status VARCHAR, external_id UUID, tags VARCHAR[], preferences VARCHAR, signup_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ, _source VARCHAR, _load_type VARCHAR, _ingested_at TIMESTAMPTZ,
  _source_position VARCHAR) PARTITIONED BY (day(_ingested_at));
CREATE TABLE raw.shop_categories (category_id INTEGER, name VARCHAR, parent_id INTEGER,
  created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, _source VARCHAR, _load_type VARCHAR,
  _ingested_at TIMESTAMPTZ, _source_position VARCHAR) PARTITIONED BY (day(_ingested_at));
CREATE TABLE raw.shop_products (product_id BIGINT, sku VARCHAR, name VARCHAR, category_id INTEGER,
  price DECIMAL(10, 2), attributes VARCHAR, thumbnail BLOB, active BOOLEAN, created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ, _source VARCHAR, _load_type VARCHAR, _ingested_at TIMESTAMPTZ,
  _source_position VARCHAR) PARTITIONED BY (day(_ingested_at));
CREATE TABLE raw.shop_orders (order_id BIGINT, user_id BIGINT, status VARCHAR,
  total_amount DECIMAL(12, 2), currency VARCHAR, ordered_at TIMESTAMPTZ, shipping_date DATE,
  note VARCHAR, updated_at TIMESTAMPTZ, _source VARCHAR, _load_type VARCHAR,
  _ingested_at TIMESTAMPTZ, _source_position VARCHAR) PARTITIONED BY (day(_ingested_at));
CREATE TABLE raw.shop_order_items (order_id BIGINT, line_no INTEGER, product_id BIGINT,
  quantity INTEGER, unit_price DECIMAL(10, 2), _source VARCHAR, _load_type VARCHAR,
  _ingested_at TIMESTAMPTZ, _source_position VARCHAR) PARTITIONED BY (day(_ingested_at));
CREATE TABLE raw.shop_payments (payment_id BIGINT, order_id BIGINT, user_id BIGINT,
  amount DECIMAL(12, 2), method VARCHAR, status VARCHAR, failure_reason VARCHAR,
  created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, _source VARCHAR, _load_type VARCHAR,
  _ingested_at TIMESTAMPTZ, _source_position VARCHAR) PARTITIONED BY (day(_ingested_at));

-- 5 top-level categories with 2 leaves each; products sit in leaves.
INSERT INTO raw.shop_categories
  SELECT t.id, t.name, NULL, TIMESTAMPTZ '2023-01-01 00:00:00+00', TIMESTAMPTZ '2023-01-01 00:00:00+00',
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM (VALUES (1, 'Electronics'), (4, 'Books'), (7, 'Home'), (10, 'Toys'), (13, 'Sports')) AS t(id, name);
INSERT INTO raw.shop_categories
  SELECT c.category_id + k, c.name || (['', ' Basics', ' Premium'])[1 + k], c.category_id,
         TIMESTAMPTZ '2023-01-01 00:00:00+00', TIMESTAMPTZ '2023-02-01 00:00:00+00',
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM raw.shop_categories AS c, range(1, 3) AS r(k);
INSERT INTO raw.shop_users
  SELECT i, CASE WHEN i % 7 = 0 THEN ' User' || i || '@Example.com ' ELSE 'user' || i || '@example.com' END,
         (['Ana', 'Bao', 'Carla', 'Omar'])[1 + i % 4] || ' ' || (['Silva', 'Nguyen', 'O''Brien'])[1 + i % 3],
         (['vn', 'US', 'fr', 'De', 'US', 'gb', 'jp'])[1 + i % 7],
         CASE WHEN i % 10 = 0 THEN 'churned' WHEN i = 77 THEN 'suspended' ELSE 'active' END,
         CAST(printf('00000000-0000-4000-8000-%012d', i) AS UUID),
         CASE WHEN i % 2 = 0 THEN NULL WHEN i % 9 = 1 THEN ['app', 'vip'] ELSE ['newsletter'] END,
         printf('{"lang": "%s", "marketing": %s}', CASE WHEN i % 3 = 0 THEN 'vi' ELSE 'en' END,
                CASE WHEN i % 5 < 2 THEN 'true' ELSE 'false' END),
         TIMESTAMPTZ '2023-06-01 00:00:00+00' + INTERVAL (i * 13) HOUR,
         TIMESTAMPTZ '2023-06-01 00:00:00+00' + INTERVAL (i * 13 + 5) HOUR,
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM range(1, 201) AS r(i);
-- a second, later version of some users (a move), as an incremental load delivers it
INSERT INTO raw.shop_users
  SELECT user_id, email, full_name, 'JP', status, external_id, tags, preferences, signup_at,
         TIMESTAMPTZ '2024-02-15 12:00:00+00', 'shop', 'incremental',
         TIMESTAMPTZ '2024-03-02 00:00:00+00', 'lsn:0/2000000'
  FROM raw.shop_users WHERE user_id % 25 = 0;
INSERT INTO raw.shop_products
  SELECT i, printf('SKU-%07d', i), (['Classic', 'Smart', 'Eco', 'Pro'])[1 + i % 4] || ' '
           || (['Lamp', 'Novel', 'Kettle', 'Puzzle', 'Racket'])[1 + i % 5] || ' ' || i,
         (ARRAY[2, 3, 5, 6, 8, 9, 11, 12, 14, 15])[1 + i % 10],
         CAST(CASE WHEN i = 13 THEN -5 ELSE 5 + (i * 37) % 200 + 0.99 END AS DECIMAL(10, 2)),
         printf('{"color": "%s", "weight_g": %d}', (['red', 'black', 'blue'])[1 + i % 3], 50 + i * 10),
         CASE WHEN i % 3 = 0 THEN NULL ELSE from_hex('89504e47') END, i % 20 <> 0,
         TIMESTAMPTZ '2023-09-01 00:00:00+00', TIMESTAMPTZ '2023-09-01 00:00:00+00' + INTERVAL (i) DAY,
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM range(1, 51) AS r(i);
-- order lines first: 1 to 3 per order, at the product's price (product 13 sells at 5.00)
INSERT INTO raw.shop_order_items
  SELECT o, k, 1 + (o * 13 + k * 7) % 50 AS p, CASE WHEN o = 999 AND k = 1 THEN 0 ELSE 1 + (o + k) % 3 END,
         CAST(CASE WHEN (1 + (o * 13 + k * 7) % 50) = 13 THEN 5
                   ELSE 5 + ((1 + (o * 13 + k * 7) % 50) * 37) % 200 + 0.99 END AS DECIMAL(10, 2)),
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM range(1, 3001) AS a(o), range(1, 4) AS b(k)
  WHERE k <= 1 + o % 3;
INSERT INTO raw.shop_orders
  SELECT o, 1 + (o * 7919) % 200,
         CASE WHEN o % 25 = 0 THEN 'CANCELLED' WHEN o > 2950 THEN 'PENDING' WHEN o > 2900 THEN 'PAID'
              WHEN o > 2800 THEN 'SHIPPED' ELSE 'DELIVERED' END,
         (SELECT CAST(sum(i.quantity * i.unit_price) AS DECIMAL(12, 2)) FROM raw.shop_order_items AS i
          WHERE i.order_id = o),
         CASE WHEN o % 10 < 7 THEN 'USD' WHEN o % 10 < 9 THEN 'EUR' ELSE 'GBP' END,
         TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL ((o * 1440) // 3000) HOUR + INTERVAL (o % 60) MINUTE,
         CASE WHEN o % 25 <> 0 AND o <= 2900 THEN CAST(TIMESTAMPTZ '2024-01-03 00:00:00+00'
              + INTERVAL ((o * 1440) // 3000) HOUR AS DATE) END,
         CASE WHEN o % 97 = 0 THEN 'Leave at the door, please' END,
         TIMESTAMPTZ '2024-01-01 02:00:00+00' + INTERVAL ((o * 1440) // 3000) HOUR,
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM range(1, 3001) AS r(o);
-- duplicate versions: an earlier PAID version of some delivered orders, loaded again later
INSERT INTO raw.shop_orders
  SELECT order_id, user_id, 'PAID', total_amount, currency, ordered_at, NULL, note,
         ordered_at + INTERVAL 10 MINUTE, 'shop', 'incremental',
         TIMESTAMPTZ '2024-03-02 00:00:00+00', 'lsn:0/2000000'
  FROM raw.shop_orders WHERE order_id % 50 = 1 AND status = 'DELIVERED';
-- payments: a failed attempt first for every 17th order, then the outcome
INSERT INTO raw.shop_payments
  SELECT row_number() OVER (ORDER BY order_id, attempt), order_id, user_id, total_amount,
         (['card', 'card', 'paypal', 'bank_transfer'])[1 + order_id % 4], st,
         CASE WHEN st = 'FAILED' THEN (['card_declined', 'insufficient_funds'])[1 + order_id % 2] END,
         ordered_at + INTERVAL (attempt * 5) MINUTE, ordered_at + INTERVAL (attempt * 5 + 1) MINUTE,
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM (SELECT o.*, 0 AS attempt, 'FAILED' AS st FROM raw.shop_orders AS o
        WHERE o._load_type = 'snapshot' AND o.order_id % 17 = 0
        UNION ALL
        SELECT o.*, 1, CASE o.status WHEN 'CANCELLED' THEN 'FAILED' WHEN 'PENDING' THEN 'PENDING'
                                     ELSE CASE WHEN o.order_id % 113 = 0 THEN 'REFUNDED' ELSE 'SUCCESS' END END
        FROM raw.shop_orders AS o WHERE o._load_type = 'snapshot');

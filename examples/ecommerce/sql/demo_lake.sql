-- The lake demo: a partitioned Iceberg table loaded from a CSV, a curated table built from it,
-- a row-level change, schema evolution and time travel. Run by scripts/demo.sh.
CREATE TABLE raw.orders (order_id BIGINT NOT NULL, customer_id INTEGER, status VARCHAR,
  amount DECIMAL(10, 2), ordered_at TIMESTAMP) PARTITIONED BY (day(ordered_at));
INSERT INTO raw.orders SELECT * FROM read_csv('examples/ecommerce/data/orders.csv', header = true);
-- A bigger synthetic day of orders, generated in SQL.
INSERT INTO raw.orders
  SELECT 1000 + i, 100 + (i * 7) % 50, CASE WHEN i % 10 = 0 THEN 'FAILED' ELSE 'PAID' END,
         round(5 + (i * 37) % 200 + 0.99, 2), TIMESTAMP '2026-11-04' + to_seconds(i * 3)
  FROM range(20000) t(i);
CREATE TABLE curated.daily_revenue AS
  SELECT ordered_at::DATE AS day, count(*) AS orders,
         sum(amount) FILTER (WHERE status = 'PAID') AS revenue,
         round(avg(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END), 3) AS failure_rate
  FROM raw.orders GROUP BY 1;
SELECT * FROM curated.daily_revenue ORDER BY day;
UPDATE raw.orders SET status = 'REFUNDED' WHERE order_id = 4;
ALTER TABLE raw.orders ADD COLUMN channel VARCHAR;
SELECT order_id, status, amount, channel FROM raw.orders WHERE order_id <= 6 ORDER BY order_id;

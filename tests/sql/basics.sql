-- Create, load a CSV, query, aggregate; partitioned table by day.
CREATE TABLE raw.orders (order_id BIGINT NOT NULL, customer_id INTEGER, status VARCHAR,
  amount DECIMAL(10, 2), ordered_at TIMESTAMP) PARTITIONED BY (day(ordered_at));
INSERT INTO raw.orders SELECT * FROM read_csv('data/orders.csv', header = true);
SELECT count(*) AS orders, sum(amount) AS revenue FROM raw.orders;
SELECT ordered_at::DATE AS day, count(*) AS n, sum(amount) AS revenue
  FROM raw.orders GROUP BY 1 ORDER BY 1;
SELECT status, count(*) FROM raw.orders GROUP BY ALL ORDER BY 2 DESC, 1;
CREATE TABLE curated.customer_totals AS
  SELECT customer_id, count(*) AS orders, sum(amount) AS spent FROM raw.orders
  WHERE status = 'PAID' GROUP BY customer_id;
SELECT * FROM curated.customer_totals ORDER BY spent DESC;
INSERT INTO raw.orders (order_id, status) VALUES (7, 'PENDING');
SELECT order_id, customer_id, status, amount FROM raw.orders WHERE order_id >= 6 ORDER BY 1;

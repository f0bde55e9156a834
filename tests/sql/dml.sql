-- Row-level changes: each statement is one lake commit (copy-on-write).
CREATE TABLE refined.stock PARTITIONED BY (bucket(2, sku)) AS
  SELECT 'sku-' || i AS sku, i * 10 AS qty, 'w1' AS warehouse FROM range(6) t(i);
DELETE FROM refined.stock WHERE qty < 20;
UPDATE refined.stock SET qty = qty + 1, warehouse = 'w2' WHERE sku IN ('sku-2', 'sku-3');
SELECT * FROM refined.stock ORDER BY sku;
MERGE INTO refined.stock AS s
  USING (VALUES ('sku-2', 0), ('sku-9', 90)) AS c(sku, qty) ON s.sku = c.sku
  WHEN MATCHED AND c.qty = 0 THEN DELETE
  WHEN NOT MATCHED THEN INSERT VALUES (c.sku, c.qty, 'w3');
SELECT * FROM refined.stock ORDER BY sku;
TRUNCATE refined.stock;
SELECT count(*) FROM refined.stock;

-- Bad input gets a clear error naming the table and what is wrong; nothing changes.
CREATE TABLE raw.k (id INTEGER NOT NULL, v VARCHAR);
INSERT INTO raw.k VALUES (1, 'a');
INSERT INTO raw.k VALUES (NULL, 'b');
INSERT INTO raw.k (id, nope) VALUES (2, 'x');
INSERT INTO raw.k VALUES (3);
CREATE TABLE raw.k (x INTEGER);
CREATE TABLE raw.bad (s VARCHAR) PARTITIONED BY (day(s));
CREATE TABLE raw.iv AS SELECT INTERVAL 1 DAY AS d;
ALTER TABLE raw.k ALTER COLUMN v TYPE INTEGER;
ALTER TABLE raw.k DROP COLUMN nope;
SELECT * FROM raw.missing;
SELECT * FROM raw.k AT (VERSION => 1);
SELECT * FROM raw.k;
SELEC 1;
SELECT nope FROM raw.k;

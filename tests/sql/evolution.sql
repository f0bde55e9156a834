-- Schema evolution without rewriting data: old files read by field id.
CREATE TABLE raw.events (id INTEGER, kind VARCHAR);
INSERT INTO raw.events VALUES (1, 'click'), (2, 'view');
ALTER TABLE raw.events RENAME COLUMN kind TO event_type;
ALTER TABLE raw.events ADD COLUMN score DOUBLE;
ALTER TABLE raw.events ALTER COLUMN id TYPE BIGINT;
INSERT INTO raw.events VALUES (3, 'buy', 9.5);
SELECT * FROM raw.events ORDER BY id;
DESCRIBE raw.events;
ALTER TABLE raw.events DROP COLUMN score;
SELECT * FROM raw.events ORDER BY id;
ALTER TABLE raw.events SET PARTITIONED BY (event_type);
INSERT INTO raw.events VALUES (4, 'click');
SELECT event_type, count(*) FROM raw.events GROUP BY 1 ORDER BY 1;

"""The SQL Grafana's PostgreSQL data source sends, byte for byte, against `sluice gateway`.

Usage: grafana_checks.py PORT USER PASSWORD. Prints "ok ..." lines and exits 0, or raises.

The statements are what Grafana 10/11 sends (public/app/plugins/datasource/
grafana-postgresql-datasource/postgresMetaQuery.ts; the older query builder's meta_query.ts;
the backend's health check and macros.go) after its macros are expanded for the time range
2026-11-01T00:00:00Z .. 2026-11-01T01:00:00Z. The lake table raw.metrics is made by the C++ test:

  ts                   host  value  ts_epoch
  2026-11-01 00:00:10  a     1.0    1793491210
  2026-11-01 00:00:50  a     3.0    1793491250
  2026-11-01 00:01:20  b     10.0   1793491280
  2026-11-01 02:00:00  a     99.0   1793498400   (outside the time range)
"""
import sys

import psycopg2

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]

conn = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password,
                        dbname="sluice", connect_timeout=10)
conn.autocommit = True
cur = conn.cursor()


def rows(sql):
    try:
        cur.execute(sql)
    except psycopg2.Error as e:
        raise AssertionError(f"{e.pgcode}: {e}\nin:\n{sql}") from e
    return cur.fetchall()


def names():
    return [d.name for d in cur.description]


# Health check ("Save & test"): pgx's Ping sends "-- ping", lib/pq's (Grafana < 10.1) ";".
# Both are empty queries: the server answers EmptyQueryResponse, which psycopg2 reports as a
# client-side ProgrammingError without a SQLSTATE (an ErrorResponse would carry one).
for ping in ("-- ping", ";"):
    try:
        cur.execute(ping)
        raise AssertionError(f"{ping!r}: expected an empty query")
    except psycopg2.ProgrammingError as e:
        assert e.pgcode is None and "empty query" in str(e), (ping, e.pgcode, e)
cur.execute("SELECT 1")
assert cur.fetchone() == (1,)
print("ok ping")

# Version and TimescaleDB detection (configuration/useAutoDetectFeatures.ts).
r = rows("SELECT current_setting('server_version_num')::int/100 as version")
assert r == [(1500,)] and names() == ["version"], (r, names())
r = rows("SELECT version()")
assert r[0][0].startswith("PostgreSQL 15.0") and "Sluice" in r[0][0], r
r = rows("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
assert r == [] and names() == ["extversion"], (r, names())
print("ok version", r)

SCHEMA_CONSTRAINT = """
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )"""

SHOW_SCHEMAS = """SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name"""

SHOW_TABLES = f"""SELECT
    CASE WHEN {SCHEMA_CONSTRAINT}
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN {SCHEMA_CONSTRAINT} THEN 0 ELSE 1 END, 1"""


def show_tables_in(schema):
    return f"""SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = '{schema}'
      ORDER BY 1"""


def get_schema(table):
    t = "'" + table + "'"
    return f"""SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident({t}),1) = 2
        THEN quote_ident(table_schema) = (parse_ident({t}))[1]
          AND quote_ident(table_name) = (parse_ident({t}))[2]
        ELSE quote_ident(table_name) = {t}
          AND {SCHEMA_CONSTRAINT}
      END"""


COLUMNS = [("ts", "timestamp without time zone"), ("host", "character varying"),
           ("value", "double precision"), ("ts_epoch", "bigint")]

r = rows(SHOW_SCHEMAS)
assert names() == ["name"] and ("raw",) in r and ("curated",) in r, r
assert all(s[0] not in ("information_schema", "pg_catalog", "sluice_pg") for s in r), r
print("ok schemas", [s[0] for s in r])

# The default search_path holds no lake zone: every lake table comes schema-qualified.
r = [x[0] for x in rows(SHOW_TABLES)]
assert names() == ["table"], names()
assert "raw.metrics" in r and "raw.t" in r and "curated.secret" in r, r
assert not any(x.startswith(("sluice_pg.", "information_schema.", "pg_catalog.")) for x in r), r
r = rows(show_tables_in("raw"))
assert ("metrics",) in r and ("t",) in r and all("." not in x[0] for x in r), r
r = rows(get_schema("raw.metrics"))
assert names() == ["column", "type"] and r == COLUMNS, r
assert rows(get_schema("metrics")) == [], "metrics is not on the search_path"
print("ok tables and columns, default search_path")

# With the zone on the search_path, its tables come first and unqualified.
cur.execute("SET search_path TO raw")
r = [x[0] for x in rows(SHOW_TABLES)]
assert r.index("metrics") < r.index("curated.secret") and "raw.metrics" not in r, r
assert rows(get_schema("metrics")) == COLUMNS
assert rows(get_schema("raw.metrics")) == COLUMNS
print("ok tables and columns, search_path raw:", r)

# The query builder of Grafana 7-9 (meta_query.ts), search_path still raw.
OLD_SCHEMA_CONSTRAINT = """
table_schema IN (
  SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s
)"""
r = rows("SELECT quote_ident(table_name) FROM information_schema.tables WHERE "
         + OLD_SCHEMA_CONSTRAINT + " ORDER BY table_name")
assert ("metrics",) in r and ("secret",) not in r, r
FIND_METRIC_TABLE = """
SELECT
\tquote_ident(table_name) as table_name,
\t( SELECT
\t    quote_ident(column_name) as column_name
\t  FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name IN ('timestamptz','timestamp')
    ORDER BY ordinal_position LIMIT 1
  ) AS time_column,
  ( SELECT
      quote_ident(column_name) AS column_name
    FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name='float8'
    ORDER BY ordinal_position LIMIT 1
  ) AS value_column
FROM information_schema.tables t
WHERE """ + OLD_SCHEMA_CONSTRAINT + """ AND
  EXISTS
  ( SELECT 1
    FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name IN ('timestamptz','timestamp')
  ) AND
  EXISTS
  ( SELECT 1
    FROM information_schema.columns c
    WHERE
      c.table_schema = t.table_schema AND
      c.table_name = t.table_name AND
      udt_name='float8'
  )
LIMIT 1
;"""
r = rows(FIND_METRIC_TABLE)
assert r == [("metrics", "ts", "value")], r
column_query = ("SELECT quote_ident(column_name) FROM information_schema.columns WHERE "
                + OLD_SCHEMA_CONSTRAINT + " AND table_name = 'metrics'")
for kind, where, want in (
        ("time", " AND data_type IN ('timestamp without time zone','timestamp with time zone',"
         "'bigint','integer','double precision','real')", ["ts", "ts_epoch", "value"]),
        ("metric", " AND data_type IN ('text','character','character varying')", ["host"]),
        ("value", " AND data_type IN ('bigint','integer','double precision','real','numeric')"
         " AND column_name <> 'ts'", ["ts_epoch", "value"]),
        ("group", " AND data_type IN ('text','character','character varying','uuid')",
         ["host"])):
    r = rows(column_query + where + " ORDER BY column_name")
    assert [x[0] for x in r] == sorted(want), (kind, r)
r = rows("SELECT udt_name FROM information_schema.columns WHERE table_schema = 'raw'"
         " AND table_name = 'metrics' AND column_name = 'value'")
assert r == [("float8",)], r
r = rows("SELECT DISTINCT quote_literal(host) FROM metrics WHERE ts BETWEEN "
         "'2026-11-01T00:00:00Z' AND '2026-11-01T01:00:00Z' AND host IS NOT NULL"
         " ORDER BY 1 LIMIT 100")
assert r == [("'a'",), ("'b'",)], r
print("ok grafana 7-9 query builder")
cur.execute("SET search_path TO DEFAULT")

# Time series panels: the builder's and the documentation's queries with the macros expanded
# by Grafana's backend ($__timeGroupAlias(ts,1m), $__timeFilter(ts), $__unixEpochFilter, ...).
r = rows("""SELECT
  floor(extract(epoch from ts)/60)*60 AS "time",
  avg(value) AS "value"
FROM raw.metrics
WHERE
  ts BETWEEN '2026-11-01T00:00:00Z' AND '2026-11-01T01:00:00Z'
GROUP BY 1
ORDER BY 1""")
assert names() == ["time", "value"], names()
assert [(int(a), float(b)) for a, b in r] == [(1793491200, 2.0), (1793491260, 10.0)], r

r = rows("""SELECT
  floor(extract(epoch from ts)/60)*60 AS "time",
  host AS metric,
  sum(value) AS "value"
FROM raw.metrics
WHERE
  ts BETWEEN '2026-11-01T00:00:00Z' AND '2026-11-01T01:00:00Z'
GROUP BY 1,2
ORDER BY 1,2""")
assert names() == ["time", "metric", "value"], names()
assert [(int(a), b, float(c)) for a, b, c in r] == [
    (1793491200, "a", 4.0), (1793491260, "b", 10.0)], r

# $__time(ts), $__timeFilter with sub-second bounds (RFC 3339 with nanoseconds).
r = rows("""SELECT ts AS "time", value FROM raw.metrics WHERE ts BETWEEN '2026-11-01T00:00:10.5Z' AND '2026-11-01T00:59:59.999999999Z' ORDER BY 1""")
assert [(str(a), float(b)) for a, b in r] == [
    ("2026-11-01 00:00:50", 3.0), ("2026-11-01 00:01:20", 10.0)], r

# $__timeEpoch(ts), $__timeFrom(), $__timeTo().
r = rows("""SELECT extract(epoch from ts) as "time", value FROM raw.metrics WHERE ts >= '2026-11-01T00:00:00Z' AND ts < '2026-11-01T00:01:00Z' ORDER BY 1""")
assert [(int(a), float(b)) for a, b in r] == [(1793491210, 1.0), (1793491250, 3.0)], r

# $__unixEpochFilter(ts_epoch), $__unixEpochGroupAlias(ts_epoch,'1m').
r = rows("""SELECT floor((ts_epoch)/60)*60 AS "time", count(*) AS "value" FROM raw.metrics WHERE ts_epoch >= 1793491200 AND ts_epoch <= 1793494800 GROUP BY 1 ORDER BY 1""")
assert [(int(a), int(b)) for a, b in r] == [(1793491200, 2), (1793491260, 1)], r

# $__unixEpochNanoFilter on nanoseconds.
r = rows("""SELECT count(*) FROM raw.metrics WHERE ts_epoch * 1000000000 >= 1793491200000000000 AND ts_epoch * 1000000000 <= 1793494800000000000""")
assert r == [(3,)], r

# A table panel over a 5-minute bucket ($__timeGroup(ts,'5m') with a comma after it).
r = rows("""SELECT floor(extract(epoch from ts)/300)*300 AS "time", max(value) FROM raw.metrics WHERE ts BETWEEN '2026-11-01T00:00:00Z' AND '2026-11-01T01:00:00Z' GROUP BY 1 ORDER BY 1""")
assert [(int(a), float(b)) for a, b in r] == [(1793491200, 10.0)], r
# With the data source's TimescaleDB option on, $__timeGroupAlias(ts,1m) is time_bucket().
r = rows("""SELECT time_bucket('60.000s',ts) AS "time", avg(value) AS "value" FROM raw.metrics WHERE ts BETWEEN '2026-11-01T00:00:00Z' AND '2026-11-01T01:00:00Z' GROUP BY 1 ORDER BY 1""")
assert [(str(a), float(b)) for a, b in r] == [
    ("2026-11-01 00:00:00", 2.0), ("2026-11-01 00:01:00", 10.0)], r
print("ok time series")

# A template variable query (Dashboard settings > Variables), __text/__value form.
r = rows("SELECT DISTINCT host AS __text, host AS __value FROM raw.metrics ORDER BY 1")
assert r == [("a", "a"), ("b", "b")] and names() == ["__text", "__value"], r
print("ok variables")

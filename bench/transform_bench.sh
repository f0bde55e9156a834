#!/usr/bin/env bash
# Batch transforms: a full build of the example warehouse (examples/ecommerce: 5 refined + 9
# curated models, every publish gated by its quality/*.yaml checks) at a benchmark scale, time per
# model next to the anchor measured in the same run: the model's rendered SQL (`sluice model plan`)
# run by plain DuckDB (the same libduckdb.so, through its C API, no Sluice code) over the SAME
# Parquet files (each lake table a view over read_parquet of its live files). Two anchors per
# model, both materializing the result the way a DuckDB user would:
#   (a) CREATE TABLE in a file-backed DuckDB database, then CHECKPOINT (as dbt-duckdb does);
#   (b) COPY (sql) TO a Parquet folder (zstd), PARTITION_BY the model's partitioning, if any.
# The ratio is against the faster of the two; a second ratio leaves out Sluice's publish gate
# (the model's checks, timed by the runner's debug log). incremental/scd2 models: their first
# (full) build, anchored by the rendered SELECT. Then `sluice quality run` (every check of the
# project) time per million rows checked.
#
# Raw tables: the example's raw.shop_* tables (the schemas and lineage columns `sluice ingest shop`
# gives them, as examples/ecommerce/sql/raw_fixture.sql) are created with `sluice sql` over
# generated data, scaled by the number of orders (no PostgreSQL needed; scripts/warehouse.sh builds
# the same tables from a real source). Users = orders / 15, products = 20000, ~2 lines and ~1.06
# payments per order; the fixture's faults are kept (duplicate versions, padded and mixed-case
# values, a product with a negative price, a line with quantity 0).
#
# Usage: bench/transform_bench.sh [orders (default 2000000)] [sluice binary]
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-2000000}
sluice=${2:-${SLUICE_BUILD_DIR:-build}/src/cli/sluice}
sluice=$(cd "$(dirname "$sluice")" && pwd)/$(basename "$sluice")
project=$(pwd)/examples/ecommerce
ds=2025-06-30
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export SLUICE_PII_SALT=transform-bench-salt
S() { "$sluice" --data-dir "$dir/data" --log-level warn "$@"; }
libduckdb=$(ldd "$sluice" | awk '/libduckdb/ {print $3}')
users=$((orders / 15))
products=20000

# --- raw tables ------------------------------------------------------------------------------------
cat >"$dir/raw.sql" <<SQL
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
         TIMESTAMPTZ '2022-06-01 00:00:00+00' + INTERVAL (i % 13000) HOUR,
         TIMESTAMPTZ '2022-06-01 00:00:00+00' + INTERVAL (i % 13000 + 5) HOUR,
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM range(1, $users + 1) AS r(i);
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
         printf('{"color": "%s", "weight_g": %d}', (['red', 'black', 'blue'])[1 + i % 3], 50 + i % 1000),
         CASE WHEN i % 3 = 0 THEN NULL ELSE from_hex('89504e47') END, i % 20 <> 0,
         TIMESTAMPTZ '2023-09-01 00:00:00+00', TIMESTAMPTZ '2023-09-01 00:00:00+00' + INTERVAL (i % 400) DAY,
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM range(1, $products + 1) AS r(i);
INSERT INTO raw.shop_order_items
  SELECT o, k, 1 + (o * 13 + k * 7) % $products AS p,
         CASE WHEN o = 999 AND k = 1 THEN 0 ELSE 1 + (o + k) % 3 END,
         CAST(CASE WHEN (1 + (o * 13 + k * 7) % $products) = 13 THEN 5
                   ELSE 5 + ((1 + (o * 13 + k * 7) % $products) * 37) % 200 + 0.99 END AS DECIMAL(10, 2)),
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM range(1, $orders + 1) AS a(o), range(1, 4) AS b(k)
  WHERE k <= 1 + o % 3;
-- orders over 365 days; the total is the sum of the order's lines
INSERT INTO raw.shop_orders
  SELECT o, 1 + (o * 7919) % $users,
         CASE WHEN o % 25 = 0 THEN 'CANCELLED' WHEN o > $orders * 0.983 THEN 'PENDING'
              WHEN o > $orders * 0.967 THEN 'PAID' WHEN o > $orders * 0.933 THEN 'SHIPPED' ELSE 'DELIVERED' END,
         CAST(t.total AS DECIMAL(12, 2)),
         CASE WHEN o % 10 < 7 THEN 'USD' WHEN o % 10 < 9 THEN 'EUR' ELSE 'GBP' END,
         TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL ((o * 8760) // $orders) HOUR + INTERVAL (o % 60) MINUTE,
         CASE WHEN o % 25 <> 0 AND o <= $orders * 0.967 THEN CAST(TIMESTAMPTZ '2024-01-03 00:00:00+00'
              + INTERVAL ((o * 8760) // $orders) HOUR AS DATE) END,
         CASE WHEN o % 97 = 0 THEN 'Leave at the door, please' END,
         TIMESTAMPTZ '2024-01-01 02:00:00+00' + INTERVAL ((o * 8760) // $orders) HOUR,
         'shop', 'snapshot', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'lsn:0/1000000'
  FROM (SELECT order_id AS o, sum(quantity * unit_price) AS total FROM raw.shop_order_items GROUP BY 1) AS t;
INSERT INTO raw.shop_orders
  SELECT order_id, user_id, 'PAID', total_amount, currency, ordered_at, NULL, note,
         ordered_at + INTERVAL 10 MINUTE, 'shop', 'incremental',
         TIMESTAMPTZ '2024-03-02 00:00:00+00', 'lsn:0/2000000'
  FROM raw.shop_orders WHERE order_id % 50 = 1 AND status = 'DELIVERED';
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
SQL
t0=$(date +%s.%N)
S sql -f "$dir/raw.sql" >/dev/null
t1=$(date +%s.%N)
S sql --format csv -e "SELECT 'raw.shop_' || t, n FROM (SELECT 'users' AS t, count(*) AS n FROM raw.shop_users UNION ALL SELECT 'products', count(*) FROM raw.shop_products UNION ALL SELECT 'orders', count(*) FROM raw.shop_orders UNION ALL SELECT 'order_items', count(*) FROM raw.shop_order_items UNION ALL SELECT 'payments', count(*) FROM raw.shop_payments)" | tail -n +2 | tr '\n' ' ' | sed 's/,/: /g'
printf '(generated in %.0f s)\n' "$(echo "$t1 - $t0" | bc -l)"

# --- Sluice: the full build, one model at a time (--threads 1), DuckDB on every core -------------
# The debug log's `model checked ... seconds=` gives each model's publish-gate time (its checks).
"$sluice" --data-dir "$dir/data" --log-level debug model run --project "$project" --threads 1 \
  --ds "$ds" >"$dir/run.out" 2>"$dir/run.log" || { cat "$dir/run.out" "$dir/run.log"; exit 1; }
grep -E '^OK' "$dir/run.out" | awk '{print $2, $3, $5}' | sed 's/s$//' >"$dir/model_times"
grep 'model checked' "$dir/run.log" |
  sed -E 's/.* model=([^ ]+) .* seconds=([0-9.e+-]+).*/\1 \2/' >"$dir/gate_times"

# --- the anchors -----------------------------------------------------------------------------------
# Per model: its rendered SQL, its partitioning, and the live files of every lake table it reads.
mkdir -p "$dir/models"
S model plan --project "$project" --ds "$ds" >"$dir/plan.sql"
for t in $(awk '{print $1}' "$dir/model_times") raw.shop_users raw.shop_categories raw.shop_products \
  raw.shop_orders raw.shop_order_items raw.shop_payments; do
  S table files "$t" --format csv | tail -n +2 | cut -d, -f2 >"$dir/models/$t.files"
done
/usr/bin/python3 - "$libduckdb" "$dir" "$project" <<'PY'
import ctypes, os, re, shutil, sys, time
lib = ctypes.CDLL(sys.argv[1]); work = sys.argv[2]; project = sys.argv[3]
lib.duckdb_result_error.restype = ctypes.c_char_p

class Db:
  def __init__(self, path):
    self.db, self.con = ctypes.c_void_p(), ctypes.c_void_p()
    assert lib.duckdb_open(path.encode() if path else None, ctypes.byref(self.db)) == 0, path
    assert lib.duckdb_connect(self.db, ctypes.byref(self.con)) == 0
    self.q("SET TimeZone = 'UTC'")
  def q(self, sql):
    res = ctypes.create_string_buffer(128)
    rc = lib.duckdb_query(self.con, sql.encode(), res)
    err = lib.duckdb_result_error(res) if rc != 0 else None
    lib.duckdb_destroy_result(res)
    if rc != 0: raise RuntimeError(f"{err.decode()}\n{sql[:300]}")
  def close(self):
    lib.duckdb_disconnect(ctypes.byref(self.con)); lib.duckdb_close(ctypes.byref(self.db))

# `sluice model plan` prints "-- zone.name (config) ds=...\n<sql>;\n\n" per model.
plans, cur = {}, None
for line in open(f"{work}/plan.sql"):
  m = re.match(r"^-- ([a-z_]+\.[a-z_]+) \((.*)\) ds=", line)
  if m: cur = m.group(1); plans[cur] = [m.group(2), ""]; continue
  if cur: plans[cur][1] += line
tables = {f[:-6] for f in os.listdir(f"{work}/models")}
def views(db):
  for t in sorted(tables):
    files = [l.strip() for l in open(f"{work}/models/{t}.files") if l.strip()]
    zone = t.split(".")[0]
    db.q(f"CREATE SCHEMA IF NOT EXISTS {zone}")
    db.q(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM read_parquet([{', '.join(repr(f) for f in files)}], hive_partitioning = false)")

def partition_exprs(config):
  m = re.search(r"partition(?:_by)?=([^ ]+)", config)
  if not m: return []
  out = []
  for p in m.group(1).split(","):
    f = re.match(r"(\w+)\((\w+)\)", p)
    tr, col = (f.group(1), f.group(2)) if f else ("identity", p)
    out.append({"identity": col, "day": f"CAST({col} AS DATE)", "month": f"CAST(date_trunc('month', {col}) AS DATE)",
                "year": f"year({col})", "hour": f"date_trunc('hour', {col})"}[tr])
  return out

def timed(db, sql):
  t0 = time.perf_counter(); db.q(sql); return time.perf_counter() - t0

gate = {m: float(t) for m, t in (l.split() for l in open(f"{work}/gate_times") if l.strip())}
rows = []
for line in open(f"{work}/model_times"):
  model, n, secs = line.split()
  config, sql = plans[model]
  sql = sql.rstrip().rstrip(";")
  # (a) CREATE TABLE in a file-backed database, persisted by CHECKPOINT.
  path = f"{work}/anchor.duckdb"
  for p in (path, path + ".wal"):
    if os.path.exists(p): os.remove(p)
  db = Db(path); views(db); db.q("CHECKPOINT")
  a = timed(db, f"CREATE TABLE anchor_out AS\n{sql}\n") + timed(db, "CHECKPOINT")
  db.close()
  # (b) COPY to Parquet, partitioned like the model.
  out = f"{work}/anchor_copy"
  shutil.rmtree(out, ignore_errors=True)
  db = Db(None); views(db)
  parts = partition_exprs(config)
  if parts:
    cols = ", ".join(f"{e} AS __p{i}" for i, e in enumerate(parts))
    b = timed(db, f"COPY (SELECT *, {cols} FROM (\n{sql}\n)) TO '{out}' (FORMAT parquet, COMPRESSION zstd, "
                  f"PARTITION_BY ({', '.join(f'__p{i}' for i in range(len(parts)))}))")
  else:
    b = timed(db, f"COPY (\n{sql}\n) TO '{out}.parquet' (FORMAT parquet, COMPRESSION zstd)")
  db.close()
  pm = re.search(r"partition(?:_by)?=([^ ]+)", config)
  mat = config.split()[0] + (f", partitioned by {pm.group(1)}" if pm else "")
  rows.append((model, mat, int(n), float(secs), gate.get(model, 0.0), a, b))

# "without the gate": Sluice's time minus its checks' (the rows are still staged for them).
print("\n| model | materialized | rows | sluice (s) | sluice without the gate (s) | anchor (a) CREATE TABLE + CHECKPOINT (s) | anchor (b) COPY TO Parquet (s) | ratio to the faster | ratio without the gate |")
print("|---|---|---|---|---|---|---|---|---|")
ts = tn = ta = tb = tm = 0.0
for model, mat, n, s, g, a, b in rows:
  best, which = (a, "a") if a <= b else (b, "b")
  print(f"| {model} | {mat} | {n} | {s:.2f} | {s - g:.2f} | {a:.2f} | {b:.2f} | {s / best:.2f} ({which}) | {(s - g) / best:.2f} |")
  ts += s; tn += s - g; ta += a; tb += b; tm += best
print(f"| all | | | {ts:.2f} | {tn:.2f} | {ta:.2f} | {tb:.2f} | {ts / tm:.2f} (sum of the faster) | {tn / tm:.2f} |")
PY

# --- quality: every check of the project on the published tables ---------------------------------
checked=$(S sql --format csv -e "SELECT sum(n) FROM (SELECT count(*) AS n FROM refined.users UNION ALL SELECT count(*) FROM refined.products UNION ALL SELECT count(*) FROM refined.orders UNION ALL SELECT count(*) FROM refined.order_items UNION ALL SELECT count(*) FROM refined.payments UNION ALL SELECT count(*) FROM curated.dim_users UNION ALL SELECT count(*) FROM curated.dim_products UNION ALL SELECT count(*) FROM curated.dim_date UNION ALL SELECT count(*) FROM curated.fact_orders UNION ALL SELECT count(*) FROM curated.fact_payments UNION ALL SELECT count(*) FROM curated.user_features UNION ALL SELECT count(*) FROM curated.kpi_daily_revenue_by_category UNION ALL SELECT count(*) FROM curated.kpi_customer_ltv UNION ALL SELECT count(*) FROM curated.kpi_payment_failure_rate)" | tail -n 1)
nchecks=$(cat "$project"/quality/*.yaml | grep -cE '^\s+- (\{check|check:)')
t0=$(date +%s.%N); S quality run --project "$project" >"$dir/quality.out" || true; t1=$(date +%s.%N)
t2=$(date +%s.%N); S sql -e "SELECT 1" >/dev/null; t3=$(date +%s.%N)   # process start-up, subtracted
q=$(echo "($t1 - $t0) - ($t3 - $t2)" | bc -l)
printf '\nquality: sluice quality run, %s checks on 14 tables, %s rows: %.2f s, %.2f s per million rows\n' \
  "$nchecks" "$checked" "$q" "$(echo "$q / ($checked / 1000000)" | bc -l)"

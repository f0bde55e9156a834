#!/usr/bin/env bash
# Snapshot ingest throughput of the orders table (PostgreSQL -> raw.bench_orders) against the
# anchor measured in the same run: psql's `\copy (SELECT * FROM orders) TO '/dev/null'` (the same
# rows read by a plain client). Starts its own PostgreSQL on a free port under a temporary folder
# and removes it at the end.
#   bench/sources_bench.sh [SCALE]      (default 250: 2.5M orders; gen takes about a minute)
# Needs a build: SLUICE_BUILD_DIR (default build) with src/cli/sluice.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-250}"
sluice="$(pwd)/${SLUICE_BUILD_DIR:-build}/src/cli/sluice"
psql=/usr/lib/postgresql/15/bin/psql
tmp="$(mktemp -d /tmp/sluice-bench-XXXXXX)"
chmod 755 "$tmp"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SLUICE_PG_PORT="$port" SLUICE_PG_FAST=1
export SLUICE_PG_PASSWORD=bench SLUICE_PG_OWNER_PASSWORD=bench-owner
cleanup() { scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
scripts/pg.sh start "$tmp/pg" >/dev/null
mkdir -p "$tmp/sources"
printf '[postgres]\nport = %s\n[log]\nlevel = "warn"\n' "$port" > "$tmp/sluice.toml"
printf 'type = "postgres"\nport = %s\ndatabase = "shop"\nparallelism = 2\nchunk_rows = 500000\n[tables.orders]\n' \
  "$port" > "$tmp/sources/bench.toml"
cd "$tmp"
echo "generating scale $scale ..."
"$sluice" --data-dir "$tmp/var" gen oltp --scale "$scale" --only postgres --seed 1 | grep orders
rows=$(PGPASSWORD=bench "$psql" -X -A -t -h 127.0.0.1 -p "$port" -U sluice shop -c "SELECT count(*) FROM orders")

# Anchor: psql reading the same rows (text COPY to /dev/null). Warm the cache first.
PGPASSWORD=bench "$psql" -X -q -h 127.0.0.1 -p "$port" -U sluice shop -c "\copy (SELECT * FROM orders) TO '/dev/null'"
t0=$(date +%s.%N)
PGPASSWORD=bench "$psql" -X -q -h 127.0.0.1 -p "$port" -U sluice shop -c "\copy (SELECT * FROM orders) TO '/dev/null'"
t1=$(date +%s.%N)
bytes=$(PGPASSWORD=bench "$psql" -X -A -t -h 127.0.0.1 -p "$port" -U sluice shop \
  -c "\copy (SELECT * FROM orders) TO STDOUT" | wc -c)

t2=$(date +%s.%N)
out=$("$sluice" --data-dir "$tmp/var" ingest bench --tables orders)
t3=$(date +%s.%N)
echo "$out"
python3 - "$rows" "$bytes" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
rows, nbytes = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2, t3 = map(float, sys.argv[3:7])
a, s = t1 - t0, t3 - t2
print(f"orders rows={rows} text_bytes={nbytes/1e6:.1f}MB")
print(f"anchor psql \\copy : {a:6.2f}s {rows/a:12,.0f} rows/s {nbytes/1e6/a:8.1f} MB/s")
print(f"sluice ingest      : {s:6.2f}s {rows/s:12,.0f} rows/s {nbytes/1e6/s:8.1f} MB/s  (whole command: connect, COPY, Parquet, commit)")
print(f"ratio sluice/anchor: {a/s:.2f}")
PY

#!/usr/bin/env bash
# Snapshot ingest throughput of the largest table of each database source against the anchor
# measured in the same run on the same table, a plain client merely reading the rows:
#   - PostgreSQL: orders (raw.bench_orders) vs psql's `\copy (SELECT * FROM orders) TO '/dev/null'`;
#   - MariaDB: inventory (raw.benchmy_inventory) vs `mariadb -e "SELECT * FROM inventory" > /dev/null`.
# Starts its own PostgreSQL and MariaDB on free ports under a temporary folder and removes them at
# the end.
#   bench/sources_bench.sh [SCALE] [MARIADB_SCALE]
#     SCALE          default 250: 2.5M orders (gen takes about a minute)
#     MARIADB_SCALE  default 2500: about 1M inventory rows (gen about a minute); 0 skips MariaDB
# Needs a build: SLUICE_BUILD_DIR (default build) with src/cli/sluice.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-250}"
my_scale="${2:-2500}"
sluice="$(pwd)/${SLUICE_BUILD_DIR:-build}/src/cli/sluice"
psql=/usr/lib/postgresql/15/bin/psql
tmp="$(mktemp -d /tmp/sluice-bench-XXXXXX)"
chmod 755 "$tmp"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
my_port="$(free_port)"
export SLUICE_PG_PORT="$port" SLUICE_PG_FAST=1
export SLUICE_PG_PASSWORD=bench SLUICE_PG_OWNER_PASSWORD=bench-owner
export SLUICE_MYSQL_PORT="$my_port" SLUICE_MYSQL_FAST=1
export SLUICE_MYSQL_PASSWORD=bench SLUICE_MYSQL_OWNER_PASSWORD=bench-owner
cleanup() {
  scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  scripts/mariadb.sh stop "$tmp/my" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
scripts/pg.sh start "$tmp/pg" >/dev/null
[ "$my_scale" -gt 0 ] && scripts/mariadb.sh start "$tmp/my" >/dev/null
mkdir -p "$tmp/sources"
printf '[postgres]\nport = %s\n[mysql]\nport = %s\n[log]\nlevel = "warn"\n' "$port" "$my_port" \
  > "$tmp/sluice.toml"
printf 'type = "postgres"\nport = %s\ndatabase = "shop"\nparallelism = 2\nchunk_rows = 500000\n[tables.orders]\n' \
  "$port" > "$tmp/sources/bench.toml"
printf 'type = "mariadb"\nport = %s\ndatabase = "inventory"\nchunk_rows = 500000\n[tables.inventory]\n' \
  "$my_port" > "$tmp/sources/benchmy.toml"
cd "$tmp"

report() { # label rows bytes anchor_t0 anchor_t1 sluice_t0 sluice_t1 anchor_label
  python3 - "$@" <<'PY'
import sys
label, rows, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0, t1, t2, t3 = map(float, sys.argv[4:8])
anchor = sys.argv[8]
a, s = t1 - t0, t3 - t2
print(f"{label} rows={rows} text_bytes={nbytes/1e6:.1f}MB")
print(f"  anchor {anchor:24}: {a:6.2f}s {rows/a:12,.0f} rows/s {nbytes/1e6/a:8.1f} MB/s")
print(f"  sluice ingest {'':17}: {s:6.2f}s {rows/s:12,.0f} rows/s {nbytes/1e6/s:8.1f} MB/s  (whole command: connect, read, Parquet, commit)")
print(f"  ratio sluice/anchor: {a/s:.2f}")
PY
}

echo "generating PostgreSQL scale $scale ..."
"$sluice" --data-dir "$tmp/var" gen oltp --scale "$scale" --only postgres --seed 1 | grep orders
pgq() { PGPASSWORD=bench "$psql" -X -q -h 127.0.0.1 -p "$port" -U sluice shop "$@"; }
rows=$(pgq -A -t -c "SELECT count(*) FROM orders")
# Anchor: psql reading the same rows (text COPY to /dev/null). Warm the cache first.
pgq -c "\copy (SELECT * FROM orders) TO '/dev/null'"
t0=$(date +%s.%N)
pgq -c "\copy (SELECT * FROM orders) TO '/dev/null'"
t1=$(date +%s.%N)
bytes=$(pgq -A -t -c "\copy (SELECT * FROM orders) TO STDOUT" | wc -c)
t2=$(date +%s.%N)
"$sluice" --data-dir "$tmp/var" ingest bench --tables orders
t3=$(date +%s.%N)
report "PostgreSQL orders" "$rows" "$bytes" "$t0" "$t1" "$t2" "$t3" 'psql \copy'

[ "$my_scale" -gt 0 ] || exit 0
echo "generating MariaDB scale $my_scale ..."
"$sluice" --data-dir "$tmp/var" gen oltp --scale "$my_scale" --only mysql --seed 1 | grep inventory
myq() { mariadb --no-defaults -h 127.0.0.1 -P "$my_port" -u sluice -pbench inventory "$@"; }
rows=$(myq -N -B -e "SELECT count(*) FROM inventory")
myq -e "SELECT * FROM inventory" > /dev/null
t0=$(date +%s.%N)
myq -e "SELECT * FROM inventory" > /dev/null
t1=$(date +%s.%N)
bytes=$(myq -e "SELECT * FROM inventory" | wc -c)
t2=$(date +%s.%N)
"$sluice" --data-dir "$tmp/var" ingest benchmy --tables inventory
t3=$(date +%s.%N)
report "MariaDB inventory" "$rows" "$bytes" "$t0" "$t1" "$t2" "$t3" 'mariadb -e'

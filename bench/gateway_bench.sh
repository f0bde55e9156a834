#!/usr/bin/env bash
# Gateway throughput and latency, each figure beside its anchor measured in the same run:
#   1. `COPY (SELECT ...) TO STDOUT` of N rows through the gateway to psql, against the same
#      query in-process (`sluice sql --format csv`, the engine without the wire) and against a
#      real PostgreSQL 15 doing the same COPY of a generated table.
#   2. The same rows through psycopg2 with a server-side cursor.
#   3. Per-query overhead of `SELECT 1` on a persistent connection (p50/p99), against
#      PostgreSQL.
# Usage: bench/gateway_bench.sh [rows] (default 10000000), or `bench/gateway_bench.sh latency
# [queries]` for part 3 only (default 2000 queries per run). Needs a built build/src/cli/sluice
# (or SLUICE_BIN), psql, python3-psycopg2 and postgresql-15.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
queries=2000
if [ "${1:-}" = latency ]; then
  mode=latency
  queries="${2:-2000}"
  set -- 0
fi
rows="${1:-10000000}"
sluice="${SLUICE_BIN:-build/src/cli/sluice}"
work="$(mktemp -d /tmp/sluice_gw_bench.XXXXXX)"
chmod 755 "$work"
gw_pid=""
pg_bin=/usr/lib/postgresql/15/bin
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null || true
  if [ -f "$work/pg/PG_VERSION" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" stop -D "$work/pg" -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
keep_log() { [ -f "$work/pg/server.log" ] && tail -5 "$work/pg/server.log" >&2 || true; }

query="SELECT i, i * 2 AS j, 'row ' || i AS s FROM range($rows) t(i)"
now() { date +%s.%N; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

SLUICE_USER_PASSWORD=benchpw "$sluice" --data-dir "$work/data" user add bench --admin >/dev/null
"$sluice" --data-dir "$work/data" --log-level warn gateway --listen 127.0.0.1:0 \
  >"$work/gw.out" 2>"$work/gw.err" &
gw_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/gw.out" && break; sleep 0.1; done
port="$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/gw.out")"
export PGPASSWORD=benchpw

# 1. COPY through the gateway vs in-process.
if [ "$mode" = all ]; then
t0=$(now)
bytes_gw=$(psql -X -h 127.0.0.1 -p "$port" -U bench sluice -c "COPY ($query) TO STDOUT" | wc -c)
t1=$(now)
bytes_local=$("$sluice" --data-dir "$work/data" --log-level warn sql --format csv -e "$query" | wc -c)
t2=$(now)
gw_s=$(python3 -c "print($t1 - $t0)")
local_s=$(python3 -c "print($t2 - $t1)")

# Real PostgreSQL: the same rows as a table, COPY (SELECT ...) TO STDOUT.
pg_s=""
if [ -x "$pg_bin/initdb" ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$work/pg" && chown postgres "$work/pg"
  runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >/dev/null
  pg_port=$((port + 1))
  runuser -u postgres -- "$pg_bin/pg_ctl" start -D "$work/pg" -l "$work/pg/server.log" -w \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1" >/dev/null || { keep_log; exit 1; }
  psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -c \
    "CREATE TABLE t AS SELECT i::bigint AS i, (i * 2)::bigint AS j, 'row ' || i AS s FROM generate_series(0, $rows - 1) i" -c "VACUUM ANALYZE t"
  t3=$(now)
  bytes_pg=$(psql -X -h 127.0.0.1 -p "$pg_port" -U postgres -c "COPY (SELECT i, j, s FROM t) TO STDOUT" | wc -c)
  t4=$(now)
  pg_s=$(python3 -c "print($t4 - $t3)")
fi
else
  # Latency only: PostgreSQL without the table.
  if [ -x "$pg_bin/initdb" ] && id postgres >/dev/null 2>&1; then
    mkdir -p "$work/pg" && chown postgres "$work/pg"
    runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >/dev/null
    pg_port=$((port + 1))
    runuser -u postgres -- "$pg_bin/pg_ctl" start -D "$work/pg" -l "$work/pg/server.log" -w \
      -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1" >/dev/null || { keep_log; exit 1; }
  fi
fi

# 2. psycopg2 with a server-side cursor; 3. SELECT 1 latency.
py_out=$(/usr/bin/python3 - "$port" "$rows" "${pg_port:-0}" "$queries" <<'PY'
import sys, time, psycopg2
port, rows, pg_port, queries = (int(a) for a in sys.argv[1:5])
def fetch(conn, sql):
    cur = conn.cursor(name="c"); cur.itersize = 20000
    t = time.time(); cur.execute(sql); n = sum(1 for _ in cur); dt = time.time() - t
    cur.close(); conn.commit(); assert n == rows, n; return dt
def latency(conn):
    conn.autocommit = True; cur = conn.cursor(); lat = []
    for _ in range(50):  # warm-up
        cur.execute("SELECT 1"); cur.fetchone()
    for _ in range(queries):
        t = time.perf_counter(); cur.execute("SELECT 1"); cur.fetchone(); lat.append(time.perf_counter() - t)
    lat.sort(); return lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3
gw = psycopg2.connect(host="127.0.0.1", port=port, user="bench", password="benchpw", dbname="sluice")
q = f"SELECT i, i * 2 AS j, 'row ' || i AS s FROM range({rows}) t(i)"
if rows: print("gw_py", fetch(gw, q))
print("gw_lat", *latency(gw))
if pg_port:
    pg = psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="postgres")
    if rows: print("pg_py", fetch(pg, "SELECT i, j, s FROM t"))
    print("pg_lat", *latency(pg))
PY
)
gw_py=$(echo "$py_out" | awk '/^gw_py/ {print $2}')
read -r gw_p50 gw_p99 <<<"$(echo "$py_out" | awk '/^gw_lat/ {print $2, $3}')"
pg_py=$(echo "$py_out" | awk '/^pg_py/ {print $2}')
read -r pg_p50 pg_p99 <<<"$(echo "$py_out" | awk '/^pg_lat/ {print $2, $3}')"
rss=$(grep VmHWM "/proc/$gw_pid/status" | awk '{print $2}')

if [ "$mode" = latency ]; then
  echo "SELECT 1 latency ms ($queries queries): gateway p50 $(printf %.3f "$gw_p50") p99 $(printf %.3f "$gw_p99")" \
    "${pg_p50:+| PostgreSQL p50 $(printf %.3f "$pg_p50") p99 $(printf %.3f "$pg_p99")}"
  exit 0
fi
mb() { python3 -c "print(f'{$1 / $2 / 1e6:.1f}')"; }
rps() { python3 -c "print(f'{$rows / $1:,.0f}')"; }
echo "rows: $rows ($(python3 -c "print(f'{$bytes_gw / $rows:.1f}')") bytes/row as text)"
printf '%-44s %14s %10s %8s\n' case rows/s MB/s seconds
printf '%-44s %14s %10s %8.2f\n' "gateway COPY TO STDOUT -> psql" "$(rps "$gw_s")" "$(mb "$bytes_gw" "$gw_s")" "$gw_s"
printf '%-44s %14s %10s %8.2f\n' "anchor: sluice sql --format csv (in-process)" "$(rps "$local_s")" "$(mb "$bytes_local" "$local_s")" "$local_s"
[ -n "$pg_s" ] && printf '%-44s %14s %10s %8.2f\n' "anchor: PostgreSQL 15 COPY TO STDOUT -> psql" "$(rps "$pg_s")" "$(mb "$bytes_pg" "$pg_s")" "$pg_s"
printf '%-44s %14s %10s %8.2f\n' "gateway psycopg2 named cursor" "$(rps "$gw_py")" "-" "$gw_py"
[ -n "$pg_py" ] && printf '%-44s %14s %10s %8.2f\n' "anchor: PostgreSQL 15 psycopg2 named cursor" "$(rps "$pg_py")" "-" "$pg_py"
echo "ratio gateway/in-process (COPY): $(ratio "$local_s" "$gw_s")"
echo "ratio gateway/in-process (psycopg2): $(ratio "$local_s" "$gw_py")   (goal >= 0.70 for both)"
[ -n "$pg_s" ] && echo "ratio gateway/PostgreSQL (COPY): $(ratio "$pg_s" "$gw_s")"
[ -n "$pg_py" ] && echo "ratio gateway/PostgreSQL (psycopg2): $(ratio "$pg_py" "$gw_py")"
echo "SELECT 1 latency ms: gateway p50 $(printf %.3f "$gw_p50") p99 $(printf %.3f "$gw_p99")" \
  "${pg_p50:+| PostgreSQL p50 $(printf %.3f "$pg_p50") p99 $(printf %.3f "$pg_p99")}"
echo "gateway peak RSS: $((rss / 1024)) MiB"

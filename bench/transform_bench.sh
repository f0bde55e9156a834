#!/usr/bin/env bash
# Batch transforms: a 3-model warehouse (bench/transform_project) over generated raw data, time per
# model next to the anchor measured in the same run: the same rendered SQL run directly by DuckDB
# (CREATE TABLE ... AS in plain DuckDB, inside `sluice sql`, no lake) over the same Parquet files.
# Then quality-check time per million rows. Usage: bench/transform_bench.sh [orders] [sluice]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-3000000}
sluice=${2:-${SLUICE_BUILD_DIR:-build}/src/cli/sluice}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
S() { "$sluice" --data-dir "$dir" --log-level warn "$@"; }
project=bench/transform_project
now() { date +%s.%N; }

S sql -e "CREATE TABLE raw.bench_users AS SELECT i AS user_id, (['VN','US','FR','DE','SG'])[1 + i % 5] AS country FROM range(1, 200001) AS t(i)" >/dev/null
S sql -e "CREATE TABLE raw.bench_orders AS SELECT i % ($rows * 9 // 10) AS order_id, 1 + (i * 7919) % 200000 AS user_id, (['PLACED','paid','Shipped','cancelled'])[1 + i % 4] AS status, CAST((i * 37) % 50000 / 100.0 AS DECIMAL(10, 2)) AS amount, TIMESTAMP '2024-01-01' + INTERVAL (i % 31536000) SECOND AS order_ts, TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS updated_at FROM range($rows) AS t(i)" >/dev/null

# Sluice: each model writes Parquet with Iceberg field ids and stats, runs its checks on the
# staged snapshot, and commits.
S model run --project "$project" --threads 1 --ds 2024-12-31 >"$dir/run.out"
grep -E '^OK' "$dir/run.out" | awk '{print $2, $5}' | sed 's/s$//' >"$dir/model_times"

# The anchor: the same rendered SQL, lake tables replaced by read_parquet over the same files.
files_of() {
  S table files "$1" --format csv | tail -n +2 | cut -d, -f2 | sed "s/.*/'&'/" | paste -sd, -
}
printf '| model | rows | sluice (s) | anchor: DuckDB CREATE TABLE AS over the same Parquet (s) | ratio |\n|---|---|---|---|---|\n'
total_s=0; total_a=0
while read -r model secs; do
  sql=$(S model plan "$model" --project "$project" --ds 2024-12-31 | sed '/^-- /d; s/;$//')
  for t in raw.bench_orders raw.bench_users refined.orders; do
    sql=${sql//$t/read_parquet([$(files_of $t)])}
  done
  t0=$(now)
  S sql -e "CREATE TEMP TABLE anchor AS $sql; SELECT count(*) FROM anchor" --format csv >/dev/null 2>&1
  t1=$(now)
  t2=$(now); S sql -e "SELECT 1" >/dev/null; t3=$(now)   # process start-up, subtracted
  anchor=$(echo "($t1 - $t0) - ($t3 - $t2)" | bc -l)
  n=$(grep -E "^OK +$model " "$dir/run.out" | awk '{print $3}')
  printf '| %s | %s | %.2f | %.2f | %.2f |\n' "$model" "$n" "$secs" "$anchor" "$(echo "$secs / $anchor" | bc -l)"
  total_s=$(echo "$total_s + $secs" | bc -l); total_a=$(echo "$total_a + $anchor" | bc -l)
done <"$dir/model_times"
printf '| all | | %.2f | %.2f | %.2f |\n' "$total_s" "$total_a" "$(echo "$total_s / $total_a" | bc -l)"

# Quality: 4 checks (not_null on 3 columns, unique, accepted_values, range) on refined.orders.
n=$(S sql --format csv -e "SELECT count(*) FROM refined.orders" | tail -n 1)
t0=$(now); S quality run refined.orders --project "$project" >/dev/null; t1=$(now)
t2=$(now); S sql -e "SELECT 1" >/dev/null; t3=$(now)
q=$(echo "($t1 - $t0) - ($t3 - $t2)" | bc -l)
printf '\nquality: 4 checks on %s rows: %.2f s, %.2f s per million rows\n' "$n" "$q" "$(echo "$q / ($n / 1000000)" | bc -l)"

#!/usr/bin/env bash
# The demo on embedded defaults: sets up, builds, and runs the example platform.
#   1. the lake: Iceberg tables, SQL, evolution, time travel, compaction;
#   2. the bus: an embedded Kafka-wire broker with Sluice's topic commands;
#   3. the e-commerce platform: PostgreSQL and MariaDB sources (scripts/pg.sh, scripts/mariadb.sh),
#      `sluice gen oltp`, the daily_etl DAG (ingest -> quality -> refined -> curated -> KPIs),
#      then `sluice up` (broker, registry, gateway, scheduler, console, CDC of both databases)
#      while `sluice gen activity` writes to the sources.
# In a terminal it leaves `sluice up` running (Ctrl-C stops everything); otherwise it stops.
# Safe to run again: the demo's state lives in var/demo (or $SLUICE_DATA_DIR) and is reset.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target sluice
sluice=build/src/cli/sluice
data_dir="${SLUICE_DATA_DIR:-var/demo}"
rm -rf "$data_dir"
export SLUICE_LOG_LEVEL="${SLUICE_LOG_LEVEL:-warn}"
run() { echo; echo "\$ sluice $*"; "$sluice" --data-dir "$data_dir" "$@"; }

run version
run doctor

# The lake: Iceberg tables, SQL, evolution, time travel.
run sql --echo -f examples/ecommerce/sql/demo_lake.sql
run table list
run table snapshots raw.orders
first=$("$sluice" --data-dir "$data_dir" table snapshots raw.orders --format csv | sed -n 2p | cut -d, -f1)
run sql -e "SELECT count(*) AS orders_in_first_snapshot FROM raw.orders AT (VERSION => $first)"
run table compact raw.orders

# The bus: an embedded Kafka-wire broker, used with Sluice's own client commands (any Kafka
# client works the same way: kcat -b 127.0.0.1:<port> ...).
port=$(( 20000 + RANDOM % 20000 ))
"$sluice" --data-dir "$data_dir" broker --listen "127.0.0.1:$port" >"$data_dir/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  "$sluice" topic list --bootstrap "127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 0.1
done
run topic create clicks --partitions 3 --bootstrap "127.0.0.1:$port"
printf 'user-1\tview /products/42\nuser-2\tadd_to_cart 42\nuser-1\tcheckout\n' |
  "$sluice" --data-dir "$data_dir" topic produce clicks --key-separator $'\t' \
    --bootstrap "127.0.0.1:$port"
run topic consume clicks --print-keys --max-messages 3 --bootstrap "127.0.0.1:$port"
kill $broker
trap - EXIT

# The example platform.
root="$(pwd)"
project="$root/examples/ecommerce"
abs_data="$(cd "$data_dir" && pwd)"
export SLUICE_PG_PASSWORD="${SLUICE_PG_PASSWORD:-sluice}"
export SLUICE_PG_OWNER_PASSWORD="${SLUICE_PG_OWNER_PASSWORD:-shop_owner}"
export SLUICE_MYSQL_PASSWORD="${SLUICE_MYSQL_PASSWORD:-sluice}"
export SLUICE_MYSQL_OWNER_PASSWORD="${SLUICE_MYSQL_OWNER_PASSWORD:-shop_owner}"
export SLUICE_PII_SALT="${SLUICE_PII_SALT:-sluice-example-demo-salt}"
echo; echo "== the e-commerce platform: PostgreSQL and MariaDB sources"
scripts/pg.sh start "$abs_data/pg"
scripts/mariadb.sh start "$abs_data/mariadb"
up=""
cleanup() {
  if [ -n "$up" ]; then kill "$up" 2>/dev/null || true; wait "$up" 2>/dev/null || true; fi
  scripts/pg.sh stop "$abs_data/pg" >/dev/null 2>&1 || true
  scripts/mariadb.sh stop "$abs_data/mariadb" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# The example's settings with this demo's data folder and absolute project paths.
cat >"$abs_data/sluice.toml" <<TOML
[platform]
name = "ecommerce"
data_dir = "$abs_data"
[log]
level = "warn"
[transform]
project = "$project"
[sources]
dir = "$project/sources"
[scheduler]
dags_dir = "$project/dags"
[console]
dashboards_dir = "$project/dashboards"
TOML
prun() { echo; echo "\$ sluice $*"; "$sluice" --config "$abs_data/sluice.toml" "$@"; }
prun gen oltp --scale 1
prun dag run daily_etl
prun sql -e "SELECT category, round(sum(revenue), 2) AS revenue FROM curated.kpi_daily_revenue_by_category GROUP BY 1 ORDER BY 2 DESC LIMIT 5"

echo; echo "\$ sluice up   (CDC streams both databases: [cdc] enabled in examples/ecommerce/sources)"
"$sluice" --config "$abs_data/sluice.toml" up >"$abs_data/up.log" 2>"$abs_data/up.err" &
up=$!
for _ in $(seq 100); do [ -f "$abs_data/up.json" ] && break; sleep 0.2; done
cat "$abs_data/up.log"
prun gen activity --rate 50 --duration 10
sleep 3
prun cdc status shop
prun cdc status inventory
prun sql -e "SELECT (SELECT count(*) FROM refined.shop_orders) AS orders_in_lake, (SELECT count(*) FROM raw.shop_orders_changes) AS order_changes"
prun cdc backfill shop --table users
prun cdc backfill inventory --table inventory --chunk-rows 200
prun cdc reconcile shop --table orders,users || true
prun cdc reconcile inventory --table inventory || true
echo
echo "demo: the platform is up. Console: $(grep -o 'http://[^ ]*/' "$abs_data/up.log" | tail -1)"
echo "      user admin, password: $(cat "$abs_data/admin-password")"
if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ]; then
  echo "      Ctrl-C stops the platform and the demo's databases."
  wait "$up" || true
  up=""
else
  echo "demo: done (not a terminal, so the platform stops now). State is in $data_dir."
fi

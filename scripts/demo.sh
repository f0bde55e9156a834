#!/usr/bin/env bash
# The demo on embedded defaults: sets up, builds, and runs the platform as far as it exists.
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
echo; echo "demo: done. State is in $data_dir. Next: docs/lake.md, docs/bus.md, $sluice --help"

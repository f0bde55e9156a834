#!/usr/bin/env bash
# Builds the example warehouse end to end, from an empty machine state to the curated layer:
#   scripts/warehouse.sh [DATA_DIR]          (DATA_DIR default: var)
#
# 1. starts PostgreSQL with scripts/pg.sh (data in DATA_DIR/pg, port $SLUICE_PG_PORT, default
#    55432) unless one already answers on that port;
# 2. `sluice gen oltp --scale N` fills its `shop` database (N = $SCALE, default 1);
# 3. `sluice ingest shop` lands raw.shop_* in the lake under DATA_DIR;
# 4. `sluice model run --project examples/ecommerce` builds refined.* and curated.* (each publish
#    gated by its checks), then `sluice quality run` re-checks every table;
# 5. prints the saved queries of examples/ecommerce/sql/.
# Passwords: SLUICE_PG_PASSWORD / SLUICE_PG_OWNER_PASSWORD (defaults as scripts/pg.sh);
# SLUICE_PII_SALT (default: a fixed demo salt; set your own outside demos).
# Exits non-zero at the first failing step. SLUICE=path overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

data_dir="${1:-var}"
mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"
port="${SLUICE_PG_PORT:-55432}"
export SLUICE_PG_PORT="$port"
export SLUICE_PG_PASSWORD="${SLUICE_PG_PASSWORD:-sluice}"
export SLUICE_PG_OWNER_PASSWORD="${SLUICE_PG_OWNER_PASSWORD:-shop_owner}"
export SLUICE_PII_SALT="${SLUICE_PII_SALT:-sluice-example-demo-salt}"
sluice="${SLUICE:-$root/build/src/cli/sluice}"
project="$root/examples/ecommerce"

if [ ! -x "$sluice" ]; then
  echo "warehouse.sh: $sluice not found; build it first: scripts/build.sh --target sluice" >&2
  exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

# A configuration for this run: the example's settings with this data folder and port.
work="$data_dir/warehouse"
mkdir -p "$work"
cat >"$work/sluice.toml" <<TOML
# Written by scripts/warehouse.sh: examples/ecommerce/sluice.toml with this run's data folder.
[platform]
name = "ecommerce"
data_dir = "$data_dir"
[log]
level = "${SLUICE_LOG_LEVEL:-warn}"
[lake]
compression = "zstd"
[postgres]
port = $port
database = "shop"
[transform]
project = "$project"
TOML
sed "s/^port = .*/port = $port/" "$project/sources/shop.toml" >"$work/shop.toml"
run() { "$sluice" --config "$work/sluice.toml" "$@"; }

step "PostgreSQL on 127.0.0.1:$port"
pg_isready="$(ls /usr/lib/postgresql/15/bin/pg_isready 2>/dev/null || true)"
if [ -n "$pg_isready" ] && "$pg_isready" -q -h 127.0.0.1 -p "$port"; then
  echo "already running on port $port"
else
  scripts/pg.sh start "$data_dir/pg"
fi

step "sluice gen oltp --scale ${SCALE:-1}"
run gen oltp --scale "${SCALE:-1}" --only postgres

step "sluice ingest shop"
run ingest "$work/shop.toml"

step "sluice model run --project examples/ecommerce"
run model run --project "$project"

step "sluice quality run"
run quality run --project "$project"

for q in revenue_by_category top_products customer_ltv fraud_rate; do
  step "examples/ecommerce/sql/$q.sql"
  run sql -f "$project/sql/$q.sql"
done

printf '\nDone. Explore: %s --config %s sql\n' "$sluice" "$work/sluice.toml"

#!/usr/bin/env bash
# Integration test of the example warehouse: scripts/warehouse.sh on its own PostgreSQL (a free
# loopback port, a temporary folder), then real checks of what it built against the raw tables.
#   warehouse_test.sh SLUICE_BINARY SOURCE_DIR
# The server is stopped and the folder removed on exit, whatever happens.
set -uo pipefail
sluice="$1"
src="$2"

tmp="$(mktemp -d /tmp/sluice-example-XXXXXX)"
chmod 711 "$tmp"   # the postgres OS user must reach $tmp/pg when run as root
port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SLUICE_PG_PORT="$port" SLUICE_PG_FAST=1
export SLUICE_PG_PASSWORD=it-sluice-pw SLUICE_PG_OWNER_PASSWORD=it-owner-pw
export SLUICE_PII_SALT=it-salt SLUICE="$sluice"
cleanup() {
  "$src/scripts/pg.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Refuse to reuse a server someone else runs on the port (warehouse.sh would).
if /usr/lib/postgresql/15/bin/pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
  echo "port $port unexpectedly busy" >&2
  exit 1
fi

"$src/scripts/warehouse.sh" "$tmp" >"$tmp/warehouse.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$tmp/warehouse.log" >&2
  echo "FAIL: scripts/warehouse.sh exited $rc" >&2
  exit 1
fi
grep -E '^run .*: 14 model\(s\): 14 ok, 0 failed, 0 skipped' "$tmp/warehouse.log" ||
  fail "model run did not build all 14 models: $(grep -E '^run ' "$tmp/warehouse.log")"
if grep -E '^(FAIL|SKIP) ' "$tmp/warehouse.log"; then fail "a model failed or was skipped"; fi

# One value from the lake.
q() {
  "$sluice" --config "$tmp/warehouse/sluice.toml" sql --format csv -e "$1" 2>&1 | sed -n 2p | tr -d '"\r'
}

for t in dim_users dim_products dim_date fact_orders fact_payments user_features \
  kpi_daily_revenue_by_category kpi_customer_ltv kpi_payment_failure_rate; do
  n="$(q "SELECT count(*) FROM curated.$t")"
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -le 0 ]; then fail "curated.$t has '$n' rows"; fi
done

# Orders: every source order reaches the fact table.
n_raw="$(q "SELECT count(DISTINCT order_id) FROM raw.shop_orders")"
n_fact="$(q "SELECT count(*) FROM curated.fact_orders")"
[ "$n_raw" = 10000 ] || fail "raw.shop_orders has $n_raw orders, expected 10000 at scale 1"
[ "$n_fact" = "$n_raw" ] || fail "curated.fact_orders has $n_fact rows, raw has $n_raw orders"

# Revenue by category (the saved query's rows) sums to the PAID/SHIPPED/DELIVERED order totals
# computed straight from raw (latest version per order).
kpi="$(q "SELECT sum(revenue) FROM ($(sed 's/;[[:space:]]*$//' "$src/examples/ecommerce/sql/revenue_by_category.sql" | grep -v '^--' | tr '\n' ' '))")"
raw="$(q "SELECT sum(total_amount) FROM (SELECT * FROM raw.shop_orders QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1) WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED')")"
echo "revenue: by category $kpi, raw order totals $raw"
if [ -z "$kpi" ] || [ "$kpi" != "$raw" ]; then fail "revenue by category $kpi <> raw revenue $raw"; fi
if ! [[ "$raw" =~ ^[0-9]+\.[0-9]{2}$ ]] || [ "${raw%%.*}" -le 0 ]; then fail "raw revenue '$raw'"; fi

# Payments: failures counted in the KPI equal FAILED attempts in raw.
kf="$(q "SELECT sum(failed) FROM curated.kpi_payment_failure_rate")"
rf="$(q "SELECT count(*) FROM raw.shop_payments WHERE status = 'FAILED'")"
[ "$kf" = "$rf" ] && [ "$rf" -gt 0 ] || fail "failed payments: KPI $kf, raw $rf"

# The source -> curated reconciliation check ran and passed (its latest result).
rec="$(q "SELECT passed FROM _system.quality_results WHERE table_name = 'curated.fact_orders' AND check_name = 'reconcile_source_orders_to_fact' ORDER BY checked_at DESC LIMIT 1")"
[ "$rec" = true ] || fail "reconciliation check result: '$rec'"
bad="$(q "SELECT count(*) FROM _system.quality_results WHERE severity = 'error' AND NOT passed")"
[ "$bad" = 0 ] || fail "$bad error checks failed"

# No raw PII in curated: emails are hashes.
leak="$(q "SELECT count(*) FROM curated.dim_users WHERE email LIKE '%@%' OR full_name LIKE '% %'")"
[ "$leak" = 0 ] || fail "$leak raw emails or names in curated.dim_users"

# The saved queries print rows.
for f in top_products customer_ltv fraud_rate; do
  grep -q "==> examples/ecommerce/sql/$f.sql" "$tmp/warehouse.log" || fail "saved query $f not run"
done
grep -q '(5 rows)' "$tmp/warehouse.log" || fail "saved queries printed no rows"

if [ "$failures" -ne 0 ]; then
  echo "---- warehouse.sh output" >&2
  grep -v '  PASS ' "$tmp/warehouse.log" >&2
  exit 1
fi
echo "PASS: example warehouse built and checked"

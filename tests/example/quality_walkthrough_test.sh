#!/usr/bin/env bash
# The walk-through of docs/quality.md ("a failing check stops a bad publish"), command for
# command, on the example project over its raw fixture; each step's outcome is asserted.
#   quality_walkthrough_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1"
src="$2"
tmp="$(mktemp -d /tmp/sluice-quality-walk-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export SLUICE_PII_SALT='a long random string'
project="$src/examples/ecommerce"
s() { "$sluice" --log-level error "$@" --data-dir "$tmp/data"; }
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
value() { s sql --format csv -e "$1" | sed -n 2p; }

s sql -f "$project/sql/raw_fixture.sql" >/dev/null || fail "raw fixture"
out="$(s model run --project "$project" 2>&1)" || fail "first build: $out"
grep -q '14 model(s): 14 ok' <<<"$out" || fail "first build output: $out"

snap_before="$(s table snapshots refined.order_items | awk -F'|' '$1 ~ /^ *[0-9]+ *$/ {id=$1} END {gsub(/ /, "", id); print id}')"
[ -n "$snap_before" ] || fail "no snapshot id of refined.order_items"
fact_before="$(value "SELECT count(*) || '/' || sum(units) FROM curated.fact_orders")"
lines_before="$(value "SELECT count(*) FROM refined.order_items")"
[ -n "$fact_before" ] && [ -n "$lines_before" ] || fail "could not read curated.fact_orders / refined.order_items"

# 1. Bad data arrives.
s sql -e "INSERT INTO raw.shop_order_items VALUES
  (2, 9, 1, 0, 10.00, 'shop', 'snapshot', now(), 'lsn:0/2000000'),
  (3, 9, 2, 500, 10.00, 'shop', 'snapshot', now(), 'lsn:0/2000000')" >/dev/null || fail "insert"

# 2. The rebuild fails on the range check and publishes nothing.
out="$(s model run refined.order_items+ --project "$project" 2>&1)"
rc=$?
[ "$rc" -eq 1 ] || fail "failing run exited $rc, want 1: $out"
grep -q 'FAIL  error  refined.order_items  range(quantity)  (1 failing)' <<<"$out" || fail "no range failure: $out"
grep -q 'order_id=3, line_no=9, product_id=2, quantity=500' <<<"$out" || fail "no sample row: $out"
grep -q 'SKIP  curated.fact_orders' <<<"$out" || fail "downstream not skipped: $out"
grep -q '7 model(s): 0 ok, 1 failed, 6 skipped' <<<"$out" || fail "summary: $out"

# 3. Nothing changed.
snap_after="$(s table snapshots refined.order_items | awk -F'|' '$1 ~ /^ *[0-9]+ *$/ {id=$1} END {gsub(/ /, "", id); print id}')"
[ "$snap_after" = "$snap_before" ] || fail "snapshot moved: $snap_before -> $snap_after"
[ "$(value "SELECT count(*) FROM refined.order_items")" = "$lines_before" ] || fail "refined rows changed"
[ "$(value "SELECT count(*) || '/' || sum(units) FROM curated.fact_orders")" = "$fact_before" ] ||
  fail "downstream table changed"
[ "$(value "SELECT count(*) FROM _system.quality_results WHERE NOT passed AND check_name = 'range(quantity)'")" = 1 ] ||
  fail "failure not recorded in _system.quality_results"

# 4. Fixed at the source: it publishes.
s sql -e "DELETE FROM raw.shop_order_items WHERE line_no = 9 AND order_id IN (2, 3)" >/dev/null || fail "delete"
out="$(s model run refined.order_items+ --project "$project" 2>&1)" || fail "fixed run failed: $out"
grep -q '7 model(s): 7 ok' <<<"$out" || fail "fixed run summary: $out"
snap_fixed="$(s table snapshots refined.order_items | awk -F'|' '$1 ~ /^ *[0-9]+ *$/ {id=$1} END {gsub(/ /, "", id); print id}')"
[ "$snap_fixed" != "$snap_before" ] || fail "no new snapshot after the fix"
[ "$(value "SELECT count(*) FROM refined.order_items")" = "$lines_before" ] || fail "rows after the fix"

if [ "$failures" -ne 0 ]; then
  echo "quality walk-through: $failures failure(s)" >&2
  exit 1
fi
echo "quality walk-through: all steps as documented"

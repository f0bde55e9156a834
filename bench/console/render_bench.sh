#!/usr/bin/env bash
# Time to first full render of the Sales dashboard (examples/ecommerce/dashboards/sales.yaml) in
# headless chromium, cold cache (a fresh `sluice console`) and warm (reloads), on the example
# warehouse's curated layer (raw_fixture.sql + `sluice model run`). Anchor: the same chart
# queries run one after the other by one `sluice sql` process (no browser, no HTTP, no cache).
#   bench/console/render_bench.sh [SLUICE_BINARY]     (default build-console/src/cli/sluice)
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
sluice="${1:-$src/build-console/src/cli/sluice}"
tmp="$(mktemp -d /tmp/sluice-console-bench-XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/project"
cp -r "$src/examples/ecommerce/dashboards" "$src/examples/ecommerce/sql" "$tmp/project/"
cat >"$tmp/project/sluice.toml" <<TOML
[platform]
data_dir = "$tmp/data"
[log]
level = "warn"
[console]
listen = "127.0.0.1:0"
dashboards_dir = "dashboards"
TOML
export SLUICE_PII_SALT=bench-salt
run() { "$sluice" --config "$tmp/project/sluice.toml" "$@"; }
run sql -f "$src/examples/ecommerce/sql/raw_fixture.sql" >/dev/null
run model run --project "$src/examples/ecommerce" >/dev/null
SLUICE_USER_PASSWORD=bench-pw run user add bench --admin >/dev/null
"$sluice" --config "$tmp/project/sluice.toml" console >"$tmp/console.out" 2>"$tmp/console.err" &  # the binary: $! must be its pid
pid=$!
url=""
for _ in $(seq 1 200); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*/' "$tmp/console.out" | head -1 || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/console.err" >&2; exit 1; }
cd "$src/web"
SLUICE="$sluice" SLUICE_CONFIG="$tmp/project/sluice.toml" node "$src/bench/console/render_bench.mjs" "$url"

#!/usr/bin/env bash
# Browser test of the web console: Debian's chromium (headless) driven by playwright-core
# (tests/console/browser_test.mjs) against `sluice console` on a free loopback port, over the
# example warehouse's curated layer (built with examples/ecommerce/sql/raw_fixture.sql and
# `sluice model run`). Charts are checked against `sluice sql --format csv`.
#   browser_test.sh SLUICE_BINARY SOURCE_DIR ARTIFACT_DIR
# Screenshots go to ARTIFACT_DIR; the Sales dashboard's becomes docs/img/dashboard.png (see end).
set -uo pipefail
sluice="$1"
src="$2"
artifacts="$3"
mkdir -p "$artifacts"

if [ ! -x /usr/bin/chromium ]; then
  echo "FAIL: /usr/bin/chromium is missing: run scripts/setup.sh" >&2
  exit 1
fi
if [ ! -f "$src/web/node_modules/playwright-core/package.json" ] || [ ! -f "$src/web/dist/index.html" ]; then
  echo "FAIL: the console front end is not built (web/node_modules, web/dist): run scripts/setup.sh" >&2
  exit 1
fi

tmp="$(mktemp -d /tmp/sluice-console-XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A project folder of its own (saved queries are written to its sql/).
mkdir -p "$tmp/project"
cp -r "$src/examples/ecommerce/dashboards" "$src/examples/ecommerce/sql" "$tmp/project/"
cat >"$tmp/project/sluice.toml" <<TOML
[platform]
name = "console-test"
data_dir = "$tmp/data"
[log]
level = "warn"
[console]
listen = "127.0.0.1:0"
dashboards_dir = "dashboards"
TOML
export SLUICE_PII_SALT=it-salt
run() { "$sluice" --config "$tmp/project/sluice.toml" "$@"; }

set -e
run sql -f "$src/examples/ecommerce/sql/raw_fixture.sql" >"$tmp/fixture.log" 2>&1 ||
  { cat "$tmp/fixture.log" >&2; echo "FAIL: raw fixture" >&2; exit 1; }
run model run --project "$src/examples/ecommerce" >"$tmp/model.log" 2>&1 ||
  { cat "$tmp/model.log" >&2; echo "FAIL: model run" >&2; exit 1; }
SLUICE_USER_PASSWORD=admin-pw run user add admin --admin >/dev/null
SLUICE_USER_PASSWORD=analyst-pw run user add analyst >/dev/null
run user grant analyst read curated >/dev/null
run user grant analyst read refined >/dev/null
set +e

# The binary itself in the background (not the `run` function: $! would be a subshell, and
# killing it would leave the console running after the test).
"$sluice" --config "$tmp/project/sluice.toml" console >"$tmp/console.out" 2>"$tmp/console.err" &
pid=$!
url=""
for _ in $(seq 1 200); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*/' "$tmp/console.out" | head -1)"
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$tmp/console.err" >&2
  echo "FAIL: sluice console did not print its URL" >&2
  exit 1
fi

cd "$src/web" || exit 1
SLUICE_CONFIG="$tmp/project/sluice.toml" SLUICE="$sluice" \
  timeout -k 5 300 node "$src/tests/console/browser_test.mjs" "$url" "$artifacts"
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- console stderr ---" >&2
  tail -40 "$tmp/console.err" >&2
  exit "$rc"
fi
# The README's screenshot: written when missing, or refreshed with SLUICE_UPDATE_SCREENSHOT=1
# (so that test runs do not dirty the work tree).
if [ -f "$artifacts/dashboard-sales.png" ] && [ -d "$src/docs" ] &&
  { [ ! -f "$src/docs/img/dashboard.png" ] || [ "${SLUICE_UPDATE_SCREENSHOT:-0}" = 1 ]; }; then
  mkdir -p "$src/docs/img"
  cp "$artifacts/dashboard-sales.png" "$src/docs/img/dashboard.png"
fi
exit 0

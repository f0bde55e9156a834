#!/usr/bin/env bash
# Installs everything Sluice's build and tests need on Debian 12, and nothing else:
#   1. Debian packages (apt-get), only those not yet installed;
#   2. DuckDB 1.4.4 from the npm registry, pinned by scripts/duckdb/package-lock.json, installed
#      with --ignore-scripts into scripts/duckdb/node_modules (git-ignored);
#   3. the web console's front end: npm packages into web/node_modules and `vite build` into
#      web/dist (both git-ignored), pinned by web/package-lock.json;
#   4. icebird, an independent Iceberg reader for the lake's interop test, into
#      tests/lake/interop/node_modules (git-ignored), pinned by its package-lock.json.
# Idempotent: a second run installs nothing and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build toolchain and libraries, then the real peers the tests drive.
PACKAGES=(
  cmake ninja-build g++ pkg-config git clang-format ca-certificates
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  librdkafka-dev librocksdb-dev libavro-dev libboost1.81-dev libpq-dev libmariadb-dev
  libssl-dev zlib1g-dev libedit-dev liblz4-dev libzstd-dev libsnappy-dev libyaml-cpp-dev
  python3 python3-avro kcat python3-kafka python3-psycopg2 python3-sqlalchemy python3-pandas
  curl python3-confluent-kafka python3-requests strace
  postgresql-15 postgresql-client-15 mariadb-server mariadb-client
  openjdk-17-jdk-headless libpostgresql-jdbc-java
  chromium
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node and npm only provision DuckDB; any npm will do (Debian's, or one already on the machine).
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already installed"
fi

# DuckDB from npm. The stamp records the lock file it was installed from, so a changed pin
# reinstalls and an unchanged one is skipped.
duck=scripts/duckdb
stamp="$duck/node_modules/.sluice-lock.sha256"
want=$(sha256sum "$duck/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -f "$duck/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so" ]; then
  echo "setup: DuckDB already provisioned"
else
  echo "setup: installing DuckDB from npm (pinned by $duck/package-lock.json)"
  (cd "$duck" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

# An independent Iceberg reader for the lake's interoperability test (tests/lake/interop), pinned
# by its lock file like DuckDB.
interop=tests/lake/interop
istamp="$interop/node_modules/.sluice-lock.sha256"
iwant=$(sha256sum "$interop/package-lock.json" | cut -d' ' -f1)
if [ -f "$istamp" ] && [ "$(cat "$istamp")" = "$iwant" ]; then
  echo "setup: icebird (Iceberg interop test) already installed"
else
  echo "setup: installing icebird for the Iceberg interop test (pinned by $interop/package-lock.json)"
  (cd "$interop" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$iwant" > "$istamp"
fi

# The web console (web/): npm ci + vite build into web/dist. The stamp records the hash of the
# lock file and of every source file, so an unchanged front end is not rebuilt.
web=web
web_stamp="$web/dist/.sluice-build.sha256"
web_want=$( (cat "$web/package-lock.json" "$web/package.json" "$web/index.html" "$web/tsconfig.json" \
  "$web/vite.config.ts"; find "$web/src" -type f | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1)
if [ -f "$web_stamp" ] && [ "$(cat "$web_stamp")" = "$web_want" ] && [ -f "$web/dist/index.html" ]; then
  echo "setup: web console already built"
else
  lock_stamp="$web/node_modules/.sluice-lock.sha256"
  lock_want=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$lock_want" ]; then
    echo "setup: installing the web console's packages (pinned by $web/package-lock.json)"
    # `npm install` with the lock file present installs exactly its versions; `npm ci` refuses
    # this lock because it holds only the linux-x64 builds of rollup's and esbuild's optional
    # platform packages (the only ones this registry serves).
    (cd "$web" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$lock_want" > "$lock_stamp"
  fi
  echo "setup: building the web console (vite build -> $web/dist)"
  (cd "$web" && npx --no-install tsc --noEmit -p . && npx --no-install vite build --logLevel warn)
  echo "$web_want" > "$web_stamp"
fi

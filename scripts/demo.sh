#!/usr/bin/env bash
# The demo on embedded defaults: sets up, builds, and runs the platform as far as it exists.
# Safe to run again; state goes to var/ (or $SLUICE_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target sluice
sluice=build/src/cli/sluice
data_dir="${SLUICE_DATA_DIR:-var}"

echo; echo "== sluice version"
"$sluice" version
echo; echo "== sluice doctor (DuckDB writes and reads back a Parquet file with Iceberg field ids)"
"$sluice" doctor --data-dir "$data_dir"
echo; echo "demo: done. Next: build/src/cli/sluice --help"

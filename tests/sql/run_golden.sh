#!/usr/bin/env bash
# Golden SQL test: runs CASE.sql through `sluice sql --echo --keep-going` in a fresh data
# directory (from this folder, so data/ paths resolve) and diffs the output with CASE.expected.
# Snapshot ids and timestamps vary between runs and are masked.
# SLUICE_GOLDEN_UPDATE=1 rewrites the expected file instead (review the diff before committing).
set -euo pipefail
sluice=$1
case_file=$2
expected="${case_file%.sql}.expected"
cd "$(dirname "$case_file")"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
set +e
"$sluice" --data-dir "$dir" --log-level warn sql --echo --keep-going -f "$(basename "$case_file")" >"$dir/out" 2>&1
rc=$?
set -e
echo "(exit $rc)" >>"$dir/out"
sed -E -e 's/snapshot [0-9]+/snapshot N/g' -e "s#$dir#DATA_DIR#g" \
  -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z/TIMESTAMP/g' \
  "$dir/out" >"$dir/actual"
if [ "${SLUICE_GOLDEN_UPDATE:-}" = 1 ]; then cp "$dir/actual" "$expected"; fi
diff -u "$expected" "$dir/actual"

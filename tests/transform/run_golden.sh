#!/usr/bin/env bash
# Golden model-project test: runs CASE_DIR/case.sh (from CASE_DIR, so `project/` resolves) with
# $SLUICE naming a `sluice` bound to a fresh data directory, and diffs its output with
# CASE_DIR/expected. Run ids, snapshot ids, timings and timestamps vary between runs and are
# masked. SLUICE_GOLDEN_UPDATE=1 rewrites the expected file instead (review the diff).
set -uo pipefail
binary=$1
case_dir=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$case_dir" || exit 1
cat >"$dir/sluice" <<WRAP
#!/usr/bin/env bash
"$binary" --data-dir "$dir/data" --log-level error "\$@"
WRAP
chmod +x "$dir/sluice"
export SLUICE="$dir/sluice" DATA_DIR="$dir/data" SLUICE_PII_SALT=golden-salt
# Through a pipe: `sluice sql --format csv` streams with DuckDB's COPY TO '/dev/stdout', which
# would truncate a regular file that earlier commands wrote to.
timeout 100 bash -u ./case.sh 2>&1 | cat >"$dir/out"
echo "(exit ${PIPESTATUS[0]})" >>"$dir/out"
sed -E -e 's/snapshot [0-9]+/snapshot N/g' -e "s#$dir#DIR#g" \
  -e 's/run [0-9a-f]{16}/run RUN/g' \
  -e 's/ +[0-9]+\.[0-9]{2}s/ T.TTs/g' \
  -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+Z?/TIMESTAMP/g' \
  "$dir/out" >"$dir/actual"
if [ "${SLUICE_GOLDEN_UPDATE:-}" = 1 ]; then cp "$dir/actual" expected; fi
diff -u expected "$dir/actual"

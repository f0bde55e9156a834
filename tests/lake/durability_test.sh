#!/usr/bin/env bash
# A commit makes its data files durable before it publishes them: traced with strace, every new
# Parquet file of an INSERT is fdatasynced, and its folders fsynced, before the commit writes its
# metadata file; a write of many files (one per partition) is flushed with one syncfs(2) instead.
# The manifest list, the metadata file and their folder are synced before the pointer's rename.
# (A SIGKILL keeps the page cache, so crash_points_test.sh cannot see a missing flush; a power
# loss would.)
#   durability_test.sh SLUICE_BINARY
set -uo pipefail
sluice="$1"
tmp="$(mktemp -d /tmp/sluice-durable-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
s() { "$sluice" --log-level error --data-dir "$tmp/data" "$@"; }
# Runs `sluice sql -e "$1"` under strace; the trace (one line per syscall, paths shown) goes to $2.
traced() {
  strace -f -qq -y -e trace=openat,fdatasync,fsync,syncfs,rename -o "$2" \
    "$sluice" --log-level error --data-dir "$tmp/data" sql -e "$1" >/dev/null
}
# Line number of the first trace line matching an extended regex (0 if none).
first() { grep -n -E -m1 "$2" "$1" | cut -d: -f1 || true; }

s sql -e "CREATE TABLE raw.d (id BIGINT, day DATE) PARTITIONED BY (day)" >/dev/null ||
  fail "create table"

# A small write: each file and each of its folders, before the metadata file.
traced "INSERT INTO raw.d VALUES (1, DATE '2024-01-01'), (2, DATE '2024-01-02')" "$tmp/small.trace" ||
  fail "small insert"
meta=$(first "$tmp/small.trace" 'openat\(.*\.metadata\.json.*O_CREAT')
[ "${meta:-0}" -gt 0 ] || fail "small insert: no metadata file written"
mapfile -t files < <(s table files raw.d --format csv | tail -n +2 | cut -d, -f2)
[ "${#files[@]}" -eq 2 ] || fail "small insert: expected 2 data files, got ${#files[@]}"
for f in "${files[@]}"; do
  # strace -y shows an fd as N</path>; the sync of this file is fdatasync(N</path>).
  n=$(first "$tmp/small.trace" "fdatasync\([0-9]+<$f>")
  if [ "${n:-0}" -eq 0 ] || [ "$n" -gt "$meta" ]; then
    fail "small insert: $f not fdatasynced before the metadata file (line ${n:-none}, metadata at $meta)"
  fi
  d=$(dirname "$f")
  while [ "$d" != "$tmp/data/lake/raw" ]; do
    n=$(first "$tmp/small.trace" "fsync\([0-9]+<$d>")
    if [ "${n:-0}" -eq 0 ] || [ "$n" -gt "$meta" ]; then
      fail "small insert: folder $d not fsynced before the metadata file"
    fi
    d=$(dirname "$d")
  done
done

# The commit's own files (manifest list, metadata file) and the metadata folder are synced before
# the pointer's rename publishes them.
swap=$(first "$tmp/small.trace" 'rename\(.*\.sluice-pointer\.tmp')
[ "${swap:-0}" -gt 0 ] || fail "small insert: no pointer rename traced"
for what in '[^>]*/snap-[^>]*\.avro' '[^>]*\.metadata\.json' "$tmp/data/lake/raw/d/metadata"; do
  n=$(first "$tmp/small.trace" "sync\([0-9]+<$what>")
  if [ "${n:-0}" -eq 0 ] || [ "$n" -gt "${swap:-0}" ]; then
    fail "small insert: $what not synced before the pointer swap (line ${n:-none}, swap at ${swap:-none})"
  fi
done

# A write of 40 partitions (more than 32 files): one syncfs, before the metadata file.
traced "INSERT INTO raw.d SELECT i, DATE '2024-02-01' + CAST(i % 40 AS INTEGER) FROM range(4000) t(i)" \
  "$tmp/wide.trace" || fail "wide insert"
meta=$(first "$tmp/wide.trace" 'openat\(.*\.metadata\.json.*O_CREAT')
n=$(first "$tmp/wide.trace" 'syncfs\(')
if [ "${meta:-0}" -eq 0 ] || [ "${n:-0}" -eq 0 ] || [ "$n" -gt "$meta" ]; then
  fail "wide insert: no syncfs before the metadata file (syncfs at ${n:-none}, metadata at ${meta:-none})"
fi
[ "$(grep -c -E 'fdatasync\([0-9]+<[^>]*\.parquet>' "$tmp/wide.trace")" -eq 0 ] ||
  fail "wide insert: synced its data files one by one instead of with one syncfs"

# The table reads back every row.
got=$(s sql --format csv -e "SELECT count(*) FROM raw.d" | sed -n 2p)
[ "$got" = "4002" ] || fail "expected 4002 rows, got $got"

if [ "$failures" -gt 0 ]; then
  echo "durability_test: $failures failure(s)" >&2
  exit 1
fi
echo "durability_test: ok"

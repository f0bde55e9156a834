#!/usr/bin/env bash
# A crash at any point of a lake commit leaves the previous snapshot readable and nothing
# half-visible: `sluice sql` is killed with SIGKILL (SLUICE_TEST_CRASH_AT) at each point of an
# INSERT's commit, an UPDATE's and a compaction's, then the table is checked, written again,
# and the crash's unreferenced files are collected by remove-orphans.
#   crash_points_test.sh SLUICE_BINARY
set -uo pipefail
sluice="$1"
tmp="$(mktemp -d /tmp/sluice-crash-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for point in commit.after-manifest-list commit.after-metadata commit.before-swap commit.after-swap; do
  for op in insert update compact; do
    data="$tmp/$point-$op"
    s() { "$sluice" --log-level error --data-dir "$data" "$@"; }
    value() { s sql --format csv -e "$1" | sed -n 2p; }
    s sql -e "CREATE TABLE raw.c (id BIGINT, v VARCHAR) PARTITIONED BY (bucket(4, id))" \
      -e "INSERT INTO raw.c SELECT range, 'a' FROM range(100)" \
      -e "INSERT INTO raw.c SELECT range, 'a' FROM range(100, 200)" >/dev/null ||
      { fail "$point/$op: setup"; continue; }
    before="$(value "SELECT count(*) || '/' || sum(id) || '/' || count(*) FILTER (WHERE v = 'b') FROM raw.c")"
    case "$op" in
      insert) stmt=(sql -e "INSERT INTO raw.c SELECT range, 'b' FROM range(200, 250)")
              after="250/31125/50" ;;
      update) stmt=(sql -e "UPDATE raw.c SET v = 'b' WHERE id < 10")
              after="200/19900/10" ;;
      compact) stmt=(table compact raw.c)
               after="$before" ;;
    esac
    { SLUICE_TEST_CRASH_AT="$point" "$sluice" --log-level error --data-dir "$data" "${stmt[@]}" \
      >"$data.out" 2>&1; rc=$?; } 2>/dev/null  # no "Killed" line from bash
    [ "$rc" -eq 137 ] || fail "$point/$op: expected a SIGKILL (137), got exit $rc: $(cat "$data.out")"
    now="$(value "SELECT count(*) || '/' || sum(id) || '/' || count(*) FILTER (WHERE v = 'b') FROM raw.c")"
    if [ "$point" = commit.after-swap ]; then
      # The pointer was renamed: the new snapshot is the current one, whole.
      [ "$now" = "$after" ] || fail "$point/$op: after the swap the table reads '$now', want '$after'"
    else
      [ "$now" = "$before" ] || fail "$point/$op: the table reads '$now', want the previous '$before'"
    fi
    # Every snapshot still reads (time travel to the first one too).
    first="$(s table snapshots raw.c | awk -F'|' '$1 ~ /^ *[0-9]+ *$/ {gsub(/ /, "", $1); print $1; exit}')"
    [ "$(value "SELECT count(*) FROM raw.c AT (VERSION => $first)")" = 100 ] ||
      fail "$point/$op: the first snapshot no longer reads 100 rows"
    # The table takes writes again (no lock or temporary file left in the way).
    s sql -e "INSERT INTO raw.c VALUES (1000, 'z')" >/dev/null || fail "$point/$op: insert after the crash"
    [ "$(value "SELECT count(*) FROM raw.c WHERE id = 1000")" = 1 ] || fail "$point/$op: row after the crash"
    # What the crash left unreferenced is collected; the table still reads the same.
    total="$(value "SELECT count(*) FROM raw.c")"
    s table remove-orphans raw.c --older-than 0s >/dev/null || fail "$point/$op: remove-orphans"
    [ "$(value "SELECT count(*) FROM raw.c")" = "$total" ] || fail "$point/$op: rows changed by remove-orphans"
    # The next commit cleared a temporary pointer file the crash left.
    left="$(find "$data/lake" -name '*.tmp-*' | wc -l)"
    [ "$left" -eq 0 ] || fail "$point/$op: $left temporary pointer file(s) left after the next commit"
  done
done

if [ "$failures" -ne 0 ]; then
  echo "crash points: $failures failure(s)" >&2
  exit 1
fi
echo "crash points: 4 points x 3 operations, every table consistent"

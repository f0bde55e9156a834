#!/usr/bin/env bash
# With bus.fsync = interval (or none), the broker starts each MiB of a partition's appended log
# on its way to disk as it goes (sync_file_range(SYNC_FILE_RANGE_WRITE), whole pages, ranges
# following each other), so the periodic fsync never meets a second's worth of unwritten data;
# with bus.writeback_bytes = 0, and with fsync = batch (each append fdatasynced), it does not.
# Traced with strace while kcat produces 4 MiB.
#   writeback_test.sh SLUICE_BINARY
set -uo pipefail
sluice="$1"
tmp="$(mktemp -d /tmp/sluice-writeback-XXXXXX)"
pid=""
trap '[ -n "$pid" ] && pkill -KILL -P "$pid"; rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Runs a broker with the given [bus] settings under strace, produces 4,096 messages of 1 KiB to
# one partition, and leaves the trace of sync_file_range calls on the topic's log in $1.trace.
run() {
  local name="$1" settings="$2" p
  p=$(port)
  mkdir -p "$tmp/$name"
  printf '[bus]\nlisten = "127.0.0.1:%s"\n%s\n' "$p" "$settings" >"$tmp/$name/sluice.toml"
  strace -f -qq -y -e trace=sync_file_range -o "$tmp/$name.trace" \
    "$sluice" --log-level error --config "$tmp/$name/sluice.toml" --data-dir "$tmp/$name/data" \
    broker &
  pid=$!
  for _ in $(seq 100); do
    kcat -b "127.0.0.1:$p" -L -m 1 >/dev/null 2>&1 && break
    sleep 0.1
  done
  head -c 1023 /dev/zero | tr '\0' 'x' >"$tmp/msg"
  for i in $(seq 4096); do cat "$tmp/msg"; echo; done |
    kcat -b "127.0.0.1:$p" -P -t wb -p 0 -X queue.buffering.max.ms=5 ||
    fail "$name: produce failed"
  n=$(kcat -b "127.0.0.1:$p" -C -t wb -p 0 -o beginning -e -q 2>/dev/null | wc -l)
  [ "$n" -eq 4096 ] || fail "$name: consumed $n of 4096 messages"
  # strace exits when the broker does (SIGTERM to strace itself only detaches it).
  pkill -TERM -P "$pid"
  wait "$pid" 2>/dev/null
  pid=""
}

run interval 'fsync = "interval"
fsync_interval_ms = 60000'
# Calls on the partition's log file: sync_file_range(fd</path/00000000000000000000.log>, off, len, ...)
mapfile -t calls < <(grep -E 'sync_file_range\([0-9]+<[^>]*/topics/wb/0/[0-9]+\.log>' "$tmp/interval.trace" |
  sed -E 's/.*>, ([0-9]+), ([0-9]+), SYNC_FILE_RANGE_WRITE\).*/\1 \2/')
[ "${#calls[@]}" -ge 3 ] || fail "interval: expected at least 3 writebacks of a 4 MiB log, got ${#calls[@]}"
next=0
for c in "${calls[@]}"; do
  read -r off len <<<"$c"
  [ "$off" -eq "$next" ] || fail "interval: writeback at $off, expected it to follow on at $next"
  [ $((off % 4096)) -eq 0 ] && [ $((len % 4096)) -eq 0 ] || fail "interval: range $off+$len is not whole pages"
  [ "$len" -ge 1048576 ] || fail "interval: range $off+$len is under bus.writeback_bytes"
  next=$((off + len))
done

run none_off 'fsync = "none"
writeback_bytes = 0'
n=$(grep -c 'sync_file_range' "$tmp/none_off.trace" || true)
[ "$n" -eq 0 ] || fail "writeback_bytes = 0: $n sync_file_range calls"

run batch 'fsync = "batch"'
n=$(grep -c 'sync_file_range' "$tmp/batch.trace" || true)
[ "$n" -eq 0 ] || fail "fsync = batch: $n sync_file_range calls"

[ "$failures" -eq 0 ] && echo "writeback_test: ok"
exit "$failures"

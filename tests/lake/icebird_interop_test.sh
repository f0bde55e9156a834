#!/usr/bin/env bash
# Another Iceberg implementation reads what Sluice writes: icebird (JavaScript; its own Avro
# decoder for manifest lists and manifests, hyparquet for Parquet, pinned by
# tests/lake/interop/package-lock.json) reads a partitioned lake table after appends, a DELETE,
# an UPDATE and an added column, and must see exactly the rows `sluice sql` sees.
#   icebird_interop_test.sh SLUICE_BINARY SOURCE_DIR
# (icebird maps columns by name, not field id, so a renamed column is not part of this check;
# Sluice's own reads by field id are tested in tests/lake and tests/engine.)
set -uo pipefail
sluice="$1"
src="$2"
interop="$src/tests/lake/interop"
if [ ! -f "$interop/node_modules/icebird/package.json" ]; then
  echo "FAIL: icebird is not installed: run scripts/setup.sh" >&2
  exit 1
fi
tmp="$(mktemp -d /tmp/sluice-icebird-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
s() { "$sluice" --log-level error "$@" --data-dir "$tmp/data"; }

s sql -e "CREATE TABLE raw.interop (id BIGINT, name VARCHAR, amount DECIMAL(10,2), ts TIMESTAMPTZ)
          PARTITIONED BY (day(ts))" \
  -e "INSERT INTO raw.interop SELECT i, 'n' || i, i * 1.25,
        TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_hours(i * 7) FROM range(1, 101) t(i)" \
  -e "INSERT INTO raw.interop VALUES (1001, NULL, NULL, NULL)" \
  -e "DELETE FROM raw.interop WHERE id % 10 = 0" \
  -e "UPDATE raw.interop SET name = 'updated', amount = -3.50 WHERE id = 7" \
  -e "ALTER TABLE raw.interop ADD COLUMN score DOUBLE" \
  -e "INSERT INTO raw.interop VALUES (2000, 'with score', 1.00, TIMESTAMPTZ '2026-02-01 00:00:00+00', 0.5)" \
  >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; echo "FAIL: table setup" >&2; exit 1; }

s sql --format csv -e "SELECT id, name, CAST(amount AS DOUBLE) AS amount, epoch_ms(ts) AS ts, score
                       FROM raw.interop ORDER BY id" >"$tmp/sluice.csv" || exit 1
(cd "$interop" && node read_table.mjs "$tmp/data/lake/raw/interop" id) >"$tmp/icebird.json" ||
  { echo "FAIL: icebird could not read the table" >&2; exit 1; }

/usr/bin/python3 - "$tmp/sluice.csv" "$tmp/icebird.json" <<'PY'
import csv, datetime, json, sys
want = list(csv.DictReader(open(sys.argv[1])))
got = json.load(open(sys.argv[2]))
fail = []
if got["columns"] != ["id", "name", "amount", "ts", "score"]:
    fail.append(f"columns: {got['columns']}")
if got["count"] != len(want):
    fail.append(f"row count: icebird {got['count']}, sluice {len(want)}")
if got["ids"] != [r["id"] for r in want]:
    fail.append(f"ids differ: icebird {got['ids'][:20]}..., sluice {[r['id'] for r in want][:20]}...")
def num(v):
    return None if v in (None, "") else float(v)
for r in want:
    g = got["rows"].get(r["id"])
    if g is None:
        continue
    ts = None
    if g["ts"] is not None:
        d = datetime.datetime.fromisoformat(g["ts"].replace("Z", "+00:00"))
        ts = round(d.timestamp() * 1000)
    pairs = [("name", g["name"], r["name"] or None), ("amount", num(g["amount"]), num(r["amount"])),
             ("ts", ts, int(r["ts"]) if r["ts"] else None), ("score", num(g["score"]), num(r["score"]))]
    for col, a, b in pairs:
        if a != b:
            fail.append(f"id {r['id']} {col}: icebird {a!r}, sluice {b!r}")
if len(want) != 92:
    fail.append(f"sluice sees {len(want)} rows, want 92 (100 + 1 - 10 deleted + 1)")
if fail:
    print("FAIL: icebird and sluice disagree:\n  " + "\n  ".join(fail[:20]), file=sys.stderr)
    sys.exit(1)
print(f"icebird read {got['count']} rows from {got['metadataFileName']}: the same as sluice sql")
PY

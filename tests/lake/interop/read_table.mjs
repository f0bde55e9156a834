// Reads one Iceberg table with icebird (an independent JavaScript implementation: its own Avro
// decoder for manifest lists and manifests, hyparquet for the data files, its own handling of
// position and equality deletes) and prints a summary the lake test compares with `sluice sql`:
//   node read_table.mjs TABLE_LOCATION ID_COLUMN
// Prints one JSON object: the metadata file read, the columns, the row count, the ids in order
// and every row keyed by id, values in a canonical text form.
import fs from "node:fs";
import path from "node:path";
import { icebergRead } from "icebird";

// icebird fetches by URL; the lake is on a local disk. Serve plain paths and file:// URLs,
// with the Range requests hyparquet makes.
const networkFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  let p = String(url);
  if (p.startsWith("file://")) p = decodeURIComponent(new URL(p).pathname);
  if (!p.startsWith("/")) return networkFetch(url, init);
  if (!fs.existsSync(p)) return new Response("not found", { status: 404, statusText: "Not Found" });
  const buf = fs.readFileSync(p);
  const h = init.headers || {};
  const range = typeof h.get === "function" ? h.get("range") : h.Range || h.range;
  if (init.method === "HEAD") {
    return new Response(null, { status: 200, headers: { "content-length": String(buf.length) } });
  }
  if (range) {
    const m = /bytes=(\d+)-(\d*)/.exec(range);
    const start = Number(m[1]);
    const end = m[2] === "" ? buf.length - 1 : Number(m[2]);
    return new Response(buf.subarray(start, end + 1), { status: 206 });
  }
  return new Response(buf, { status: 200 });
};

const [table, idColumn] = process.argv.slice(2);
// The current metadata file: the highest version (Sluice's catalog points at it).
const files = fs.readdirSync(path.join(table, "metadata")).filter((f) => f.endsWith(".metadata.json"));
files.sort();
const metadataFileName = files[files.length - 1];
const rows = await icebergRead({ tableUrl: table, metadataFileName });
const text = (v) => {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  return String(v);
};
const byId = {};
for (const r of rows) {
  const out = {};
  for (const [k, v] of Object.entries(r)) out[k] = text(v);
  byId[text(r[idColumn])] = out;
}
const ids = Object.keys(byId).sort((a, b) => Number(a) - Number(b));
console.log(JSON.stringify({ metadataFileName, columns: rows.length ? Object.keys(rows[0]) : [], count: rows.length, ids, rows: byId }));

// The table browser: namespaces and tables; a table's schema (types, docs), partition spec,
// snapshots with their summaries, files with sizes, and a data preview (at any snapshot).
import { get, type QueryResult } from "../api";
import { clear, fmtBytes, fmtTime, h, message } from "../dom";
import { resultGrid } from "../grid";

interface TableInfo {
  namespace: string;
  name: string;
  location: string;
  current_snapshot_id: string | null;
  schema: { id: number; name: string; type: string; required: boolean; doc: string }[];
  partition_spec: { name: string; transform: string; source: string }[];
  snapshots: { snapshot_id: string; parent_snapshot_id: string | null; timestamp_ms: number; summary: Record<string, string>; current: boolean }[];
  properties: Record<string, string>;
}

function table(headers: string[], rows: (string | Node)[][], attrs: Record<string, string> = {}): HTMLElement {
  return h(
    "table",
    { class: "plain", ...attrs },
    h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
  );
}

export async function tablesPage(main: HTMLElement, ns?: string, name?: string): Promise<void> {
  const t = await get<{ namespaces: { name: string; tables: { name: string; readable: boolean }[] }[] }>("/api/tables");
  const tree = h("nav", { class: "tree", id: "table-tree" });
  for (const n of t.namespaces) {
    tree.append(h("div", { class: "ns" }, n.name));
    if (!n.tables.length) tree.append(h("div", { class: "muted leaf" }, "(no tables)"));
    for (const tb of n.tables) {
      tree.append(
        h(
          "a",
          { class: `leaf${ns === n.name && name === tb.name ? " active" : ""}${tb.readable ? "" : " locked"}`, href: `#/tables/${n.name}/${tb.name}`, title: tb.readable ? "" : "no read grant" },
          tb.name,
        ),
      );
    }
  }
  const detail = h("div", { class: "detail", id: "table-detail" });
  clear(main, h("div", { class: "split" }, tree, detail));
  if (!ns || !name) {
    detail.append(message("info", "Pick a table."));
    return;
  }
  let info: TableInfo;
  try {
    info = await get<TableInfo>(`/api/tables/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
  } catch (e) {
    clear(detail, h("h2", {}, `${ns}.${name}`), message("error", (e as Error).message));
    return;
  }
  const files = h("div", { id: "files" });
  const preview = h("div", { id: "preview" });
  const selected = h("span", { id: "selected-snapshot" }, info.current_snapshot_id ?? "none");
  const loadSnapshot = async (snap: string | null) => {
    selected.textContent = snap ?? "none";
    clear(files, "Loading files…");
    clear(preview, "Loading preview…");
    const q = snap ? `?snapshot=${snap}` : "";
    try {
      const f = await get<{ files: { path: string; format: string; record_count: number; size_bytes: number }[]; total_bytes: number; record_count: number }>(
        `/api/tables/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/files${q}`,
      );
      clear(
        files,
        h("p", { class: "muted" }, `${f.files.length} files · ${f.record_count} rows · ${fmtBytes(f.total_bytes)}`),
        table(
          ["file", "format", "rows", "size"],
          f.files.map((x) => [x.path.split("/").slice(-2).join("/"), x.format, String(x.record_count), fmtBytes(x.size_bytes)]),
        ),
      );
    } catch (e) {
      clear(files, message("error", (e as Error).message));
    }
    try {
      const p = await get<QueryResult>(`/api/tables/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/preview${q}`);
      clear(preview, h("p", { class: "muted" }, `${p.sql} — first ${p.row_count} rows`), resultGrid(p, 300));
    } catch (e) {
      clear(preview, message("error", (e as Error).message));
    }
  };
  const snapRows = info.snapshots.map((s) => {
    const b = h("button", { class: "link snap", "data-snapshot": s.snapshot_id }, s.snapshot_id);
    b.addEventListener("click", () => void loadSnapshot(s.snapshot_id));
    const summary = Object.entries(s.summary)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    return [b, fmtTime(s.timestamp_ms), s.current ? "current" : "", summary] as (string | Node)[];
  });
  clear(
    detail,
    h("h2", { id: "table-title" }, `${info.namespace}.${info.name}`),
    h("p", { class: "muted" }, info.location),
    h("h3", {}, "Schema"),
    table(
      ["id", "column", "type", "required", "doc"],
      info.schema.map((f) => [String(f.id), f.name, f.type, f.required ? "yes" : "", f.doc]),
      { id: "schema" },
    ),
    h("h3", {}, "Partition spec"),
    info.partition_spec.length ? table(["field", "transform", "source column"], info.partition_spec.map((p) => [p.name, p.transform, p.source])) : h("p", { class: "muted" }, "unpartitioned"),
    h("h3", {}, `Snapshots (${info.snapshots.length})`),
    table(["snapshot", "committed", "", "summary"], snapRows, { id: "snapshots" }),
    h("h3", {}, "Files at snapshot ", selected),
    files,
    h("h3", {}, "Preview"),
    preview,
  );
  await loadSnapshot(info.current_snapshot_id);
}

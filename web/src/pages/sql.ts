// The SQL editor: run (Ctrl+Enter), cancel, result grid, chart the result, save as a query,
// and a time-travel picker that inserts `AT (VERSION => <snapshot>)` for a table.
import { ApiError, get, newId, post, type QueryResult } from "../api";
import { guessSpec, renderChart } from "../chart";
import { clear, fmtTime, h, message } from "../dom";
import { resultGrid } from "../grid";

let lastSql = "SELECT 42 AS answer";

export async function sqlPage(main: HTMLElement): Promise<void> {
  const editor = h("textarea", { id: "sql-editor", spellcheck: "false", rows: 10 }) as HTMLTextAreaElement;
  editor.value = sessionStorage.getItem("sluice.sql") ?? lastSql;
  const runBtn = h("button", { class: "primary", id: "run" }, "Run") as HTMLButtonElement;
  const cancelBtn = h("button", { id: "cancel", disabled: true }, "Cancel") as HTMLButtonElement;
  const limit = h("input", { type: "number", id: "limit", value: 10000, min: 1, max: 100000, style: "width:7em" }) as HTMLInputElement;
  const chartType = h(
    "select",
    { id: "chart-type" },
    ...["table", "bar", "line", "stacked_bar", "pie", "funnel", "number"].map((t) => h("option", { value: t }, t === "table" ? "grid" : t)),
  ) as HTMLSelectElement;
  const saveName = h("input", { id: "save-name", placeholder: "query name", style: "width:12em" }) as HTMLInputElement;
  const saveBtn = h("button", { id: "save" }, "Save as query");
  const status = h("div", { id: "sql-status", class: "muted" });
  const out = h("div", { id: "sql-result" });

  // Time travel: table + snapshot.
  const ttTable = h("select", { id: "tt-table" }, h("option", { value: "" }, "time travel: pick a table…")) as HTMLSelectElement;
  const ttSnap = h("select", { id: "tt-snapshot", disabled: true }, h("option", { value: "" }, "snapshot…")) as HTMLSelectElement;
  try {
    const t = await get<{ namespaces: { name: string; tables: { name: string; readable: boolean }[] }[] }>("/api/tables");
    for (const ns of t.namespaces) for (const tb of ns.tables) if (tb.readable) ttTable.append(h("option", { value: `${ns.name}.${tb.name}` }, `${ns.name}.${tb.name}`));
  } catch {
    /* the picker stays empty */
  }
  ttTable.addEventListener("change", async () => {
    clear(ttSnap, h("option", { value: "" }, "snapshot…"));
    ttSnap.disabled = true;
    if (!ttTable.value) return;
    const [ns, name] = ttTable.value.split(".");
    const info = await get<{ snapshots: { snapshot_id: string; timestamp_ms: number; summary: Record<string, string>; current: boolean }[] }>(
      `/api/tables/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`,
    );
    for (const s of info.snapshots) {
      ttSnap.append(h("option", { value: s.snapshot_id }, `${s.snapshot_id} · ${fmtTime(s.timestamp_ms)} · ${s.summary.operation ?? ""}${s.current ? " (current)" : ""}`));
    }
    ttSnap.disabled = false;
  });
  ttSnap.addEventListener("change", () => {
    if (!ttSnap.value) return;
    editor.value = `SELECT * FROM ${ttTable.value} AT (VERSION => ${ttSnap.value}) LIMIT 100`;
    sessionStorage.setItem("sluice.sql", editor.value);
  });

  let current: QueryResult | null = null;
  let runningId = "";
  const show = () => {
    if (!current) return;
    const body = h("div", { class: "chart", id: "sql-chart" });
    clear(out, body);
    if (chartType.value === "table") {
      clear(out, resultGrid(current, 480));
    } else {
      try {
        renderChart(body, guessSpec(current, chartType.value), current);
      } catch (e) {
        clear(out, message("error", (e as Error).message));
      }
    }
  };
  chartType.addEventListener("change", show);

  const run = async () => {
    if (runningId) return;
    const sql = editor.value;
    sessionStorage.setItem("sluice.sql", sql);
    lastSql = sql;
    runningId = newId();
    runBtn.disabled = true;
    cancelBtn.disabled = false;
    clear(status, "Running…");
    status.dataset.state = "running";
    status.dataset.queryId = runningId;
    const t0 = performance.now();
    try {
      current = await post<QueryResult>("/api/queries", { sql, limit: Number(limit.value) || 10000, id: runningId });
      const rows = current.columns.length ? `${current.row_count} rows${current.truncated ? ` (limit ${limit.value} reached)` : ""}` : current.tag;
      clear(status, `${rows} · ${Math.round(current.elapsed_ms)} ms`);
      status.dataset.state = "done";
      show();
    } catch (e) {
      const err = e as ApiError;
      status.dataset.state = err.status === 409 ? "cancelled" : "error";
      clear(status, `after ${Math.round(performance.now() - t0)} ms`);
      clear(out, message("error", err.status === 409 ? "Query cancelled." : err.message));
    } finally {
      runningId = "";
      runBtn.disabled = false;
      cancelBtn.disabled = true;
    }
  };
  runBtn.addEventListener("click", run);
  editor.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      void run();
    }
  });
  cancelBtn.addEventListener("click", async () => {
    if (!runningId) return;
    try {
      await post(`/api/queries/${runningId}/cancel`);
    } catch (e) {
      status.append(` (cancel: ${(e as Error).message})`);
    }
  });
  saveBtn.addEventListener("click", async () => {
    try {
      const r = await post<{ file: string }>("/api/saved-queries", { name: saveName.value, sql: editor.value });
      clear(status, message("ok", `Saved as ${r.file}`));
    } catch (e) {
      clear(status, message("error", (e as Error).message));
    }
  });

  const saved = h("select", { id: "saved" }, h("option", { value: "" }, "open a saved query…")) as HTMLSelectElement;
  try {
    const s = await get<{ queries: { name: string; sql: string }[] }>("/api/saved-queries");
    for (const q of s.queries) saved.append(h("option", { value: q.sql }, q.name));
  } catch {
    /* none */
  }
  saved.addEventListener("change", () => {
    if (saved.value) editor.value = saved.value;
  });

  clear(
    main,
    h("h2", {}, "SQL"),
    h("div", { class: "toolbar" }, saved, ttTable, ttSnap),
    editor,
    h("div", { class: "toolbar" }, runBtn, cancelBtn, h("label", {}, "Row limit ", limit), h("label", {}, "Show as ", chartType), saveName, saveBtn),
    status,
    out,
  );
  editor.focus();
}

// The SQL editor: run (Ctrl+Enter), cancel, result grid, chart the result, save as a query,
// and a time-travel picker that inserts `AT (VERSION => <snapshot>)` for a table. Results are
// streamed (POST /api/queries/stream): rows show up and the counter moves while they arrive.
import { ApiError, get, newId, post, streamQuery, type QueryResult } from "../api";
import { guessSpec, renderChart } from "../chart";
import { clear, fmtTime, h, message } from "../dom";
import { liveGrid, type LiveGrid } from "../grid";

const fmtCount = (n: number) => n.toLocaleString("en-US");

let lastSql = "SELECT 42 AS answer";

export async function sqlPage(main: HTMLElement): Promise<void> {
  const editor = h("textarea", { id: "sql-editor", spellcheck: "false", rows: 10 }) as HTMLTextAreaElement;
  editor.value = sessionStorage.getItem("sluice.sql") ?? lastSql;
  const runBtn = h("button", { class: "primary", id: "run" }, "Run") as HTMLButtonElement;
  const cancelBtn = h("button", { id: "cancel", disabled: true }, "Cancel") as HTMLButtonElement;
  const limit = h("input", { type: "number", id: "limit", value: 10000, min: 1, max: 10000000, style: "width:7em" }) as HTMLInputElement;
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
  let grid: LiveGrid | null = null;
  let runningId = "";
  const show = () => {
    if (!current) return;
    const body = h("div", { class: "chart", id: "sql-chart" });
    clear(out, body);
    if (chartType.value === "table") {
      grid = liveGrid(current, 480);
      clear(out, grid.el);
    } else {
      grid = null;
      try {
        renderChart(body, guessSpec(current, chartType.value), current);
      } catch (e) {
        clear(out, message("error", (e as Error).message));
      }
    }
  };
  chartType.addEventListener("change", () => {
    if (!runningId) show();
  });

  const run = async () => {
    if (runningId) return;
    const sql = editor.value;
    sessionStorage.setItem("sluice.sql", sql);
    lastSql = sql;
    runningId = newId();
    runBtn.disabled = true;
    cancelBtn.disabled = false;
    clear(status, "Running…");
    clear(out);
    status.dataset.state = "running";
    status.dataset.queryId = runningId;
    status.dataset.rows = "0";
    const t0 = performance.now();
    const res: QueryResult = { columns: [], rows: [], row_count: 0, truncated: false, elapsed_ms: 0, tag: "" };
    current = null;
    grid = null;
    // (Callbacks below set it; a function keeps TypeScript from narrowing it to null.)
    const liveNow = (): LiveGrid | null => grid;
    // Repaint at most once a frame however fast batches arrive.
    let pending = false;
    const paint = () => {
      pending = false;
      if (runningId === "") return;
      grid?.refresh();
      status.dataset.rows = String(res.rows.length);
      clear(status, `${fmtCount(res.rows.length)} rows…`);
    };
    // Leaving the page drops the stream: the server sees the client go and ends the query.
    const abort = new AbortController();
    const leave = () => abort.abort();
    window.addEventListener("hashchange", leave);
    try {
      const done = await streamQuery(
        { sql, limit: Number(limit.value) || 10000, id: runningId },
        (columns) => {
          res.columns = columns;
          current = res;
          // The grid shows rows as they arrive; a chart waits for the whole result.
          if (chartType.value === "table") {
            grid = liveGrid(res, 480);
            clear(out, grid.el);
          }
        },
        (rows) => {
          for (const r of rows) res.rows.push(r);
          if (!pending) {
            pending = true;
            requestAnimationFrame(paint);
          }
        },
        abort.signal,
      );
      res.row_count = done.row_count;
      res.truncated = done.truncated;
      res.elapsed_ms = done.elapsed_ms;
      res.tag = done.tag;
      res.id = done.id;
      current = res;
      const rows = res.columns.length ? `${fmtCount(done.row_count)} rows${done.truncated ? ` (limit ${fmtCount(done.limit)} reached)` : ""}` : done.tag;
      clear(status, `${rows} · ${Math.round(done.elapsed_ms)} ms`);
      status.dataset.rows = String(res.rows.length);
      status.dataset.state = "done";
      const g = liveNow();
      if (g && chartType.value === "table") g.refresh();
      else show();
    } catch (e) {
      const err = e as ApiError;
      const cancelled = err.status === 409;
      status.dataset.state = cancelled ? "cancelled" : "error";
      status.dataset.rows = String(res.rows.length);
      const got = res.rows.length ? ` (${fmtCount(res.rows.length)} rows received)` : "";
      clear(status, `after ${Math.round(performance.now() - t0)} ms${got}`);
      // Rows that arrived before a cancel or an error stay visible below the message.
      const g = liveNow();
      g?.refresh();
      clear(out, message("error", cancelled ? "Query cancelled." : err.message), ...(g ? [g.el] : []));
    } finally {
      window.removeEventListener("hashchange", leave);
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

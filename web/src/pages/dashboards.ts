// Dashboards: the list, and one dashboard with its filters and charts. Charts load in parallel
// (the server caps how many queries run at once and caches results per table snapshot).
import { ApiError, get, type QueryResult } from "../api";
import { renderChart } from "../chart";
import { clear, fmtTime, h, message } from "../dom";

export async function dashboardList(main: HTMLElement): Promise<void> {
  const res = await get<{ dashboards: { id: string; title: string; description: string; charts: number }[]; errors: { file: string; message: string }[]; dir: string }>(
    "/api/dashboards",
  );
  const list = h("div", { class: "cards" });
  for (const d of res.dashboards) {
    list.append(
      h("a", { class: "card dash-link", href: `#/dashboards/${encodeURIComponent(d.id)}`, "data-id": d.id }, h("h3", {}, d.title), h("p", { class: "muted" }, d.description || ""), h("span", { class: "muted" }, `${d.charts} charts`)),
    );
  }
  clear(main, h("h2", {}, "Dashboards"));
  if (!res.dashboards.length) main.append(message("info", `No dashboards in ${res.dir} (add <name>.yaml files).`));
  main.append(list);
  for (const e of res.errors) main.append(message("error", `${e.file}: ${e.message}`));
}

interface ChartDef {
  id: string;
  title: string;
  type: string;
  x: string;
  y: string[];
  series: string;
  note: string;
  width: string;
  sql: string;
}

export async function dashboardPage(main: HTMLElement, id: string): Promise<void> {
  const search = new URLSearchParams(location.hash.split("?")[1] || "");
  const qs = search.toString();
  const d = await get<{
    id: string;
    title: string;
    description: string;
    filters: { name: string; type: string; label: string }[];
    values: Record<string, any>;
    charts: ChartDef[];
  }>(`/api/dashboards/${encodeURIComponent(id)}${qs ? "?" + qs : ""}`);
  const started = performance.now();
  const filterBar = h("form", { class: "filters", id: "filters" });
  const inputs: Record<string, HTMLInputElement> = {};
  for (const f of d.filters) {
    if (f.type === "date_range") {
      const v = d.values[f.name] || {};
      inputs.from = h("input", { type: "date", name: "from", value: v.from || "" }) as HTMLInputElement;
      inputs.to = h("input", { type: "date", name: "to", value: v.to || "" }) as HTMLInputElement;
      filterBar.append(h("label", {}, `${f.label} from`, inputs.from), h("label", {}, "to", inputs.to));
    } else {
      inputs[f.name] = h("input", { name: f.name, value: d.values[f.name] ?? "" }) as HTMLInputElement;
      filterBar.append(h("label", {}, f.label, inputs[f.name]));
    }
  }
  if (d.filters.length) filterBar.append(h("button", { type: "submit", class: "primary" }, "Apply"));
  filterBar.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [k, el] of Object.entries(inputs)) if (el.value) p.set(k, el.value);
    location.hash = `#/dashboards/${encodeURIComponent(d.id)}?${p.toString()}`;
  });
  const status = h("div", { class: "muted", id: "dash-status" }, "Loading…");
  const grid = h("div", { class: "dash-grid" });
  clear(main, h("div", { class: "dash-head" }, h("h2", {}, d.title), status), d.description ? h("p", { class: "muted" }, d.description) : "", filterBar, grid);
  main.dataset.dashboard = d.id;
  const params = new URLSearchParams();
  for (const [k, el] of Object.entries(inputs)) if (el.value) params.set(k, el.value);

  let done = 0;
  let cached = 0;
  const jobs = d.charts.map(async (c) => {
    const body = h("div", { class: "chart", "data-chart-id": c.id, "data-type": c.type, "data-state": "loading" }, h("div", { class: "spinner" }, "Loading…"));
    const foot = h("div", { class: "chart-foot muted" });
    const card = h("section", { class: `card chart-card w-${c.width}`, id: `chart-${c.id}` }, h("h3", {}, c.title), body, foot);
    if (c.note) card.insertBefore(h("p", { class: "muted note" }, c.note), foot);
    grid.append(card);
    try {
      const r = await get<QueryResult>(`/api/dashboards/${encodeURIComponent(d.id)}/charts/${encodeURIComponent(c.id)}?${params}`);
      renderChart(body, c, r);
      body.dataset.state = "ok";
      if (r.cached) cached++;
      foot.replaceChildren(
        h("span", { class: "refreshed", "data-refreshed-at": r.refreshed_at || "" }, `Refreshed ${fmtTime(r.refreshed_at)}`),
        h("span", { class: "cache" }, r.cached ? " · cached" : ` · ran in ${Math.round(r.elapsed_ms)} ms`),
        r.truncated ? h("span", {}, ` · first ${r.row_count} rows`) : "",
      );
    } catch (err) {
      body.dataset.state = "error";
      const msg = err instanceof ApiError ? err.message : String(err);
      clear(body, message("error", msg));
    }
    done++;
  });
  await Promise.all(jobs);
  const ms = Math.round(performance.now() - started);
  status.textContent = `${done} charts in ${ms} ms${cached ? ` (${cached} from cache)` : ""}`;
  main.dataset.renderMs = String(ms);
  main.dataset.loaded = "true";
}

// Renders a query result as a chart (ECharts, tree-shaken) or a number or a table. The element
// gets data-values: the numbers it shows, as JSON, so tests can compare them with SQL.
import * as echarts from "echarts/core";
import { BarChart, FunnelChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import type { QueryResult } from "./api";
import { h, isNumericType } from "./dom";
import { resultGrid } from "./grid";

echarts.use([BarChart, LineChart, PieChart, FunnelChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export interface ChartSpec {
  type: string;
  x?: string;
  y?: string[];
  series?: string;
}

function col(r: QueryResult, name: string | undefined, fallback: number): number {
  if (name) {
    const i = r.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`column '${name}' is not in the result (${r.columns.map((c) => c.name).join(", ")})`);
    return i;
  }
  return fallback;
}

function num(v: string | null): number | null {
  if (v === null) return null;
  const n = Number(v);
  return isNaN(n) ? null : n;
}

// Picks x and y for an ad-hoc chart: the first non-numeric column and the numeric ones.
export function guessSpec(r: QueryResult, type: string): ChartSpec {
  const numeric = r.columns.filter((c) => isNumericType(c.type)).map((c) => c.name);
  const other = r.columns.filter((c) => !isNumericType(c.type)).map((c) => c.name);
  const x = other[0] ?? r.columns[0]?.name;
  const y = numeric.filter((n) => n !== x);
  return { type, x, y: y.length ? y.slice(0, type === "pie" || type === "funnel" ? 1 : 4) : [] };
}

const charts = new WeakMap<HTMLElement, echarts.ECharts>();

export function renderChart(el: HTMLElement, spec: ChartSpec, r: QueryResult): void {
  const old = charts.get(el);
  if (old) {
    old.dispose();
    charts.delete(el);
  }
  el.replaceChildren();
  el.classList.remove("chart-number", "chart-table", "chart-canvas");
  if (spec.type === "table") {
    el.classList.add("chart-table");
    el.append(resultGrid(r, 260));
    el.dataset.values = JSON.stringify(r.rows);
    return;
  }
  if (spec.type === "number") {
    el.classList.add("chart-number");
    const i = col(r, spec.y?.[0], r.columns.length - 1);
    const v = r.rows.length ? r.rows[0][i] : null;
    const n = num(v);
    el.append(h("div", { class: "big-number" }, n === null ? (v ?? "—") : n.toLocaleString("en-US", { maximumFractionDigits: 2 })));
    el.dataset.values = JSON.stringify([n]);
    return;
  }
  el.classList.add("chart-canvas");
  const xi = col(r, spec.x, 0);
  const ys = (spec.y && spec.y.length ? spec.y : [r.columns[r.columns.length - 1].name]).map((y) => col(r, y, 1));
  let option: echarts.EChartsCoreOption;
  let values: unknown;
  if (spec.type === "pie" || spec.type === "funnel") {
    const data = r.rows.map((row) => ({ name: row[xi] ?? "NULL", value: num(row[ys[0]]) }));
    values = data.map((d) => [d.name, d.value]);
    option = {
      tooltip: { trigger: "item" },
      legend: { type: "scroll", bottom: 0 },
      series: [
        spec.type === "pie"
          ? { type: "pie", radius: ["35%", "65%"], data, label: { formatter: "{b}: {d}%" } }
          : { type: "funnel", data, sort: "descending", label: { formatter: "{b}: {c}" }, left: "8%", width: "66%" },
      ],
    };
  } else {
    const kind = spec.type === "line" ? "line" : "bar";
    const stacked = spec.type === "stacked_bar";
    let xs: string[] = [];
    const series: { name: string; data: (number | null)[] }[] = [];
    if (spec.series) {
      const si = col(r, spec.series, 1);
      const seen = new Map<string, number>();
      for (const row of r.rows) {
        const x = row[xi] ?? "NULL";
        if (!seen.has(x)) {
          seen.set(x, xs.length);
          xs.push(x);
        }
      }
      const byName = new Map<string, (number | null)[]>();
      for (const row of r.rows) {
        const s = row[si] ?? "NULL";
        if (!byName.has(s)) byName.set(s, new Array(xs.length).fill(null));
        byName.get(s)![seen.get(row[xi] ?? "NULL")!] = num(row[ys[0]]);
      }
      for (const [name, data] of byName) series.push({ name, data });
    } else {
      xs = r.rows.map((row) => row[xi] ?? "NULL");
      for (const yi of ys) series.push({ name: r.columns[yi].name, data: r.rows.map((row) => num(row[yi])) });
    }
    values = { x: xs, series: series.map((s) => ({ name: s.name, data: s.data })) };
    option = {
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: xs, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value" },
      series: series.map((s) => ({
        name: s.name,
        type: kind,
        data: s.data,
        stack: stacked ? "total" : undefined,
        showSymbol: false,
        emphasis: { focus: "series" },
      })),
    };
  }
  el.dataset.values = JSON.stringify(values);
  const chart = echarts.init(el, undefined, { renderer: "canvas" });
  chart.setOption(option);
  charts.set(el, chart);
  el.dataset.rendered = "true";
}

window.addEventListener("resize", () => {
  document.querySelectorAll<HTMLElement>(".chart-canvas").forEach((el) => charts.get(el)?.resize());
});

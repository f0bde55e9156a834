// A result grid with virtual scrolling: only the rows in view (plus a margin) are in the DOM, so
// 100,000 rows scroll as fast as 10. A live grid grows while a streamed result arrives: call
// refresh() after appending to r.rows.
import type { QueryResult } from "./api";
import { h, isNumericType } from "./dom";

const ROW = 24;

export interface LiveGrid {
  el: HTMLElement;
  // Re-reads r.rows (more rows arrived): the scroll height, the row count and the rows in view.
  refresh(): void;
}

export function liveGrid(r: Pick<QueryResult, "columns" | "rows">, height = 420): LiveGrid {
  const numeric = r.columns.map((c) => isNumericType(c.type));
  let template = "";
  let measured = -1;
  const header = h("div", { class: "grid-row grid-head" }, ...r.columns.map((c) => h("div", { class: "grid-cell", title: c.type }, c.name)));
  // Column widths from the header and the first 200 rows (re-measured until 200 rows are in).
  const measure = () => {
    const upto = Math.min(r.rows.length, 200);
    if (upto === measured) return false;
    measured = upto;
    const widths = r.columns.map((c, i) => {
      let w = c.name.length;
      for (let k = 0; k < upto; k++) w = Math.max(w, (r.rows[k][i] ?? "NULL").length);
      return Math.min(Math.max(w, 4), 40) * 8 + 16;
    });
    template = widths.map((w) => `${w}px`).join(" ");
    header.style.gridTemplateColumns = template;
    return true;
  };
  const body = h("div", { class: "grid-body" });
  const viewport = h("div", { class: "grid-viewport", style: `max-height:${height}px` }, header, body);
  const wrap = h("div", { class: "grid" }, viewport);
  let first = -1;
  let drawnEnd = -1;
  const draw = (force = false) => {
    const top = Math.max(0, viewport.scrollTop - ROW);
    const start = Math.max(0, Math.floor(top / ROW) - 10);
    const end = Math.min(r.rows.length, start + Math.ceil(height / ROW) + 30);
    if (!force && start === first && end === drawnEnd && body.childElementCount) return;
    first = start;
    drawnEnd = end;
    const frag = document.createDocumentFragment();
    for (let i = start; i < end; i++) {
      const row = r.rows[i];
      const el = h("div", { class: "grid-row", style: `top:${i * ROW}px;grid-template-columns:${template}`, "data-row": i });
      row.forEach((v, j) => {
        el.append(h("div", { class: `grid-cell${numeric[j] ? " num" : ""}${v === null ? " null" : ""}` }, v ?? "NULL"));
      });
      frag.append(el);
    }
    body.replaceChildren(frag);
  };
  const refresh = () => {
    const remeasured = measure();
    body.style.height = `${r.rows.length * ROW}px`;
    wrap.dataset.rows = String(r.rows.length);
    draw(remeasured);
  };
  viewport.addEventListener("scroll", () => requestAnimationFrame(() => draw()));
  refresh();
  return { el: wrap, refresh };
}

export function resultGrid(r: QueryResult, height = 420): HTMLElement {
  return liveGrid(r, height).el;
}

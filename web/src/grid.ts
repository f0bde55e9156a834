// A result grid with virtual scrolling: only the rows in view (plus a margin) are in the DOM, so
// 10,000 rows scroll as fast as 10.
import type { QueryResult } from "./api";
import { h, isNumericType } from "./dom";

const ROW = 24;

export function resultGrid(r: QueryResult, height = 420): HTMLElement {
  const numeric = r.columns.map((c) => isNumericType(c.type));
  const widths = r.columns.map((c, i) => {
    let w = c.name.length;
    for (let k = 0; k < Math.min(r.rows.length, 200); k++) w = Math.max(w, (r.rows[k][i] ?? "NULL").length);
    return Math.min(Math.max(w, 4), 40) * 8 + 16;
  });
  const template = widths.map((w) => `${w}px`).join(" ");
  const header = h(
    "div",
    { class: "grid-row grid-head", style: `grid-template-columns:${template}` },
    ...r.columns.map((c) => h("div", { class: "grid-cell", title: c.type }, c.name)),
  );
  const body = h("div", { class: "grid-body", style: `height:${r.rows.length * ROW}px` });
  const viewport = h("div", { class: "grid-viewport", style: `max-height:${height}px` }, header, body);
  const wrap = h("div", { class: "grid", "data-rows": r.rows.length }, viewport);
  let first = -1;
  const draw = () => {
    const top = Math.max(0, viewport.scrollTop - ROW);
    const start = Math.max(0, Math.floor(top / ROW) - 10);
    if (start === first && body.childElementCount) return;
    first = start;
    const end = Math.min(r.rows.length, start + Math.ceil(height / ROW) + 30);
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
  viewport.addEventListener("scroll", () => requestAnimationFrame(draw));
  requestAnimationFrame(draw);
  draw();
  return wrap;
}

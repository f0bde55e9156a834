// The console in a real browser: Debian's chromium, headless, driven by playwright-core.
//   node browser_test.mjs URL ARTIFACT_DIR      (cwd: web/, for node_modules)
// Env: SLUICE (binary), SLUICE_CONFIG (its config) — the numbers every chart shows are compared
// with what the chart's SQL returns through `sluice sql --format csv`.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { chromium } = require("playwright-core");

const [url, artifacts] = process.argv.slice(2);
const sluice = process.env.SLUICE;
const config = process.env.SLUICE_CONFIG;
let passed = 0;
let failed = 0;
const failures = [];

function check(cond, what) {
  if (cond) {
    passed++;
  } else {
    failed++;
    failures.push(what);
    console.error(`FAIL: ${what}`);
  }
}

function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (c === ",") {
      row.push(cell === "" && !wasQuoted ? null : cell);
      cell = "";
      wasQuoted = false;
    } else if (c === "\n") {
      row.push(cell === "" && !wasQuoted ? null : cell);
      rows.push(row);
      row = [];
      cell = "";
      wasQuoted = false;
    } else if (c !== "\r") cell += c;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return { header: rows[0] || [], rows: rows.slice(1) };
}

function sql(text) {
  const out = execFileSync(sluice, ["--config", config, "sql", "--format", "csv", "-e", text], { encoding: "utf8", maxBuffer: 64 << 20 });
  return parseCsv(out);
}

const num = (v) => (v === null || v === undefined ? null : Number(v));
const close = (a, b) => (a === null || b === null ? a === b : Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b)));

// What the chart should show, from the CSV of its SQL, in the shape of data-values (chart.ts).
function expected(chart, csv) {
  const idx = (name, fallback) => (name ? csv.header.indexOf(name) : fallback);
  if (chart.type === "number") {
    const i = idx(chart.y?.[0], csv.header.length - 1);
    return [csv.rows.length ? num(csv.rows[0][i]) : null];
  }
  if (chart.type === "table") return csv.rows;
  const xi = idx(chart.x, 0);
  const yi = idx(chart.y[0], 1);
  if (chart.type === "pie" || chart.type === "funnel") return csv.rows.map((r) => [r[xi] ?? "NULL", num(r[yi])]);
  if (chart.series) {
    const si = idx(chart.series, 1);
    const xs = [];
    for (const r of csv.rows) if (!xs.includes(r[xi] ?? "NULL")) xs.push(r[xi] ?? "NULL");
    const series = new Map();
    for (const r of csv.rows) {
      const s = r[si] ?? "NULL";
      if (!series.has(s)) series.set(s, new Array(xs.length).fill(null));
      series.get(s)[xs.indexOf(r[xi] ?? "NULL")] = num(r[yi]);
    }
    return { x: xs, series: [...series].map(([name, data]) => ({ name, data })) };
  }
  return { x: csv.rows.map((r) => r[xi] ?? "NULL"), series: chart.y.map((y) => ({ name: y, data: csv.rows.map((r) => num(r[idx(y)])) })) };
}

function same(chart, shown, want) {
  if (chart.type === "number") return close(shown[0], want[0]);
  if (chart.type === "table") {
    if (shown.length !== want.length) return false;
    // Numbers compare as numbers; other cells by presence (CSV and JSON render timestamps alike
    // but not always byte for byte).
    return shown.every((row, i) => row.every((v, j) => (v !== null && !isNaN(Number(v)) && want[i][j] !== null ? close(Number(v), Number(want[i][j])) : (v === null) === (want[i][j] === null))));
  }
  if (Array.isArray(want)) return shown.length === want.length && shown.every((p, i) => p[0] === want[i][0] && close(p[1], want[i][1]));
  if (JSON.stringify(shown.x) !== JSON.stringify(want.x)) return false;
  if (shown.series.length !== want.series.length) return false;
  return want.series.every((ws) => {
    const s = shown.series.find((x) => x.name === ws.name);
    return s && s.data.length === ws.data.length && s.data.every((v, i) => close(v, ws.data[i]));
  });
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
const page = await context.newPage();
page.setDefaultTimeout(60000);
const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

try {
  // --- log in: a wrong password first ---
  await page.goto(url);
  await page.fill("#login-user", "admin");
  await page.fill("#login-password", "not-the-password");
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#login-message .msg-error");
  check((await page.textContent("#login-message")).includes("Wrong user name or password"), "wrong password shows a clear message");
  await shot("login-wrong-password");
  await page.fill("#login-password", "admin-pw");
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector(".dash-link");
  await shot("dashboards");
  const ids = await page.$$eval(".dash-link", (els) => els.map((e) => e.dataset.id));
  check(JSON.stringify(ids) === JSON.stringify(["customers", "risk", "sales"]), `dashboards listed: ${ids}`);

  // --- every dashboard, every chart against sluice sql ---
  for (const id of ids) {
    await page.goto(`${url}#/dashboards/${id}`);
    await page.waitForSelector("main[data-loaded=true]");
    await page.waitForTimeout(300); // chart animations
    await shot(`dashboard-${id}`);
    const def = await page.evaluate(async (id) => (await fetch(`/api/dashboards/${id}`)).json(), id);
    const params = new URLSearchParams();
    for (const v of Object.values(def.values)) if (v && typeof v === "object") (params.set("from", v.from), params.set("to", v.to));
    for (const chart of def.charts) {
      const el = await page.$(`.chart[data-chart-id="${chart.id}"]`);
      const state = await el.getAttribute("data-state");
      const data = await page.evaluate(async ([id, c, q]) => {
        const r = await fetch(`/api/dashboards/${id}/charts/${c}?${q}`);
        return { status: r.status, body: await r.json() };
      }, [id, chart.id, params.toString()]);
      if (id === "risk" && chart.id === "fraud_alerts") {
        // streaming.fraud_alerts does not exist until the streaming job lands.
        const text = await el.textContent();
        check(state === "error" && /fraud_alerts/.test(text) && /does not exist|not found/i.test(text), `risk/fraud_alerts shows a clear 'table not found' message: ${text}`);
        continue;
      }
      check(state === "ok", `${id}/${chart.id} rendered (state ${state}: ${state === "ok" ? "" : await el.textContent()})`);
      if (state !== "ok") continue;
      const shown = JSON.parse(await el.getAttribute("data-values"));
      const want = expected(chart, sql(data.body.sql));
      check(same(chart, shown, want), `${id}/${chart.id} shows what sluice sql returns: ${JSON.stringify(shown).slice(0, 300)} vs ${JSON.stringify(want).slice(0, 300)}`);
      if (chart.type !== "table" && chart.type !== "number") check((await el.$("canvas")) !== null, `${id}/${chart.id} drew a canvas`);
      const foot = await page.textContent(`#chart-${chart.id} .chart-foot`);
      check(/Refreshed \d{4}-\d{2}-\d{2}/.test(foot), `${id}/${chart.id} shows when it was refreshed: ${foot}`);
    }
  }
  // Reloading a dashboard is served from the cache.
  await page.goto(`${url}#/dashboards/customers`);
  await page.reload();
  await page.waitForSelector("main[data-loaded=true]");
  const status = await page.textContent("#dash-status");
  check(/from cache/.test(status), `a reload is served from the cache: ${status}`);

  // --- a dashboard's date range: change it, the charts show what sluice sql returns for it ---
  {
    await page.goto(`${url}#/dashboards/sales`);
    await page.waitForSelector("main[data-loaded=true]");
    const from0 = await page.inputValue("#filters input[name=from]");
    const to0 = await page.inputValue("#filters input[name=to]");
    // The last two weeks of the default range.
    const from = new Date(Date.parse(`${to0}T00:00:00Z`) - 13 * 86400000).toISOString().slice(0, 10);
    check(from > from0, `a narrower range: ${from}..${to0} within ${from0}..${to0}`);
    await page.fill("#filters input[name=from]", from);
    await page.click("#filters button[type=submit]");
    await page.waitForFunction((f) => location.hash.includes(`from=${f}`) && document.querySelector("main")?.dataset.loaded === "true", from);
    await page.waitForTimeout(300);
    await shot("dashboard-sales-range");
    const def = await page.evaluate(async (q) => (await fetch(`/api/dashboards/sales?${q}`)).json(), `from=${from}&to=${to0}`);
    check(def.values.date?.from === from || Object.values(def.values).some((v) => v && v.from === from), `the range in effect is the one picked: ${JSON.stringify(def.values)}`);
    let compared = 0;
    for (const chart of def.charts) {
      const el = await page.$(`.chart[data-chart-id="${chart.id}"]`);
      if ((await el.getAttribute("data-state")) !== "ok") {
        check(false, `sales/${chart.id} rendered with the new range: ${await el.textContent()}`);
        continue;
      }
      const data = await page.evaluate(async ([c, q]) => (await fetch(`/api/dashboards/sales/charts/${c}?${q}`)).json(), [chart.id, `from=${from}&to=${to0}`]);
      if (!data.sql.includes(from)) continue; // a chart that ignores the range
      const shown = JSON.parse(await el.getAttribute("data-values"));
      const want = expected(chart, sql(data.sql));
      check(same(chart, shown, want), `sales/${chart.id} over ${from}..${to0} shows what sluice sql returns: ${JSON.stringify(shown).slice(0, 200)} vs ${JSON.stringify(want).slice(0, 200)}`);
      compared++;
    }
    check(compared > 0, `charts compared over the new range: ${compared}`);
  }

  // --- SQL editor: run, chart, save ---
  await page.goto(`${url}#/sql`);
  await page.waitForSelector("#sql-editor");
  const q = "SELECT category, CAST(sum(revenue) AS DECIMAL(14, 2)) AS revenue FROM curated.kpi_daily_revenue_by_category GROUP BY category ORDER BY category";
  await page.fill("#sql-editor", q);
  await page.click("#run");
  await page.waitForSelector("#sql-status[data-state=done]");
  const rows = Number(await page.getAttribute("#sql-result .grid", "data-rows"));
  const want = sql(q);
  check(rows === want.rows.length && rows > 0, `editor shows ${rows} rows, sluice sql ${want.rows.length}`);
  const firstCells = await page.$$eval("#sql-result .grid-body .grid-row[data-row='0'] .grid-cell", (els) => els.map((e) => e.textContent));
  check(firstCells[0] === want.rows[0][0] && close(Number(firstCells[1]), Number(want.rows[0][1])), `first row ${firstCells} vs ${want.rows[0]}`);
  await shot("sql-result");
  await page.selectOption("#chart-type", "bar");
  await page.waitForSelector("#sql-chart canvas");
  await shot("sql-chart");
  await page.fill("#save-name", "revenue_by_category_console");
  await page.click("#save");
  await page.waitForSelector("#sql-status .msg-ok");
  check((await page.textContent("#sql-status")).includes("revenue_by_category_console.sql"), "save as a query");

  // --- cancel a long query ---
  await page.fill("#sql-editor", "SELECT sum(hash(i)) FROM range(1000000000000) t(i)");
  await page.click("#run");
  await page.waitForSelector("#sql-status[data-state=running]");
  await page.waitForTimeout(1000);
  await page.click("#cancel");
  await page.waitForSelector("#sql-status[data-state=cancelled]", { timeout: 30000 });
  check((await page.textContent("#sql-result")).includes("Query cancelled"), "cancel shows 'Query cancelled'");
  await shot("sql-cancelled");

  // --- a streamed 100,000-row result: the counter moves, the grid stays virtual ---
  await page.fill("#limit", "200000");
  await page.selectOption("#chart-type", "table");
  await page.fill("#sql-editor", "SELECT i, i * 2 AS twice FROM range(100000) t(i)");
  await page.evaluate(() => {
    // Every status the page shows while the rows arrive.
    window.__statuses = [];
    const el = document.querySelector("#sql-status");
    new MutationObserver(() => window.__statuses.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.click("#run");
  await page.waitForSelector("#sql-status[data-state=done]", { timeout: 60000 });
  const streamStatus = await page.textContent("#sql-status");
  check(/^100,000 rows · \d+ ms$/.test(streamStatus), `the counter reaches the total: '${streamStatus}'`);
  const statuses = await page.evaluate(() => window.__statuses);
  const partial = statuses.filter((t) => /^[\d,]+ rows…$/.test(t));
  check(partial.length > 0, `rows counted while they arrive: ${JSON.stringify(statuses.slice(0, 8))}`);
  check(Number(await page.getAttribute("#sql-result .grid", "data-rows")) === 100000, "the grid holds 100,000 rows");
  const domRows = await page.$$eval("#sql-result .grid-body .grid-row", (els) => els.length);
  check(domRows > 0 && domRows < 200, `virtual scrolling: ${domRows} row elements in the DOM`);
  await page.$eval("#sql-result .grid-viewport", (el) => {
    el.scrollTop = el.scrollHeight;
  });
  await page.waitForSelector("#sql-result .grid-row[data-row='99999']");
  const lastRow = await page.$$eval("#sql-result .grid-row[data-row='99999'] .grid-cell", (els) => els.map((e) => e.textContent));
  check(JSON.stringify(lastRow) === JSON.stringify(["99999", "199998"]), `scrolled to the bottom, the last row: ${lastRow}`);
  const domRowsAtEnd = await page.$$eval("#sql-result .grid-body .grid-row", (els) => els.length);
  check(domRowsAtEnd < 200, `still virtual at the bottom: ${domRowsAtEnd} row elements`);
  await shot("sql-streamed");

  // --- cancel while rows are arriving ---
  await page.fill("#limit", "5000000");
  await page.fill("#sql-editor", "SELECT i FROM range(100000000000) t(i) WHERE i % 1000 = 0");
  await page.click("#run");
  await page.waitForFunction(() => {
    const s = document.querySelector("#sql-status");
    return s.dataset.state === "running" && Number(s.dataset.rows) >= 1000;
  });
  await page.click("#cancel");
  await page.waitForSelector("#sql-status[data-state=cancelled]", { timeout: 30000 });
  const kept = Number(await page.getAttribute("#sql-status", "data-rows"));
  check((await page.textContent("#sql-result")).includes("Query cancelled"), "cancel mid-stream shows 'Query cancelled'");
  check(kept >= 1000 && kept < 5000000 && Number(await page.getAttribute("#sql-result .grid", "data-rows")) === kept, `the ${kept} rows received before the cancel stay in the grid`);
  await shot("sql-stream-cancelled");
  await page.fill("#limit", "10000");

  // --- time travel in the editor: an older snapshot of a table changed twice ---
  sql("CREATE TABLE curated.tt_check (x INT)");
  sql("INSERT INTO curated.tt_check VALUES (1), (2)");
  sql("INSERT INTO curated.tt_check VALUES (3)");
  await page.reload();
  await page.waitForSelector("#tt-table option[value='curated.tt_check']", { state: "attached" });
  await page.selectOption("#tt-table", "curated.tt_check");
  await page.waitForSelector("#tt-snapshot:not([disabled])");
  const snapOptions = await page.$$eval("#tt-snapshot option", (els) => els.map((e) => ({ value: e.value, text: e.textContent })));
  const older = snapOptions.filter((o) => o.value && !o.text.includes("(current)"));
  check(older.length >= 1 && snapOptions.some((o) => o.text.includes("(current)")), `snapshots offered: ${JSON.stringify(snapOptions)}`);
  if (older.length) {
    // The first append: two rows (the current snapshot has three).
    const oldCounts = older.map((o) => Number(sql(`SELECT count(*) AS n FROM curated.tt_check AT (VERSION => ${o.value})`).rows[0][0]));
    const pick = older[oldCounts.indexOf(2)] ?? older[0];
    await page.selectOption("#tt-snapshot", pick.value);
    check((await page.inputValue("#sql-editor")).includes(`AT (VERSION => ${pick.value})`), "the picker writes the time-travel query");
    await page.click("#run");
    await page.waitForSelector("#sql-status[data-state=done]");
    const ttRows = Number(await page.getAttribute("#sql-result .grid", "data-rows"));
    check(ttRows === 2 && oldCounts.includes(2), `the older snapshot shows ${ttRows} rows (sluice sql: ${oldCounts}), the current one 3`);
    await shot("sql-time-travel");
  }

  // --- time travel in the editor and the table browser ---
  await page.goto(`${url}#/tables/curated/fact_orders`);
  await page.waitForSelector("#snapshots");
  await page.waitForSelector("#files table");
  const snaps = await page.$$eval("#snapshots .snap", (els) => els.map((e) => e.dataset.snapshot));
  check(snaps.length >= 1, `fact_orders has snapshots (${snaps.length})`);
  const schemaCols = await page.$$eval("#schema tbody tr", (els) => els.length);
  const wantCols = sql("SELECT * FROM curated.fact_orders LIMIT 0").header.length;
  check(schemaCols === wantCols, `schema shows ${schemaCols} columns, the table has ${wantCols}`);
  const oldest = snaps[snaps.length - 1];
  await page.click(`#snapshots .snap[data-snapshot="${oldest}"]`);
  await page.waitForFunction((s) => document.querySelector("#selected-snapshot")?.textContent === s, oldest);
  await page.waitForSelector("#preview .grid");
  const fileInfo = await page.textContent("#files p");
  const count = sql(`SELECT count(*) AS n FROM curated.fact_orders AT (VERSION => ${oldest})`).rows[0][0];
  check(fileInfo.includes(`${count} rows`), `files at snapshot ${oldest}: '${fileInfo}' vs ${count} rows`);
  await shot("table-snapshots");

  // --- DAGs page in `sluice console` alone ---
  await page.goto(`${url}#/dags`);
  await page.waitForSelector("main .msg");
  check((await page.textContent("main")).includes("scheduler is not running in this process"), "DAGs page says the scheduler is not running");
  await shot("dags-absent");

  // --- an unauthorized table as a clear message ---
  await page.click("#logout");
  await page.waitForSelector("#login-form");
  await page.fill("#login-user", "analyst");
  await page.fill("#login-password", "analyst-pw");
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("header.top");
  await page.goto(`${url}#/sql`);
  await page.waitForSelector("#sql-editor");
  await page.fill("#sql-editor", "SELECT * FROM raw.shop_users");
  await page.click("#run");
  await page.waitForSelector("#sql-status[data-state=error]");
  const denied = await page.textContent("#sql-result");
  check(denied.includes("permission denied for table raw.shop_users"), `unauthorized table message: ${denied}`);
  await shot("sql-permission-denied");
  await page.goto(`${url}#/tables/raw/shop_users`);
  await page.waitForSelector("#table-detail .msg-error");
  check((await page.textContent("#table-detail")).includes("permission denied for table raw.shop_users"), "table browser: permission denied");
} catch (e) {
  check(false, `browser test aborted: ${e.stack || e}`);
  await shot("failure").catch(() => {});
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

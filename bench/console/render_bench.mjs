// Driven by render_bench.sh: cold and warm full renders of the Sales dashboard; the anchor is
// the same queries through one `sluice sql` process.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { chromium } = require("playwright-core");
const url = process.argv[2];

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
page.setDefaultTimeout(120000);
await page.goto(url);
await page.fill("#login-user", "bench");
await page.fill("#login-password", "bench-pw");
await page.click("#login-form button[type=submit]");
await page.waitForSelector(".dash-link");

async function render() {
  await page.goto(`${url}#/sql`);
  await page.waitForSelector("#sql-editor");
  const t0 = Date.now();
  await page.goto(`${url}#/dashboards/sales`);
  await page.waitForSelector("main[data-loaded=true]");
  const ms = Date.now() - t0;
  const errors = await page.$$eval('.chart[data-state="error"]', (els) => els.length);
  if (errors) throw new Error(`${errors} charts failed`);
  return ms;
}

const cold = await render();
const warm = [];
for (let i = 0; i < 5; i++) warm.push(await render());
warm.sort((a, b) => a - b);
const warmMedian = warm[2];

// Anchor: the chart queries (with the same filter values) in one `sluice sql` process.
const def = await page.evaluate(async () => (await fetch("/api/dashboards/sales")).json());
const queries = [];
for (const c of def.charts) {
  const r = await page.evaluate(async (c) => (await fetch(`/api/dashboards/sales/charts/${c}`)).json(), c.id);
  queries.push(r.sql);
}
const args = ["--config", process.env.SLUICE_CONFIG, "sql", "--format", "csv"];
for (const q of queries) args.push("-e", q);
const a0 = Date.now();
execFileSync(process.env.SLUICE, args, { stdio: "ignore" });
const anchor = Date.now() - a0;
await browser.close();

console.log(`charts: ${queries.length}, max_parallel_queries: ${def.max_parallel_queries}`);
console.log(`case                         ms    anchor_ms  ratio`);
console.log(`cold cache (fresh console)   ${String(cold).padEnd(6)}${String(anchor).padEnd(11)}${(cold / anchor).toFixed(2)}`);
console.log(`warm cache (median of 5)     ${String(warmMedian).padEnd(6)}${String(anchor).padEnd(11)}${(warmMedian / anchor).toFixed(2)}`);

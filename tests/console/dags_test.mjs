// The DAGs page against `sluice up` (console + scheduler): run by dags_browser_test.cc.
//   node dags_test.mjs URL ARTIFACT_DIR      (cwd: web/, for node_modules)
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { chromium } = require("playwright-core");
const [url, artifacts] = process.argv.slice(2);
let passed = 0;
let failed = 0;
const check = (cond, what) => {
  if (cond) passed++;
  else {
    failed++;
    console.error(`FAIL: ${what}`);
  }
};

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
page.setDefaultTimeout(60000);
try {
  await page.goto(url);
  await page.fill("#login-user", "admin");
  await page.fill("#login-password", "admin-pw");
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("header.top");
  await page.goto(`${url}#/dags`);
  await page.waitForSelector("#dags tr[data-dag=hello]");
  await page.screenshot({ path: path.join(artifacts, "dags.png"), fullPage: true });
  await page.click("#dags tr[data-dag=hello] a");
  await page.waitForSelector("#trigger");
  await page.fill("#trigger-ds", "2026-03-01");
  await page.click("#trigger");
  await page.waitForSelector("#dag-status .msg-ok");
  check((await page.textContent("#dag-status")).includes("2026-03-01"), "trigger names the run's ds");
  // The page reloads itself after a trigger; wait for the task to succeed.
  let ok = false;
  for (let i = 0; i < 60 && !ok; i++) {
    await page.goto(`${url}#/dags/hello?r=${i}`);
    await page.waitForSelector("#runs-grid, main .msg");
    ok = (await page.$('#runs-grid td.state-success[data-task=greet][data-ds="2026-03-01"]')) !== null;
    if (!ok) await page.waitForTimeout(1000);
  }
  check(ok, "the triggered run's task succeeded in the runs grid");
  await page.click('#runs-grid td[data-task=greet][data-ds="2026-03-01"]');
  await page.waitForFunction(() => /hello from 2026-03-01/.test(document.querySelector("#task-logs")?.textContent || ""));
  check(true, "task log shows the command's output");
  // Backfill three days from the page: three runs queued, each one's task succeeds in the grid.
  await page.fill("#backfill-from", "2026-02-10");
  await page.fill("#backfill-to", "2026-02-12");
  await page.click("#backfill");
  await page.waitForFunction(() => /Backfill queued 3 runs/.test(document.querySelector("#dag-status")?.textContent || ""));
  check(true, "backfill queued 3 runs");
  let done = 0;
  for (let i = 0; i < 90 && done < 3; i++) {
    await page.goto(`${url}#/dags/hello?b=${i}`);
    await page.waitForSelector("#runs-grid, main .msg");
    done = 0;
    for (const ds of ["2026-02-10", "2026-02-11", "2026-02-12"]) {
      if ((await page.$(`#runs-grid td.state-success[data-task=done][data-ds="${ds}"]`)) !== null) done++;
    }
    if (done < 3) await page.waitForTimeout(1000);
  }
  check(done === 3, `the backfilled runs all succeeded (${done} of 3)`);
  await page.screenshot({ path: path.join(artifacts, "dag-run.png"), fullPage: true });
} catch (e) {
  check(false, `aborted: ${e.stack || e}`);
  await page.screenshot({ path: path.join(artifacts, "dag-failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

// DAGs: the scheduler's JSON API (/api/dags, mounted by `sluice up`). Runs grid (tasks × runs,
// coloured by state), task logs, trigger, backfill and clear.
import { ApiError, get, post } from "../api";
import { clear, fmtTime, h, message } from "../dom";

interface DagSummary {
  dag_id: string;
  file: string;
  schedule: string;
  timezone: string;
  catchup: boolean;
  paused: boolean;
  next_run: string | null;
  last_run: { run_id: string; ds: string; state: string } | null;
  error: string | null;
}
interface TaskRun {
  task_id: string;
  state: string;
  try_number: number;
  start: string | null;
  end: string | null;
}
interface Run {
  run_id: string;
  ds: string;
  state: string;
  run_type: string;
  start: string | null;
  end: string | null;
  tasks: TaskRun[];
}
interface DagDetail {
  dag_id: string;
  file: string;
  schedule: string;
  description: string;
  tasks: { task_id: string; kind: string; upstream: string[]; retries: number; timeout_s: number }[];
  runs: Run[];
}

const NO_SCHEDULER = "The scheduler is not running in this process: start the platform with `sluice up` to see and run DAGs.";

function state(s: string): HTMLElement {
  return h("span", { class: `state state-${s}`, title: s }, s.replace(/_/g, " "));
}

export async function dagsPage(main: HTMLElement): Promise<void> {
  clear(main, h("h2", {}, "DAGs"));
  let res: { dags: DagSummary[]; errors: { file: string; message: string }[] };
  try {
    res = await get("/api/dags");
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      main.append(message("info", NO_SCHEDULER));
      main.dataset.scheduler = "absent";
      return;
    }
    throw e;
  }
  const rows = res.dags.map((d) =>
    h(
      "tr",
      { "data-dag": d.dag_id },
      h("td", {}, h("a", { href: `#/dags/${encodeURIComponent(d.dag_id)}` }, d.dag_id)),
      h("td", {}, d.schedule || ""),
      h("td", {}, d.paused ? "paused" : "active"),
      h("td", {}, d.last_run ? h("span", {}, `${d.last_run.ds} `, state(d.last_run.state)) : "—"),
      h("td", {}, fmtTime(d.next_run)),
      h("td", {}, d.error ? message("error", d.error) : ""),
    ),
  );
  main.append(
    h(
      "table",
      { class: "plain", id: "dags" },
      h("thead", {}, h("tr", {}, ...["DAG", "schedule", "", "last run", "next run", ""].map((x) => h("th", {}, x)))),
      h("tbody", {}, ...rows),
    ),
  );
  for (const e of res.errors) main.append(message("error", `${e.file}: ${e.message}`));
}

export async function dagPage(main: HTMLElement, dagId: string): Promise<void> {
  let d: DagDetail;
  try {
    d = await get<DagDetail>(`/api/dags/${encodeURIComponent(dagId)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && /no API route/.test(e.message)) {
      clear(main, h("h2", {}, dagId), message("info", NO_SCHEDULER));
      return;
    }
    throw e;
  }
  const status = h("div", { id: "dag-status" });
  const today = new Date().toISOString().slice(0, 10);
  const ds = h("input", { type: "date", id: "trigger-ds", value: today }) as HTMLInputElement;
  const trigger = h("button", { class: "primary", id: "trigger" }, "Trigger run");
  const from = h("input", { type: "date", id: "backfill-from" }) as HTMLInputElement;
  const to = h("input", { type: "date", id: "backfill-to", value: today }) as HTMLInputElement;
  const backfill = h("button", { id: "backfill" }, "Backfill");
  trigger.addEventListener("click", async () => {
    try {
      const r = await post<{ run_id: string; ds: string; state: string }>(`/api/dags/${encodeURIComponent(d.dag_id)}/runs`, { ds: ds.value });
      clear(status, message("ok", `Run ${r.run_id} (${r.ds}) is ${r.state}.`));
      setTimeout(() => void dagPage(main, dagId), 1500);
    } catch (e) {
      clear(status, message("error", (e as Error).message));
    }
  });
  backfill.addEventListener("click", async () => {
    try {
      const r = await post<{ run_ids: string[] }>(`/api/dags/${encodeURIComponent(d.dag_id)}/backfill`, { from: from.value, to: to.value });
      clear(status, message("ok", `Backfill queued ${r.run_ids.length} runs.`));
      setTimeout(() => void dagPage(main, dagId), 1500);
    } catch (e) {
      clear(status, message("error", (e as Error).message));
    }
  });

  const logs = h("pre", { class: "logs", id: "task-logs" }, "Click a task cell to see its log.");
  const runs = [...d.runs].slice(0, 30);
  const grid = h("table", { class: "runs-grid", id: "runs-grid" });
  grid.append(h("thead", {}, h("tr", {}, h("th", {}, "task \\ run"), ...runs.map((r) => h("th", { title: `${r.run_id} (${r.run_type})` }, h("div", {}, r.ds), state(r.state))))));
  const body = h("tbody");
  for (const t of d.tasks) {
    const tr = h("tr", {}, h("th", { title: `${t.kind}; upstream: ${t.upstream.join(", ") || "none"}` }, t.task_id));
    for (const r of runs) {
      const ti = r.tasks.find((x) => x.task_id === t.task_id);
      const cell = h("td", { class: `cell state-${ti?.state ?? "none"}`, title: ti ? `${ti.state}, try ${ti.try_number}` : "no instance", "data-task": t.task_id, "data-ds": r.ds });
      if (ti) {
        cell.addEventListener("click", async () => {
          const attempt = Math.max(1, ti.try_number);
          clear(logs, `Loading log of ${t.task_id} ${r.ds} (attempt ${attempt})…`);
          try {
            const text = await get<string>(`/api/dags/${encodeURIComponent(d.dag_id)}/runs/${encodeURIComponent(r.ds)}/tasks/${encodeURIComponent(t.task_id)}/logs?attempt=${attempt}`);
            clear(logs, `# ${t.task_id} ${r.ds} attempt ${attempt}: ${ti.state} (${fmtTime(ti.start)} → ${fmtTime(ti.end)})\n${text}`);
          } catch (e) {
            clear(logs, `error: ${(e as Error).message}`);
          }
          const clearBtn = h("button", { id: "clear-task" }, `Clear ${t.task_id} for ${r.ds}`);
          clearBtn.addEventListener("click", async () => {
            try {
              await post(`/api/dags/${encodeURIComponent(d.dag_id)}/clear`, { task: t.task_id, ds: r.ds });
              clear(status, message("ok", `Cleared ${t.task_id} for ${r.ds}: it will run again.`));
              setTimeout(() => void dagPage(main, dagId), 1500);
            } catch (e) {
              clear(status, message("error", (e as Error).message));
            }
          });
          logs.before(clearBtn);
        });
      }
      tr.append(cell);
    }
    body.append(tr);
  }
  grid.append(body);
  clear(
    main,
    h("h2", {}, d.dag_id),
    h("p", { class: "muted" }, `${d.description || ""} · ${d.schedule} · ${d.file}`),
    h("div", { class: "toolbar" }, h("label", {}, "ds ", ds), trigger, h("label", {}, "backfill from ", from), h("label", {}, "to ", to), backfill, h("a", { href: "#/dags" }, "all DAGs")),
    status,
    runs.length ? grid : message("info", "No runs yet."),
    logs,
  );
}

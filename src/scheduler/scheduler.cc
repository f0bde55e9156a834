#include "scheduler/scheduler.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "scheduler/dag.h"
#include "scheduler/store.h"

extern char** environ;

namespace sluice::scheduler {

using nlohmann::json;

namespace {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Field 22 of /proc/<pid>/stat (clock ticks since boot); 0 when the process is gone or a zombie.
int64_t proc_start_time(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string s;
  if (!std::getline(in, s)) return 0;
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream rest(s.substr(rp + 2));
  std::string state;
  rest >> state;
  if (state == "Z" || state == "X") return 0;
  std::string f;
  for (int i = 4; i <= 21; ++i)
    rest >> f;  // fields 4..21
  int64_t start = 0;
  rest >> start;
  return start;
}

bool terminal(const std::string& s) {
  return s == "success" || s == "failed" || s == "skipped" || s == "upstream_failed";
}

json iso_or_null(int64_t us) {
  return us ? json(iso_utc(us)) : json(nullptr);
}

struct Attempt {
  int n = 0;
  int64_t start = 0, end = 0;
  std::string state;  // running, success, failed, interrupted
  int pid = 0;
  int64_t pid_start = 0;
  int exit_code = -1;
  std::string error;
};

struct TaskInst {
  std::string task_id;
  std::string state = "queued";
  int64_t start = 0, end = 0, next_retry = 0;
  std::vector<Attempt> attempts;
  bool sla_missed = false;
  int failures() const {
    int n = 0;
    for (const auto& a : attempts)
      n += a.state == "failed";
    return n;
  }
};

struct Run {
  std::string dag_id, ds, run_id, run_type, state = "queued";
  int64_t dis = 0, die = 0;  // data interval, UTC seconds
  int64_t created = 0, start = 0, end = 0;
  int parallelism = 1;  // backfill runs: how many of the backfill at once
  std::shared_ptr<const Dag> dag;
  std::vector<TaskInst> tis;
  std::vector<int> waiting;  // upstream tasks not yet successful
  std::set<size_t> ready;    // startable now
  size_t done = 0;           // terminal task instances
  int running = 0;
};

json attempt_json(const Attempt& a) {
  return {{"n", a.n},
          {"start", a.start},
          {"end", a.end},
          {"state", a.state},
          {"pid", a.pid},
          {"pid_start", a.pid_start},
          {"exit_code", a.exit_code},
          {"error", a.error}};
}
Attempt attempt_from(const json& j) {
  Attempt a;
  a.n = j.value("n", 0);
  a.start = j.value("start", int64_t{0});
  a.end = j.value("end", int64_t{0});
  a.state = j.value("state", "");
  a.pid = j.value("pid", 0);
  a.pid_start = j.value("pid_start", int64_t{0});
  a.exit_code = j.value("exit_code", -1);
  a.error = j.value("error", "");
  return a;
}

}  // namespace

struct Scheduler::Impl {
  SchedulerOptions opt;
  std::unique_ptr<OwnerLock> lock;
  std::unique_ptr<Store> store;
  ExecEnv exec;

  std::mutex mu;
  std::condition_variable cv;       // wakes the loop
  std::condition_variable done_cv;  // run finished, worker exited
  DagSet dags;
  std::map<std::string, std::filesystem::file_time_type> dag_mtimes;
  int64_t last_dag_scan = 0;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Run>> runs;
  std::map<std::string, int64_t> last_scheduled;  // dag → latest scheduled interval start
  std::multimap<int64_t, std::pair<Run*, size_t>> retries;
  std::set<std::string> adopted;  // foreground: "dag/ds" keys this instance runs
  std::map<std::string, int> pool_used;
  std::map<std::string, int> dag_running;
  std::map<int, Run*> live_pids;  // children running now
  int running_total = 0;
  int workers = 0;
  bool stopping = false;
  bool started = false;
  std::thread loop_thread;
  std::vector<json> alerts;

  // ---- persistence ----
  static std::string run_key(const std::string& dag, const std::string& ds) {
    return "run/" + dag + "/" + ds;
  }
  static std::string ti_key(const std::string& dag, const std::string& ds, const std::string& t) {
    return "ti/" + dag + "/" + ds + "/" + t;
  }
  json run_doc(const Run& r) const {
    return {{"dag_id", r.dag_id},
            {"ds", r.ds},
            {"run_id", r.run_id},
            {"run_type", r.run_type},
            {"state", r.state},
            {"dis", r.dis},
            {"die", r.die},
            {"created", r.created},
            {"start", r.start},
            {"end", r.end},
            {"parallelism", r.parallelism}};
  }
  json ti_doc(const TaskInst& t) const {
    json a = json::array();
    for (const auto& x : t.attempts)
      a.push_back(attempt_json(x));
    return {{"task_id", t.task_id}, {"state", t.state},           {"start", t.start},
            {"end", t.end},         {"next_retry", t.next_retry}, {"sla_missed", t.sla_missed},
            {"attempts", a}};
  }
  void persist_run(const Run& r) {
    if (opt.read_only) return;
    Status st = store->put(run_key(r.dag_id, r.ds), run_doc(r));
    if (!st.is_ok()) log::error("scheduler state write failed", {log::kv("error", st.message())});
  }
  void persist_ti(const Run& r, const TaskInst& t, bool sync = false) {
    if (opt.read_only) return;
    Status st = store->put(ti_key(r.dag_id, r.ds, t.task_id), ti_doc(t), sync);
    if (!st.is_ok()) log::error("scheduler state write failed", {log::kv("error", st.message())});
  }

  std::filesystem::path log_path(const Run& r, const std::string& task, int attempt) const {
    return opt.state_dir / "logs" / r.dag_id / r.ds / task / fmt::format("{}.log", attempt);
  }

  void event(const Run& r, const TaskInst& t, const std::string& detail = "") {
    if (opt.on_event) {
      opt.on_event(TaskEvent{r.dag_id, r.ds, t.task_id, t.state,
                             static_cast<int>(t.attempts.size()), detail});
    }
  }

  // ---- loading ----
  void reload_dags(bool force) {
    int64_t now = now_us();
    if (!force && now - last_dag_scan < 2000000) return;
    last_dag_scan = now;
    std::map<std::string, std::filesystem::file_time_type> mt;
    std::error_code ec;
    if (std::filesystem::is_directory(opt.dags_dir, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(opt.dags_dir, ec))
        mt[e.path().string()] = e.last_write_time(ec);
    }
    if (!force && mt == dag_mtimes) return;
    dag_mtimes = mt;
    dags = load_dags(opt.dags_dir);
    for (const auto& [file, msg] : dags.errors)
      log::warn("DAG file skipped", {log::kv("file", file), log::kv("error", msg)});
    for (auto& [k, r] : runs) {
      // Unstarted runs pick up the new definition; runs under way keep theirs.
      auto it = dags.dags.find(r->dag_id);
      if (it != dags.dags.end() && r->state == "queued" && r->start == 0) bind(*r, it->second);
    }
  }

  // API calls see the folder as it is now, so a DAG file written a moment ago can be run at
  // once (the loop rescans every 2 s): listing the folder is cheap, and files are parsed again
  // only when their mtimes changed.
  void reload_dags_now() {
    last_dag_scan = 0;
    reload_dags(false);
  }

  // Attaches a run to a DAG definition, keeping task instances by id.
  void bind(Run& r, std::shared_ptr<const Dag> dag) {
    std::map<std::string, TaskInst> old;
    for (auto& t : r.tis)
      old[t.task_id] = std::move(t);
    r.dag = std::move(dag);
    r.tis.clear();
    for (const auto& spec : r.dag->tasks) {
      auto it = old.find(spec.id);
      if (it != old.end()) {
        r.tis.push_back(std::move(it->second));
      } else {
        TaskInst t;
        t.task_id = spec.id;
        r.tis.push_back(std::move(t));
      }
    }
  }

  Status load_state() {
    SLUICE_ASSIGN_OR_RETURN(auto run_rows, store->scan("run/"));
    for (auto& [k, j] : run_rows) {
      auto r = std::make_unique<Run>();
      r->dag_id = j.value("dag_id", "");
      r->ds = j.value("ds", "");
      r->run_id = j.value("run_id", "");
      r->run_type = j.value("run_type", "manual");
      r->state = j.value("state", "queued");
      r->dis = j.value("dis", int64_t{0});
      r->die = j.value("die", int64_t{0});
      r->created = j.value("created", int64_t{0});
      r->start = j.value("start", int64_t{0});
      r->end = j.value("end", int64_t{0});
      r->parallelism = j.value("parallelism", 1);
      if (r->run_type == "scheduled") {
        auto& ls = last_scheduled[r->dag_id];
        ls = std::max(ls, r->dis);
      }
      runs[{r->dag_id, r->ds}] = std::move(r);
    }
    SLUICE_ASSIGN_OR_RETURN(auto ti_rows, store->scan("ti/"));
    std::map<std::pair<std::string, std::string>, std::vector<TaskInst>> tis;
    for (auto& [k, j] : ti_rows) {
      // ti/<dag>/<ds>/<task>
      auto a = k.find('/', 3);
      auto b = k.rfind('/');
      if (a == std::string::npos || b <= a) continue;
      TaskInst t;
      t.task_id = j.value("task_id", "");
      t.state = j.value("state", "queued");
      t.start = j.value("start", int64_t{0});
      t.end = j.value("end", int64_t{0});
      t.next_retry = j.value("next_retry", int64_t{0});
      t.sla_missed = j.value("sla_missed", false);
      for (const auto& x : j.value("attempts", json::array()))
        t.attempts.push_back(attempt_from(x));
      tis[{k.substr(3, a - 3), k.substr(a + 1, b - a - 1)}].push_back(std::move(t));
    }
    for (auto& [key, r] : runs) {
      auto it = tis.find(key);
      if (it != tis.end()) r->tis = std::move(it->second);
      auto d = dags.dags.find(r->dag_id);
      if (d != dags.dags.end()) bind(*r, d->second);
    }
    SLUICE_ASSIGN_OR_RETURN(auto alert_rows, store->scan("alert/"));
    for (auto& [k, j] : alert_rows)
      alerts.push_back(j);
    return Status::ok();
  }

  // Attempts a dead owner left running: kill what is still alive, then fail or retry them.
  void recover() {
    int64_t now = now_us();
    for (auto& [key, r] : runs) {
      if (!r->dag) continue;
      bool changed = false;
      for (size_t i = 0; i < r->tis.size(); ++i) {
        auto& t = r->tis[i];
        if (t.state != "running") continue;
        std::string detail = "orphaned: the scheduler running it stopped";
        if (!t.attempts.empty()) {
          auto& a = t.attempts.back();
          if (a.pid > 0 && a.pid_start != 0 && proc_start_time(a.pid) == a.pid_start) {
            ::kill(-a.pid, SIGKILL);
            ::kill(a.pid, SIGKILL);
            for (int k = 0; k < 500 && proc_start_time(a.pid) == a.pid_start; ++k)
              std::this_thread::sleep_for(std::chrono::milliseconds(10));
            detail +=
                fmt::format(" (its process group {} was still running and was killed)", a.pid);
          }
          if (a.state == "running") {
            a.state = "failed";
            a.end = now;
            a.error = detail;
            std::ofstream(log_path(*r, t.task_id, a.n), std::ios::app)
                << "[sluice] " << iso_utc(now) << " " << detail << "\n";
          }
        }
        log::warn("task attempt orphaned",
                  {log::kv("dag", r->dag_id), log::kv("ds", r->ds), log::kv("task", t.task_id)});
        settle_failure(*r, i, now, detail);
        changed = true;
      }
      // Runs under way are re-activated (and their ready tasks recomputed) by the loop.
      if (changed || r->state == "running") {
        if (r->state == "running") r->state = "queued";
        persist_run(*r);
      }
    }
  }

  // ---- state transitions (mu held) ----

  // Rebuilds waiting/ready/done from task states (activation, recovery, clear).
  void rebuild(Run& r) {
    const Dag& d = *r.dag;
    r.waiting.assign(r.tis.size(), 0);
    r.ready.clear();
    r.done = 0;
    for (size_t i = 0; i < r.tis.size(); ++i) {
      auto& t = r.tis[i];
      bool up_bad = false;
      int waiting = 0;
      for (size_t u : d.upstream[i]) {
        const auto& us = r.tis[u].state;
        if (us == "failed" || us == "upstream_failed") up_bad = true;
        if (us != "success" && us != "skipped") ++waiting;
      }
      r.waiting[i] = waiting;
      if (t.state == "queued" && up_bad) {
        t.state = "upstream_failed";
        persist_ti(r, t);
        event(r, t);
      }
      if (t.state == "queued" && waiting == 0) r.ready.insert(i);
      if (t.state == "up_for_retry") retries.emplace(t.next_retry, std::make_pair(&r, i));
      if (terminal(t.state)) ++r.done;
    }
  }

  void settle_failure(Run& r, size_t i, int64_t now, const std::string& detail) {
    auto& t = r.tis[i];
    const auto& spec = r.dag->tasks[i];
    int failures = t.failures();
    if (failures <= spec.retries) {
      double delay = retry_delay_seconds(spec.retry_delay_s, spec.exponential_backoff,
                                         spec.max_retry_delay_s, failures + 1);
      t.state = "up_for_retry";
      t.next_retry = now + static_cast<int64_t>(delay * 1e6);
      retries.emplace(t.next_retry, std::make_pair(&r, i));
      persist_ti(r, t);
      event(r, t,
            fmt::format("{}; retry {} of {} in {:.3g}s", detail, failures, spec.retries, delay));
    } else {
      t.state = "failed";
      t.end = now;
      persist_ti(r, t);
      event(r, t, detail);
      ++r.done;
      mark_upstream_failed(r, i);
    }
  }

  void mark_upstream_failed(Run& r, size_t i) {
    for (size_t d : r.dag->downstream[i]) {
      auto& t = r.tis[d];
      if (t.state != "queued") continue;
      t.state = "upstream_failed";
      r.ready.erase(d);
      ++r.done;
      persist_ti(r, t);
      event(r, t);
      mark_upstream_failed(r, d);
    }
  }

  void finish_run_if_done(Run& r) {
    if (r.state != "running" || r.done < r.tis.size() || r.running > 0) return;
    bool ok = std::all_of(r.tis.begin(), r.tis.end(), [](const TaskInst& t) {
      return t.state == "success" || t.state == "skipped";
    });
    r.state = ok ? "success" : "failed";
    r.end = now_us();
    persist_run(r);
    log::info("dag run finished",
              {log::kv("dag", r.dag_id), log::kv("ds", r.ds), log::kv("state", r.state)});
    done_cv.notify_all();
  }

  // Success or failure of the attempt a worker ran.
  void finish_attempt(Run& r, size_t i, bool ok, int exit_code, const std::string& error) {
    int64_t now = now_us();
    auto& t = r.tis[i];
    auto& a = t.attempts.back();
    a.end = now;
    a.exit_code = exit_code;
    a.error = error;
    a.state = ok ? "success" : "failed";
    --r.running;
    --running_total;
    --dag_running[r.dag_id];
    const auto& pool = r.dag->tasks[i].pool;
    if (!pool.empty()) --pool_used[pool];
    if (stopping && !ok) {
      a.state = "interrupted";
      t.state = "queued";
      persist_ti(r, t);
      return;
    }
    if (ok) {
      t.state = "success";
      t.end = now;
      ++r.done;
      persist_ti(r, t);
      event(r, t);
      for (size_t d : r.dag->downstream[i])
        if (--r.waiting[d] == 0 && r.tis[d].state == "queued") r.ready.insert(d);
    } else {
      settle_failure(r, i, now, error);
    }
    finish_run_if_done(r);
  }

  Vars vars_for(const Run& r, const TaskInst& t, int attempt) const {
    Vars v;
    const Dag& d = *r.dag;
    std::string ds = r.ds.substr(0, 10);
    v["ds"] = ds;
    std::string nodash = ds;
    nodash.erase(std::remove(nodash.begin(), nodash.end(), '-'), nodash.end());
    v["ds_nodash"] = nodash;
    v["ts"] = v["logical_date"] = iso_offset(r.dis, d.tz);
    v["data_interval_start"] = iso_offset(r.dis, d.tz);
    v["data_interval_end"] = iso_offset(r.die, d.tz);
    v["prev_ds"] = format_date(d.tz.to_local(r.dis) - 86400);
    v["next_ds"] = format_date(d.tz.to_local(r.die));
    v["dag_id"] = r.dag_id;
    v["task_id"] = t.task_id;
    v["run_id"] = r.run_id;
    v["try_number"] = std::to_string(attempt);
    for (const auto& [k, val] : d.params)
      v["params." + k] = val;
    return v;
  }

  // Starts task i of run r (mu held). In-process kinds complete before it returns.
  void start_task(Run& r, size_t i) {
    auto& t = r.tis[i];
    const auto& spec = r.dag->tasks[i];
    const TaskKind* kind = find_task_kind(spec.kind);
    int n = static_cast<int>(t.attempts.size()) + 1;
    int64_t now = now_us();
    Attempt a;
    a.n = n;
    a.start = now;
    a.state = "running";
    t.attempts.push_back(a);
    t.state = "running";
    if (t.start == 0) t.start = now;
    t.end = 0;
    ++r.running;
    ++running_total;
    ++dag_running[r.dag_id];
    if (!spec.pool.empty()) ++pool_used[spec.pool];
    Vars vars = vars_for(r, t, n);
    auto argv =
        kind ? kind->command(spec, vars, exec)
             : Result<std::vector<std::string>>(invalid_argument("unknown task kind " + spec.kind));
    if (argv.is_ok() && argv->empty()) {  // in-process (noop)
      persist_ti(r, t);
      event(r, t);
      finish_attempt(r, i, true, 0, "");
      return;
    }
    auto path = log_path(r, t.task_id, n);
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (!argv.is_ok()) {
      std::ofstream(path) << "[sluice] cannot build the command: " << argv.status().message()
                          << "\n";
      persist_ti(r, t);
      event(r, t);
      finish_attempt(r, i, false, -1, argv.status().message());
      return;
    }
    persist_ti(r, t);
    event(r, t);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      env.emplace_back(*e);
    env.push_back("SLUICE_DS=" + vars["ds"]);
    env.push_back("SLUICE_DAG_ID=" + r.dag_id);
    env.push_back("SLUICE_TASK_ID=" + t.task_id);
    env.push_back("SLUICE_TRY_NUMBER=" + std::to_string(n));
    env.push_back("SLUICE_DATA_INTERVAL_START=" + vars["data_interval_start"]);
    env.push_back("SLUICE_DATA_INTERVAL_END=" + vars["data_interval_end"]);
    env.push_back("SLUICE=" + exec.sluice_binary);
    for (const auto& [k, v] : spec.env) {
      auto rendered = render(v, vars);
      env.push_back(k + "=" + (rendered.is_ok() ? *rendered : v));
    }
    ++workers;
    std::thread(&Impl::run_child, this, &r, i, n, std::move(*argv), std::move(env), path,
                spec.timeout_s)
        .detach();
  }

  // Worker thread: fork/exec the attempt's child in its own process group, record its pid
  // before letting it exec, wait for it (killing the group on timeout), then settle.
  void run_child(Run* r, size_t i, int n, std::vector<std::string> argv,
                 std::vector<std::string> env, std::filesystem::path path, double timeout_s) {
    std::string cmdline;
    for (const auto& x : argv)
      cmdline += (cmdline.empty() ? "" : " ") + x;
    {
      std::ofstream head(path);
      head << "[sluice] " << iso_utc(now_us()) << " attempt " << n << ": " << cmdline << "\n";
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    int gate[2] = {-1, -1};
    bool ok_setup = fd >= 0 && ::pipe2(gate, O_CLOEXEC) == 0;
    std::vector<char*> av, ev;
    for (auto& x : argv)
      av.push_back(x.data());
    av.push_back(nullptr);
    for (auto& x : env)
      ev.push_back(x.data());
    ev.push_back(nullptr);
    std::string cwd = exec.cwd.string();
    pid_t pid = ok_setup ? ::fork() : -1;
    if (pid == 0) {
      ::setpgid(0, 0);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(gate[1]);
      char go = 0;
      if (::read(gate[0], &go, 1) != 1) ::_exit(126);  // the scheduler died before recording us
      // Nothing of the scheduler's (listening socket, store files) outlives it in a task.
      ::syscall(SYS_close_range, 3U, ~0U, 0U);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execve(av[0], av.data(), ev.data());
      const char msg[] = "[sluice] exec failed\n";
      (void)!::write(2, msg, sizeof msg - 1);
      ::_exit(127);
    }
    if (pid < 0) {
      if (fd >= 0) ::close(fd);
      std::unique_lock lock(mu);
      finish_attempt(*r, i, false, -1,
                     fmt::format("cannot start the task: {}", std::strerror(errno)));
      worker_exit();
      return;
    }
    ::setpgid(pid, pid);
    ::close(gate[0]);
    ::close(fd);
    {
      std::unique_lock lock(mu);
      auto& a = r->tis[i].attempts.back();
      a.pid = pid;
      a.pid_start = proc_start_time(pid);
      live_pids[pid] = r;
      persist_ti(*r, r->tis[i], /*sync=*/true);  // on disk before the child runs
    }
    char go = 1;
    (void)!::write(gate[1], &go, 1);
    ::close(gate[1]);

    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    int64_t deadline = timeout_s > 0 ? now_us() + static_cast<int64_t>(timeout_s * 1e6) : 0;
    bool timed_out = false;
    int status = 0;
    while (true) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) break;
      int wait_ms = 1000;
      if (deadline) {
        int64_t left = deadline - now_us();
        if (left <= 0) {
          timed_out = true;
          ::kill(-pid, SIGKILL);
          ::waitpid(pid, &status, 0);
          break;
        }
        wait_ms = static_cast<int>(std::min<int64_t>(left / 1000 + 1, 1000));
      }
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        ::poll(&p, 1, wait_ms);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 2)));
      }
    }
    if (pidfd >= 0) ::close(pidfd);
    // Whatever the task left in its group (background children) goes with it.
    ::kill(-pid, SIGKILL);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::string error;
    if (timed_out) {
      error = fmt::format("timed out after {:.3g}s (process group {} killed)", timeout_s, pid);
    } else if (WIFSIGNALED(status)) {
      error = fmt::format("killed by signal {}", WTERMSIG(status));
    } else if (code != 0) {
      error = fmt::format("exit code {}", code);
    }
    bool ok = !timed_out && WIFEXITED(status) && code == 0;
    {
      std::ofstream tail(path, std::ios::app);
      tail << "[sluice] " << iso_utc(now_us()) << " attempt " << n << " "
           << (ok ? std::string("succeeded") : "failed: " + error) << "\n";
    }
    std::unique_lock lock(mu);
    live_pids.erase(pid);
    finish_attempt(*r, i, ok, code, error);
    dispatch();
    worker_exit();
  }

  void worker_exit() {
    --workers;
    cv.notify_all();
    done_cv.notify_all();
  }

  // ---- the loop (mu held) ----

  bool executes(const Run& r) const {
    return !opt.foreground || adopted.count(r.dag_id + "/" + r.ds);
  }

  void activate_runs() {
    // Per DAG: scheduled/manual runs up to max_active_runs, backfill runs up to their
    // parallelism, oldest ds first.
    std::map<std::string, int> active, active_bf;
    for (auto& [k, r] : runs) {
      if (r->state != "running") continue;
      (r->run_type == "backfill" ? active_bf : active)[r->dag_id]++;
    }
    for (auto& [k, r] : runs) {
      if (r->state != "queued" || !r->dag || !executes(*r)) continue;
      bool bf = r->run_type == "backfill";
      int& n = (bf ? active_bf : active)[r->dag_id];
      int limit = bf ? std::max(1, r->parallelism) : r->dag->max_active_runs;
      if (n >= limit) continue;
      ++n;
      r->state = "running";
      if (r->start == 0) r->start = now_us();
      r->end = 0;
      persist_run(*r);
      rebuild(*r);
      log::info("dag run started", {log::kv("dag", r->dag_id), log::kv("ds", r->ds),
                                    log::kv("run_type", r->run_type)});
      finish_run_if_done(*r);
    }
  }

  void dispatch() {
    if (stopping) return;
    activate_runs();
    std::vector<Run*> order;
    for (auto& [k, r] : runs)
      if (r->state == "running" && !r->ready.empty() && executes(*r)) order.push_back(r.get());
    // Fresh runs before backfills; older first.
    std::stable_sort(order.begin(), order.end(), [](const Run* a, const Run* b) {
      return (a->run_type == "backfill") < (b->run_type == "backfill");
    });
    bool progress = true;
    while (progress && running_total < opt.max_active_tasks + 1000000) {
      progress = false;
      for (Run* r : order) {
        while (!r->ready.empty()) {
          size_t i = 0;
          bool found = false;
          for (size_t cand : r->ready) {
            const auto& spec = r->dag->tasks[cand];
            bool in_process = spec.kind == "noop";
            if (!in_process && running_total >= opt.max_active_tasks) continue;
            if (r->dag->max_active_tasks > 0 && dag_running[r->dag_id] >= r->dag->max_active_tasks)
              continue;
            if (!spec.pool.empty()) {
              auto p = opt.pools.find(spec.pool);
              int slots = p == opt.pools.end() ? 1 : p->second;
              if (pool_used[spec.pool] >= slots) continue;
            }
            i = cand;
            found = true;
            break;
          }
          if (!found) break;
          r->ready.erase(i);
          start_task(*r, i);
          progress = true;
        }
      }
      // Runs that got ready tasks from in-process completions.
      if (progress) {
        activate_runs();
        order.clear();
        for (auto& [k, r] : runs)
          if (r->state == "running" && !r->ready.empty() && executes(*r)) order.push_back(r.get());
        std::stable_sort(order.begin(), order.end(), [](const Run* a, const Run* b) {
          return (a->run_type == "backfill") < (b->run_type == "backfill");
        });
      }
    }
  }

  void due_retries(int64_t now) {
    while (!retries.empty() && retries.begin()->first <= now) {
      auto [run, i] = retries.begin()->second;
      retries.erase(retries.begin());
      auto& t = run->tis[i];
      if (t.state != "up_for_retry" || run->state != "running") continue;
      t.state = "queued";
      t.next_retry = 0;
      persist_ti(*run, t);
      if (run->waiting[i] == 0) run->ready.insert(i);
    }
  }

  Run& create_run(const std::shared_ptr<const Dag>& dag, const std::string& ds,
                  const std::string& type, int64_t dis, int64_t die, int parallelism) {
    auto r = std::make_unique<Run>();
    r->dag_id = dag->dag_id;
    r->ds = ds;
    r->run_type = type;
    r->run_id = type + "__" + ds;
    r->dis = dis;
    r->die = die;
    r->created = now_us();
    r->parallelism = parallelism;
    bind(*r, dag);
    std::vector<std::pair<std::string, json>> kvs{{run_key(r->dag_id, ds), run_doc(*r)}};
    for (const auto& t : r->tis)
      kvs.emplace_back(ti_key(r->dag_id, ds, t.task_id), ti_doc(t));
    Status st = store->put_many(kvs, true);
    if (!st.is_ok()) log::error("scheduler state write failed", {log::kv("error", st.message())});
    auto& ref = *r;
    runs[{r->dag_id, ds}] = std::move(r);
    log::info("dag run created",
              {log::kv("dag", dag->dag_id), log::kv("ds", ds), log::kv("run_type", type)});
    return ref;
  }

  void schedule_runs() {
    if (!opt.schedule) return;
    int64_t now = now_us() / 1000000;
    for (const auto& [id, dag] : dags.dags) {
      if (dag->schedule.is_none()) continue;
      std::optional<int64_t> last;
      if (auto it = last_scheduled.find(id); it != last_scheduled.end()) last = it->second;
      for (auto [s, e] : due_intervals(*dag, last, now)) {
        std::string ds = dag->run_key(s);
        if (!runs.count({id, ds})) create_run(dag, ds, "scheduled", s, e, 1);
        last_scheduled[id] = s;
      }
    }
  }

  void check_slas() {
    int64_t now = now_us();
    for (auto& [k, r] : runs) {
      if (r->state != "running" || !r->dag) continue;
      for (size_t i = 0; i < r->tis.size(); ++i) {
        const auto& spec = r->dag->tasks[i];
        auto& t = r->tis[i];
        if (spec.sla_s <= 0 || t.sla_missed || t.state == "success" || t.state == "skipped")
          continue;
        if (now < r->start + static_cast<int64_t>(spec.sla_s * 1e6)) continue;
        t.sla_missed = true;
        persist_ti(*r, t);
        json alert = {{"time", iso_utc(now)},
                      {"dag_id", r->dag_id},
                      {"ds", r->ds},
                      {"task_id", t.task_id},
                      {"kind", "sla_miss"},
                      {"message", fmt::format("task {} of {} {} not done {:.3g}s after the run "
                                              "started (SLA)",
                                              t.task_id, r->dag_id, r->ds, spec.sla_s)}};
        log::warn("SLA missed", {log::kv("dag", r->dag_id), log::kv("ds", r->ds),
                                 log::kv("task", t.task_id), log::kv("sla_s", spec.sla_s)});
        alerts.push_back(alert);
        if (!opt.read_only) {
          Status st = store->put(fmt::format("alert/{:020}", now), alert, false);
          (void)st;
        }
      }
    }
  }

  void loop() {
    std::unique_lock lock(mu);
    while (!stopping) {
      reload_dags(false);
      schedule_runs();
      int64_t now = now_us();
      due_retries(now);
      check_slas();
      dispatch();
      int64_t wake = now + 500000;
      if (!retries.empty()) wake = std::min(wake, retries.begin()->first);
      cv.wait_for(lock, std::chrono::microseconds(std::max<int64_t>(wake - now_us(), 1000)));
    }
  }

  // ---- JSON views (mu held) ----
  json run_json(const Run& r, bool with_tasks) const {
    json j = {{"run_id", r.run_id},
              {"ds", r.ds},
              {"state", r.state},
              {"run_type", r.run_type},
              {"start", iso_or_null(r.start)},
              {"end", iso_or_null(r.end)},
              {"data_interval_start", iso_utc(r.dis * 1000000)},
              {"data_interval_end", iso_utc(r.die * 1000000)}};
    if (with_tasks) {
      json tasks = json::array();
      for (const auto& t : r.tis) {
        tasks.push_back({{"task_id", t.task_id},
                         {"state", t.state},
                         {"try_number", t.attempts.size()},
                         {"start", iso_or_null(t.start)},
                         {"end", iso_or_null(t.end)},
                         {"sla_missed", t.sla_missed},
                         {"error", t.attempts.empty() || t.attempts.back().error.empty()
                                       ? json(nullptr)
                                       : json(t.attempts.back().error)}});
      }
      j["tasks"] = tasks;
    }
    return j;
  }
};

Result<SchedulerOptions> options_from_config(const common::Config& config,
                                             const std::filesystem::path& data_dir_in) {
  namespace fs = std::filesystem;
  SchedulerOptions o;
  fs::path data_dir = fs::absolute(data_dir_in);
  o.dags_dir = fs::absolute(config.get_string("scheduler.dags_dir"));
  o.state_dir = data_dir / "scheduler";
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return io_error("cannot find the sluice binary (/proc/self/exe)");
  o.sluice_binary = std::string(buf, static_cast<size_t>(n));
  if (!config.source_name().empty())
    o.sluice_args = {"--config", fs::absolute(config.source_name()).string()};
  o.sluice_args.insert(o.sluice_args.end(), {"--data-dir", data_dir.string()});
  o.max_active_tasks = static_cast<int>(config.get_int("scheduler.max_active_tasks"));
  std::stringstream ss(config.get_string("scheduler.pools"));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    int slots = 0;
    if (eq != std::string::npos && eq > 0) {
      auto [p, ec] = std::from_chars(item.data() + eq + 1, item.data() + item.size(), slots);
      if (ec != std::errc() || p != item.data() + item.size()) slots = 0;
    }
    if (slots < 1)
      return invalid_argument(
          fmt::format("scheduler.pools: '{}' is not name=slots (slots at least 1)", item));
    o.pools[item.substr(0, eq)] = slots;
  }
  return o;
}

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Scheduler::~Scheduler() {
  stop();
}

Result<std::unique_ptr<Scheduler>> Scheduler::open(SchedulerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  auto& o = impl->opt;
  if (o.work_dir.empty()) o.work_dir = std::filesystem::absolute(o.dags_dir).parent_path();
  impl->exec = ExecEnv{o.sluice_binary, o.sluice_args, o.work_dir};
  if (!o.read_only) {
    SLUICE_ASSIGN_OR_RETURN(impl->lock, OwnerLock::acquire(o.state_dir));
  }
  SLUICE_ASSIGN_OR_RETURN(impl->store, Store::open(o.state_dir, o.read_only));
  std::unique_lock lock(impl->mu);
  impl->reload_dags(true);
  SLUICE_RETURN_IF_ERROR(impl->load_state());
  if (!o.read_only) impl->recover();
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
}

Status Scheduler::start() {
  auto& m = *impl_;
  if (m.opt.read_only) return invalid_argument("a read-only scheduler cannot start");
  std::unique_lock lock(m.mu);
  if (m.started) return Status::ok();
  m.started = true;
  m.loop_thread = std::thread([&m] { m.loop(); });
  log::info("scheduler started",
            {log::kv("dags", m.dags.dags.size()), log::kv("dags_dir", m.opt.dags_dir.string())});
  return Status::ok();
}

void Scheduler::stop() {
  auto& m = *impl_;
  {
    std::unique_lock lock(m.mu);
    if (!m.started || m.stopping) return;
    m.stopping = true;
    for (const auto& [pid, r] : m.live_pids)
      ::kill(-pid, SIGKILL);
    m.cv.notify_all();
  }
  if (m.loop_thread.joinable()) m.loop_thread.join();
  std::unique_lock lock(m.mu);
  m.done_cv.wait(lock, [&] { return m.workers == 0; });
}

Result<RunRef> Scheduler::trigger(const std::string& dag_id, std::optional<std::string> ds) {
  auto& m = *impl_;
  std::unique_lock lock(m.mu);
  m.reload_dags_now();
  auto it = m.dags.dags.find(dag_id);
  if (it == m.dags.dags.end())
    return not_found(fmt::format("no DAG '{}' in {}", dag_id, m.opt.dags_dir.string()));
  auto dag = it->second;
  std::string key = ds ? *ds : format_date(dag->tz.to_local(now_us() / 1000000));
  SLUICE_ASSIGN_OR_RETURN(auto iv, dag->interval_of(key));
  if (auto r = m.runs.find({dag_id, key}); r != m.runs.end()) {
    auto& run = *r->second;
    if (run.state == "success" || run.state == "failed") {
      return already_exists(fmt::format(
          "run {} of {} already finished ({}); `sluice dag clear {} --task T --ds {}` to run "
          "tasks again",
          key, dag_id, run.state, dag_id, key));
    }
    m.adopted.insert(dag_id + "/" + key);
    m.cv.notify_all();
    return RunRef{run.run_id, run.ds, run.state, true};
  }
  auto& run = m.create_run(dag, key, "manual", iv.first, iv.second, 1);
  m.adopted.insert(dag_id + "/" + key);
  m.cv.notify_all();
  return RunRef{run.run_id, run.ds, run.state, false};
}

Result<std::vector<RunRef>> Scheduler::backfill(const std::string& dag_id, const std::string& from,
                                                const std::string& to, int parallelism) {
  auto& m = *impl_;
  std::unique_lock lock(m.mu);
  m.reload_dags_now();
  auto it = m.dags.dags.find(dag_id);
  if (it == m.dags.dags.end())
    return not_found(fmt::format("no DAG '{}' in {}", dag_id, m.opt.dags_dir.string()));
  auto dag = it->second;
  SLUICE_ASSIGN_OR_RETURN(int64_t d0, parse_date(from));
  SLUICE_ASSIGN_OR_RETURN(int64_t d1, parse_date(to));
  if (d1 < d0) return invalid_argument(fmt::format("--to {} is before --from {}", to, from));
  if (parallelism < 1) return invalid_argument("parallelism must be at least 1");
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> intervals;
  if (dag->schedule.is_none()) {
    for (int64_t d = d0; d <= d1; ++d) {
      int64_t s = dag->tz.to_utc(d * 86400);
      intervals.push_back({format_date(d * 86400), {s, dag->tz.to_utc((d + 1) * 86400)}});
    }
  } else {
    auto t = dag->schedule.next_at_or_after(dag->tz.to_utc(d0 * 86400), dag->tz);
    while (t && dag->tz.to_local(*t) < (d1 + 1) * 86400) {
      auto next = dag->schedule.next_after(*t, dag->tz);
      if (!next) break;
      intervals.push_back({dag->run_key(*t), {*t, *next}});
      t = next;
      if (intervals.size() > 10000)
        return invalid_argument("a backfill is limited to 10000 runs; use a shorter range");
    }
  }
  std::vector<RunRef> out;
  for (const auto& [ds, iv] : intervals) {
    if (auto r = m.runs.find({dag_id, ds}); r != m.runs.end()) {
      if (r->second->state == "queued" || r->second->state == "running") {
        m.adopted.insert(dag_id + "/" + ds);
        out.push_back({r->second->run_id, ds, r->second->state, true});
      }
      continue;  // finished runs are not redone (clear them to)
    }
    auto& run = m.create_run(dag, ds, "backfill", iv.first, iv.second, parallelism);
    m.adopted.insert(dag_id + "/" + ds);
    out.push_back({run.run_id, ds, run.state, false});
  }
  m.cv.notify_all();
  return out;
}

Result<json> Scheduler::clear(const std::string& dag_id, const std::string& task_id,
                              const std::string& ds) {
  auto& m = *impl_;
  std::unique_lock lock(m.mu);
  auto it = m.runs.find({dag_id, ds});
  if (it == m.runs.end()) return not_found(fmt::format("no run of {} for ds {}", dag_id, ds));
  auto& r = *it->second;
  if (!r.dag) return not_found(fmt::format("DAG {} is not loaded", dag_id));
  auto ti = r.dag->index.find(task_id);
  if (ti == r.dag->index.end())
    return not_found(fmt::format("DAG {} has no task '{}'", dag_id, task_id));
  // The task and everything downstream of it.
  std::set<size_t> sel{ti->second};
  for (size_t i = 0; i < r.tis.size(); ++i)
    for (size_t u : r.dag->upstream[i])
      if (sel.count(u)) sel.insert(i);
  for (size_t i : sel)
    if (r.tis[i].state == "running")
      return conflict(fmt::format("task {} of {} {} is running; wait for it to finish",
                                  r.tis[i].task_id, dag_id, ds));
  json cleared = json::array();
  for (size_t i : sel) {
    auto& t = r.tis[i];
    t.state = "queued";
    t.next_retry = 0;
    t.end = 0;
    t.sla_missed = false;
    // Retries count afresh: earlier failures stay in the history as "failed (cleared)".
    for (auto& a : t.attempts)
      if (a.state == "failed") a.state = "cleared";
    m.persist_ti(r, t);
    cleared.push_back(t.task_id);
  }
  if (r.state != "running") {
    r.state = "queued";
    r.end = 0;
  } else {
    m.rebuild(r);
  }
  m.persist_run(r);
  m.adopted.insert(dag_id + "/" + ds);
  m.cv.notify_all();
  return json{{"dag_id", dag_id},
              {"run_id", r.run_id},
              {"ds", ds},
              {"state", r.state},
              {"cleared", cleared}};
}

std::vector<RunRef> Scheduler::wait_runs(const std::string& dag_id,
                                         const std::vector<std::string>& ds) {
  auto& m = *impl_;
  std::unique_lock lock(m.mu);
  auto finished = [&] {
    for (const auto& d : ds) {
      auto it = m.runs.find({dag_id, d});
      if (it != m.runs.end() && it->second->state != "success" && it->second->state != "failed")
        return false;
    }
    return true;
  };
  m.done_cv.wait(lock, [&] { return finished() || m.stopping; });
  std::vector<RunRef> out;
  for (const auto& d : ds) {
    auto it = m.runs.find({dag_id, d});
    if (it != m.runs.end()) out.push_back({it->second->run_id, d, it->second->state, true});
  }
  return out;
}

json Scheduler::dags_json() {
  auto& m = *impl_;
  std::unique_lock lock(m.mu);
  m.reload_dags_now();
  json dags = json::array();
  std::map<std::string, const Run*> last;
  for (const auto& [k, r] : m.runs) {
    auto& l = last[k.first];
    if (!l || r->created > l->created) l = r.get();
  }
  for (const auto& [id, d] : m.dags.dags) {
    json next = nullptr;
    if (!d->schedule.is_none()) {
      auto ls = m.last_scheduled.find(id);
      std::optional<int64_t> s = ls != m.last_scheduled.end()
                                     ? d->schedule.next_after(ls->second, d->tz)
                                     : d->schedule.next_at_or_after(d->start_date, d->tz);
      if (s) {
        auto e = d->schedule.next_after(*s, d->tz);
        if (e) next = iso_utc(*e * 1000000);
      }
    }
    json lr = nullptr;
    if (auto it = last.find(id); it != last.end())
      lr = {{"run_id", it->second->run_id}, {"ds", it->second->ds}, {"state", it->second->state}};
    dags.push_back({{"dag_id", id},
                    {"file", d->file.string()},
                    {"schedule", d->schedule.text()},
                    {"timezone", d->tz.name()},
                    {"catchup", d->catchup},
                    {"paused", false},
                    {"next_run", next},
                    {"last_run", lr},
                    {"error", nullptr}});
  }
  json errors = json::array();
  for (const auto& [file, msg] : m.dags.errors) {
    errors.push_back({{"file", file}, {"message", msg}});
    dags.push_back({{"dag_id", std::filesystem::path(file).stem().string()},
                    {"file", file},
                    {"schedule", nullptr},
                    {"timezone", nullptr},
                    {"catchup", false},
                    {"paused", false},
                    {"next_run", nullptr},
                    {"last_run", nullptr},
                    {"error", msg}});
  }
  return {{"dags", dags}, {"errors", errors}};
}

Result<json> Scheduler::dag_json(const std::string& dag_id, size_t max_runs) {
  auto& m = *impl_;
  std::unique_lock lock(m.mu);
  m.reload_dags_now();
  auto it = m.dags.dags.find(dag_id);
  if (it == m.dags.dags.end()) return not_found(fmt::format("no DAG '{}'", dag_id));
  const auto& d = *it->second;
  json tasks = json::array();
  for (const auto& t : d.tasks) {
    tasks.push_back({{"task_id", t.id},
                     {"kind", t.kind},
                     {"upstream", t.upstream},
                     {"retries", t.retries},
                     {"timeout_s", t.timeout_s > 0 ? json(t.timeout_s) : json(nullptr)},
                     {"pool", t.pool.empty() ? json(nullptr) : json(t.pool)},
                     {"sla_s", t.sla_s > 0 ? json(t.sla_s) : json(nullptr)}});
  }
  std::vector<const Run*> rs;
  for (const auto& [k, r] : m.runs)
    if (k.first == dag_id) rs.push_back(r.get());
  std::sort(rs.begin(), rs.end(), [](const Run* a, const Run* b) {
    return a->dis != b->dis ? a->dis > b->dis : a->created > b->created;
  });
  json runs = json::array();
  for (size_t i = 0; i < rs.size() && i < max_runs; ++i)
    runs.push_back(m.run_json(*rs[i], true));
  return json{{"dag_id", d.dag_id},
              {"file", d.file.string()},
              {"schedule", d.schedule.text()},
              {"timezone", d.tz.name()},
              {"catchup", d.catchup},
              {"max_active_runs", d.max_active_runs},
              {"description", d.description},
              {"tasks", tasks},
              {"runs", runs}};
}

json Scheduler::status_json() {
  auto& m = *impl_;
  std::unique_lock lock(m.mu);
  json active = json::array(), failed = json::array();
  for (const auto& [k, r] : m.runs) {
    if (r->state == "running" || r->state == "queued") {
      json j = m.run_json(*r, true);
      j["dag_id"] = r->dag_id;
      active.push_back(j);
    } else if (r->state == "failed") {
      json j = m.run_json(*r, false);
      j["dag_id"] = r->dag_id;
      failed.push_back(j);
    }
  }
  json alerts = json::array();
  for (const auto& a : m.alerts)
    alerts.push_back(a);
  return {{"running_tasks", m.running_total},
          {"active_runs", active},
          {"failed_runs", failed},
          {"alerts", alerts},
          {"dag_errors", m.dags.errors.size()}};
}

Result<std::string> Scheduler::logs(const std::string& dag_id, const std::string& ds,
                                    const std::string& task_id, int attempt) {
  auto& m = *impl_;
  int n = attempt;
  std::filesystem::path path;
  {
    std::unique_lock lock(m.mu);
    auto it = m.runs.find({dag_id, ds});
    if (it == m.runs.end()) return not_found(fmt::format("no run of {} for ds {}", dag_id, ds));
    const TaskInst* t = nullptr;
    for (const auto& x : it->second->tis)
      if (x.task_id == task_id) t = &x;
    if (!t) return not_found(fmt::format("run {} of {} has no task '{}'", ds, dag_id, task_id));
    if (t->attempts.empty())
      return not_found(fmt::format("task {} of {} {} has not run yet", task_id, dag_id, ds));
    if (n <= 0) n = t->attempts.back().n;
    if (n > static_cast<int>(t->attempts.size()))
      return not_found(fmt::format("task {} of {} {} has {} attempt(s), not {}", task_id, dag_id,
                                   ds, t->attempts.size(), n));
    path = m.log_path(*it->second, task_id, n);
  }
  std::ifstream in(path);
  if (!in)
    return not_found(fmt::format("no log {} (an in-process task writes none)", path.string()));
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

namespace {
http::Response error_response(const Status& st) {
  int code = 500;
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      code = 400;
      break;
    case StatusCode::kNotFound:
      code = 404;
      break;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
      code = 409;
      break;
    default:
      break;
  }
  return http::Response::error(code, st.message());
}
}  // namespace

void Scheduler::register_routes(http::Router& router) {
  router.get("/api/dags",
             [this](http::Request&) { return http::Response::json(200, dags_json()); });
  router.get("/api/dags/{dag}", [this](http::Request& q) {
    auto j = dag_json(q.param("dag"));
    return j.is_ok() ? http::Response::json(200, *j) : error_response(j.status());
  });
  router.get("/api/scheduler/status",
             [this](http::Request&) { return http::Response::json(200, status_json()); });
  router.post("/api/dags/{dag}/runs", [this](http::Request& q) {
    std::optional<std::string> ds;
    if (!q.body.empty()) {
      auto body = q.json();
      if (!body.is_ok()) return error_response(body.status());
      if (body->contains("ds") && (*body)["ds"].is_string()) ds = (*body)["ds"].get<std::string>();
    }
    auto r = trigger(q.param("dag"), ds);
    if (!r.is_ok()) return error_response(r.status());
    return http::Response::json(r->existed ? 200 : 201,
                                {{"run_id", r->run_id}, {"ds", r->ds}, {"state", r->state}});
  });
  router.post("/api/dags/{dag}/backfill", [this](http::Request& q) {
    auto body = q.json();
    if (!body.is_ok()) return error_response(body.status());
    if (!body->contains("from") || !body->contains("to") || !(*body)["from"].is_string() ||
        !(*body)["to"].is_string())
      return http::Response::error(400, "backfill needs \"from\" and \"to\" (YYYY-MM-DD)");
    int par = body->value("parallelism", 1);
    auto r = backfill(q.param("dag"), (*body)["from"], (*body)["to"], par);
    if (!r.is_ok()) return error_response(r.status());
    json ids = json::array();
    for (const auto& x : *r)
      ids.push_back(x.run_id);
    return http::Response::json(202, {{"run_ids", ids}});
  });
  router.post("/api/dags/{dag}/clear", [this](http::Request& q) {
    auto body = q.json();
    if (!body.is_ok()) return error_response(body.status());
    if (!body->contains("task") || !body->contains("ds"))
      return http::Response::error(400, "clear needs \"task\" and \"ds\"");
    auto r = clear(q.param("dag"), (*body)["task"], (*body)["ds"]);
    return r.is_ok() ? http::Response::json(200, *r) : error_response(r.status());
  });
  router.get("/api/dags/{dag}/runs/{ds}/tasks/{task}/logs", [this](http::Request& q) {
    int attempt = 0;
    std::string a = q.query_param("attempt");
    if (!a.empty()) {
      try {
        attempt = std::stoi(a);
      } catch (const std::exception&) {
        return http::Response::error(400, "attempt must be a number");
      }
    }
    auto r = logs(q.param("dag"), q.param("ds"), q.param("task"), attempt);
    return r.is_ok() ? http::Response::text(200, *r) : error_response(r.status());
  });
}

}  // namespace sluice::scheduler

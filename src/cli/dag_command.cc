// `sluice dag ...` (list, show, run, backfill, clear, status, logs) and `sluice scheduler` (the
// scheduler daemon with its JSON API). With a daemon running (it writes
// <data_dir>/scheduler/daemon.json), commands go through its HTTP API; without one, `run` and
// `backfill` take the state lock and run in the foreground, and reads open the store read-only.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/log.h"
#include "http/client.h"
#include "scheduler/scheduler.h"

namespace sluice::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct DagArgs {
  std::string dags_dir;
  std::string dag, task, ds, from, to;
  int parallelism = 1;
  int attempt = 0;
  bool json_out = false;
  std::string listen;
};

struct Ctx {
  common::Config config;
  fs::path data_dir, state_dir, dags_dir;
};

Result<Ctx> context(const CliState& state, const DagArgs& a) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
  SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
  Ctx c{std::move(config), fs::absolute(dir.root()), {}, {}};
  c.state_dir = c.data_dir / "scheduler";
  c.dags_dir =
      fs::absolute(a.dags_dir.empty() ? c.config.get_string("scheduler.dags_dir") : a.dags_dir);
  return c;
}

Result<scheduler::SchedulerOptions> options(const Ctx& c) {
  SLUICE_ASSIGN_OR_RETURN(auto o, scheduler::options_from_config(c.config, c.data_dir));
  o.dags_dir = c.dags_dir;
  return o;
}

// The daemon's API client when one is running and answers.
std::optional<http::Client> daemon_client(const Ctx& c, std::string* where = nullptr) {
  std::ifstream in(c.state_dir / "daemon.json");
  if (!in) return std::nullopt;
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("port")) return std::nullopt;
  std::string host = j.value("host", "127.0.0.1");
  auto port = j["port"].get<uint16_t>();
  http::Client client(host, port, 30000);
  auto r = client.get("/api/dags");
  if (!r.is_ok()) return std::nullopt;
  if (where) *where = fmt::format("{}:{}", host, port);
  return client;
}

Result<json> api(http::Client& client, const std::string& method, const std::string& target,
                 const json& body = nullptr) {
  auto r = method == "GET" ? client.get(target) : client.post(target, body.dump());
  if (!r.is_ok()) return r.status();
  auto j = json::parse(r->body, nullptr, false);
  if (r->status >= 400) {
    std::string msg =
        !j.is_discarded() && j.contains("message") ? j["message"].get<std::string>() : r->body;
    StatusCode code = r->status == 404   ? StatusCode::kNotFound
                      : r->status == 409 ? StatusCode::kConflict
                      : r->status == 400 ? StatusCode::kInvalidArgument
                                         : StatusCode::kInternal;
    return Status(code, msg);
  }
  if (j.is_discarded()) return json(r->body);  // text (logs)
  return j;
}

std::string str(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

Status print_table(std::vector<std::string> cols, std::vector<std::vector<std::string>> rows) {
  std::vector<std::vector<std::optional<std::string>>> r;
  for (auto& row : rows)
    r.emplace_back(row.begin(), row.end());
  print_result(std::cout, make_result(std::move(cols), std::move(r)), OutputFormat::kTable);
  return Status::ok();
}

void print_list(const json& j) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : j["dags"]) {
    if (!d["error"].is_null()) continue;
    std::string last = d["last_run"].is_null() ? "-"
                                               : fmt::format("{} {}", str(d["last_run"]["ds"]),
                                                             str(d["last_run"]["state"]));
    rows.push_back({str(d["dag_id"]), str(d["schedule"]), str(d["timezone"]),
                    d["catchup"].get<bool>() ? "on" : "off", str(d["next_run"]), last,
                    str(d["file"])});
  }
  (void)print_table({"dag", "schedule", "timezone", "catchup", "next_run", "last_run", "file"},
                    rows);
  for (const auto& e : j["errors"])
    std::cout << "error: " << str(e["message"]) << "\n";
}

void print_show(const json& j) {
  std::cout << "dag " << str(j["dag_id"]) << " (" << str(j["file"]) << ")\n";
  if (!str(j["description"]).empty() && j["description"] != "")
    std::cout << str(j["description"]) << "\n";
  std::cout << "schedule " << str(j["schedule"]) << ", timezone " << str(j["timezone"])
            << ", catchup " << (j.value("catchup", false) ? "on" : "off") << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : j["tasks"]) {
    std::string up;
    for (const auto& u : t["upstream"])
      up += (up.empty() ? "" : ",") + u.get<std::string>();
    rows.push_back({str(t["task_id"]), str(t["kind"]), up.empty() ? "-" : up, str(t["retries"]),
                    str(t["timeout_s"]), str(t["pool"])});
  }
  (void)print_table({"task", "kind", "upstream", "retries", "timeout_s", "pool"}, rows);
  if (j["runs"].empty()) return;
  std::cout << "\n";
  rows.clear();
  for (const auto& r : j["runs"]) {
    std::string tasks;
    for (const auto& t : r["tasks"]) {
      tasks += fmt::format("{}{}={}", tasks.empty() ? "" : " ", str(t["task_id"]), str(t["state"]));
      if (t["try_number"].get<int>() > 1)
        tasks += fmt::format("(try {})", t["try_number"].get<int>());
    }
    rows.push_back(
        {str(r["ds"]), str(r["run_type"]), str(r["state"]), str(r["start"]), str(r["end"]), tasks});
  }
  (void)print_table({"ds", "run_type", "state", "start", "end", "tasks"}, rows);
}

void print_status(const json& j) {
  std::cout << "running tasks: " << j["running_tasks"] << "\n";
  std::vector<std::vector<std::string>> rows;
  auto add = [&](const json& runs) {
    for (const auto& r : runs) {
      std::string tasks;
      if (r.contains("tasks")) {
        for (const auto& t : r["tasks"])
          if (t["state"] != "success")
            tasks += fmt::format("{}{}={}", tasks.empty() ? "" : " ", str(t["task_id"]),
                                 str(t["state"]));
      }
      rows.push_back({str(r["dag_id"]), str(r["ds"]), str(r["run_type"]), str(r["state"]),
                      str(r["start"]), tasks.empty() ? "-" : tasks});
    }
  };
  add(j["active_runs"]);
  add(j["failed_runs"]);
  (void)print_table({"dag", "ds", "run_type", "state", "start", "unfinished tasks"}, rows);
  std::cout << "\nalerts: " << j["alerts"].size() << "\n";
  for (const auto& a : j["alerts"])
    std::cout << str(a["time"]) << "  " << str(a["kind"]) << "  " << str(a["message"]) << "\n";
}

std::string clock_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// Runs the given runs in the foreground (the lock is ours), printing task state changes.
Status foreground(const Ctx& c, const DagArgs& a, bool backfill) {
  SLUICE_ASSIGN_OR_RETURN(auto o, options(c));
  o.schedule = false;
  o.foreground = true;
  o.on_event = [](const scheduler::TaskEvent& e) {
    std::string line =
        fmt::format("{}  {} {}  {:<24} {}", clock_now(), e.dag_id, e.ds, e.task_id, e.state);
    if (e.try_number > 1 || e.state == "up_for_retry")
      line += fmt::format(" (try {})", e.try_number);
    if (!e.detail.empty()) line += "  " + e.detail;
    std::cout << line << std::endl;
  };
  SLUICE_ASSIGN_OR_RETURN(auto s, scheduler::Scheduler::open(o));
  std::vector<std::string> ds;
  if (backfill) {
    SLUICE_ASSIGN_OR_RETURN(auto refs, s->backfill(a.dag, a.from, a.to, a.parallelism));
    for (const auto& r : refs)
      ds.push_back(r.ds);
    std::cout << fmt::format("backfill of {}: {} run(s) from {} to {}, parallelism {}", a.dag,
                             refs.size(), a.from, a.to, a.parallelism)
              << std::endl;
  } else {
    std::optional<std::string> want;
    if (!a.ds.empty()) want = a.ds;
    SLUICE_ASSIGN_OR_RETURN(auto ref, s->trigger(a.dag, want));
    ds.push_back(ref.ds);
    std::cout << fmt::format("{} {} ({})", ref.existed ? "resuming" : "running", ref.run_id, a.dag)
              << std::endl;
  }
  SLUICE_RETURN_IF_ERROR(s->start());
  auto done = s->wait_runs(a.dag, ds);
  s->stop();
  int failed = 0;
  for (const auto& r : done) {
    std::cout << fmt::format("run {} {}: {}", a.dag, r.ds, r.state) << std::endl;
    failed += r.state != "success";
  }
  if (failed)
    return internal_error(
        fmt::format("{} run(s) of {} failed; see `sluice dag logs {} "
                    "<task> --ds <ds>`",
                    failed, a.dag, a.dag));
  return Status::ok();
}

// A read-only view of the store (no daemon running).
Result<std::unique_ptr<scheduler::Scheduler>> reader(const Ctx& c) {
  SLUICE_ASSIGN_OR_RETURN(auto o, options(c));
  o.read_only = true;
  auto s = scheduler::Scheduler::open(o);
  if (!s.is_ok() && s.status().code() == StatusCode::kNotFound) {
    // No state yet: a fresh store in a temporary folder would hide nothing; open writable.
    o.read_only = false;
    auto w = scheduler::Scheduler::open(o);
    if (w.is_ok()) return w;
  }
  return s;
}

std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("%{:02X}", ch);
    }
  }
  return out;
}

}  // namespace

void add_dag_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("dag",
                                 "Scheduled DAGs of tasks: list, show, run, backfill, "
                                 "clear, status, logs (docs/scheduler.md)");
  cmd->require_subcommand(1);
  auto a = std::make_shared<DagArgs>();
  auto common = [a](CLI::App* sub) {
    sub->add_option("--dags", a->dags_dir, "DAG folder (default: scheduler.dags_dir)");
  };
  auto run_cmd = [&state, a](std::function<Status(const Ctx&)> fn) {
    return [&state, a, fn] {
      auto c = context(state, *a);
      Status st = c.is_ok() ? fn(*c) : c.status();
      if (!st.is_ok()) state.exit_code = report(st);
    };
  };

  auto* list = cmd->add_subcommand("list", "Every DAG: schedule, next and last run; broken files");
  common(list);
  list->add_flag("--json", a->json_out, "Print the API's JSON");
  list->callback(run_cmd([a](const Ctx& c) -> Status {
    json j;
    if (auto cl = daemon_client(c)) {
      SLUICE_ASSIGN_OR_RETURN(j, api(*cl, "GET", "/api/dags"));
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto s, reader(c));
      j = s->dags_json();
    }
    if (a->json_out) {
      std::cout << j.dump(2) << "\n";
    } else {
      print_list(j);
    }
    return Status::ok();
  }));

  auto* show = cmd->add_subcommand("show", "A DAG's tasks and its latest runs");
  common(show);
  show->add_option("dag", a->dag, "DAG id")->required();
  show->add_flag("--json", a->json_out, "Print the API's JSON");
  show->callback(run_cmd([a](const Ctx& c) -> Status {
    json j;
    if (auto cl = daemon_client(c)) {
      SLUICE_ASSIGN_OR_RETURN(j, api(*cl, "GET", "/api/dags/" + encode(a->dag)));
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto s, reader(c));
      SLUICE_ASSIGN_OR_RETURN(j, s->dag_json(a->dag));
    }
    if (a->json_out) {
      std::cout << j.dump(2) << "\n";
    } else {
      print_show(j);
    }
    return Status::ok();
  }));

  auto* run = cmd->add_subcommand(
      "run", "Run a DAG for one ds (through the daemon, else in the foreground)");
  common(run);
  run->add_option("dag", a->dag, "DAG id")->required();
  run->add_option("--ds", a->ds, "Logical date YYYY-MM-DD (default: today in the DAG's zone)");
  run->callback(run_cmd([a](const Ctx& c) -> Status {
    std::string where;
    if (auto cl = daemon_client(c, &where)) {
      json body = json::object();
      if (!a->ds.empty()) body["ds"] = a->ds;
      SLUICE_ASSIGN_OR_RETURN(auto j,
                              api(*cl, "POST", "/api/dags/" + encode(a->dag) + "/runs", body));
      std::cout << fmt::format("submitted {} ({}) to the scheduler at {}", str(j["run_id"]), a->dag,
                               where)
                << std::endl;
      return Status::ok();
    }
    return foreground(c, *a, false);
  }));

  auto* backfill = cmd->add_subcommand(
      "backfill", "Run a DAG for every interval from --from to --to, oldest first");
  common(backfill);
  backfill->add_option("dag", a->dag, "DAG id")->required();
  backfill->add_option("--from", a->from, "First ds YYYY-MM-DD")->required();
  backfill->add_option("--to", a->to, "Last ds YYYY-MM-DD")->required();
  backfill->add_option("--parallelism", a->parallelism, "Runs of the backfill at once")
      ->capture_default_str();
  backfill->callback(run_cmd([a](const Ctx& c) -> Status {
    std::string where;
    if (auto cl = daemon_client(c, &where)) {
      json body = {{"from", a->from}, {"to", a->to}, {"parallelism", a->parallelism}};
      SLUICE_ASSIGN_OR_RETURN(auto j,
                              api(*cl, "POST", "/api/dags/" + encode(a->dag) + "/backfill", body));
      std::cout << fmt::format("submitted {} backfill run(s) of {} to the scheduler at {}",
                               j["run_ids"].size(), a->dag, where)
                << std::endl;
      return Status::ok();
    }
    return foreground(c, *a, true);
  }));

  auto* clear = cmd->add_subcommand("clear", "Clear a task (and its downstream) to run again");
  common(clear);
  clear->add_option("dag", a->dag, "DAG id")->required();
  clear->add_option("--task", a->task, "Task id")->required();
  clear->add_option("--ds", a->ds, "The run's ds")->required();
  clear->callback(run_cmd([a](const Ctx& c) -> Status {
    json j;
    bool remote = false;
    if (auto cl = daemon_client(c)) {
      SLUICE_ASSIGN_OR_RETURN(j, api(*cl, "POST", "/api/dags/" + encode(a->dag) + "/clear",
                                     {{"task", a->task}, {"ds", a->ds}}));
      remote = true;
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto o, options(c));
      SLUICE_ASSIGN_OR_RETURN(auto s, scheduler::Scheduler::open(o));
      SLUICE_ASSIGN_OR_RETURN(j, s->clear(a->dag, a->task, a->ds));
    }
    std::string tasks;
    for (const auto& t : j["cleared"])
      tasks += (tasks.empty() ? "" : ", ") + str(t);
    std::cout << fmt::format("cleared {} of {} {}", tasks, a->dag, a->ds) << "\n";
    if (!remote)
      std::cout << fmt::format("run them: sluice dag run {} --ds {}", a->dag, a->ds) << "\n";
    return Status::ok();
  }));

  auto* status = cmd->add_subcommand("status", "Runs under way, failed runs and SLA alerts");
  common(status);
  status->add_flag("--json", a->json_out, "Print JSON");
  status->callback(run_cmd([a](const Ctx& c) -> Status {
    json j;
    std::string where;
    if (auto cl = daemon_client(c, &where)) {
      SLUICE_ASSIGN_OR_RETURN(j, api(*cl, "GET", "/api/scheduler/status"));
      if (!a->json_out) std::cout << "scheduler daemon at " << where << "\n";
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto s, reader(c));
      j = s->status_json();
      if (!a->json_out) std::cout << "no scheduler daemon running\n";
    }
    if (a->json_out) {
      std::cout << j.dump(2) << "\n";
    } else {
      print_status(j);
    }
    return Status::ok();
  }));

  auto* logs = cmd->add_subcommand("logs", "The log of a task's attempt (latest by default)");
  common(logs);
  logs->add_option("dag", a->dag, "DAG id")->required();
  logs->add_option("task", a->task, "Task id")->required();
  logs->add_option("--ds", a->ds, "The run's ds")->required();
  logs->add_option("--attempt", a->attempt, "Attempt number (default: the latest)");
  logs->callback(run_cmd([a](const Ctx& c) -> Status {
    if (auto cl = daemon_client(c)) {
      std::string target = fmt::format("/api/dags/{}/runs/{}/tasks/{}/logs", encode(a->dag),
                                       encode(a->ds), encode(a->task));
      if (a->attempt > 0) target += fmt::format("?attempt={}", a->attempt);
      SLUICE_ASSIGN_OR_RETURN(auto j, api(*cl, "GET", target));
      std::cout << (j.is_string() ? j.get<std::string>() : j.dump());
      return Status::ok();
    }
    SLUICE_ASSIGN_OR_RETURN(auto s, reader(c));
    SLUICE_ASSIGN_OR_RETURN(auto text, s->logs(a->dag, a->ds, a->task, a->attempt));
    std::cout << text;
    return Status::ok();
  }));

  auto* sched = app.add_subcommand("scheduler",
                                   "Run the scheduler daemon in the foreground, with its JSON API");
  sched->add_option("--listen", a->listen, "HOST:PORT (default: scheduler.listen)");
  sched->add_option("--dags", a->dags_dir, "DAG folder (default: scheduler.dags_dir)");
  sched->callback(run_cmd([a](const Ctx& c) -> Status {
    std::string listen = a->listen.empty() ? c.config.get_string("scheduler.listen") : a->listen;
    auto colon = listen.rfind(':');
    int port = -1;
    try {
      port = colon == std::string::npos ? -1 : std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
      port = -1;
    }
    if (port < 0 || port > 65535)
      return invalid_argument(fmt::format("--listen '{}' is not HOST:PORT", listen));
    SLUICE_ASSIGN_OR_RETURN(auto o, options(c));
    SLUICE_ASSIGN_OR_RETURN(auto s, scheduler::Scheduler::open(o));
    http::Router router;
    s->register_routes(router);
    http::ServerOptions so;
    so.host = listen.substr(0, colon);
    so.port = static_cast<uint16_t>(port);
    so.name = "scheduler";
    so.access_log = false;
    SLUICE_ASSIGN_OR_RETURN(auto server, http::Server::start(so, std::move(router)));
    SLUICE_RETURN_IF_ERROR(s->start());
    json info = {{"pid", ::getpid()}, {"host", so.host}, {"port", server->port()}};
    {
      std::ofstream out(c.state_dir / "daemon.json.tmp");
      out << info.dump() << "\n";
    }
    fs::rename(c.state_dir / "daemon.json.tmp", c.state_dir / "daemon.json");
    std::cout << fmt::format("sluice scheduler listening on {}:{} (dags: {})", so.host,
                             server->port(), c.dags_dir.string())
              << std::endl;
    server->run_until_signal();
    std::error_code ec;
    fs::remove(c.state_dir / "daemon.json", ec);
    s->stop();
    return Status::ok();
  }));
}

}  // namespace sluice::cli

#include "scheduler/dag.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

namespace sluice::scheduler {

namespace {

std::string at(const std::filesystem::path& file, const YAML::Node& n) {
  return fmt::format("{}:{}", file.string(), n.Mark().line + 1);
}
Status err(const std::filesystem::path& file, const YAML::Node& n, const std::string& msg) {
  return invalid_argument(fmt::format("{}: {}", at(file, n), msg));
}

// A string or a list of strings.
Result<std::vector<std::string>> string_list(const std::filesystem::path& file, const YAML::Node& n,
                                             const std::string& what) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) return err(file, n, fmt::format("'{}' must be a string or a list", what));
  for (const auto& x : n) {
    if (!x.IsScalar()) return err(file, x, fmt::format("'{}' items must be strings", what));
    out.push_back(x.Scalar());
  }
  return out;
}

Status require_string(const YAML::Node& task, const std::filesystem::path& file,
                      const std::string& key) {
  auto v = task[key];
  if (!v) return err(file, task, fmt::format("task needs '{}'", key));
  if (!v.IsScalar() || v.Scalar().empty())
    return err(file, v, fmt::format("'{}' must be a non-empty string", key));
  return Status::ok();
}

std::vector<std::string> sluice_argv(const ExecEnv& env) {
  std::vector<std::string> a{env.sluice_binary};
  a.insert(a.end(), env.sluice_args.begin(), env.sluice_args.end());
  return a;
}

Result<std::string> rendered(const TaskSpec& t, const std::string& key, const Vars& vars) {
  auto n = t.node[key];
  if (!n || n.IsNull()) return std::string();
  return render(n.Scalar(), vars);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'')
      out += "'\\''";
    else
      out += ch;
  }
  return out + "'";
}

class ShellKind : public TaskKind {
 public:
  std::string name() const override { return "shell"; }
  std::string doc() const override { return "`command`: run with /bin/sh -c (templated)"; }
  std::vector<std::string> keys() const override { return {"command"}; }
  Status validate(const YAML::Node& t, const std::string& file) const override {
    return require_string(t, file, "command");
  }
  Result<std::vector<std::string>> command(const TaskSpec& t, const Vars& vars,
                                           const ExecEnv&) const override {
    SLUICE_ASSIGN_OR_RETURN(auto cmd, rendered(t, "command", vars));
    return std::vector<std::string>{"/bin/sh", "-c", cmd};
  }
};

class IngestKind : public TaskKind {
 public:
  std::string name() const override { return "ingest"; }
  std::string doc() const override {
    return "`source` (name or .toml), optional `mode` (snapshot|incremental), `tables`: "
           "`sluice ingest`";
  }
  std::vector<std::string> keys() const override { return {"source", "mode", "tables"}; }
  Status validate(const YAML::Node& t, const std::string& file) const override {
    SLUICE_RETURN_IF_ERROR(require_string(t, file, "source"));
    if (auto m = t["mode"]) {
      if (!m.IsScalar() || (m.Scalar() != "snapshot" && m.Scalar() != "incremental"))
        return err(file, m, "'mode' must be snapshot or incremental");
    }
    return string_list(file, t["tables"], "tables").status();
  }
  Result<std::vector<std::string>> command(const TaskSpec& t, const Vars& vars,
                                           const ExecEnv& env) const override {
    auto a = sluice_argv(env);
    SLUICE_ASSIGN_OR_RETURN(auto source, rendered(t, "source", vars));
    a.insert(a.end(), {"ingest", source});
    if (auto m = t.node["mode"]) a.insert(a.end(), {"--mode", m.Scalar()});
    SLUICE_ASSIGN_OR_RETURN(auto tables, string_list("", t.node["tables"], "tables"));
    if (!tables.empty()) {
      std::string joined;
      for (const auto& x : tables)
        joined += (joined.empty() ? "" : ",") + x;
      a.insert(a.end(), {"--tables", joined});
    }
    return a;
  }
};

class ModelsKind : public TaskKind {
 public:
  std::string name() const override { return "models"; }
  std::string doc() const override {
    return "`select` (selectors, default all), optional `project`, `full_refresh`, `vars`: "
           "`sluice model run ... --ds {{ ds }}`";
  }
  std::vector<std::string> keys() const override {
    return {"select", "project", "full_refresh", "vars"};
  }
  Status validate(const YAML::Node& t, const std::string& file) const override {
    SLUICE_RETURN_IF_ERROR(string_list(file, t["select"], "select"));
    if (auto v = t["vars"]; v && !v.IsMap()) return err(file, v, "'vars' must be a mapping");
    return Status::ok();
  }
  Result<std::vector<std::string>> command(const TaskSpec& t, const Vars& vars,
                                           const ExecEnv& env) const override {
    auto a = sluice_argv(env);
    a.insert(a.end(), {"model", "run"});
    SLUICE_ASSIGN_OR_RETURN(auto sel, string_list("", t.node["select"], "select"));
    for (const auto& s : sel)
      a.push_back(s);
    a.insert(a.end(), {"--ds", vars.at("ds")});
    SLUICE_ASSIGN_OR_RETURN(auto project, rendered(t, "project", vars));
    if (!project.empty()) a.insert(a.end(), {"--project", project});
    if (t.node["full_refresh"] && t.node["full_refresh"].as<bool>(false))
      a.push_back("--full-refresh");
    if (auto v = t.node["vars"]) {
      for (const auto& kv : v) {
        SLUICE_ASSIGN_OR_RETURN(auto value, render(kv.second.Scalar(), vars));
        a.insert(a.end(), {"--var", kv.first.Scalar() + "=" + value});
      }
    }
    return a;
  }
};

class QualityKind : public TaskKind {
 public:
  std::string name() const override { return "quality"; }
  std::string doc() const override {
    return "optional `tables` (zone.name; default every table with checks), `project`: "
           "`sluice quality run`";
  }
  std::vector<std::string> keys() const override { return {"tables", "project"}; }
  Status validate(const YAML::Node& t, const std::string& file) const override {
    return string_list(file, t["tables"], "tables").status();
  }
  Result<std::vector<std::string>> command(const TaskSpec& t, const Vars& vars,
                                           const ExecEnv& env) const override {
    auto a = sluice_argv(env);
    a.insert(a.end(), {"quality", "run"});
    SLUICE_ASSIGN_OR_RETURN(auto tables, string_list("", t.node["tables"], "tables"));
    for (const auto& s : tables)
      a.push_back(s);
    SLUICE_ASSIGN_OR_RETURN(auto project, rendered(t, "project", vars));
    if (!project.empty()) a.insert(a.end(), {"--project", project});
    return a;
  }
};

class SqlKind : public TaskKind {
 public:
  std::string name() const override { return "sql"; }
  std::string doc() const override {
    return "`sql` (templated statements) or `file` (a script): `sluice sql -e/-f`";
  }
  std::vector<std::string> keys() const override { return {"sql", "file"}; }
  Status validate(const YAML::Node& t, const std::string& file) const override {
    if (!t["sql"] == !t["file"]) return err(file, t, "sql task needs exactly one of 'sql', 'file'");
    return require_string(t, file, t["sql"] ? "sql" : "file");
  }
  Result<std::vector<std::string>> command(const TaskSpec& t, const Vars& vars,
                                           const ExecEnv& env) const override {
    auto a = sluice_argv(env);
    a.push_back("sql");
    if (t.node["sql"]) {
      SLUICE_ASSIGN_OR_RETURN(auto sql, rendered(t, "sql", vars));
      a.insert(a.end(), {"-e", sql});
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto f, rendered(t, "file", vars));
      a.insert(a.end(), {"-f", f});
    }
    return a;
  }
};

class MaintenanceKind : public TaskKind {
 public:
  std::string name() const override { return "maintenance"; }
  std::string doc() const override {
    return "`operation` (compact|expire|remove-orphans), `table` (zone.name or \"*\" for every "
           "lake table), optional `older_than`, `retain_last`: `sluice table <operation>`";
  }
  std::vector<std::string> keys() const override {
    return {"operation", "table", "older_than", "retain_last"};
  }
  Status validate(const YAML::Node& t, const std::string& file) const override {
    SLUICE_RETURN_IF_ERROR(require_string(t, file, "operation"));
    SLUICE_RETURN_IF_ERROR(require_string(t, file, "table"));
    auto op = t["operation"].Scalar();
    if (op != "compact" && op != "expire" && op != "remove-orphans")
      return err(file, t["operation"],
                 fmt::format("unknown maintenance operation '{}' (use "
                             "compact, expire or remove-orphans)",
                             op));
    if (t["older_than"] && op == "compact")
      return err(file, t["older_than"], "'older_than' applies to expire and remove-orphans");
    if (t["retain_last"] && op != "expire")
      return err(file, t["retain_last"], "'retain_last' applies to expire");
    return Status::ok();
  }
  Result<std::vector<std::string>> command(const TaskSpec& t, const Vars& vars,
                                           const ExecEnv& env) const override {
    std::vector<std::string> tail;
    std::string op = t.node["operation"].Scalar();
    tail.push_back(op);
    std::vector<std::string> opts;
    if (auto o = t.node["older_than"]) {
      SLUICE_ASSIGN_OR_RETURN(auto v, render(o.Scalar(), vars));
      opts.insert(opts.end(), {"--older-than", v});
    }
    if (auto r = t.node["retain_last"]) opts.insert(opts.end(), {"--retain-last", r.Scalar()});
    SLUICE_ASSIGN_OR_RETURN(auto table, rendered(t, "table", vars));
    auto base = sluice_argv(env);
    if (table != "*") {
      base.push_back("table");
      base.insert(base.end(), tail.begin(), tail.end());
      base.push_back(table);
      base.insert(base.end(), opts.begin(), opts.end());
      return base;
    }
    // Every lake table: list them, then run the operation on each; the first failure fails
    // the task.
    std::string sl;
    for (const auto& x : base)
      sl += shell_quote(x) + " ";
    std::string o;
    for (const auto& x : opts)
      o += " " + shell_quote(x);
    std::string script = fmt::format(
        "set -e\ntables=$({}table list --format csv | tail -n +2 | cut -d, -f1)\n"
        "for t in $tables; do echo \"== {} $t\"; {}table {} \"$t\"{}; done\n"
        "echo \"{} done on $(echo $tables | wc -w) tables\"\n",
        sl, op, sl, op, o, op);
    return std::vector<std::string>{"/bin/sh", "-c", script};
  }
};

class NoopKind : public TaskKind {
 public:
  std::string name() const override { return "noop"; }
  std::string doc() const override {
    return "completes at once, in-process (grouping, tests, benchmarks)";
  }
  std::vector<std::string> keys() const override { return {}; }
  Status validate(const YAML::Node&, const std::string&) const override { return Status::ok(); }
  Result<std::vector<std::string>> command(const TaskSpec&, const Vars&,
                                           const ExecEnv&) const override {
    return std::vector<std::string>{};
  }
};

struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<TaskKind>> kinds;
  Registry() {
    kinds.push_back(std::make_unique<IngestKind>());
    kinds.push_back(std::make_unique<ModelsKind>());
    kinds.push_back(std::make_unique<QualityKind>());
    kinds.push_back(std::make_unique<SqlKind>());
    kinds.push_back(std::make_unique<MaintenanceKind>());
    kinds.push_back(std::make_unique<ShellKind>());
    kinds.push_back(std::make_unique<NoopKind>());
  }
};
Registry& registry() {
  static Registry r;
  return r;
}

const std::set<std::string> kCommonTaskKeys = {"id",
                                               "kind",
                                               "depends_on",
                                               "retries",
                                               "retry_delay",
                                               "retry_exponential_backoff",
                                               "max_retry_delay",
                                               "timeout",
                                               "sla",
                                               "pool",
                                               "env"};
const std::set<std::string> kDagKeys = {
    "dag_id",          "description",      "schedule", "timezone",     "start_date", "catchup",
    "max_active_runs", "max_active_tasks", "params",   "default_args", "tasks"};
const std::set<std::string> kTemplateVars = {
    "ds",      "ds_nodash", "ts",         "data_interval_start", "data_interval_end", "dag_id",
    "task_id", "run_id",    "try_number", "logical_date",        "prev_ds",           "next_ds"};

Status apply_task_setting(TaskSpec& t, const YAML::Node& n, const std::string& key,
                          const std::filesystem::path& file) {
  try {
    if (key == "retries") {
      t.retries = n.as<int>();
      if (t.retries < 0 || t.retries > 100) return err(file, n, "'retries' must be 0..100");
    } else if (key == "retry_exponential_backoff") {
      t.exponential_backoff = n.as<bool>();
    } else if (key == "pool") {
      t.pool = n.as<std::string>();
    } else if (key == "env") {
      if (!n.IsMap()) return err(file, n, "'env' must be a mapping");
      for (const auto& kv : n)
        t.env[kv.first.Scalar()] = kv.second.Scalar();
    } else {
      auto d = parse_duration(n.Scalar());
      if (!d.is_ok()) return err(file, n, fmt::format("'{}': {}", key, d.status().message()));
      if (key == "retry_delay") t.retry_delay_s = *d;
      if (key == "max_retry_delay") t.max_retry_delay_s = *d;
      if (key == "timeout") t.timeout_s = *d;
      if (key == "sla") t.sla_s = *d;
    }
  } catch (const YAML::Exception&) {
    return err(file, n, fmt::format("bad value for '{}'", key));
  }
  return Status::ok();
}

}  // namespace

void register_task_kind(std::unique_ptr<TaskKind> kind) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.kinds.push_back(std::move(kind));
}

const TaskKind* find_task_kind(std::string_view name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (const auto& k : r.kinds)
    if (k->name() == name) return k.get();
  return nullptr;
}

std::vector<const TaskKind*> task_kinds() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<const TaskKind*> out;
  for (const auto& k : r.kinds)
    out.push_back(k.get());
  return out;
}

std::vector<std::string> template_names(std::string_view text) {
  static const std::regex re(R"(\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\})");
  std::vector<std::string> out;
  std::string s(text);
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

Result<std::string> render(std::string_view text, const Vars& vars) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos)
      return invalid_argument(fmt::format("unclosed '{{{{' in template '{}'", text));
    out.append(text.substr(i, open - i));
    std::string name(text.substr(open + 2, close - open - 2));
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    auto it = vars.find(name);
    if (it == vars.end())
      return invalid_argument(fmt::format("unknown template variable '{}'", name));
    out.append(it->second);
    i = close + 2;
  }
  return out;
}

std::string Dag::run_key(int64_t start) const {
  int64_t local = tz.to_local(start);
  return schedule.sub_daily() ? format_local_minute(local) : format_date(local);
}

Result<std::pair<int64_t, int64_t>> Dag::interval_of(std::string_view ds) const {
  SLUICE_ASSIGN_OR_RETURN(int64_t days, parse_date(ds.substr(0, std::min<size_t>(10, ds.size()))));
  int64_t local = days * 86400;
  if (ds.size() > 10) {
    int h = 0, m = 0;
    if (ds.size() != 16 || ds[10] != 'T' ||
        std::sscanf(std::string(ds.substr(11)).c_str(), "%d:%d", &h, &m) != 2)
      return invalid_argument(fmt::format("'{}' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM", ds));
    local += h * 3600 + m * 60;
  }
  int64_t start = tz.to_utc(local);
  if (!schedule.is_none()) {
    // A scheduled tick on that day (or at that minute) starts the interval when there is one.
    auto tick = schedule.next_at_or_after(start, tz);
    if (tick && run_key(*tick) == std::string(ds)) start = *tick;
    auto next = schedule.next_after(start, tz);
    if (next) return std::make_pair(start, *next);
  }
  return std::make_pair(start, tz.to_utc(local + 86400));
}

Result<std::shared_ptr<const Dag>> parse_dag(std::string_view text,
                                             const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    return invalid_argument(
        fmt::format("{}:{}: YAML syntax error: {}", file.string(), e.mark.line + 1, e.msg));
  }
  auto dag = std::make_shared<Dag>();
  dag->file = file;
  if (!root.IsMap())
    return invalid_argument(
        fmt::format("{}:1: a DAG file is a mapping "
                    "with dag_id, schedule and tasks",
                    file.string()));
  for (const auto& kv : root) {
    if (!kDagKeys.count(kv.first.Scalar()))
      return err(file, kv.first, fmt::format("unknown key '{}'", kv.first.Scalar()));
  }
  try {
    dag->dag_id = root["dag_id"] ? root["dag_id"].Scalar() : file.stem().string();
    static const std::regex id_re("[A-Za-z0-9_][A-Za-z0-9_.-]*");
    if (!std::regex_match(dag->dag_id, id_re))
      return err(file, root["dag_id"] ? root["dag_id"] : root,
                 fmt::format("bad dag_id '{}' (letters, digits, _ . -)", dag->dag_id));
    if (root["description"]) dag->description = root["description"].Scalar();
    std::string tzname = root["timezone"] ? root["timezone"].Scalar() : "UTC";
    auto tz = TimeZone::load(tzname);
    if (!tz.is_ok()) return err(file, root["timezone"], tz.status().message());
    dag->tz = *tz;
    std::string sched =
        root["schedule"] && !root["schedule"].IsNull() ? root["schedule"].Scalar() : "none";
    auto s = Schedule::parse(sched);
    if (!s.is_ok()) return err(file, root["schedule"], s.status().message());
    dag->schedule = *s;
    if (auto sd = root["start_date"]) {
      auto d = parse_date(sd.Scalar());
      if (!d.is_ok()) return err(file, sd, "start_date: " + d.status().message());
      dag->start_date = dag->tz.to_utc(*d * 86400);
    } else if (!dag->schedule.is_none()) {
      return err(file, root, "a scheduled DAG needs 'start_date' (YYYY-MM-DD)");
    }
    if (root["catchup"]) dag->catchup = root["catchup"].as<bool>();
    if (root["max_active_runs"]) dag->max_active_runs = root["max_active_runs"].as<int>();
    if (dag->max_active_runs < 1)
      return err(file, root["max_active_runs"], "'max_active_runs' must be at least 1");
    if (root["max_active_tasks"]) dag->max_active_tasks = root["max_active_tasks"].as<int>();
    if (auto p = root["params"]) {
      if (!p.IsMap()) return err(file, p, "'params' must be a mapping");
      for (const auto& kv : p)
        dag->params[kv.first.Scalar()] = kv.second.Scalar();
    }
  } catch (const YAML::Exception& e) {
    return invalid_argument(fmt::format("{}:{}: {}", file.string(), e.mark.line + 1, e.msg));
  }
  TaskSpec defaults;
  if (auto d = root["default_args"]) {
    if (!d.IsMap()) return err(file, d, "'default_args' must be a mapping");
    for (const auto& kv : d) {
      std::string key = kv.first.Scalar();
      if (!kCommonTaskKeys.count(key) || key == "id" || key == "kind" || key == "depends_on")
        return err(file, kv.first, fmt::format("unknown default_args key '{}'", key));
      SLUICE_RETURN_IF_ERROR(apply_task_setting(defaults, kv.second, key, file));
    }
  }
  auto tasks = root["tasks"];
  if (!tasks || !tasks.IsSequence() || tasks.size() == 0)
    return err(file, tasks ? tasks : root, "'tasks' must be a non-empty list");
  std::vector<TaskSpec> specs;
  std::map<std::string, size_t> index;
  std::set<std::string> var_names(kTemplateVars);
  for (const auto& [k, v] : dag->params)
    var_names.insert("params." + k);
  for (const YAML::Node& t : tasks) {
    if (!t.IsMap()) return err(file, t, "a task is a mapping with id and kind");
    TaskSpec spec = defaults;
    spec.line = t.Mark().line + 1;
    spec.node = t;
    if (!t["id"] || !t["id"].IsScalar() || t["id"].Scalar().empty())
      return err(file, t, "task needs 'id'");
    spec.id = t["id"].Scalar();
    static const std::regex tid_re("[A-Za-z0-9_][A-Za-z0-9_.-]*");
    if (!std::regex_match(spec.id, tid_re))
      return err(file, t["id"], fmt::format("bad task id '{}' (letters, digits, _ . -)", spec.id));
    if (index.count(spec.id))
      return err(file, t["id"], fmt::format("duplicate task id '{}'", spec.id));
    if (!t["kind"] || !t["kind"].IsScalar())
      return err(file, t, fmt::format("task '{}' needs 'kind'", spec.id));
    spec.kind = t["kind"].Scalar();
    const TaskKind* kind = find_task_kind(spec.kind);
    if (!kind) {
      std::string names;
      for (const auto* k : task_kinds())
        names += (names.empty() ? "" : ", ") + k->name();
      return err(
          file, t["kind"],
          fmt::format("task '{}': unknown task kind '{}' (known: {})", spec.id, spec.kind, names));
    }
    auto kind_keys = kind->keys();
    for (const auto& kv : t) {
      std::string key = kv.first.Scalar();
      if (kCommonTaskKeys.count(key)) continue;
      if (std::find(kind_keys.begin(), kind_keys.end(), key) == kind_keys.end())
        return err(file, kv.first,
                   fmt::format("task '{}': unknown key '{}' for kind {}", spec.id, key, spec.kind));
      // Template names are checked now, not at run time.
      std::function<Status(const YAML::Node&)> check = [&](const YAML::Node& n) -> Status {
        if (n.IsScalar()) {
          for (const auto& name : template_names(n.Scalar()))
            if (!var_names.count(name))
              return err(file, n,
                         fmt::format("task '{}': unknown template variable '{}'", spec.id, name));
        } else if (n.IsSequence() || n.IsMap()) {
          for (const auto& x : n) {
            YAML::Node child = n.IsMap() ? YAML::Node(x.second) : YAML::Node(x);
            SLUICE_RETURN_IF_ERROR(check(child));
          }
        }
        return Status::ok();
      };
      SLUICE_RETURN_IF_ERROR(check(kv.second));
    }
    for (const auto& kv : t) {
      std::string key = kv.first.Scalar();
      if (key == "id" || key == "kind" || key == "depends_on" || !kCommonTaskKeys.count(key))
        continue;
      SLUICE_RETURN_IF_ERROR(apply_task_setting(spec, kv.second, key, file));
    }
    SLUICE_RETURN_IF_ERROR(kind->validate(t, file.string()));
    SLUICE_ASSIGN_OR_RETURN(spec.upstream, string_list(file, t["depends_on"], "depends_on"));
    index[spec.id] = specs.size();
    specs.push_back(std::move(spec));
  }
  // Dependencies: every name exists; then a topological order (Kahn) or the cycle.
  size_t n = specs.size();
  std::vector<std::vector<size_t>> up(n), down(n);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& u : specs[i].upstream) {
      auto it = index.find(u);
      if (it == index.end())
        return err(file, specs[i].node["depends_on"],
                   fmt::format("task '{}' depends on missing task '{}'", specs[i].id, u));
      if (it->second == i)
        return err(file, specs[i].node["depends_on"],
                   fmt::format("task '{}' depends on itself", specs[i].id));
      up[i].push_back(it->second);
      down[it->second].push_back(i);
    }
  }
  std::vector<size_t> indeg(n), order;
  for (size_t i = 0; i < n; ++i)
    indeg[i] = up[i].size();
  for (size_t i = 0; i < n; ++i)
    if (indeg[i] == 0) order.push_back(i);
  for (size_t k = 0; k < order.size(); ++k)
    for (size_t d : down[order[k]])
      if (--indeg[d] == 0) order.push_back(d);
  if (order.size() != n) {
    // Walk upstream edges from a task left over until one repeats: that is the cycle.
    size_t cur = 0;
    while (indeg[cur] == 0)
      ++cur;
    std::vector<size_t> path;
    std::vector<int> pos(n, -1);
    while (pos[cur] < 0) {
      pos[cur] = static_cast<int>(path.size());
      path.push_back(cur);
      for (size_t u : up[cur])
        if (indeg[u] > 0) {
          cur = u;
          break;
        }
    }
    std::string cycle;
    for (size_t k = static_cast<size_t>(pos[cur]); k < path.size(); ++k)
      cycle += specs[path[k]].id + " -> ";
    cycle += specs[cur].id;
    return invalid_argument(fmt::format("{}:{}: dependency cycle: {} (each depends on the next)",
                                        file.string(), specs[cur].line, cycle));
  }
  for (size_t i : order) {
    dag->index[specs[i].id] = dag->tasks.size();
    dag->tasks.push_back(specs[i]);
  }
  dag->upstream.resize(n);
  dag->downstream.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& u : dag->tasks[i].upstream) {
      size_t j = dag->index[u];
      dag->upstream[i].push_back(j);
      dag->downstream[j].push_back(i);
    }
  }
  return std::shared_ptr<const Dag>(std::move(dag));
}

Result<std::shared_ptr<const Dag>> load_dag_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return io_error(fmt::format("cannot read {}", file.string()));
  std::stringstream b;
  b << in.rdbuf();
  return parse_dag(b.str(), file);
}

DagSet load_dags(const std::filesystem::path& dir) {
  DagSet set;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return set;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto dag = load_dag_file(f);
    if (!dag.is_ok()) {
      set.errors.emplace_back(f.string(), dag.status().message());
      continue;
    }
    const auto& id = (*dag)->dag_id;
    if (set.dags.count(id)) {
      set.errors.emplace_back(f.string(), fmt::format("{}:1: dag_id '{}' is already defined in {}",
                                                      f.string(), id, set.dags[id]->file.string()));
      continue;
    }
    set.dags[id] = *dag;
  }
  return set;
}

std::vector<std::pair<int64_t, int64_t>> due_intervals(const Dag& dag,
                                                       std::optional<int64_t> last_start,
                                                       int64_t now, size_t max) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (dag.schedule.is_none()) return out;
  std::optional<int64_t> start = last_start ? dag.schedule.next_after(*last_start, dag.tz)
                                            : dag.schedule.next_at_or_after(dag.start_date, dag.tz);
  if (!dag.catchup && start) {
    // Only the most recent complete interval (when it is newer than the last run).
    auto latest_end = dag.schedule.next_after(now - 1, dag.tz);  // > now-1, i.e. >= now
    (void)latest_end;
    // Walk back from now: find the last tick <= now (end), and the tick before it (start).
    std::optional<int64_t> end;
    int64_t probe = now;
    for (int i = 0; i < 400 && !end; ++i) {
      int64_t back = probe - 86400LL * (1LL << std::min(i, 10));
      auto t = dag.schedule.next_after(back, dag.tz);
      if (t && *t <= now) {
        // The last tick <= now at or after `back`.
        int64_t last = *t;
        while (true) {
          auto nx = dag.schedule.next_after(last, dag.tz);
          if (!nx || *nx > now) break;
          last = *nx;
        }
        end = last;
      }
      if (back < dag.start_date - 86400LL * 3660) break;
    }
    if (!end) return out;
    // The tick before `end`.
    std::optional<int64_t> prev;
    for (int64_t back = 3600; back <= 86400LL * 400 && !prev; back *= 2) {
      auto t = dag.schedule.next_after(*end - back, dag.tz);
      if (t && *t < *end) {
        int64_t last = *t;
        while (true) {
          auto nx = dag.schedule.next_after(last, dag.tz);
          if (!nx || *nx >= *end) break;
          last = *nx;
        }
        prev = last;
      }
    }
    if (!prev || *prev < *start) return out;
    out.emplace_back(*prev, *end);
    return out;
  }
  while (start && out.size() < max) {
    auto end = dag.schedule.next_after(*start, dag.tz);
    if (!end || *end > now) break;
    out.emplace_back(*start, *end);
    start = end;
  }
  return out;
}

}  // namespace sluice::scheduler

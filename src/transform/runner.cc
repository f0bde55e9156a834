// Running models: materializations, the write-audit-publish gate, and the parallel scheduler.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "common/log.h"
#include "transform/sql_util_internal.h"
#include "transform/transform.h"

namespace sluice::transform {
namespace {

using detail::quote_ident;
using detail::quote_literal;

// The schema of the worker's in-memory database that holds a model run's staged rows.
constexpr const char* kStageSchema = "__sluice_stage";

std::string random_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

std::string local_path(const std::string& p) {
  if (p.rfind("file://", 0) == 0) return p.substr(7);
  if (p.rfind("file:", 0) == 0) return p.substr(5);
  return p;
}

std::string join_idents(const std::vector<std::string>& cols, const std::string& prefix = "") {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i)
    out += (i ? ", " : "") + prefix + quote_ident(cols[i]);
  return out;
}

std::string keys_equal(const std::vector<std::string>& keys, const std::string& a,
                       const std::string& b) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) {
    out += fmt::format("{}{}.{} IS NOT DISTINCT FROM {}.{}", i ? " AND " : "", a,
                       quote_ident(keys[i]), b, quote_ident(keys[i]));
  }
  return out;
}

struct Column {
  std::string name, type;
};

// Removes staged (never committed) files and the folders they leave empty.
void delete_staged(const std::vector<lake::DataFile>& files,
                   const std::filesystem::path& data_dir) {
  std::error_code ec;
  for (const auto& f : files) {
    std::filesystem::path p = local_path(f.file_path);
    std::filesystem::remove(p, ec);
    for (auto d = p.parent_path(); d != data_dir && d.string().size() > data_dir.string().size();
         d = d.parent_path()) {
      if (!std::filesystem::remove(d, ec)) break;  // not empty
    }
  }
}

// Runs one model on one session.
class ModelRun {
 public:
  ModelRun(engine::LakeSession& s, const Model& m, const Project& p, const RunOptions& o)
      : s_(s), m_(m), project_(p), opts_(o), catalog_(s.catalog()) {}

  Status run(ModelResult* out);

 private:
  Result<std::vector<Column>> describe(const std::string& sql) {
    SLUICE_ASSIGN_OR_RETURN(auto r, s_.session().query("DESCRIBE " + sql));
    std::vector<Column> cols;
    for (const auto& row : r.rows)
      cols.push_back({row[0].value_or(""), row[1].value_or("")});
    return cols;
  }
  Status create_table(const std::vector<Column>& cols);
  Status check_schema(const lake::Table& t, const std::vector<Column>& cols);
  std::vector<Check> checks_for() const {
    std::vector<Check> out;
    for (const auto& tc : project_.checks)
      if (tc.table == m_.name()) out.insert(out.end(), tc.checks.begin(), tc.checks.end());
    return out;
  }
  // The write-audit-publish step: `added` replaces `removed` only if no error check fails on
  // the would-be snapshot.
  // `checked` (if not empty) is a relation holding exactly the would-be snapshot's rows, which
  // the checks read instead of the staged files.
  Status publish(lake::Table& table, const std::vector<lake::DataFile>& removed,
                 const std::vector<lake::DataFile>& added, ModelResult* out,
                 const std::string& checked = "");

  engine::LakeSession& s_;
  const Model& m_;
  const Project& project_;
  const RunOptions& opts_;
  lake::Catalog& catalog_;
  bool created_ = false;
};

Status ModelRun::create_table(const std::vector<Column>& cols) {
  std::string ddl =
      fmt::format("CREATE TABLE {}.{} (", quote_ident(m_.ident.ns), quote_ident(m_.ident.name));
  for (size_t i = 0; i < cols.size(); ++i)
    ddl += fmt::format("{}{} {}", i ? ", " : "", quote_ident(cols[i].name), cols[i].type);
  ddl += ")";
  if (!m_.config.partition_by.empty()) {
    ddl += " PARTITIONED BY (";
    for (size_t i = 0; i < m_.config.partition_by.size(); ++i) {
      const auto& [col, tr] = m_.config.partition_by[i];
      std::string part = quote_ident(col);
      if (tr == "identity") {
      } else if (tr.find('[') != std::string::npos) {
        auto b = tr.find('[');
        part = fmt::format("{}({}, {})", tr.substr(0, b), tr.substr(b + 1, tr.size() - b - 2),
                           quote_ident(col));
      } else {
        part = fmt::format("{}({})", tr, quote_ident(col));
      }
      ddl += (i ? ", " : "") + part;
    }
    ddl += ")";
  }
  auto r = s_.run(ddl);
  if (!r.is_ok()) return r.status().with_context("creating " + m_.name());
  created_ = true;
  return Status::ok();
}

Status ModelRun::check_schema(const lake::Table& t, const std::vector<Column>& cols) {
  const auto& schema = t.metadata().current_schema();
  std::vector<std::string> added, gone;
  std::set<std::string> names;
  for (const auto& c : cols) {
    names.insert(c.name);
    if (schema.find_field(c.name) == nullptr) added.push_back(c.name);
  }
  for (const auto& f : schema.fields)
    if (!names.count(f.name)) gone.push_back(f.name);
  if (added.empty() && gone.empty()) return Status::ok();
  return invalid_argument(fmt::format(
      "the columns of {} changed (new: {}; gone: {}); run it with --full-refresh to rebuild the "
      "table",
      m_.name(), added.empty() ? "none" : fmt::format("{}", fmt::join(added, ", ")),
      gone.empty() ? "none" : fmt::format("{}", fmt::join(gone, ", "))));
}

Status ModelRun::publish(lake::Table& table, const std::vector<lake::DataFile>& removed,
                         const std::vector<lake::DataFile>& added, ModelResult* out,
                         const std::string& checked) {
  auto fail = [&](Status st) {
    delete_staged(added, table.data_dir());
    if (created_) (void)catalog_.drop_table(m_.ident, true);
    return st;
  };
  // The would-be snapshot: the current files minus `removed`, plus `added`.
  auto plan = table.plan_scan({});
  if (!plan.is_ok()) return fail(plan.status());
  std::set<std::string> gone;
  for (const auto& f : removed)
    gone.insert(f.file_path);
  lake::ScanPlan staged;
  staged.schema = plan->schema;
  for (const auto& t : plan->tasks)
    if (!gone.count(t.data_file.file_path)) staged.tasks.push_back(t);
  for (const auto& f : added) {
    lake::ScanTask t;
    t.data_file = f;
    t.data_file.data_sequence_number = std::numeric_limits<int64_t>::max();
    staged.tasks.push_back(std::move(t));
  }
  for (const auto& f : added)
    out->rows_written += f.record_count;
  log::debug("model files written", {log::kv("model", m_.name()), log::kv("files", added.size())});
  auto checks = checks_for();
  if (!checks.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    out->checks = run_checks(s_, m_.name(),
                             checked.empty() ? engine::scan_plan_sql(staged) : checked, checks);
    log::debug(
        "model checked",
        {log::kv("model", m_.name()), log::kv("checks", checks.size()),
         log::kv("seconds",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count())});
    std::vector<const CheckResult*> failed;
    for (const auto& r : out->checks)
      if (!r.passed && r.severity == Severity::kError) failed.push_back(&r);
    if (!failed.empty()) {
      std::vector<CheckResult> fr;
      for (const auto* r : failed)
        fr.push_back(*r);
      return fail(invalid_argument(fmt::format(
          "{}: {} error check(s) failed; nothing was published ({}):\n{}", m_.name(), failed.size(),
          created_ ? "the table was not created" : "the table keeps its previous snapshot",
          format_results(fr))));
    }
  }
  Status st = Status::ok();
  if (removed.empty()) {
    if (!added.empty()) st = table.append(added, {{"sluice.model-run", opts_.run_id}});
  } else {
    st = table.overwrite(removed, added, {});
  }
  if (!st.is_ok()) return fail(st.with_context("publishing " + m_.name()));
  SLUICE_RETURN_IF_ERROR(table.refresh());
  out->snapshot_id = table.metadata().current_snapshot_id;
  for (auto& r : out->checks)
    r.snapshot_id = out->snapshot_id;
  return Status::ok();
}

Status ModelRun::run(ModelResult* out) {
  const auto& cfg = m_.config;
  SLUICE_ASSIGN_OR_RETURN(auto rendered, render_model(m_, opts_));
  auto bq = s_.prepare_query(rendered);
  if (!bq.is_ok()) return bq.status().with_context(m_.file.string());
  std::string q = "(" + *bq + ")";

  if (cfg.materialized == Materialization::kView) {
    for (const auto& p : cfg.pii) {
      if (p.method == PiiMethod::kHash) {
        return invalid_argument(fmt::format(
            "{}: pii hash on a view would need the salt at query time; materialize it as a table",
            m_.name()));
      }
    }
    SLUICE_RETURN_IF_ERROR(describe(q).status().with_context(m_.file.string()));
    auto checks = checks_for();
    if (!checks.empty()) {
      out->checks = run_checks(s_, m_.name(), *bq, checks);
      for (const auto& r : out->checks) {
        if (!r.passed && r.severity == Severity::kError) {
          return invalid_argument(fmt::format("{}: error check failed; the view was not saved:\n{}",
                                              m_.name(), format_results(out->checks)));
        }
      }
    }
    return engine::save_lake_view(catalog_, m_.ident, rendered);
  }
  (void)engine::drop_lake_view(catalog_, m_.ident);

  if (opts_.full_refresh && catalog_.table_exists(m_.ident)) {
    SLUICE_RETURN_IF_ERROR(catalog_.drop_table(m_.ident, true));
  }
  SLUICE_ASSIGN_OR_RETURN(auto cols, describe(q));
  std::vector<std::string> names;
  for (const auto& c : cols)
    names.push_back(c.name);
  auto require = [&](const std::vector<std::string>& wanted, const char* what) -> Status {
    for (const auto& w : wanted) {
      if (std::find(names.begin(), names.end(), w) == names.end()) {
        return invalid_argument(fmt::format("{}: {} column '{}' is not in the query's columns ({})",
                                            m_.name(), what, w, fmt::join(names, ", ")));
      }
    }
    return Status::ok();
  };
  SLUICE_RETURN_IF_ERROR(require(cfg.unique_key, "unique_key"));
  SLUICE_RETURN_IF_ERROR(require(cfg.check_cols, "check_cols"));
  for (const auto& [c, _] : cfg.partition_by)
    SLUICE_RETURN_IF_ERROR(require({c}, "partition_by"));

  std::vector<Column> table_cols = cols;
  if (cfg.materialized == Materialization::kScd2) {
    SLUICE_RETURN_IF_ERROR(require({cfg.updated_at}, "updated_at"));
    for (const char* c : {"valid_from", "valid_to", "is_current"}) {
      if (std::find(names.begin(), names.end(), c) != names.end()) {
        return invalid_argument(
            fmt::format("{}: scd2 adds the column '{}'; the query must not have it", m_.name(), c));
      }
    }
    table_cols.push_back({"valid_from", "TIMESTAMP"});
    table_cols.push_back({"valid_to", "TIMESTAMP"});
    table_cols.push_back({"is_current", "BOOLEAN"});
  }
  if (!catalog_.table_exists(m_.ident)) SLUICE_RETURN_IF_ERROR(create_table(table_cols));
  auto table_r = catalog_.load_table(m_.ident);
  if (!table_r.is_ok()) return table_r.status();
  lake::Table table = std::move(table_r).value();
  auto st = check_schema(table, table_cols);
  if (!st.is_ok()) {
    if (created_) (void)catalog_.drop_table(m_.ident, true);
    return st;
  }
  SLUICE_ASSIGN_OR_RETURN(auto plan, table.plan_scan({}));
  std::vector<lake::DataFile> all_files;
  for (const auto& t : plan.tasks)
    all_files.push_back(t.data_file);
  std::string cur = "(" + engine::scan_plan_sql(plan) + ")";
  std::string cur_f = "(" + engine::scan_plan_sql(plan, true) + ")";
  std::string file_col = quote_ident(engine::kScanFileColumn);

  auto write = [&](const std::string& select,
                   bool shareable = false) -> Result<std::vector<lake::DataFile>> {
    engine::WriteOptions wo;
    wo.shareable_source = shareable;
    auto r = s_.write_data_files(table, select, wo);
    if (!r.is_ok()) {
      if (created_) (void)catalog_.drop_table(m_.ident, true);
      return r.status().with_context(m_.name());
    }
    return r;
  };
  auto files_of = [&](const std::string& sql) -> Result<std::vector<lake::DataFile>> {
    SLUICE_ASSIGN_OR_RETURN(auto r, s_.session().query(sql));
    std::set<std::string> paths;
    for (const auto& row : r.rows)
      if (row[0]) paths.insert(*row[0]);
    std::vector<lake::DataFile> out;
    for (const auto& f : all_files)
      if (paths.count(local_path(f.file_path))) out.push_back(f);
    return out;
  };
  // The new rows, evaluated once.
  std::string staged = "__sluice_new_" + random_id();
  auto stage = [&]() -> Status {
    return s_.session()
        .execute(fmt::format("CREATE TEMP TABLE {} AS SELECT * FROM {} AS __q", staged, q))
        .with_context(m_.file.string());
  };
  struct DropStaged {
    engine::LakeSession& s;
    std::string name;
    ~DropStaged() { (void)s.session().execute("DROP TABLE IF EXISTS " + name); }
  } drop_staged{s_, staged};

  // When the new rows replace the whole table and checks gate the publish, the rows are
  // materialized once, in a table with the table's column types: the data files are written
  // from it and the checks read it, instead of reading the new files back once per check. It is
  // a regular table of the worker's in-memory database (not a temp table), so a partitioned
  // write can read it from parallel connections.
  std::string out_rows = std::string(kStageSchema) + ".__sluice_out_" + random_id();
  DropStaged drop_out_rows{s_, out_rows};
  auto write_all = [&](const std::string& select) -> Result<std::vector<lake::DataFile>> {
    if (checks_for().empty()) return write(select);
    lake::ScanPlan typed;  // no files: an empty relation with the table's column types
    typed.schema = table.metadata().current_schema();
    Status st =
        s_.session().execute(fmt::format("CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE {} AS {}",
                                         kStageSchema, out_rows, engine::scan_plan_sql(typed)));
    if (st.is_ok()) {
      st = s_.session().execute(
          fmt::format("INSERT INTO {} BY NAME SELECT * FROM ({}) AS __s", out_rows, select));
    }
    if (!st.is_ok()) {
      if (created_) (void)catalog_.drop_table(m_.ident, true);
      return st.with_context(m_.file.string());
    }
    log::debug("model rows staged", {log::kv("model", m_.name())});
    return write("SELECT * FROM " + out_rows, true);
  };
  auto checked = [&] { return checks_for().empty() ? std::string() : "SELECT * FROM " + out_rows; };

  bool replace_all = cfg.materialized == Materialization::kTable ||
                     (cfg.materialized == Materialization::kIncremental && plan.tasks.empty());
  if (replace_all) {
    SLUICE_ASSIGN_OR_RETURN(auto added, write_all("SELECT * FROM " + q + " AS __q"));
    return publish(table, all_files, added, out, checked());
  }
  if (cfg.materialized == Materialization::kIncremental) {
    if (cfg.strategy == Strategy::kAppend) {
      SLUICE_ASSIGN_OR_RETURN(auto added, write("SELECT * FROM " + q + " AS __q"));
      return publish(table, {}, added, out);
    }
    SLUICE_RETURN_IF_ERROR(stage());
    std::string all_cols = join_idents(names);
    if (cfg.strategy == Strategy::kMerge) {
      // Copy-on-write upsert: the files holding a key of the new rows are rewritten without
      // those rows, and the new rows are added.
      std::string match = fmt::format("EXISTS (SELECT 1 FROM {} AS n WHERE {})", staged,
                                      keys_equal(cfg.unique_key, "n", "c"));
      SLUICE_ASSIGN_OR_RETURN(
          auto removed, files_of(fmt::format("SELECT DISTINCT c.{} FROM {} AS c WHERE {}", file_col,
                                             cur_f, match)));
      std::vector<std::string> paths;
      for (const auto& f : removed)
        paths.push_back(quote_literal(local_path(f.file_path)));
      std::string keep =
          paths.empty()
              ? ""
              : fmt::format("SELECT {} FROM {} AS c WHERE c.{} IN ({}) AND NOT {} UNION ALL ",
                            join_idents(names, "c."), cur_f, file_col, fmt::join(paths, ", "),
                            match);
      SLUICE_ASSIGN_OR_RETURN(auto added,
                              write(fmt::format("{}SELECT {} FROM {}", keep, all_cols, staged)));
      return publish(table, removed, added, out);
    }
    // insert_overwrite: the rows of the logical day are replaced.
    if (opts_.ds.empty()) return invalid_argument(m_.name() + ": insert_overwrite needs --ds");
    std::string day_col = quote_ident(cfg.partition_by.front().first);
    std::string in_day =
        fmt::format("CAST({{}}.{} AS DATE) = DATE {}", day_col, quote_literal(opts_.ds));
    auto in_day_of = [&](const std::string& alias) {
      return fmt::format(fmt::runtime(in_day), alias);
    };
    SLUICE_ASSIGN_OR_RETURN(
        auto outside, s_.session().query(fmt::format("SELECT count(*) FROM {} AS n WHERE NOT ({})",
                                                     staged, in_day_of("n"))));
    int64_t n_out = std::stoll(outside.rows.at(0).at(0).value_or("0"));
    if (n_out > 0) {
      return invalid_argument(fmt::format(
          "{}: insert_overwrite for ds={} replaces that day only, but the query returned {} "
          "row(s) whose {} is another day (or NULL); filter the query on {{{{ ds }}}}",
          m_.name(), opts_.ds, n_out, cfg.partition_by.front().first));
    }
    SLUICE_ASSIGN_OR_RETURN(
        auto removed, files_of(fmt::format("SELECT DISTINCT c.{} FROM {} AS c WHERE {}", file_col,
                                           cur_f, in_day_of("c"))));
    std::vector<std::string> paths;
    for (const auto& f : removed)
      paths.push_back(quote_literal(local_path(f.file_path)));
    std::string keep =
        paths.empty()
            ? ""
            : fmt::format("SELECT {} FROM {} AS c WHERE c.{} IN ({}) AND NOT ({}) UNION ALL ",
                          join_idents(names, "c."), cur_f, file_col, fmt::join(paths, ", "),
                          in_day_of("c"));
    SLUICE_ASSIGN_OR_RETURN(auto added,
                            write(fmt::format("{}SELECT {} FROM {}", keep, all_cols, staged)));
    return publish(table, removed, added, out);
  }

  // scd2: the whole history is rebuilt from the existing versions and the new source rows, as a
  // sequence of events per key (versions and deletes) ordered by time.
  SLUICE_RETURN_IF_ERROR(stage());
  std::vector<std::string> check_cols = cfg.check_cols;
  if (check_cols.empty()) {
    for (const auto& n : names) {
      if (n == cfg.updated_at) continue;
      if (std::find(cfg.unique_key.begin(), cfg.unique_key.end(), n) != cfg.unique_key.end())
        continue;
      check_cols.push_back(n);
    }
  }
  std::string deleted_at =
      opts_.ds.empty() ? "CAST(now() AS TIMESTAMP)"
                       : fmt::format("TIMESTAMP {}", quote_literal(*shift_date(opts_.ds, 1)));
  // Only key columns survive into delete events.
  std::string key_only;
  for (size_t i = 0; i < names.size(); ++i) {
    bool is_key =
        std::find(cfg.unique_key.begin(), cfg.unique_key.end(), names[i]) != cfg.unique_key.end();
    key_only += fmt::format("{}{} AS {}", i ? ", " : "",
                            is_key ? "h." + quote_ident(names[i]) : "NULL", quote_ident(names[i]));
  }
  std::string part = join_idents(cfg.unique_key);
  std::string cc = "row(" + join_idents(check_cols) + ")";
  std::string ev = fmt::format(
      "SELECT {0}, h.valid_from AS __ts, false AS __del, 0 AS __src FROM {1} AS h "
      "UNION ALL SELECT {2}, h.valid_to, true, 0 FROM {1} AS h WHERE h.valid_to IS NOT NULL AND "
      "NOT EXISTS (SELECT 1 FROM {1} AS h2 WHERE {3} AND h2.valid_from = h.valid_to) "
      "UNION ALL SELECT {4}, CAST(s.{5} AS TIMESTAMP), false, 1 FROM {6} AS s",
      join_idents(names, "h."), cur, key_only, keys_equal(cfg.unique_key, "h2", "h"),
      join_idents(names, "s."), quote_ident(cfg.updated_at), staged);
  if (cfg.close_deleted) {
    ev += fmt::format(
        " UNION ALL SELECT {}, {}, true, 1 FROM {} AS h WHERE h.is_current AND NOT EXISTS "
        "(SELECT 1 FROM {} AS s WHERE {})",
        key_only, deleted_at, cur, staged, keys_equal(cfg.unique_key, "s", "h"));
  }
  std::string history = fmt::format(
      "WITH ev AS ({0}), "
      "one AS (SELECT * FROM ev QUALIFY row_number() OVER (PARTITION BY {1}, __ts ORDER BY __src, "
      "__del) = 1), "
      "chg AS (SELECT *, (lag({2}) OVER w IS DISTINCT FROM {2} OR lag(__del) OVER w IS DISTINCT "
      "FROM __del) AS __changed FROM one WINDOW w AS (PARTITION BY {1} ORDER BY __ts)), "
      "kept AS (SELECT *, lead(__ts) OVER (PARTITION BY {1} ORDER BY __ts) AS __next FROM chg "
      "WHERE __changed) "
      "SELECT {3}, __ts AS valid_from, __next AS valid_to, __next IS NULL AS is_current FROM kept "
      "WHERE NOT __del",
      ev, part, cc, join_idents(names));
  SLUICE_ASSIGN_OR_RETURN(auto added, write_all(history));
  return publish(table, all_files, added, out, checked());
}

}  // namespace

bool RunReport::ok() const {
  return std::all_of(models.begin(), models.end(),
                     [](const ModelResult& m) { return m.state == ModelResult::State::kSuccess; });
}

Result<std::string> render_model(const Model& model, const RunOptions& options) {
  RenderContext ctx;
  ctx.ds = options.ds.empty() ? today() : options.ds;
  ctx.vars = options.vars;
  ctx.this_table = model.name();
  SLUICE_ASSIGN_OR_RETURN(auto sql, render_template(model.sql, ctx, model.file.string()));
  while (!sql.empty() &&
         (sql.back() == ';' || std::isspace(static_cast<unsigned char>(sql.back()))))
    sql.pop_back();
  return apply_pii(sql, model.config.pii);
}

Result<RunReport> run_models(std::shared_ptr<lake::Catalog> catalog, const Project& project,
                             const Graph& graph, const std::vector<std::string>& models,
                             const RunOptions& options_in,
                             const std::function<void(const ModelResult&)>& progress) {
  RunOptions options = options_in;
  if (options.run_id.empty()) options.run_id = random_id();
  if (options.ds.empty()) options.ds = today();
  SLUICE_RETURN_IF_ERROR(shift_date(options.ds, 0).status().with_context("--ds"));
  bool needs_salt = false;
  for (const auto& name : models) {
    const Model* m = project.find(name);
    if (m == nullptr) return not_found("no model " + name);
    for (const auto& p : m->config.pii)
      needs_salt = needs_salt || p.method == PiiMethod::kHash;
  }
  if (needs_salt && options.pii_salt.empty()) {
    return invalid_argument(
        "a model hashes PII but no salt is set: set SLUICE_PII_SALT (or transform.pii_salt)");
  }
  int workers = std::max(1, std::min<int>(options.threads, static_cast<int>(models.size())));

  // Scheduler state: a model is ready when every selected upstream model has succeeded.
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> selected(models.begin(), models.end());
  std::map<std::string, int> pending;
  std::deque<std::string> ready;
  for (const auto& n : models) {
    int k = 0;
    for (const auto& u : graph.upstream(n))
      k += static_cast<int>(selected.count(u));
    pending[n] = k;
  }
  for (const auto& n : models)
    if (pending[n] == 0) ready.push_back(n);
  size_t finished = 0;
  RunReport report;
  report.run_id = options.run_id;
  std::map<std::string, std::string> skipped;  // model -> failed upstream
  Status setup_error = Status::ok();

  auto finish = [&](ModelResult r) {
    // Called with mu held.
    ++finished;
    if (r.state == ModelResult::State::kSuccess) {
      for (const auto& d : graph.downstream(r.model)) {
        if (selected.count(d) && !skipped.count(d) && --pending[d] == 0) ready.push_back(d);
      }
    } else {
      std::vector<std::string> stack{r.model};
      while (!stack.empty()) {
        auto n = stack.back();
        stack.pop_back();
        for (const auto& d : graph.downstream(n)) {
          if (selected.count(d) && !skipped.count(d)) {
            skipped[d] = r.model;
            ++finished;
            stack.push_back(d);
          }
        }
      }
    }
    if (progress) progress(r);
    report.models.push_back(std::move(r));
    cv.notify_all();
  };

  auto worker = [&]() {
    auto db = engine::Database::open_in_memory(options.engine);
    Result<engine::LakeSession> session =
        db.is_ok() ? engine::LakeSession::open(catalog, *db, options.lake)
                   : Result<engine::LakeSession>(db.status());
    if (session.is_ok() && !options.pii_salt.empty()) {
      Status st = session->session().execute(
          fmt::format("SET VARIABLE sluice_pii_salt = {}", quote_literal(options.pii_salt)));
      if (!st.is_ok()) session = Status(StatusCode::kInternal, "cannot set the PII salt");
    }
    while (true) {
      std::string name;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !ready.empty() || finished >= models.size(); });
        if (ready.empty()) return;
        name = ready.front();
        ready.pop_front();
      }
      ModelResult r;
      r.model = name;
      auto t0 = std::chrono::steady_clock::now();
      Status st = session.status();
      if (st.is_ok()) {
        ModelRun run(*session, *project.find(name), project, options);
        st = run.run(&r);
      }
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      r.state = st.is_ok() ? ModelResult::State::kSuccess : ModelResult::State::kFailed;
      if (!st.is_ok()) r.message = st.message();
      log::info(st.is_ok() ? "model published" : "model failed",
                {log::kv("model", name), log::kv("run_id", options.run_id),
                 log::kv("rows", r.rows_written), log::kv("seconds", r.seconds)});
      std::lock_guard lock(mu);
      finish(std::move(r));
    }
  };
  // The checks' results of every model go to _system.quality_results in one commit when the run
  // ends (a commit per model cost ~70 ms each and grew the table's snapshot list).
  std::optional<engine::LakeSession> results_session;
  {
    bool any_checks = false;
    for (const auto& tc : project.checks)
      any_checks = any_checks || selected.count(tc.table);
    if (any_checks) {
      SLUICE_ASSIGN_OR_RETURN(auto db, engine::Database::open_in_memory(options.engine));
      SLUICE_ASSIGN_OR_RETURN(auto s, engine::LakeSession::open(catalog, db, options.lake));
      SLUICE_RETURN_IF_ERROR(ensure_results_table(s));
      results_session.emplace(std::move(s));
    }
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i)
    threads.emplace_back(worker);
  for (auto& t : threads)
    t.join();
  if (results_session) {
    std::vector<CheckResult> results;
    for (const auto& m : report.models)
      results.insert(results.end(), m.checks.begin(), m.checks.end());
    auto rec = record_results(*results_session, options.run_id, results);
    if (!rec.is_ok()) log::warn("quality results not recorded", {log::kv("error", rec.message())});
  }
  for (const auto& n : models) {
    auto it = skipped.find(n);
    if (it == skipped.end()) continue;
    ModelResult r;
    r.model = n;
    r.state = ModelResult::State::kSkipped;
    r.message = "upstream model " + it->second + " failed";
    if (progress) progress(r);
    report.models.push_back(std::move(r));
  }
  (void)setup_error;
  return report;
}

}  // namespace sluice::transform

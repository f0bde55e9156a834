// Batch transforms: SQL models raw -> refined -> curated, their dependency graph, materializations
// (table, view, incremental append/merge/insert_overwrite, scd2), PII policies and the
// write-audit-publish gate of data quality checks (quality.h). See docs/transform.md.
//
// A project is a folder: models in `jobs/batch/<zone>/<name>.sql` (each producing `<zone>.<name>`,
// configured by a leading `-- config: key=value, ...` comment block) and checks in
// `quality/*.yaml`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "engine/lake_session.h"
#include "lake/lake.h"
#include "transform/quality.h"

namespace sluice::transform {

enum class Materialization { kTable, kView, kIncremental, kScd2 };
enum class Strategy { kAppend, kMerge, kInsertOverwrite };
enum class PiiMethod { kHash, kMask, kRedact };

struct PiiColumn {
  std::string column;
  PiiMethod method = PiiMethod::kHash;
};

// The `-- config:` header of a model.
struct ModelConfig {
  Materialization materialized = Materialization::kTable;
  Strategy strategy = Strategy::kAppend;  // incremental only
  std::vector<std::string> unique_key;    // merge; scd2 (the natural key)
  // (column, Iceberg transform) pairs, e.g. {"order_ts", "day"}; applied when the table is created.
  std::vector<std::pair<std::string, std::string>> partition_by;
  std::vector<PiiColumn> pii;
  std::vector<std::string> check_cols;  // scd2: a change in these makes a new version
  std::string updated_at;               // scd2: when each source row's version became true
  bool close_deleted = true;            // scd2: keys missing from the source close their row
  std::vector<std::string> tags;
};

struct Model {
  lake::TableIdent ident;      // <zone>.<name>
  std::filesystem::path file;  // jobs/batch/<zone>/<name>.sql
  std::string sql;             // the template, header included (line numbers stay right)
  ModelConfig config;
  std::set<std::string> references;  // zone.table names the SQL reads (not itself)
  std::string name() const { return ident.to_string(); }
};

// Parses a model's leading `-- config:` lines; errors name `file:line`.
Result<ModelConfig> parse_model_config(std::string_view sql, const std::string& file);

// Templating: {{ ds }} (YYYY-MM-DD), {{ next_ds }}, {{ prev_ds }}, {{ ds_nodash }},
// {{ this }} (the model's table), {{ var('x') }} and {{ var('x', 'default') }}. Anything else is
// an error naming `file:line`.
struct RenderContext {
  std::string ds;                           // the logical date, YYYY-MM-DD
  std::map<std::string, std::string> vars;  // --var k=v
  std::string this_table;                   // zone.name of the model being rendered
};
Result<std::string> render_template(std::string_view text, const RenderContext& ctx,
                                    const std::string& file);
// YYYY-MM-DD shifted by `days`; kInvalidArgument when `ds` is not a valid date.
Result<std::string> shift_date(const std::string& ds, int days);
// Today's date (UTC) as YYYY-MM-DD.
std::string today();

struct Project {
  std::filesystem::path dir;
  std::vector<Model> models;  // sorted by name
  std::vector<TableChecks> checks;
  const Model* find(const std::string& name) const;
};

// Reads models and quality files. `zones` are the namespaces whose `zone.table` names count as
// table references (the lake's namespaces; model zones are added).
Result<Project> load_project(const std::filesystem::path& dir, const std::set<std::string>& zones);

// The models' dependency graph (edges only between models of the project).
class Graph {
 public:
  static Result<Graph> build(const Project& project);  // kInvalidArgument naming a cycle
  const std::vector<std::string>& upstream(const std::string& model) const;
  const std::vector<std::string>& downstream(const std::string& model) const;
  // All models in a dependency order (parents first; ties by name).
  const std::vector<std::string>& order() const { return order_; }
  // Resolves selectors: `name` (zone.name, or a bare name when unique), `+name` (with its
  // ancestors), `name+` (with its descendants), `zone.*`. Empty: every model. Result in
  // dependency order.
  Result<std::vector<std::string>> select(const std::vector<std::string>& selectors) const;

 private:
  std::map<std::string, std::vector<std::string>> up_, down_;
  std::vector<std::string> order_;
};

// SQL expression applying a PII method to a column (the salt is read from the DuckDB variable
// `sluice_pii_salt`, set by the runner, so it never appears in rendered SQL or logs).
std::string pii_expression(const std::string& column, PiiMethod method);
// `SELECT * REPLACE (...) FROM (<sql>)` with the model's PII columns transformed; `sql` itself
// when none are declared.
std::string apply_pii(const std::string& sql, const std::vector<PiiColumn>& pii);

struct RunOptions {
  std::string ds;  // default: today
  std::map<std::string, std::string> vars;
  int threads = 1;               // models run at once
  std::string pii_salt;          // from transform.pii_salt / SLUICE_PII_SALT
  bool full_refresh = false;     // drop and rebuild every selected model's table
  std::string run_id;            // default: random
  engine::EngineOptions engine;  // per worker database
  engine::LakeSessionOptions lake;
};

struct ModelResult {
  std::string model;
  enum class State { kSuccess, kFailed, kSkipped } state = State::kSkipped;
  std::string message;  // error, or which upstream failed
  int64_t rows_written = 0;
  std::optional<int64_t> snapshot_id;
  double seconds = 0;
  std::vector<CheckResult> checks;
};

struct RunReport {
  std::string run_id;
  std::vector<ModelResult> models;  // in the order they finished (skipped last)
  bool ok() const;
};

// Renders one model for `plan`: its SQL after templating and PII, as it will run.
Result<std::string> render_model(const Model& model, const RunOptions& options);

// Runs the models named (dependency order, up to options.threads at once, each on its own DuckDB
// database). Each model is ONE lake commit to its table, published only if its `error` checks
// pass; a failed model leaves its table as it was and skips its descendants. `progress` is
// called (from worker threads, serialized) as each model finishes.
Result<RunReport> run_models(std::shared_ptr<lake::Catalog> catalog, const Project& project,
                             const Graph& graph, const std::vector<std::string>& models,
                             const RunOptions& options,
                             const std::function<void(const ModelResult&)>& progress = {});

}  // namespace sluice::transform

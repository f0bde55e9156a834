// Data quality checks (`quality/*.yaml`), run against a published table (`sluice quality run`) or
// a staged, unpublished snapshot of a model's table (write-audit-publish). See docs/quality.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/lake_session.h"

namespace sluice::transform {

enum class Severity { kWarn, kError };

struct Check {
  // not_null, unique, accepted_values, range, regex, relationships, freshness, row_count,
  // reconcile, sql
  std::string type;
  std::string name;  // shown in reports; default: type(columns)
  Severity severity = Severity::kError;
  std::vector<std::string> columns;
  std::vector<std::string> values;      // accepted_values
  std::optional<std::string> min, max;  // range, row_count (SQL literals)
  std::string pattern;                  // regex
  std::string to, field;                // relationships: to table and its column
  std::string max_age;                  // freshness: 30m, 12h, 2d
  std::string with;                     // reconcile: the other table
  std::string with_where;               // reconcile: filter on the other table
  double tolerance = 0;                 // reconcile: allowed difference in rows
  std::string sql;                      // sql: query over {{ this }} returning failing rows
  std::string where;                    // optional filter on the checked table's rows
  std::string file;                     // file:line, for messages
};

struct TableChecks {
  std::string table;  // zone.name
  std::vector<Check> checks;
};

// Parses one quality YAML file: either `table: zone.name` + `checks: [...]`, or `tables:` with a
// list of those. Errors name `file:line`.
Result<std::vector<TableChecks>> parse_quality_file(std::string_view text, const std::string& file);
// Every quality/*.yaml under a project folder (none is fine).
Result<std::vector<TableChecks>> load_quality_dir(const std::filesystem::path& dir);

struct CheckResult {
  std::string table;
  std::string check;
  Severity severity = Severity::kError;
  bool passed = false;
  int64_t failing_count = 0;
  std::string sample;                  // up to 5 failing rows, one per line
  std::string error;                   // the check itself could not run (counts as failed)
  std::optional<int64_t> snapshot_id;  // the snapshot checked (staged snapshots have none yet)
};

// Runs `checks` on `relation_sql` (a SELECT giving the table's rows, e.g. a staged snapshot).
// Lake tables named by checks (relationships, reconcile, sql) are bound by `session`.
std::vector<CheckResult> run_checks(engine::LakeSession& session, const std::string& table,
                                    const std::string& relation_sql,
                                    const std::vector<Check>& checks);

// Appends results to `_system.quality_results` (created on first use) in one commit.
Status record_results(engine::LakeSession& session, const std::string& run_id,
                      const std::vector<CheckResult>& results);
// Creates `_system.quality_results` if missing (call once before parallel writers).
Status ensure_results_table(engine::LakeSession& session);

// A readable report: one line per check, failing ones followed by their sample rows.
std::string format_results(const std::vector<CheckResult>& results);

const char* severity_name(Severity s);

}  // namespace sluice::transform

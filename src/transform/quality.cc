// Data quality checks: YAML parsing, the failing-rows SQL of each check type, results.
#include "transform/quality.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "common/log.h"
#include "transform/sql_util_internal.h"

namespace sluice::transform {
namespace {

using detail::quote_ident;
using detail::quote_literal;

const char* const kKnownChecks[] = {
    "not_null",      "unique",    "accepted_values", "range",     "regex",
    "relationships", "freshness", "row_count",       "reconcile", "sql"};

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0';
}

std::string sql_value(const std::string& s) {
  return is_number(s) ? s : quote_literal(s);
}

std::string where_of(const YAML::Node& n, const std::string& key) {
  return n[key] ? n[key].as<std::string>() : "";
}

Result<Check> parse_check(const YAML::Node& n, const std::string& file) {
  Check c;
  int line = n.Mark().line + 1;
  c.file = fmt::format("{}:{}", file, line);
  auto err = [&](const std::string& what) {
    return invalid_argument(fmt::format("{}: {}", c.file, what));
  };
  if (!n.IsMap()) return err("a check is a map with a 'check:' key");
  if (!n["check"])
    return err(
        "missing 'check:' (one of not_null, unique, accepted_values, range, "
        "regex, relationships, freshness, row_count, reconcile, sql)");
  c.type = n["check"].as<std::string>();
  if (std::find(std::begin(kKnownChecks), std::end(kKnownChecks), c.type) ==
      std::end(kKnownChecks)) {
    return err(
        fmt::format("unknown check '{}' (known: not_null, unique, accepted_values, range, regex, "
                    "relationships, freshness, row_count, reconcile, sql)",
                    c.type));
  }
  static const std::set<std::string> kKeys = {
      "check", "name",  "severity", "column", "columns",    "values",    "min", "max",  "pattern",
      "to",    "field", "max_age",  "with",   "with_where", "tolerance", "sql", "where"};
  for (const auto& kv : n) {
    auto key = kv.first.as<std::string>();
    if (!kKeys.count(key)) {
      return invalid_argument(fmt::format("{}:{}: unknown key '{}' in check '{}'", file,
                                          kv.first.Mark().line + 1, key, c.type));
    }
  }
  if (n["severity"]) {
    auto s = n["severity"].as<std::string>();
    if (s == "warn") {
      c.severity = Severity::kWarn;
    } else if (s == "error") {
      c.severity = Severity::kError;
    } else {
      return err(fmt::format("severity '{}' is not valid (use warn or error)", s));
    }
  }
  if (n["column"]) c.columns.push_back(n["column"].as<std::string>());
  if (n["columns"]) {
    if (n["columns"].IsSequence()) {
      for (const auto& x : n["columns"])
        c.columns.push_back(x.as<std::string>());
    } else {
      c.columns.push_back(n["columns"].as<std::string>());
    }
  }
  if (n["values"]) {
    for (const auto& x : n["values"])
      c.values.push_back(x.as<std::string>());
  }
  if (n["min"]) c.min = n["min"].as<std::string>();
  if (n["max"]) c.max = n["max"].as<std::string>();
  c.pattern = where_of(n, "pattern");
  c.to = where_of(n, "to");
  c.field = where_of(n, "field");
  c.max_age = where_of(n, "max_age");
  c.with = where_of(n, "with");
  c.with_where = where_of(n, "with_where");
  c.sql = where_of(n, "sql");
  c.where = where_of(n, "where");
  if (n["tolerance"]) c.tolerance = n["tolerance"].as<double>();
  bool needs_columns = c.type == "not_null" || c.type == "unique" || c.type == "accepted_values" ||
                       c.type == "range" || c.type == "regex" || c.type == "relationships" ||
                       c.type == "freshness";
  if (needs_columns && c.columns.empty()) return err(fmt::format("{} needs column:", c.type));
  if (c.type == "accepted_values" && c.values.empty()) return err("accepted_values needs values:");
  if (c.type == "range" && !c.min && !c.max) return err("range needs min: and/or max:");
  if (c.type == "row_count" && !c.min && !c.max) return err("row_count needs min: and/or max:");
  if (c.type == "regex" && c.pattern.empty()) return err("regex needs pattern:");
  if (c.type == "relationships" && c.to.empty()) return err("relationships needs to: zone.table");
  if (c.type == "freshness" && c.max_age.empty()) return err("freshness needs max_age: (e.g. 2d)");
  if (c.type == "reconcile" && c.with.empty()) return err("reconcile needs with: zone.table");
  if (c.type == "sql" && c.sql.empty()) return err("sql needs sql: a query over {{ this }}");
  if (n["name"]) {
    c.name = n["name"].as<std::string>();
  } else if (c.type == "reconcile") {
    c.name = fmt::format("reconcile({})", c.with);
  } else if (c.type == "row_count" || c.type == "sql") {
    c.name = c.type;
  } else {
    c.name = fmt::format("{}({})", c.type, fmt::join(c.columns, ", "));
  }
  return c;
}

Result<TableChecks> parse_table(const YAML::Node& n, const std::string& file) {
  TableChecks t;
  if (!n.IsMap() || !n["table"]) {
    return invalid_argument(
        fmt::format("{}:{}: expected 'table: zone.name' and 'checks:'", file, n.Mark().line + 1));
  }
  t.table = n["table"].as<std::string>();
  if (n["checks"]) {
    if (!n["checks"].IsSequence()) {
      return invalid_argument(
          fmt::format("{}:{}: 'checks:' must be a list", file, n["checks"].Mark().line + 1));
    }
    for (const auto& c : n["checks"]) {
      SLUICE_ASSIGN_OR_RETURN(auto check, parse_check(c, file));
      t.checks.push_back(std::move(check));
    }
  }
  return t;
}

// "30m", "12h", "2d", "45s" -> a DuckDB INTERVAL literal.
Result<std::string> interval_of(const std::string& text, const std::string& where) {
  char* end = nullptr;
  long n = std::strtol(text.c_str(), &end, 10);
  std::string unit = end ? end : "";
  const char* u = unit == "s"   ? "seconds"
                  : unit == "m" ? "minutes"
                  : unit == "h" ? "hours"
                  : unit == "d" ? "days"
                  : unit == "w" ? "weeks"
                                : nullptr;
  if (end == text.c_str() || u == nullptr || n < 0) {
    return invalid_argument(
        fmt::format("{}: max_age '{}' is not a duration (30m, 12h, 2d, 1w)", where, text));
  }
  return fmt::format("INTERVAL '{} {}'", n, u);
}

// The condition a failing row meets (over the alias __r), for the checks that look at one row at
// a time: not_null, accepted_values, range, regex; nullopt for the others.
std::optional<std::string> row_condition(const Check& c) {
  auto col = [&](size_t i) { return "__r." + quote_ident(c.columns.at(i)); };
  if (c.type == "not_null") {
    std::string cond;
    for (size_t i = 0; i < c.columns.size(); ++i)
      cond += fmt::format("{}{} IS NULL", i ? " OR " : "", col(i));
    return cond;
  }
  if (c.type == "accepted_values") {
    std::string vals;
    for (size_t i = 0; i < c.values.size(); ++i)
      vals += (i ? ", " : "") + quote_literal(c.values[i]);
    return fmt::format("{} IS NOT NULL AND CAST({} AS VARCHAR) NOT IN ({})", col(0), col(0), vals);
  }
  if (c.type == "range") {
    std::string cond;
    if (c.min) cond += fmt::format("{} < {}", col(0), sql_value(*c.min));
    if (c.max)
      cond += fmt::format("{}{} > {}", cond.empty() ? "" : " OR ", col(0), sql_value(*c.max));
    return cond;
  }
  if (c.type == "regex") {
    return fmt::format("{} IS NOT NULL AND NOT regexp_full_match(CAST({} AS VARCHAR), {})", col(0),
                       col(0), quote_literal(c.pattern));
  }
  return std::nullopt;
}

// The failing rows of a check over relation `rel` (a parenthesized SELECT).
Result<std::string> failing_sql(const Check& c, const std::string& table, const std::string& rel) {
  std::string base = c.where.empty()
                         ? fmt::format("{} AS __r", rel)
                         : fmt::format("(SELECT * FROM {} AS __w WHERE {}) AS __r", rel, c.where);
  auto col = [&](size_t i) { return "__r." + quote_ident(c.columns.at(i)); };
  if (auto cond = row_condition(c)) return fmt::format("SELECT * FROM {} WHERE {}", base, *cond);
  if (c.type == "unique") {
    std::string cols;
    for (size_t i = 0; i < c.columns.size(); ++i)
      cols += (i ? ", " : "") + col(i);
    return fmt::format("SELECT {}, count(*) AS duplicates FROM {} GROUP BY ALL HAVING count(*) > 1",
                       cols, base);
  }
  if (c.type == "relationships") {
    std::string field = c.field.empty() ? c.columns[0] : c.field;
    // An explicit anti join: DuckDB plans the equivalent correlated NOT EXISTS as a
    // duplicate-eliminating join, 3-4x slower over millions of rows.
    return fmt::format(
        "SELECT __r.* FROM (SELECT * FROM {} WHERE {} IS NOT NULL) AS __r ANTI JOIN {} AS __to ON "
        "__to.{} = __r.{}",
        base, col(0), c.to, quote_ident(field), quote_ident(c.columns[0]));
  }
  if (c.type == "freshness") {
    SLUICE_ASSIGN_OR_RETURN(auto iv, interval_of(c.max_age, c.file));
    return fmt::format(
        "SELECT max({0}) AS latest, CAST(now() AS TIMESTAMP) - {1} AS required_after FROM {2} "
        "HAVING max({0}) IS NULL OR CAST(max({0}) AS TIMESTAMP) < CAST(now() AS TIMESTAMP) - {1}",
        col(0), iv, base);
  }
  if (c.type == "row_count") {
    std::string cond;
    if (c.min) cond += fmt::format("count(*) < {}", *c.min);
    if (c.max) cond += fmt::format("{}count(*) > {}", cond.empty() ? "" : " OR ", *c.max);
    return fmt::format("SELECT count(*) AS row_count FROM {} HAVING {}", base, cond);
  }
  if (c.type == "reconcile") {
    std::string other = c.with_where.empty()
                            ? c.with
                            : fmt::format("(SELECT * FROM {} WHERE {})", c.with, c.with_where);
    return fmt::format(
        "SELECT a.n AS rows, b.n AS other_rows FROM (SELECT count(*) AS n FROM {}) AS a, (SELECT "
        "count(*) AS n FROM {} AS __o) AS b WHERE abs(a.n - b.n) > {}",
        base, other, c.tolerance);
  }
  // sql: {{ this }} is the checked relation.
  std::string q = c.sql;
  for (size_t p; (p = q.find("{{ this }}")) != std::string::npos;)
    q.replace(p, 10, rel);
  (void)table;
  while (!q.empty() && (q.back() == ';' || std::isspace(static_cast<unsigned char>(q.back()))))
    q.pop_back();
  return q;
}

}  // namespace

const char* severity_name(Severity s) {
  return s == Severity::kWarn ? "warn" : "error";
}

Result<std::vector<TableChecks>> parse_quality_file(std::string_view text,
                                                    const std::string& file) {
  std::vector<TableChecks> out;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root || root.IsNull()) return out;
    if (root.IsMap() && root["tables"]) {
      for (const auto& t : root["tables"]) {
        SLUICE_ASSIGN_OR_RETURN(auto tc, parse_table(t, file));
        out.push_back(std::move(tc));
      }
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto tc, parse_table(root, file));
      out.push_back(std::move(tc));
    }
  } catch (const YAML::Exception& e) {
    return invalid_argument(
        fmt::format("{}:{}:{}: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  return out;
}

Result<std::vector<TableChecks>> load_quality_dir(const std::filesystem::path& dir) {
  std::vector<TableChecks> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    SLUICE_ASSIGN_OR_RETURN(auto tcs, parse_quality_file(ss.str(), f.string()));
    for (auto& t : tcs)
      out.push_back(std::move(t));
  }
  return out;
}

std::vector<CheckResult> run_checks(engine::LakeSession& session, const std::string& table,
                                    const std::string& relation_sql,
                                    const std::vector<Check>& checks) {
  std::vector<CheckResult> out(checks.size());
  std::string rel = "(" + relation_sql + ")";
  for (size_t i = 0; i < checks.size(); ++i) {
    out[i].table = table;
    out[i].check = checks[i].name;
    out[i].severity = checks[i].severity;
  }
  // The row-level checks count their failing rows together, in one scan of the relation. A check
  // that fails (for its sample rows), or a scan that cannot run (for an error naming its check),
  // runs again on its own below.
  std::vector<bool> done(checks.size(), false);
  std::vector<size_t> fused;
  std::string counts;
  for (size_t i = 0; i < checks.size(); ++i) {
    auto cond = row_condition(checks[i]);
    if (!cond) continue;
    if (!checks[i].where.empty()) cond = fmt::format("({}) AND ({})", checks[i].where, *cond);
    counts += fmt::format("{}count(*) FILTER (WHERE {})", fused.empty() ? "" : ", ", *cond);
    fused.push_back(i);
  }
  auto seconds_since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  if (fused.size() > 1) {
    auto t0 = std::chrono::steady_clock::now();
    auto bound = session.prepare_query(fmt::format("SELECT {} FROM {} AS __r", counts, rel));
    auto n = bound.is_ok() ? session.session().query(*bound)
                           : Result<engine::QueryResult>(bound.status());
    if (n.is_ok() && n->rows.size() == 1 && n->rows[0].size() == fused.size()) {
      for (size_t k = 0; k < fused.size(); ++k) {
        if (std::stoll(n->rows[0][k].value_or("0")) != 0) continue;
        out[fused[k]].passed = true;
        done[fused[k]] = true;
      }
    }
    log::debug("row-level checks counted",
               {log::kv("table", table), log::kv("checks", fused.size()),
                log::kv("seconds", seconds_since(t0))});
  }
  for (size_t i = 0; i < checks.size(); ++i) {
    if (done[i]) continue;
    const auto& c = checks[i];
    CheckResult& r = out[i];
    auto t0 = std::chrono::steady_clock::now();
    auto q = failing_sql(c, table, rel);
    Status st = q.status();
    if (st.is_ok()) {
      auto bound = session.prepare_query(*q);
      st = bound.status();
      if (st.is_ok()) {
        st = session.session().execute(
            fmt::format("CREATE OR REPLACE TEMP TABLE __sluice_failing AS {}", *bound));
      }
    }
    if (st.is_ok()) {
      auto n = session.session().query("SELECT count(*) FROM __sluice_failing");
      auto sample = session.session().query("SELECT * FROM __sluice_failing LIMIT 5");
      if (n.is_ok() && sample.is_ok()) {
        r.failing_count = std::stoll(n->rows.at(0).at(0).value_or("0"));
        r.passed = r.failing_count == 0;
        for (const auto& row : sample->rows) {
          std::string line;
          for (size_t j = 0; j < row.size(); ++j) {
            line += fmt::format("{}{}={}", j ? ", " : "", sample->column_names[j],
                                row[j].value_or("NULL"));
          }
          r.sample += (r.sample.empty() ? "" : "\n") + line;
        }
      } else {
        st = n.is_ok() ? sample.status() : n.status();
      }
    }
    if (!st.is_ok()) {
      r.passed = false;
      r.error = fmt::format("{}: {}", c.file, st.message());
    }
    (void)session.session().execute("DROP TABLE IF EXISTS __sluice_failing");
    log::debug("check run", {log::kv("table", table), log::kv("check", c.name),
                             log::kv("seconds", seconds_since(t0))});
  }
  return out;
}

Status ensure_results_table(engine::LakeSession& session) {
  auto ns = session.run("CREATE SCHEMA IF NOT EXISTS _system");
  if (!ns.is_ok()) return ns.status();
  auto t = session.run(
      "CREATE TABLE IF NOT EXISTS _system.quality_results (run_id VARCHAR, table_name VARCHAR, "
      "snapshot_id BIGINT, check_name VARCHAR, severity VARCHAR, passed BOOLEAN, failing_count "
      "BIGINT, sample VARCHAR, error VARCHAR, checked_at TIMESTAMP)");
  if (!t.is_ok() && t.status().code() != StatusCode::kAlreadyExists) return t.status();
  return Status::ok();
}

Status record_results(engine::LakeSession& session, const std::string& run_id,
                      const std::vector<CheckResult>& results) {
  if (results.empty()) return Status::ok();
  SLUICE_RETURN_IF_ERROR(ensure_results_table(session));
  std::string values;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    values +=
        fmt::format("{}({}, {}, {}, {}, {}, {}, {}, {}, {}, CAST(now() AS TIMESTAMP))",
                    i ? ", " : "", quote_literal(run_id), quote_literal(r.table),
                    r.snapshot_id ? std::to_string(*r.snapshot_id) : "NULL", quote_literal(r.check),
                    quote_literal(severity_name(r.severity)), r.passed ? "true" : "false",
                    r.failing_count, r.sample.empty() ? "NULL" : quote_literal(r.sample),
                    r.error.empty() ? "NULL" : quote_literal(r.error));
  }
  auto res = session.run("INSERT INTO _system.quality_results VALUES " + values);
  return res.status().with_context("recording quality results");
}

std::string format_results(const std::vector<CheckResult>& results) {
  std::string out;
  for (const auto& r : results) {
    const char* state = r.passed ? "PASS" : (r.severity == Severity::kWarn ? "WARN" : "FAIL");
    out +=
        fmt::format("  {:<4}  {:<5}  {}  {}", state, severity_name(r.severity), r.table, r.check);
    if (!r.error.empty()) {
      out += fmt::format("  (check could not run: {})\n", r.error);
      continue;
    }
    if (!r.passed) out += fmt::format("  ({} failing)", r.failing_count);
    out += "\n";
    if (!r.passed && !r.sample.empty()) {
      std::istringstream in(r.sample);
      std::string line;
      while (std::getline(in, line))
        out += "          " + line + "\n";
    }
  }
  return out;
}

}  // namespace sluice::transform

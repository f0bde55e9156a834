// Dashboard definitions (dashboards/*.yaml): parsing, validation and parameter substitution.
// Internal to the console module.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::console {

inline constexpr const char* kChartTypes[] = {"line",   "bar",   "stacked_bar", "pie",
                                              "funnel", "table", "number"};

struct Filter {
  std::string name;  // date_range: provides {{ from }} and {{ to }}; value: {{ <name> }}
  std::string type;  // date_range | value
  std::string label;
  // date_range defaults: literal dates, or the last `last_days` days up to `anchor_sql`'s
  // result (a query returning one date; default: today).
  std::string default_from, default_to;
  int last_days = 0;
  std::string anchor_sql;
  std::string default_value;  // value
};

struct Chart {
  std::string id;
  std::string title;
  std::string type;
  std::string sql;             // inline or read from sql/<query>
  std::string query_file;      // as written (for display)
  std::string x;               // category / time column
  std::vector<std::string> y;  // value columns
  std::string series;          // column splitting rows into series (stacked bar, multi-line)
  std::string note;            // shown under the chart
  std::string width = "half";
};

struct Dashboard {
  std::string id;  // file stem
  std::filesystem::path file;
  std::string title;
  std::string description;
  std::vector<Filter> filters;
  std::vector<Chart> charts;
};

// Parses one dashboard file; `project_dir` resolves `query:` (as <project_dir>/sql/<file>).
// Errors name the file and the entry.
Result<Dashboard> load_dashboard(const std::filesystem::path& file,
                                 const std::filesystem::path& project_dir);

// Every *.yaml under `dir`, sorted by id; files that fail to parse come back in `errors`.
struct DashboardSet {
  std::vector<Dashboard> dashboards;
  std::vector<std::pair<std::string, std::string>> errors;  // file, message
};
DashboardSet load_dashboards(const std::filesystem::path& dir,
                             const std::filesystem::path& project_dir);

// Replaces {{ name }} placeholders by SQL string literals of `params` (quotes doubled).
// InvalidArgument naming the placeholder when a parameter is missing.
Result<std::string> substitute(const std::string& sql,
                               const std::map<std::string, std::string>& params);

// Checks a date parameter (YYYY-MM-DD).
bool is_date(const std::string& s);

}  // namespace sluice::console

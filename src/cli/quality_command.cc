// `sluice quality list|run [table...]`: data quality checks on published tables (docs/quality.md).
#include <fmt/format.h>

#include <iostream>
#include <random>
#include <set>

#include "cli/cli.h"
#include "cli/output.h"
#include "transform/quality.h"

namespace sluice::cli {
namespace {

struct QualityArgs {
  std::vector<std::string> tables;
  std::string project;
};

Result<std::vector<transform::TableChecks>> load_checks(const common::Config& config,
                                                        const QualityArgs& a) {
  std::string dir = a.project.empty() ? config.get_string("transform.project") : a.project;
  SLUICE_ASSIGN_OR_RETURN(auto all,
                          transform::load_quality_dir(std::filesystem::path(dir) / "quality"));
  if (a.tables.empty()) return all;
  std::vector<transform::TableChecks> out;
  std::set<std::string> known;
  for (const auto& t : all) {
    known.insert(t.table);
    if (std::find(a.tables.begin(), a.tables.end(), t.table) != a.tables.end()) out.push_back(t);
  }
  for (const auto& t : a.tables) {
    if (!known.count(t)) {
      return not_found(
          fmt::format("no checks for {} in {}/quality (tables with checks: {})", t, dir,
                      known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
    }
  }
  return out;
}

}  // namespace

void add_quality_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("quality", "Data quality checks (quality/*.yaml) on lake tables");
  cmd->require_subcommand(1);
  auto args = std::make_shared<QualityArgs>();
  auto* list = cmd->add_subcommand("list", "Every check, by table");
  auto* run = cmd->add_subcommand("run", "Run the checks of some or all tables and record results");
  for (auto* sub : {list, run}) {
    sub->add_option("table", args->tables, "Tables zone.name (default: every table with checks)");
    sub->add_option("--project", args->project,
                    "Project folder (default: transform.project, i.e. the config's folder)");
  }
  list->callback([&state, args] {
    auto config = load_config(state.global);
    if (!config.is_ok()) {
      state.exit_code = report(config.status());
      return;
    }
    auto checks = load_checks(*config, *args);
    if (!checks.is_ok()) {
      state.exit_code = report(checks.status());
      return;
    }
    std::vector<std::vector<std::optional<std::string>>> rows;
    for (const auto& t : *checks)
      for (const auto& c : t.checks)
        rows.push_back({t.table, c.name, transform::severity_name(c.severity), c.file});
    print_result(std::cout, make_result({"table", "check", "severity", "defined at"}, rows),
                 OutputFormat::kTable);
  });
  run->callback([&state, args] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto checks, load_checks(lake.config, *args));
      std::random_device rd;
      std::string run_id = fmt::format("{:08x}{:08x}", rd(), rd());
      std::vector<transform::CheckResult> all;
      for (const auto& t : checks) {
        SLUICE_ASSIGN_OR_RETURN(auto id, lake::TableIdent::parse(t.table));
        std::optional<int64_t> snapshot;
        if (lake.catalog->table_exists(id)) {
          SLUICE_ASSIGN_OR_RETURN(auto table, lake.catalog->load_table(id));
          snapshot = table.metadata().current_snapshot_id;
        }
        auto rel = lake.session.prepare_query("SELECT * FROM " + t.table);
        std::vector<transform::CheckResult> results;
        if (!rel.is_ok()) {
          for (const auto& c : t.checks) {
            transform::CheckResult r;
            r.table = t.table;
            r.check = c.name;
            r.severity = c.severity;
            r.error = rel.status().message();
            results.push_back(std::move(r));
          }
        } else {
          results = transform::run_checks(lake.session, t.table, *rel, t.checks);
        }
        for (auto& r : results)
          r.snapshot_id = snapshot;
        all.insert(all.end(), results.begin(), results.end());
      }
      std::cout << transform::format_results(all);
      size_t errors = 0, warnings = 0, passed = 0;
      for (const auto& r : all) {
        if (r.passed) {
          ++passed;
        } else if (r.severity == transform::Severity::kError) {
          ++errors;
        } else {
          ++warnings;
        }
      }
      std::cout << fmt::format("run {}: {} check(s): {} passed, {} warning(s), {} error(s)\n",
                               run_id, all.size(), passed, warnings, errors);
      SLUICE_RETURN_IF_ERROR(transform::record_results(lake.session, run_id, all));
      if (errors > 0) return invalid_argument(fmt::format("{} error check(s) failed", errors));
      return Status::ok();
    });
  });
}

}  // namespace sluice::cli

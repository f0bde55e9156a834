// `sluice model list|graph|plan|run`: batch SQL models (docs/transform.md).
#include <fmt/format.h>

#include <iostream>
#include <mutex>
#include <set>

#include "cli/cli.h"
#include "cli/output.h"
#include "transform/transform.h"

namespace sluice::cli {
namespace {

struct ModelArgs {
  std::vector<std::string> selectors;
  std::string ds;
  std::vector<std::string> vars;
  std::string project;
  int threads = 0;
  bool full_refresh = false;
};

struct Loaded {
  transform::Project project;
  transform::Graph graph;
  std::vector<std::string> selected;
};

Result<Loaded> load(LakeContext& lake, const common::Config& config, const ModelArgs& a) {
  std::string dir = a.project.empty() ? config.get_string("transform.project") : a.project;
  SLUICE_ASSIGN_OR_RETURN(auto nss, lake.catalog->list_namespaces());
  SLUICE_ASSIGN_OR_RETURN(
      auto project, transform::load_project(dir, std::set<std::string>(nss.begin(), nss.end())));
  SLUICE_ASSIGN_OR_RETURN(auto graph, transform::Graph::build(project));
  SLUICE_ASSIGN_OR_RETURN(auto selected, graph.select(a.selectors));
  return Loaded{std::move(project), std::move(graph), std::move(selected)};
}

Result<transform::RunOptions> run_options(const common::Config& config, const ModelArgs& a) {
  transform::RunOptions o;
  o.ds = a.ds.empty() ? transform::today() : a.ds;
  SLUICE_RETURN_IF_ERROR(transform::shift_date(o.ds, 0).status().with_context("--ds"));
  for (const auto& kv : a.vars) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return invalid_argument(fmt::format("--var '{}': write --var name=value", kv));
    }
    o.vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  o.threads = a.threads > 0 ? a.threads : static_cast<int>(config.get_int("transform.threads"));
  o.pii_salt = config.get_secret("transform.pii_salt").reveal();
  o.full_refresh = a.full_refresh;
  o.engine.threads = static_cast<int>(config.get_int("engine.threads"));
  o.engine.memory_limit = config.get_string("engine.memory_limit");
  o.engine.temp_dir = config.get_string("engine.temp_dir");
  o.lake.compression = config.get_string("lake.compression");
  o.lake.target_file_size_bytes = config.get_int("lake.target_file_size_mb") << 20;
  return o;
}

std::string describe_config(const transform::ModelConfig& c) {
  using transform::Materialization;
  using transform::Strategy;
  std::string out;
  switch (c.materialized) {
    case Materialization::kTable:
      out = "table";
      break;
    case Materialization::kView:
      out = "view";
      break;
    case Materialization::kIncremental:
      out = c.strategy == Strategy::kAppend  ? "incremental append"
            : c.strategy == Strategy::kMerge ? "incremental merge"
                                             : "incremental insert_overwrite";
      break;
    case Materialization::kScd2:
      out = "scd2";
      break;
  }
  if (!c.unique_key.empty()) out += fmt::format(" key={}", fmt::join(c.unique_key, ","));
  if (!c.partition_by.empty()) {
    std::vector<std::string> p;
    for (const auto& [col, tr] : c.partition_by)
      p.push_back(tr == "identity" ? col : fmt::format("{}({})", tr, col));
    out += fmt::format(" partition={}", fmt::join(p, ","));
  }
  if (!c.pii.empty()) {
    std::vector<std::string> p;
    for (const auto& x : c.pii)
      p.push_back(x.column + ":" +
                  (x.method == transform::PiiMethod::kHash   ? "hash"
                   : x.method == transform::PiiMethod::kMask ? "mask"
                                                             : "redact"));
    out += fmt::format(" pii={}", fmt::join(p, ","));
  }
  return out;
}

}  // namespace

void add_model_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("model", "Batch SQL models: list, graph, plan and run them");
  cmd->require_subcommand(1);
  auto args = std::make_shared<ModelArgs>();
  auto common_opts = [args](CLI::App* sub, bool selectors) {
    if (selectors) {
      sub->add_option("selector", args->selectors,
                      "Models: zone.name, name, +name (with ancestors), name+ (with descendants), "
                      "zone.*; default all");
    }
    sub->add_option("--project", args->project,
                    "Project folder (default: transform.project, i.e. the config's folder)");
  };
  auto* list = cmd->add_subcommand("list", "Every model, its materialization and dependencies");
  common_opts(list, true);
  auto* graph = cmd->add_subcommand("graph", "Models in dependency order with what each reads");
  common_opts(graph, true);
  auto* plan = cmd->add_subcommand("plan", "The rendered SQL of the selected models, in order");
  common_opts(plan, true);
  auto* run =
      cmd->add_subcommand("run", "Run models in dependency order (publish gated by checks)");
  common_opts(run, true);
  for (auto* sub : {plan, run}) {
    sub->add_option("--ds", args->ds, "Logical date YYYY-MM-DD for {{ ds }} (default: today, UTC)");
    sub->add_option("--var", args->vars, "Template variable name=value (repeatable)")
        ->allow_extra_args(false);
  }
  run->add_option("--threads", args->threads, "Models run at once (default: transform.threads)");
  run->add_flag("--full-refresh", args->full_refresh,
                "Drop and rebuild the selected models' tables (after a column change)");

  list->callback([&state, args] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto l, load(lake, lake.config, *args));
      std::vector<std::vector<std::optional<std::string>>> rows;
      for (const auto& name : l.selected) {
        const auto* m = l.project.find(name);
        rows.push_back({name, describe_config(m->config),
                        fmt::format("{}", fmt::join(m->references, ", ")),
                        std::filesystem::relative(m->file, l.project.dir).string()});
      }
      print_result(std::cout, make_result({"model", "materialized", "reads", "file"}, rows),
                   OutputFormat::kTable);
      return Status::ok();
    });
  });
  graph->callback([&state, args] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto l, load(lake, lake.config, *args));
      for (const auto& name : l.selected) {
        const auto* m = l.project.find(name);
        std::vector<std::string> models, sources;
        for (const auto& r : m->references)
          (l.project.find(r) ? models : sources).push_back(r);
        std::cout << name;
        if (!models.empty()) std::cout << fmt::format("  <- {}", fmt::join(models, ", "));
        if (!sources.empty()) std::cout << fmt::format("  (reads {})", fmt::join(sources, ", "));
        std::cout << "\n";
      }
      return Status::ok();
    });
  });
  plan->callback([&state, args] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto l, load(lake, lake.config, *args));
      SLUICE_ASSIGN_OR_RETURN(auto opts, run_options(lake.config, *args));
      for (const auto& name : l.selected) {
        const auto* m = l.project.find(name);
        SLUICE_ASSIGN_OR_RETURN(auto sql, transform::render_model(*m, opts));
        std::cout << fmt::format("-- {} ({}) ds={}\n{};\n\n", name, describe_config(m->config),
                                 opts.ds, sql);
      }
      return Status::ok();
    });
  });
  run->callback([&state, args] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto l, load(lake, lake.config, *args));
      SLUICE_ASSIGN_OR_RETURN(auto opts, run_options(lake.config, *args));
      std::mutex mu;
      auto progress = [&](const transform::ModelResult& r) {
        std::lock_guard lock(mu);
        using S = transform::ModelResult::State;
        if (r.state == S::kSuccess) {
          std::cout << fmt::format("OK    {:<28} {:>10} rows  {:>7.2f}s", r.model, r.rows_written,
                                   r.seconds);
          if (r.snapshot_id) std::cout << fmt::format("  snapshot {}", *r.snapshot_id);
          std::cout << "\n";
          if (!r.checks.empty()) std::cout << transform::format_results(r.checks);
        } else if (r.state == S::kFailed) {
          std::cout << fmt::format("FAIL  {:<28} {}\n", r.model, r.message);
        } else {
          std::cout << fmt::format("SKIP  {:<28} {}\n", r.model, r.message);
        }
        std::cout.flush();
      };
      SLUICE_ASSIGN_OR_RETURN(auto rep, transform::run_models(lake.catalog, l.project, l.graph,
                                                              l.selected, opts, progress));
      size_t ok = 0, failed = 0, skipped = 0;
      for (const auto& r : rep.models) {
        ok += r.state == transform::ModelResult::State::kSuccess;
        failed += r.state == transform::ModelResult::State::kFailed;
        skipped += r.state == transform::ModelResult::State::kSkipped;
      }
      std::cout << fmt::format("run {} ds={}: {} model(s): {} ok, {} failed, {} skipped\n",
                               rep.run_id, opts.ds, rep.models.size(), ok, failed, skipped);
      if (!rep.ok()) {
        return Status(StatusCode::kInvalidArgument,
                      fmt::format("{} model(s) failed, {} skipped", failed, skipped));
      }
      return Status::ok();
    });
  });
}

}  // namespace sluice::cli

// `sluice ingest <source>`: snapshot or incremental load of a source's tables into raw.*.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "sources/sources.h"

namespace sluice::cli {
namespace {

struct IngestArgs {
  std::string source;
  std::string tables;
  std::string mode = "snapshot";
  int parallelism = 0;
  std::string fail_after;  // test hook: TABLE:N
  bool watch = false;      // files sources: poll the folder until SIGINT
  int poll_ms = 0;         // 0: the source's settle_ms (at least 200 ms)
};

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
  g_stop.store(true);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

Status run_once(const sources::SourceConfig& source, engine::LakeSession& session,
                const sources::IngestOptions& opts);

Status run_ingest(const GlobalOptions& g, const IngestArgs& a) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  std::filesystem::path file = a.source;
  if (file.extension() != ".toml") {
    file = std::filesystem::path(config.get_string("sources.dir")) / (a.source + ".toml");
  }
  SLUICE_ASSIGN_OR_RETURN(auto source, sources::load_source_config(file));
  sources::IngestOptions opts;
  if (a.mode == "snapshot") {
    opts.mode = sources::LoadMode::kSnapshot;
  } else if (a.mode == "incremental") {
    opts.mode = sources::LoadMode::kIncremental;
  } else {
    return invalid_argument(
        fmt::format("unknown --mode '{}'; use snapshot or incremental", a.mode));
  }
  opts.tables = split_list(a.tables);
  opts.parallelism = a.parallelism;
  if (!a.fail_after.empty()) {
    auto colon = a.fail_after.rfind(':');
    if (colon == std::string::npos) return invalid_argument("--fail-after expects TABLE:N");
    opts.fail_table = a.fail_after.substr(0, colon);
    opts.fail_after_chunks = std::stoi(a.fail_after.substr(colon + 1));
  }
  if (a.watch && source.kind != sources::SourceKind::kFiles) {
    return invalid_argument(fmt::format("--watch applies to files sources; {} is not one ({})",
                                        source.name, file.string()));
  }
  SLUICE_ASSIGN_OR_RETURN(auto lake, open_lake(config));
  SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
  SLUICE_ASSIGN_OR_RETURN(auto tmp, dir.subdir("tmp"));
  opts.work_dir = tmp / fmt::format("ingest-{}-{}", source.name, ::getpid());
  if (!a.watch) return run_once(source, lake.session, opts);
  // --watch: one run per poll interval until SIGINT/SIGTERM; a failed run is reported and
  // retried at the next poll (its tables are unchanged).
  int poll_ms =
      a.poll_ms > 0 ? a.poll_ms : static_cast<int>(std::max<int64_t>(200, source.settle_ms));
  g_stop.store(false);
  auto old_int = std::signal(SIGINT, on_stop_signal);
  auto old_term = std::signal(SIGTERM, on_stop_signal);
  std::fprintf(stderr, "watching %s every %d ms; Ctrl-C stops\n", source.folder.c_str(), poll_ms);
  while (!g_stop.load()) {
    Status st = run_once(source, lake.session, opts);
    if (!st.is_ok()) (void)report(st);
    for (int waited = 0; waited < poll_ms && !g_stop.load(); waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  return Status::ok();
}

Status run_once(const sources::SourceConfig& source, engine::LakeSession& session,
                const sources::IngestOptions& opts) {
  auto report = sources::ingest(source, session, opts);
  std::error_code ec;
  std::filesystem::remove_all(opts.work_dir, ec);
  if (!report.is_ok()) return report.status();
  std::printf("%-32s %12s %12s %10s %9s %s\n", "table", "rows", "MB", "seconds", "rows/s",
              "quarantined");
  for (const auto& t : report->tables) {
    double mb = static_cast<double>(t.bytes) / 1e6;
    double rps = t.seconds > 0 ? static_cast<double>(t.rows) / t.seconds : 0;
    std::printf("%-32s %12lld %12.1f %10.2f %9.0f %lld\n", t.lake_table.c_str(),
                static_cast<long long>(t.rows), mb, t.seconds, rps,
                static_cast<long long>(t.quarantined));
  }
  std::printf("source position: %s\n", report->source_position.c_str());
  return Status::ok();
}

}  // namespace

void add_ingest_command(CLI::App& app, CliState& state) {
  auto args = std::make_shared<IngestArgs>();
  auto* cmd = app.add_subcommand(
      "ingest", "Load a source's tables (sources/<name>.toml) into raw.<source>_<table>");
  cmd->add_option("source", args->source, "Source name (sources/<name>.toml) or a .toml file")
      ->required();
  cmd->add_option("--tables", args->tables, "Comma-separated tables (default: all of the source)");
  cmd->add_option("--mode", args->mode,
                  "snapshot (replace with a consistent copy) or "
                  "incremental (rows past the cursor watermark)")
      ->capture_default_str();
  cmd->add_option("--parallelism", args->parallelism,
                  "Reader connections (default: the source's parallelism)");
  cmd->add_flag("--watch", args->watch,
                "Files sources: keep polling the folder, loading new files, until Ctrl-C");
  cmd->add_option("--poll-ms", args->poll_ms,
                  "With --watch: milliseconds between polls (default: the source's settle_ms)");
  cmd->add_option("--fail-after", args->fail_after,
                  "Test hook: fail TABLE after N chunks (files: files, rest: pages)")
      ->group("");
  cmd->footer(
      "Per table it prints rows, MB read, seconds and quarantined rows. See "
      "docs/sources.md.");
  cmd->callback([&state, args] {
    Status st = run_ingest(state.global, *args);
    if (!st.is_ok()) state.exit_code = report(st);
  });
}

}  // namespace sluice::cli

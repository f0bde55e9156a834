// `sluice cdc start|stop|status|reset|backfill|reconcile <source>`: change data capture of one
// source (docs/cdc.md).
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "cdc/backfill.h"
#include "cdc/cdc.h"
#include "cli/cli.h"
#include "common/log.h"
#include "sources/sources.h"

namespace sluice::cli {
namespace {

Result<sources::SourceConfig> load_source(const common::Config& config, const std::string& name) {
  std::filesystem::path file = name;
  if (file.extension() != ".toml") {
    file = std::filesystem::path(config.get_string("sources.dir")) / (name + ".toml");
  }
  return sources::load_source_config(file);
}

// The pid of the running stream of a source (its pid file is flock-ed while it runs), or 0.
int running_pid(const std::filesystem::path& dir) {
  int fd = ::open((dir / "pid").c_str(), O_RDONLY);
  if (fd < 0) return 0;
  int pid = 0;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    if (n > 0) pid = std::atoi(buf);
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return pid;
}

Status run_reset(const GlobalOptions& g, const std::string& name);

// True when `pid` is a `sluice up` process (its streams stop with the whole platform).
bool inside_up(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(in, arg, '\0')) {
    if (arg == "up") return true;
  }
  return false;
}

Status run_start(const GlobalOptions& g, const std::string& name, bool reset) {
  if (reset) SLUICE_RETURN_IF_ERROR(run_reset(g, name));
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  SLUICE_ASSIGN_OR_RETURN(auto source, load_source(config, name));
  auto dir = cdc::stream_dir(config, source.name);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  SLUICE_ASSIGN_OR_RETURN(auto stream, cdc::CdcStream::start(config, source));
  log::info("cdc stream started",
            {log::kv("source", source.name), log::kv("state_dir", dir.string())});
  for (;;) {
    timespec ts{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      log::info("cdc stream stopping", {log::kv("source", source.name),
                                        log::kv("signal", sig == SIGINT ? "SIGINT" : "SIGTERM")});
      break;
    }
    auto st = stream->status();
    if (st.state == "failed" || st.state == "stopped") break;
  }
  stream->stop();
  return stream->wait();
}

Status run_stop(const GlobalOptions& g, const std::string& name) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  SLUICE_ASSIGN_OR_RETURN(auto source, load_source(config, name));
  auto dir = cdc::stream_dir(config, source.name);
  int pid = running_pid(dir);
  if (pid <= 0) {
    std::printf("cdc %s: not running\n", source.name.c_str());
    return Status::ok();
  }
  if (inside_up(pid)) {
    return invalid_argument(fmt::format(
        "the CDC stream of {} runs inside `sluice up` (pid {}); stop `sluice up`, or run it with "
        "--skip cdc and use `sluice cdc start {}`",
        source.name, pid, source.name));
  }
  if (::kill(pid, SIGTERM) != 0) return io_error(fmt::format("cannot signal pid {}", pid));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (running_pid(dir) == pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      return timeout_error(
          fmt::format("the CDC stream of {} (pid {}) did not stop within 120 s", source.name, pid));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("cdc %s: stopped (pid %d)\n", source.name.c_str(), pid);
  return Status::ok();
}

Status run_status(const GlobalOptions& g, const std::string& name, bool json) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  SLUICE_ASSIGN_OR_RETURN(auto source, load_source(config, name));
  auto dir = cdc::stream_dir(config, source.name);
  cdc::StreamStatus s;
  s.source = source.name;
  s.state = "never started";
  std::ifstream in(dir / "status.json");
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    SLUICE_ASSIGN_OR_RETURN(s, cdc::status_from_json(ss.str()));
  }
  int pid = running_pid(dir);
  if (pid == 0 && (s.state == "streaming" || s.state == "bootstrapping" || s.state == "starting" ||
                   s.state == "retrying")) {
    s.state = "not running (last state " + s.state + ")";
  }
  s.pid = pid;
  {
    auto wal = cdc::retained_bytes(source, s.position);
    if (wal.is_ok()) {
      s.retained_wal_bytes = wal->value_or(-1);
      s.retained_wal_alert = s.retained_wal_bytes > source.cdc.max_retained_wal_mb * (1 << 20);
    } else {
      s.error = s.error.empty() ? wal.status().message() : s.error;
    }
  }
  if (json) {
    std::printf("%s\n", cdc::status_to_json(s).c_str());
    return Status::ok();
  }
  std::printf("source              %s\n", s.source.c_str());
  std::printf("state               %s\n", s.state.c_str());
  std::printf("pid                 %d\n", s.pid);
  std::printf("position            %s\n", s.position.empty() ? "-" : s.position.c_str());
  std::printf("transactions        %lld\n", static_cast<long long>(s.transactions));
  std::printf("events              %lld\n", static_cast<long long>(s.events));
  std::printf("events/s            %.0f\n", s.events_per_second);
  std::printf("lag to lake ms      %lld\n", static_cast<long long>(s.lake_lag_ms));
  std::printf("lag to bus ms       %lld\n", static_cast<long long>(s.bus_lag_ms));
  std::printf("retained WAL bytes  %lld%s\n", static_cast<long long>(s.retained_wal_bytes),
              s.retained_wal_alert ? "  ALERT: above [cdc] max_retained_wal_mb" : "");
  if (!s.backfill.empty()) std::printf("backfill            %s\n", s.backfill.c_str());
  if (!s.error.empty()) std::printf("error               %s\n", s.error.c_str());
  return Status::ok();
}

Status run_reset(const GlobalOptions& g, const std::string& name) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  SLUICE_ASSIGN_OR_RETURN(auto source, load_source(config, name));
  auto dir = cdc::stream_dir(config, source.name);
  if (int pid = running_pid(dir)) {
    return already_exists(
        fmt::format("the CDC stream of {} is running (pid {}); stop it first", source.name, pid));
  }
  source.cdc.options.try_emplace("state_dir", dir.string());  // as CdcStream::start sets it
  SLUICE_RETURN_IF_ERROR(cdc::reset_source_state(source));
  std::error_code ec;
  std::filesystem::remove(dir / "checkpoint.json", ec);
  std::printf("cdc %s: reset; the next start bootstraps again\n", source.name.c_str());
  return Status::ok();
}

// Waits for backfills to finish, printing their progress; an error if one failed.
Status wait_backfills(const std::filesystem::path& dir, const std::string& source,
                      const std::vector<cdc::BackfillRequest>& queued, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::map<std::string, int64_t> shown;
  for (;;) {
    bool all_done = true;
    for (const auto& q : queued) {
      SLUICE_ASSIGN_OR_RETURN(auto r, cdc::load_backfill(dir, q.id));
      if (r.state == "failed") {
        return internal_error(
            fmt::format("backfill of {}.{} failed: {}", source, r.table, r.error));
      }
      if (r.state == "done") {
        if (shown[r.id] != -1) {
          std::printf("backfill %s.%s: done, %lld rows re-read, %lld deleted, %lld chunks\n",
                      source.c_str(), r.table.c_str(), static_cast<long long>(r.rows),
                      static_cast<long long>(r.deleted), static_cast<long long>(r.chunks));
          std::fflush(stdout);
          shown[r.id] = -1;
        }
        continue;
      }
      all_done = false;
      if (r.chunks != shown[r.id] && r.chunks > 0) {
        std::printf("backfill %s.%s: %lld rows, %lld chunks so far\n", source.c_str(),
                    r.table.c_str(), static_cast<long long>(r.rows),
                    static_cast<long long>(r.chunks));
        std::fflush(stdout);
        shown[r.id] = r.chunks;
      }
    }
    if (all_done) return Status::ok();
    if (running_pid(dir) == 0) {
      return unavailable(fmt::format(
          "the CDC stream of {} stopped before the backfill finished; it resumes where it "
          "left off when the stream starts again",
          source));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return timeout_error(fmt::format(
          "the backfill did not finish within {} s; it goes on (see `sluice cdc status {}`)",
          timeout_s, source));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

Result<cdc::BackfillRequest> queue_for(const common::Config& config,
                                       const sources::SourceConfig& source,
                                       const std::string& table, const std::string& where,
                                       int64_t chunk_rows) {
  bool known = false;
  for (const auto& t : source.tables)
    known = known || t.name == table;
  if (!known) {
    return invalid_argument(fmt::format("source {} has no table {} (tables are listed in {})",
                                        source.name, table, source.file));
  }
  return cdc::queue_backfill(cdc::stream_dir(config, source.name), table, where, chunk_rows);
}

Status run_backfill(const GlobalOptions& g, const std::string& name, const std::string& table,
                    const std::string& where, int64_t chunk_rows, bool no_wait, int timeout_s) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  SLUICE_ASSIGN_OR_RETURN(auto source, load_source(config, name));
  auto dir = cdc::stream_dir(config, source.name);
  SLUICE_ASSIGN_OR_RETURN(auto req, queue_for(config, source, table, where, chunk_rows));
  std::printf("backfill %s.%s queued (%s)\n", source.name.c_str(), table.c_str(), req.id.c_str());
  std::fflush(stdout);
  if (no_wait) return Status::ok();
  if (running_pid(dir) == 0) {
    return unavailable(fmt::format(
        "the CDC stream of {} is not running; the backfill stays queued and runs when it starts "
        "(`sluice cdc start {}` or `sluice up`)",
        source.name, source.name));
  }
  return wait_backfills(dir, source.name, {req}, timeout_s);
}

Status run_reconcile(const GlobalOptions& g, const std::string& name, const std::string& tables,
                     const std::string& where, bool repair, int timeout_s) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  SLUICE_ASSIGN_OR_RETURN(auto source, load_source(config, name));
  SLUICE_ASSIGN_OR_RETURN(auto lake, open_lake(config));
  std::vector<std::string> list;
  std::stringstream ss(tables);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) list.push_back(item);
  auto dir = cdc::stream_dir(config, source.name);
  if (repair && running_pid(dir) == 0) {
    return unavailable(fmt::format(
        "--repair goes through the running CDC stream of {} (a backfill); start it first "
        "(`sluice cdc start {}` or `sluice up`)",
        source.name, source.name));
  }
  auto work = dir / fmt::format("reconcile-{}", ::getpid());
  auto report = cdc::reconcile(source, lake.session, list, where, work);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  if (!report.is_ok()) return report.status();
  int64_t bad = 0;
  std::vector<std::string> differing;
  std::printf("%-24s %12s %12s %9s %9s %9s\n", "table", "source rows", "lake rows", "missing",
              "extra", "different");
  for (const auto& t : *report) {
    std::printf("%-24s %12lld %12lld %9lld %9lld %9lld\n", t.table.c_str(),
                static_cast<long long>(t.source_rows), static_cast<long long>(t.lake_rows),
                static_cast<long long>(t.missing), static_cast<long long>(t.extra),
                static_cast<long long>(t.different));
    for (const auto& s : t.sample)
      std::printf("  %s\n", s.c_str());
    bad += t.missing + t.extra + t.different;
    if (t.missing + t.extra + t.different > 0) differing.push_back(t.table);
  }
  if (bad > 0 && repair) {
    // Repair: re-read the compared range of each differing table through the stream.
    std::vector<cdc::BackfillRequest> queued;
    for (const auto& t : differing) {
      SLUICE_ASSIGN_OR_RETURN(auto r, queue_for(config, source, t, where, 10000));
      std::printf("repair: backfill %s.%s%s (%s)\n", source.name.c_str(), t.c_str(),
                  where.empty() ? "" : (" where " + where).c_str(), r.id.c_str());
      queued.push_back(std::move(r));
    }
    std::fflush(stdout);
    SLUICE_RETURN_IF_ERROR(wait_backfills(dir, source.name, queued, timeout_s));
    std::printf("after repair:\n");
    return run_reconcile(g, name, tables, where, false, timeout_s);
  }
  if (bad > 0) {
    return conflict(
        fmt::format("source {}: {} rows differ between the source and the lake (with "
                    "a stream running, changes not yet committed count too)",
                    source.name, bad));
  }
  return Status::ok();
}

}  // namespace

void add_cdc_command(CLI::App& app, CliState& state) {
  auto* cdc = app.add_subcommand("cdc",
                                 "Change data capture: stream a source's changes to the "
                                 "bus and the lake");
  cdc->require_subcommand(1);
  auto source = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto reset_first = std::make_shared<bool>(false);
  auto* start = cdc->add_subcommand("start", "Stream a source in the foreground until Ctrl-C");
  start->add_option("source", *source, "Source name (sources/<name>.toml)")->required();
  start->add_flag("--reset", *reset_first, "Reset first (as `sluice cdc reset`): bootstrap again");
  start->callback([&state, source, reset_first] {
    Status st = run_start(state.global, *source, *reset_first);
    if (!st.is_ok()) state.exit_code = report(st);
  });
  auto* stop = cdc->add_subcommand("stop", "Stop a source's running stream");
  stop->add_option("source", *source, "Source name")->required();
  stop->callback([&state, source] {
    Status st = run_stop(state.global, *source);
    if (!st.is_ok()) state.exit_code = report(st);
  });
  auto* status = cdc->add_subcommand("status", "Position, lag, events/s and retained WAL");
  status->add_option("source", *source, "Source name")->required();
  status->add_flag("--json", *json, "Print the status as JSON");
  status->callback([&state, source, json] {
    Status st = run_status(state.global, *source, *json);
    if (!st.is_ok()) state.exit_code = report(st);
  });
  auto rec_tables = std::make_shared<std::string>();
  auto rec_where = std::make_shared<std::string>();
  auto* rec = cdc->add_subcommand("reconcile",
                                  "Compare the lake's current state with the source, "
                                  "row by row by key");
  rec->add_option("source", *source, "Source name")->required();
  rec->add_option("--table", *rec_tables, "Tables to compare (comma-separated; default all)");
  rec->add_option("--where", *rec_where, "A condition both sides are filtered by (a key range)");
  auto repair = std::make_shared<bool>(false);
  auto timeout = std::make_shared<int>(3600);
  rec->add_flag("--repair", *repair,
                "Fix differences: backfill the compared range of each differing table through "
                "the running stream, then compare again");
  rec->add_option("--timeout", *timeout, "Seconds to wait for a repair (default 3600)");
  rec->callback([&state, source, rec_tables, rec_where, repair, timeout] {
    Status st = run_reconcile(state.global, *source, *rec_tables, *rec_where, *repair, *timeout);
    if (!st.is_ok()) state.exit_code = report(st);
  });
  auto bf_table = std::make_shared<std::string>();
  auto bf_where = std::make_shared<std::string>();
  auto bf_chunk = std::make_shared<int64_t>(10000);
  auto bf_no_wait = std::make_shared<bool>(false);
  auto* bf = cdc->add_subcommand(
      "backfill",
      "Re-read a table (or a key range) into the running stream: no duplicates, no regressions");
  bf->add_option("source", *source, "Source name")->required();
  bf->add_option("--table", *bf_table, "The table to backfill")->required();
  bf->add_option("--where", *bf_where, "Only rows matching this SQL condition (e.g. a key range)");
  bf->add_option("--chunk-rows", *bf_chunk, "Rows per chunk (default 10000)");
  bf->add_flag("--no-wait", *bf_no_wait, "Queue the backfill and return");
  bf->add_option("--timeout", *timeout, "Seconds to wait (default 3600)");
  bf->callback([&state, source, bf_table, bf_where, bf_chunk, bf_no_wait, timeout] {
    Status st =
        run_backfill(state.global, *source, *bf_table, *bf_where, *bf_chunk, *bf_no_wait, *timeout);
    if (!st.is_ok()) state.exit_code = report(st);
  });
  auto* reset = cdc->add_subcommand("reset",
                                    "Drop the slot and the checkpoint: the next start "
                                    "bootstraps again");
  reset->add_option("source", *source, "Source name")->required();
  reset->callback([&state, source] {
    Status st = run_reset(state.global, *source);
    if (!st.is_ok()) state.exit_code = report(st);
  });
}

}  // namespace sluice::cli

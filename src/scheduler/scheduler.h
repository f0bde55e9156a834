// Sluice's scheduler: DAGs of typed tasks from YAML files (dags/), run on cron schedules with
// catchup, retries with exponential backoff, timeouts, SLAs and concurrency limits; state in
// RocksDB under <data_dir>/scheduler, resumed after a crash. See docs/scheduler.md.
//
//   SchedulerOptions o{.dags_dir = "dags", .state_dir = data_dir / "scheduler", ...};
//   SLUICE_ASSIGN_OR_RETURN(auto s, Scheduler::open(o));   // takes the single-owner lock
//   SLUICE_RETURN_IF_ERROR(s->start());                     // schedule loop + executor threads
//   s->register_routes(router);                             // the JSON API under /api/dags
//   ...
//   s->stop();
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "http/server.h"

namespace sluice::scheduler {

// One task state change (foreground runs print these).
struct TaskEvent {
  std::string dag_id, ds, task_id, state;
  int try_number = 0;
  std::string detail;  // error of a failed attempt, retry time, ...
};

struct SchedulerOptions {
  std::filesystem::path dags_dir;        // DAG YAML files
  std::filesystem::path state_dir;       // <data_dir>/scheduler: db/, LOCK, logs/
  std::string sluice_binary;             // children of sluice task kinds run this binary
  std::vector<std::string> sluice_args;  // e.g. --config F --data-dir D, passed to children
  std::filesystem::path work_dir;        // children's folder (default: dags_dir's parent)
  int max_active_tasks = 4;              // task instances at once, all DAGs
  std::map<std::string, int> pools;      // named pools shared across DAGs: name → slots
  bool schedule = true;                  // create scheduled runs from the DAGs' schedules
  bool foreground = false;               // execute only the runs submitted through this instance
  bool read_only = false;                // inspect the store without the lock (no start())
  std::function<void(const TaskEvent&)> on_event;  // called on every task state change
};

// Options from the configuration: scheduler.dags_dir, max_active_tasks, pools; state under
// `<data_dir>/scheduler`; children run this binary (/proc/self/exe) with the config's file and
// `--data-dir data_dir`.
Result<SchedulerOptions> options_from_config(const common::Config& config,
                                             const std::filesystem::path& data_dir);

struct RunRef {
  std::string run_id, ds, state;
  bool existed = false;  // the run was already there (resumed, not created)
};

class Scheduler {
 public:
  // Takes the lock (unless read_only), opens the store, loads the DAGs and recovers attempts
  // a dead owner left running (their process groups are killed, then retried per policy).
  static Result<std::unique_ptr<Scheduler>> open(SchedulerOptions options);
  ~Scheduler();  // stop()s

  Status start();
  // Stops the threads; running children are killed and their attempts recorded as
  // interrupted (they run again, without using a retry, when a scheduler next owns the state).
  void stop();
  void register_routes(http::Router& router);

  // A manual run for `ds` (default: today in the DAG's time zone). An unfinished run for the
  // same ds is resumed; a finished one is an AlreadyExists error.
  Result<RunRef> trigger(const std::string& dag_id, std::optional<std::string> ds);
  // Backfill runs for every interval whose ds lies in [from, to] (dates), oldest first, at most
  // `parallelism` at once; existing runs are skipped.
  Result<std::vector<RunRef>> backfill(const std::string& dag_id, const std::string& from,
                                       const std::string& to, int parallelism);
  // Clears a task and its downstream tasks of a run so they run again.
  Result<nlohmann::json> clear(const std::string& dag_id, const std::string& task_id,
                               const std::string& ds);
  // Blocks until every listed run is finished; returns their final states.
  std::vector<RunRef> wait_runs(const std::string& dag_id, const std::vector<std::string>& ds);

  // The JSON documents of the HTTP API (docs/scheduler.md).
  nlohmann::json dags_json();
  Result<nlohmann::json> dag_json(const std::string& dag_id, size_t max_runs = 25);
  nlohmann::json status_json();  // active runs, recent failures, alerts
  // An attempt's log (latest when attempt is 0).
  Result<std::string> logs(const std::string& dag_id, const std::string& ds,
                           const std::string& task_id, int attempt);

  struct Impl;

 private:
  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::scheduler

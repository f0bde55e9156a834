// DAG definitions: YAML files in the DAGs folder, validated at load time (every error names
// the file and line), and the task kinds they use. Internal to the scheduler module (tests use
// it too); the public surface is scheduler.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/schedule.h"

namespace sluice::scheduler {

struct TaskSpec {
  std::string id;
  std::string kind;
  std::vector<std::string> upstream;
  int line = 0;
  YAML::Node node;  // the task's mapping, for its kind
  int retries = 0;
  double retry_delay_s = 10;
  bool exponential_backoff = true;
  double max_retry_delay_s = 600;
  double timeout_s = 0;  // 0: none
  double sla_s = 0;      // 0: none; measured from the run's start
  std::string pool;      // empty: only the global and DAG limits
  std::map<std::string, std::string> env;
};

struct Dag {
  std::string dag_id;
  std::filesystem::path file;
  std::string description;
  Schedule schedule;
  TimeZone tz;
  int64_t start_date = 0;  // local midnight of start_date, as UTC seconds
  bool catchup = false;
  int max_active_runs = 1;
  int max_active_tasks = 0;  // 0: only the global limit
  std::map<std::string, std::string> params;
  std::vector<TaskSpec> tasks;  // topological order
  std::map<std::string, size_t> index;
  std::vector<std::vector<size_t>> upstream, downstream;  // by task index

  // The run key of an interval starting at `start` (YYYY-MM-DD, or YYYY-MM-DDTHH:MM for
  // schedules that tick more than once a day).
  std::string run_key(int64_t start) const;
  // The data interval of a run key: start and end (the next tick, or +1 day without a schedule).
  Result<std::pair<int64_t, int64_t>> interval_of(std::string_view ds) const;
};

// Where a task runs: the binary and global flags for sluice children, and their folder.
struct ExecEnv {
  std::string sluice_binary;
  std::vector<std::string> sluice_args;
  std::filesystem::path cwd;
};

// Template variables of one task attempt ({{ ds }}, {{ params.x }}, ...).
using Vars = std::map<std::string, std::string>;
// Replaces {{ name }}; an unknown name is an error naming it.
Result<std::string> render(std::string_view text, const Vars& vars);
// The names a template uses (for load-time checks).
std::vector<std::string> template_names(std::string_view text);

// A task kind: validates its YAML at load time and turns a task into a command line. Later
// kinds (stream jobs, ML, serving sync) plug in by registering one more.
class TaskKind {
 public:
  virtual ~TaskKind() = default;
  virtual std::string name() const = 0;
  virtual std::string doc() const = 0;
  // Checks kind-specific keys; errors as "<file>:<line>: ...". `where` is "<file>:<line>".
  virtual Status validate(const YAML::Node& task, const std::string& file) const = 0;
  // The argv of the child process; empty for a kind that completes in-process (noop).
  virtual Result<std::vector<std::string>> command(const TaskSpec& task, const Vars& vars,
                                                   const ExecEnv& env) const = 0;
  // Keys the kind accepts, besides the common ones.
  virtual std::vector<std::string> keys() const = 0;
};

void register_task_kind(std::unique_ptr<TaskKind> kind);
const TaskKind* find_task_kind(std::string_view name);
std::vector<const TaskKind*> task_kinds();

// Parses and validates one DAG file's text.
Result<std::shared_ptr<const Dag>> parse_dag(std::string_view text,
                                             const std::filesystem::path& file);
Result<std::shared_ptr<const Dag>> load_dag_file(const std::filesystem::path& file);

struct DagSet {
  std::map<std::string, std::shared_ptr<const Dag>> dags;
  std::vector<std::pair<std::string, std::string>> errors;  // file, message
};
// Loads every *.yaml / *.yml in `dir`; a broken file is reported and skipped.
DagSet load_dags(const std::filesystem::path& dir);

// Intervals [start, end) the scheduler should create runs for at `now`: the ticks after
// `last_start` (or from start_date), whose interval has ended. Catchup off: only the latest.
std::vector<std::pair<int64_t, int64_t>> due_intervals(const Dag& dag,
                                                       std::optional<int64_t> last_start,
                                                       int64_t now, size_t max = 1000);

}  // namespace sluice::scheduler

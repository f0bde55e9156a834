// The scheduler through the real binary: foreground runs of shell-task DAGs, retries,
// timeouts, logs, validation errors, backfill order and parallelism, the daemon and its API,
// max_active_runs, the single-owner lock, and crash-resume after kill -9.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "scheduler/scheduler_cli_fixture.h"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

TEST_F(SchedulerCli, ShellDagRunsInDependencyOrderWithTemplatesAndLogs) {
  dag("chain", R"(description: three shell tasks
params:
  who: sluice
tasks:
  - id: extract
    kind: shell
    command: echo "extract {{ ds }} {{ params.who }}" >> order.txt
  - id: transform
    kind: shell
    command: echo "transform $SLUICE_DS try {{ try_number }}" >> order.txt; echo hello from transform
    depends_on: extract
  - id: load
    kind: shell
    command: echo load {{ ds_nodash }} >> order.txt
    depends_on: [transform]
)");
  auto r = sluice("dag run chain --ds 2026-11-20");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("running manual__2026-11-20 (chain)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run chain 2026-11-20: success"), std::string::npos) << r.out;
  EXPECT_EQ(file("order.txt"),
            "extract 2026-11-20 sluice\ntransform 2026-11-20 try 1\nload 20261120\n");
  auto logs = sluice("dag logs chain transform --ds 2026-11-20");
  ASSERT_EQ(logs.code, 0) << logs.err;
  EXPECT_NE(logs.out.find("hello from transform"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("attempt 1 succeeded"), std::string::npos) << logs.out;
  EXPECT_TRUE(fs::exists(dir_ / "state/scheduler/logs/chain/2026-11-20/transform/1.log"));
  auto j = show("chain");
  ASSERT_EQ(j["runs"].size(), 1u);
  EXPECT_EQ(j["runs"][0]["state"], "success");
  EXPECT_EQ(j["runs"][0]["run_type"], "manual");
  EXPECT_EQ(j["tasks"][2]["upstream"], json::array({"transform"}));
  // A finished run is not run twice.
  auto again = sluice("dag run chain --ds 2026-11-20");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("run 2026-11-20 of chain already finished (success)"), std::string::npos)
      << again.err;
  // Clear re-runs a task and what depends on it.
  auto clear = sluice("dag clear chain --task transform --ds 2026-11-20");
  ASSERT_EQ(clear.code, 0) << clear.err;
  EXPECT_NE(clear.out.find("cleared transform, load of chain 2026-11-20"), std::string::npos)
      << clear.out;
  auto rerun = sluice("dag run chain --ds 2026-11-20");
  ASSERT_EQ(rerun.code, 0) << rerun.out << rerun.err;
  EXPECT_EQ(file("order.txt"),
            "extract 2026-11-20 sluice\ntransform 2026-11-20 try 1\nload 20261120\n"
            "transform 2026-11-20 try 2\nload 20261120\n");
}

TEST_F(SchedulerCli, AFailingTaskRetriesThenSucceeds) {
  dag("flaky", R"(tasks:
  - id: flaky
    kind: shell
    retries: 3
    retry_delay: 100ms
    command: n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "try $n"; test $n -ge 3
  - id: after
    kind: shell
    command: echo after
    depends_on: flaky
)");
  auto r = sluice("dag run flaky --ds 2026-11-20");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(file("count"), "3\n");
  EXPECT_NE(r.out.find("flaky                    up_for_retry (try 1)  exit code 1; retry 1 of 3"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("retry 2 of 3 in 0.2s"), std::string::npos) << r.out;  // backoff doubles
  auto first = sluice("dag logs flaky flaky --ds 2026-11-20 --attempt 1");
  EXPECT_NE(first.out.find("try 1"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("attempt 1 failed: exit code 1"), std::string::npos) << first.out;
  auto last = sluice("dag logs flaky flaky --ds 2026-11-20");
  EXPECT_NE(last.out.find("try 3"), std::string::npos) << last.out;
  auto j = show("flaky");
  EXPECT_EQ(j["runs"][0]["tasks"][0]["try_number"], 3);
  EXPECT_EQ(j["runs"][0]["tasks"][1]["state"], "success");
  auto none = sluice("dag logs flaky flaky --ds 2026-11-20 --attempt 9");
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("has 3 attempt(s), not 9"), std::string::npos) << none.err;
}

TEST_F(SchedulerCli, ExhaustedRetriesFailTheRunAndItsDownstream) {
  dag("bad", R"(tasks:
  - id: boom
    kind: shell
    retries: 1
    retry_delay: 50ms
    command: echo failing; exit 3
  - id: next
    kind: shell
    command: touch ran
    depends_on: boom
)");
  auto r = sluice("dag run bad --ds 2026-11-20");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("boom                     failed (try 2)  exit code 3"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("next                     upstream_failed"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 run(s) of bad failed"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "ran"));
  auto st = sluice("dag status");
  EXPECT_NE(st.out.find(" bad | 2026-11-20 | manual   | failed"), std::string::npos) << st.out;
}

TEST_F(SchedulerCli, ATimeoutKillsTheTasksWholeProcessGroup) {
  dag("slow", R"(tasks:
  - id: sleeper
    kind: shell
    timeout: 500ms
    command: sleep 60 & echo $! > bg.pid; sleep 60
)");
  auto r = sluice("dag run slow --ds 2026-11-20");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("timed out after 0.5s"), std::string::npos) << r.out;
  int bg = pid_of(file("bg.pid"));
  EXPECT_TRUE(wait_for([&] { return !alive(bg); }, 5)) << "background child " << bg << " lives";
  auto logs = sluice("dag logs slow sleeper --ds 2026-11-20");
  EXPECT_NE(logs.out.find("attempt 1 failed: timed out after 0.5s"), std::string::npos) << logs.out;
}

TEST_F(SchedulerCli, BrokenDagFilesAreReportedWithFileAndLineAndDoNotStopOthers) {
  dag("good", "tasks:\n  - id: a\n    kind: noop\n");
  dag("cyclic", "tasks:\n  - id: a\n    kind: noop\n    depends_on: a\n");
  dag("cron", "schedule: 0 0 * *\nstart_date: 2026-01-01\ntasks:\n  - id: a\n    kind: noop\n");
  auto r = sluice("dag list");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("good"), std::string::npos);
  EXPECT_NE(r.out.find("error: " + path("dags/cyclic.yaml") + ":4: task 'a' depends on itself"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("error: " + path("dags/cron.yaml") +
                       ":1: bad cron expression '0 0 * *': expected 5 fields"),
            std::string::npos)
      << r.out;
  auto run = sluice("dag run good --ds 2026-11-20");
  EXPECT_EQ(run.code, 0) << run.err;
  auto missing = sluice("dag run cyclic");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no DAG 'cyclic'"), std::string::npos) << missing.err;
}

TEST_F(SchedulerCli, BackfillRunsInOrderWithinItsParallelism) {
  std::string task = R"(tasks:
  - id: work
    kind: shell
    command: echo "start {{ ds }}" >> LOG; sleep 0.2; echo "end {{ ds }}" >> LOG
)";
  auto with_log = [&](std::string y, const std::string& log) {
    return y.replace(y.find("LOG"), 3, log).replace(y.find("LOG"), 3, log);
  };
  dag("serial", "schedule: '@daily'\nstart_date: 2026-11-01\n" + with_log(task, "serial.log"));
  auto r = sluice("dag backfill serial --from 2026-11-01 --to 2026-11-04");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("backfill of serial: 4 run(s) from 2026-11-01 to 2026-11-04, "
                       "parallelism 1"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(file("serial.log"),
            "start 2026-11-01\nend 2026-11-01\nstart 2026-11-02\nend 2026-11-02\n"
            "start 2026-11-03\nend 2026-11-03\nstart 2026-11-04\nend 2026-11-04\n");
  auto j = show("serial");
  ASSERT_EQ(j["runs"].size(), 4u);
  EXPECT_EQ(j["runs"][0]["ds"], "2026-11-04");  // newest first
  EXPECT_EQ(j["runs"][0]["run_type"], "backfill");

  dag("wide", "schedule: '@daily'\nstart_date: 2026-11-01\n" + with_log(task, "wide.log"));
  auto w = sluice("dag backfill wide --from 2026-11-01 --to 2026-11-06 --parallelism 2");
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  std::istringstream in(file("wide.log"));
  std::string what, ds;
  int running = 0, peak = 0, starts = 0;
  while (in >> what >> ds) {
    if (what == "start") {
      peak = std::max(peak, ++running);
      ++starts;
    } else {
      --running;
    }
  }
  EXPECT_EQ(starts, 6);
  EXPECT_LE(peak, 2);
  // Runs started oldest first (the scheduler's own start times; two shells may race to the log).
  auto wj = show("wide");
  ASSERT_EQ(wj["runs"].size(), 6u);
  for (size_t i = 0; i + 1 < wj["runs"].size(); ++i)  // newest first
    EXPECT_GE(wj["runs"][i]["start"].get<std::string>(),
              wj["runs"][i + 1]["start"].get<std::string>());
}

TEST_F(SchedulerCli, DaemonServesTheApiLimitsOverlappingRunsAndOwnsTheLock) {
  dag("one_at_a_time", R"(max_active_runs: 1
tasks:
  - id: work
    kind: shell
    command: echo "start {{ ds }}" >> runs.log; sleep 0.3; echo "end {{ ds }}" >> runs.log
)");
  int daemon = start_daemon(1);
  // A second scheduler on the same state is refused, naming the owner.
  auto second = sluice("scheduler --listen 127.0.0.1:0", 2);
  EXPECT_EQ(second.code, 1);
  EXPECT_NE(second.err.find("sluice: error: scheduler state " + path("state/scheduler") +
                            " is owned by pid " + std::to_string(daemon) + " (started "),
            std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("); stop it or use another --data-dir"), std::string::npos);
  // Runs go through the daemon's API; max_active_runs 1 keeps them apart.
  auto a = sluice("dag run one_at_a_time --ds 2026-11-01");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_NE(a.out.find("submitted manual__2026-11-01 (one_at_a_time) to the scheduler at"),
            std::string::npos)
      << a.out;
  ASSERT_EQ(sluice("dag run one_at_a_time --ds 2026-11-02").code, 0);
  ASSERT_EQ(sluice("dag run one_at_a_time --ds 2026-11-03").code, 0);
  EXPECT_TRUE(wait_for([&] { return run_state("one_at_a_time", "2026-11-03") == "success"; }));
  EXPECT_EQ(file("runs.log"),
            "start 2026-11-01\nend 2026-11-01\nstart 2026-11-02\nend 2026-11-02\n"
            "start 2026-11-03\nend 2026-11-03\n");
  auto logs = sluice("dag logs one_at_a_time work --ds 2026-11-02");
  EXPECT_NE(logs.out.find("attempt 1 succeeded"), std::string::npos) << logs.out << logs.err;
  auto list = sluice("dag list --json");
  auto lj = json::parse(list.out, nullptr, false);
  ASSERT_FALSE(lj.is_discarded()) << list.out;
  EXPECT_EQ(lj["dags"][0]["dag_id"], "one_at_a_time");
  EXPECT_EQ(lj["dags"][0]["last_run"]["state"], "success");
  stop(daemon);
  EXPECT_FALSE(fs::exists(dir_ / "state/scheduler/daemon.json"));
}

// kill -9 of a foreground `sluice dag run` while a task runs: the task's process group is left
// behind; the next run of the same ds kills it, records the attempt as orphaned and retries.
TEST_F(SchedulerCli, KillNineOfAForegroundRunResumesWithoutRunningTwice) {
  dag("crashy", R"(tasks:
  - id: long
    kind: shell
    retries: 1
    retry_delay: 0s
    command: if [ -f first ]; then echo second attempt; else touch first; echo $$ > long.pid; sleep 60; fi
  - id: after
    kind: shell
    command: echo after >> after.txt
    depends_on: long
)");
  int runner = spawn("dag run crashy --ds 2026-11-20", 1);
  started_.push_back(runner);
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir_ / "long.pid") && !file("long.pid").empty(); }));
  ::kill(runner, SIGKILL);
  ASSERT_TRUE(wait_for([&] { return !alive(runner); }));
  int child = pid_of(file("long.pid"));
  EXPECT_TRUE(alive(child)) << "the task should outlive the killed scheduler";
  auto r = sluice("dag run crashy --ds 2026-11-20");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("resuming manual__2026-11-20"), std::string::npos) << r.out;
  EXPECT_TRUE(wait_for([&] { return !alive(child); }, 5))
      << "the orphaned task must be killed before the retry";
  EXPECT_EQ(file("after.txt"), "after\n");
  auto first = sluice("dag logs crashy long --ds 2026-11-20 --attempt 1");
  EXPECT_NE(first.out.find("orphaned: the scheduler running it stopped (its process group"),
            std::string::npos)
      << first.out;
  auto second = sluice("dag logs crashy long --ds 2026-11-20");
  EXPECT_NE(second.out.find("second attempt"), std::string::npos) << second.out;
}

// kill -9 of the daemon mid-task: a new daemon takes over the state and finishes the run.
TEST_F(SchedulerCli, KillNineOfTheDaemonResumesTheRun) {
  dag("crashy", R"(tasks:
  - id: long
    kind: shell
    retries: 2
    retry_delay: 0s
    command: if [ -f first ]; then echo second attempt; else touch first; echo $$ > long.pid; sleep 60; fi
  - id: after
    kind: shell
    command: echo after >> after.txt
    depends_on: long
)");
  int d1 = start_daemon(1);
  ASSERT_EQ(sluice("dag run crashy --ds 2026-11-20").code, 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir_ / "long.pid") && !file("long.pid").empty(); }));
  ::kill(d1, SIGKILL);
  ASSERT_TRUE(wait_for([&] { return !alive(d1); }));
  int child = pid_of(file("long.pid"));
  EXPECT_TRUE(alive(child));
  // The stale daemon.json points nowhere; reads fall back to the store.
  fs::remove(dir_ / "state/scheduler/daemon.json");
  int d2 = start_daemon(2);
  EXPECT_TRUE(wait_for([&] { return run_state("crashy", "2026-11-20") == "success"; }));
  EXPECT_TRUE(wait_for([&] { return !alive(child); }, 5));
  EXPECT_EQ(file("after.txt"), "after\n");
  auto j = show("crashy");
  EXPECT_EQ(j["runs"][0]["tasks"][0]["try_number"], 2);
  stop(d2);
}

}  // namespace
}  // namespace sluice::testing

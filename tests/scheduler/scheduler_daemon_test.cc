// The daemon (`sluice scheduler`) on its own: SLA alerts, pools shared across DAGs and a DAG's
// max_active_tasks, backfills that leave room for fresh runs, and runs created from schedules
// without a trigger. Concurrency is read from the order in which tasks append `start X` /
// `end X` lines to a file, never from timings.
#include <algorithm>
#include <ctime>
#include <fstream>
#include <string>

#include "scheduler/scheduler_cli_fixture.h"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class SchedulerDaemon : public SchedulerCli {
 protected:
  void config(const std::string& toml) { std::ofstream(dir_ / "sluice.toml") << toml; }
  // A shell task appending `start <tag>` and `end <tag>` around a sleep.
  static std::string task(const std::string& id, const std::string& log, const std::string& tag,
                          const std::string& extra = "") {
    return "  - id: " + id + "\n    kind: shell\n" + extra + "    command: echo \"start " + tag +
           "\" >> " + log + "; sleep 1; echo \"end " + tag + "\" >> " + log + "\n";
  }
  // `YYYY-MM-DD` of today (UTC) plus `days`.
  static std::string utc_date(int days) {
    std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
  }
  // The runs of a DAG as (ds, run_type, state), newest first.
  std::vector<std::tuple<std::string, std::string, std::string>> runs(const std::string& dag_id) {
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    auto j = show(dag_id);
    if (!j.contains("runs")) return out;
    for (const auto& r : j["runs"])
      out.emplace_back(r["ds"], r["run_type"], r["state"]);
    return out;
  }
};

// scheduler.cc check_slas(): a task not done `sla` after its run started gets one `sla_miss`
// alert (store, `dag status`, the API), a warn log line, and `sla_missed` on its task
// instance; a task within its SLA gets none.
TEST_F(SchedulerDaemon, AMissedSlaRaisesOneAlert) {
  dag("sla", R"(tasks:
  - id: slow
    kind: shell
    sla: 1s
    command: sleep 5
  - id: quick
    kind: shell
    sla: 1h
    command: "true"
)");
  int daemon = start_daemon(1);
  ASSERT_EQ(sluice("dag run sla --ds 2026-11-20").code, 0);
  ASSERT_TRUE(wait_until([&] { return run_state("sla", "2026-11-20") == "success"; }, 60))
      << file("stderr1");
  auto st = sluice("dag status --json");
  auto j = json::parse(st.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << st.out << st.err;
  ASSERT_EQ(j["alerts"].size(), 1u) << j.dump(2);
  const auto& a = j["alerts"][0];
  EXPECT_EQ(a["kind"], "sla_miss");
  EXPECT_EQ(a["dag_id"], "sla");
  EXPECT_EQ(a["ds"], "2026-11-20");
  EXPECT_EQ(a["task_id"], "slow");
  EXPECT_EQ(a["message"], "task slow of sla 2026-11-20 not done 1s after the run started (SLA)");
  auto text = sluice("dag status");
  EXPECT_NE(text.out.find("alerts: 1\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  sla_miss  task slow of sla 2026-11-20 not done 1s after the run "
                          "started (SLA)"),
            std::string::npos)
      << text.out;
  auto tasks = show("sla")["runs"][0]["tasks"];
  EXPECT_EQ(tasks[0]["sla_missed"], true);
  EXPECT_EQ(tasks[1]["sla_missed"], false);
  EXPECT_NE(file("stderr1").find(" warn SLA missed dag=sla ds=2026-11-20 task=slow sla_s=1"),
            std::string::npos)
      << file("stderr1");
  // Alerts are kept in the store: a later scheduler still reports it.
  stop(daemon);
  auto after = sluice("dag status --json");
  auto aj = json::parse(after.out, nullptr, false);
  ASSERT_FALSE(aj.is_discarded()) << after.out << after.err;
  EXPECT_EQ(aj["alerts"].size(), 1u) << aj.dump(2);
}

// A pool's slots are shared by every DAG using it, and a DAG's max_active_tasks caps its own
// tasks, at every moment.
TEST_F(SchedulerDaemon, PoolsAcrossDagsAndMaxActiveTasksHoldAtEveryMoment) {
  config("[scheduler]\npools = \"db=2\"\nmax_active_tasks = 8\n");
  for (std::string d : {"a", "b"}) {
    std::string y = "tasks:\n";
    for (int i = 1; i <= 3; ++i)
      y += task("t" + std::to_string(i), "pool.log", d + std::to_string(i), "    pool: db\n");
    dag("pool_" + d, y);
  }
  std::string narrow = "max_active_tasks: 1\ntasks:\n";
  for (int i = 1; i <= 3; ++i)
    narrow += task("t" + std::to_string(i), "narrow.log", "n" + std::to_string(i));
  dag("narrow", narrow);
  int daemon = start_daemon(1);
  for (std::string d : {"pool_a", "pool_b", "narrow"}) {
    auto r = sluice("dag run " + d + " --ds 2026-11-20");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  for (std::string d : {"pool_a", "pool_b", "narrow"})
    EXPECT_TRUE(wait_until([&] { return run_state(d, "2026-11-20") == "success"; }, 90))
        << d << "\n"
        << file("stderr1");
  auto all = [](const std::string&) { return true; };
  auto lines = [&](const std::string& log) {
    auto text = file(log);
    return std::count(text.begin(), text.end(), '\n');
  };
  // Six tasks of two DAGs in one pool of 2: never more than 2 at once, counted across both.
  EXPECT_EQ(lines("pool.log"), 12) << file("pool.log");
  EXPECT_LE(peak("pool.log", all), 2) << file("pool.log");
  // Three tasks without dependencies under max_active_tasks 1: one after the other.
  EXPECT_EQ(lines("narrow.log"), 6) << file("narrow.log");
  EXPECT_EQ(peak("narrow.log", all), 1) << file("narrow.log");
  stop(daemon);
}

// With one task slot in all, a fresh run submitted while a long backfill (parallelism 1) is
// under way takes the next free slot: it starts before the backfill's later runs.
TEST_F(SchedulerDaemon, ABackfillDoesNotBlockAFreshRun) {
  config("[scheduler]\nmax_active_tasks = 1\n");
  dag("etl", "tasks:\n" + task("work", "etl.log", "{{ ds }}"));
  int daemon = start_daemon(1);
  auto bf = sluice("dag backfill etl --from 2026-11-01 --to 2026-11-08 --parallelism 1");
  ASSERT_EQ(bf.code, 0) << bf.out << bf.err;
  EXPECT_NE(bf.out.find("submitted 8 backfill run(s) of etl to the scheduler at"),
            std::string::npos)
      << bf.out;
  ASSERT_TRUE(
      wait_for([&] { return file("etl.log").find("start 2026-11-01") != std::string::npos; }, 60));
  auto fresh = sluice("dag run etl --ds 2026-12-01");
  ASSERT_EQ(fresh.code, 0) << fresh.out << fresh.err;
  ASSERT_TRUE(wait_until([&] { return run_state("etl", "2026-12-01") == "success"; }, 60))
      << file("etl.log");
  EXPECT_TRUE(wait_until([&] { return run_state("etl", "2026-11-08") == "success"; }, 90))
      << file("etl.log");
  // One slot: the log is strictly sequential, and the fresh run came before the backfill's
  // last days (it waited at most for the backfill task running when it was submitted).
  std::string log = file("etl.log");
  EXPECT_EQ(peak("etl.log", [](const std::string&) { return true; }), 1) << log;
  auto fresh_start = log.find("start 2026-12-01");
  ASSERT_NE(fresh_start, std::string::npos) << log;
  EXPECT_LT(fresh_start, log.find("start 2026-11-07")) << log;
  EXPECT_LT(fresh_start, log.find("start 2026-11-08")) << log;
  // The backfill still ran every day, oldest first.
  size_t prev = 0;
  for (int d = 1; d <= 8; ++d) {
    auto at = log.find("start 2026-11-0" + std::to_string(d));
    ASSERT_NE(at, std::string::npos) << d << "\n" << log;
    EXPECT_GE(at, prev) << log;
    prev = at;
  }
  stop(daemon);
}

// The daemon creates runs from schedules by itself: catchup on creates every missed @daily
// interval since start_date; a per-minute schedule (the finest cron granularity) with catchup
// off gets the latest finished minute at once, then a new run when the next minute ends.
TEST_F(SchedulerDaemon, SchedulesCreateRunsWithoutATrigger) {
  std::string start = utc_date(-3);
  dag("daily", "schedule: '@daily'\nstart_date: " + start +
                   "\ncatchup: true\ntasks:\n  - id: t\n    kind: shell\n"
                   "    command: echo {{ ds }} >> daily.log\n");
  dag("minutely", "schedule: '* * * * *'\nstart_date: " + start +
                      "\ntasks:\n  - id: t\n    kind: shell\n"
                      "    command: echo {{ ts }} >> minutely.log\n");
  int daemon = start_daemon(1);
  std::vector<std::string> days{utc_date(-3), utc_date(-2), utc_date(-1)};
  auto daily_done = [&] {
    auto rs = runs("daily");
    if (rs.size() != days.size()) return false;
    for (const auto& [ds, type, state] : rs)
      if (state != "success") return false;
    return true;
  };
  EXPECT_TRUE(wait_until(daily_done, 60)) << show("daily").dump(2) << file("stderr1");
  auto rs = runs("daily");
  ASSERT_EQ(rs.size(), 3u);
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(std::get<0>(rs[i]), days[days.size() - 1 - i]);  // newest first
    EXPECT_EQ(std::get<1>(rs[i]), "scheduled");
  }
  // max_active_runs 1: the catchup runs ran one after the other, oldest first.
  EXPECT_EQ(file("daily.log"), days[0] + "\n" + days[1] + "\n" + days[2] + "\n");

  ASSERT_TRUE(wait_until([&] { return !runs("minutely").empty(); }, 30)) << file("stderr1");
  auto first = runs("minutely");
  EXPECT_EQ(std::get<1>(first[0]), "scheduled");
  EXPECT_EQ(std::get<0>(first[0]).size(), std::string("2026-11-20T10:00").size());
  // The next minute's run appears on its own (within ~60 s, plus slack for a loaded machine).
  EXPECT_TRUE(wait_until(
      [&] {
        auto r = runs("minutely");
        return r.size() >= 2 && std::get<2>(r[0]) == "success" && std::get<2>(r[1]) == "success";
      },
      80))
      << show("minutely").dump(2);
  auto later = runs("minutely");
  ASSERT_GE(later.size(), 2u);
  EXPECT_GT(std::get<0>(later[0]), std::get<0>(later[1]));
  EXPECT_EQ(std::get<1>(later[0]), "scheduled");
  stop(daemon);
}

// A DAG file written while the daemon runs can be run at once (API calls rescan the folder;
// before, they waited for the loop's 2 s rescan and answered "no DAG").
TEST_F(SchedulerDaemon, ADagWrittenWhileTheDaemonRunsCanBeRunAtOnce) {
  dag("first", "tasks:\n  - id: a\n    kind: noop\n");
  int daemon = start_daemon(1);
  ASSERT_EQ(sluice("dag run first --ds 2026-11-20").code, 0);
  for (int i = 0; i < 3; ++i) {
    std::string id = "new" + std::to_string(i);
    dag(id, "tasks:\n  - id: a\n    kind: shell\n    command: echo " + id + " >> new.log\n");
    auto r = sluice("dag run " + id + " --ds 2026-11-20");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(wait_until([&] { return run_state(id, "2026-11-20") == "success"; }, 30));
  }
  EXPECT_EQ(file("new.log"), "new0\nnew1\nnew2\n");
  stop(daemon);
}

}  // namespace
}  // namespace sluice::testing

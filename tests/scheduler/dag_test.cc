// DAG files: validation errors name file:line; planning (catchup on/off); templates.
#include "scheduler/dag.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sluice::scheduler {
namespace {

int64_t utc(int y, unsigned mo, unsigned d, int h = 0) {
  return days_from_civil(y, mo, d) * 86400 + h * 3600;
}

std::string error_of(const std::string& yaml) {
  auto d = parse_dag(yaml, "dags/x.yaml");
  return d.is_ok() ? "OK" : d.status().message();
}

const char* kGood = R"(dag_id: etl
schedule: "@daily"
timezone: Europe/Berlin
start_date: 2026-11-01
default_args:
  retries: 2
  retry_delay: 1s
tasks:
  - id: load
    kind: shell
    command: echo {{ ds }} {{ params.scale }}
  - id: models
    kind: models
    select: [refined, curated]
    depends_on: load
    timeout: 10m
  - id: check
    kind: quality
    depends_on: [models]
    retries: 0
params:
  scale: 3
)";

TEST(DagLoad, ParsesTasksDefaultsAndOrder) {
  auto d = parse_dag(kGood, "dags/etl.yaml");
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  const Dag& dag = **d;
  EXPECT_EQ(dag.dag_id, "etl");
  ASSERT_EQ(dag.tasks.size(), 3u);
  EXPECT_EQ(dag.tasks[0].id, "load");
  EXPECT_EQ(dag.tasks[0].retries, 2);
  EXPECT_DOUBLE_EQ(dag.tasks[0].retry_delay_s, 1);
  EXPECT_DOUBLE_EQ(dag.tasks[1].timeout_s, 600);
  EXPECT_EQ(dag.tasks[2].retries, 0);
  EXPECT_EQ(dag.downstream[dag.index.at("load")], std::vector<size_t>{dag.index.at("models")});
  ExecEnv env{"/bin/sluice", {"--data-dir", "/d"}, "/"};
  Vars vars{{"ds", "2026-11-20"}};
  auto argv = find_task_kind("models")->command(dag.tasks[1], vars, env);
  ASSERT_TRUE(argv.is_ok());
  EXPECT_EQ(*argv, (std::vector<std::string>{"/bin/sluice", "--data-dir", "/d", "model", "run",
                                             "refined", "curated", "--ds", "2026-11-20"}));
}

TEST(DagLoad, ErrorsNameFileAndLine) {
  // A cycle.
  EXPECT_EQ(error_of(R"(tasks:
  - id: a
    kind: noop
    depends_on: c
  - id: b
    kind: noop
    depends_on: a
  - id: c
    kind: noop
    depends_on: b
)"),
            "dags/x.yaml:2: dependency cycle: a -> c -> b -> a (each depends on the next)");
  // An unknown kind.
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    kind: spark\n"),
            "dags/x.yaml:3: task 'a': unknown task kind 'spark' (known: ingest, models, quality, "
            "sql, maintenance, shell, noop)");
  // A dependency on a missing task.
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    kind: noop\n    depends_on: [nope]\n"),
            "dags/x.yaml:4: task 'a' depends on missing task 'nope'");
  // A bad cron expression.
  EXPECT_EQ(error_of("schedule: '0 25 * * *'\nstart_date: 2026-01-01\ntasks:\n  - id: a\n"
                     "    kind: noop\n"),
            "dags/x.yaml:1: bad cron expression '0 25 * * *': bad hour field '25': out of range "
            "(allowed 0-23)");
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    kind: shell\n"),
            "dags/x.yaml:2: task needs 'command'");
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    kind: shell\n    command: echo {{ dss }}\n"),
            "dags/x.yaml:4: task 'a': unknown template variable 'dss'");
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    kind: noop\n    timeout: soon\n"),
            "dags/x.yaml:4: 'timeout': 'soon' is not a duration (e.g. 250ms, 30s, 5m, 2h, 1d)");
  EXPECT_EQ(error_of("shedule: '@daily'\ntasks: []\n"), "dags/x.yaml:1: unknown key 'shedule'");
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    kind: noop\n  - id: a\n    kind: noop\n"),
            "dags/x.yaml:4: duplicate task id 'a'");
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    kind: noop\n   bad: [\n"),
            error_of("tasks:\n  - id: a\n    kind: noop\n   bad: [\n"));
  EXPECT_NE(error_of("tasks:\n  - id: a\n    kind: noop\n   bad: [\n").find("dags/x.yaml:"),
            std::string::npos);
}

TEST(DagLoad, ABrokenFileDoesNotStopTheOthers) {
  auto dir = std::filesystem::temp_directory_path() / ("dagload_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "good.yaml") << "tasks:\n  - id: a\n    kind: noop\n";
  std::ofstream(dir / "bad.yaml") << "tasks:\n  - id: a\n    kind: nope\n";
  auto set = load_dags(dir);
  EXPECT_EQ(set.dags.size(), 1u);
  EXPECT_TRUE(set.dags.count("good"));
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_NE(set.errors[0].second.find("bad.yaml:3: task 'a': unknown task kind 'nope'"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

std::shared_ptr<const Dag> daily(bool catchup) {
  std::string y = std::string("schedule: '@daily'\nstart_date: 2026-11-01\ncatchup: ") +
                  (catchup ? "true" : "false") + "\ntasks:\n  - id: a\n    kind: noop\n";
  return *parse_dag(y, "d.yaml");
}

TEST(Planning, CatchupOnCreatesEveryMissedInterval) {
  auto d = daily(true);
  auto iv = due_intervals(*d, std::nullopt, utc(2026, 11, 4, 6));
  ASSERT_EQ(iv.size(), 3u);  // Nov 1, 2, 3 (Nov 4's interval ends at Nov 5 00:00)
  EXPECT_EQ(d->run_key(iv[0].first), "2026-11-01");
  EXPECT_EQ(d->run_key(iv[2].first), "2026-11-03");
  EXPECT_EQ(iv[2].second, utc(2026, 11, 4));
  // Already ran up to Nov 2: only Nov 3.
  auto rest = due_intervals(*d, utc(2026, 11, 2), utc(2026, 11, 4, 6));
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(d->run_key(rest[0].first), "2026-11-03");
  EXPECT_TRUE(due_intervals(*d, utc(2026, 11, 3), utc(2026, 11, 4, 6)).empty());
}

TEST(Planning, CatchupOffCreatesOnlyTheLatest) {
  auto d = daily(false);
  auto iv = due_intervals(*d, std::nullopt, utc(2026, 11, 4, 6));
  ASSERT_EQ(iv.size(), 1u);
  EXPECT_EQ(d->run_key(iv[0].first), "2026-11-03");
  EXPECT_TRUE(due_intervals(*d, utc(2026, 11, 3), utc(2026, 11, 4, 6)).empty());
  auto later = due_intervals(*d, utc(2026, 11, 3), utc(2026, 11, 9, 1));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(d->run_key(later[0].first), "2026-11-08");
  // Before the start date nothing is due.
  EXPECT_TRUE(due_intervals(*d, std::nullopt, utc(2026, 10, 20)).empty());
}

TEST(Planning, IntervalsOfARunKeyFollowTheZone) {
  auto d = *parse_dag(
      "schedule: '@daily'\ntimezone: Europe/Berlin\nstart_date: 2026-03-01\ntasks:\n"
      "  - id: a\n    kind: noop\n",
      "d.yaml");
  auto iv = d->interval_of("2026-03-29");  // 23-hour day
  ASSERT_TRUE(iv.is_ok());
  EXPECT_EQ(iv->first, utc(2026, 3, 28, 23));
  EXPECT_EQ(iv->second - iv->first, 23 * 3600);
  auto hourly = *parse_dag(
      "schedule: '0 */6 * * *'\nstart_date: 2026-03-01\ntasks:\n"
      "  - id: a\n    kind: noop\n",
      "h.yaml");
  EXPECT_EQ(hourly->run_key(utc(2026, 3, 2, 6)), "2026-03-02T06:00");
  auto hiv = hourly->interval_of("2026-03-02T06:00");
  ASSERT_TRUE(hiv.is_ok());
  EXPECT_EQ(hiv->second - hiv->first, 6 * 3600);
}

TEST(Templates, RenderAndUnknownNames) {
  Vars v{{"ds", "2026-11-20"}, {"params.x", "7"}};
  EXPECT_EQ(*render("day={{ ds }} x={{params.x}}", v), "day=2026-11-20 x=7");
  auto bad = render("{{ nope }}", v);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "unknown template variable 'nope'");
  EXPECT_EQ(template_names("{{ ds }} {{ params.a }}"),
            (std::vector<std::string>{"ds", "params.a"}));
}

}  // namespace
}  // namespace sluice::scheduler

namespace sluice::scheduler {
namespace {

TEST(ExampleDags, LoadWithoutErrors) {
  auto set = load_dags(std::filesystem::path(SLUICE_SOURCE_DIR) / "examples/ecommerce/dags");
  for (const auto& [file, msg] : set.errors)
    ADD_FAILURE() << msg;
  ASSERT_TRUE(set.dags.count("daily_etl"));
  ASSERT_TRUE(set.dags.count("housekeeping"));
  const auto& etl = *set.dags.at("daily_etl");
  EXPECT_EQ(etl.tasks.front().kind, "ingest");
  EXPECT_EQ(etl.tasks.back().id, "quality_curated");
  ExecEnv env{"/sluice", {}, "/"};
  Vars vars{{"ds", "2026-11-20"}};
  auto& hk = *set.dags.at("housekeeping");
  auto cmd = find_task_kind("maintenance")->command(hk.tasks[1], vars, env);
  ASSERT_TRUE(cmd.is_ok());
  EXPECT_EQ((*cmd)[0], "/bin/sh");
  EXPECT_NE((*cmd)[2].find("table expire \"$t\" '--older-than' '7d' '--retain-last' '5'"),
            std::string::npos)
      << (*cmd)[2];
}

}  // namespace
}  // namespace sluice::scheduler

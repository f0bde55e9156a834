// Typed tasks through the scheduler and the real binary: `sql` creates and appends a lake
// table, `maintenance` compacts it and expires its snapshots, `models` and `quality` run a
// small model project (as the golden tests in tests/transform/ do), a failing error check
// fails its task and its downstream, and `ingest` loads a real PostgreSQL (scripts/pg.sh via
// tests/support/source_servers.h). Outputs are checked in the lake with `sluice sql` and
// `sluice table`.
#include <fstream>
#include <string>

#include "scheduler/scheduler_cli_fixture.h"
#include "support/source_servers.h"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class SchedulerTasks : public SchedulerCli {
 protected:
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  // A model project (jobs/ and quality/) in the test folder, the tasks' working directory.
  void project() {
    write("project/jobs/batch/refined/orders.sql",
          "-- config: materialized=table\n"
          "SELECT order_id, user_id, amount, ds FROM raw.orders\n");
    write("project/jobs/batch/curated/user_totals.sql",
          "-- config: materialized=table\n"
          "SELECT user_id, sum(amount) AS total, count(*) AS orders FROM refined.orders "
          "GROUP BY user_id\n");
    write("project/quality/refined.yaml", R"(table: refined.orders
checks:
  - check: not_null
    column: user_id
  - check: range
    column: amount
    min: 0
)");
    write("project/quality/raw.yaml", R"(table: raw.orders
checks:
  - check: range
    column: amount
    min: 0
)");
  }
  // `sluice table list` as table → {records, data_files, snapshots}.
  std::map<std::string, std::vector<std::string>> tables() {
    std::map<std::string, std::vector<std::string>> out;
    auto r = sluice("table list --format csv", 9);
    EXPECT_EQ(r.code, 0) << r.err;
    std::istringstream in(r.out);
    std::string line;
    std::getline(in, line);  // header: table,records,data_files,snapshots,last_updated
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::istringstream cells(line);
      std::string c;
      while (std::getline(cells, c, ','))
        f.push_back(c);
      if (f.size() >= 4) out[f[0]] = {f[1], f[2], f[3]};
    }
    return out;
  }
  std::string logs(const std::string& dag_id, const std::string& task, const std::string& ds) {
    return sluice("dag logs " + dag_id + " " + task + " --ds " + ds, 6).out;
  }
};

TEST_F(SchedulerTasks, SqlMaintenanceModelsAndQualityTasksChangeTheLake) {
  project();
  dag("lake", R"(tasks:
  - id: create
    kind: sql
    sql: CREATE TABLE raw.orders (order_id INT, user_id INT, amount DECIMAL(10,2), ds DATE)
  - id: load_a
    kind: sql
    sql: INSERT INTO raw.orders VALUES (1, 10, 5.00, DATE '{{ ds }}'), (2, 11, 7.00, DATE '{{ ds }}')
    depends_on: create
  - id: load_b
    kind: sql
    sql: INSERT INTO raw.orders VALUES (3, 10, 2.50, DATE '{{ ds }}')
    depends_on: load_a
  - id: compact
    kind: maintenance
    operation: compact
    table: raw.orders
    depends_on: load_b
  - id: expire
    kind: maintenance
    operation: expire
    table: raw.orders
    older_than: 0s
    retain_last: 1
    depends_on: compact
  - id: models
    kind: models
    project: project
    depends_on: expire
  - id: checks
    kind: quality
    project: project
    tables: [refined.orders]
    depends_on: models
)");
  auto r = sluice("dag run lake --ds 2026-11-20");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("run lake 2026-11-20: success"), std::string::npos) << r.out;

  // sql: the table exists with the templated rows of both appends.
  EXPECT_EQ(sql_value("SELECT count(*) || ',' || sum(amount) || ',' || min(ds) FROM raw.orders"),
            "3,14.50,2026-11-20");
  // maintenance: two appends' files were rewritten into one, then the older snapshots
  // (create, two appends) expired, leaving the compaction's.
  EXPECT_NE(logs("lake", "compact", "2026-11-20").find("raw.orders: rewrote 2 files into 1"),
            std::string::npos)
      << logs("lake", "compact", "2026-11-20");
  EXPECT_NE(logs("lake", "expire", "2026-11-20").find("raw.orders: expired 2 snapshots"),
            std::string::npos)
      << logs("lake", "expire", "2026-11-20");
  auto t = tables();
  ASSERT_TRUE(t.count("raw.orders")) << sluice("table list").out;
  EXPECT_EQ(t["raw.orders"], (std::vector<std::string>{"3", "1", "1"}));  // rows, files, snaps
  auto snaps = sluice("table snapshots raw.orders --format csv");
  EXPECT_NE(snaps.out.find(",replace,"), std::string::npos) << snaps.out;
  // models: both models published, with their checks passed.
  EXPECT_EQ(sql_value("SELECT count(*) FROM refined.orders"), "3");
  auto totals = sluice("sql --format csv -e \"SELECT * FROM curated.user_totals ORDER BY 1\"");
  EXPECT_EQ(totals.out, "user_id,total,orders\n10,7.50,2\n11,7.00,1\n") << totals.err;
  auto models = logs("lake", "models", "2026-11-20");
  EXPECT_NE(models.find("model run --ds 2026-11-20 --project project"), std::string::npos)
      << models;
  EXPECT_NE(models.find("ds=2026-11-20: 2 model(s): 2 ok, 0 failed, 0 skipped"), std::string::npos)
      << models;
  // quality: the task's checks ran and were recorded.
  auto checks = logs("lake", "checks", "2026-11-20");
  EXPECT_NE(checks.find("2 check(s): 2 passed, 0 warning(s), 0 error(s)"), std::string::npos)
      << checks;
  EXPECT_EQ(sql_value("SELECT count(*) FROM _system.quality_results WHERE table_name = "
                      "'refined.orders' AND passed"),
            "4");  // 2 checks at publish (models) + 2 by the quality task

  // A failing error check fails the quality task (after its retry) and what depends on it,
  // here through the daemon.
  dag("bad", R"(tasks:
  - id: insert_bad
    kind: sql
    sql: INSERT INTO raw.orders VALUES (4, 12, -3.00, DATE '{{ ds }}')
  - id: check_raw
    kind: quality
    project: project
    tables: [raw.orders]
    retries: 1
    retry_delay: 100ms
    depends_on: insert_bad
  - id: publish
    kind: models
    project: project
    depends_on: check_raw
)");
  int daemon = start_daemon(1);
  ASSERT_EQ(sluice("dag run bad --ds 2026-11-21").code, 0);
  ASSERT_TRUE(wait_until([&] { return run_state("bad", "2026-11-21") == "failed"; }, 90))
      << show("bad").dump(2);
  auto tasks = show("bad")["runs"][0]["tasks"];
  EXPECT_EQ(tasks[0]["state"], "success");
  EXPECT_EQ(tasks[1]["state"], "failed");
  EXPECT_EQ(tasks[1]["try_number"], 2);
  EXPECT_EQ(tasks[1]["error"], "exit code 1");
  EXPECT_EQ(tasks[2]["state"], "upstream_failed");
  auto failed = logs("bad", "check_raw", "2026-11-21");
  EXPECT_NE(failed.find("FAIL  error  raw.orders  range(amount)  (1 failing)"), std::string::npos)
      << failed;
  EXPECT_NE(failed.find("attempt 2 failed: exit code 1"), std::string::npos) << failed;
  // The models did not run: refined.orders keeps its 3 rows.
  EXPECT_EQ(sql_value("SELECT count(*) FROM refined.orders"), "3");
  EXPECT_EQ(sql_value("SELECT count(*) FROM raw.orders"), "4");
  auto st = sluice("dag status");
  EXPECT_NE(st.out.find(" bad | 2026-11-21 | manual   | failed"), std::string::npos) << st.out;
  stop(daemon);
}

// `ingest` copies a PostgreSQL table into the raw zone; a downstream `sql` task reads it.
class SchedulerIngest : public SchedulerTasks {
 protected:
  static inline SourceServers* servers_ = nullptr;
  static void SetUpTestSuite() {
    auto s = SourceServers::start({.name = "scheduler", .postgres = true, .mariadb = false});
    ASSERT_TRUE(s.ok) << s.error;
    servers_ = s.servers;
  }
  static void TearDownTestSuite() {
    SourceServers::stop_instance();
    servers_ = nullptr;
  }
  void SetUp() override {
    SchedulerTasks::SetUp();
    if (servers_ == nullptr) GTEST_SKIP() << "PostgreSQL did not start";
  }
};

TEST_F(SchedulerIngest, AnIngestTaskLoadsPostgresIntoTheLake) {
  auto psql = run_shell("PGPASSWORD=" + std::string(kOwnerPassword) +
                        " psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " +
                        std::to_string(servers_->pg_port) +
                        " -U shop_owner shop -c \"DROP TABLE IF EXISTS items; CREATE TABLE items "
                        "(id int PRIMARY KEY, name text, price numeric(8,2)); INSERT INTO items "
                        "VALUES (1, 'pen', 1.50), (2, 'ink', 4.25), (3, 'pad', 3.00)\"");
  ASSERT_EQ(psql.code, 0) << psql.out;
  write("sources/shop.toml", "type = \"postgres\"\nport = " + std::to_string(servers_->pg_port) +
                                 "\ndatabase = \"shop\"\n[tables.items]\n");
  dag("load", R"(tasks:
  - id: ingest_shop
    kind: ingest
    source: shop
    mode: snapshot
    tables: [items]
  - id: summary
    kind: sql
    sql: CREATE TABLE curated.item_summary AS SELECT count(*) AS n, sum(price) AS total FROM raw.shop_items
    depends_on: ingest_shop
)");
  auto r = sluice("dag run load --ds 2026-11-20");
  ASSERT_EQ(r.code, 0) << r.out << r.err << logs("load", "ingest_shop", "2026-11-20");
  auto log = logs("load", "ingest_shop", "2026-11-20");
  EXPECT_NE(log.find("ingest shop --mode snapshot --tables items"), std::string::npos) << log;
  EXPECT_EQ(sql_value("SELECT string_agg(name, ',' ORDER BY id) FROM raw.shop_items"),
            "pen,ink,pad");
  EXPECT_EQ(sql_value("SELECT n || ',' || total FROM curated.item_summary"), "3,8.75");
}

}  // namespace
}  // namespace sluice::testing

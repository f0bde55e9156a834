// `sluice sql` and `sluice table` driven as a user would, including concurrent writers in
// separate processes and a writer killed with SIGKILL mid-commit.
#include <algorithm>
#include <sstream>
#include <thread>

#include "cli/sluice_runner.h"

namespace {

using sluice::testing::Outcome;

class LakeCliTest : public sluice::testing::SluiceTest {
 protected:
  LakeCliTest() : SluiceTest("--data-dir state") {}

  std::string sql_csv(const std::string& sql) {
    Outcome r = sluice("sql --format csv -e \"" + sql + "\"");
    EXPECT_EQ(r.code, 0) << sql << "\n" << r.err;
    return r.out;
  }
};

TEST_F(LakeCliTest, SqlCreatesQueriesAndFormats) {
  Outcome c = sluice(
      "sql -e \"CREATE TABLE raw.t (id INTEGER, name VARCHAR)\" -e \"INSERT INTO raw.t VALUES "
      "(1, 'a'), (2, 'b,c')\"");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("CREATE TABLE\nINSERT 0 2 (snapshot "), std::string::npos) << c.out;
  EXPECT_EQ(sql_csv("SELECT * FROM raw.t ORDER BY id"), "id,name\n1,a\n2,\"b,c\"\n");
  Outcome j = sluice("sql --format json -e \"SELECT * FROM raw.t ORDER BY id\"");
  EXPECT_EQ(j.out, "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b,c\"}\n");
  Outcome t = sluice("sql -e \"SELECT id, name FROM raw.t ORDER BY id\"");
  EXPECT_EQ(t.out, " id | name\n----+------\n  1 | a\n  2 | b,c\n(2 rows)\n");
}

TEST_F(LakeCliTest, StreamedOutputAppendsToRedirectedFiles) {
  // Several statements into one redirected file: each result is appended, none truncates.
  int rc = std::system((cmdline("sql --format csv -e \"SELECT 1 AS a\" -e \"SELECT 2 AS b\"") +
                        "; cd '" + dir_.string() + "' && '" + SLUICE_BINARY +
                        "' --data-dir state sql --format csv -e \"SELECT 3 AS c\" >> stdout0")
                           .c_str());
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(sluice::testing::slurp(dir_ / "stdout0"), "a\n1\nb\n2\nc\n3\n");
}

TEST_F(LakeCliTest, SqlErrorsExitNonZeroWithEngineMessage) {
  Outcome r = sluice("sql -e \"SELECT * FROM raw.nope\"");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("sluice: error: "), std::string::npos);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  Outcome f = sluice("sql -f missing.sql");
  EXPECT_EQ(f.code, 1);
  EXPECT_EQ(f.err, "sluice: error: cannot read SQL file 'missing.sql'\n");
}

TEST_F(LakeCliTest, TableCommandsShowAndMaintain) {
  ASSERT_EQ(sluice("sql -e \"CREATE TABLE raw.m (id INTEGER)\"").code, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sluice("sql -e \"INSERT INTO raw.m VALUES (" + std::to_string(i) + ")\"").code, 0);
  }
  Outcome list = sluice("table list --format csv");
  EXPECT_NE(list.out.find("raw.m,3,3,3,"), std::string::npos) << list.out;
  Outcome desc = sluice("table describe raw.m");
  EXPECT_NE(desc.out.find(" 1        | id     | int "), std::string::npos) << desc.out;
  EXPECT_NE(desc.out.find("format     iceberg v2"), std::string::npos) << desc.out;
  Outcome snaps = sluice("table snapshots raw.m --format csv");
  std::vector<std::string> ids;
  std::istringstream lines(snaps.out);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line))
    ids.push_back(line.substr(0, line.find(',')));
  ASSERT_EQ(ids.size(), 3u) << snaps.out;
  // Roll back to the first insert, then compact and expire.
  Outcome rb = sluice("table rollback raw.m " + ids[0]);
  EXPECT_EQ(rb.code, 0) << rb.err;
  EXPECT_EQ(sql_csv("SELECT count(*) AS n FROM raw.m"), "n\n1\n");
  ASSERT_EQ(sluice("sql -e \"INSERT INTO raw.m VALUES (7)\"").code, 0);
  Outcome compact = sluice("table compact raw.m");
  EXPECT_NE(compact.out.find("rewrote 2 files into 1"), std::string::npos)
      << compact.out << compact.err;
  EXPECT_EQ(sql_csv("SELECT sum(id) AS s FROM raw.m"), "s\n7\n");
  Outcome expire = sluice("table expire raw.m --older-than 0ms --retain-last 1");
  EXPECT_EQ(expire.code, 0) << expire.err;
  EXPECT_NE(expire.out.find("expired"), std::string::npos);
  Outcome files = sluice("table files raw.m --format csv");
  EXPECT_EQ(std::count(files.out.begin(), files.out.end(), '\n'), 2) << files.out;
  EXPECT_EQ(sql_csv("SELECT sum(id) AS s FROM raw.m"), "s\n7\n");
  Outcome bad = sluice("table describe nonamespace");
  EXPECT_EQ(bad.code, 1);
}

TEST_F(LakeCliTest, ConcurrentWritersInSeparateProcessesAllCommit) {
  ASSERT_EQ(sluice("sql -e \"CREATE TABLE raw.c (w INTEGER, i INTEGER)\"").code, 0);
  constexpr int kWriters = 4;
  std::vector<std::thread> threads;
  std::vector<Outcome> results(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      results[w] = sluice("sql -e \"INSERT INTO raw.c SELECT " + std::to_string(w) +
                              ", range FROM range(1000)\" -e \"INSERT INTO raw.c SELECT " +
                              std::to_string(w) + ", range FROM range(1000, 2000)\"",
                          w + 1);
    });
  }
  for (auto& t : threads)
    t.join();
  for (const auto& r : results)
    EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sql_csv("SELECT count(*) AS n, count(DISTINCT w) AS writers FROM raw.c"),
            "n,writers\n8000,4\n");
  Outcome snaps = sluice("table snapshots raw.c --format csv");
  EXPECT_EQ(std::count(snaps.out.begin(), snaps.out.end(), '\n'), 1 + 2 * kWriters);
}

TEST_F(LakeCliTest, KilledWriterLeavesPreviousSnapshotAndOrphansAreRemovable) {
  ASSERT_EQ(sluice("sql -e \"CREATE TABLE raw.k AS SELECT range AS id FROM range(100)\"").code, 0);
  // A big insert killed with SIGKILL part-way: nothing of it may become visible.
  std::string cmd = "timeout -s KILL 1 " +
                    cmdline("sql -e \"INSERT INTO raw.k SELECT range FROM range(200000000)\"", 9);
  int rc = std::system(cmd.c_str());
  EXPECT_NE(rc, 0);
  EXPECT_EQ(sql_csv("SELECT count(*) AS n FROM raw.k"), "n\n100\n");
  Outcome dry = sluice("table remove-orphans raw.k --older-than 0ms --dry-run");
  EXPECT_EQ(dry.code, 0) << dry.err;
  Outcome rm = sluice("table remove-orphans raw.k --older-than 0ms");
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(sql_csv("SELECT count(*) AS n FROM raw.k"), "n\n100\n");
  ASSERT_EQ(sluice("sql -e \"INSERT INTO raw.k VALUES (1)\"").code, 0);
  EXPECT_EQ(sql_csv("SELECT count(*) AS n FROM raw.k"), "n\n101\n");
}

}  // namespace

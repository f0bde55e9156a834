// Integration tests of `sluice cdc start` for a MariaDB source: a real MariaDB
// (scripts/mariadb.sh on a free port under a temporary folder), `sluice cdc start` as a child
// process streaming the binlog into the lake, the lake compared with the source through the
// mariadb client.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cdc/cdc_test_support.h"
#include "sources/db_client.h"
#include "support/source_servers.h"

namespace fs = std::filesystem;
using sluice::sources::Endpoint;
using sluice::sources::detail::MyConn;

namespace {

using Outcome = sluice::testing::ShellOutcome;

class CdcMysqlIT : public sluice::testing::CdcSuite {
 protected:
  static void SetUpTestSuite() { start_servers({.name = "cdcmy", .postgres = false}); }

  // A source file `<name>.toml` streaming `tables` of database inventory.
  static void write_source(const std::string& name, const std::vector<std::string>& tables) {
    std::ofstream f(env_->dir / "sources" / (name + ".toml"));
    f << "type = \"mariadb\"\nhost = \"127.0.0.1\"\nport = " << env_->my_port
      << "\ndatabase = \"inventory\"\nuser = \"sluice\"\npassword_env = "
         "\"SLUICE_MYSQL_PASSWORD\"\n";
    for (const auto& t : tables)
      f << "[tables." << t << "]\n";
    f << "[cdc]\nenabled = true\nheartbeat_ms = 500\n";
  }
  // One value from the mariadb client, trailing newline removed.
  static std::string my_value(const std::string& sql) {
    auto o = my_sql(sql);
    EXPECT_EQ(o.code, 0) << sql << "\n" << o.out;
    std::string v = o.out;
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
      v.pop_back();
    return v;
  }
  static Endpoint owner_ep() {
    return Endpoint{"127.0.0.1", env_->my_port, "shop_owner", sluice::testing::kOwnerPassword,
                    "inventory"};
  }
};

// Every row operation of the binlog reaches the change log with its op code (snapshot r, insert
// c, update u, delete d with the deleted row's before-image, TRUNCATE t), a multi-statement
// transaction shares one position, and the current state follows.
TEST_F(CdcMysqlIT, EveryOpReachesRawWithItsOpCode) {
  my_exec(
      "DROP TABLE IF EXISTS ops; CREATE TABLE ops (id INT PRIMARY KEY, v INT, t VARCHAR(32)) "
      "ENGINE=InnoDB; INSERT INTO ops VALUES (1, 10, 'one'), (2, 20, 'two')");
  write_source("ops", {"ops"});
  Stream s(env_->dir, "ops", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.ops_ops", "2", &s), "2") << s.log();
  my_exec(
      "INSERT INTO ops VALUES (3, 30, 'three'); UPDATE ops SET v = 11, t = 'uno' WHERE id = 1;"
      "DELETE FROM ops WHERE id = 2;"
      "START TRANSACTION; INSERT INTO ops VALUES (4, 40, 'four'); UPDATE ops SET v = 31 WHERE id "
      "= 3; DELETE FROM ops WHERE id = 4; COMMIT; UPDATE ops SET id = 5 WHERE id = 3");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.ops_ops_changes", "9", &s), "9") << s.log();
  EXPECT_EQ(lake_value("SELECT string_agg(_op, '' ORDER BY _lsn, _seq) FROM raw.ops_ops_changes"),
            "rrcudcudu");
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.ops_ops_changes WHERE _load_type = 'cdc'"), "9");
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.ops_ops_changes WHERE _snapshot"), "2");
  // The delete carries the row it deleted.
  EXPECT_EQ(lake_value("SELECT string_agg(id || ':' || v || ':' || t, ',' ORDER BY _lsn, _seq) "
                       "FROM raw.ops_ops_changes WHERE _op = 'd'"),
            "2:20:two,4:40:four");
  // The transaction: one position for its three changes, every change its own (_lsn, _seq).
  EXPECT_EQ(lake_value("SELECT count(DISTINCT _lsn) FROM raw.ops_ops_changes WHERE id = 4 OR (id "
                       "= 3 AND v = 31)"),
            "1");
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (_lsn, _seq)) FROM raw.ops_ops_changes"),
            "0");
  // The key change (3 -> 5) moved the row in the current state.
  EXPECT_EQ(lake_value("SELECT string_agg(id || ':' || v || ':' || t, ',' ORDER BY id) FROM "
                       "refined.ops_ops"),
            "1:11:uno,5:31:three");
  EXPECT_EQ(lake_value("SELECT string_agg(id || ':' || v || ':' || t, ',' ORDER BY id) FROM "
                       "refined.ops_ops"),
            my_value("SELECT GROUP_CONCAT(CONCAT(id, ':', v, ':', t) ORDER BY id) FROM ops"));
  // TRUNCATE empties the current state before later rows.
  my_exec("TRUNCATE TABLE ops; INSERT INTO ops VALUES (9, 90, 'after')");
  ASSERT_EQ(
      wait_lake("SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM refined.ops_ops", "9", &s),
      "9")
      << s.log();
  EXPECT_EQ(lake_value("SELECT string_agg(_op, '' ORDER BY _lsn, _seq) FROM raw.ops_ops_changes"),
            "rrcudcudutc");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
}

// kill -9 of `sluice cdc start` twice while a writer keeps inserting, updating and deleting: after
// the restarts every change is in the change log exactly once and the current state equals the
// source (counts and a checksum of every row through the mariadb client).
TEST_F(CdcMysqlIT, KillNineMidStreamResumesExactlyOnce) {
  std::string seed = "INSERT INTO item VALUES ";
  for (int i = 1; i <= 2000; ++i)
    seed += (i > 1 ? "," : "") + ("(" + std::to_string(i) + ", " + std::to_string(i) + ", 'v" +
                                  std::to_string(i) + "')");
  my_exec(
      "DROP TABLE IF EXISTS item; CREATE TABLE item (id INT PRIMARY KEY, v BIGINT NOT NULL, t "
      "TEXT NOT NULL) ENGINE=InnoDB; " +
      seed);
  write_source("kill", {"item"});
  Stream s(env_->dir, "kill", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.kill_item", "2000", &s), "2000") << s.log();
  std::atomic<bool> done{false};
  std::atomic<int64_t> ops{0};
  std::atomic<int> failed{0};
  // The load: small transactions of an insert, an update and (every third) a delete of the row
  // inserted before, until told to stop. Only committed transactions count.
  std::thread load([&] {
    auto c = MyConn::connect(owner_ep());
    if (!c.is_ok()) {
      ++failed;
      return;
    }
    int next = 2001;
    for (int i = 0; !done.load(); ++i) {
      std::vector<std::string> stmts = {
          "INSERT INTO item VALUES (" + std::to_string(next) + ", " + std::to_string(i) + ", 'n')",
          "UPDATE item SET v = v + 1, t = CONCAT(t, 'u') WHERE id = " +
              std::to_string(1 + (i * 7) % 2000)};
      if (i % 3 == 0 && i > 0)
        stmts.push_back("DELETE FROM item WHERE id = " + std::to_string(next - 1));
      bool ok = c->exec("START TRANSACTION").is_ok();
      for (const auto& st : stmts)
        ok = ok && c->exec(st).is_ok();
      ok = ok && c->exec("COMMIT").is_ok();
      if (ok) {
        ops += static_cast<int64_t>(stmts.size());
      } else {
        (void)c->exec("ROLLBACK");
        ++failed;
      }
      ++next;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  // Let it stream for a while, then kill -9 mid-stream (under load), twice.
  kill_twice_mid_stream(s, "raw.kill_item_changes");
  done = true;
  load.join();
  ASSERT_EQ(failed.load(), 0);
  ASSERT_GT(ops.load(), 30);
  const std::string want = std::to_string(2000 + ops.load());
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.kill_item_changes", want, &s), want) << s.log();
  // Every change exactly once, with its op code.
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (_lsn, _seq)) FROM raw.kill_item_changes"),
            "0");
  const int64_t n = ops.load();
  EXPECT_EQ(lake_value("SELECT count(*) FILTER (_op = 'c') + count(*) FILTER (_op = 'u') + "
                       "count(*) FILTER (_op = 'd') FROM raw.kill_item_changes"),
            std::to_string(n));
  EXPECT_EQ(lake_value("SELECT count(*) FILTER (_op = 'c') - count(*) FILTER (_op = 'u') FROM "
                       "raw.kill_item_changes"),
            "0");  // one insert and one update per transaction
  // The current state equals the source: counts, sums and a checksum of every row.
  const std::string src = my_value(
      "SET SESSION group_concat_max_len = 1000000000; SELECT CONCAT(count(*), ':', sum(id), ':', "
      "sum(v), ':', sum(length(t)), ':', md5(GROUP_CONCAT(CONCAT(id, '|', v, '|', t) ORDER BY id "
      "SEPARATOR ','))) FROM item");
  EXPECT_EQ(lake_value("SELECT count(*) || ':' || sum(id) || ':' || sum(v) || ':' || "
                       "sum(length(t)) || ':' || md5(string_agg(id || '|' || v || '|' || t, ',' "
                       "ORDER BY id)) FROM refined.kill_item"),
            src);
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
}

// A column type the lake cannot take (INT -> VARCHAR): the stream stops before that change with
// an error naming the source, table and column, and stops again on a restart; once the lake
// columns are renamed out of the way (what the error says to do), the next start resumes at the
// change and every change lands, once.
TEST_F(CdcMysqlIT, TypeChangeThatCannotEvolveStopsAndLosesNothing) {
  my_exec(
      "DROP TABLE IF EXISTS sc; CREATE TABLE sc (id INT PRIMARY KEY, qty INT, note VARCHAR(32)) "
      "ENGINE=InnoDB; INSERT INTO sc VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')");
  write_source("sc", {"sc"});
  Stream s(env_->dir, "sc", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.sc_sc", "3", &s), "3") << s.log();
  my_exec("INSERT INTO sc VALUES (4, 40, 'streamed')");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.sc_sc", "4", &s), "4") << s.log();
  my_exec("INSERT INTO sc VALUES (5, 50, 'just before')");
  my_exec("ALTER TABLE sc MODIFY qty VARCHAR(16)");
  my_exec("INSERT INTO sc VALUES (6, 'many', 'after')");
  my_exec("UPDATE sc SET qty = 'some' WHERE id = 1");
  const int code = s.kill(0);  // waits for the stream to stop by itself
  EXPECT_EQ(code, 1) << s.log();
  const std::string log = s.log();
  for (const char* want : {"error: source sc: table sc: column 'qty' changed to",
                           "lake column refined.sc_sc.qty has int", "stopped before this change",
                           "nothing is lost", "RENAME COLUMN qty TO qty_old"}) {
    EXPECT_NE(log.find(want), std::string::npos) << want << "\n" << log;
  }
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.sc_sc WHERE id = 6"), "0");
  EXPECT_EQ(lake_value("SELECT typeof(qty) FROM refined.sc_sc LIMIT 1"), "INTEGER");
  // A restart meets the same change and stops again: it never skips it.
  s.start();
  EXPECT_EQ(s.kill(0), 1) << s.log();
  EXPECT_NE(s.log().find("column 'qty' changed to"), std::string::npos) << s.log();
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.sc_sc WHERE id = 6"), "0");
  // The way out the error names; the stream resumes where it stopped.
  auto fix = sluice(
      "sql -e \"ALTER TABLE raw.sc_sc_changes RENAME COLUMN qty TO qty_old; ALTER TABLE "
      "raw.sc_sc_changes ADD COLUMN qty VARCHAR; ALTER TABLE refined.sc_sc RENAME COLUMN qty TO "
      "qty_old; ALTER TABLE refined.sc_sc ADD COLUMN qty VARCHAR\"");
  ASSERT_EQ(fix.code, 0) << fix.out;
  s.start();
  ASSERT_EQ(wait_lake("SELECT qty FROM refined.sc_sc WHERE id = 1", "some", &s), "some") << s.log();
  const std::string src = my_value(
      "SELECT GROUP_CONCAT(CONCAT(id, ':', qty, ':', note) ORDER BY id SEPARATOR ',') FROM sc");
  EXPECT_EQ(lake_value("SELECT string_agg(id || ':' || coalesce(qty, qty_old::VARCHAR) || ':' || "
                       "note, ',' ORDER BY id) FROM refined.sc_sc"),
            src);
  EXPECT_EQ(lake_value("SELECT string_agg(_op || id, ',' ORDER BY _lsn, _seq) FROM "
                       "raw.sc_sc_changes"),
            "r1,r2,r3,c4,c5,c6,u1");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  EXPECT_EQ(sluice("cdc reset sc").code, 0);
}

// kill -9 in the middle of the snapshot copy: the next start resets the half-copied lake tables,
// bootstraps again from a new consistent snapshot, and the lake ends equal to the source, with
// changes made while the stream was down and after it came back each in the change log once.
TEST_F(CdcMysqlIT, KillNineDuringBootstrapStartsItOverExactly) {
  my_exec(
      "DROP TABLE IF EXISTS bl; CREATE TABLE bl (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, t "
      "VARCHAR(32) NOT NULL, pad VARCHAR(80)) ENGINE=InnoDB; INSERT INTO bl SELECT seq, seq % "
      "1000, CONCAT('b', seq), REPEAT('p', 60) FROM seq_1_to_300000");
  write_source("myblk", {"bl"});
  Stream s(env_->dir, "myblk", data_);
  s.start();
  kill_during_bootstrap(s, "myblk", "myblk_bl_changes");
  if (HasFatalFailure()) return;
  // Changes while the stream is down: updates (v + 1), inserts and deletes.
  my_exec(
      "UPDATE bl SET v = v + 1 WHERE id % 1000 = 7; INSERT INTO bl SELECT 300000 + seq, seq, "
      "'new', NULL FROM seq_1_to_500; DELETE FROM bl WHERE id % 5000 = 3");
  s.start();
  ASSERT_TRUE(wait_state("myblk", "streaming", &s)) << s.log();
  EXPECT_NE(s.log().find("cdc bootstrap resets a lake table"), std::string::npos) << s.log();
  // And after it came back.
  my_exec(
      "UPDATE bl SET v = v + 1 WHERE id % 1000 = 8; INSERT INTO bl VALUES (900001, 1, 'late', "
      "NULL); DELETE FROM bl WHERE id % 7000 = 11");
  const std::string rows =
      "SELECT CONCAT(count(*), ':', sum(id), ':', sum(v), ':', md5(GROUP_CONCAT(CONCAT(id, '|', "
      "v, '|', t) ORDER BY id SEPARATOR ','))) FROM bl";
  const std::string src = my_value("SET SESSION group_concat_max_len = 1000000000; " + rows);
  const std::string lake_rows =
      "SELECT count(*) || ':' || sum(id) || ':' || sum(v) || ':' || md5(string_agg(id || '|' || "
      "v || '|' || t, ',' ORDER BY id)) FROM refined.myblk_bl";
  ASSERT_EQ(wait_lake(lake_rows, src, &s), src) << s.log();
  // No key read or inserted twice (the half-copied snapshot was not kept), every change once.
  EXPECT_EQ(lake_value("SELECT count(*) FROM (SELECT id FROM raw.myblk_bl_changes WHERE _op IN "
                       "('r', 'c') GROUP BY id HAVING count(*) > 1)"),
            "0");
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (_lsn, _seq)) FROM "
                       "raw.myblk_bl_changes"),
            "0");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  EXPECT_EQ(sluice("cdc reset myblk").code, 0);
}

}  // namespace

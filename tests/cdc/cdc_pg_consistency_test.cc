// Integration tests of what `sluice cdc start` promises for a PostgreSQL source when things get
// in the way: writes during the bootstrap snapshot copy (no gap, no duplicate, a kill -9 during
// the copy included), and schema changes the lake cannot take (the stream stops with an error
// naming the table and column, and nothing is lost). A real PostgreSQL (scripts/pg.sh on a free
// port under a temporary folder), `sluice cdc start` as a child process.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "cdc/cdc_test_support.h"
#include "sources/db_client.h"
#include "support/source_servers.h"

namespace fs = std::filesystem;
using sluice::sources::Endpoint;
using sluice::sources::detail::PgConn;

namespace {

using Outcome = sluice::testing::ShellOutcome;

class CdcPgConsistencyIT : public sluice::testing::CdcSuite {
 protected:
  static void SetUpTestSuite() { start_servers({.name = "cdcpgc", .mariadb = false}); }

  static void write_source(const std::string& name, const std::vector<std::string>& tables) {
    std::ofstream f(env_->dir / "sources" / (name + ".toml"));
    f << "type = \"postgres\"\nport = " << env_->pg_port << "\ndatabase = \"shop\"\n";
    for (const auto& t : tables)
      f << "[tables." << t << "]\n";
    f << "[cdc]\nenabled = true\npublication = \"sluice_shop\"\nheartbeat_ms = 500\n";
  }
  static Endpoint pg_ep() {
    return Endpoint{"127.0.0.1", env_->pg_port, "shop_owner", sluice::testing::kOwnerPassword,
                    "shop"};
  }
  static void pg_exec(const std::string& sql) {
    auto c = PgConn::connect(pg_ep(), "test");
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    auto st = c->exec(sql);
    ASSERT_TRUE(st.is_ok()) << sql << ": " << st.message();
  }
  static std::string pg_value(const std::string& sql) {
    auto c = PgConn::connect(pg_ep(), "test");
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    if (!c.is_ok()) return "";
    auto r = c->query(sql);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (!r.is_ok() || r->empty()) return "";
    return r->at(0).at(0).value_or("NULL");
  }
};

// The same checksum of a table's rows on both sides: counts, sums and an md5 of every row in key
// order.
const char* kRowsPg =
    "SELECT count(*) || ':' || sum(id) || ':' || sum(v) || ':' || md5(string_agg(id || '|' || v "
    "|| '|' || t, ',' ORDER BY id)) FROM ";
const char* kRowsLake =
    "SELECT count(*) || ':' || sum(id) || ':' || sum(v) || ':' || md5(string_agg(id || '|' || v "
    "|| '|' || t, ',' ORDER BY id)) FROM ";

// The change log of a table whose writer only ever does `v = v + 1` updates, inserts of new keys
// and deletes: per key, the first change is the snapshot row or the insert, each update's v is
// the one before + 1 (a change missing between snapshot and stream breaks the chain, a change
// in both the snapshot and the stream repeats a value), no key is read or inserted twice.
void expect_change_log_exact(const sluice::testing::CdcLake& lake, const std::string& raw) {
  EXPECT_EQ(lake.value("SELECT count(*) - count(DISTINCT (_lsn, _seq)) FROM " + raw), "0");
  EXPECT_EQ(lake.value("SELECT count(*) FROM (SELECT id FROM " + raw +
                       " WHERE _op IN ('r', 'c') GROUP BY id HAVING count(*) > 1)"),
            "0");
  EXPECT_EQ(lake.value("SELECT count(*) FROM (SELECT _op, v, lag(v) OVER w AS pv, row_number() "
                       "OVER w AS n FROM " +
                       raw +
                       " WHERE _op <> 'd' WINDOW w AS (PARTITION BY id ORDER BY _lsn, _seq)) "
                       "WHERE (n = 1 AND _op = 'u') OR (_op = 'u' AND v <> pv + 1) OR (n > 1 "
                       "AND _op IN ('r', 'c'))"),
            "0");
}

// A writer during the bootstrap: small transactions of an update (v = v + 1) of a row anywhere
// in the table, an insert of a new key and, every fourth, a delete, until told to stop.
class Writer {
 public:
  explicit Writer(Endpoint ep, int rows) : ep_(std::move(ep)), rows_(rows) {
    thread_ = std::thread([this] { run(); });
  }
  ~Writer() { stop(); }
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t txns() const { return txns_.load(); }
  int failed() const { return failed_.load(); }

 private:
  void run() {
    auto c = PgConn::connect(ep_, "writer");
    if (!c.is_ok()) {
      ++failed_;
      return;
    }
    for (int64_t i = 0; !done_.load(); ++i) {
      // Keys spread over the whole table: some rows are copied before their update, some after.
      const int64_t upd = 1 + (i * 7919) % rows_;
      std::string sql =
          "BEGIN; UPDATE bl SET v = v + 1, t = t || 'u' WHERE id = " + std::to_string(upd) +
          "; INSERT INTO bl VALUES (" + std::to_string(rows_ + 1 + i) + ", 0, 'new');";
      if (i % 4 == 3) sql += "DELETE FROM bl WHERE id = " + std::to_string(rows_ - i) + ";";
      sql += "COMMIT";
      if (c->exec(sql).is_ok()) {
        ++txns_;
      } else {
        (void)c->exec("ROLLBACK");
        ++failed_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  Endpoint ep_;
  int rows_;
  std::atomic<bool> done_{false};
  std::atomic<int64_t> txns_{0};
  std::atomic<int> failed_{0};
  std::thread thread_;
};

// Writes keep running while the bootstrap copies the table from the slot's exported snapshot:
// every write lands once, either in the snapshot or in the stream, and the lake ends equal to the
// source.
TEST_F(CdcPgConsistencyIT, BootstrapDuringWritesHasNoGapAndNoDuplicate) {
  const int rows = 200000;
  pg_exec(
      "DROP TABLE IF EXISTS bl; CREATE TABLE bl (id bigint PRIMARY KEY, v bigint NOT NULL, t text "
      "NOT NULL, pad text); INSERT INTO bl SELECT g, g % 1000, 'b' || g, repeat('p', 60) FROM "
      "generate_series(1, " +
      std::to_string(rows) + ") g");
  write_source("bl", {"bl"});
  Writer w(pg_ep(), rows);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Stream s(env_->dir, "bl", data_);
  const int64_t before = w.txns();
  s.start();
  ASSERT_TRUE(wait_state("bl", "streaming", &s)) << s.log();
  const int64_t during = w.txns() - before;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  w.stop();
  EXPECT_EQ(w.failed(), 0);
  // The writer was busy while the snapshot was copied.
  EXPECT_GT(during, 20) << s.log();
  const std::string src = pg_value(kRowsPg + std::string("bl"));
  ASSERT_EQ(wait_lake(kRowsLake + std::string("refined.bl_bl"), src, &s), src) << s.log();
  expect_change_log_exact(lake(), "raw.bl_bl_changes");
  EXPECT_NE(lake_value("SELECT count(*) FROM raw.bl_bl_changes WHERE _op = 'r'"), "0");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  EXPECT_EQ(sluice("cdc reset bl").code, 0);
}

// kill -9 in the middle of the snapshot copy, with the writer running: the next start drops the
// half-copied lake tables and the slot, bootstraps again from a new snapshot, and the lake ends
// equal to the source with every change once.
TEST_F(CdcPgConsistencyIT, KillNineDuringBootstrapStartsItOverExactly) {
  const int rows = 200000;
  pg_exec(
      "DROP TABLE IF EXISTS bl; CREATE TABLE bl (id bigint PRIMARY KEY, v bigint NOT NULL, t text "
      "NOT NULL, pad text); INSERT INTO bl SELECT g, g % 1000, 'b' || g, repeat('p', 60) FROM "
      "generate_series(1, " +
      std::to_string(rows) + ") g");
  write_source("blk", {"bl"});
  Writer w(pg_ep(), rows);
  Stream s(env_->dir, "blk", data_);
  s.start();
  // The bootstrap is on its way into the lake (the first data file of the change log is
  // written; the current state and the checkpoint come after it): kill -9 before it ends.
  kill_during_bootstrap(s, "blk", "blk_bl_changes");
  if (HasFatalFailure()) return;
  s.start();
  ASSERT_TRUE(wait_state("blk", "streaming", &s)) << s.log();
  EXPECT_NE(s.log().find("cdc bootstrap drops the existing slot"), std::string::npos) << s.log();
  EXPECT_NE(s.log().find("cdc bootstrap resets a lake table"), std::string::npos) << s.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  w.stop();
  EXPECT_EQ(w.failed(), 0);
  const std::string src = pg_value(kRowsPg + std::string("bl"));
  ASSERT_EQ(wait_lake(kRowsLake + std::string("refined.blk_bl"), src, &s), src) << s.log();
  expect_change_log_exact(lake(), "raw.blk_bl_changes");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  EXPECT_EQ(sluice("cdc reset blk").code, 0);
}

// A column type the lake cannot take (int -> text): the stream stops before that change with an
// error naming the source, table and column, confirms nothing past it to the slot, stops again on
// a restart; once the lake column is renamed out of the way (what the error says to do) the next
// start adds the column with its new type and every change lands, once.
TEST_F(CdcPgConsistencyIT, TypeChangeThatCannotEvolveStopsAndLosesNothing) {
  pg_exec(
      "DROP TABLE IF EXISTS sc; CREATE TABLE sc (id int PRIMARY KEY, qty int, note text);"
      "INSERT INTO sc VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')");
  write_source("sc", {"sc"});
  Stream s(env_->dir, "sc", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.sc_sc", "3", &s), "3") << s.log();
  pg_exec("INSERT INTO sc VALUES (4, 40, 'streamed')");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.sc_sc", "4", &s), "4") << s.log();
  // Row 5 before the change (maybe in the same lake batch as the change), then the change and
  // rows in the new type.
  pg_exec("INSERT INTO sc VALUES (5, 50, 'just before')");
  pg_exec("ALTER TABLE sc ALTER COLUMN qty TYPE text USING qty::text");
  // The ALTER itself sends nothing through pgoutput (the new type arrives with the next row), so
  // a keepalive may confirm past it; nothing from the first row in the new type on may be.
  const std::string before_ddl = pg_value("SELECT pg_current_wal_lsn()::text");
  pg_exec("INSERT INTO sc VALUES (6, 'many', 'after')");
  pg_exec("UPDATE sc SET qty = 'some' WHERE id = 1");
  const int code = s.kill(0);  // waits for the stream to stop by itself
  EXPECT_EQ(code, 1) << s.log();
  const std::string log = s.log();
  for (const char* want :
       {"error: source sc: table sc: column 'qty' changed to text",
        "lake column refined.sc_sc.qty has int", "stopped before this change", "nothing is lost",
        "RENAME COLUMN qty TO qty_old", "ADD COLUMN qty VARCHAR", "sluice cdc reset sc"}) {
    EXPECT_NE(log.find(want), std::string::npos) << want << "\n" << log;
  }
  auto st = sluice("cdc status sc");
  EXPECT_NE(st.out.find("failed"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("column 'qty'"), std::string::npos) << st.out;
  // Nothing after the change reached the lake, nor was confirmed to the slot.
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.sc_sc WHERE id = 6 OR qty IS NULL"), "0");
  EXPECT_EQ(lake_value("SELECT typeof(qty) FROM refined.sc_sc LIMIT 1"), "INTEGER");
  EXPECT_EQ(pg_value("SELECT confirmed_flush_lsn <= '" + before_ddl +
                     "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'sluice_sc'"),
            "t");
  // A restart meets the same change and stops again: it never skips it.
  s.start();
  EXPECT_EQ(s.kill(0), 1) << s.log();
  EXPECT_NE(s.log().find("column 'qty' changed to text"), std::string::npos) << s.log();
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.sc_sc WHERE id = 6"), "0");
  // The way out the error names: a string column in both tables (the old values renamed); the
  // stream resumes where it stopped, rows before the change and after it both fit.
  auto fix = sluice(
      "sql -e \"ALTER TABLE raw.sc_sc_changes RENAME COLUMN qty TO qty_old; ALTER TABLE "
      "raw.sc_sc_changes ADD COLUMN qty VARCHAR; ALTER TABLE refined.sc_sc RENAME COLUMN qty TO "
      "qty_old; ALTER TABLE refined.sc_sc ADD COLUMN qty VARCHAR\"");
  ASSERT_EQ(fix.code, 0) << fix.out;
  s.start();
  ASSERT_EQ(wait_lake("SELECT qty FROM refined.sc_sc WHERE id = 1", "some", &s), "some") << s.log();
  // Every row equals the source (the old values in the renamed column), every change once.
  const std::string src =
      pg_value("SELECT string_agg(id || ':' || qty || ':' || note, ',' ORDER BY id) FROM sc");
  EXPECT_EQ(lake_value("SELECT string_agg(id || ':' || coalesce(qty, qty_old::VARCHAR) || ':' || "
                       "note, ',' ORDER BY id) FROM refined.sc_sc"),
            src);
  EXPECT_EQ(lake_value("SELECT string_agg(_op || id, ',' ORDER BY _lsn, _seq) FROM "
                       "raw.sc_sc_changes"),
            "r1,r2,r3,c4,c5,c6,u1");
  EXPECT_EQ(lake_value("SELECT typeof(qty) FROM refined.sc_sc LIMIT 1"), "VARCHAR");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  EXPECT_EQ(sluice("cdc reset sc").code, 0);
}

// Changes the lake can take keep the stream going: a dropped column stays in the lake (its old
// values kept, NULL in rows written after the drop), a narrowed type (bigint -> int) keeps the
// wider lake column, a column re-added under the dropped one's name with another type stops the
// stream like any type change.
TEST_F(CdcPgConsistencyIT, DroppedAndNarrowedColumnsKeepStreaming) {
  pg_exec(
      "DROP TABLE IF EXISTS dc; CREATE TABLE dc (id int PRIMARY KEY, big bigint, note text, "
      "extra int); INSERT INTO dc VALUES (1, 10000000000, 'one', 11), (2, 2, 'two', 22), (7, 7, "
      "'seven', 77)");
  write_source("dc", {"dc"});
  Stream s(env_->dir, "dc", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.dc_dc", "3", &s), "3") << s.log();
  pg_exec("ALTER TABLE dc DROP COLUMN extra");
  pg_exec("INSERT INTO dc VALUES (3, 3, 'three')");
  pg_exec("UPDATE dc SET note = 'two updated' WHERE id = 2");
  pg_exec("UPDATE dc SET big = 1 WHERE id = 1; ALTER TABLE dc ALTER COLUMN big TYPE int");
  pg_exec("INSERT INTO dc VALUES (4, 2147483647, 'four')");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.dc_dc", "5", &s), "5") << s.log();
  EXPECT_TRUE(s.running()) << s.log();
  EXPECT_EQ(lake_value("SELECT string_agg(id || ':' || big || ':' || note || ':' || "
                       "coalesce(extra::VARCHAR, '-'), ',' ORDER BY id) FROM refined.dc_dc"),
            "1:1:one:-,2:2:two updated:-,3:3:three:-,4:2147483647:four:-,7:7:seven:77");
  EXPECT_EQ(lake_value("SELECT string_agg(_op || id || ':' || coalesce(extra::VARCHAR, '-'), ',' "
                       "ORDER BY _lsn, _seq) FROM raw.dc_dc_changes"),
            "r1:11,r2:22,r7:77,c3:-,u2:-,u1:-,c4:-");
  EXPECT_EQ(lake_value("SELECT typeof(big) FROM refined.dc_dc LIMIT 1"), "BIGINT");
  // The dropped name comes back with another type: not a column the lake can reuse.
  pg_exec("ALTER TABLE dc ADD COLUMN extra text; INSERT INTO dc VALUES (5, 5, 'five', 'x')");
  EXPECT_EQ(s.kill(0), 1) << s.log();
  EXPECT_NE(s.log().find("table dc: column 'extra' changed to text"), std::string::npos) << s.log();
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.dc_dc WHERE id = 5"), "0");
  EXPECT_EQ(sluice("cdc reset dc").code, 0);
}

}  // namespace

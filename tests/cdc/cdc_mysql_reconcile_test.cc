// Integration tests of `sluice cdc reconcile` for a MariaDB source: a real MariaDB
// (scripts/mariadb.sh on a free port under a temporary folder), `sluice cdc start` as a child
// process streaming into the lake, then differences injected behind the stream's back (in the
// lake through `sluice sql`, in the source with the binlog off for the session) and repaired.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cdc/cdc_test_support.h"
#include "support/source_servers.h"

namespace fs = std::filesystem;

namespace {

using Outcome = sluice::testing::ShellOutcome;

// Whitespace collapsed to single spaces.
std::string flat(const std::string& s) {
  std::istringstream in(s);
  std::string w, out;
  while (in >> w)
    out += w + " ";
  return out;
}

class CdcMysqlReconcileIT : public sluice::testing::CdcSuite {
 protected:
  static void SetUpTestSuite() { start_servers({.name = "cdcrec", .postgres = false}); }

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
};

// The example inventory database's column types (sluice gen oltp) and the other common ones, with
// rows from the bootstrap snapshot and from the binlog: reconcile finds them all equal.
const char* kTables = R"(
DROP TABLE IF EXISTS rinv; DROP TABLE IF EXISTS rwh;
CREATE TABLE rinv (inventory_id BIGINT PRIMARY KEY, product_id BIGINT NOT NULL,
  warehouse_id INT NOT NULL, supplier_id INT, quantity INT NOT NULL, reserved INT NOT NULL,
  unit_cost DECIMAL(10,2), bin_location VARCHAR(16), status ENUM('in_stock','low','out') NOT NULL,
  last_counted_at TIMESTAMP NULL, updated_at DATETIME(6) NOT NULL, rating DECIMAL(3,2),
  active TINYINT(1) NOT NULL DEFAULT 1, country CHAR(2), capacity INT UNSIGNED, opened_on DATE,
  f FLOAT, d DOUBLE, tm TIME(3), big BIGINT UNSIGNED, sm SMALLINT, yr YEAR, flag BIT(1),
  bits BIT(5), bin VARBINARY(8), note TEXT, js JSON, st SET('a','b','c'),
  UNIQUE KEY (product_id, warehouse_id)) ENGINE=InnoDB;
CREATE TABLE rwh (region VARCHAR(8), code INT, city VARCHAR(64), PRIMARY KEY (region, code))
  ENGINE=InnoDB;
)";

std::string inv_rows(int from, int to) {
  std::string sql = "INSERT INTO rinv VALUES ";
  for (int i = from; i <= to; ++i) {
    std::string n = std::to_string(i);
    sql += (i == from ? "" : ",");
    sql += "(" + n + ", " + std::to_string(1000 + i) + ", " + std::to_string(i % 3 + 1) + ", " +
           (i % 5 == 0 ? "NULL" : std::to_string(i % 7)) + ", " + std::to_string(i * 10) + ", " +
           std::to_string(i % 4) + ", " + std::to_string(i) + "." + std::to_string(i % 100) +
           ", 'B-" + n + "', '" + (i % 3 == 0 ? "low" : "in_stock") + "', " +
           (i % 4 == 0 ? "NULL" : "'2024-03-01 10:00:0" + std::to_string(i % 10) + "'") +
           ", '2024-03-02 11:22:33." + std::to_string(100000 + i) + "', " +
           (i % 2 ? "4.25" : "NULL") + ", " + std::to_string(i % 2) + ", 'DE', " +
           std::to_string(4000000000u - static_cast<unsigned>(i)) + ", '2020-02-29', " +
           std::to_string(i) + ".5, " + std::to_string(i) + ".125e3, '12:34:56.789', " +
           "18446744073709551615, -" + n + ", 2024, b'1', b'10101', x'00ff" + (i % 2 ? "10" : "") +
           "', 'text \"q\", ok " + n + "', '{\"k\": " + n + "}', 'a,c')";
  }
  return sql;
}

TEST_F(CdcMysqlReconcileIT, ReconcileFindsAndRepairsDifferences) {
  my_exec(std::string(kTables) + inv_rows(1, 40) +
          "; INSERT INTO rwh VALUES ('eu', 1, 'Berlin'), ('eu', 2, 'Paris'), ('us', 1, 'Austin')");
  write_source("myrec", {"rinv", "rwh"});
  Stream s(env_->dir, "myrec", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.myrec_rinv", "40", &s), "40") << s.log();
  // Through the binlog: inserts, updates of several types, a delete, a key change.
  my_exec(inv_rows(41, 50) +
          "; UPDATE rinv SET unit_cost = 99.99, last_counted_at = '2025-01-01 00:00:00', "
          "status = 'out', flag = b'0', bin = x'', note = NULL WHERE inventory_id = 2;"
          "DELETE FROM rinv WHERE inventory_id = 3; UPDATE rwh SET code = 3 WHERE region = 'us'");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.myrec_rinv_changes", "52", &s), "52") << s.log();
  ASSERT_EQ(wait_lake("SELECT max(code) FROM refined.myrec_rwh WHERE region = 'us'", "3", &s), "3")
      << s.log();
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();

  auto same = sluice("cdc reconcile myrec");
  EXPECT_EQ(same.code, 0) << same.out;
  EXPECT_NE(flat(same.out).find("rinv 49 49 0 0 0"), std::string::npos) << same.out;
  EXPECT_NE(flat(same.out).find("rwh 3 3 0 0 0"), std::string::npos) << same.out;

  // Differences in the lake: a changed value, a lost row, a row too many; in the source with the
  // binlog off for the session (the stream never sees it): a changed decimal.
  auto sql = sluice(
      "sql -e \"UPDATE refined.myrec_rinv SET bin_location = 'wrong' WHERE inventory_id = 5; "
      "DELETE FROM refined.myrec_rinv WHERE inventory_id = 7; INSERT INTO refined.myrec_rinv "
      "(inventory_id, product_id) VALUES (3, 1); DELETE FROM refined.myrec_rwh WHERE code = "
      "2\"");
  ASSERT_EQ(sql.code, 0) << sql.out;
  my_exec("SET SESSION sql_log_bin = 0; UPDATE rinv SET unit_cost = 1.01 WHERE inventory_id = 9");
  auto diff = sluice("cdc reconcile myrec --table rinv");
  EXPECT_EQ(diff.code, 1) << diff.out;
  EXPECT_NE(flat(diff.out).find("rinv 49 49 1 1 2"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("different inventory_id=5"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("different inventory_id=9"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("missing inventory_id=7"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("extra inventory_id=3"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("4 rows differ"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("rwh"), std::string::npos) << diff.out;  // --table
  // The composite key found in information_schema, in key order.
  auto wh = sluice("cdc reconcile myrec --table rwh");
  EXPECT_EQ(wh.code, 1) << wh.out;
  EXPECT_NE(wh.out.find("missing region=eu,code=2"), std::string::npos) << wh.out;
  // A key range, applied on both sides (MariaDB's and the engine's SQL).
  auto range = sluice("cdc reconcile myrec --table rinv --where \"inventory_id > 10\"");
  EXPECT_EQ(range.code, 0) << range.out;
  EXPECT_NE(flat(range.out).find("rinv 40 40 0 0 0"), std::string::npos) << range.out;
  // A bad filter names the source and table.
  auto bad = sluice("cdc reconcile myrec --table rinv --where \"no_such_column = 1\"");
  EXPECT_NE(bad.code, 0) << bad.out;
  EXPECT_NE(bad.out.find("no_such_column"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("rinv"), std::string::npos) << bad.out;

  // Repair through the running stream (a backfill of each differing table), then equal.
  Stream s2(env_->dir, "myrec", data_);
  s2.start();
  ASSERT_TRUE(wait_state("myrec", "streaming", &s2)) << s2.log();
  auto repaired = sluice("cdc reconcile myrec --repair");
  EXPECT_EQ(repaired.code, 0) << repaired.out << s2.log();
  EXPECT_NE(repaired.out.find("after repair"), std::string::npos) << repaired.out;
  EXPECT_EQ(lake_value("SELECT bin_location FROM refined.myrec_rinv WHERE inventory_id = 5"),
            "B-5");
  EXPECT_EQ(lake_value("SELECT unit_cost FROM refined.myrec_rinv WHERE inventory_id = 9"), "1.01");
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.myrec_rinv WHERE inventory_id IN (3, 7)"),
            "1");
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.myrec_rwh"), "3");
  EXPECT_EQ(s2.kill(SIGTERM), 0) << s2.log();
  auto clean = sluice("cdc reconcile myrec");
  EXPECT_EQ(clean.code, 0) << clean.out;
  EXPECT_NE(flat(clean.out).find("rinv 49 49 0 0 0"), std::string::npos) << clean.out;
}

// A table without a primary key and no `key` in its config: a clear error naming the way out.
TEST_F(CdcMysqlReconcileIT, TableWithoutKeyIsRefusedClearly) {
  my_exec(
      "DROP TABLE IF EXISTS withkey; CREATE TABLE withkey (id INT PRIMARY KEY);"
      "INSERT INTO withkey VALUES (1)");
  write_source("nk", {"withkey"});
  Stream s(env_->dir, "nk", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.nk_withkey", "1", &s), "1") << s.log();
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  // The lake table exists; the source's key goes away behind the stream's back.
  my_exec("SET SESSION sql_log_bin = 0; ALTER TABLE withkey DROP PRIMARY KEY");
  auto r = sluice("cdc reconcile nk");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("no primary key"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("key = [...]"), std::string::npos) << r.out;
}

}  // namespace

// Integration tests of the MariaDB binlog reader against a real MariaDB started by
// scripts/mariadb.sh on a free loopback port under a temporary folder (one server for the suite):
// bootstrap with every column type, concurrent writes during the snapshot, multi-statement
// transactions, DDL mid-stream, restart from a saved position, and the clear errors (purged
// binlog, missing grant, binlog_format, unreachable server).
#include "cdc/mysql_reader.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/source_servers.h"

namespace fs = std::filesystem;
using namespace sluice;
using namespace sluice::cdc;
using namespace std::chrono_literals;

namespace {

using Outcome = sluice::testing::ShellOutcome;
using sluice::testing::free_port;
Outcome shell(const std::string& cmd) {
  return sluice::testing::run_shell(cmd);
}
sluice::testing::SourceServers* g_env = nullptr;

// Runs SQL as root through the server's Unix socket.
Outcome sql(const std::string& statements) {
  fs::path f = g_env->dir / "stmt.sql";
  std::ofstream(f) << statements << "\n";
  return shell(
      "mariadb --no-defaults --socket=" + (g_env->dir / "mariadb" / "mysqld.sock").string() +
      " -uroot -N -B inventory < " + f.string());
}

void must(const std::string& statements) {
  auto o = sql(statements);
  ASSERT_EQ(o.code, 0) << statements << "\n" << o.out;
}

sources::SourceConfig source(std::vector<std::string> tables, std::string user = "sluice") {
  sources::SourceConfig s;
  s.name = "inv";
  s.kind = sources::SourceKind::kMysql;
  s.host = "127.0.0.1";
  s.port = g_env->my_port;
  s.database = "inventory";
  s.schema = "inventory";
  s.user = std::move(user);
  s.password_env = "SLUICE_MYSQL_PASSWORD";
  for (auto& t : tables) {
    sources::TableConfig tc;
    tc.name = t;
    s.tables.push_back(tc);
  }
  return s;
}

MysqlReaderOptions options(const std::string& name, int64_t chunk = 20000) {
  MysqlReaderOptions o;
  o.state_dir = g_env->dir / ("state-" + name);
  o.snapshot_chunk_rows = chunk;
  return o;
}

// Reads transactions until `idle` consecutive waits return nothing.
std::vector<Transaction> drain(ChangeReader& r, int idle = 3) {
  std::vector<Transaction> out;
  int quiet = 0;
  while (quiet < idle) {
    auto t = r.next(300ms);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    if (!t.is_ok()) break;
    if (!*t) {
      ++quiet;
      continue;
    }
    quiet = 0;
    out.push_back(std::move(**t));
  }
  return out;
}

std::map<std::string, Value> named(const ChangeEvent& e, bool after = true) {
  std::map<std::string, Value> m;
  const Row& r = after ? *e.after : *e.before;
  for (size_t i = 0; i < e.schema->columns.size(); ++i)
    m[e.schema->columns[i].name] = r.values.at(i);
  return m;
}

class MysqlReaderIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = sluice::testing::SourceServers::start({.name = "cdcmy", .postgres = false});
    ASSERT_TRUE(started.ok) << started.error;
    g_env = started.servers;
  }
  static void TearDownTestSuite() {
    sluice::testing::SourceServers::stop_instance();
    g_env = nullptr;
  }
  void SetUp() override {
    if (g_env == nullptr) GTEST_SKIP() << "MariaDB did not start";
  }
};

const char* kAllTypes = R"(
CREATE TABLE alltypes (
  id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
  f FLOAT, d DOUBLE, dec1 DECIMAL(10,3), dec2 DECIMAL(30,10), dt DATE, tm TIME(3), tm0 TIME,
  dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(6) NULL, yr YEAR, vc VARCHAR(50), ch CHAR(10),
  en ENUM('small','medium','large'), st SET('red','green','blue'), tx TEXT, bl BLOB,
  vb VARBINARY(20), js JSON, b1 BIT(1), b5 BIT(5), lt LONGTEXT, tm1 TIME(1), dtm3 DATETIME(3),
  cw CHAR(100)
) ENGINE=InnoDB;
)";

std::string all_values(int id) {
  return "(" + std::to_string(id) +
         ", -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
         "-9223372036854775808, 18446744073709551615, 3.14159274, 2.718281828459045, -12.345, "
         "12345678901234567890.0123456789, '2024-02-29', '-838:59:59.999', '-01:02:03', "
         "'2024-01-02 03:04:05.123456', '1999-12-31 23:59:59', '2024-01-02 03:04:05.654321', "
         "2024, 'h\u00e9llo w\u00f6rld', 'abc', 'medium', 'red,blue', 'some text', X'00FF10', "
         "X'DEAD', '{\"a\": [1, 2]}', b'1', b'10101', REPEAT('x', 70000), '-00:00:01.5', "
         "'2000-01-01 00:00:00.250', CONCAT(REPEAT('w', 99), '\u00e9'))";
}

void expect_all_values(const ChangeEvent& e) {
  auto v = named(e);
  EXPECT_EQ(v["ti"], "-128");
  EXPECT_EQ(v["tu"], "255");
  EXPECT_EQ(v["si"], "-32768");
  EXPECT_EQ(v["su"], "65535");
  EXPECT_EQ(v["mi"], "-8388608");
  EXPECT_EQ(v["miu"], "16777215");
  EXPECT_EQ(v["i"], "-2147483648");
  EXPECT_EQ(v["iu"], "4294967295");
  EXPECT_EQ(v["bi"], "-9223372036854775808");
  EXPECT_EQ(v["bu"], "18446744073709551615");
  EXPECT_EQ(v["f"], "3.1415927");
  EXPECT_EQ(v["d"], "2.718281828459045");
  EXPECT_EQ(v["dec1"], "-12.345");
  EXPECT_EQ(v["dec2"], "12345678901234567890.0123456789");
  EXPECT_EQ(v["dt"], "2024-02-29");
  EXPECT_EQ(v["tm"], "-838:59:59.999");
  EXPECT_EQ(v["tm0"], "-01:02:03");
  EXPECT_EQ(v["dtm"], "2024-01-02 03:04:05.123456");
  EXPECT_EQ(v["dtm0"], "1999-12-31 23:59:59");
  EXPECT_EQ(v["ts"], "2024-01-02 03:04:05.654321+00");
  EXPECT_EQ(v["yr"], "2024");
  EXPECT_EQ(v["vc"], "h\u00e9llo w\u00f6rld");
  EXPECT_EQ(v["ch"], "abc");
  EXPECT_EQ(v["en"], "medium");
  EXPECT_EQ(v["st"], "red,blue");
  EXPECT_EQ(v["tx"], "some text");
  EXPECT_EQ(v["bl"], std::string("\x00\xFF\x10", 3));
  EXPECT_EQ(v["vb"], "\xDE\xAD");
  EXPECT_EQ(v["js"], "{\"a\": [1, 2]}");
  EXPECT_EQ(v["b1"], "true");
  EXPECT_EQ(v["b5"], "21");
  EXPECT_EQ(v["lt"], std::string(70000, 'x'));
  EXPECT_EQ(v["tm1"], "-00:00:01.5");
  EXPECT_EQ(v["dtm3"], "2000-01-01 00:00:00.250");
  EXPECT_EQ(v["cw"], std::string(99, 'w') + "\u00e9");
}

TEST_F(MysqlReaderIT, BootstrapStreamDdlAndRestart) {
  must(kAllTypes);
  must("INSERT INTO alltypes VALUES " + all_values(1) + "; INSERT INTO alltypes (id) VALUES (2);");
  auto src = source({"alltypes"});
  auto opened = open_mysql_reader(src, Position{}, options("all"));
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  auto reader = std::move(*opened);

  // Snapshot: both rows, op 'r', snapshot flag, one position for all.
  auto txns = drain(*reader);
  ASSERT_EQ(txns.size(), 1u);
  ASSERT_EQ(txns[0].events.size(), 2u);
  const auto& snap = txns[0];
  for (const auto& e : snap.events) {
    EXPECT_EQ(e.op, Op::kRead);
    EXPECT_TRUE(e.snapshot);
    EXPECT_EQ(e.position.major, snap.position.major);
    EXPECT_EQ(e.schema->version, 1);
  }
  EXPECT_FALSE(snap.position.resume.empty());
  EXPECT_TRUE(snap.snapshot_complete);
  const auto& schema = *snap.events[0].schema;
  EXPECT_EQ(schema.columns.size(), 36u);
  EXPECT_TRUE(schema.columns[0].key);
  EXPECT_EQ(schema.columns[29].kind, ValueKind::kJson);
  EXPECT_EQ(schema.columns[10].kind, ValueKind::kDecimal);
  EXPECT_EQ(schema.columns[20].kind, ValueKind::kTimestampTz);
  expect_all_values(snap.events[0]);
  auto nulls = named(snap.events[1]);
  EXPECT_EQ(nulls["id"], "2");
  EXPECT_FALSE(nulls["ti"].has_value());
  EXPECT_FALSE(nulls["js"].has_value());
  EXPECT_FALSE(nulls["ts"].has_value());

  // Stream: the same values through the binlog decode to the same text.
  must("INSERT INTO alltypes VALUES " + all_values(3) + ";");
  // A multi-statement transaction: one Transaction, events in order.
  must(
      "BEGIN; INSERT INTO alltypes (id, vc) VALUES (10, 'ten'); "
      "UPDATE alltypes SET vc = 'changed', en = 'large' WHERE id = 3; "
      "DELETE FROM alltypes WHERE id = 2; COMMIT;");
  // A rolled-back transaction yields nothing.
  must("BEGIN; INSERT INTO alltypes (id) VALUES (99); ROLLBACK;");
  txns = drain(*reader);
  ASSERT_EQ(txns.size(), 2u);
  ASSERT_EQ(txns[0].events.size(), 1u);
  EXPECT_EQ(txns[0].events[0].op, Op::kCreate);
  EXPECT_FALSE(txns[0].events[0].snapshot);
  expect_all_values(txns[0].events[0]);
  EXPECT_GT(txns[0].position.major, snap.position.major);
  EXPECT_FALSE(txns[0].txid.empty());
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_LT(std::llabs(txns[0].commit_ts_ms - now_ms), 600000);

  const auto& multi = txns[1];
  ASSERT_EQ(multi.events.size(), 3u);
  EXPECT_EQ(multi.events[0].op, Op::kCreate);
  EXPECT_EQ(named(multi.events[0])["vc"], "ten");
  EXPECT_EQ(multi.events[1].op, Op::kUpdate);
  EXPECT_EQ(named(multi.events[1], false)["vc"], "h\u00e9llo w\u00f6rld");
  EXPECT_EQ(named(multi.events[1], false)["en"], "medium");
  EXPECT_EQ(named(multi.events[1])["vc"], "changed");
  EXPECT_EQ(named(multi.events[1])["en"], "large");
  EXPECT_EQ(named(multi.events[1])["dec2"], "12345678901234567890.0123456789");
  EXPECT_EQ(multi.events[2].op, Op::kDelete);
  EXPECT_FALSE(multi.events[2].after.has_value());
  EXPECT_EQ(named(multi.events[2], false)["id"], "2");
  for (size_t i = 0; i < multi.events.size(); ++i) {
    EXPECT_EQ(multi.events[i].position.major, multi.position.major);
    EXPECT_EQ(multi.events[i].position.minor, i + 1);
  }
  EXPECT_GT(multi.position.major, txns[0].position.major);
  Position saved = multi.position;
  ASSERT_TRUE(reader->confirm(saved).is_ok());

  // DDL mid-stream: a new schema version, rows after it decoded with the new column.
  must(
      "INSERT INTO alltypes (id, vc) VALUES (11, 'before ddl');"
      "ALTER TABLE alltypes ADD COLUMN extra VARCHAR(10) DEFAULT 'dflt';"
      "INSERT INTO alltypes (id, vc, extra) VALUES (12, 'after ddl', 'new');"
      "UPDATE alltypes SET vc = 'upd' WHERE id = 10;");
  txns = drain(*reader);
  ASSERT_EQ(txns.size(), 3u);
  EXPECT_EQ(txns[0].events[0].schema->version, 1);
  EXPECT_EQ(txns[0].events[0].schema->columns.size(), 36u);
  const auto& v2 = *txns[1].events[0].schema;
  EXPECT_EQ(v2.version, 2);
  ASSERT_EQ(v2.columns.size(), 37u);
  EXPECT_EQ(v2.columns.back().name, "extra");
  EXPECT_EQ(named(txns[1].events[0])["extra"], "new");
  EXPECT_EQ(named(txns[1].events[0])["vc"], "after ddl");
  EXPECT_EQ(named(txns[2].events[0], false)["extra"], "dflt");
  EXPECT_EQ(named(txns[2].events[0])["vc"], "upd");
  std::vector<std::string> after_saved;
  for (const auto& t : txns)
    after_saved.push_back(t.txid);
  reader.reset();

  // Restart from the saved position: the same transactions, none missing, none doubled, each
  // decoded with the schema that was current at its position.
  must("INSERT INTO alltypes (id, vc, extra) VALUES (13, 'while down', 'x');");
  auto again = open_mysql_reader(src, saved, options("all"));
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  txns = drain(**again);
  ASSERT_EQ(txns.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(txns[i].txid, after_saved[i]);
    EXPECT_GT(txns[i].position.major, saved.major);
  }
  EXPECT_EQ(txns[0].events[0].schema->columns.size(), 36u);
  EXPECT_EQ(named(txns[0].events[0])["vc"], "before ddl");
  EXPECT_EQ(txns[1].events[0].schema->version, 2);
  EXPECT_EQ(named(txns[1].events[0])["extra"], "new");
  EXPECT_EQ(named(txns[3].events[0])["vc"], "while down");
  EXPECT_EQ(named(txns[3].events[0])["extra"], "x");

  // Resuming from a GTID list works too.
  auto by_gtid = open_mysql_reader(src, Position{0, 0, txns[2].txid}, options("all"));
  ASSERT_TRUE(by_gtid.is_ok()) << by_gtid.status().to_string();
  auto g = drain(**by_gtid);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].txid, txns[3].txid);

  // TRUNCATE TABLE of a configured table is an op 't' event; other tables are not emitted.
  must(
      "CREATE TABLE not_configured (id INT PRIMARY KEY); INSERT INTO not_configured VALUES (1);"
      "TRUNCATE TABLE alltypes;");
  g = drain(**by_gtid);
  ASSERT_EQ(g.size(), 1u);
  ASSERT_EQ(g[0].events.size(), 1u);
  EXPECT_EQ(g[0].events[0].op, Op::kTruncate);
  EXPECT_EQ(g[0].events[0].schema->table, "alltypes");
  EXPECT_GT(g[0].position.major, txns[3].position.major);

  // The state file records the schema history and the confirmed position.
  std::ifstream state(mysql_state_file(src, g_env->dir / "state-all"));
  std::string text((std::istreambuf_iterator<char>(state)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"extra\""), std::string::npos);
  EXPECT_NE(text.find("\"confirmed\""), std::string::npos);
}

TEST_F(MysqlReaderIT, ConcurrentWritesDuringSnapshotAppearExactlyOnce) {
  must(
      "CREATE TABLE conc (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB;"
      "INSERT INTO conc (v) SELECT seq FROM seq_1_to_3000;");
  // A writer inserting one row per transaction while the snapshot is taken and copied.
  std::string script;
  for (int i = 0; i < 400; ++i)
    script +=
        "INSERT INTO conc (v) VALUES (" + std::to_string(100000 + i) + "); DO SLEEP(0.002);\n";
  fs::path f = g_env->dir / "writer.sql";
  std::ofstream(f) << script;
  std::thread writer([&] {
    (void)shell(
        "mariadb --no-defaults --socket=" + (g_env->dir / "mariadb" / "mysqld.sock").string() +
        " -uroot inventory < " + f.string());
  });
  // Start once the writer is under way.
  for (int i = 0; i < 200; ++i) {
    auto o = sql("SELECT COUNT(*) FROM conc");
    if (std::atoi(o.out.c_str()) > 3020) break;
    std::this_thread::sleep_for(10ms);
  }
  auto opened = open_mysql_reader(source({"conc"}), Position{}, options("conc", 100));
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  auto& r = **opened;
  std::map<std::string, int> seen;
  int64_t snapshot_rows = 0, stream_rows = 0;
  bool streaming = false;
  int quiet = 0, completes = 0;
  while (quiet < 3) {
    auto t = r.next(300ms);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    if (!*t) {
      // Idle only counts once the writer is done.
      if (!writer.joinable()) ++quiet;
      continue;
    }
    if ((*t)->snapshot_complete) {
      ++completes;
      EXPECT_FALSE(streaming);
    }
    for (const auto& e : (*t)->events) {
      if (e.snapshot) {
        EXPECT_FALSE(streaming) << "snapshot row after streamed rows";
        ++snapshot_rows;
      } else {
        streaming = true;
        ++stream_rows;
        EXPECT_EQ(e.op, Op::kCreate);
      }
      seen[*named(e)["id"]]++;
    }
    std::this_thread::sleep_for(2ms);  // let the writer interleave with the copy
    if (streaming && writer.joinable()) writer.join();
  }
  if (writer.joinable()) writer.join();
  auto count = sql("SELECT COUNT(*) FROM conc");
  int total = std::atoi(count.out.c_str());
  EXPECT_EQ(total, 3400);
  EXPECT_EQ(static_cast<int>(seen.size()), total);
  for (const auto& [id, n] : seen)
    EXPECT_EQ(n, 1) << "row " << id << " seen " << n << " times";
  EXPECT_EQ(completes, 1);
  EXPECT_GT(snapshot_rows, 3000);
  EXPECT_GT(stream_rows, 0);
}

// Backfill chunks: key order and ranges, the binlog position that matches the chunk exactly
// (every transaction at or before it is in the chunk, later ones are not), caught_up().
TEST_F(MysqlReaderIT, BackfillChunksCarryTheirBinlogWatermark) {
  must(
      "CREATE TABLE bfm (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;"
      "INSERT INTO bfm SELECT seq, CONCAT('v', seq) FROM seq_1_to_500;");
  auto opened = open_mysql_reader(source({"bfm"}), Position{}, options("bfm"));
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  auto& r = **opened;
  (void)drain(r);
  ChunkRequest req;
  req.table = "bfm";
  req.limit = 100;
  auto c1 = r.read_chunk(req);
  ASSERT_TRUE(c1.is_ok()) << c1.status().to_string();
  ASSERT_EQ(c1->rows.size(), 100u);
  EXPECT_EQ(c1->rows.front().values[0], "1");
  EXPECT_EQ(c1->rows.back().values[0], "100");
  EXPECT_EQ(c1->position.major, c1->high + 1);
  // Idle: the heartbeats bring caught_up() to the chunk's position.
  for (int i = 0; i < 20 && r.caught_up() < c1->high; ++i)
    (void)r.next(100ms);
  EXPECT_GE(r.caught_up(), c1->high);
  // A change after the chunk is positioned after it and is not visible to it.
  must("UPDATE bfm SET v = 'new' WHERE id = 5");
  auto after = drain(r);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0].position.major, c1->high + 1);
  EXPECT_FALSE(c1->visible(after[0]));
  // The next chunk starts after the last key; the update is in it.
  req.after_key = {"100"};
  auto c2 = r.read_chunk(req);
  ASSERT_TRUE(c2.is_ok()) << c2.status().to_string();
  ASSERT_EQ(c2->rows.size(), 100u);
  EXPECT_EQ(c2->rows.front().values[0], "101");
  EXPECT_TRUE(c2->visible(after[0]));
  req.after_key = {};
  req.where = "id <= 10";
  auto c3 = r.read_chunk(req);
  ASSERT_TRUE(c3.is_ok()) << c3.status().to_string();
  ASSERT_EQ(c3->rows.size(), 10u);
  EXPECT_EQ(c3->rows[4].values[1], "new");
  // A bad condition is an error naming the table, and the reader goes on.
  req.where = "no_such_column = 1";
  auto bad = r.read_chunk(req);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("bfm"), std::string::npos) << bad.status().to_string();
  must("UPDATE bfm SET v = 'again' WHERE id = 6");
  EXPECT_EQ(drain(r).size(), 1u);
}

TEST_F(MysqlReaderIT, ClearErrors) {
  must("CREATE TABLE errs (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO errs VALUES (1);");
  // Unreachable server.
  auto src = source({"errs"});
  src.port = free_port();
  auto r = open_mysql_reader(src, Position{}, options("errs"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("source inv"), std::string::npos);
  EXPECT_NE(r.status().message().find("cannot connect"), std::string::npos);

  // Missing REPLICATION SLAVE.
  must(
      "CREATE USER IF NOT EXISTS 'norepl'@'127.0.0.1' IDENTIFIED BY 'it-sluice-pw';"
      "GRANT SELECT ON inventory.* TO 'norepl'@'127.0.0.1';");
  r = open_mysql_reader(source({"errs"}, "norepl"), Position{}, options("errs"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().to_string();
  EXPECT_NE(r.status().message().find("REPLICATION SLAVE"), std::string::npos)
      << r.status().to_string();

  // binlog_format not ROW.
  must("SET GLOBAL binlog_format = 'STATEMENT';");
  r = open_mysql_reader(source({"errs"}), Position{}, options("errs"));
  must("SET GLOBAL binlog_format = 'ROW';");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("binlog_format=ROW"), std::string::npos)
      << r.status().to_string();

  // A table that does not exist.
  r = open_mysql_reader(source({"errs", "nope"}), Position{}, options("errs"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("inventory.nope"), std::string::npos);
}

// Last: purging binlogs changes the server for every later reader.
TEST_F(MysqlReaderIT, PurgedBinlogAsksForReset) {
  must("CREATE TABLE purge_me (id INT PRIMARY KEY) ENGINE=InnoDB;");
  auto src = source({"purge_me"});
  auto opened = open_mysql_reader(src, Position{}, options("purge"));
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  must("INSERT INTO purge_me VALUES (1);");
  auto txns = drain(**opened);
  ASSERT_EQ(txns.size(), 2u);  // the (empty) last snapshot chunk, then the insert
  EXPECT_TRUE(txns[0].snapshot_complete);
  EXPECT_TRUE(txns[0].events.empty());
  Position saved = txns[1].position;
  opened->reset();
  auto behind = mysql_binlog_behind_bytes(src, saved.resume);
  ASSERT_TRUE(behind.is_ok()) << behind.status().to_string();
  EXPECT_EQ(*behind, 0);

  // The server keeps a binlog until its binlog checkpoint and every dump thread moved past it.
  std::string old_file = saved.resume.substr(0, saved.resume.find(':'));
  Outcome logs;
  for (int i = 0; i < 100; ++i) {
    must("FLUSH BINARY LOGS;");
    auto last = sql("SHOW MASTER STATUS");
    std::string file = last.out.substr(0, last.out.find('\t'));
    logs = sql("PURGE BINARY LOGS TO '" + file + "'; SHOW WARNINGS; SHOW BINARY LOGS;");
    if (logs.out.find(old_file) == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(logs.out.find(old_file), std::string::npos) << "not purged: " << logs.out;
  auto r = open_mysql_reader(src, saved, options("purge"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().to_string();
  EXPECT_NE(r.status().message().find("source inv"), std::string::npos);
  EXPECT_NE(r.status().message().find("purged"), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find("sluice cdc start inv --reset"), std::string::npos);
}

}  // namespace

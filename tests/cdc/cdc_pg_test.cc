// Integration tests of `sluice cdc` against a real PostgreSQL 15 (scripts/pg.sh on a free port
// under a temporary folder) and, for the bus, the embedded broker with a kafka-python consumer
// written against Debezium's documented envelope.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus_test_util.h"
#include "cdc/cdc_test_support.h"
#include "sources/db_client.h"
#include "support/source_servers.h"

namespace fs = std::filesystem;
using sluice::sources::Endpoint;
using sluice::sources::detail::PgConn;

namespace {

using Outcome = sluice::testing::ShellOutcome;
Outcome shell(const std::string& cmd) {
  return sluice::testing::run_shell(cmd);
}

class CdcPgIT : public sluice::testing::CdcSuite {
 protected:
  static void SetUpTestSuite() { start_servers({.name = "cdc", .mariadb = false}); }

  // A source file `<name>.toml` streaming `tables` through publication sluice_shop.
  static void write_source(const std::string& name, const std::vector<std::string>& tables,
                           const std::string& extra = "") {
    std::ofstream f(env_->dir / "sources" / (name + ".toml"));
    f << "type = \"postgres\"\nport = " << env_->pg_port << "\ndatabase = \"shop\"\n";
    for (const auto& t : tables)
      f << "[tables." << t << "]\n";
    f << "[cdc]\nenabled = true\npublication = \"sluice_shop\"\nheartbeat_ms = 500\n" << extra;
  }
  static Endpoint pg_ep(const std::string& user = "shop_owner") {
    return Endpoint{
        "127.0.0.1", env_->pg_port, user,
        user == "sluice" ? sluice::testing::kSluicePassword : sluice::testing::kOwnerPassword,
        "shop"};
  }
  static void pg_exec(const std::string& sql) {
    auto c = PgConn::connect(pg_ep(), "test");
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    auto st = c->exec(sql);
    ASSERT_TRUE(st.is_ok()) << sql << ": " << st.message();
  }
  static std::string pg_value(const std::string& sql, const std::string& db = "shop") {
    Endpoint ep = pg_ep();
    ep.database = db;
    auto c = PgConn::connect(ep, "test");
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    if (!c.is_ok()) return "";
    auto r = c->query(sql);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (!r.is_ok() || r->empty()) return "";
    return r->at(0).at(0).value_or("NULL");
  }
};

TEST_F(CdcPgIT, EveryOpAndDataTypeReachesRawAndRefined) {
  pg_exec(
      "DROP TABLE IF EXISTS ty; CREATE TABLE ty (id int PRIMARY KEY, b bool, s smallint, i int, "
      "l bigint, r real, d double precision, n numeric(12,3), t text, vc varchar(20), dt date, "
      "tm time, ts timestamp, tz timestamptz, u uuid, j jsonb, bin bytea);"
      "INSERT INTO ty VALUES (1, true, 1, 10, 10000000000, 1.5, 2.25, 123.456, 'snap', 'x', "
      "'2024-02-29', '12:34:56', '2024-01-01 10:00:00', '2024-01-01 10:00:00+02', "
      "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": 1}', '\\x00ff10')");
  write_source("ty", {"ty"});
  Stream s(env_->dir, "ty", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.ty_ty", "1", &s), "1") << s.log();
  pg_exec(
      "INSERT INTO ty VALUES (2, false, -2, -20, -20000000000, -0.5, 1e300, -0.001, 'zwei "
      "\"q\", ok', 'y', '1999-12-31', '00:00:01', '2000-01-01 00:00:00.123456', "
      "'2030-06-30 23:59:59.5+00', '00000000-0000-0000-0000-000000000000', '[1,2]', '\\x'),"
      "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
      "NULL, NULL);"
      "UPDATE ty SET t = 'updated', n = 7.5 WHERE id = 1; DELETE FROM ty WHERE id = 3;");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.ty_ty_changes", "5", &s), "5") << s.log();
  EXPECT_EQ(lake_value("SELECT string_agg(_op, '' ORDER BY _lsn, _seq) FROM raw.ty_ty_changes"),
            "rccud");
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.ty_ty_changes WHERE _load_type = 'cdc'"), "5");
  EXPECT_EQ(lake_value("SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM refined.ty_ty"),
            "1,2");
  // Values, column by column, against the source's own rendering.
  EXPECT_EQ(lake_value("SELECT t || '|' || n || '|' || b || '|' || s || '|' || i || '|' || l "
                       "FROM refined.ty_ty WHERE id = 1"),
            "updated|7.500|true|1|10|10000000000");
  EXPECT_EQ(lake_value("SELECT r || '|' || d || '|' || vc || '|' || dt || '|' || tm || '|' || "
                       "ts FROM refined.ty_ty WHERE id = 1"),
            "1.5|2.25|x|2024-02-29|12:34:56|2024-01-01 10:00:00");
  EXPECT_EQ(lake_value("SELECT epoch(tz)::BIGINT || '|' || u || '|' || md5(j) || '|' || hex(bin) "
                       "FROM refined.ty_ty WHERE id = 1"),
            pg_value("SELECT extract(epoch FROM tz)::bigint || '|' || u || '|' || md5(j::text) || "
                     "'|' || upper(encode(bin, 'hex')) FROM ty WHERE id = 1"));
  EXPECT_EQ(lake_value("SELECT t || '|' || n || '|' || ts || '|' || epoch_ms(tz) || '|' || "
                       "octet_length(bin) || '|' || d FROM refined.ty_ty WHERE id = 2"),
            "zwei \"\"q\"\", ok|-0.001|2000-01-01 00:00:00.123456|1909094399500|0|1e+300");
  // Truncate: the change log records it, the current state empties before later rows.
  pg_exec("BEGIN; TRUNCATE ty; INSERT INTO ty (id, t) VALUES (9, 'after truncate'); COMMIT");
  ASSERT_EQ(
      wait_lake("SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM refined.ty_ty", "9", &s), "9")
      << s.log();
  EXPECT_EQ(lake_value("SELECT string_agg(_op, '' ORDER BY _lsn, _seq) FROM raw.ty_ty_changes"),
            "rccudtc");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  auto st = sluice("cdc status ty");
  EXPECT_EQ(st.code, 0) << st.out;
  EXPECT_NE(st.out.find("stopped"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("retained WAL bytes"), std::string::npos) << st.out;
}

TEST_F(CdcPgIT, UnchangedToastValueIsFilledFromTheLastKnownRow) {
  pg_exec(
      "DROP TABLE IF EXISTS doc; CREATE TABLE doc (id int PRIMARY KEY, n int, body text);"
      "ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL;"
      "INSERT INTO doc SELECT 1, 0, string_agg(md5(g::text), '') FROM generate_series(1, "
      "4000) g");
  write_source("doc", {"doc"});
  Stream s(env_->dir, "doc", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.doc_doc", "1", &s), "1") << s.log();
  // Streamed rows: the first update happens in the stream, with the row's state only in the
  // lake; the second has the earlier update in the same batch or the lake.
  pg_exec(
      "INSERT INTO doc SELECT 2, 0, string_agg(md5((g * 7)::text), '') FROM "
      "generate_series(1, 4000) g");
  pg_exec("UPDATE doc SET n = n + 1");
  pg_exec("UPDATE doc SET n = n + 1 WHERE id = 2");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.doc_doc_changes", "5", &s), "5") << s.log();
  const std::string src = pg_value(
      "SELECT string_agg(id || ':' || n || ':' || md5(body), ',' "
      "ORDER BY id) FROM doc");
  EXPECT_EQ(lake_value("SELECT string_agg(id || ':' || n || ':' || md5(body), ',' ORDER BY id) "
                       "FROM refined.doc_doc"),
            src);
  // The change log carries the full value too, never a placeholder.
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.doc_doc_changes WHERE length(body) = 128000"),
            "5");
}

TEST_F(CdcPgIT, TransactionsLandAtomicallyAndAddedColumnsEvolveTheLake) {
  pg_exec(
      "DROP TABLE IF EXISTS acct, ledger; CREATE TABLE acct (id int PRIMARY KEY, bal int);"
      "CREATE TABLE ledger (id bigserial PRIMARY KEY, acct int, amount int);"
      "INSERT INTO acct VALUES (1, 100), (2, 100)");
  write_source("bank", {"acct", "ledger"});
  Stream s(env_->dir, "bank", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.bank_acct", "2", &s), "2") << s.log();
  pg_exec(
      "BEGIN; UPDATE acct SET bal = bal - 30 WHERE id = 1; UPDATE acct SET bal = bal + 30 WHERE "
      "id = 2; INSERT INTO ledger (acct, amount) VALUES (1, -30), (2, 30); COMMIT;");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.bank_ledger_changes", "2", &s), "2") << s.log();
  // One source transaction: one id, one position, in both tables.
  EXPECT_EQ(lake_value("SELECT count(DISTINCT _txid) || ',' || count(DISTINCT _lsn) FROM (SELECT "
                       "_txid, _lsn FROM raw.bank_acct_changes WHERE _op = 'u' UNION ALL SELECT "
                       "_txid, _lsn FROM raw.bank_ledger_changes)"),
            "1,1");
  EXPECT_EQ(lake_value("SELECT sum(bal) FROM refined.bank_acct"), "200");
  // DDL mid-stream.
  pg_exec(
      "ALTER TABLE ledger ADD COLUMN note varchar(40); ALTER TABLE acct ALTER COLUMN bal "
      "TYPE bigint; INSERT INTO ledger (acct, amount, note) VALUES (1, 5, 'after ddl');"
      "UPDATE acct SET bal = 10000000000 WHERE id = 1");
  ASSERT_EQ(wait_lake("SELECT note FROM refined.bank_ledger WHERE amount = 5", "after ddl", &s),
            "after ddl")
      << s.log();
  EXPECT_EQ(wait_lake("SELECT bal FROM refined.bank_acct WHERE id = 1", "10000000000", &s),
            "10000000000");
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.bank_ledger WHERE note IS NULL"), "2");
}

TEST_F(CdcPgIT, KillNineMidStreamResumesExactlyOnce) {
  pg_exec(
      "DROP TABLE IF EXISTS item; CREATE TABLE item (id int PRIMARY KEY, v bigint, t text);"
      "INSERT INTO item SELECT g, g, 'v' || g FROM generate_series(1, 2000) g");
  write_source("kill", {"item"});
  Stream s(env_->dir, "kill", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.kill_item", "2000", &s), "2000") << s.log();
  std::atomic<bool> done{false};
  std::atomic<int64_t> ops{0};
  // The load: small transactions of inserts, updates and deletes, until told to stop.
  std::thread load([&] {
    auto c = PgConn::connect(pg_ep(), "load");
    if (!c.is_ok()) return;
    int next = 2001;
    for (int i = 0; !done.load(); ++i) {
      std::string sql = "BEGIN; INSERT INTO item VALUES (" + std::to_string(next) + ", " +
                        std::to_string(i) +
                        ", 'n'); UPDATE item SET v = v + 1, t = t || 'u' "
                        "WHERE id = " +
                        std::to_string(1 + (i * 7) % 2000) + ";";
      int64_t n = 2;
      if (i % 3 == 0 && i > 0) {
        sql += "DELETE FROM item WHERE id = " + std::to_string(next - 1) + ";";
        ++n;
      }
      sql += "COMMIT";
      if (c->exec(sql).is_ok()) ops += n;
      ++next;
    }
  });
  // Let it bootstrap and stream for a while, then kill -9 mid-stream (under load).
  kill_twice_mid_stream(s, "raw.kill_item_changes");
  done = true;
  load.join();
  ASSERT_GT(ops.load(), 30);
  const std::string want = std::to_string(2000 + ops.load());
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.kill_item_changes", want, &s), want) << s.log();
  // Every change exactly once, the current state equal to the source.
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (_lsn, _seq)) FROM raw.kill_item_changes"),
            "0");
  const std::string src = pg_value(
      "SELECT count(*) || ':' || sum(id) || ':' || sum(v) || ':' || "
      "sum(length(t)) FROM item");
  EXPECT_EQ(lake_value("SELECT count(*) || ':' || sum(id) || ':' || sum(v) || ':' || "
                       "sum(length(t)) FROM refined.kill_item"),
            src);
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
}

TEST_F(CdcPgIT, IdleStreamKeepsTheSlotMovingAndStatusReportsIt) {
  pg_exec(
      "DROP TABLE IF EXISTS quiet, busy; CREATE TABLE quiet (id int PRIMARY KEY);"
      "CREATE TABLE busy (id int PRIMARY KEY, x text)");
  write_source("idle", {"quiet"});
  Stream s(env_->dir, "idle", data_);
  s.start();
  ASSERT_TRUE(wait_state("idle", "streaming", &s)) << s.log();
  // WAL from a table this source does not stream (and from another database).
  for (int i = 0; i < 5; ++i) {
    pg_exec("INSERT INTO busy SELECT g, repeat('x', 1000) FROM generate_series(" +
            std::to_string(i * 2000 + 1) + ", " + std::to_string(i * 2000 + 2000) + ") g");
  }
  const std::string lsn = pg_value("SELECT pg_current_wal_lsn()::text");
  std::string behind;
  for (int i = 0; i < 120; ++i) {
    behind = pg_value("SELECT pg_wal_lsn_diff(" + std::string("'") + lsn +
                      "', confirmed_flush_lsn) > 0 FROM pg_replication_slots WHERE slot_name = "
                      "'sluice_idle'");
    if (behind == "f") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(behind, "f") << "the slot's confirmed flush LSN did not pass " << lsn << "\n"
                         << s.log();
  auto st = sluice("cdc status idle --json");
  EXPECT_EQ(st.code, 0) << st.out;
  EXPECT_NE(st.out.find("\"state\": \"streaming\""), std::string::npos) << st.out;
  EXPECT_EQ(st.out.find("\"retained_wal_bytes\": -1"), std::string::npos) << st.out;
  // stop signals the running stream through its pid file.
  auto stop = sluice("cdc stop idle");
  EXPECT_EQ(stop.code, 0) << stop.out;
  for (int i = 0; i < 100 && s.running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(s.running());
}

TEST_F(CdcPgIT, DroppedSlotIsAClearErrorNamingTheFix) {
  pg_exec("DROP TABLE IF EXISTS gone; CREATE TABLE gone (id int PRIMARY KEY)");
  write_source("gone", {"gone"});
  Stream s(env_->dir, "gone", data_);
  s.start();
  ASSERT_TRUE(wait_state("gone", "streaming", &s)) << s.log();
  EXPECT_EQ(s.kill(SIGTERM), 0);
  // `cdc reset` drops the slot (and the checkpoint); put the checkpoint back so the next start
  // resumes against a slot that no longer exists.
  auto reset = sluice("cdc reset gone");
  EXPECT_EQ(reset.code, 0) << reset.out;
  EXPECT_EQ(pg_value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sluice_gone'"),
            "0");
  std::ofstream(fs::path(data_) / "cdc" / "gone" / "checkpoint.json")
      << "{\"major\": 1, \"minor\": 0, \"resume\": \"0/1\", \"snapshot_complete\": true}";
  auto r = sluice("cdc start gone");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("replication slot 'sluice_gone' does not exist"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sluice cdc reset gone"), std::string::npos) << r.out;
}

TEST_F(CdcPgIT, DebeziumConsumerReadsTheBusUnchanged) {
  sluice::bus::testing::BrokerProcess broker(env_->dir / ("broker-" + name_));
  ASSERT_TRUE(broker.start());
  pg_exec(
      "DROP TABLE IF EXISTS dbz; CREATE TABLE dbz (id int PRIMARY KEY, name text, qty int);"
      "INSERT INTO dbz VALUES (1, 'one', 1)");
  write_source("dbz", {"dbz"});
  const std::string cfg = "dbz.toml";
  std::ofstream(env_->dir / cfg) << "[log]\nlevel = \"info\"\n[cdc]\ncommit_interval_ms = 200\n"
                                 << "topic_prefix = \"shopdb\"\n[bus]\nbootstrap = \""
                                 << broker.bootstrap() << "\"\n";
  Stream s(env_->dir, "dbz", data_, cfg);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.dbz_dbz", "1", &s), "1") << s.log();
  pg_exec(
      "INSERT INTO dbz VALUES (2, 'two', 2); UPDATE dbz SET qty = 10 WHERE id = 1;"
      "DELETE FROM dbz WHERE id = 2");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.dbz_dbz_changes", "4", &s), "4") << s.log();
  // A consumer written against Debezium's documented envelope (schema + payload, op codes,
  // before/after, source.table, tombstones with a null value).
  const std::string py = R"(
import json, sys
from kafka import KafkaConsumer
c = KafkaConsumer('shopdb.public.dbz', bootstrap_servers=sys.argv[1], auto_offset_reset='earliest',
                  consumer_timeout_ms=5000, enable_auto_commit=False)
out = []
for m in c:
    key = json.loads(m.key)['payload']
    if m.value is None:
        out.append('tombstone:%d' % key['id'])
        continue
    p = json.loads(m.value)['payload']
    assert p['source']['connector'] == 'postgresql' and p['source']['table'] == 'dbz'
    assert p['source']['schema'] == 'public' and p['source']['db'] == 'shop'
    row = p['after'] if p['op'] != 'd' else p['before']
    out.append('%s:%d:%s' % (p['op'], row['id'], (p['after'] or {}).get('qty')))
# Order holds per key (partition); print each key's sequence.
by_key = {}
for o in out:
    by_key.setdefault(o.split(':')[1], []).append(o)
print(' '.join(k + '=' + ','.join(v) for k, v in sorted(by_key.items())))
)";
  std::ofstream(env_->dir / "dbz_consumer.py") << py;
  auto r = shell("/usr/bin/python3 " + (env_->dir / "dbz_consumer.py").string() + " " +
                 broker.bootstrap());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("1=r:1:1,u:1:10 2=c:2:2,d:2:None,tombstone:2"), std::string::npos) << r.out;
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
}

}  // namespace

namespace {

TEST_F(CdcPgIT, ReconcileFindsAnInjectedDifference) {
  pg_exec(
      "DROP TABLE IF EXISTS rec; CREATE TABLE rec (id int PRIMARY KEY, v numeric(10,2), "
      "t text, ts timestamptz, b bytea);"
      "INSERT INTO rec SELECT g, g / 3.0, 'r' || g, '2024-01-01'::timestamptz + g * "
      "interval '1 hour', '\\x0102' FROM generate_series(1, 50) g");
  write_source("rec", {"rec"});
  Stream s(env_->dir, "rec", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.rec_rec", "50", &s), "50") << s.log();
  pg_exec("UPDATE rec SET t = 'changed' WHERE id = 3; DELETE FROM rec WHERE id = 4");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.rec_rec_changes", "52", &s), "52") << s.log();
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  auto same = sluice("cdc reconcile rec");
  EXPECT_EQ(same.code, 0) << same.out;
  // Whitespace collapsed: "rec 49 49 0 0 0" (table, source rows, lake rows, missing, extra,
  // different).
  std::string flat;
  {
    std::istringstream in(same.out);
    std::string w;
    while (in >> w)
      flat += w + " ";
  }
  EXPECT_NE(flat.find("rec 49 49 0 0 0"), std::string::npos) << same.out;
  // Inject differences into the lake: a changed value, a lost row, a row too many.
  auto sql = sluice(
      "sql -e \"UPDATE refined.rec_rec SET t = 'wrong' WHERE id = 5; DELETE FROM "
      "refined.rec_rec WHERE id = 7; INSERT INTO refined.rec_rec (id, t) VALUES "
      "(4, 'ghost')\"");
  ASSERT_EQ(sql.code, 0) << sql.out;
  auto diff = sluice("cdc reconcile rec --table rec");
  EXPECT_EQ(diff.code, 1) << diff.out;
  EXPECT_NE(diff.out.find("different id=5"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("missing id=7"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("extra id=4"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("3 rows differ"), std::string::npos) << diff.out;
  // A key range.
  auto range = sluice("cdc reconcile rec --where \"id > 10\"");
  EXPECT_EQ(range.code, 0) << range.out;
  // Repair goes through the running stream; without one it says so.
  auto no_stream = sluice("cdc reconcile rec --repair");
  EXPECT_NE(no_stream.code, 0) << no_stream.out;
  EXPECT_NE(no_stream.out.find("start it first"), std::string::npos) << no_stream.out;
  Stream s2(env_->dir, "rec", data_);
  s2.start();
  ASSERT_TRUE(wait_state("rec", "streaming", &s2)) << s2.log();
  auto repaired = sluice("cdc reconcile rec --repair");
  EXPECT_EQ(repaired.code, 0) << repaired.out << s2.log();
  EXPECT_NE(repaired.out.find("after repair"), std::string::npos) << repaired.out;
  EXPECT_EQ(lake_value("SELECT t FROM refined.rec_rec WHERE id = 5"), "r5");
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.rec_rec WHERE id IN (4, 7)"), "1");
  auto clean = sluice("cdc reconcile rec");
  EXPECT_EQ(clean.code, 0) << clean.out;
  EXPECT_EQ(s2.kill(SIGTERM), 0) << s2.log();
}

// A backfill while a writer keeps changing the table: the lake ends equal to the source (no
// stale chunk row overwrote a newer value, no row lost or doubled), rows the lake had wrongly are
// corrected, and the backfill's progress survives a kill -9.
TEST_F(CdcPgIT, BackfillDuringWritesEndsEqualToTheSource) {
  pg_exec(
      "DROP TABLE IF EXISTS bf; CREATE TABLE bf (id int PRIMARY KEY, v int NOT NULL, t text);"
      "INSERT INTO bf SELECT g, 0, 'b' || g FROM generate_series(1, 3000) g");
  write_source("bf", {"bf"});
  Stream s(env_->dir, "bf", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.bf_bf", "3000", &s), "3000") << s.log();
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  // The lake goes wrong while the stream is down: values changed, rows lost, a ghost row.
  auto sql = sluice(
      "sql -e \"UPDATE refined.bf_bf SET t = 'wrong' WHERE id % 100 = 0; DELETE FROM "
      "refined.bf_bf WHERE id % 250 = 1; INSERT INTO refined.bf_bf (id, v, t) VALUES (5000, 0, "
      "'ghost')\"");
  ASSERT_EQ(sql.code, 0) << sql.out;
  auto queued = sluice("cdc backfill bf --table bf --chunk-rows 97");
  EXPECT_NE(queued.code, 0) << queued.out;  // not running: queued, and says so
  EXPECT_NE(queued.out.find("stays queued"), std::string::npos) << queued.out;
  s.start();
  ASSERT_TRUE(wait_state("bf", "streaming", &s)) << s.log();
  // A writer: updates (v increasing), inserts and deletes, during the backfill.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto c = PgConn::connect(pg_ep(), "writer");
    if (!c.is_ok()) return;
    for (int i = 0; !stop.load() && i < 400; ++i) {
      (void)c->exec("UPDATE bf SET v = v + 1, t = 'w" + std::to_string(i) +
                    "' WHERE id % 37 = " + std::to_string(i % 37));
      (void)c->exec("INSERT INTO bf VALUES (" + std::to_string(10000 + i) + ", " +
                    std::to_string(i) + ", 'new') ON CONFLICT DO NOTHING");
      (void)c->exec("DELETE FROM bf WHERE id = " + std::to_string(3000 - i * 3));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // The queued backfill runs as the stream starts; kill -9 mid-way, then it resumes.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  s.kill(SIGKILL);
  s.start();
  ASSERT_TRUE(wait_state("bf", "streaming", &s)) << s.log();
  auto second = sluice("cdc backfill bf --table bf --where \"id <= 1500\" --chunk-rows 200");
  stop = true;
  writer.join();
  EXPECT_EQ(second.code, 0) << second.out << s.log();
  EXPECT_NE(second.out.find("done"), std::string::npos) << second.out;
  // Both backfills finished (the first one after its resume).
  std::string states;
  for (int i = 0; i < 240; ++i) {
    states = shell("cat " + data_ + "/cdc/bf/backfills/*.json | grep '\"state\"'").out;
    if (states.find("running") == std::string::npos && states.find("queued") == std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(states.find("failed"), std::string::npos) << states;
  EXPECT_EQ(states.find("running"), std::string::npos) << states << s.log();
  // Let the stream catch up with the writer's last change, then compare everything.
  const std::string total = pg_value("SELECT count(*) FROM bf");
  const std::string sum = pg_value("SELECT sum(v) FROM bf");
  EXPECT_EQ(wait_lake("SELECT sum(v) FROM refined.bf_bf", sum, &s), sum) << s.log();
  EXPECT_EQ(wait_lake("SELECT count(*) FROM refined.bf_bf", total, &s), total);
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  auto rec = sluice("cdc reconcile bf");
  EXPECT_EQ(rec.code, 0) << rec.out;
  EXPECT_EQ(lake_value("SELECT count(*) FROM refined.bf_bf WHERE t = 'wrong' OR id = 5000"), "0");
}

// Streamed in-progress transactions (pgoutput protocol version 2, streaming on): scripts/pg.sh
// sets logical_decoding_work_mem = 64kB, so each transaction below outgrows it and PostgreSQL
// sends it in chunks before its commit.

// pg_stat_replication_slots' stream_txns of the source's slot: transactions streamed to it.
std::string stream_txns(const std::string& source) {
  auto c = PgConn::connect(Endpoint{"127.0.0.1", sluice::testing::CdcSuite::servers()->pg_port,
                                    "shop_owner", sluice::testing::kOwnerPassword, "shop"},
                           "test");
  if (!c.is_ok()) return "";
  auto r = c->query("SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = 'sluice_" +
                    source + "'");
  if (!r.is_ok() || r->empty()) return "";
  return r->at(0).at(0).value_or("");
}

// The spill files a stream holds right now.
int spill_files(const std::string& data_dir, const std::string& source) {
  std::error_code ec;
  int n = 0;
  for (const auto& e :
       fs::directory_iterator(fs::path(data_dir) / "cdc" / source / "pg_stream", ec)) {
    if (e.path().extension() == ".spill") ++n;
  }
  return n;
}

// The housekeeping DAG compacts every lake table, CDC ones included, while streams commit: the
// two writers race on the same tables (optimistic concurrency), the lake stays exact.
TEST_F(CdcPgIT, CompactionWhileStreamingKeepsTheLakeExact) {
  pg_exec(
      "DROP TABLE IF EXISTS comp; CREATE TABLE comp (id int PRIMARY KEY, v bigint, t text);"
      "INSERT INTO comp SELECT g, g, 'v' || g FROM generate_series(1, 500) g");
  write_source("comp", {"comp"});
  Stream s(env_->dir, "comp", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.comp_comp", "500", &s), "500") << s.log();
  std::atomic<bool> done{false};
  std::atomic<int64_t> ops{0};
  std::thread load([&] {
    auto c = PgConn::connect(pg_ep(), "load");
    if (!c.is_ok()) return;
    for (int i = 0; !done.load(); ++i) {
      std::string sql =
          "BEGIN; INSERT INTO comp VALUES (" + std::to_string(501 + i) + ", " + std::to_string(i) +
          ", 'n'); UPDATE comp SET v = v + 1 WHERE id = " + std::to_string(1 + (i * 13) % 500) +
          "; COMMIT";
      if (c->exec(sql).is_ok()) ops += 2;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  int rewrote = 0;
  std::string outputs;
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    for (const char* table : {"raw.comp_comp_changes", "refined.comp_comp"}) {
      auto r = sluice(std::string("table compact ") + table + " 2>&1");
      outputs += r.out;
      if (r.code == 0 && r.out.find("rewrote") != std::string::npos) ++rewrote;
      // Losing the race to a stream commit is a clear conflict, never a wrong table.
      if (r.code != 0) {
        EXPECT_NE(r.out.find("onflict"), std::string::npos) << r.out;
      }
    }
  }
  done = true;
  load.join();
  EXPECT_GT(rewrote, 0) << outputs;
  const std::string want = std::to_string(500 + ops.load());
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.comp_comp_changes", want, &s), want) << s.log();
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (_lsn, _seq)) FROM raw.comp_comp_changes"),
            "0");
  const std::string src = pg_value("SELECT count(*) || ':' || sum(id) || ':' || sum(v) FROM comp");
  EXPECT_EQ(wait_lake("SELECT count(*) || ':' || sum(id) || ':' || sum(v) FROM refined.comp_comp",
                      src, &s),
            src);
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
}

TEST_F(CdcPgIT, StreamedLargeTransactionLandsAtomicallyAndExactly) {
  pg_exec(
      "DROP TABLE IF EXISTS big; CREATE TABLE big (id int PRIMARY KEY, v int, t text, doc text);"
      "ALTER TABLE big ALTER COLUMN doc SET STORAGE EXTERNAL;"
      "INSERT INTO big VALUES (0, 0, 'before', 'small')");
  // stream_memory_mb = 0: every streamed message goes through the spill file.
  write_source("big", {"big"}, "stream_memory_mb = 0\n");
  Stream s(env_->dir, "big", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.big_big", "1", &s), "1") << s.log();
  const std::string before = stream_txns("big");
  // One transaction: 20000 inserts, 2000 updates, 2857 deletes, logical decoding messages (one
  // transactional), a 320 kB TOAST-ed text and an update that leaves that text untouched (sent as
  // "unchanged TOAST").
  pg_exec(
      "BEGIN;"
      "INSERT INTO big SELECT g, g, 'row ' || g, NULL FROM generate_series(1, 20000) g;"
      "UPDATE big SET v = v * 2, t = t || ' updated' WHERE id % 10 = 0 AND id > 0;"
      "DELETE FROM big WHERE id % 7 = 0 AND id > 0;"
      "SELECT pg_logical_emit_message(true, 'test', 'in the stream');"
      "SELECT pg_logical_emit_message(false, 'test', 'beside the stream');"
      "INSERT INTO big SELECT 100000, 1, 'toast', string_agg(md5(g::text), '') FROM "
      "generate_series(1, 10000) g;"
      "UPDATE big SET v = 2 WHERE id = 100000;"
      "COMMIT");
  const int64_t changes = 20000 + 2000 + 2857 + 2;
  const std::string want = std::to_string(changes + 1);  // + the bootstrap row
  // Atomic: the change log holds the bootstrap row, then all of the transaction at once.
  std::string seen;
  for (int i = 0; i < 480; ++i) {
    seen = lake_value("SELECT count(*) FROM raw.big_big_changes");
    ASSERT_TRUE(seen == "1" || seen == want || seen.empty()) << "partial: " << seen;
    if (seen == want) break;
    if (!s.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(seen, want) << s.log();
  // It was streamed (PostgreSQL's own counter) and went through the spill file, now removed.
  EXPECT_GT(std::stoll("0" + stream_txns("big")), std::stoll("0" + before));
  EXPECT_NE(s.log().find("cdc streamed transaction committed"), std::string::npos) << s.log();
  EXPECT_EQ(s.log().find("spilled_bytes=0"), std::string::npos) << s.log();
  EXPECT_EQ(spill_files(data_, "big"), 0);
  // One source transaction: one id, one commit position, every change once, in order.
  EXPECT_EQ(lake_value("SELECT count(DISTINCT _txid) || ',' || count(DISTINCT _lsn) || ',' || "
                       "count(DISTINCT _seq) FROM raw.big_big_changes WHERE _op <> 'r'"),
            "1,1," + std::to_string(changes));
  EXPECT_EQ(lake_value("SELECT string_agg(_op || c, ',' ORDER BY _op) FROM (SELECT _op, "
                       "count(*) c FROM raw.big_big_changes WHERE _op <> 'r' GROUP BY _op)"),
            "c20001,d2857,u2001");
  // The lake's current state equals the source, the TOAST-ed text included.
  const std::string agg =
      "count(*) || ':' || sum(id) || ':' || sum(v) || ':' || sum(length(t)) || ':' || "
      "sum(coalesce(length(doc), 0))";
  const std::string src = pg_value("SELECT " + agg + " FROM big");
  EXPECT_EQ(wait_lake("SELECT " + agg + " FROM refined.big_big", src, &s), src) << s.log();
  EXPECT_EQ(lake_value("SELECT md5(doc) FROM refined.big_big WHERE id = 100000"),
            pg_value("SELECT md5(doc) FROM big WHERE id = 100000"));
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.big_big_changes WHERE id = 100000 AND "
                       "length(doc) = 320000"),
            "2");
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  // Free the slot (the suite's tests together would exceed max_replication_slots).
  EXPECT_EQ(sluice("cdc reset big").code, 0);
}

TEST_F(CdcPgIT, StreamedRollbackAndRolledBackSavepointsLeaveNothing) {
  pg_exec(
      "DROP TABLE IF EXISTS sv; CREATE TABLE sv (id int PRIMARY KEY, v text);"
      "INSERT INTO sv VALUES (0, 'seed')");
  write_source("sv", {"sv"});
  Stream s(env_->dir, "sv", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.sv_sv", "1", &s), "1") << s.log();
  const std::string before = stream_txns("sv");
  // A streamed transaction rolled back as a whole.
  pg_exec(
      "BEGIN; INSERT INTO sv SELECT g, repeat('r', 50) FROM generate_series(1, 5000) g;"
      "UPDATE sv SET v = 'gone' WHERE id = 0; ROLLBACK");
  // Savepoints: s1 and the nested s3/s4 are rolled back after their changes were streamed, s2
  // is released (kept).
  pg_exec(
      "BEGIN;"
      "INSERT INTO sv SELECT g, 'keep' FROM generate_series(1, 3000) g;"
      "SAVEPOINT s1;"
      "INSERT INTO sv SELECT g, repeat('x', 50) FROM generate_series(10001, 14000) g;"
      "UPDATE sv SET v = 'lost' WHERE id <= 100;"
      "DELETE FROM sv WHERE id BETWEEN 200 AND 299;"
      "ROLLBACK TO SAVEPOINT s1;"
      "SAVEPOINT s2;"
      "INSERT INTO sv SELECT g, 'released' FROM generate_series(20001, 20010) g;"
      "RELEASE SAVEPOINT s2;"
      "SAVEPOINT s3;"
      "UPDATE sv SET v = 'lost too' WHERE id = 1;"
      "SAVEPOINT s4;"
      "INSERT INTO sv SELECT g, repeat('y', 50) FROM generate_series(30001, 34000) g;"
      "ROLLBACK TO SAVEPOINT s3;"
      "INSERT INTO sv SELECT g, 'after' FROM generate_series(40001, 40005) g;"
      "UPDATE sv SET v = 'kept update' WHERE id = 2;"
      "COMMIT");
  pg_exec("INSERT INTO sv VALUES (99999, 'marker')");
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.sv_sv WHERE id = 99999", "1", &s), "1")
      << s.log();
  // Both transactions were streamed; the lake holds exactly the committed changes.
  EXPECT_GE(std::stoll("0" + stream_txns("sv")) - std::stoll("0" + before), 2);
  EXPECT_EQ(lake_value("SELECT string_agg(_op || c, ',' ORDER BY _op) FROM (SELECT _op, "
                       "count(*) c FROM raw.sv_sv_changes WHERE _op <> 'r' GROUP BY _op)"),
            "c3016,u1");
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.sv_sv_changes WHERE v IN ('lost', 'lost too', "
                       "'gone') OR id BETWEEN 10001 AND 14000 OR id BETWEEN 30001 AND 34000 OR "
                       "(id BETWEEN 1 AND 5000 AND v <> 'keep' AND v <> 'kept update')"),
            "0");
  const std::string agg =
      "count(*) || ':' || sum(id) || ':' || string_agg(DISTINCT v, '|' ORDER BY v)";
  const std::string src = pg_value("SELECT " + agg + " FROM sv");
  EXPECT_EQ(wait_lake("SELECT " + agg + " FROM refined.sv_sv", src, &s), src) << s.log();
  EXPECT_EQ(spill_files(data_, "sv"), 0);
  // Nothing of the rolled-back transaction is left waiting: WAL of a table this source does not
  // stream is confirmed as idle WAL (never while a streamed transaction is open).
  pg_exec(
      "DROP TABLE IF EXISTS sv_other; CREATE TABLE sv_other (id int PRIMARY KEY);"
      "INSERT INTO sv_other VALUES (1)");
  const std::string lsn = pg_value("SELECT pg_current_wal_lsn()::text");
  std::string behind;
  for (int i = 0; i < 120; ++i) {
    behind = pg_value("SELECT pg_wal_lsn_diff('" + lsn +
                      "', confirmed_flush_lsn) > 0 FROM pg_replication_slots WHERE slot_name = "
                      "'sluice_sv'");
    if (behind == "f") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(behind, "f") << "the slot's confirmed flush LSN did not pass " << lsn << "\n"
                         << s.log();
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  // Free the slot (the suite's tests together would exceed max_replication_slots).
  EXPECT_EQ(sluice("cdc reset sv").code, 0);
}

// kill -9 while two large transactions are being streamed (interleaved, one spilled to disk
// already), and again right after they commit: after the restarts PostgreSQL sends them again
// from their start and the lake ends equal to the source, every change exactly once.
TEST_F(CdcPgIT, KillNineMidStreamedTransactionResumesExactlyOnce) {
  pg_exec(
      "DROP TABLE IF EXISTS km; CREATE TABLE km (id int PRIMARY KEY, v int, t text);"
      "INSERT INTO km SELECT g, 0, 'seed' FROM generate_series(1, 100) g");
  write_source("km", {"km"}, "stream_memory_mb = 0\n");
  Stream s(env_->dir, "km", data_);
  s.start();
  ASSERT_EQ(wait_lake("SELECT count(*) FROM refined.km_km", "100", &s), "100") << s.log();
  auto a = PgConn::connect(pg_ep(), "txn-a");
  auto b = PgConn::connect(pg_ep(), "txn-b");
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  ASSERT_TRUE(a->exec("BEGIN").is_ok());
  ASSERT_TRUE(b->exec("BEGIN").is_ok());
  // Interleaved: chunks of both, a small committed transaction in between.
  for (int i = 0; i < 4; ++i) {
    const int base_a = 1000 + i * 3000, base_b = 100000 + i * 3000;
    ASSERT_TRUE(a->exec("INSERT INTO km SELECT g, g, repeat('a', 40) FROM generate_series(" +
                        std::to_string(base_a) + ", " + std::to_string(base_a + 2999) + ") g")
                    .is_ok());
    ASSERT_TRUE(b->exec("INSERT INTO km SELECT g, -g, repeat('b', 40) FROM generate_series(" +
                        std::to_string(base_b) + ", " + std::to_string(base_b + 2999) + ") g")
                    .is_ok());
    pg_exec("UPDATE km SET v = v + 1 WHERE id = " + std::to_string(1 + i));
  }
  // Sluice has received chunks of both (their spill files exist); kill it mid-stream.
  for (int i = 0; i < 240 && spill_files(data_, "km") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ASSERT_EQ(spill_files(data_, "km"), 2) << s.log();
  s.kill(SIGKILL);
  ASSERT_TRUE(
      a->exec("UPDATE km SET v = v + 1000, t = 'a upd' WHERE id BETWEEN 1000 AND 1999").is_ok());
  ASSERT_TRUE(b->exec("DELETE FROM km WHERE id BETWEEN 100000 AND 100499").is_ok());
  s.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(
      a->exec("INSERT INTO km SELECT g, g, 'a late' FROM generate_series(50000, 50999) g").is_ok());
  ASSERT_TRUE(a->exec("COMMIT").is_ok());
  ASSERT_TRUE(b->exec("COMMIT").is_ok());
  // Again right after the commits, while they are (maybe) on their way into the lake.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.kill(SIGKILL);
  s.start();
  // 100 bootstrap rows, 4 small updates, A: 12000 + 1000 inserts and 1000 updates, B: 12000
  // inserts and 500 deletes.
  const std::string want = std::to_string(100 + 4 + 13000 + 1000 + 12000 + 500);
  ASSERT_EQ(wait_lake("SELECT count(*) FROM raw.km_km_changes", want, &s), want) << s.log();
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (_lsn, _seq)) FROM raw.km_km_changes"),
            "0");
  const std::string agg = "count(*) || ':' || sum(id) || ':' || sum(v) || ':' || sum(length(t))";
  const std::string src = pg_value("SELECT " + agg + " FROM km");
  EXPECT_EQ(wait_lake("SELECT " + agg + " FROM refined.km_km", src, &s), src) << s.log();
  EXPECT_GE(std::stoll("0" + stream_txns("km")), 2);
  EXPECT_EQ(spill_files(data_, "km"), 0);
  EXPECT_EQ(s.kill(SIGTERM), 0) << s.log();
  // Free the slot (the suite's tests together would exceed max_replication_slots).
  EXPECT_EQ(sluice("cdc reset km").code, 0);
}

}  // namespace

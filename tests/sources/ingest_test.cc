// Integration tests: a real PostgreSQL 15 and MariaDB started by scripts/pg.sh and
// scripts/mariadb.sh on free loopback ports under a temporary folder, filled by
// `sluice gen oltp --scale 1`, ingested by `sluice ingest`, checked with real queries.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sources/db_client.h"
#include "support/source_servers.h"

namespace fs = std::filesystem;
using sluice::sources::Endpoint;
using sluice::sources::detail::MyConn;
using sluice::sources::detail::PgConn;

namespace {

using Outcome = sluice::testing::ShellOutcome;
using sluice::testing::run_shell;
sluice::testing::SourceServers* g_env = nullptr;

class SourcesIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = sluice::testing::SourceServers::start({.name = "sources"});
    ASSERT_TRUE(started.ok) << started.error;
    g_env = started.servers;

    fs::create_directories(g_env->dir / "sources");
    std::ofstream(g_env->dir / "sluice.toml")
        << "[platform]\ndata_dir = \"var\"\n[log]\nlevel = \"warn\"\n[engine]\nthreads = 2\n"
        << "[postgres]\nport = " << g_env->pg_port << "\n[mysql]\nport = " << g_env->my_port
        << "\n";
    std::ofstream(g_env->dir / "sources" / "shop.toml")
        << "type = \"postgres\"\nport = " << g_env->pg_port
        << "\ndatabase = \"shop\"\nparallelism = 3\nchunk_rows = 4000\n"
        << "[tables.users]\ncursor = \"updated_at\"\n[tables.categories]\n"
        << "[tables.products]\ncursor = \"updated_at\"\n"
        << "[tables.orders]\ncursor = \"updated_at\"\nlook_back = 300\nchunk_rows = 2000\n"
        << "[tables.order_items]\n"
        << "[tables.payments]\ncursor = \"updated_at\"\nlook_back = 300\nchunk_rows = 2000\n";
    std::ofstream(g_env->dir / "sources" / "inv.toml")
        << "type = \"mariadb\"\nport = " << g_env->my_port << "\ndatabase = \"inventory\"\n"
        << "[tables.warehouses]\n[tables.suppliers]\ncursor = \"updated_at\"\n"
        << "[tables.inventory]\ncursor = \"updated_at\"\nlook_back = 60\nchunk_rows = 1000\n";
    auto gen = sluice("gen oltp --scale 1 --seed 7");
    ASSERT_EQ(gen.code, 0) << gen.out;
  }

  static void TearDownTestSuite() {
    sluice::testing::SourceServers::stop_instance();
    g_env = nullptr;
  }

  void SetUp() override {
    if (g_env == nullptr) GTEST_SKIP() << "servers did not start";
    lake_ =
        (g_env->dir /
         ("lake-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
            .string();
  }

  static Outcome sluice(const std::string& args, const std::string& data_dir = "") {
    std::string cmd = "cd " + g_env->dir.string() + " && " + SLUICE_BINARY + " " + args;
    if (!data_dir.empty()) cmd += " --data-dir " + data_dir;
    return run_shell(cmd);
  }
  Outcome ingest(const std::string& args) { return sluice("ingest " + args, lake_); }
  // First column of a one-row query over the lake.
  std::string lake_value(const std::string& sql) {
    auto r = sluice("sql --format csv -e \"" + sql + "\"", lake_);
    EXPECT_EQ(r.code, 0) << sql << "\n" << r.out;
    auto nl = r.out.find('\n');
    if (nl == std::string::npos) return "";
    std::string v = r.out.substr(nl + 1);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
      v.pop_back();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  static Endpoint pg_ep(const std::string& user = "shop_owner") {
    return Endpoint{
        "127.0.0.1", g_env->pg_port, user,
        user == "sluice" ? sluice::testing::kSluicePassword : sluice::testing::kOwnerPassword,
        "shop"};
  }
  static Endpoint my_ep(const std::string& user = "shop_owner") {
    return Endpoint{
        "127.0.0.1", g_env->my_port, user,
        user == "sluice" ? sluice::testing::kSluicePassword : sluice::testing::kOwnerPassword,
        "inventory"};
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
  static void pg_exec(const std::string& sql) {
    auto c = PgConn::connect(pg_ep(), "test");
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    auto st = c->exec(sql);
    ASSERT_TRUE(st.is_ok()) << st.message();
  }
  static std::string my_value(const std::string& sql) {
    auto c = MyConn::connect(my_ep());
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    if (!c.is_ok()) return "";
    auto r = c->query(sql);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (!r.is_ok() || r->empty()) return "";
    return r->at(0).at(0).value_or("NULL");
  }
  // Rows the last `sluice ingest` printed for a lake table.
  static long long reported_rows(const std::string& out, const std::string& table) {
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string name;
      long long rows;
      if (ls >> name >> rows && name == table) return rows;
    }
    return -1;
  }

  std::string lake_;
};

TEST_F(SourcesIT, SnapshotMatchesSourceCountsSumsAndTypes) {
  auto r = ingest("shop");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* t : {"users", "categories", "products", "orders", "order_items", "payments"}) {
    EXPECT_EQ(lake_value(std::string("SELECT count(*) FROM raw.shop_") + t),
              pg_value(std::string("SELECT count(*) FROM ") + t))
        << t;
  }
  EXPECT_EQ(lake_value("SELECT sum(total_amount) FROM raw.shop_orders"),
            pg_value("SELECT sum(total_amount) FROM orders"));
  EXPECT_EQ(lake_value("SELECT sum(amount) FROM raw.shop_payments WHERE status = 'FAILED'"),
            pg_value("SELECT sum(amount) FROM payments WHERE status = 'FAILED'"));
  // Text with commas, quotes and newlines survives.
  EXPECT_EQ(
      lake_value("SELECT count(*) FROM raw.shop_orders WHERE note LIKE '%' || chr(10) || '%'"),
      pg_value("SELECT count(*) FROM orders WHERE note LIKE '%' || chr(10) || '%'"));
  EXPECT_EQ(lake_value("SELECT hex(thumbnail) FROM raw.shop_products WHERE product_id = (SELECT "
                       "min(product_id) FROM raw.shop_products WHERE thumbnail IS NOT NULL)"),
            pg_value("SELECT upper(encode(thumbnail, 'hex')) FROM products WHERE product_id = "
                     "(SELECT min(product_id) FROM products WHERE thumbnail IS NOT NULL)"));
  EXPECT_EQ(lake_value("SELECT sum(len(tags)) FROM raw.shop_users"),
            pg_value("SELECT sum(cardinality(tags)) FROM users"));
  EXPECT_EQ(lake_value("SELECT external_id::VARCHAR FROM raw.shop_users WHERE user_id = 5"),
            pg_value("SELECT external_id::text FROM users WHERE user_id = 5"));
  EXPECT_EQ(lake_value("SELECT epoch_us(max(ordered_at)) FROM raw.shop_orders"),
            pg_value("SELECT (extract(epoch FROM max(ordered_at)) * 1000000)::bigint FROM orders"));
  // Types as the lake stores them.
  auto types = lake_value(
      "SELECT string_agg(column_name || ':' || column_type, ' ' ORDER BY column_name) FROM "
      "(DESCRIBE SELECT total_amount, ordered_at, shipping_date, status, _ingested_at, _source, "
      "_load_type FROM raw.shop_orders)");
  EXPECT_EQ(types,
            "_ingested_at:TIMESTAMP WITH TIME ZONE _load_type:VARCHAR _source:VARCHAR "
            "ordered_at:TIMESTAMP WITH TIME ZONE shipping_date:DATE status:VARCHAR "
            "total_amount:DECIMAL(12,2)");
  EXPECT_EQ(lake_value("SELECT string_agg(column_type, ' ' ORDER BY column_name) FROM (DESCRIBE "
                       "SELECT external_id, tags, thumbnail, price, active FROM raw.shop_users "
                       "JOIN raw.shop_products ON true)"),
            "BOOLEAN UUID DECIMAL(10,2) VARCHAR[] BLOB");
  EXPECT_EQ(lake_value("SELECT DISTINCT _source || '/' || _load_type FROM raw.shop_orders"),
            "shop/snapshot");

  auto m = ingest("inv");
  ASSERT_EQ(m.code, 0) << m.out;
  for (const char* t : {"warehouses", "suppliers", "inventory"}) {
    EXPECT_EQ(lake_value(std::string("SELECT count(*) FROM raw.inv_") + t),
              my_value(std::string("SELECT count(*) FROM ") + t))
        << t;
  }
  EXPECT_EQ(lake_value("SELECT sum(unit_cost * quantity) FROM raw.inv_inventory"),
            my_value("SELECT sum(unit_cost * quantity) FROM inventory"));
  EXPECT_EQ(lake_value("SELECT string_agg(column_type, ' ' ORDER BY column_name) FROM (DESCRIBE "
                       "SELECT last_counted_at, updated_at, unit_cost, status FROM "
                       "raw.inv_inventory)"),
            "TIMESTAMP WITH TIME ZONE VARCHAR DECIMAL(10,2) TIMESTAMP");
  EXPECT_NE(lake_value("SELECT min(_source_position) FROM raw.inv_inventory").find("binlog:"),
            std::string::npos);

  // A second snapshot replaces the first: still exactly one copy.
  auto again = ingest("shop --tables orders");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_orders"),
            pg_value("SELECT count(*) FROM orders"));
}

TEST_F(SourcesIT, SluiceAccountHasOnlyReadGrants) {
  auto c = PgConn::connect(pg_ep("sluice"), "test");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  auto r = c->query(
      "SELECT rolsuper::text, rolreplication::text, rolcreatedb::text FROM "
      "pg_roles WHERE rolname = current_user");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->at(0).at(0), "false");
  EXPECT_EQ(r->at(0).at(1), "true");
  EXPECT_EQ(r->at(0).at(2), "false");
  EXPECT_FALSE(c->exec("CREATE TABLE evil (x int)").is_ok());
  EXPECT_FALSE(c->exec("DELETE FROM orders").is_ok());
  EXPECT_TRUE(c->query("SELECT count(*) FROM orders").is_ok());

  auto m = MyConn::connect(my_ep("sluice"));
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_FALSE(m->exec("CREATE TABLE evil (x int)").is_ok());
  EXPECT_FALSE(m->exec("DELETE FROM inventory").is_ok());
  auto g = m->query("SHOW GRANTS");
  ASSERT_TRUE(g.is_ok());
  std::string grants;
  for (auto& row : *g)
    grants += row.at(0).value_or("") + "\n";
  EXPECT_EQ(grants.find("ALL PRIVILEGES"), std::string::npos) << grants;
  EXPECT_EQ(grants.find("SUPER"), std::string::npos) << grants;
  EXPECT_NE(grants.find("REPLICATION SLAVE"), std::string::npos) << grants;
}

TEST_F(SourcesIT, IncrementalPicksUpExactlyTheNewRows) {
  auto first = ingest("shop --tables orders,payments --mode incremental");
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_orders"),
            pg_value("SELECT count(*) FROM orders"));
  // Nothing changed: nothing loaded (the look-back re-reads rows, de-duplication drops them).
  auto idle = ingest("shop --tables orders --mode incremental");
  ASSERT_EQ(idle.code, 0) << idle.out;
  EXPECT_EQ(reported_rows(idle.out, "raw.shop_orders"), 0) << idle.out;

  std::string w = pg_value("SELECT max(updated_at)::text FROM orders");
  auto act = sluice("gen activity --rate 100 --duration 2 --only postgres --seed 3");
  ASSERT_EQ(act.code, 0) << act.out;
  // A row sharing the watermark's cursor value, and one committed late with an older value.
  pg_exec(
      "INSERT INTO orders VALUES (900001, 1, 'PAID', 10.00, 'USD', now(), NULL, 'same cursor', "
      "'" +
      w + "'), (900002, 1, 'PAID', 20.00, 'USD', now(), NULL, 'late', '" + w +
      "'::timestamptz - interval '10 seconds')");
  long long expected = std::stoll(pg_value("SELECT count(*) FROM orders WHERE updated_at > '" + w +
                                           "' OR order_id IN (900001, 900002)"));
  ASSERT_GT(expected, 2);
  auto second = ingest("shop --tables orders,payments --mode incremental");
  ASSERT_EQ(second.code, 0) << second.out;
  EXPECT_EQ(reported_rows(second.out, "raw.shop_orders"), expected) << second.out;
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (order_id, updated_at)) FROM "
                       "raw.shop_orders"),
            "0");
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_orders WHERE order_id IN (900001, 900002)"),
            "2");
  // Every row version changed since the watermark is in the lake, exactly once.
  EXPECT_EQ(lake_value("SELECT count(*) || '/' || sum(order_id) || '/' || sum(total_amount) FROM "
                       "raw.shop_orders WHERE updated_at > TIMESTAMPTZ '" +
                       w + "'"),
            pg_value("SELECT count(*) || '/' || sum(order_id) || '/' || sum(total_amount) FROM "
                     "orders WHERE updated_at > '" +
                     w + "'"));
  EXPECT_EQ(lake_value("SELECT DISTINCT _load_type FROM raw.shop_orders WHERE order_id = 900001"),
            "incremental");
  // The watermark is committed with the data.
  auto wm = sluice("table describe raw.shop_orders", lake_);
  EXPECT_NE(wm.out.find("sluice.watermark"), std::string::npos) << wm.out;
  pg_exec("DELETE FROM orders WHERE order_id IN (900001, 900002)");

  // MariaDB: stock moves are picked up.
  auto inv1 = ingest("inv --tables inventory --mode incremental");
  ASSERT_EQ(inv1.code, 0) << inv1.out;
  auto c = MyConn::connect(my_ep());
  ASSERT_TRUE(c.is_ok());
  ASSERT_TRUE(c->exec("UPDATE inventory SET quantity = quantity + 1, updated_at = NOW(6) + "
                      "INTERVAL 1 SECOND WHERE inventory_id <= 5")
                  .is_ok());
  auto inv2 = ingest("inv --tables inventory --mode incremental");
  ASSERT_EQ(inv2.code, 0) << inv2.out;
  EXPECT_EQ(reported_rows(inv2.out, "raw.inv_inventory"), 5) << inv2.out;
}

TEST_F(SourcesIT, BadRowIsQuarantinedWithReason) {
  pg_exec(
      "INSERT INTO payments VALUES (990001, 1, 1, 'NaN', 'card', 'FAILED', NULL, now(), "
      "now())");
  auto r = ingest("shop --tables payments");
  pg_exec("DELETE FROM payments WHERE payment_id = 990001");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_payments"),
            pg_value("SELECT count(*) FROM payments"));
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_payments__quarantine"), "1");
  std::string reason = lake_value("SELECT reason FROM raw.shop_payments__quarantine");
  EXPECT_NE(reason.find("NaN"), std::string::npos) << reason;
  EXPECT_NE(lake_value("SELECT raw_row FROM raw.shop_payments__quarantine").find("990001"),
            std::string::npos);
  EXPECT_EQ(lake_value("SELECT column_name FROM raw.shop_payments__quarantine"), "c3");
}

TEST_F(SourcesIT, FailedLoadLeavesTableUnchangedAndRerunHasNoDuplicates) {
  auto first = ingest("shop --tables orders");
  ASSERT_EQ(first.code, 0) << first.out;
  std::string snap = lake_value("SELECT max(snapshot_id) FROM (SELECT 1 AS snapshot_id)");
  auto before = sluice("table snapshots raw.shop_orders --format csv", lake_);
  std::string count = lake_value("SELECT count(*) FROM raw.shop_orders");
  pg_exec("UPDATE orders SET note = 'changed' WHERE order_id <= 100");
  auto crash = ingest("shop --tables orders --fail-after orders:2");
  EXPECT_EQ(crash.code, 1) << crash.out;
  EXPECT_NE(crash.out.find("the table is unchanged"), std::string::npos) << crash.out;
  auto after = sluice("table snapshots raw.shop_orders --format csv", lake_);
  EXPECT_EQ(before.out, after.out);
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_orders"), count);
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_orders WHERE note = 'changed'"), "0");
  auto rerun = ingest("shop --tables orders");
  ASSERT_EQ(rerun.code, 0) << rerun.out;
  EXPECT_EQ(lake_value("SELECT count(*) || '/' || count(DISTINCT order_id) FROM raw.shop_orders"),
            pg_value("SELECT count(*) || '/' || count(*) FROM orders"));
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.shop_orders WHERE note = 'changed'"),
            pg_value("SELECT count(*) FROM orders WHERE note = 'changed'"));
  (void)snap;
}

TEST_F(SourcesIT, SnapshotIsConsistentAcrossTablesUnderConcurrentWrites) {
  std::string base = pg_value("SELECT max(order_id) FROM orders");
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    auto c = PgConn::connect(pg_ep(), "writer");
    if (!c.is_ok()) return;
    for (long long id = 800001; !stop; ++id) {
      // One transaction: an order and its payment appear together or not at all.
      auto st = c->exec("BEGIN; INSERT INTO orders VALUES (" + std::to_string(id) +
                        ", 1, 'PAID', 5.00, 'USD', now(), NULL, NULL, now()); INSERT INTO "
                        "payments VALUES (" +
                        std::to_string(id + 100000000) + ", " + std::to_string(id) +
                        ", 1, 5.00, 'card', 'SUCCESS', NULL, now(), now()); COMMIT");
      if (!st.is_ok()) break;
      ++written;
    }
  });
  while (written < 20)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto r = ingest("shop --tables orders,payments,order_items --parallelism 4");
  stop = true;
  writer.join();
  pg_exec(
      "DELETE FROM payments WHERE payment_id > 100000000; DELETE FROM orders WHERE order_id "
      "BETWEEN 800001 AND 899999");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string orders = lake_value("SELECT count(*) FROM raw.shop_orders WHERE order_id > 800000");
  std::string payments =
      lake_value("SELECT count(*) FROM raw.shop_payments WHERE payment_id > 100000000");
  EXPECT_EQ(orders, payments);
  EXPECT_EQ(
      lake_value("SELECT count(*) FROM raw.shop_payments p WHERE payment_id > 100000000 AND "
                 "NOT EXISTS (SELECT 1 FROM raw.shop_orders o WHERE o.order_id = p.order_id)"),
      "0");
  (void)base;
}

TEST_F(SourcesIT, SchemaDriftAddsColumnsAndKeepsDroppedOnes) {
  auto r1 = ingest("shop --tables categories");
  ASSERT_EQ(r1.code, 0) << r1.out;
  pg_exec("ALTER TABLE categories ADD COLUMN slug text; UPDATE categories SET slug = lower(name)");
  auto r2 = ingest("shop --tables categories");
  ASSERT_EQ(r2.code, 0) << r2.out;
  EXPECT_EQ(lake_value("SELECT count(slug) FROM raw.shop_categories"),
            pg_value("SELECT count(*) FROM categories"));
  pg_exec("ALTER TABLE categories DROP COLUMN slug");
  auto r3 = ingest("shop --tables categories");
  ASSERT_EQ(r3.code, 0) << r3.out;
  EXPECT_EQ(lake_value("SELECT count(*) || '/' || count(slug) FROM raw.shop_categories"),
            pg_value("SELECT count(*) || '/0' FROM categories"));
  pg_exec("ALTER TABLE categories ADD COLUMN bad interval");
  auto r4 = ingest("shop --tables categories");
  pg_exec("ALTER TABLE categories DROP COLUMN bad");
  EXPECT_EQ(r4.code, 1);
  EXPECT_NE(r4.out.find("column 'bad' has type interval"), std::string::npos) << r4.out;
}

}  // namespace

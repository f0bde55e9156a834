// Integration tests: a real PostgreSQL 15 and MariaDB started by scripts/pg.sh and
// scripts/mariadb.sh on free loopback ports under a temporary folder, filled by
// `sluice gen oltp --scale 1`, ingested by `sluice ingest`, checked with real queries.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
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

  // Every row of a lake query (CSV, header dropped; one column expected).
  std::vector<std::string> lake_lines(const std::string& sql) {
    auto r = sluice("sql --format csv -e \"" + sql + "\"", lake_);
    EXPECT_EQ(r.code, 0) << sql << "\n" << r.out.substr(0, 2000);
    std::vector<std::string> lines;
    std::istringstream in(r.out);
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
      if (header) {
        header = false;
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() >= 2 && line.front() == '"' && line.back() == '"') {
        line = line.substr(1, line.size() - 2);
      }
      lines.push_back(line);
    }
    return lines;
  }
  // Lines "key|..." by key (the text before the first '|').
  static std::map<std::string, std::string> by_key(const std::vector<std::string>& lines) {
    std::map<std::string, std::string> m;
    for (const auto& l : lines)
      m[l.substr(0, l.find('|'))] = l;
    return m;
  }
  static std::vector<std::string> pg_lines(const std::string& sql) {
    std::vector<std::string> out;
    auto c = PgConn::connect(pg_ep(), "test");
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    if (!c.is_ok()) return out;
    auto r = c->query(sql);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (!r.is_ok()) return out;
    for (auto& row : *r)
      out.push_back(row.at(0).value_or("NULL"));
    return out;
  }
  static std::vector<std::string> my_lines(const std::string& sql) {
    std::vector<std::string> out;
    auto c = MyConn::connect(my_ep());
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    if (!c.is_ok()) return out;
    auto r = c->query(sql);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (!r.is_ok()) return out;
    for (auto& row : *r)
      out.push_back(row.at(0).value_or("NULL"));
    return out;
  }
  static void my_exec(const std::string& sql) {
    auto c = MyConn::connect(my_ep());
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    auto st = c->exec(sql);
    ASSERT_TRUE(st.is_ok()) << sql << ": " << st.message();
  }
  // `sluice <args> --data-dir <lake>` in the background, its output in `log`; the pid is the
  // sluice process itself (exec), so SIGKILL hits it and nothing else.
  pid_t spawn(const std::string& args, const fs::path& log) {
    std::string cmd = "cd " + g_env->dir.string() + " && exec " + SLUICE_BINARY + " " + args +
                      " --data-dir " + lake_ + " > " + log.string() + " 2>&1";
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }
  // Parquet files under a lake table's data folder (committed or not).
  size_t data_files(const std::string& table) {
    size_t n = 0;
    std::error_code ec;
    fs::path dir = fs::path(lake_) / "lake" / "raw" / table / "data";
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() == ".parquet") ++n;
    }
    return n;
  }
  // Starts `sluice ingest <args>` and SIGKILLs it once it has written a data file the table
  // does not reference yet (mid-load, before its commit). Returns how the process ended.
  std::string kill_mid_load(const std::string& args, const std::string& table) {
    size_t before = data_files(table);
    fs::path log = fs::path(lake_ + "-killed.log");
    pid_t pid = spawn("ingest " + args, log);
    if (pid <= 0) return "fork failed";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int status = 0;
    while (data_files(table) <= before && std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        return "ended before any new data file (status " + std::to_string(status) + "):\n" +
               ss.str();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    killed_pid_ = pid;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return "killed";
    return "exited with status " + std::to_string(status);
  }

  std::string lake_;
  pid_t killed_pid_ = -1;
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

// `sluice gen activity` (orders placed, advanced, settled, purged; stock moved in MariaDB)
// writes while `sluice ingest --mode incremental` runs again and again. After the writers stop
// and one last run, the lake's latest version of every key is exactly the source's row: no
// change skipped, no version loaded twice.
TEST_F(SourcesIT, IncrementalUnderConcurrentWritesEndsEqualToTheSource) {
  // Everything is loaded before the writers start: a key the lake has and the source lacks can
  // then only be an order the writers purged (incremental loads do not see deletes).
  auto first = ingest("shop --tables orders,payments --mode incremental");
  ASSERT_EQ(first.code, 0) << first.out;
  auto first_inv = ingest("inv --tables inventory --mode incremental");
  ASSERT_EQ(first_inv.code, 0) << first_inv.out;

  std::atomic<bool> done{false};
  Outcome act;
  std::thread writer([&] {
    act = sluice("gen activity --rate 150 --duration 12 --seed 11");
    done = true;
  });
  int runs = 0;
  std::string failures;
  while (!done) {
    auto r = ingest("shop --tables orders,payments --mode incremental");
    if (r.code != 0) failures += r.out;
    auto m = ingest("inv --tables inventory --mode incremental");
    if (m.code != 0) failures += m.out;
    ++runs;
  }
  writer.join();
  ASSERT_EQ(act.code, 0) << act.out;
  EXPECT_EQ(failures, "");
  EXPECT_GE(runs, 3) << "too few incremental runs overlapped the writers";
  auto last = ingest("shop --tables orders,payments --mode incremental");
  ASSERT_EQ(last.code, 0) << last.out;
  auto last_inv = ingest("inv --tables inventory --mode incremental");
  ASSERT_EQ(last_inv.code, 0) << last_inv.out;
  long long purged = -1;
  std::smatch m;
  if (std::regex_search(act.out, m, std::regex(R"(cancelled orders purged\s+(\d+))"))) {
    purged = std::stoll(m[1]);
  }
  ASSERT_GE(purged, 0) << act.out;

  // No row version twice.
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (order_id, updated_at)) FROM "
                       "raw.shop_orders"),
            "0");
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (payment_id, updated_at)) FROM "
                       "raw.shop_payments"),
            "0");
  EXPECT_EQ(lake_value("SELECT count(*) - count(DISTINCT (inventory_id, updated_at)) FROM "
                       "raw.inv_inventory"),
            "0");
  // Later runs did load new versions of rows loaded before.
  EXPECT_EQ(lake_value("SELECT count(*) > count(DISTINCT order_id) FROM raw.shop_orders"), "true");

  // Orders: the latest version per key equals the source row, for every source row.
  auto lake_orders = by_key(lake_lines(
      "SELECT order_id || '|' || status || '|' || total_amount || '|' || coalesce("
      "CAST(shipping_date AS VARCHAR), '') || '|' || epoch_us(updated_at) FROM raw.shop_orders "
      "QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1"));
  auto src_orders = by_key(
      pg_lines("SELECT order_id || '|' || status || '|' || total_amount || '|' || "
               "coalesce(shipping_date::text, '') || '|' || (extract(epoch FROM updated_at) * "
               "1000000)::bigint FROM orders"));
  ASSERT_GT(src_orders.size(), 10000u);
  int differ = 0;
  for (const auto& [k, line] : src_orders) {
    auto it = lake_orders.find(k);
    if (it == lake_orders.end() || it->second != line) {
      if (++differ <= 5) {
        ADD_FAILURE() << "order " << k << ": source " << line << ", lake "
                      << (it == lake_orders.end() ? "(missing)" : it->second);
      }
    }
  }
  EXPECT_EQ(differ, 0);
  std::set<std::string> purged_orders;
  for (const auto& [k, line] : lake_orders)
    if (!src_orders.count(k)) purged_orders.insert(k);
  EXPECT_LE(static_cast<long long>(purged_orders.size()), purged);
  for (const auto& k : purged_orders) {
    EXPECT_NE(lake_orders[k].find("|CANCELLED|"), std::string::npos) << lake_orders[k];
  }

  // Payments: the same; a payment only the lake has belongs to a purged order.
  auto lake_payments = by_key(lake_lines(
      "SELECT payment_id || '|' || order_id || '|' || status || '|' || amount || '|' || "
      "coalesce(failure_reason, '') || '|' || epoch_us(updated_at) FROM raw.shop_payments "
      "QUALIFY row_number() OVER (PARTITION BY payment_id ORDER BY updated_at DESC) = 1"));
  auto src_payments = by_key(
      pg_lines("SELECT payment_id || '|' || order_id || '|' || status || '|' || amount || '|' || "
               "coalesce(failure_reason, '') || '|' || (extract(epoch FROM updated_at) * "
               "1000000)::bigint FROM payments"));
  differ = 0;
  for (const auto& [k, line] : src_payments) {
    auto it = lake_payments.find(k);
    if (it == lake_payments.end() || it->second != line) {
      if (++differ <= 5) {
        ADD_FAILURE() << "payment " << k << ": source " << line << ", lake "
                      << (it == lake_payments.end() ? "(missing)" : it->second);
      }
    }
  }
  EXPECT_EQ(differ, 0);
  for (const auto& [k, line] : lake_payments) {
    if (src_payments.count(k)) continue;
    auto a = line.find('|') + 1;
    EXPECT_TRUE(purged_orders.count(line.substr(a, line.find('|', a) - a))) << line;
  }

  // MariaDB inventory (no deletes): the latest versions are exactly the source's rows.
  auto lake_inv = lake_lines(
      "SELECT inventory_id || '|' || quantity || '|' || strftime(updated_at, "
      "'%Y-%m-%d %H:%M:%S.%f') AS r FROM raw.inv_inventory QUALIFY row_number() OVER (PARTITION "
      "BY inventory_id ORDER BY updated_at DESC) = 1 ORDER BY inventory_id");
  auto src_inv = my_lines(
      "SELECT CONCAT(inventory_id, '|', quantity, '|', DATE_FORMAT(updated_at, "
      "'%Y-%m-%d %H:%i:%s.%f')) FROM inventory ORDER BY inventory_id");
  ASSERT_GT(src_inv.size(), 100u);
  EXPECT_EQ(lake_inv, src_inv);
  EXPECT_EQ(lake_value("SELECT count(*) > count(DISTINCT inventory_id) FROM raw.inv_inventory"),
            "true");
}

// A real crash: `sluice ingest` is SIGKILLed after it wrote data files and before its commit,
// once in a snapshot and once in an incremental load. The table stays at its previous commit
// (nothing half-visible), and the rerun loads every row exactly once from the right watermark.
TEST_F(SourcesIT, KilledSnapshotAndIncrementalLeaveTheTableIntactAndRerunIsExact) {
  std::ofstream(g_env->dir / "sources" / "bulk.toml")
      << "type = \"postgres\"\nport = " << g_env->pg_port
      << "\ndatabase = \"shop\"\nparallelism = 2\n"
      << "[tables.bulk]\ncursor = \"updated_at\"\nlook_back = 300\nchunk_rows = 1000\n";
  pg_exec(
      "DROP TABLE IF EXISTS bulk; CREATE TABLE bulk (id bigint PRIMARY KEY, grp int NOT NULL, "
      "amount numeric(12,2) NOT NULL, pad text NOT NULL, updated_at timestamptz NOT NULL); "
      "INSERT INTO bulk SELECT g, g % 97, (g % 100000) / 100.0, md5(g::text) || md5((g + "
      "1)::text), "
      "now() - interval '3 hours' + g * interval '10 milliseconds' FROM generate_series(1, "
      "500000) g; CREATE INDEX ON bulk "
      "(updated_at); ANALYZE bulk");
  const std::string src_state =
      "SELECT count(*) || '/' || sum(id) || '/' || sum(grp) || '/' || sum(amount) || '/' || "
      "sum((extract(epoch FROM updated_at) * 1000000)::bigint) FROM bulk";
  const std::string lake_latest =
      "SELECT count(*) || '/' || sum(id) || '/' || sum(grp) || '/' || sum(amount) || '/' || "
      "sum(epoch_us(updated_at)) FROM (SELECT * FROM raw.bulk_bulk QUALIFY row_number() OVER "
      "(PARTITION BY id ORDER BY updated_at DESC) = 1)";
  auto first = ingest("bulk");
  ASSERT_EQ(first.code, 0) << first.out;
  ASSERT_EQ(lake_value("SELECT count(*) FROM raw.bulk_bulk"), "500000");

  // Snapshot killed mid-way: still the first snapshot, none of the new values.
  pg_exec("UPDATE bulk SET grp = -1 WHERE id <= 1000");
  auto snaps = sluice("table snapshots raw.bulk_bulk --format csv", lake_);
  ASSERT_EQ(kill_mid_load("bulk", "bulk_bulk"), "killed");
  fs::path killed_work = fs::path(lake_) / "tmp" / ("ingest-bulk-" + std::to_string(killed_pid_));
  EXPECT_TRUE(fs::exists(killed_work));
  EXPECT_EQ(sluice("table snapshots raw.bulk_bulk --format csv", lake_).out, snaps.out);
  EXPECT_EQ(lake_value("SELECT count(*) || '/' || count(DISTINCT id) || '/' || count(*) FILTER "
                       "(WHERE grp = -1) FROM raw.bulk_bulk"),
            "500000/500000/0");
  auto rerun = ingest("bulk");
  ASSERT_EQ(rerun.code, 0) << rerun.out;
  EXPECT_EQ(lake_value("SELECT count(*) || '/' || count(DISTINCT id) || '/' || count(*) FILTER "
                       "(WHERE grp = -1) FROM raw.bulk_bulk"),
            "500000/500000/1000");
  EXPECT_EQ(lake_value(lake_latest), pg_value(src_state));
  EXPECT_FALSE(fs::exists(killed_work)) << "the killed run's work folder was not cleaned up";

  // Incremental killed mid-way: no new rows, the watermark unchanged; the rerun loads exactly
  // the rows changed since it.
  pg_exec(
      "INSERT INTO bulk SELECT g, g % 89, 1.25, md5(g::text), now() FROM generate_series(500001, "
      "800000) g; UPDATE bulk SET grp = -2, updated_at = now() WHERE id BETWEEN 1001 AND 3000");
  snaps = sluice("table snapshots raw.bulk_bulk --format csv", lake_);
  auto props = sluice("table describe raw.bulk_bulk", lake_);
  ASSERT_EQ(kill_mid_load("bulk --mode incremental", "bulk_bulk"), "killed");
  EXPECT_EQ(sluice("table snapshots raw.bulk_bulk --format csv", lake_).out, snaps.out);
  EXPECT_EQ(sluice("table describe raw.bulk_bulk", lake_).out, props.out);
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.bulk_bulk"), "500000");
  auto inc = ingest("bulk --mode incremental");
  ASSERT_EQ(inc.code, 0) << inc.out;
  EXPECT_EQ(reported_rows(inc.out, "raw.bulk_bulk"), 302000) << inc.out;
  EXPECT_EQ(lake_value("SELECT count(*) || '/' || count(DISTINCT (id, updated_at)) FROM "
                       "raw.bulk_bulk"),
            "802000/802000");
  EXPECT_EQ(lake_value(lake_latest), pg_value(src_state));
  auto idle = ingest("bulk --mode incremental");
  ASSERT_EQ(idle.code, 0) << idle.out;
  EXPECT_EQ(reported_rows(idle.out, "raw.bulk_bulk"), 0) << idle.out;
  pg_exec("DROP TABLE bulk");
}

// A source column whose type the lake cannot widen to (integer -> text, numeric(10,2) ->
// numeric(8,2)) stops the run with an error naming the table and the column, and nothing is
// committed: not the other tables' new columns, not data. Widening types load.
TEST_F(SourcesIT, TypeChangeThatCannotWidenNamesTableAndColumnAndCommitsNothing) {
  std::ofstream(g_env->dir / "sources" / "drift.toml")
      << "type = \"postgres\"\nport = " << g_env->pg_port << "\ndatabase = \"shop\"\n"
      << "[tables.drift_a]\n[tables.drift_b]\n";
  pg_exec(
      "DROP TABLE IF EXISTS drift_a, drift_b; CREATE TABLE drift_a (id int PRIMARY KEY, v int); "
      "INSERT INTO drift_a VALUES (1, 1), (2, 2); CREATE TABLE drift_b (id int PRIMARY KEY, "
      "n int, amount numeric(10,2)); INSERT INTO drift_b SELECT g, g, g * 1.5 FROM "
      "generate_series(1, 10) g");
  auto r1 = ingest("drift");
  ASSERT_EQ(r1.code, 0) << r1.out;
  auto state = [&] {
    std::string s;
    for (const char* t : {"raw.drift_drift_a", "raw.drift_drift_b"}) {
      s += sluice(std::string("table snapshots ") + t + " --format csv", lake_).out;
      s += sluice(std::string("sql --format csv -e \"DESCRIBE ") + t + "\"", lake_).out;
    }
    return s;
  };
  std::string before = state();

  // drift_a gains a column (would be added), drift_b's n becomes text: nothing happens.
  pg_exec(
      "ALTER TABLE drift_a ADD COLUMN extra text; UPDATE drift_a SET extra = 'x'; ALTER TABLE "
      "drift_b ADD COLUMN note text; ALTER TABLE drift_b ALTER COLUMN n TYPE text");
  auto r2 = ingest("drift");
  EXPECT_EQ(r2.code, 1) << r2.out;
  EXPECT_NE(r2.out.find("table drift_b"), std::string::npos) << r2.out;
  EXPECT_NE(r2.out.find("column 'n' changed type in the source (now text)"), std::string::npos)
      << r2.out;
  EXPECT_NE(r2.out.find("raw.drift_drift_b has INTEGER, which cannot widen to VARCHAR"),
            std::string::npos)
      << r2.out;
  EXPECT_EQ(state(), before);
  // A narrower numeric: the same.
  pg_exec(
      "ALTER TABLE drift_b ALTER COLUMN n TYPE int USING n::int; ALTER TABLE drift_b ALTER "
      "COLUMN amount TYPE numeric(8,2)");
  auto r3 = ingest("drift");
  EXPECT_EQ(r3.code, 1) << r3.out;
  EXPECT_NE(r3.out.find("column 'amount' changed type in the source (now numeric(8,2))"),
            std::string::npos)
      << r3.out;
  EXPECT_NE(r3.out.find("DECIMAL(10,2), which cannot widen to DECIMAL(8,2)"), std::string::npos)
      << r3.out;
  EXPECT_EQ(state(), before);

  // Types that widen (int -> bigint, numeric(10,2) -> numeric(14,2)) load, with the new columns.
  pg_exec(
      "ALTER TABLE drift_b ALTER COLUMN n TYPE bigint, ALTER COLUMN amount TYPE numeric(14,2); "
      "UPDATE drift_b SET n = n + 5000000000, note = 'big'");
  auto r4 = ingest("drift");
  ASSERT_EQ(r4.code, 0) << r4.out;
  EXPECT_EQ(lake_value("SELECT string_agg(column_name || ':' || column_type, ' ' ORDER BY "
                       "column_name) FROM (DESCRIBE SELECT n, amount, note FROM "
                       "raw.drift_drift_b)"),
            "amount:DECIMAL(14,2) n:BIGINT note:VARCHAR");
  EXPECT_EQ(lake_value("SELECT sum(n) || '/' || sum(amount) || '/' || count(note) FROM "
                       "raw.drift_drift_b"),
            pg_value("SELECT sum(n) || '/' || sum(amount) || '/' || count(note) FROM drift_b"));
  EXPECT_EQ(lake_value("SELECT count(extra) FROM raw.drift_drift_a"), "2");
  pg_exec("DROP TABLE drift_a, drift_b");
}

// Schema drift from MariaDB: an added column lands in the raw table, a type that cannot widen
// is an error naming the column, a widening one loads.
TEST_F(SourcesIT, MariaDbSchemaDrift) {
  std::ofstream(g_env->dir / "sources" / "mdrift.toml")
      << "type = \"mariadb\"\nport = " << g_env->my_port << "\ndatabase = \"inventory\"\n"
      << "[tables.drift_m]\ncursor = \"updated_at\"\n";
  my_exec("DROP TABLE IF EXISTS drift_m");
  my_exec(
      "CREATE TABLE drift_m (id INT PRIMARY KEY, qty INT NOT NULL, updated_at DATETIME(6) NOT "
      "NULL)");
  my_exec("INSERT INTO drift_m VALUES (1, 10, NOW(6)), (2, 20, NOW(6)), (3, 30, NOW(6))");
  auto r1 = ingest("mdrift");
  ASSERT_EQ(r1.code, 0) << r1.out;
  my_exec("ALTER TABLE drift_m ADD COLUMN note VARCHAR(40) NULL");
  my_exec(
      "UPDATE drift_m SET note = CONCAT('n', id), updated_at = NOW(6) + INTERVAL 1 SECOND WHERE "
      "id <= 2");
  auto r2 = ingest("mdrift --mode incremental");
  ASSERT_EQ(r2.code, 0) << r2.out;
  EXPECT_EQ(reported_rows(r2.out, "raw.mdrift_drift_m"), 2) << r2.out;
  EXPECT_EQ(lake_value("SELECT string_agg(note, ',' ORDER BY note) FROM raw.mdrift_drift_m"),
            "n1,n2");
  EXPECT_EQ(lake_value("SELECT count(*) FROM raw.mdrift_drift_m WHERE note IS NULL"), "3");

  auto snaps = sluice("table snapshots raw.mdrift_drift_m --format csv", lake_);
  my_exec("ALTER TABLE drift_m MODIFY qty VARCHAR(10) NOT NULL");
  auto r3 = ingest("mdrift");
  EXPECT_EQ(r3.code, 1) << r3.out;
  EXPECT_NE(r3.out.find("column 'qty' changed type in the source (now varchar(10))"),
            std::string::npos)
      << r3.out;
  EXPECT_NE(r3.out.find("table drift_m"), std::string::npos) << r3.out;
  EXPECT_EQ(sluice("table snapshots raw.mdrift_drift_m --format csv", lake_).out, snaps.out);

  my_exec("ALTER TABLE drift_m MODIFY qty BIGINT NOT NULL");
  my_exec("UPDATE drift_m SET qty = 9000000000 WHERE id = 3");
  auto r4 = ingest("mdrift");
  ASSERT_EQ(r4.code, 0) << r4.out;
  EXPECT_EQ(lake_value("SELECT min(typeof(qty)) || '/' || sum(qty) FROM raw.mdrift_drift_m"),
            "BIGINT/9000000030");
  my_exec("DROP TABLE drift_m");
}

}  // namespace

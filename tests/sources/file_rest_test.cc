// Integration tests for the file-drop and REST sources, through the real binary: `sluice ingest`
// on a drop folder of CSV, JSON lines and Parquet files, and on the demo CRM API started with
// `sluice gen crm-api` (a real HTTP server on a loopback port). No database server is needed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/source_servers.h"

namespace fs = std::filesystem;

namespace {

using Outcome = sluice::testing::ShellOutcome;
using sluice::testing::run_shell;

fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "sluice-filerest-XXXXXX").string();
  char* d = ::mkdtemp(tmpl.data());
  return d ? fs::path(d) : fs::path();
}

// A process started with its stdout on a pipe (the CRM API); stopped with SIGTERM.
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
  ~Child() { stop(); }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
      pid = -1;
    }
    if (out) {
      std::fclose(out);
      out = nullptr;
    }
  }
};

class FileRestIT : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_FALSE(dir_.empty());
    fs::create_directories(dir_ / "sources");
    fs::create_directories(dir_ / "drops");
    std::ofstream(dir_ / "sluice.toml")
        << "[platform]\ndata_dir = \"var\"\n[log]\nlevel = \"warn\"\n[engine]\nthreads = 2\n";
    std::ofstream(dir_ / "sources" / "drops.toml")
        << "type = \"files\"\nfolder = \"../drops\"\nsettle_ms = 1500\n"
        << "[tables.orders]\npattern = \"orders/*.csv\"\n"
        << "[tables.events]\npattern = \"events_*.jsonl\"\n"
        << "[tables.items]\npattern = \"items/*.parquet\"\nformat = \"parquet\"\n";
    ::setenv("SLUICE_CRM_TOKEN", "s3cret-token", 1);
    ::setenv("CRM_WRONG_TOKEN", "not-the-token", 1);
  }
  void TearDown() override {
    for (auto& c : apis_)
      c->stop();
    if (!HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
    }
  }

  Outcome sluice(const std::string& args) {
    return run_shell("cd " + dir_.string() + " && " + SLUICE_BINARY + " " + args);
  }
  std::string value(const std::string& sql) {
    auto r = sluice("sql --format csv -e \"" + sql + "\"");
    EXPECT_EQ(r.code, 0) << sql << "\n" << r.out;
    auto nl = r.out.find('\n');
    if (nl == std::string::npos) return "";
    std::string v = r.out.substr(nl + 1);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
      v.pop_back();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  // Writes a drop file whose mtime is a minute old (settled).
  void drop(const std::string& rel, const std::string& text, bool settled = true) {
    fs::path p = dir_ / "drops" / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    if (settled) fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::minutes(1));
  }
  void settle(const std::string& rel) {
    fs::last_write_time(dir_ / "drops" / rel,
                        fs::file_time_type::clock::now() - std::chrono::minutes(1));
  }

  // Starts `sluice gen crm-api` on a free port; returns the port (0 on failure).
  int start_api(const std::string& args) {
    int fds[2];
    if (::pipe(fds) != 0) return 0;
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::string cmd = std::string(SLUICE_BINARY) + " gen crm-api --listen 127.0.0.1:0 " + args;
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    auto c = std::make_unique<Child>();
    c->pid = pid;
    c->out = ::fdopen(fds[0], "r");
    char line[256] = {0};
    int port = 0;
    if (c->out && std::fgets(line, sizeof line, c->out)) {
      std::string s(line);
      auto colon = s.rfind(':');
      if (s.rfind("listening on", 0) == 0 && colon != std::string::npos) {
        port = std::atoi(s.c_str() + colon + 1);
      }
    }
    apis_.push_back(std::move(c));
    return port;
  }
  // A /_stats figure of the API on `port`.
  long stat(int port, const std::string& key) {
    auto r = run_shell(
        "/usr/bin/python3 -c \"import json,urllib.request;print(json.load("
        "urllib.request.urlopen('http://127.0.0.1:" +
        std::to_string(port) + "/_stats'))['" + key + "'])\"");
    EXPECT_EQ(r.code, 0) << r.out;
    return std::atol(r.out.c_str());
  }
  void rest_source(const std::string& name, int port, const std::string& extra) {
    std::ofstream(dir_ / "sources" / (name + ".toml"))
        << "type = \"rest\"\nbase_url = \"http://127.0.0.1:" << port << "\"\n"
        << "token_env = \"SLUICE_CRM_TOKEN\"\npage_size = 25\n"
        << extra << "\n[tables.customers]\nrecords = \"data\"\n"
        << "[tables.interactions]\nrecords = \"data\"\n";
  }

  fs::path dir_;
  std::vector<std::unique_ptr<Child>> apis_;
};

TEST_F(FileRestIT, CsvJsonlParquetLoadExactlyOnce) {
  drop("orders/o1.csv",
       "id,amount,placed_at\n1,10.5,2026-01-01 10:00:00\n2,20,2026-01-02 "
       "11:00:00\n3,7.25,2026-01-03 12:00:00\n");
  drop("events_1.jsonl",
       "{\"id\": 1, \"kind\": \"view\", \"meta\": {\"page\": \"/a\"}}\n{\"id\": 2, \"kind\": "
       "\"cart\"}\n{\"id\": 3, \"kind\": \"buy\", \"meta\": {\"page\": \"/c\"}}\n");
  // A Parquet file: a data file of a lake table made with `sluice sql` in a scratch lake.
  auto mk = sluice(
      "sql --data-dir scratch -e \"CREATE TABLE raw.items (sku VARCHAR, qty INTEGER); INSERT INTO "
      "raw.items VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 4)\"");
  ASSERT_EQ(mk.code, 0) << mk.out;
  fs::path parquet;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "scratch"))
    if (e.path().extension() == ".parquet") parquet = e.path();
  ASSERT_FALSE(parquet.empty());
  fs::create_directories(dir_ / "drops" / "items");
  fs::copy_file(parquet, dir_ / "drops" / "items" / "i1.parquet");
  settle("items/i1.parquet");

  auto r1 = sluice("ingest drops");
  ASSERT_EQ(r1.code, 0) << r1.out;
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_orders"), "3");
  EXPECT_EQ(value("SELECT sum(amount) FROM raw.drops_orders"), "37.75");
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_events"), "3");
  EXPECT_EQ(value("SELECT sum(qty) FROM raw.drops_items"), "10");
  // Lineage: the source, the load type, the file and line.
  EXPECT_EQ(value("SELECT _source || ' ' || _load_type || ' ' || _source_position FROM "
                  "raw.drops_orders WHERE id = 2"),
            "drops file orders/o1.csv:3");
  EXPECT_EQ(value("SELECT _source_position FROM raw.drops_events WHERE id = 3"),
            "events_1.jsonl:3");
  EXPECT_EQ(value("SELECT _source_position FROM raw.drops_items WHERE sku = 'b'"),
            "items/i1.parquet:row 2");
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_orders WHERE _ingested_at IS NULL"), "0");
  // Nested JSON is kept as JSON text.
  EXPECT_NE(value("SELECT meta FROM raw.drops_events WHERE id = 1").find("/a"), std::string::npos);

  // A second run loads nothing new.
  auto r2 = sluice("ingest drops");
  ASSERT_EQ(r2.code, 0) << r2.out;
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_orders"), "3");
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_events"), "3");
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_items"), "4");

  // A new file loads once; a new column evolves the schema.
  drop("orders/o2.csv",
       "id,amount,placed_at,channel\n4,1,2026-01-04 10:00:00,web\n5,2,2026-01-05 10:00:00,shop\n");
  ASSERT_EQ(sluice("ingest drops").code, 0);
  ASSERT_EQ(sluice("ingest drops").code, 0);
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_orders"), "5");
  EXPECT_EQ(value("SELECT count(channel) FROM raw.drops_orders"), "2");
}

TEST_F(FileRestIT, PartialAndGrowingFilesAreSkipped) {
  drop("orders/a.csv", "id,amount\n1,1\n");
  drop("orders/b.csv.part", "id,amount\n2,2\n");
  drop("orders/.c.csv", "id,amount\n3,3\n");
  drop("orders/d.csv.tmp", "id,amount\n4,4\n");
  drop("orders/growing.csv", "id,amount\n5,5\n", /*settled=*/false);  // just written
  auto r = sluice("ingest drops --tables orders");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(value("SELECT string_agg(CAST(id AS VARCHAR), ',' ORDER BY id) FROM raw.drops_orders"),
            "1");
  // The writer finishes: renamed from .part, growing file settles. Each loads once.
  fs::rename(dir_ / "drops/orders/b.csv.part", dir_ / "drops/orders/b.csv");
  settle("orders/growing.csv");
  ASSERT_EQ(sluice("ingest drops --tables orders").code, 0);
  ASSERT_EQ(sluice("ingest drops --tables orders").code, 0);
  EXPECT_EQ(value("SELECT string_agg(CAST(id AS VARCHAR), ',' ORDER BY id) FROM raw.drops_orders"),
            "1,2,5");
}

TEST_F(FileRestIT, BadRowsAreQuarantinedWithFileAndLine) {
  // The first file fixes the column types (amount BIGINT); a later value that does not convert
  // is quarantined with the file and line, and the other rows load.
  drop("orders/good.csv", "id,amount\n1,10\n");
  ASSERT_EQ(sluice("ingest drops --tables orders").code, 0);
  drop("orders/bad.csv", "id,amount\n2,20\n3,ten\n4,99999999999999999999999\n5,50\n");
  drop("events_bad.jsonl", "{\"id\": 1}\n{\"id\": 2,,}\n[1,2]\n{\"id\": 4}\n");
  auto r = sluice("ingest drops --tables orders,events");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(value("SELECT string_agg(CAST(id AS VARCHAR), ',' ORDER BY id) FROM raw.drops_orders"),
            "1,2,5");
  EXPECT_EQ(value("SELECT string_agg(source_position || ' ' || column_name, ',' ORDER BY "
                  "source_position) FROM raw.drops_orders__quarantine"),
            "orders/bad.csv:3 amount,orders/bad.csv:4 amount");
  EXPECT_NE(value("SELECT min(reason) FROM raw.drops_orders__quarantine").find("BIGINT"),
            std::string::npos);
  EXPECT_NE(value("SELECT min(raw_row) FROM raw.drops_orders__quarantine").find("ten"),
            std::string::npos);
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_events"), "2");
  EXPECT_EQ(value("SELECT string_agg(source_position, ',' ORDER BY source_position) FROM "
                  "raw.drops_events__quarantine"),
            "events_bad.jsonl:2,events_bad.jsonl:3");
  // The run reports how many rows it quarantined.
  EXPECT_NE(r.out.find("raw.drops_orders"), std::string::npos);
  EXPECT_NE(r.out.find(" 2\n"), std::string::npos) << r.out;
}

TEST_F(FileRestIT, CrashBeforeCommitThenRerunHasNoDuplicates) {
  drop("orders/1.csv", "id,amount\n1,1\n2,2\n");
  drop("orders/2.csv", "id,amount\n3,3\n");
  auto crash = sluice("ingest drops --tables orders --fail-after orders:1");
  EXPECT_NE(crash.code, 0) << crash.out;
  EXPECT_NE(crash.out.find("injected failure"), std::string::npos) << crash.out;
  auto exists = sluice("sql -e \"SELECT count(*) FROM raw.drops_orders\"");
  if (exists.code == 0) {
    EXPECT_EQ(value("SELECT count(*) FROM raw.drops_orders"), "0");
  }
  ASSERT_EQ(sluice("ingest drops --tables orders").code, 0);
  ASSERT_EQ(sluice("ingest drops --tables orders").code, 0);
  EXPECT_EQ(value("SELECT count(*) || '/' || count(DISTINCT id) FROM raw.drops_orders"), "3/3");
}

TEST_F(FileRestIT, WatchModeLoadsNewFilesUntilStopped) {
  drop("orders/w1.csv", "id,amount\n1,1\n");
  std::string cmd = "cd " + dir_.string() + " && exec " + SLUICE_BINARY +
                    " ingest drops --tables orders --watch --poll-ms 200";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto wait_count = [&](const std::string& want) {
    for (int i = 0; i < 100; ++i) {
      auto r = sluice("sql --format csv -e \"SELECT count(*) FROM raw.drops_orders\"");
      if (r.code == 0 && r.out.find("\n" + want) != std::string::npos) return true;
      ::usleep(200000);
    }
    return false;
  };
  EXPECT_TRUE(wait_count("1"));
  drop("orders/w2.csv", "id,amount\n2,2\n3,3\n");
  EXPECT_TRUE(wait_count("3"));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_orders"), "3");
}

TEST_F(FileRestIT, RestEachPaginationStyle) {
  int port = start_api("--customers 120 --seed 3");
  ASSERT_GT(port, 0);
  for (std::string style : {"offset", "cursor", "link"}) {
    std::string name = "crm_" + style;
    rest_source(name, port, "pagination = \"" + style + "\"");
    auto r = sluice("ingest " + name);
    ASSERT_EQ(r.code, 0) << style << "\n" << r.out;
    EXPECT_EQ(value("SELECT count(*) || '/' || count(DISTINCT id) FROM raw." + name + "_customers"),
              "120/120")
        << style;
    EXPECT_EQ(value("SELECT count(*) FROM raw." + name + "_interactions"), "360") << style;
    EXPECT_NE(value("SELECT address FROM raw." + name + "_customers WHERE id = 7").find("city"),
              std::string::npos);
    EXPECT_EQ(value("SELECT _load_type FROM raw." + name + "_customers WHERE id = 7"), "snapshot");
  }
  // 120 customers / 25 per page: 5 pages (+ an empty one for offset), 360 interactions: 15.
  EXPECT_EQ(stat(port, "unauthorized"), 0);
  // A snapshot run again replaces: still 120.
  ASSERT_EQ(sluice("ingest crm_cursor").code, 0);
  EXPECT_EQ(value("SELECT count(*) FROM raw.crm_cursor_customers"), "120");
}

TEST_F(FileRestIT, RestAuthFailureNamesTheSource) {
  int port = start_api("--customers 10");
  ASSERT_GT(port, 0);
  rest_source("crm_bad", port, "pagination = \"offset\"");
  {
    std::string text;
    std::ifstream in(dir_ / "sources" / "crm_bad.toml");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    text.replace(text.find("SLUICE_CRM_TOKEN"), 16, "CRM_WRONG_TOKEN");
    std::ofstream(dir_ / "sources" / "crm_bad.toml") << text;
  }
  auto r = sluice("ingest crm_bad");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("source crm_bad"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP 401"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CRM_WRONG_TOKEN"), std::string::npos) << r.out;
  EXPECT_GE(stat(port, "unauthorized"), 1);
}

TEST_F(FileRestIT, RestRetries429And503WithBackoff) {
  int port = start_api("--customers 120 --fail-rate 0.4 --seed 11");
  ASSERT_GT(port, 0);
  rest_source("crm_flaky", port, "pagination = \"cursor\"\nmax_retries = 12");
  auto r = sluice("ingest crm_flaky");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(value("SELECT count(*) || '/' || count(DISTINCT id) FROM raw.crm_flaky_customers"),
            "120/120");
  EXPECT_EQ(value("SELECT count(*) FROM raw.crm_flaky_interactions"), "360");
  long failures = stat(port, "failures_injected");
  EXPECT_GE(failures, 2);  // both 429 and 503 were answered and retried
  EXPECT_EQ(stat(port, "requests"), 5 + 15 + failures);

  // Without retries the first injected failure is an error naming the source.
  int port2 = start_api("--customers 120 --fail-rate 0.9 --seed 11");
  rest_source("crm_noretry", port2, "pagination = \"cursor\"\nmax_retries = 0");
  auto r2 = sluice("ingest crm_noretry");
  EXPECT_NE(r2.code, 0);
  EXPECT_NE(r2.out.find("source crm_noretry"), std::string::npos) << r2.out;
  EXPECT_NE(r2.out.find("failed after 1 attempts"), std::string::npos) << r2.out;
}

TEST_F(FileRestIT, RestRateLimitIsRespected) {
  // Unlimited: the 7 pages arrive within one second.
  int fast = start_api("--customers 150");
  ASSERT_GT(fast, 0);
  rest_source("crm_fast", fast, "pagination = \"offset\"");
  ASSERT_EQ(sluice("ingest crm_fast --tables customers").code, 0);
  EXPECT_GT(stat(fast, "max_per_second"), 3);
  int slow = start_api("--customers 150");
  ASSERT_GT(slow, 0);
  rest_source("crm_slow", slow, "pagination = \"offset\"\nrate_limit_per_s = 3");
  ASSERT_EQ(sluice("ingest crm_slow --tables customers").code, 0);
  EXPECT_EQ(stat(slow, "requests"), 7);  // 6 pages of 25 and the empty last page
  EXPECT_LE(stat(slow, "max_per_second"), 3);
}

TEST_F(FileRestIT, RestNewFieldEvolvesTheSchema) {
  int v1 = start_api("--customers 40 --api-version 1");
  ASSERT_GT(v1, 0);
  rest_source("crm_evo", v1, "pagination = \"link\"");
  ASSERT_EQ(sluice("ingest crm_evo --tables customers").code, 0);
  EXPECT_NE(sluice("sql -e \"SELECT segment FROM raw.crm_evo_customers\"").code, 0);
  int v2 = start_api("--customers 40 --api-version 2");
  ASSERT_GT(v2, 0);
  rest_source("crm_evo", v2, "pagination = \"link\"");
  auto r = sluice("ingest crm_evo --tables customers");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(value("SELECT count(segment) FROM raw.crm_evo_customers"), "40");
  EXPECT_EQ(value("SELECT count(*) FROM raw.crm_evo_customers WHERE segment = 'enterprise'"), "13");
}

TEST_F(FileRestIT, BadSourceFilesNameFileAndLine) {
  std::ofstream(dir_ / "sources" / "bad1.toml")
      << "type = \"rest\"\nbase_url = \"http://127.0.0.1:1\"\npagination = \"pages\"\n"
      << "[tables.x]\n";
  auto r = sluice("ingest bad1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("bad1.toml:3:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown pagination 'pages'"), std::string::npos) << r.out;
  std::ofstream(dir_ / "sources" / "bad2.toml")
      << "type = \"files\"\nfolder = \"x\"\n[tables.x]\npattern = \"*.txt\"\n";
  auto r2 = sluice("ingest bad2");
  EXPECT_NE(r2.code, 0);
  EXPECT_NE(r2.out.find("needs 'format'"), std::string::npos) << r2.out;
  std::ofstream(dir_ / "sources" / "bad3.toml")
      << "type = \"rest\"\nbase_url = \"https://example.com\"\n[tables.x]\n";
  auto r3 = sluice("ingest bad3");
  EXPECT_NE(r3.code, 0);
  EXPECT_NE(r3.out.find("TLS"), std::string::npos) << r3.out;
}

// The README's file-drop and CRM API steps, with the example platform's own source files
// (examples/ecommerce/sources/drops.toml and crm.toml) run as a new user runs them from the
// repository root: `sluice ingest examples/ecommerce/sources/<name>.toml`.
TEST_F(FileRestIT, ReadmeExampleDropsAndCrmSourcesWork) {
  const fs::path src = fs::path(SLUICE_SOURCE_DIR);
  std::ifstream readme_in(src / "README.md");
  std::stringstream readme;
  readme << readme_in.rdbuf();
  for (const char* step :
       {"sluice ingest examples/ecommerce/sources/drops.toml",
        "export SLUICE_CRM_TOKEN=", "sluice gen crm-api --listen 127.0.0.1:8765 &",
        "sluice ingest examples/ecommerce/sources/crm.toml"}) {
    EXPECT_NE(readme.str().find(step), std::string::npos) << "README lost the step: " << step;
  }
  fs::create_directories(dir_ / "examples" / "ecommerce");
  auto cp = run_shell("cp -rp " + (src / "examples" / "ecommerce" / "sources").string() + " " +
                      (src / "examples" / "ecommerce" / "drops").string() + " " +
                      (dir_ / "examples" / "ecommerce").string());
  ASSERT_EQ(cp.code, 0) << cp.out;
  // The example drops: every CSV line but the headers is a row.
  long long expected_returns = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "examples" / "ecommerce" / "drops")) {
    if (!e.is_regular_file()) continue;
    fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::minutes(1));
    if (e.path().extension() != ".csv") continue;
    std::ifstream in(e.path());
    std::string line;
    long long n = 0;
    while (std::getline(in, line))
      if (!line.empty()) ++n;
    expected_returns += n - 1;
  }
  ASSERT_GT(expected_returns, 0);

  auto d1 = sluice("ingest examples/ecommerce/sources/drops.toml");
  ASSERT_EQ(d1.code, 0) << d1.out;
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_returns"), std::to_string(expected_returns));
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_returns WHERE _ingested_at IS NULL OR "
                  "_source_position IS NULL"),
            "0");
  auto d2 = sluice("ingest examples/ecommerce/sources/drops.toml");
  ASSERT_EQ(d2.code, 0) << d2.out;
  EXPECT_EQ(value("SELECT count(*) FROM raw.drops_returns"), std::to_string(expected_returns));

  // The CRM API on a free port instead of the README's 8765 (the only change to crm.toml).
  ::setenv("SLUICE_CRM_TOKEN", "demo-token", 1);
  int port = start_api("");
  ASSERT_GT(port, 0);
  fs::path crm = dir_ / "examples" / "ecommerce" / "sources" / "crm.toml";
  std::string text;
  {
    std::ifstream in(crm);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto at = text.find("base_url = \"http://127.0.0.1:8765\"");
  ASSERT_NE(at, std::string::npos) << "crm.toml no longer matches the README's --listen:\n" << text;
  text.replace(at, std::string("base_url = \"http://127.0.0.1:8765\"").size(),
               "base_url = \"http://127.0.0.1:" + std::to_string(port) + "\"");
  std::ofstream(crm) << text;
  auto c1 = sluice("ingest examples/ecommerce/sources/crm.toml");
  ASSERT_EQ(c1.code, 0) << c1.out;
  std::string customers = value("SELECT count(*) FROM raw.crm_customers");
  EXPECT_EQ(customers, "200");
  EXPECT_EQ(value("SELECT count(*) FROM raw.crm_interactions"), "600");
  // docs/sources.md's query.
  EXPECT_EQ(value("SELECT sum(n) FROM (SELECT country, count(*) AS n FROM raw.crm_customers "
                  "GROUP BY 1)"),
            customers);
  auto c2 = sluice("ingest examples/ecommerce/sources/crm.toml --mode incremental");
  ASSERT_EQ(c2.code, 0) << c2.out;
  EXPECT_EQ(value("SELECT count(*) FROM raw.crm_customers"), customers);
  EXPECT_EQ(stat(port, "unauthorized"), 0);
}

}  // namespace

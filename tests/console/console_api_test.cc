// The console's JSON API through the real binary: `sluice console` on a free loopback port over a
// small lake built with `sluice sql`, users made with `sluice user add`; requests with
// http::Client. Login, cookie flags, CSRF, wrong password, grants (the gateway's), cancel, the
// per-snapshot dashboard cache, the table browser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "http/client.h"
#include "support/sluice_process.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using sluice::testing::slurp;

// Runs `cmd` in `dir` (2 minutes at most); `out` gets stdout and stderr.
int sh(const std::string& cmd, const fs::path& dir, std::string* out = nullptr) {
  auto r = sluice::testing::run_command("cd '" + dir.string() + "' || exit 126\n" + cmd, dir, 120);
  if (out) *out = r.out + r.err;
  return r.code;
}

class ConsoleApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("sluice_console_api_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_ / "dashboards");
    std::ofstream(*dir_ / "sluice.toml") << "[platform]\ndata_dir = \"data\"\n"
                                            "[console]\nlisten = \"127.0.0.1:0\"\n"
                                            "dashboards_dir = \"dashboards\"\n";
    std::ofstream(*dir_ / "dashboards" / "t.yaml")
        << "title: Test\n"
           "filters:\n"
           "  - {name: date, type: date_range, default: {from: '2024-01-01', to: '2024-12-31'}}\n"
           "charts:\n"
           "  - id: total\n"
           "    type: number\n"
           "    sql: SELECT sum(amount) AS total FROM raw.t WHERE CAST(ts AS DATE) BETWEEN {{ "
           "from }} AND {{ to }}\n"
           "  - id: secret\n"
           "    type: table\n"
           "    sql: SELECT * FROM curated.secret\n"
           "  - id: missing\n"
           "    type: table\n"
           "    sql: SELECT * FROM streaming.nothing_here\n";
    std::string s = std::string("'") + SLUICE_BINARY + "' --config sluice.toml";
    std::string out;
    int rc = sh("set -e\nSLUICE_USER_PASSWORD=adminpw " + s +
                    " user add admin --admin\n"
                    "SLUICE_USER_PASSWORD=readerpw " +
                    s + " user add reader\n" + s + " user grant reader read raw\n" + s +
                    " sql -e \"CREATE TABLE raw.t (id INT, amount DECIMAL(10,2), ts TIMESTAMP)\"" +
                    " -e \"INSERT INTO raw.t VALUES (1, 3.50, TIMESTAMP '2024-01-02'), (2, 1.25, "
                    "TIMESTAMP '2024-05-01')\" -e \"CREATE TABLE curated.secret (x INT)\"\n",
                *dir_, &out);
    ASSERT_EQ(rc, 0) << out;
    start_console();
  }
  static void start_console() {
    sluice::testing::SluiceProcess::Options o;
    o.args = {"--config", "sluice.toml", "console"};
    o.ready = "http://127.0.0.1:";
    o.ready_timeout_s = 30;
    o.in_dir = true;
    console_ = new sluice::testing::SluiceProcess(*dir_, "console", o);
    ASSERT_TRUE(console_->start()) << console_->log();
    port_ = static_cast<uint16_t>(console_->port());
    ASSERT_NE(port_, 0) << console_->log();
  }
  static void TearDownTestSuite() {
    if (console_ != nullptr) console_->stop();
    delete console_;
    console_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }

  // A logged-in client: the cookie and CSRF token.
  struct Login {
    std::string cookie;
    std::string csrf;
  };
  static Login login(const std::string& user, const std::string& password) {
    sluice::http::Client c("127.0.0.1", port_);
    auto r = c.request("POST", "/api/login", json{{"user", user}, {"password", password}}.dump(),
                       {{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.is_ok());
    EXPECT_EQ(r->status, 200) << r->body;
    std::string set_cookie = r->header("Set-Cookie");
    Login l;
    l.cookie = set_cookie.substr(0, set_cookie.find(';'));
    l.csrf = json::parse(r->body).value("csrf", "");
    return l;
  }
  static sluice::http::ClientResponse call(const Login& l, const std::string& method,
                                           const std::string& target, const json& body = nullptr,
                                           bool csrf = true) {
    sluice::http::Client c("127.0.0.1", port_, 60000);
    std::vector<std::pair<std::string, std::string>> headers = {{"Cookie", l.cookie}};
    if (csrf) headers.emplace_back("X-Sluice-CSRF", l.csrf);
    if (!body.is_null()) headers.emplace_back("Content-Type", "application/json");
    auto r = c.request(method, target, body.is_null() ? "" : body.dump(), headers);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? *r : sluice::http::ClientResponse{};
  }

  static fs::path* dir_;
  static sluice::testing::SluiceProcess* console_;
  static uint16_t port_;
};

fs::path* ConsoleApiTest::dir_ = nullptr;
sluice::testing::SluiceProcess* ConsoleApiTest::console_ = nullptr;
uint16_t ConsoleApiTest::port_ = 0;

TEST_F(ConsoleApiTest, LoginSetsAStrictHttpOnlyCookieAndWrongPasswordIs401) {
  sluice::http::Client c("127.0.0.1", port_);
  auto bad = c.request("POST", "/api/login", R"({"user":"admin","password":"nope"})",
                       {{"Content-Type", "application/json"}});
  ASSERT_TRUE(bad.is_ok());
  EXPECT_EQ(bad->status, 401);
  EXPECT_EQ(json::parse(bad->body)["message"], "wrong user name or password");
  EXPECT_EQ(bad->header("Set-Cookie"), "");
  auto unknown = c.request("POST", "/api/login", R"({"user":"ghost","password":"x"})",
                           {{"Content-Type", "application/json"}});
  EXPECT_EQ(unknown->status, 401);

  auto ok = c.request("POST", "/api/login", R"({"user":"admin","password":"adminpw"})",
                      {{"Content-Type", "application/json"}});
  ASSERT_EQ(ok->status, 200) << ok->body;
  std::string cookie = ok->header("Set-Cookie");
  EXPECT_NE(cookie.find("sluice_session="), std::string::npos);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  // 256-bit token, hex.
  EXPECT_EQ(cookie.find(';') - std::string("sluice_session=").size(), 64u);

  auto anon = c.get("/api/session");
  EXPECT_EQ(anon->status, 401);
  Login l = login("admin", "adminpw");
  auto s = call(l, "GET", "/api/session");
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(json::parse(s.body)["user"], "admin");
  EXPECT_EQ(json::parse(s.body)["csrf"], l.csrf);
}

TEST_F(ConsoleApiTest, StateChangingRequestsNeedTheCsrfTokenAndSameOrigin) {
  Login l = login("admin", "adminpw");
  auto no_csrf = call(l, "POST", "/api/queries", json{{"sql", "SELECT 1"}}, false);
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_NE(no_csrf.body.find("X-Sluice-CSRF"), std::string::npos);

  sluice::http::Client c("127.0.0.1", port_);
  auto cross = c.request("POST", "/api/queries", R"({"sql":"SELECT 1"})",
                         {{"Cookie", l.cookie},
                          {"X-Sluice-CSRF", l.csrf},
                          {"Origin", "http://evil.example"},
                          {"Content-Type", "application/json"}});
  EXPECT_EQ(cross->status, 403);
  EXPECT_NE(cross->body.find("cross-origin"), std::string::npos);

  auto ok = call(l, "POST", "/api/queries", json{{"sql", "SELECT 41 + 1 AS answer"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto j = json::parse(ok.body);
  EXPECT_EQ(j["columns"][0]["name"], "answer");
  EXPECT_EQ(j["rows"][0][0], "42");
}

TEST_F(ConsoleApiTest, GrantsAreTheGatewaysAndTheRowLimitHolds) {
  Login reader = login("reader", "readerpw");
  auto denied = call(reader, "POST", "/api/queries", json{{"sql", "SELECT * FROM curated.secret"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(json::parse(denied.body)["message"], "permission denied for table curated.secret");
  auto write = call(reader, "POST", "/api/queries", json{{"sql", "DELETE FROM raw.t"}});
  EXPECT_EQ(write.status, 403);
  auto table = call(reader, "GET", "/api/tables/curated/secret");
  EXPECT_EQ(table.status, 403);

  auto ok = call(reader, "POST", "/api/queries",
                 json{{"sql", "SELECT id FROM raw.t ORDER BY id"}, {"limit", 1}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto j = json::parse(ok.body);
  EXPECT_EQ(j["rows"].size(), 1u);
  EXPECT_EQ(j["truncated"], true);

  auto list = json::parse(call(reader, "GET", "/api/tables").body);
  bool saw_secret = false;
  for (const auto& ns : list["namespaces"]) {
    for (const auto& t : ns["tables"]) {
      if (t["name"] == "secret") {
        saw_secret = true;
        EXPECT_EQ(t["readable"], false);
      }
    }
  }
  EXPECT_TRUE(saw_secret);
}

TEST_F(ConsoleApiTest, CancelInterruptsARunningQuery) {
  Login l = login("admin", "adminpw");
  sluice::http::ClientResponse long_run;
  auto started = std::chrono::steady_clock::now();
  std::thread runner([&] {
    long_run =
        call(l, "POST", "/api/queries",
             json{{"sql", "SELECT sum(hash(i)) FROM range(100000000000) t(i)"}, {"id", "longone"}});
  });
  // Wait until the query is listed as running, then cancel it.
  bool listed = false;
  for (int i = 0; i < 200 && !listed; ++i) {
    auto q = json::parse(call(l, "GET", "/api/queries").body);
    for (const auto& r : q["queries"])
      listed = listed || r["id"] == "longone";
    if (!listed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(listed);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto c = call(l, "POST", "/api/queries/longone/cancel");
  EXPECT_EQ(c.status, 202) << c.body;
  runner.join();
  EXPECT_EQ(long_run.status, 409) << long_run.body;
  EXPECT_EQ(json::parse(long_run.body)["message"], "query cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  auto gone = call(l, "POST", "/api/queries/longone/cancel");
  EXPECT_EQ(gone.status, 404);
}

TEST_F(ConsoleApiTest, DashboardResultsAreCachedPerSnapshot) {
  Login l = login("admin", "adminpw");
  auto d = call(l, "GET", "/api/dashboards/t");
  ASSERT_EQ(d.status, 200) << d.body;
  auto dj = json::parse(d.body);
  EXPECT_EQ(dj["values"]["date"]["from"], "2024-01-01");

  auto first = json::parse(call(l, "GET", "/api/dashboards/t/charts/total").body);
  ASSERT_TRUE(first.contains("rows")) << first.dump();
  EXPECT_EQ(first["rows"][0][0], "4.75");
  EXPECT_EQ(first["cached"], false);
  auto second = json::parse(call(l, "GET", "/api/dashboards/t/charts/total").body);
  EXPECT_EQ(second["cached"], true);
  EXPECT_EQ(second["refreshed_at"], first["refreshed_at"]);
  EXPECT_EQ(second["rows"], first["rows"]);

  // A filter change is another query.
  auto narrow = json::parse(
      call(l, "GET", "/api/dashboards/t/charts/total?from=2024-01-01&to=2024-01-31").body);
  EXPECT_EQ(narrow["rows"][0][0], "3.50");
  EXPECT_EQ(narrow["cached"], false);
  auto bad = call(l, "GET", "/api/dashboards/t/charts/total?from=yesterday&to=2024-01-31");
  EXPECT_EQ(bad.status, 400);

  // A commit to raw.t makes a new snapshot: the chart recomputes.
  std::string out;
  ASSERT_EQ(sh(std::string("'") + SLUICE_BINARY +
                   "' --config sluice.toml sql -e \"INSERT INTO raw.t VALUES (3, 10, TIMESTAMP "
                   "'2024-06-01')\"",
               *dir_, &out),
            0)
      << out;
  auto third = json::parse(call(l, "GET", "/api/dashboards/t/charts/total").body);
  EXPECT_EQ(third["cached"], false);
  EXPECT_EQ(third["rows"][0][0], "14.75");

  // Unauthorized and missing tables are clear per-chart errors.
  Login reader = login("reader", "readerpw");
  auto secret = call(reader, "GET", "/api/dashboards/t/charts/secret");
  EXPECT_EQ(secret.status, 403);
  EXPECT_EQ(json::parse(secret.body)["message"], "permission denied for table curated.secret");
  auto missing = call(l, "GET", "/api/dashboards/t/charts/missing");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("nothing_here"), std::string::npos) << missing.body;
}

TEST_F(ConsoleApiTest, TableBrowserShowsSchemaSnapshotsFilesAndPreview) {
  Login l = login("admin", "adminpw");
  auto t = call(l, "GET", "/api/tables/raw/t");
  ASSERT_EQ(t.status, 200) << t.body;
  auto j = json::parse(t.body);
  EXPECT_EQ(j["schema"][1]["name"], "amount");
  EXPECT_EQ(j["schema"][1]["type"], "decimal(10,2)");
  ASSERT_GE(j["snapshots"].size(), 1u);
  // The first append (the two rows of SetUp; a later test may have appended more).
  std::string oldest;
  for (auto it = j["snapshots"].rbegin(); it != j["snapshots"].rend() && oldest.empty(); ++it) {
    if ((*it)["summary"].value("operation", "") == "append") oldest = (*it)["snapshot_id"];
  }
  ASSERT_FALSE(oldest.empty()) << j["snapshots"].dump();

  auto files = json::parse(call(l, "GET", "/api/tables/raw/t/files?snapshot=" + oldest).body);
  ASSERT_GE(files["files"].size(), 1u);
  EXPECT_GT(files["total_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(files["record_count"], 2);

  auto prev = json::parse(call(l, "GET", "/api/tables/raw/t/preview?snapshot=" + oldest).body);
  EXPECT_EQ(prev["rows"].size(), 2u) << prev.dump();
  EXPECT_EQ(call(l, "GET", "/api/tables/raw/nope").status, 404);
}

TEST_F(ConsoleApiTest, ServesTheFrontEndOrAClearErrorPage) {
  sluice::http::Client c("127.0.0.1", port_);
  auto r = c.get("/");
  ASSERT_TRUE(r.is_ok());
  if (fs::exists(fs::path(SLUICE_SOURCE_DIR) / "web" / "dist" / "index.html")) {
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("Sluice console"), std::string::npos);
  } else {
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("scripts/setup.sh"), std::string::npos);
  }
  EXPECT_EQ(c.get("/api/dags")->status, 401);  // behind the login even when absent
}

}  // namespace

// The console's JSON API through the real binary: `sluice console` on a free loopback port over a
// small lake built with `sluice sql`, users made with `sluice user add`; requests with
// http::Client. Login, cookie flags, CSRF, wrong password, grants (the gateway's), cancel, the
// per-snapshot dashboard cache, the table browser.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
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

// The lines of an NDJSON body, parsed.
std::vector<json> ndjson(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// Decodes a chunked HTTP body (the bytes after the head); the chunks must be complete.
std::string dechunk(std::string_view s) {
  std::string out;
  for (;;) {
    auto eol = s.find("\r\n");
    if (eol == std::string_view::npos) return out;
    size_t n = std::stoul(std::string(s.substr(0, eol)), nullptr, 16);
    s.remove_prefix(eol + 2);
    if (n == 0 || s.size() < n + 2) return out;
    out.append(s.substr(0, n));
    s.remove_prefix(n + 2);
  }
}

// One HTTP request over a raw socket whose response is read as it arrives.
class RawRequest {
 public:
  RawRequest(uint16_t port, const std::string& request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size());
  }
  ~RawRequest() { ::close(fd_); }
  bool ok() const { return ok_; }
  // Reads until `needle` shows up (true), the peer closes or `timeout_s` passes (false).
  bool read_until(const std::string& needle, int timeout_s = 60) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (got.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return got.find(needle) != std::string::npos;
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  std::string body() const {
    auto at = got.find("\r\n\r\n");
    return at == std::string::npos ? "" : dechunk(std::string_view(got).substr(at + 4));
  }
  std::string got;

 private:
  int fd_ = -1;
  bool ok_ = false;
};

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

TEST_F(ConsoleApiTest, StreamedQuerySendsNdjsonBatchesUpToTheLimit) {
  Login l = login("admin", "adminpw");
  auto r =
      call(l, "POST", "/api/queries/stream",
           json{{"sql", "SELECT i FROM range(200000) t(i)"}, {"limit", 300000}, {"id", "big"}});
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
  EXPECT_EQ(r.header("Content-Type"), "application/x-ndjson; charset=utf-8");
  EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r.header("Cache-Control"), "no-store");  // the console's middleware wraps it too
  auto lines = ndjson(r.body);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front()["id"], "big");
  EXPECT_EQ(lines.front()["columns"], json::parse(R"([{"name":"i","type":"BIGINT"}])"));
  int64_t next = 0;
  size_t batches = 0;
  bool in_order = true;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    ASSERT_TRUE(lines[i].contains("rows")) << lines[i].dump().substr(0, 200);
    EXPECT_LE(lines[i]["rows"].size(), 1000u);
    ++batches;
    for (const auto& row : lines[i]["rows"]) {
      in_order = in_order && row[0] == std::to_string(next);
      ++next;
    }
  }
  EXPECT_TRUE(in_order);
  EXPECT_EQ(next, 200000);
  EXPECT_EQ(batches, 200u);
  const json& done = lines.back();
  EXPECT_EQ(done["done"], true) << done.dump();
  EXPECT_EQ(done["row_count"], 200000);
  EXPECT_EQ(done["truncated"], false);
  EXPECT_EQ(done["limit"], 300000);
  EXPECT_EQ(done["tag"], "SELECT 200000");
  EXPECT_EQ(done["id"], "big");
  EXPECT_TRUE(done["elapsed_ms"].is_number());

  // The row limit stops fetching and says so.
  auto cut = ndjson(call(l, "POST", "/api/queries/stream",
                         json{{"sql", "SELECT i FROM range(200000) t(i)"}, {"limit", 150000}})
                        .body);
  ASSERT_GE(cut.size(), 3u);
  EXPECT_EQ(cut.back()["row_count"], 150000);
  EXPECT_EQ(cut.back()["truncated"], true);
  EXPECT_EQ(cut.back()["limit"], 150000);
  const json& last_rows = cut[cut.size() - 2]["rows"];
  EXPECT_EQ(last_rows.back()[0], "149999");

  // Types, NULLs and nested values as text, as `sluice sql` shows them.
  auto typed = ndjson(
      call(l, "POST", "/api/queries/stream",
           json{{"sql", "SELECT id, amount, NULL::INT AS n, [1, 2] AS l FROM raw.t ORDER BY id"}})
          .body);
  ASSERT_EQ(typed.size(), 3u);
  EXPECT_EQ(typed[0]["columns"][1]["type"], "DECIMAL(10,2)");
  EXPECT_EQ(typed[1]["rows"][0], json::parse(R"(["1", "3.50", null, "[1, 2]"])"));

  // Bad requests and errors found before any row are plain JSON errors.
  EXPECT_EQ(call(l, "POST", "/api/queries/stream", json{{"sql", "SELECT 1"}, {"limit", 0}}).status,
            400);
  auto syntax = call(l, "POST", "/api/queries/stream", json{{"sql", "SELEC 1"}});
  EXPECT_EQ(syntax.status, 400);
  EXPECT_NE(syntax.body.find("syntax error"), std::string::npos) << syntax.body;
  // The old endpoint answers as before.
  auto whole = call(l, "POST", "/api/queries", json{{"sql", "SELECT i FROM range(5) t(i)"}});
  EXPECT_EQ(json::parse(whole.body)["rows"].size(), 5u);
}

TEST_F(ConsoleApiTest, StreamedQueryChecksGrantsBeforeAnyRow) {
  Login reader = login("reader", "readerpw");
  auto denied =
      call(reader, "POST", "/api/queries/stream", json{{"sql", "SELECT * FROM curated.secret"}});
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(denied.body)["message"], "permission denied for table curated.secret");
  EXPECT_EQ(call(reader, "POST", "/api/queries/stream", json{{"sql", "DELETE FROM raw.t"}}).status,
            403);
  auto no_csrf = call(reader, "POST", "/api/queries/stream", json{{"sql", "SELECT 1"}}, false);
  EXPECT_EQ(no_csrf.status, 403);
  auto ok = ndjson(
      call(reader, "POST", "/api/queries/stream", json{{"sql", "SELECT count(*) FROM raw.t"}})
          .body);
  ASSERT_EQ(ok.size(), 3u);
  EXPECT_EQ(ok.back()["done"], true);
}

TEST_F(ConsoleApiTest, StreamedDmlReturnsItsTagAndSnapshot) {
  Login l = login("admin", "adminpw");
  auto created = ndjson(
      call(l, "POST", "/api/queries/stream", json{{"sql", "CREATE TABLE raw.streamed (x INT)"}})
          .body);
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[0]["columns"], json::array());
  EXPECT_EQ(created[1]["tag"], "CREATE TABLE");
  auto inserted = ndjson(call(l, "POST", "/api/queries/stream",
                              json{{"sql", "INSERT INTO raw.streamed VALUES (1), (2), (3);"}})
                             .body);
  ASSERT_EQ(inserted.size(), 2u);
  EXPECT_EQ(inserted[1]["tag"], "INSERT 0 3");
  EXPECT_TRUE(inserted[1]["snapshot_id"].is_number()) << inserted[1].dump();
  auto count = ndjson(call(l, "POST", "/api/queries/stream",
                           json{{"sql", "SELECT count(*) AS n FROM raw.streamed"}})
                          .body);
  ASSERT_EQ(count.size(), 3u);
  EXPECT_EQ(count[1]["rows"][0][0], "3");
}

TEST_F(ConsoleApiTest, CancelEndsAStreamWithACancelledLine) {
  Login l = login("admin", "adminpw");
  std::string body = json{
      {"sql", "SELECT i FROM range(100000000000) t(i)"},
      {"limit", 10000000},
      {"id", "flow"}}.dump();
  RawRequest req(port_, "POST /api/queries/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " +
                            l.cookie + "\r\nX-Sluice-CSRF: " + l.csrf +
                            "\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(req.ok());
  // Rows arrive while the query is still running.
  ASSERT_TRUE(req.read_until("{\"rows\":")) << req.got.substr(0, 300);
  auto listed = json::parse(call(l, "GET", "/api/queries").body);
  bool running = false;
  for (const auto& q : listed["queries"])
    running = running || q["id"] == "flow";
  EXPECT_TRUE(running) << listed.dump();
  auto c = call(l, "POST", "/api/queries/flow/cancel");
  EXPECT_EQ(c.status, 202) << c.body;
  ASSERT_TRUE(req.read_until("\r\n0\r\n\r\n")) << req.got.size();
  auto lines = ndjson(req.body());
  ASSERT_GE(lines.size(), 3u);
  const json& last = lines.back();
  ASSERT_TRUE(last.contains("error")) << last.dump();
  EXPECT_EQ(last["error"]["code"], "cancelled");
  EXPECT_EQ(last["error"]["message"], "query cancelled");
  int64_t rows = 0;
  for (size_t i = 1; i + 1 < lines.size(); ++i)
    rows += static_cast<int64_t>(lines[i]["rows"].size());
  EXPECT_GT(rows, 0);
  EXPECT_LT(rows, 10000000);
  EXPECT_EQ(last["row_count"], rows);
  // The id is free again.
  EXPECT_EQ(call(l, "POST", "/api/queries/flow/cancel").status, 404);
}

TEST_F(ConsoleApiTest, AClientThatGoesAwayEndsItsStreamedQuery) {
  Login l = login("admin", "adminpw");
  std::string body = json{
      {"sql", "SELECT i FROM range(100000000000) t(i)"},
      {"limit", 10000000},
      {"id", "gone"}}.dump();
  {
    RawRequest req(port_, "POST /api/queries/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " +
                              l.cookie + "\r\nX-Sluice-CSRF: " + l.csrf +
                              "\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
    ASSERT_TRUE(req.read_until("{\"rows\":"));
  }  // closed mid-stream
  bool still_running = true;
  for (int i = 0; i < 300 && still_running; ++i) {
    still_running = false;
    for (const auto& q : json::parse(call(l, "GET", "/api/queries").body)["queries"])
      still_running = still_running || q["id"] == "gone";
    if (still_running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(still_running) << "the query kept running after its client left";
}

}  // namespace

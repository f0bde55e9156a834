// `sluice gateway` against real peers: psql, psycopg2, SQLAlchemy, plus a raw protocol client
// for the extended protocol with binary formats, SCRAM failures and malformed messages. One
// gateway serves the whole suite; each check has its own time limit.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <random>
#include <thread>

#include "gateway/pg_wire.h"
#include "governance/scram.h"
#include "support/sluice_process.h"

namespace sluice::gateway {
namespace {

using sluice::testing::CommandResult;
using sluice::testing::run_command;
using sluice::testing::SluiceProcess;

// `sluice gateway` under `dir` (data in <dir>/data) with two session threads.
SluiceProcess::Options gateway_options(const std::filesystem::path& dir,
                                       const std::string& config_toml = "") {
  return sluice::testing::server_options(dir, "gateway",
                                         "[gateway]\nsession_threads = 2\n" + config_toml);
}

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("sluice_gateway_" + std::to_string(::getpid())));
    std::filesystem::remove_all(*dir_);
    std::filesystem::create_directories(*dir_);
    std::string s = sluice_cmd();
    CommandResult r = run_command(
        "set -e\n"
        "SLUICE_USER_PASSWORD=adminpw " +
            s +
            " user add admin --admin\n"
            "printf 'readerpw\\n' | " +
            s + " user add reader --password-stdin\n" + s + " user grant reader read raw\n" +
            "printf 'writerpw\\n' | " + s + " user add writer --password-stdin\n" + s +
            " user grant writer write raw\n" + s +
            " sql -e \"CREATE TABLE raw.t (id INT, s VARCHAR, amount DECIMAL(10,2), ts "
            "TIMESTAMP)\"" +
            " -e \"INSERT INTO raw.t VALUES (1, 'a', 3.50, '2024-01-02 03:04:05'), (2, NULL, "
            "-1.25, "
            "NULL), (3, 'c', 0, '2024-05-01')\" -e \"CREATE TABLE curated.secret (x INT)\"" +
            " -e \"CREATE TABLE raw.metrics (ts TIMESTAMP, host VARCHAR, value DOUBLE, ts_epoch "
            "BIGINT)\" -e \"INSERT INTO raw.metrics VALUES ('2026-11-01 00:00:10', 'a', 1.0, "
            "1793491210), ('2026-11-01 00:00:50', 'a', 3.0, 1793491250), ('2026-11-01 00:01:20', "
            "'b', 10.0, 1793491280), ('2026-11-01 02:00:00', 'a', 99.0, 1793498400)\"\n",
        *dir_);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    gateway_ = new SluiceProcess(*dir_, "gateway", gateway_options(*dir_));
    ASSERT_TRUE(gateway_->start()) << gateway_->log();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string sluice_cmd() {
    return std::string("'") + SLUICE_BINARY + "' --data-dir '" + (*dir_ / "data").string() + "'";
  }
  static std::string psql(const std::string& user, const std::string& pw) {
    return "PGPASSWORD=" + pw + " PGCONNECT_TIMEOUT=10 /usr/bin/psql -h 127.0.0.1 -p " +
           std::to_string(gateway_->port()) + " -U " + user +
           " -d sluice -X -A -t -v ON_ERROR_STOP=1";
  }
  static CommandResult python(const std::string& check, const std::string& user = "admin",
                              const std::string& pw = "adminpw", const std::string& extra = "",
                              int timeout_s = 60) {
    return run_command(
        "/usr/bin/python3 '" SLUICE_SOURCE_DIR "/tests/gateway/pg_client_checks.py' " + check +
            " " + std::to_string(gateway_->port()) + " " + user + " " + pw + " " + extra,
        *dir_, timeout_s);
  }

  static std::filesystem::path* dir_;
  static SluiceProcess* gateway_;
};

std::filesystem::path* GatewayTest::dir_ = nullptr;
SluiceProcess* GatewayTest::gateway_ = nullptr;

TEST_F(GatewayTest, PsqlListsAndDescribesLakeTables) {
  CommandResult r = run_command(psql("admin", "adminpw") + " -c '\\dt'", *dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("raw|t|table|"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("curated|secret|table|"), std::string::npos) << r.out;
  r = run_command(psql("admin", "adminpw") + " -c '\\d raw.t'", *dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("amount|numeric(10,2)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ts|timestamp without time zone"), std::string::npos) << r.out;
  r = run_command(psql("admin", "adminpw") + " -c '\\dn'", *dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("refined|"), std::string::npos) << r.out;
  r = run_command(psql("admin", "adminpw") + " -c '\\l'", *dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("sluice|"), std::string::npos) << r.out;
}

TEST_F(GatewayTest, PsqlQueriesAndCopy) {
  CommandResult r = run_command(
      psql("reader", "readerpw") +
          " -c 'SELECT id, s, amount, ts FROM raw.t ORDER BY id' -c 'SHOW server_version'",
      *dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "1|a|3.50|2024-01-02 03:04:05\n2||-1.25|\n3|c|0.00|2024-05-01 00:00:00\n"
            "15.0 (Sluice)\n");
  r = run_command(psql("admin", "adminpw") +
                      " -c 'COPY (SELECT id, s FROM raw.t ORDER BY id) TO STDOUT WITH (FORMAT "
                      "csv, HEADER)' -c 'COPY (SELECT id, s FROM raw.t ORDER BY id) TO STDOUT'",
                  *dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "id,s\n1,a\n2,\n3,c\n1\ta\n2\t\\N\n3\tc\n");
  r = run_command(psql("admin", "adminpw") + " -c 'SELECT * FROM raw.nope'", *dir_);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.code << r.out << r.err;
}

TEST_F(GatewayTest, PsycopgSimpleQueriesAndParameters) {
  CommandResult r = python("basic");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  r = python("errors");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

TEST_F(GatewayTest, WrongPasswordIsRefused) {
  CommandResult r = python("wrong_password");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(gateway_->log().find("gateway authentication failed"), std::string::npos);
}

TEST_F(GatewayTest, ReadOnlyUserCannotWrite) {
  CommandResult r = python("readonly", "reader", "readerpw");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::string log = gateway_->log();
  EXPECT_NE(log.find("gateway permission denied user=reader table=raw.t action=insert"),
            std::string::npos)
      << log;
}

// An open session sees tables and namespaces other processes create, commit to and drop, and
// grants other processes revoke, from its next statement.
TEST_F(GatewayTest, SessionSeesOtherProcessesChangesOnNextQuery) {
  std::string extra = std::string("'") + SLUICE_BINARY + "' '" + (*dir_ / "data").string() + "'";
  CommandResult r = python("invalidation", "admin", "adminpw", extra);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  r = python("revoke", "admin", "adminpw", extra);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

TEST_F(GatewayTest, WritesCommitToTheLake) {
  CommandResult r = python("write");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

// Every lake type's OID and text form as psycopg2 parses them, stored and read back.
TEST_F(GatewayTest, PsycopgSeesEveryTypeWithItsOidAndValue) {
  CommandResult r = python("types");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

// The README's pandas example, and pandas over SQLAlchemy.
TEST_F(GatewayTest, PandasReadsLakeTables) {
  CommandResult r = python("pandas", "reader", "readerpw");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok pandas 3 rows"), std::string::npos) << r.out;
}

// A user with only a write grant on raw: UPDATE and MERGE commit, a write failing half-way
// commits nothing, writes elsewhere get 42501.
TEST_F(GatewayTest, WriterGrantUpdatesMergesAndFailsAtomically) {
  std::string extra = std::string("'") + SLUICE_BINARY + "' '" + (*dir_ / "data").string() + "'";
  CommandResult r = python("writer", "writer", "writerpw", extra);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

// `sluice user passwd` on a running gateway: the next login needs the new password.
TEST_F(GatewayTest, PasswdChangesTheNextLogin) {
  std::string s = sluice_cmd();
  CommandResult r =
      run_command("set -e\nprintf 'old-pw\\n' | " + s + " user add pw_user --password-stdin\n" + s +
                      " user grant pw_user read raw\n",
                  *dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  r = run_command(psql("pw_user", "old-pw") + " -c 'SELECT count(*) FROM raw.t'", *dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "3\n");
  r = run_command("printf 'new-pw\\n' | " + s + " user passwd pw_user --password-stdin", *dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  r = run_command(psql("pw_user", "old-pw") + " -c 'SELECT 1'", *dir_);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("password authentication failed"), std::string::npos) << r.err;
  r = run_command(psql("pw_user", "new-pw") + " -c 'SELECT count(*) FROM raw.t'", *dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "3\n");
  // The file keeps a SCRAM verifier, never the password.
  std::string users = sluice::testing::slurp(*dir_ / "data" / "governance" / "users.json");
  EXPECT_EQ(users.find("new-pw"), std::string::npos);
  EXPECT_NE(users.find("SCRAM-SHA-256$"), std::string::npos) << users.substr(0, 300);
}

TEST_F(GatewayTest, CancelAndStatementTimeout) {
  CommandResult r = python("cancel");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  r = python("timeout");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

TEST_F(GatewayTest, ConcurrentSessions) {
  CommandResult r = python("concurrent");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

TEST_F(GatewayTest, SqlAlchemyReflection) {
  CommandResult r = python("sqlalchemy");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

// JDBC (Debian's PostgreSQL driver): DatabaseMetaData introspection, prepared statements with
// typed getters, and the no-grant error, for a read-only user and an admin.
// The statements Grafana's PostgreSQL data source sends (health check, version and
// TimescaleDB detection, table and column lists, macro-expanded time series), as a read-only
// user the way a Grafana data source should be set up.
TEST_F(GatewayTest, GrafanaDataSourceQueries) {
  CommandResult r =
      run_command("/usr/bin/python3 '" SLUICE_SOURCE_DIR "/tests/gateway/grafana_checks.py' " +
                      std::to_string(gateway_->port()) + " reader readerpw",
                  *dir_);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok time series"), std::string::npos) << r.out;
}

TEST_F(GatewayTest, JdbcMetadataAndPreparedStatements) {
  for (auto [user, pw] : {std::pair{"reader", "readerpw"}, std::pair{"admin", "adminpw"}}) {
    CommandResult r = run_command("java -cp /usr/share/java/postgresql.jar '" SLUICE_SOURCE_DIR
                                  "/tests/gateway/JdbcChecks.java' " +
                                      std::to_string(gateway_->port()) + " " + user + " " + pw,
                                  *dir_, 120);
    EXPECT_EQ(r.code, 0) << user << ":\n" << r.out << r.err;
    EXPECT_EQ(r.out, "ok\n") << user;
  }
}

TEST_F(GatewayTest, LargeResultStreamsInBoundedMemory) {
  std::atomic<bool> done{false};
  std::atomic<long> peak_kb{0};
  std::thread sampler([&] {
    std::string status = "/proc/" + std::to_string(gateway_->pid()) + "/status";
    while (!done) {
      std::string text = sluice::testing::slurp(status);
      auto at = text.find("VmRSS:");
      if (at != std::string::npos)
        peak_kb = std::max(peak_kb.load(), std::atol(text.c_str() + at + 6));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  CommandResult r = python("large", "admin", "adminpw", "5000000", 120);
  done = true;
  sampler.join();
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok large 5000000"), std::string::npos);
  EXPECT_GT(peak_kb.load(), 0);
  EXPECT_LT(peak_kb.load(), 1024L * 1024) << "gateway RSS peaked at " << peak_kb << " kB";
  // A client that disconnects mid-result leaves the gateway serving others.
  r = python("disconnect");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

// --- a raw protocol client ---------------------------------------------------------------------

class RawClient {
 public:
  explicit RawClient(int port) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  }
  void send_raw(const std::string& bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes));
  }
  void send(char type, const std::string& body) {
    Writer w;
    w.begin(type);
    w.raw(body);
    w.end();
    send_raw(w.buffer());
  }
  // Reads one message; type 0 when the server closed the connection.
  std::pair<char, std::string> read() {
    char head[5];
    boost::system::error_code ec;
    boost::asio::read(socket_, boost::asio::buffer(head, 5), ec);
    if (ec) return {0, ""};
    Reader r(std::string_view(head + 1, 4));
    int32_t len = *r.i32();
    std::string body(static_cast<size_t>(len - 4), '\0');
    boost::asio::read(socket_, boost::asio::buffer(body), ec);
    if (ec) return {0, ""};
    return {head[0], body};
  }
  // Reads until a message of `type` (returned) or the connection closes.
  std::pair<char, std::string> read_until(
      char type, std::vector<std::pair<char, std::string>>* seen = nullptr) {
    while (true) {
      auto m = read();
      if (seen != nullptr) seen->push_back(m);
      if (m.first == type || m.first == 0) return m;
    }
  }
  void startup(const std::string& user) {
    Writer w;
    w.i32(0);
    w.i32(kProtocolV3);
    w.cstr("user");
    w.cstr(user);
    w.cstr("database");
    w.cstr("sluice");
    w.i8(0);
    w.patch_i32(0, static_cast<int32_t>(w.size()));
    send_raw(w.buffer());
  }
  // SCRAM-SHA-256; returns the message answering the final step.
  std::pair<char, std::string> login(const std::string& user, const std::string& password) {
    startup(user);
    auto m = read();
    EXPECT_EQ(m.first, 'R');
    governance::ScramClient scram(password);
    std::string first = scram.client_first();
    Writer w;
    w.cstr("SCRAM-SHA-256");
    w.i32(static_cast<int32_t>(first.size()));
    w.raw(first);
    send('p', w.buffer());
    m = read();
    EXPECT_EQ(m.first, 'R');
    auto final_msg = scram.client_final(m.second.substr(4));
    EXPECT_TRUE(final_msg.is_ok());
    send('p', *final_msg);
    return read();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
};

std::string error_code_of(const std::string& body) {
  size_t at = body.find('C');
  while (at != std::string::npos && at > 0 && body[at - 1] != '\0')
    at = body.find('C', at + 1);
  return at == std::string::npos ? "" : body.substr(at + 1, 5);
}

TEST_F(GatewayTest, RawScramWrongPasswordIs28P01) {
  RawClient c(gateway_->port());
  auto m = c.login("admin", "not-the-password");
  ASSERT_EQ(m.first, 'E');
  EXPECT_EQ(error_code_of(m.second), "28P01");
  EXPECT_EQ(c.read().first, 0);  // closed
}

TEST_F(GatewayTest, ExtendedProtocolWithBinaryFormats) {
  RawClient c(gateway_->port());
  auto m = c.login("admin", "adminpw");
  ASSERT_EQ(m.first, 'R');  // SASLFinal
  ASSERT_EQ(c.read_until('Z').first, 'Z');
  // Parse a named statement with an int4 parameter.
  Writer p;
  p.cstr("s1");
  p.cstr("SELECT id, amount, ts, s FROM raw.t WHERE id >= $1 ORDER BY id");
  p.i16(1);
  p.i32(23);
  c.send('P', p.buffer());
  // Bind: the parameter in binary (int4 2), results binary except s (text).
  Writer b;
  b.cstr("");
  b.cstr("s1");
  b.i16(1);
  b.i16(1);
  b.i16(1);
  b.i32(4);
  b.i32(2);
  b.i16(4);
  b.i16(1);
  b.i16(1);
  b.i16(1);
  b.i16(0);
  c.send('B', b.buffer());
  Writer d;
  d.i8('P');
  d.cstr("");
  c.send('D', d.buffer());
  Writer e;
  e.cstr("");
  e.i32(1);  // one row, then PortalSuspended
  c.send('E', e.buffer());
  c.send('E', e.buffer());
  c.send('S', "");
  std::vector<std::pair<char, std::string>> seen;
  ASSERT_EQ(c.read_until('Z', &seen).first, 'Z');
  std::string types;
  for (const auto& [t, _] : seen)
    types += t;
  EXPECT_EQ(types, "12TDsDsZ") << types;
  // Row 1: id=2 as int4, amount -1.25 as numeric binary, ts NULL, s NULL.
  Reader r(seen[3].second);
  EXPECT_EQ(*r.i16(), 4);
  EXPECT_EQ(*r.i32(), 4);
  EXPECT_EQ(*r.i32(), 2);
  int32_t numeric_len = *r.i32();
  auto numeric = *r.bytes(static_cast<size_t>(numeric_len));
  Reader n(numeric);
  EXPECT_EQ(*n.i16(), 2);       // ndigits: 1, 2500
  EXPECT_EQ(*n.i16(), 0);       // weight
  EXPECT_EQ(*n.i16(), 0x4000);  // negative
  EXPECT_EQ(*n.i16(), 2);       // dscale
  EXPECT_EQ(*r.i32(), -1);
  EXPECT_EQ(*r.i32(), -1);
  // Row 2: id 3, ts 2024-05-01 as microseconds since 2000-01-01, s 'c' in text.
  Reader r2(seen[5].second);
  EXPECT_EQ(*r2.i16(), 4);
  EXPECT_EQ(*r2.i32(), 4);
  EXPECT_EQ(*r2.i32(), 3);
  (void)r2.bytes(static_cast<size_t>(*r2.i32()));
  EXPECT_EQ(*r2.i32(), 8);
  int64_t hi = *r2.i32(), lo = static_cast<uint32_t>(*r2.i32());
  EXPECT_EQ((hi << 32) | lo, 767836800LL * 1000000);
  EXPECT_EQ(*r2.i32(), 1);
  EXPECT_EQ(*r2.bytes(1), "c");
  // Errors in the extended protocol skip to Sync; the session stays usable.
  Writer bad;
  bad.cstr("");
  bad.cstr("SELECT nope FROM raw.t");
  bad.i16(0);
  c.send('P', bad.buffer());
  c.send('B', b.buffer());
  c.send('S', "");
  seen.clear();
  c.read_until('Z', &seen);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(error_code_of(seen[0].second), "42703");
}

// Bind + Execute of a statement parsed earlier sees what other processes committed since, and
// the grants as they are now: the gateway's caches (namespaces, users.json) must not hide either.
TEST_F(GatewayTest, ExtendedProtocolSeesOtherProcessesCommitsAndRevokes) {
  std::string s = sluice_cmd();
  CommandResult r = run_command(
      "set -e\n" + s +
          " sql -e 'CREATE TABLE raw.ext_t (x INT)' -e 'INSERT INTO raw.ext_t VALUES (1)'\n" +
          "SLUICE_USER_PASSWORD=extpw " + s + " user add ext_user\n" + s +
          " user grant ext_user read raw.ext_t\n",
      *dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  RawClient c(gateway_->port());
  ASSERT_EQ(c.login("ext_user", "extpw").first, 'R');
  ASSERT_EQ(c.read_until('Z').first, 'Z');
  Writer p;
  p.cstr("e1");
  p.cstr("SELECT sum(x)::VARCHAR FROM raw.ext_t");
  p.i16(0);
  c.send('P', p.buffer());
  // Bind, Execute, Sync; the first DataRow's first field, or "error <SQLSTATE>".
  auto run = [&]() -> std::string {
    Writer b;
    b.cstr("");
    b.cstr("e1");
    b.i16(0);
    b.i16(0);
    b.i16(0);
    c.send('B', b.buffer());
    Writer e;
    e.cstr("");
    e.i32(0);
    c.send('E', e.buffer());
    c.send('S', "");
    std::vector<std::pair<char, std::string>> seen;
    c.read_until('Z', &seen);
    for (const auto& [type, body] : seen) {
      if (type == 'E') return "error " + error_code_of(body);
      if (type != 'D') continue;
      Reader d(body);
      if (*d.i16() < 1) return "no columns";
      int32_t len = *d.i32();
      return len < 0 ? "null" : body.substr(6, static_cast<size_t>(len));
    }
    return "no rows";
  };
  EXPECT_EQ(run(), "1");
  // Long enough for the session's cached file times to be trusted.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(run(), "1");
  r = run_command(s + " sql -e 'INSERT INTO raw.ext_t VALUES (10), (100)'", *dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(run(), "111");
  r = run_command(s + " user revoke ext_user read raw.ext_t", *dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(run(), "error 42501");
  r = run_command(s + " user grant ext_user read raw", *dir_);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(run(), "111");
}

TEST_F(GatewayTest, MalformedAndRandomMessagesDoNotHurtTheServer) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    RawClient c(gateway_->port());
    if (i % 2 == 0) {
      ASSERT_EQ(c.login("admin", "adminpw").first, 'R');
      c.read_until('Z');
    }
    std::string junk(static_cast<size_t>(rng() % 64), '\0');
    for (auto& ch : junk)
      ch = static_cast<char>(rng());
    if (i % 4 == 0) junk = std::string("B\0\0\0\x08\xff\xff\xff\xff", 9);  // truncated Bind
    c.send_raw(junk);
    // The server answers with an error or closes; it never hangs (read has a hard timeout via
    // the closing below) and keeps serving new clients.
  }
  CommandResult r = run_command(psql("admin", "adminpw") + " -c 'SELECT 42'", *dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "42\n");
}

// TLS: with gateway.tls_cert/tls_key set, psql's sslmode=require gets an encrypted session; a
// gateway without a certificate refuses SSLRequest, so sslmode=require fails and sslmode=prefer
// falls back to plain text.
TEST(GatewayTls, PsqlSslModeRequire) {
  auto dir =
      std::filesystem::temp_directory_path() / ("sluice_gateway_tls_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string s =
      std::string("'") + SLUICE_BINARY + "' --data-dir '" + (dir / "data").string() + "'";
  CommandResult setup = run_command(
      "set -e\n"
      "cd '" +
          dir.string() +
          "'\n"
          "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 "
          "-subj /CN=localhost 2>/dev/null\n"
          "SLUICE_USER_PASSWORD=tlspw " +
          s + " user add tls --admin\n" + "SLUICE_USER_PASSWORD=tlspw '" + SLUICE_BINARY +
          "' --data-dir '" + (dir / "plain" / "data").string() + "' user add tls --admin\n",
      dir);
  ASSERT_EQ(setup.code, 0) << setup.out << setup.err;
  auto psql = [&](int port, const std::string& mode, const std::string& cmd) {
    return run_command(
        "PGPASSWORD=tlspw PGCONNECT_TIMEOUT=10 /usr/bin/psql \"host=127.0.0.1 port=" +
            std::to_string(port) + " user=tls dbname=sluice sslmode=" + mode + "\" -X -A -t -c '" +
            cmd + "'",
        dir);
  };
  {
    SluiceProcess tls(
        dir, "gateway",
        gateway_options(dir, "tls_cert = \"" + (dir / "cert.pem").string() + "\"\ntls_key = \"" +
                                 (dir / "key.pem").string() + "\"\n"));
    ASSERT_TRUE(tls.start()) << tls.log();
    auto info = psql(tls.port(), "require", "\\conninfo");
    ASSERT_EQ(info.code, 0) << info.out << info.err;
    EXPECT_NE(info.out.find("SSL connection (protocol: TLS"), std::string::npos) << info.out;
    auto q = psql(tls.port(), "require", "select 6 * 7");
    EXPECT_EQ(q.code, 0) << q.err;
    EXPECT_EQ(q.out, "42\n");
  }
  {
    SluiceProcess plain(dir / "plain", "gateway", gateway_options(dir / "plain"));
    ASSERT_TRUE(plain.start()) << plain.log();
    auto refused = psql(plain.port(), "require", "select 1");
    EXPECT_NE(refused.code, 0);
    EXPECT_NE((refused.out + refused.err).find("server does not support SSL"), std::string::npos)
        << refused.out << refused.err;
    auto prefer = psql(plain.port(), "prefer", "\\conninfo");
    EXPECT_EQ(prefer.code, 0) << prefer.err;
    EXPECT_EQ(prefer.out.find("SSL connection"), std::string::npos) << prefer.out;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::gateway

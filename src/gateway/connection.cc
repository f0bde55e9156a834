// One client connection: startup, SCRAM authentication, then the simple and extended query
// protocols ("Message Flow" chapter of the PostgreSQL docs).
#include <duckdb.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <optional>

#include "common/log.h"
#include "engine/lake_session.h"
#include "gateway/pg_catalog_internal.h"
#include "gateway/pg_types.h"
#include "gateway/pg_wire.h"
#include "gateway/server_internal.h"
#include "gateway/sql_scan_internal.h"
#include "governance/governance.h"
#include "lake/lake.h"

namespace sluice::gateway {

namespace asio = boost::asio;
using asio::ip::tcp;
using detail::StatementKind;
using detail::Token;

namespace {

constexpr const char* kServerVersion = "15.0 (Sluice)";
constexpr const char* kServerVersionNum = "150000";  // current_setting('server_version_num')
constexpr size_t kFlushBytes = 256 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string quote_ident(const std::string& s) {
  bool plain = !s.empty() && (std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_');
  for (char c : s)
    plain = plain && (std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  if (plain) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// "5s", "250ms", "1min", "5000" (milliseconds) -> milliseconds.
Result<int64_t> parse_duration_ms(std::string v) {
  v = lower(v);
  while (!v.empty() && v.back() == ' ')
    v.pop_back();
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.'))
    ++i;
  if (i == 0)
    return invalid_argument(fmt::format("invalid value for statement_timeout: \"{}\"", v));
  double n = std::stod(v.substr(0, i));
  std::string unit = v.substr(i);
  while (!unit.empty() && unit[0] == ' ')
    unit.erase(0, 1);
  double ms = n;
  if (unit.empty() || unit == "ms") {
    ms = n;
  } else if (unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") {
    ms = n * 1000;
  } else if (unit == "min" || unit == "minute" || unit == "minutes") {
    ms = n * 60000;
  } else if (unit == "h" || unit == "hour" || unit == "hours") {
    ms = n * 3600000;
  } else if (unit == "us") {
    ms = n / 1000;
  } else {
    return invalid_argument(fmt::format("invalid value for statement_timeout: \"{}\"", v));
  }
  return static_cast<int64_t>(ms);
}

// What tells that a file changed: users.json is replaced by a rename, so its inode changes on
// every save; mtime and size catch in-place writes.
struct FileStamp {
  bool present = false;
  uint64_t ino = 0;
  int64_t mtime_ns = 0;
  int64_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return FileStamp{true, static_cast<uint64_t>(st.st_ino),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                   static_cast<int64_t>(st.st_size)};
}

// File system timestamps advance in coarse ticks: a change made in the same tick as the one a
// cache was keyed on would leave the timestamp equal. A cache is trusted only when its key
// timestamp is older than this when it was filled; until then it is refilled on every use.
constexpr std::chrono::seconds kTimestampSettle{1};

// A statement prepared by Parse (or by a simple Query).
struct Statement {
  std::string sql;  // as the client sent it
  std::vector<Token> tokens;
  StatementKind kind = StatementKind::kEmpty;
  std::vector<int32_t> param_oids;
  // kQuery: the DuckDB statement and its result columns.
  std::optional<engine::PreparedStatement> prepared;
  std::string prepared_sql;
  bool empty_catalog = false;  // a query over catalogs Sluice keeps empty: no rows, no columns
  // Just prepared by a simple Query that executes it next: its lake tables are bound already.
  bool fresh = false;
  std::vector<std::string> col_names;
  std::vector<PgType> col_types;
};

// An executing result: a DuckDB stream and its encoders.
struct RowStream {
  std::optional<engine::StreamingResult> result;
  std::vector<ColumnEncoder> encoders;
  engine::DataChunk chunk;
  uint64_t row = 0;
  bool exhausted = false;
};

struct Portal {
  std::shared_ptr<Statement> stmt;
  std::vector<std::optional<std::string>> params;
  std::vector<int16_t> formats;  // result formats, per column
  RowStream stream;
  bool started = false;
  int64_t sent = 0;
  bool binary_cursor = false;
};

class Connection {
 public:
  Connection(GatewayImpl& gw, tcp::socket socket) : gw_(gw), socket_(std::move(socket)) {}
  ~Connection();
  void run(bool refuse);

 private:
  // --- I/O ---
  Status read_exact(char* buf, size_t n);
  Status write_all(const char* buf, size_t n);
  Status flush();
  Status maybe_flush() { return out_.size() >= kFlushBytes ? flush() : Status::ok(); }
  Result<std::string> read_startup_packet();
  // Reads one typed message.
  Status read_message(char& type, std::string& body);

  // --- startup ---
  Status startup();
  Status authenticate(const std::string& user);
  Status open_session();
  void send_parameter_status(std::string_view name, std::string_view value);
  void send_ready();
  void send_error(const ErrorFields& e);
  void send_error(const Status& st, std::string_view query = {});

  // --- statements ---
  Status simple_query(const std::string& text);
  Result<std::shared_ptr<Statement>> prepare_statement(const std::string& sql,
                                                       const std::vector<int32_t>& param_oids);
  Status prepare_query(Statement& s);
  Status authorize(const std::vector<Token>& t, StatementKind kind);
  Status refresh_user();
  Result<std::string> qualify(const std::string& sql);
  Result<std::string> bind_lake(const std::string& sql);
  Status refresh_catalog();
  Result<std::set<std::string>> lake_namespaces();
  // Executes a portal: rows (up to max_rows when > 0) and the completion message.
  Status execute(Portal& p, int64_t max_rows, bool describe_rows, bool& suspended);
  Status start_stream(Portal& p);
  Status send_rows(RowStream& rs, int64_t max_rows, int64_t& sent);
  void send_row_description(const Statement& s, const std::vector<int16_t>& formats);
  Status run_other(Portal& p, bool describe_rows);
  Status run_set(const Statement& s);
  Status run_show(const Statement& s, bool describe_rows);
  Status run_copy(const Statement& s);
  Status run_declare(const Statement& s);
  Status run_fetch(const Statement& s);
  Status bind_params(Statement& s, const std::vector<std::optional<std::string>>& params);
  void close_cursors();
  void set_setting(const std::string& name, const std::string& value);
  void update_session_macros();
  void begin_query();
  InterruptReason end_query();

  // --- extended protocol ---
  Status handle_parse(const std::string& body);
  Status handle_bind(const std::string& body);
  Status handle_describe(const std::string& body);
  Status handle_execute(const std::string& body);
  Status handle_close(const std::string& body);

  GatewayImpl& gw_;
  tcp::socket socket_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
  Writer out_;
  std::string peer_;

  std::string user_name_;
  std::string database_;
  governance::User user_;
  // users.json as user_ was read from it: (inode, mtime, size). Any change re-reads the user, so
  // a grant or revoke by another process applies from the session's next statement.
  std::filesystem::path users_file_;
  FileStamp users_stamp_;
  bool users_stamp_trusted_ = false;
  // Lake namespaces as last listed, with the warehouse folder's mtime then.
  std::set<std::string> ns_cache_;
  std::filesystem::file_time_type ns_mtime_;
  bool ns_trusted_ = false;
  std::shared_ptr<SessionControl> control_;
  std::shared_ptr<engine::Database> db_;
  std::shared_ptr<lake::Catalog> catalog_;
  std::optional<engine::LakeSession> lake_;

  char tx_ = 'I';
  bool ignore_till_sync_ = false;
  std::map<std::string, std::string> settings_;
  std::vector<std::string> search_path_ = {"main"};
  int64_t statement_timeout_ms_ = 0;
  std::map<std::string, std::shared_ptr<Statement>> statements_;
  std::map<std::string, std::unique_ptr<Portal>> portals_;
  std::map<std::string, std::unique_ptr<Portal>> cursors_;
  // The portal or cursor whose DuckDB stream is open (DuckDB runs one result per connection).
  Portal* streaming_ = nullptr;
  InterruptReason last_interrupt_ = InterruptReason::kNone;
};

Connection::~Connection() {
  portals_.clear();
  cursors_.clear();
  statements_.clear();
  if (control_) {
    {
      std::lock_guard<std::mutex> lock(control_->mu);
      control_->session = nullptr;
      control_->socket_fd = -1;
    }
    gw_.unregister_session(control_->pid);
  }
}

// --- I/O ---------------------------------------------------------------------------------------

Status Connection::read_exact(char* buf, size_t n) {
  boost::system::error_code ec;
  if (tls_) {
    asio::read(*tls_, asio::buffer(buf, n), ec);
  } else {
    asio::read(socket_, asio::buffer(buf, n), ec);
  }
  if (ec) return unavailable(fmt::format("client connection: {}", ec.message()));
  return Status::ok();
}

Status Connection::write_all(const char* buf, size_t n) {
  boost::system::error_code ec;
  if (tls_) {
    asio::write(*tls_, asio::buffer(buf, n), ec);
  } else {
    asio::write(socket_, asio::buffer(buf, n), ec);
  }
  if (ec) return unavailable(fmt::format("client connection: {}", ec.message()));
  return Status::ok();
}

Status Connection::flush() {
  if (out_.size() == 0) return Status::ok();
  Status st = write_all(out_.buffer().data(), out_.size());
  out_.clear();
  return st;
}

Result<std::string> Connection::read_startup_packet() {
  char len_buf[4];
  SLUICE_RETURN_IF_ERROR(read_exact(len_buf, 4));
  Reader r(std::string_view(len_buf, 4));
  SLUICE_ASSIGN_OR_RETURN(int32_t len, r.i32());
  if (len < 8 || len > 10000) return invalid_argument("malformed startup packet length");
  std::string body(static_cast<size_t>(len - 4), '\0');
  SLUICE_RETURN_IF_ERROR(read_exact(body.data(), body.size()));
  return body;
}

Status Connection::read_message(char& type, std::string& body) {
  char head[5];
  SLUICE_RETURN_IF_ERROR(read_exact(head, 5));
  type = head[0];
  Reader r(std::string_view(head + 1, 4));
  SLUICE_ASSIGN_OR_RETURN(int32_t len, r.i32());
  if (len < 4 || static_cast<size_t>(len) > kMaxMessageBytes) {
    return invalid_argument(fmt::format("malformed message '{}': length {}", type, len));
  }
  body.resize(static_cast<size_t>(len - 4));
  if (!body.empty()) SLUICE_RETURN_IF_ERROR(read_exact(body.data(), body.size()));
  return Status::ok();
}

void Connection::send_parameter_status(std::string_view name, std::string_view value) {
  out_.begin('S');
  out_.cstr(name);
  out_.cstr(value);
  out_.end();
}

void Connection::send_ready() {
  out_.begin('Z');
  out_.i8(static_cast<uint8_t>(tx_));
  out_.end();
}

void Connection::send_error(const ErrorFields& e) {
  write_error(out_, e);
}

void Connection::send_error(const Status& st, std::string_view query) {
  send_error(error_fields(st, query, last_interrupt_));
}

// --- startup -----------------------------------------------------------------------------------

void Connection::run(bool refuse) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  peer_ = ec ? "?" : fmt::format("{}:{}", ep.address().to_string(), ep.port());
  socket_.set_option(tcp::no_delay(true), ec);
  Status st = startup();
  if (!st.is_ok()) {
    if (st.code() != StatusCode::kUnavailable && st.code() != StatusCode::kCancelled) {
      log::debug("gateway connection ended",
                 {log::kv("peer", peer_), log::kv("reason", st.message())});
    }
    (void)flush();
    return;
  }
  if (refuse) {
    send_error(ErrorFields{"FATAL", sqlstate::kTooManyConnections,
                           "sorry, too many clients already (gateway.max_connections)"});
    (void)flush();
    return;
  }
  st = open_session();
  if (!st.is_ok()) {
    log::error("gateway cannot open a session", {log::kv("error", st.message())});
    ErrorFields e = error_fields(st);
    e.severity = "FATAL";
    send_error(e);
    (void)flush();
    return;
  }
  log::info("gateway session started",
            {log::kv("user", user_name_), log::kv("peer", peer_), log::kv("pid", control_->pid)});
  send_ready();
  st = flush();
  while (st.is_ok()) {
    char type = 0;
    std::string body;
    st = read_message(type, body);
    if (!st.is_ok()) break;
    if (type == 'X') break;
    if (ignore_till_sync_ && type != 'S') continue;
    switch (type) {
      case 'Q': {
        Reader r(body);
        auto q = r.cstr();
        if (!q.is_ok()) {
          st = q.status();
          break;
        }
        st = simple_query(*q);
        break;
      }
      case 'P':
        st = handle_parse(body);
        break;
      case 'B':
        st = handle_bind(body);
        break;
      case 'D':
        st = handle_describe(body);
        break;
      case 'E':
        st = handle_execute(body);
        break;
      case 'C':
        st = handle_close(body);
        break;
      case 'H':
        st = flush();
        break;
      case 'S':
        ignore_till_sync_ = false;
        send_ready();
        st = flush();
        break;
      case 'd':
      case 'c':
      case 'f':
        break;  // COPY FROM data: not supported, ignored
      default:
        st = invalid_argument(fmt::format("unexpected message type '{}'", type));
        break;
    }
    // Protocol errors end the connection with an ErrorResponse; statement errors were
    // already reported to the client.
    if (!st.is_ok() && st.code() == StatusCode::kInvalidArgument) {
      ErrorFields e{"FATAL", sqlstate::kProtocolViolation, st.message()};
      log::warn("gateway protocol violation",
                {log::kv("peer", peer_), log::kv("error", st.message())});
      send_error(e);
      (void)flush();
      break;
    }
    if (st.is_ok()) st = maybe_flush();
  }
  log::info("gateway session ended", {log::kv("user", user_name_), log::kv("pid", control_->pid)});
}

Status Connection::startup() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    SLUICE_ASSIGN_OR_RETURN(auto body, read_startup_packet());
    SLUICE_ASSIGN_OR_RETURN(auto m, parse_startup(body));
    if (m.code == kCancelRequestCode) {
      gw_.cancel(m.cancel_pid, m.cancel_secret);
      return cancelled("cancel request handled");
    }
    if (m.code == kSslRequestCode) {
      if (gw_.tls() != nullptr && !tls_) {
        SLUICE_RETURN_IF_ERROR(write_all("S", 1));
        tls_.emplace(socket_, *gw_.tls());
        boost::system::error_code ec;
        tls_->handshake(asio::ssl::stream_base::server, ec);
        if (ec) return unavailable(fmt::format("TLS handshake failed: {}", ec.message()));
      } else {
        SLUICE_RETURN_IF_ERROR(write_all("N", 1));
      }
      continue;
    }
    if (m.code == kGssEncRequestCode) {
      SLUICE_RETURN_IF_ERROR(write_all("N", 1));
      continue;
    }
    user_name_ = m.params["user"];
    database_ = m.params.count("database") ? m.params["database"] : user_name_;
    if (database_.empty()) database_ = user_name_;
    for (const auto& [k, v] : m.params) {
      if (k != "user" && k != "database" && k != "options") settings_[lower(k)] = v;
    }
    if (user_name_.empty()) {
      send_error(ErrorFields{"FATAL", sqlstate::kInvalidAuthorization,
                             "no PostgreSQL user name specified in startup packet"});
      return invalid_argument("no user");
    }
    return authenticate(user_name_);
  }
  return invalid_argument("too many SSL/GSS requests");
}

Status Connection::authenticate(const std::string& user) {
  auto fail = [&](const std::string& why) -> Status {
    log::warn("gateway authentication failed",
              {log::kv("user", user), log::kv("peer", peer_), log::kv("reason", why)});
    send_error(ErrorFields{"FATAL", sqlstate::kInvalidPassword,
                           fmt::format("password authentication failed for user \"{}\"", user)});
    (void)flush();
    return cancelled("authentication failed");
  };
  auto store = governance::UserStore::open(gw_.options().data_dir);
  if (!store.is_ok()) return store.status();
  auto found = store->find(user);
  // An unknown user goes through the same exchange with a made-up verifier.
  governance::ScramVerifier verifier =
      found ? found->scram
            : governance::make_scram_verifier(governance::random_bytes(16),
                                              governance::kDefaultScramIterations);
  governance::ScramServer scram(verifier);
  out_.begin('R');
  out_.i32(10);  // AuthenticationSASL
  out_.cstr("SCRAM-SHA-256");
  out_.i8(0);
  out_.end();
  SLUICE_RETURN_IF_ERROR(flush());
  char type = 0;
  std::string body;
  SLUICE_RETURN_IF_ERROR(read_message(type, body));
  if (type != 'p') return fail("client did not answer the SASL request");
  Reader r(body);
  SLUICE_ASSIGN_OR_RETURN(auto mech, r.cstr());
  SLUICE_ASSIGN_OR_RETURN(auto len, r.i32());
  if (mech != "SCRAM-SHA-256" || len < 0) return fail("unsupported SASL mechanism " + mech);
  SLUICE_ASSIGN_OR_RETURN(auto first, r.bytes(static_cast<size_t>(len)));
  auto server_first = scram.client_first(first);
  if (!server_first.is_ok()) return fail(server_first.status().message());
  out_.begin('R');
  out_.i32(11);  // AuthenticationSASLContinue
  out_.raw(*server_first);
  out_.end();
  SLUICE_RETURN_IF_ERROR(flush());
  SLUICE_RETURN_IF_ERROR(read_message(type, body));
  if (type != 'p') return fail("client did not send a SASL response");
  auto server_final = scram.client_final(body);
  if (!server_final.is_ok() || !found) {
    return fail(found ? server_final.status().message() : "no such user");
  }
  user_ = *found;
  out_.begin('R');
  out_.i32(12);  // AuthenticationSASLFinal
  out_.raw(*server_final);
  out_.end();
  out_.begin('R');
  out_.i32(0);  // AuthenticationOk
  out_.end();
  return Status::ok();
}

Status Connection::open_session() {
  control_ = gw_.register_session();
  SLUICE_ASSIGN_OR_RETURN(db_, engine::Database::open_in_memory(gw_.options().engine));
  SLUICE_ASSIGN_OR_RETURN(catalog_, lake::Catalog::open(gw_.options().warehouse));
  SLUICE_ASSIGN_OR_RETURN(auto lake, engine::LakeSession::open(catalog_, db_, gw_.options().lake));
  lake_.emplace(std::move(lake));
  SLUICE_RETURN_IF_ERROR(lake_->session().execute(detail::catalog_setup_sql(
      fmt::format("PostgreSQL {} on x86_64-pc-linux-gnu, Sluice gateway over DuckDB {}",
                  kServerVersion, engine::duckdb_version()))));
  {
    std::lock_guard<std::mutex> lock(control_->mu);
    control_->session = &lake_->session();
    control_->socket_fd = socket_.native_handle();
  }
  statement_timeout_ms_ = gw_.options().statement_timeout_ms;
  // Users, for pg_roles and pg_get_userbyid.
  auto store = governance::UserStore::open(gw_.options().data_dir);
  if (store.is_ok()) {
    users_file_ = store->path();
    std::string values;
    int64_t oid = 10;
    for (const auto& u : store->users()) {
      values += fmt::format("{}({}, '{}', {})", values.empty() ? "" : ", ", oid++, u.name,
                            u.admin ? "true" : "false");
    }
    if (!values.empty()) {
      SLUICE_RETURN_IF_ERROR(
          lake_->session().execute("INSERT INTO sluice_pg.users VALUES " + values));
    }
  }
  // Reported parameters (protocol "ParameterStatus").
  settings_["server_version"] = kServerVersion;
  settings_["server_version_num"] = kServerVersionNum;
  settings_["server_encoding"] = "UTF8";
  settings_["client_encoding"] = "UTF8";
  settings_["datestyle"] = "ISO, MDY";
  settings_["timezone"] = "UTC";
  settings_["integer_datetimes"] = "on";
  settings_["standard_conforming_strings"] = "on";
  settings_["is_superuser"] = user_.admin ? "on" : "off";
  settings_["session_authorization"] = user_name_;
  settings_["intervalstyle"] = "postgres";
  settings_["search_path"] = "main";
  settings_["transaction_isolation"] = "serializable";
  settings_["default_transaction_isolation"] = "serializable";
  settings_["max_identifier_length"] = "63";
  settings_["lc_collate"] = "C";
  settings_["lc_ctype"] = "C";
  settings_["statement_timeout"] = std::to_string(statement_timeout_ms_);
  if (!settings_.count("application_name")) settings_["application_name"] = "";
  for (const auto& [k, v] : settings_)
    set_setting(k, v);
  update_session_macros();
  for (const char* name : {"server_version", "server_encoding", "client_encoding",
                           "application_name", "is_superuser", "session_authorization",
                           "integer_datetimes", "standard_conforming_strings", "intervalstyle"}) {
    send_parameter_status(name, settings_[name]);
  }
  send_parameter_status("DateStyle", settings_["datestyle"]);
  send_parameter_status("TimeZone", "UTC");
  out_.begin('K');
  out_.i32(control_->pid);
  out_.i32(control_->secret);
  out_.end();
  return Status::ok();
}

void Connection::set_setting(const std::string& name, const std::string& value) {
  settings_[name] = value;
  if (!lake_) return;
  auto q = [](const std::string& v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\'') out += '\'';
      out += c;
    }
    return out + "'";
  };
  (void)lake_->session().execute(fmt::format(
      "DELETE FROM sluice_pg.settings WHERE name = {0}; INSERT INTO sluice_pg.settings VALUES "
      "({0}, {1})",
      q(name), q(value)));
}

void Connection::update_session_macros() {
  (void)lake_->session().execute(detail::session_macros_sql(user_name_, database_, search_path_,
                                                            control_ ? control_->pid : 0));
}

// --- statements --------------------------------------------------------------------------------

void Connection::begin_query() {
  std::lock_guard<std::mutex> lock(control_->mu);
  control_->running = true;
  control_->reason = InterruptReason::kNone;
  control_->deadline =
      statement_timeout_ms_ > 0
          ? std::chrono::steady_clock::now() + std::chrono::milliseconds(statement_timeout_ms_)
          : std::chrono::steady_clock::time_point::max();
}

InterruptReason Connection::end_query() {
  std::lock_guard<std::mutex> lock(control_->mu);
  control_->running = false;
  last_interrupt_ = control_->reason;
  control_->reason = InterruptReason::kNone;
  return last_interrupt_;
}

Result<std::set<std::string>> Connection::lake_namespaces() {
  // Creating or dropping a namespace changes the warehouse folder's mtime: one stat instead of
  // listing the folder on every statement.
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(catalog_->warehouse(), ec);
  if (!ec && ns_trusted_ && mtime == ns_mtime_) return ns_cache_;
  auto now = std::filesystem::file_time_type::clock::now();
  SLUICE_ASSIGN_OR_RETURN(auto list, catalog_->list_namespaces());
  ns_cache_ = std::set<std::string>(list.begin(), list.end());
  ns_mtime_ = mtime;
  ns_trusted_ = !ec && mtime + kTimestampSettle < now;
  return ns_cache_;
}

Status Connection::refresh_user() {
  FileStamp stamp = stamp_of(users_file_);
  if (users_stamp_trusted_ && stamp == users_stamp_) return Status::ok();
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto store = governance::UserStore::open(gw_.options().data_dir);
  if (!store.is_ok()) {
    return store.status().with_context("gateway: re-reading users for " + user_name_);
  }
  if (auto found = store->find(user_name_)) {
    user_ = *found;
  } else {
    // Removed since login: no grants left.
    user_ = governance::User{};
    user_.name = user_name_;
  }
  users_stamp_ = stamp;
  users_stamp_trusted_ = stamp.mtime_ns + std::chrono::nanoseconds(kTimestampSettle).count() <
                         std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  return Status::ok();
}

Status Connection::refresh_catalog() {
  SLUICE_ASSIGN_OR_RETURN(auto nss, lake_namespaces());
  auto& s = lake_->session();
  std::string sql = "DELETE FROM sluice_pg.lake_ns;";
  for (const auto& ns : nss) {
    sql += fmt::format(
        "CREATE SCHEMA IF NOT EXISTS {0}; INSERT INTO sluice_pg.lake_ns VALUES ('{1}');",
        quote_ident(ns), ns);
  }
  SLUICE_RETURN_IF_ERROR(s.execute(sql));
  for (const auto& ns : nss) {
    SLUICE_ASSIGN_OR_RETURN(auto tables, catalog_->list_tables(ns));
    std::set<std::string> live;
    for (const auto& t : tables) {
      live.insert(t.name);
      Status r = lake_->bind_for_catalog(t);
      if (!r.is_ok()) {
        log::warn("gateway cannot bind lake table",
                  {log::kv("table", t.to_string()), log::kv("error", r.message())});
      }
    }
    // Views of tables dropped elsewhere.
    auto views = s.query(fmt::format(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = '{}' AND NOT internal", ns));
    if (views.is_ok()) {
      for (const auto& row : views->rows) {
        const std::string name = row[0].value_or("");
        if (name.find('@') != std::string::npos || live.count(name) > 0) continue;
        (void)s.execute(
            fmt::format("DROP VIEW IF EXISTS {}.{}", quote_ident(ns), quote_ident(name)));
      }
    }
  }
  return Status::ok();
}

Status Connection::authorize(const std::vector<Token>& t, StatementKind kind) {
  (void)kind;
  SLUICE_RETURN_IF_ERROR(refresh_user());
  if (user_.admin) return Status::ok();
  std::string feature = detail::forbidden_feature(t);
  if (!feature.empty()) {
    log::warn("gateway permission denied",
              {log::kv("user", user_name_), log::kv("table", "-"), log::kv("action", feature)});
    return permission_denied(fmt::format(
        "permission denied: {} are reserved to admin users through the gateway", feature));
  }
  SLUICE_ASSIGN_OR_RETURN(auto nss, lake_namespaces());
  if (auto schema = detail::schema_target(t)) {
    if (!user_.allowed(governance::Access::kWrite, *schema, "")) {
      log::warn("gateway permission denied",
                {log::kv("user", user_name_), log::kv("table", *schema),
                 log::kv("action", t[0].text + " schema")});
      return permission_denied(fmt::format("permission denied for schema {}", *schema));
    }
  }
  auto refs = detail::table_refs(t, nss, [&](const std::string& name) -> std::string {
    for (const auto& ns : search_path_) {
      if (nss.count(ns) && catalog_->table_exists({ns, name})) return ns;
    }
    return "";
  });
  for (const auto& ref : refs) {
    auto access = ref.write ? governance::Access::kWrite : governance::Access::kRead;
    if (user_.allowed(access, ref.ns, ref.name)) continue;
    std::string action = ref.write ? (t.empty() ? "write" : t[0].text) : "read";
    log::warn("gateway permission denied",
              {log::kv("user", user_name_), log::kv("table", ref.ns + "." + ref.name),
               log::kv("action", action)});
    return permission_denied(fmt::format("permission denied for table {}.{}", ref.ns, ref.name));
  }
  return Status::ok();
}

Result<std::string> Connection::qualify(const std::string& sql) {
  // Unqualified lake tables (found through search_path) become zone.table.
  bool any_lake_path = false;
  SLUICE_ASSIGN_OR_RETURN(auto nss, lake_namespaces());
  for (const auto& ns : search_path_)
    any_lake_path = any_lake_path || nss.count(ns) > 0;
  if (!any_lake_path) return sql;
  auto t = detail::tokenize(sql);
  auto refs = detail::table_refs(t, nss, [&](const std::string& name) -> std::string {
    for (const auto& ns : search_path_) {
      if (nss.count(ns) && catalog_->table_exists({ns, name})) return ns;
    }
    return "";
  });
  // CREATE TABLE name ... in the first lake zone of the path.
  std::string out;
  size_t copied = 0;
  for (const auto& ref : refs) {
    if (ref.qualified) continue;
    out += sql.substr(copied, ref.begin - copied);
    out += quote_ident(ref.ns) + "." + quote_ident(ref.name);
    copied = ref.end;
  }
  out += sql.substr(copied);
  if (!t.empty() && t[0].is("create") && !search_path_.empty() && nss.count(search_path_[0])) {
    auto t2 = detail::tokenize(out);
    for (size_t i = 1; i + 1 < t2.size() && i < 8; ++i) {
      if (!t2[i].is("table")) continue;
      size_t k = i + 1;
      if (k < t2.size() && t2[k].is("if")) k += 3;
      if (k < t2.size() && t2[k].ident() && !(k + 1 < t2.size() && t2[k + 1].sym("."))) {
        out = out.substr(0, t2[k].begin) + quote_ident(search_path_[0]) + "." +
              out.substr(t2[k].begin);
      }
      break;
    }
  }
  return out;
}

Result<std::string> Connection::bind_lake(const std::string& sql) {
  // The engine re-reads the metadata of every lake table a statement names; a statement that
  // names none (SELECT 1, SELECT now(), pg_catalog queries) skips it.
  SLUICE_ASSIGN_OR_RETURN(auto nss, lake_namespaces());
  bool names_lake = false;
  for (const auto& ref : engine::qualified_references(sql))
    names_lake = names_lake || nss.count(ref.ns) > 0;
  if (!names_lake) return sql;
  return lake_->prepare_query(sql);
}

Result<std::shared_ptr<Statement>> Connection::prepare_statement(
    const std::string& sql, const std::vector<int32_t>& param_oids) {
  auto s = std::make_shared<Statement>();
  s->sql = sql;
  s->tokens = detail::tokenize(sql);
  s->kind = detail::classify(s->tokens);
  s->param_oids = param_oids;
  // DuckDB statements that return rows go the query path (streamed, described up front).
  if (s->kind == StatementKind::kOther && !s->tokens.empty() &&
      (s->tokens[0].is("describe") || s->tokens[0].is("explain") || s->tokens[0].is("summarize") ||
       s->tokens[0].is("show"))) {
    s->kind = StatementKind::kQuery;
  }
  if (s->kind == StatementKind::kQuery) SLUICE_RETURN_IF_ERROR(prepare_query(*s));
  int n = detail::max_param(s->tokens);
  if (static_cast<int>(s->param_oids.size()) < n) s->param_oids.resize(static_cast<size_t>(n), 0);
  return s;
}

Status Connection::prepare_query(Statement& s) {
  SLUICE_RETURN_IF_ERROR(authorize(s.tokens, s.kind));
  bool catalog = detail::mentions_catalog(s.tokens) ||
                 (!s.tokens.empty() && (s.tokens[0].is("describe") || s.tokens[0].is("show")));
  if (catalog) SLUICE_RETURN_IF_ERROR(refresh_catalog());
  std::string sql = detail::rewrite_pg_syntax(s.sql);
  SLUICE_ASSIGN_OR_RETURN(sql, qualify(sql));
  SLUICE_ASSIGN_OR_RETURN(sql, bind_lake(sql));
  auto prepared = lake_->session().prepare(sql);
  if (!prepared.is_ok()) {
    if (catalog && detail::mentions_empty_catalog(s.tokens)) {
      // A query over catalogs Sluice keeps empty (publications, policies, inheritance, ...):
      // answer "no rows" rather than fail on syntax DuckDB lacks.
      log::debug("gateway answers an empty catalog query with no rows",
                 {log::kv("error", prepared.status().message())});
      s.empty_catalog = true;
      return Status::ok();
    }
    return prepared.status();
  }
  s.prepared.emplace(std::move(prepared).value());
  s.prepared_sql = sql;
  s.col_names.clear();
  s.col_types.clear();
  for (size_t i = 0; i < s.prepared->column_count(); ++i) {
    s.col_names.push_back(s.prepared->column_name(i));
    s.col_types.push_back(pg_type_of(s.prepared->column_type(i)));
  }
  for (size_t i = 0; i < s.prepared->param_count(); ++i) {
    if (i >= s.param_oids.size()) s.param_oids.push_back(0);
    if (s.param_oids[i] == 0) {
      // DuckDB's inferred type, as a PostgreSQL OID.
      duckdb_logical_type lt = duckdb_param_logical_type(s.prepared->native(), i + 1);
      if (lt != nullptr) {
        if (duckdb_get_type_id(lt) != DUCKDB_TYPE_INVALID &&
            duckdb_get_type_id(lt) != DUCKDB_TYPE_ANY) {
          s.param_oids[i] = pg_type_of(lt).oid;
        }
        duckdb_destroy_logical_type(&lt);
      }
    }
  }
  return Status::ok();
}

void Connection::send_row_description(const Statement& s, const std::vector<int16_t>& formats) {
  out_.begin('T');
  out_.i16(static_cast<int16_t>(s.col_names.size()));
  for (size_t i = 0; i < s.col_names.size(); ++i) {
    out_.cstr(s.col_names[i]);
    out_.i32(0);  // table oid
    out_.i16(0);  // column attnum
    out_.i32(s.col_types[i].oid);
    out_.i16(s.col_types[i].typlen);
    out_.i32(s.col_types[i].typmod);
    int16_t f = formats.empty() ? 0 : formats.size() == 1 ? formats[0] : formats[i];
    out_.i16(f);
  }
  out_.end();
}

Status Connection::bind_params(Statement& s,
                               const std::vector<std::optional<std::string>>& params) {
  auto& p = *s.prepared;
  SLUICE_RETURN_IF_ERROR(p.clear_bindings());
  if (params.size() != p.param_count()) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("Binder Error: bind message supplies {} parameters, but prepared "
                              "statement requires {}",
                              params.size(), p.param_count()));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i]) {
      SLUICE_RETURN_IF_ERROR(p.bind_null(i));
    } else if (i < s.param_oids.size() && s.param_oids[i] == oid::kBytea) {
      SLUICE_RETURN_IF_ERROR(p.bind_blob(i, *params[i]));
    } else {
      SLUICE_RETURN_IF_ERROR(p.bind_text(i, *params[i]));
    }
  }
  return Status::ok();
}

Status Connection::start_stream(Portal& p) {
  Statement& s = *p.stmt;
  if (streaming_ != nullptr && streaming_ != &p) {
    // DuckDB runs one result per connection: the other open result ends here.
    streaming_->stream = RowStream{};
    streaming_->stream.exhausted = true;
    streaming_ = nullptr;
  }
  // Re-bind lake tables (they may have changed since Parse) and re-prepare if the SQL changed;
  // a simple Query's statement was bound a moment ago.
  if (s.fresh) {
    s.fresh = false;
  } else {
    // Grants may have changed since Parse too.
    SLUICE_RETURN_IF_ERROR(authorize(s.tokens, s.kind));
    std::string sql = detail::rewrite_pg_syntax(s.sql);
    SLUICE_ASSIGN_OR_RETURN(sql, qualify(sql));
    SLUICE_ASSIGN_OR_RETURN(sql, bind_lake(sql));
    if (sql != s.prepared_sql) {
      SLUICE_ASSIGN_OR_RETURN(auto prepared, lake_->session().prepare(sql));
      s.prepared.emplace(std::move(prepared));
      s.prepared_sql = sql;
    }
  }
  SLUICE_RETURN_IF_ERROR(bind_params(s, p.params));
  SLUICE_ASSIGN_OR_RETURN(auto result, s.prepared->execute());
  p.stream = RowStream{};
  for (size_t i = 0; i < result.column_count(); ++i) {
    bool binary = p.binary_cursor || (!p.formats.empty() &&
                                      (p.formats.size() == 1 ? p.formats[0] : p.formats[i]) == 1);
    p.stream.encoders.emplace_back(result.column_type(i), binary);
    if (!p.stream.encoders.back().supported()) {
      return unimplemented(fmt::format("binary format is not supported for column \"{}\" ({})",
                                       result.column_name(i), s.col_types[i].name));
    }
  }
  p.stream.result.emplace(std::move(result));
  p.started = true;
  streaming_ = &p;
  return Status::ok();
}

Status Connection::send_rows(RowStream& rs, int64_t max_rows, int64_t& sent) {
  int64_t n = 0;
  while (!rs.exhausted && (max_rows <= 0 || n < max_rows)) {
    if (!rs.chunk || rs.row >= rs.chunk.size()) {
      SLUICE_ASSIGN_OR_RETURN(rs.chunk, rs.result->next());
      rs.row = 0;
      if (!rs.chunk || rs.chunk.size() == 0) {
        rs.exhausted = true;
        rs.chunk = engine::DataChunk();
        break;
      }
      for (size_t c = 0; c < rs.encoders.size(); ++c)
        rs.encoders[c].set_vector(duckdb_data_chunk_get_vector(rs.chunk.native(), c));
    }
    uint64_t size = rs.chunk.size();
    auto ncols = static_cast<int16_t>(rs.encoders.size());
    for (; rs.row < size && (max_rows <= 0 || n < max_rows); ++rs.row, ++n) {
      out_.begin('D');
      out_.i16(ncols);
      for (const auto& e : rs.encoders)
        e.write_field(out_, rs.row);
      out_.end();
    }
    SLUICE_RETURN_IF_ERROR(maybe_flush());
  }
  sent += n;
  return Status::ok();
}

Status Connection::execute(Portal& p, int64_t max_rows, bool describe_rows, bool& suspended) {
  Statement& s = *p.stmt;
  suspended = false;
  auto complete = [&](const std::string& tag) {
    out_.begin('C');
    out_.cstr(tag);
    out_.end();
  };
  if (tx_ == 'E' && s.kind != StatementKind::kCommit && s.kind != StatementKind::kRollback) {
    return Status(StatusCode::kInvalidArgument,
                  "current transaction is aborted, commands ignored until end of transaction "
                  "block");
  }
  switch (s.kind) {
    case StatementKind::kEmpty:
      out_.begin('I');
      out_.end();
      return Status::ok();
    case StatementKind::kBegin:
      if (!s.tokens.empty() && (s.tokens[0].is("savepoint") || s.tokens[0].is("release"))) {
        complete(s.tokens[0].is("savepoint") ? "SAVEPOINT" : "RELEASE");
        return Status::ok();
      }
      if (tx_ == 'I') tx_ = 'T';
      complete("BEGIN");
      return Status::ok();
    case StatementKind::kCommit: {
      bool failed = tx_ == 'E';
      tx_ = 'I';
      close_cursors();
      complete(failed ? "ROLLBACK" : "COMMIT");
      return Status::ok();
    }
    case StatementKind::kRollback:
      if (s.tokens.size() > 1 && s.tokens[1].is("to")) {  // ROLLBACK TO SAVEPOINT
        if (tx_ == 'E') tx_ = 'T';
        complete("ROLLBACK");
        return Status::ok();
      }
      tx_ = 'I';
      close_cursors();
      complete("ROLLBACK");
      return Status::ok();
    case StatementKind::kSet:
    case StatementKind::kReset:
      SLUICE_RETURN_IF_ERROR(run_set(s));
      complete(s.kind == StatementKind::kSet ? "SET" : "RESET");
      return Status::ok();
    case StatementKind::kShow:
      return run_show(s, describe_rows);
    case StatementKind::kListen:
      complete(lower(s.tokens[0].text) == "listen" ? "LISTEN"
               : s.tokens[0].is("notify")          ? "NOTIFY"
                                                   : "UNLISTEN");
      return Status::ok();
    case StatementKind::kDiscard:
      close_cursors();
      portals_.clear();
      statements_.clear();
      complete("DISCARD ALL");
      return Status::ok();
    case StatementKind::kDeallocate: {
      if (s.tokens.size() > 1) {
        const auto& name = s.tokens.back();
        if (name.is("all")) {
          statements_.clear();
        } else {
          statements_.erase(name.text);
        }
      }
      complete("DEALLOCATE");
      return Status::ok();
    }
    case StatementKind::kCopyToStdout:
      return run_copy(s);
    case StatementKind::kDeclareCursor:
      return run_declare(s);
    case StatementKind::kFetch:
      return run_fetch(s);
    case StatementKind::kCloseCursor: {
      if (s.tokens.size() > 1) {
        if (s.tokens[1].is("all")) {
          close_cursors();
        } else {
          auto it = cursors_.find(s.tokens[1].text);
          if (it != cursors_.end()) {
            if (streaming_ == it->second.get()) streaming_ = nullptr;
            cursors_.erase(it);
          }
        }
      }
      complete("CLOSE CURSOR");
      return Status::ok();
    }
    case StatementKind::kQuery: {
      if (s.empty_catalog) {
        if (describe_rows) send_row_description(s, p.formats);
        complete("SELECT 0");
        return Status::ok();
      }
      if (!p.started) {
        begin_query();
        Status st = start_stream(p);
        if (!st.is_ok()) {
          end_query();
          return st;
        }
        if (describe_rows) send_row_description(s, p.formats);
      } else {
        begin_query();
      }
      Status st = send_rows(p.stream, max_rows, p.sent);
      end_query();
      SLUICE_RETURN_IF_ERROR(st);
      if (!p.stream.exhausted) {
        suspended = true;
        out_.begin('s');  // PortalSuspended
        out_.end();
        return Status::ok();
      }
      if (streaming_ == &p) streaming_ = nullptr;
      p.stream = RowStream{};
      p.stream.exhausted = true;
      std::string tag = "SELECT";
      if (!s.tokens.empty() && (s.tokens[0].is("show") || s.tokens[0].is("describe") ||
                                s.tokens[0].is("explain") || s.tokens[0].is("summarize"))) {
        tag = "SELECT";
      }
      complete(fmt::format("{} {}", tag, p.sent));
      return Status::ok();
    }
    case StatementKind::kOther:
      return run_other(p, describe_rows);
  }
  return Status::ok();
}

Status Connection::run_other(Portal& p, bool describe_rows) {
  Statement& s = *p.stmt;
  SLUICE_RETURN_IF_ERROR(authorize(s.tokens, s.kind));
  if (streaming_ != nullptr) {
    streaming_->stream = RowStream{};
    streaming_->stream.exhausted = true;
    streaming_ = nullptr;
  }
  std::string sql = s.sql;
  if (!p.params.empty()) {
    std::vector<std::string> casts;
    for (auto o : s.param_oids)
      casts.emplace_back(duckdb_name_of_oid(o));
    sql = detail::substitute_params(sql, s.tokens, p.params, casts);
  }
  sql = detail::rewrite_pg_syntax(sql);
  SLUICE_ASSIGN_OR_RETURN(sql, qualify(sql));
  begin_query();
  auto r = lake_->run(sql);
  end_query();
  if (!r.is_ok()) return r.status();
  if (r->has_rows || !r->rows.column_names.empty()) {
    if (describe_rows || true) {
      out_.begin('T');
      out_.i16(static_cast<int16_t>(r->rows.column_names.size()));
      for (size_t i = 0; i < r->rows.column_names.size(); ++i) {
        PgType t = pg_type_from_duckdb_name(r->rows.column_types[i]);
        out_.cstr(r->rows.column_names[i]);
        out_.i32(0);
        out_.i16(0);
        out_.i32(oid::kText);
        out_.i16(-1);
        out_.i32(-1);
        out_.i16(0);
        (void)t;
      }
      out_.end();
    }
    bool drop =
        r->rows.column_names.size() == 1 && r->rows.column_names[0] == "Count" && !r->has_rows;
    if (!drop) {
      for (const auto& row : r->rows.rows) {
        out_.begin('D');
        out_.i16(static_cast<int16_t>(row.size()));
        for (const auto& v : row) {
          if (!v) {
            out_.i32(-1);
          } else {
            out_.i32(static_cast<int32_t>(v->size()));
            out_.raw(*v);
          }
        }
        out_.end();
      }
    }
  }
  std::string tag = r->tag;
  if (tag == "INSERT" && r->rows_affected >= 0) tag = fmt::format("INSERT 0 {}", r->rows_affected);
  if ((tag == "DELETE" || tag == "UPDATE") && r->rows_affected >= 0) {
    tag = fmt::format("{} {}", tag, r->rows_affected);
  }
  if (tag == "CREATE" && s.tokens.size() > 1) {
    size_t k = 1;
    if (k + 1 < s.tokens.size() && s.tokens[k].is("or")) k += 2;
    if (k < s.tokens.size() && (s.tokens[k].is("temp") || s.tokens[k].is("temporary"))) ++k;
    if (k < s.tokens.size()) tag = "CREATE " + fmt::format("{}", lower(s.tokens[k].text));
    for (auto& c : tag)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (tag == "CREATE TABLE" && r->rows_affected >= 0) {
      tag = fmt::format("SELECT {}", r->rows_affected);
    }
  }
  if (r->snapshot_id) {
    log::info("gateway lake commit", {log::kv("user", user_name_), log::kv("tag", tag),
                                      log::kv("snapshot", *r->snapshot_id)});
  }
  out_.begin('C');
  out_.cstr(tag);
  out_.end();
  return Status::ok();
}

Status Connection::run_set(const Statement& s) {
  auto cmd = detail::parse_set(s.sql, s.tokens);
  if (!cmd) return Status::ok();  // SET TRANSACTION ..., SET SESSION CHARACTERISTICS: no effect
  std::string name = cmd->name;
  std::string value = cmd->value;
  if (name == "transaction" || name == "session" || name == "constraints") return Status::ok();
  if (name == "search_path") {
    std::vector<std::string> path;
    if (value == "DEFAULT") {
      path = {"main"};
    } else {
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t comma = value.find(',', pos);
        if (comma == std::string::npos) comma = value.size();
        std::string item = value.substr(pos, comma - pos);
        while (!item.empty() && item.front() == ' ')
          item.erase(0, 1);
        while (!item.empty() && item.back() == ' ')
          item.pop_back();
        if (item.size() >= 2 && item.front() == '"') item = item.substr(1, item.size() - 2);
        if (item == "public") item = "main";
        if (!item.empty() && item != "$user") path.push_back(item);
        pos = comma + 1;
      }
    }
    search_path_ = path.empty() ? std::vector<std::string>{"main"} : path;
    std::string shown;
    for (const auto& p : search_path_)
      shown += (shown.empty() ? "" : ", ") + p;
    set_setting("search_path", shown);
    update_session_macros();
    return Status::ok();
  }
  if (name == "statement_timeout") {
    if (value == "DEFAULT") {
      statement_timeout_ms_ = gw_.options().statement_timeout_ms;
    } else {
      auto ms = parse_duration_ms(value);
      if (!ms.is_ok()) {
        return Status(StatusCode::kInvalidArgument,
                      "Invalid Input Error: " + ms.status().message());
      }
      statement_timeout_ms_ = *ms;
    }
    set_setting(name, std::to_string(statement_timeout_ms_));
    return Status::ok();
  }
  if (name == "timezone" || name == "client_encoding" || name == "datestyle") {
    // Sluice sessions are UTF8, ISO dates and UTC; other values are accepted and ignored.
    return Status::ok();
  }
  if (value == "DEFAULT") value = "";
  set_setting(name, value);
  if (name == "application_name") send_parameter_status("application_name", value);
  return Status::ok();
}

Status Connection::run_show(const Statement& s, bool describe_rows) {
  auto cmd = detail::parse_set(s.sql, s.tokens);
  if (!cmd) return invalid_argument("SHOW: missing setting name");
  std::string name = cmd->name;
  std::string value;
  if (name == "all") {
    out_.begin('T');
    out_.i16(2);
    for (const char* col : {"name", "setting"}) {
      out_.cstr(col);
      out_.i32(0);
      out_.i16(0);
      out_.i32(oid::kText);
      out_.i16(-1);
      out_.i32(-1);
      out_.i16(0);
    }
    out_.end();
    for (const auto& [k, v] : settings_) {
      out_.begin('D');
      out_.i16(2);
      out_.i32(static_cast<int32_t>(k.size()));
      out_.raw(k);
      out_.i32(static_cast<int32_t>(v.size()));
      out_.raw(v);
      out_.end();
    }
    out_.begin('C');
    out_.cstr(fmt::format("SHOW"));
    out_.end();
    return Status::ok();
  }
  auto it = settings_.find(name);
  if (it != settings_.end()) {
    value = it->second;
  } else if (name == "statement_timeout") {
    value = std::to_string(statement_timeout_ms_);
  } else {
    return Status(StatusCode::kNotFound,
                  fmt::format("Catalog Error: unrecognized configuration parameter \"{}\"", name));
  }
  if (name == "statement_timeout") {
    value = statement_timeout_ms_ == 0 ? "0" : fmt::format("{}ms", statement_timeout_ms_);
  }
  if (describe_rows) {
    out_.begin('T');
    out_.i16(1);
    out_.cstr(name);
    out_.i32(0);
    out_.i16(0);
    out_.i32(oid::kText);
    out_.i16(-1);
    out_.i32(-1);
    out_.i16(0);
    out_.end();
  }
  out_.begin('D');
  out_.i16(1);
  out_.i32(static_cast<int32_t>(value.size()));
  out_.raw(value);
  out_.end();
  out_.begin('C');
  out_.cstr("SHOW");
  out_.end();
  return Status::ok();
}

Status Connection::run_copy(const Statement& s) {
  auto cmd = detail::parse_copy(s.sql, s.tokens);
  if (!cmd) {
    return unimplemented(
        "only COPY (query) TO STDOUT [WITH (FORMAT text|csv, HEADER, DELIMITER, NULL)] is "
        "supported");
  }
  Portal p;
  SLUICE_ASSIGN_OR_RETURN(p.stmt, prepare_statement(cmd->query, {}));
  if (p.stmt->kind != StatementKind::kQuery || p.stmt->empty_catalog) {
    return unimplemented("COPY (query) TO STDOUT needs a query");
  }
  begin_query();
  Status st = start_stream(p);
  if (!st.is_ok()) {
    end_query();
    return st;
  }
  size_t ncols = p.stream.encoders.size();
  out_.begin('H');
  out_.i8(0);
  out_.i16(static_cast<int16_t>(ncols));
  for (size_t i = 0; i < ncols; ++i)
    out_.i16(0);
  out_.end();
  int64_t rows = 0;
  std::string line;
  auto& rs = p.stream;
  // CopyData messages carry many rows each (clients accept any split).
  std::string batch;
  auto emit_batch = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    out_.begin('d');
    out_.raw(batch);
    out_.end();
    batch.clear();
    return maybe_flush();
  };
  auto append_field = [&](const std::string& v) {
    if (cmd->csv) {
      bool quote =
          v.empty() || v.find_first_of(std::string("\"\r\n") + cmd->delimiter) != std::string::npos;
      if (!quote) {
        batch += v;
        return;
      }
      batch += '"';
      for (char c : v) {
        if (c == '"') batch += '"';
        batch += c;
      }
      batch += '"';
      return;
    }
    for (char c : v) {
      switch (c) {
        case '\\':
          batch += "\\\\";
          break;
        case '\n':
          batch += "\\n";
          break;
        case '\r':
          batch += "\\r";
          break;
        case '\t':
          batch += "\\t";
          break;
        default:
          if (c == cmd->delimiter) batch += '\\';
          batch += c;
      }
    }
  };
  if (cmd->header) {
    for (size_t i = 0; i < ncols; ++i) {
      if (i > 0) batch += cmd->delimiter;
      append_field(p.stmt->col_names[i]);
    }
    batch += '\n';
  }
  while (st.is_ok()) {
    auto chunk = rs.result->next();
    if (!chunk.is_ok()) {
      st = chunk.status();
      break;
    }
    if (!*chunk || chunk->size() == 0) break;
    for (size_t c = 0; c < ncols; ++c)
      rs.encoders[c].set_vector(duckdb_data_chunk_get_vector(chunk->native(), c));
    uint64_t n = chunk->size();
    for (uint64_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < ncols; ++c) {
        if (c > 0) batch += cmd->delimiter;
        line.clear();
        if (!rs.encoders[c].append_text(line, r)) {
          batch += cmd->null_text;
        } else {
          append_field(line);
        }
      }
      batch += '\n';
    }
    rows += static_cast<int64_t>(n);
    if (batch.size() >= 64 * 1024) st = emit_batch();
  }
  end_query();
  if (streaming_ == &p) streaming_ = nullptr;
  if (!st.is_ok()) {
    // The copy ends with an ErrorResponse instead of CopyDone.
    batch.clear();
    return st;
  }
  SLUICE_RETURN_IF_ERROR(emit_batch());
  out_.begin('c');
  out_.end();
  out_.begin('C');
  out_.cstr(fmt::format("COPY {}", rows));
  out_.end();
  return Status::ok();
}

Status Connection::run_declare(const Statement& s) {
  auto d = detail::parse_declare(s.sql, s.tokens);
  if (!d) return Status(StatusCode::kInvalidArgument, "Parser Error: malformed DECLARE CURSOR");
  if (tx_ == 'I' && s.sql.find("HOLD") == std::string::npos &&
      lower(s.sql).find("with hold") == std::string::npos) {
    return Status(StatusCode::kInvalidArgument,
                  "DECLARE CURSOR can only be used in transaction blocks");
  }
  auto p = std::make_unique<Portal>();
  SLUICE_ASSIGN_OR_RETURN(p->stmt, prepare_statement(d->query, {}));
  if (p->stmt->kind != StatementKind::kQuery) {
    return unimplemented("DECLARE CURSOR needs a query");
  }
  p->binary_cursor = d->binary;
  cursors_[d->name] = std::move(p);
  out_.begin('C');
  out_.cstr("DECLARE CURSOR");
  out_.end();
  return Status::ok();
}

Status Connection::run_fetch(const Statement& s) {
  auto f = detail::parse_fetch(s.tokens);
  if (!f) return Status(StatusCode::kInvalidArgument, "Parser Error: malformed FETCH");
  auto it = cursors_.find(f->name);
  if (it == cursors_.end()) {
    return Status(StatusCode::kNotFound, fmt::format("cursor \"{}\" does not exist", f->name));
  }
  Portal& p = *it->second;
  Statement& st = *p.stmt;
  if (st.empty_catalog) {
    send_row_description(st, {});
    out_.begin('C');
    out_.cstr("FETCH 0");
    out_.end();
    return Status::ok();
  }
  begin_query();
  if (!p.started) {
    Status s2 = start_stream(p);
    if (!s2.is_ok()) {
      end_query();
      return s2;
    }
  } else if (streaming_ != &p && !p.stream.exhausted) {
    end_query();
    return unimplemented(fmt::format(
        "cursor \"{}\" was closed by another statement on this connection (one open result "
        "per session)",
        f->name));
  }
  std::vector<int16_t> formats;
  if (p.binary_cursor) formats = {1};
  send_row_description(st, formats);
  int64_t sent = 0;
  Status rs =
      p.stream.exhausted ? Status::ok() : send_rows(p.stream, f->count < 0 ? 0 : f->count, sent);
  end_query();
  SLUICE_RETURN_IF_ERROR(rs);
  if (p.stream.exhausted && streaming_ == &p) streaming_ = nullptr;
  out_.begin('C');
  out_.cstr(fmt::format("FETCH {}", sent));
  out_.end();
  return Status::ok();
}

void Connection::close_cursors() {
  for (auto& [_, c] : cursors_)
    if (streaming_ == c.get()) streaming_ = nullptr;
  cursors_.clear();
}

Status Connection::simple_query(const std::string& text) {
  auto statements = engine::split_statements(text);
  // split_statements drops empty statements; a query of only whitespace/comments is "empty".
  if (statements.empty()) {
    out_.begin('I');
    out_.end();
    send_ready();
    return flush();
  }
  portals_.erase("");
  for (const auto& sql : statements) {
    Portal p;
    auto stmt = prepare_statement(sql, {});
    Status st = stmt.status();
    if (st.is_ok()) {
      p.stmt = *stmt;
      p.stmt->fresh = p.stmt->prepared.has_value();
      bool suspended = false;
      st = execute(p, 0, true, suspended);
    }
    if (streaming_ == &p) streaming_ = nullptr;
    if (!st.is_ok()) {
      if (st.code() == StatusCode::kUnavailable) return st;
      send_error(st, sql);
      last_interrupt_ = InterruptReason::kNone;
      if (tx_ == 'T') tx_ = 'E';
      break;
    }
  }
  send_ready();
  return flush();
}

// --- extended protocol -------------------------------------------------------------------------

Status Connection::handle_parse(const std::string& body) {
  SLUICE_ASSIGN_OR_RETURN(auto m, parse_parse(body));
  auto fail = [&](const Status& st) {
    send_error(st, m.query);
    ignore_till_sync_ = true;
    if (tx_ == 'T') tx_ = 'E';
    return Status::ok();
  };
  auto stmts = engine::split_statements(m.query);
  if (stmts.size() > 1) {
    return fail(Status(StatusCode::kInvalidArgument,
                       "Parser Error: cannot insert multiple commands into a prepared statement"));
  }
  auto s = prepare_statement(stmts.empty() ? std::string() : stmts[0], m.param_types);
  if (!s.is_ok()) return fail(s.status());
  if (!m.name.empty() && statements_.count(m.name)) {
    return fail(Status(StatusCode::kAlreadyExists,
                       fmt::format("prepared statement \"{}\" already exists", m.name)));
  }
  statements_[m.name] = *s;
  out_.begin('1');
  out_.end();
  return Status::ok();
}

Status Connection::handle_bind(const std::string& body) {
  SLUICE_ASSIGN_OR_RETURN(auto m, parse_bind(body));
  auto fail = [&](const Status& st) {
    send_error(st);
    ignore_till_sync_ = true;
    if (tx_ == 'T') tx_ = 'E';
    return Status::ok();
  };
  auto it = statements_.find(m.statement);
  if (it == statements_.end()) {
    ErrorFields e{"ERROR", sqlstate::kInvalidStatementName,
                  fmt::format("prepared statement \"{}\" does not exist", m.statement)};
    send_error(e);
    ignore_till_sync_ = true;
    return Status::ok();
  }
  auto p = std::make_unique<Portal>();
  p->stmt = it->second;
  const auto& oids = p->stmt->param_oids;
  for (size_t i = 0; i < m.params.size(); ++i) {
    int16_t f = m.param_formats.empty() ? 0
                : m.param_formats.size() == 1
                    ? m.param_formats[0]
                    : (i < m.param_formats.size() ? m.param_formats[i] : 0);
    if (f == 1 && m.params[i]) {
      int32_t o = i < oids.size() ? oids[i] : 0;
      if (o == oid::kBytea) {
        p->params.push_back(m.params[i]);
        continue;
      }
      auto text = binary_param_to_text(o, *m.params[i]);
      if (!text.is_ok()) return fail(text.status());
      p->params.emplace_back(std::move(text).value());
    } else if (auto hex = m.params[i] && i < oids.size() && oids[i] == oid::kBytea
                              ? detail::pg_bytea_hex(*m.params[i])
                              : std::nullopt) {
      // Text-format bytea in PostgreSQL's hex form: `\x0102` is the bytes 01 02 (other text is
      // taken as the bytes themselves, as PostgreSQL's escape form without escapes is).
      std::string bytes;
      for (size_t k = 0; k < hex->size(); k += 2)
        bytes += static_cast<char>(std::stoi(hex->substr(k, 2), nullptr, 16));
      p->params.emplace_back(std::move(bytes));
    } else {
      p->params.push_back(m.params[i]);
    }
  }
  p->formats = m.result_formats;
  if (!p->formats.empty() && p->formats.size() != 1 &&
      p->formats.size() != p->stmt->col_names.size()) {
    return fail(
        Status(StatusCode::kInvalidArgument, "bind message has a wrong number of result formats"));
  }
  if (portals_.count(m.portal) && streaming_ == portals_[m.portal].get()) streaming_ = nullptr;
  portals_[m.portal] = std::move(p);
  out_.begin('2');
  out_.end();
  return Status::ok();
}

Status Connection::handle_describe(const std::string& body) {
  Reader r(body);
  SLUICE_ASSIGN_OR_RETURN(auto kind, r.u8());
  SLUICE_ASSIGN_OR_RETURN(auto name, r.cstr());
  const Statement* s = nullptr;
  std::vector<int16_t> formats;
  if (kind == 'S') {
    auto it = statements_.find(name);
    if (it == statements_.end()) {
      send_error(ErrorFields{"ERROR", sqlstate::kInvalidStatementName,
                             fmt::format("prepared statement \"{}\" does not exist", name)});
      ignore_till_sync_ = true;
      return Status::ok();
    }
    s = it->second.get();
    out_.begin('t');  // ParameterDescription
    out_.i16(static_cast<int16_t>(s->param_oids.size()));
    for (auto o : s->param_oids)
      out_.i32(o);
    out_.end();
  } else {
    auto it = portals_.find(name);
    if (it == portals_.end()) {
      send_error(ErrorFields{"ERROR", sqlstate::kInvalidCursorName,
                             fmt::format("portal \"{}\" does not exist", name)});
      ignore_till_sync_ = true;
      return Status::ok();
    }
    s = it->second->stmt.get();
    formats = it->second->formats;
  }
  bool rows = (s->kind == StatementKind::kQuery && (s->prepared || s->empty_catalog)) ||
              s->kind == StatementKind::kShow;
  if (!rows) {
    out_.begin('n');  // NoData
    out_.end();
    return Status::ok();
  }
  if (s->kind == StatementKind::kShow) {
    auto cmd = detail::parse_set(s->sql, s->tokens);
    Statement show;
    show.col_names = {cmd ? cmd->name : "setting"};
    show.col_types = {PgType{oid::kText, -1, -1, "text"}};
    send_row_description(show, {});
    return Status::ok();
  }
  send_row_description(*s, formats);
  return Status::ok();
}

Status Connection::handle_execute(const std::string& body) {
  Reader r(body);
  SLUICE_ASSIGN_OR_RETURN(auto name, r.cstr());
  SLUICE_ASSIGN_OR_RETURN(auto max_rows, r.i32());
  auto it = portals_.find(name);
  if (it == portals_.end()) {
    send_error(ErrorFields{"ERROR", sqlstate::kInvalidCursorName,
                           fmt::format("portal \"{}\" does not exist", name)});
    ignore_till_sync_ = true;
    return Status::ok();
  }
  Portal& p = *it->second;
  if (p.started && p.stream.exhausted && p.stmt->kind == StatementKind::kQuery) {
    // Executed to completion already: PostgreSQL answers with an empty completion.
    out_.begin('C');
    out_.cstr("SELECT 0");
    out_.end();
    return Status::ok();
  }
  bool suspended = false;
  // SHOW sends its own RowDescription; other statements' rows were described by Describe.
  Status st = execute(p, max_rows, false, suspended);
  if (!st.is_ok()) {
    if (st.code() == StatusCode::kUnavailable) return st;
    send_error(st, p.stmt->sql);
    last_interrupt_ = InterruptReason::kNone;
    ignore_till_sync_ = true;
    if (tx_ == 'T') tx_ = 'E';
    if (streaming_ == &p) streaming_ = nullptr;
  }
  return Status::ok();
}

Status Connection::handle_close(const std::string& body) {
  Reader r(body);
  SLUICE_ASSIGN_OR_RETURN(auto kind, r.u8());
  SLUICE_ASSIGN_OR_RETURN(auto name, r.cstr());
  if (kind == 'S') {
    statements_.erase(name);
  } else {
    auto it = portals_.find(name);
    if (it != portals_.end()) {
      if (streaming_ == it->second.get()) streaming_ = nullptr;
      portals_.erase(it);
    }
  }
  out_.begin('3');
  out_.end();
  return Status::ok();
}

}  // namespace

void serve_connection(GatewayImpl& gateway, tcp::socket socket, bool refuse) {
  try {
    Connection c(gateway, std::move(socket));
    c.run(refuse);
  } catch (const std::exception& e) {
    log::error("gateway connection failed", {log::kv("error", e.what())});
  }
}

}  // namespace sluice::gateway

#include "sources/db_client.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <mysql.h>

namespace sluice::sources::detail {
namespace {

std::string pg_error(PGconn* c) {
  std::string m = c ? PQerrorMessage(c) : "out of memory";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
    m.pop_back();
  return m;
}

Status pg_result_status(PGconn* c, PGresult* r, std::string_view sql) {
  auto st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_OUT ||
      st == PGRES_COPY_IN) {
    return Status::ok();
  }
  std::string msg = PQresultErrorMessage(r);
  if (msg.empty()) msg = pg_error(c);
  while (!msg.empty() && msg.back() == '\n')
    msg.pop_back();
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string s(sql.substr(0, 200));
  if (state && std::string_view(state) == "42501") {
    return permission_denied(fmt::format("PostgreSQL: {} (in: {})", msg, s));
  }
  return io_error(fmt::format("PostgreSQL: {} (in: {})", msg, s));
}

}  // namespace

void release_copy_block(char* buf) {
  if (buf) PQfreemem(buf);
}

Result<PgConn> PgConn::connect(const Endpoint& ep, std::string_view application_name) {
  std::string port = std::to_string(ep.port);
  std::string app(application_name);
  const char* keys[] = {
      "host", "port", "user", "password", "dbname", "application_name", "connect_timeout", nullptr};
  const char* vals[] = {
      ep.host.c_str(), port.c_str(), ep.user.c_str(), ep.password.c_str(), ep.database.c_str(),
      app.c_str(),     "10",         nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, 0);
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    std::string m = pg_error(c);
    if (c) PQfinish(c);
    return unavailable(fmt::format("cannot connect to PostgreSQL {}:{} database {} as {}: {}",
                                   ep.host, ep.port, ep.database, ep.user, m));
  }
  PgConn conn(c);
  SLUICE_RETURN_IF_ERROR(
      conn.exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET bytea_output = 'hex'; "
                "SET extra_float_digits = 3; SET client_encoding = 'UTF8'; SET client_min_messages "
                "= 'warning'"));
  return conn;
}

PgConn& PgConn::operator=(PgConn&& o) noexcept {
  if (this != &o) {
    if (conn_) PQfinish(conn_);
    conn_ = o.conn_;
    o.conn_ = nullptr;
  }
  return *this;
}

PgConn::~PgConn() {
  if (conn_) PQfinish(conn_);
}

Status PgConn::exec(std::string_view sql) {
  std::string s(sql);
  PGresult* r = PQexec(conn_, s.c_str());
  Status st = pg_result_status(conn_, r, sql);
  PQclear(r);
  return st;
}

Result<std::vector<Row>> PgConn::query(std::string_view sql) {
  std::string s(sql);
  PGresult* r = PQexec(conn_, s.c_str());
  Status st = pg_result_status(conn_, r, sql);
  if (!st.is_ok()) {
    PQclear(r);
    return st;
  }
  std::vector<Row> rows;
  int n = PQntuples(r), m = PQnfields(r);
  rows.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Row row;
    for (int j = 0; j < m; ++j) {
      if (PQgetisnull(r, i, j)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(
            std::string(PQgetvalue(r, i, j), static_cast<size_t>(PQgetlength(r, i, j))));
      }
    }
    rows.push_back(std::move(row));
  }
  PQclear(r);
  return rows;
}

Status PgConn::copy_out_block(std::string_view copy_sql) {
  std::string s(copy_sql);
  PGresult* r = PQexec(conn_, s.c_str());
  Status st = pg_result_status(conn_, r, copy_sql);
  bool is_copy = PQresultStatus(r) == PGRES_COPY_OUT;
  PQclear(r);
  if (st.is_ok() && !is_copy) return internal_error("COPY TO STDOUT expected: " + s);
  return st;
}

Result<std::string_view> PgConn::next_copy_block(char** buf, bool* done) {
  int n = PQgetCopyData(conn_, buf, 0);
  if (n > 0) return std::string_view(*buf, static_cast<size_t>(n));
  *done = true;
  if (n == -1) return std::string_view();
  return io_error("PostgreSQL COPY: " + pg_error(conn_));
}

Result<int64_t> PgConn::finish_copy_out() {
  Status first;
  int64_t rows = 0;
  while (PGresult* r = PQgetResult(conn_)) {
    Status st = pg_result_status(conn_, r, "COPY");
    if (first.is_ok() && !st.is_ok()) first = st;
    const char* n = PQcmdTuples(r);
    if (n && *n) rows = std::stoll(n);
    PQclear(r);
  }
  if (!first.is_ok()) return first;
  return rows;
}

Status PgConn::copy_begin(std::string_view copy_sql) {
  std::string s(copy_sql);
  PGresult* r = PQexec(conn_, s.c_str());
  Status st = pg_result_status(conn_, r, copy_sql);
  PQclear(r);
  return st;
}

Status PgConn::copy_put(std::string_view data) {
  if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1) {
    return io_error("PostgreSQL COPY FROM STDIN: " + pg_error(conn_));
  }
  return Status::ok();
}

Status PgConn::copy_end() {
  if (PQputCopyEnd(conn_, nullptr) != 1) {
    return io_error("PostgreSQL COPY end: " + pg_error(conn_));
  }
  Status first;
  while (PGresult* r = PQgetResult(conn_)) {
    Status st = pg_result_status(conn_, r, "COPY FROM STDIN");
    if (first.is_ok() && !st.is_ok()) first = st;
    PQclear(r);
  }
  return first;
}

// ---------------------------------------------------------------------------------------------

Result<MyConn> MyConn::connect(const Endpoint& ep, bool local_infile) {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return internal_error("mysql_init failed");
  unsigned timeout = 10;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (local_infile) {
    unsigned one = 1;
    mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &one);
  }
  if (mysql_real_connect(m, ep.host.c_str(), ep.user.c_str(), ep.password.c_str(),
                         ep.database.c_str(), static_cast<unsigned>(ep.port), nullptr,
                         0) == nullptr) {
    std::string msg = mysql_error(m);
    mysql_close(m);
    return unavailable(fmt::format("cannot connect to MariaDB/MySQL {}:{} database {} as {}: {}",
                                   ep.host, ep.port, ep.database, ep.user, msg));
  }
  MyConn c(m);
  SLUICE_RETURN_IF_ERROR(c.exec("SET time_zone = '+00:00'"));
  return c;
}

MyConn& MyConn::operator=(MyConn&& o) noexcept {
  if (this != &o) {
    if (m_) mysql_close(m_);
    m_ = o.m_;
    o.m_ = nullptr;
  }
  return *this;
}

MyConn::~MyConn() {
  end_stream();
  if (m_) mysql_close(m_);
}

Status MyConn::error(std::string_view what) {
  unsigned code = mysql_errno(m_);
  std::string msg = fmt::format("MariaDB: {} (in: {})", mysql_error(m_), what.substr(0, 200));
  if (code == 1142 || code == 1143 || code == 1044 || code == 1227) return permission_denied(msg);
  return io_error(msg);
}

Status MyConn::exec(std::string_view sql) {
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) return error(sql);
  // Discard any result sets.
  do {
    MYSQL_RES* r = mysql_store_result(m_);
    if (r) mysql_free_result(r);
  } while (mysql_next_result(m_) == 0);
  return Status::ok();
}

Result<std::vector<Row>> MyConn::query(std::string_view sql) {
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) return error(sql);
  MYSQL_RES* r = mysql_store_result(m_);
  std::vector<Row> rows;
  if (r == nullptr) {
    if (mysql_errno(m_) != 0) return error(sql);
    return rows;
  }
  unsigned n = mysql_num_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    unsigned long* len = mysql_fetch_lengths(r);
    Row out;
    for (unsigned i = 0; i < n; ++i) {
      if (row[i] == nullptr) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(std::string(row[i], len[i]));
      }
    }
    rows.push_back(std::move(out));
  }
  mysql_free_result(r);
  return rows;
}

Status MyConn::start_stream(std::string_view sql) {
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) return error(sql);
  res_ = mysql_use_result(m_);
  if (res_ == nullptr) return error(sql);
  return Status::ok();
}

Result<char**> MyConn::next_row(unsigned long** lengths, unsigned* ncols) {
  auto* r = static_cast<MYSQL_RES*>(res_);
  MYSQL_ROW row = mysql_fetch_row(r);
  if (row == nullptr) {
    if (mysql_errno(m_) != 0) return error("reading rows");
    return static_cast<char**>(nullptr);
  }
  *lengths = mysql_fetch_lengths(r);
  *ncols = mysql_num_fields(r);
  return row;
}

void MyConn::end_stream() {
  if (res_) {
    mysql_free_result(static_cast<MYSQL_RES*>(res_));
    res_ = nullptr;
  }
}

}  // namespace sluice::sources::detail

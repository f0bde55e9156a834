#include "engine/engine.h"

#include <duckdb.h>
#include <fmt/format.h>

#include <cstdint>
#include <ctime>
#include <limits>
#include <vector>

namespace sluice::engine {

std::string duckdb_version() {
  std::string v = duckdb_library_version();
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  return v;
}

struct Database::Impl {
  duckdb_database db = nullptr;
  ~Impl() {
    if (db != nullptr) duckdb_close(&db);
  }
};

Database::~Database() = default;

Result<std::shared_ptr<Database>> Database::open_in_memory(const EngineOptions& options) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) != DuckDBSuccess) {
    return internal_error("duckdb: cannot create a configuration");
  }
  auto set = [&](const char* name, const std::string& value) -> Status {
    if (value.empty()) return Status::ok();
    if (duckdb_set_config(config, name, value.c_str()) != DuckDBSuccess) {
      return invalid_argument(
          fmt::format("engine option {}='{}' was refused by DuckDB", name, value));
    }
    return Status::ok();
  };
  Status st = set("threads", options.threads > 0 ? std::to_string(options.threads) : "");
  if (st.is_ok()) st = set("memory_limit", options.memory_limit);
  if (st.is_ok()) st = set("temp_directory", options.temp_dir);
  if (!st.is_ok()) {
    duckdb_destroy_config(&config);
    return st;
  }
  std::shared_ptr<Database> out(new Database());
  out->impl_ = std::make_unique<Impl>();
  char* err = nullptr;
  auto rc = duckdb_open_ext(nullptr, &out->impl_->db, config, &err);
  duckdb_destroy_config(&config);
  if (rc != DuckDBSuccess) {
    std::string msg = err != nullptr ? err : "unknown error";
    duckdb_free(err);
    return internal_error(fmt::format("duckdb: cannot open database: {}", msg));
  }
  return out;
}

struct Session::Impl {
  std::shared_ptr<Database> db;
  duckdb_connection con = nullptr;
  ~Impl() {
    if (con != nullptr) duckdb_disconnect(&con);
  }
};

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Result<Session> Session::open(std::shared_ptr<Database> db) {
  Session s;
  s.impl_ = std::make_unique<Impl>();
  s.impl_->db = std::move(db);
  if (duckdb_connect(s.impl_->db->impl_->db, &s.impl_->con) != DuckDBSuccess) {
    return internal_error("duckdb: cannot open a connection");
  }
  // Lake timestamps are UTC (Iceberg timestamptz); partition transforms assume it.
  SLUICE_RETURN_IF_ERROR(s.execute("SET TimeZone = 'UTC'"));
  return s;
}

namespace {
std::string type_name(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
      return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
      return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
      return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
      return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
      return "BIGINT";
    case DUCKDB_TYPE_HUGEINT:
      return "HUGEINT";
    case DUCKDB_TYPE_UTINYINT:
      return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT:
      return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER:
      return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT:
      return "UBIGINT";
    case DUCKDB_TYPE_FLOAT:
      return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
      return "DOUBLE";
    case DUCKDB_TYPE_DECIMAL:
      return "DECIMAL";
    case DUCKDB_TYPE_VARCHAR:
      return "VARCHAR";
    case DUCKDB_TYPE_BLOB:
      return "BLOB";
    case DUCKDB_TYPE_DATE:
      return "DATE";
    case DUCKDB_TYPE_TIME:
      return "TIME";
    case DUCKDB_TYPE_TIMESTAMP:
      return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_INTERVAL:
      return "INTERVAL";
    case DUCKDB_TYPE_UUID:
      return "UUID";
    case DUCKDB_TYPE_LIST:
      return "LIST";
    case DUCKDB_TYPE_STRUCT:
      return "STRUCT";
    case DUCKDB_TYPE_MAP:
      return "MAP";
    default:
      return fmt::format("TYPE{}", static_cast<int>(t));
  }
}

// DuckDB's value API cannot turn a TIMESTAMP WITH TIME ZONE into text (it returns NULL): render
// the stored UTC microseconds as DuckDB does in the session's time zone (UTC, set at open).
std::string timestamptz_text(int64_t us) {
  if (us == std::numeric_limits<int64_t>::max()) return "infinity";
  if (us == -std::numeric_limits<int64_t>::max()) return "-infinity";
  int64_t secs = us / 1000000, frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (frac != 0) {
    std::string f = fmt::format("{:06d}", frac);
    while (f.back() == '0')
      f.pop_back();
    out += "." + f;
  }
  return out + "+00";
}

// Owns a duckdb_result for its scope.
struct ResultGuard {
  duckdb_result r{};
  ~ResultGuard() { duckdb_destroy_result(&r); }
};
}  // namespace

_duckdb_connection* Session::native_connection() {
  return impl_->con;
}

Status Session::check(std::string_view sql) {
  duckdb_prepared_statement stmt = nullptr;
  std::string text(sql);
  Status st;
  if (duckdb_prepare(impl_->con, text.c_str(), &stmt) != DuckDBSuccess) {
    const char* err = duckdb_prepare_error(stmt);
    st = invalid_argument(err != nullptr ? err : "cannot prepare statement");
  }
  duckdb_destroy_prepare(&stmt);
  return st;
}

Status Session::execute(std::string_view sql) {
  ResultGuard g;
  std::string text(sql);
  if (duckdb_query(impl_->con, text.c_str(), &g.r) != DuckDBSuccess) {
    return invalid_argument(duckdb_result_error(&g.r));
  }
  return Status::ok();
}

Result<QueryResult> Session::query(std::string_view sql) {
  ResultGuard g;
  std::string text(sql);
  if (duckdb_query(impl_->con, text.c_str(), &g.r) != DuckDBSuccess) {
    return invalid_argument(duckdb_result_error(&g.r));
  }
  QueryResult out;
  idx_t ncols = duckdb_column_count(&g.r);
  for (idx_t c = 0; c < ncols; ++c) {
    out.column_names.emplace_back(duckdb_column_name(&g.r, c));
    out.column_types.emplace_back(type_name(duckdb_column_type(&g.r, c)));
  }
  idx_t nrows = duckdb_row_count(&g.r);
  out.rows.reserve(nrows);
  for (idx_t r = 0; r < nrows; ++r) {
    std::vector<std::optional<std::string>> row;
    row.reserve(ncols);
    for (idx_t c = 0; c < ncols; ++c) {
      if (duckdb_value_is_null(&g.r, c, r)) {
        row.emplace_back(std::nullopt);
        continue;
      }
      char* v = duckdb_value_varchar(&g.r, c, r);
      if (v == nullptr && duckdb_column_type(&g.r, c) == DUCKDB_TYPE_TIMESTAMP_TZ) {
        const auto* us = static_cast<const int64_t*>(duckdb_column_data(&g.r, c));
        row.emplace_back(us != nullptr ? timestamptz_text(us[r]) : std::string());
        continue;
      }
      row.emplace_back(v != nullptr ? std::string(v) : std::string());
      duckdb_free(v);
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

// --- prepared statements and streaming results ---------------------------------------------

void Session::interrupt() {
  if (impl_ && impl_->con != nullptr) duckdb_interrupt(impl_->con);
}

DataChunk& DataChunk::operator=(DataChunk&& o) noexcept {
  if (this != &o) {
    if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
    chunk_ = o.chunk_;
    o.chunk_ = nullptr;
  }
  return *this;
}

DataChunk::~DataChunk() {
  if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
}

size_t DataChunk::size() const {
  return chunk_ == nullptr ? 0 : duckdb_data_chunk_get_size(chunk_);
}

namespace {
// Owns logical types handed out by column_type().
struct TypeCache {
  std::vector<duckdb_logical_type> types;
  ~TypeCache() {
    for (auto& t : types)
      duckdb_destroy_logical_type(&t);
  }
};
}  // namespace

struct StreamingResult::Impl {
  duckdb_result result{};
  bool valid = false;
  TypeCache types;
  ~Impl() {
    if (valid) duckdb_destroy_result(&result);
  }
};

StreamingResult::StreamingResult() : impl_(std::make_unique<Impl>()) {}
StreamingResult::StreamingResult(StreamingResult&&) noexcept = default;
StreamingResult& StreamingResult::operator=(StreamingResult&&) noexcept = default;
StreamingResult::~StreamingResult() = default;

size_t StreamingResult::column_count() const {
  return duckdb_column_count(&impl_->result);
}

std::string StreamingResult::column_name(size_t i) const {
  const char* n = duckdb_column_name(&impl_->result, i);
  return n != nullptr ? n : "";
}

_duckdb_logical_type* StreamingResult::column_type(size_t i) const {
  if (impl_->types.types.empty()) {
    for (size_t c = 0; c < column_count(); ++c)
      impl_->types.types.push_back(duckdb_column_logical_type(&impl_->result, c));
  }
  return impl_->types.types.at(i);
}

bool StreamingResult::returns_rows() const {
  return duckdb_result_return_type(impl_->result) == DUCKDB_RESULT_TYPE_QUERY_RESULT;
}

int64_t StreamingResult::rows_changed() {
  return static_cast<int64_t>(duckdb_rows_changed(&impl_->result));
}

Result<DataChunk> StreamingResult::next() {
  duckdb_data_chunk chunk = duckdb_fetch_chunk(impl_->result);
  const char* err = duckdb_result_error(&impl_->result);
  if (err != nullptr) {
    if (chunk != nullptr) duckdb_destroy_data_chunk(&chunk);
    return invalid_argument(err);
  }
  return DataChunk(chunk);
}

struct PreparedStatement::Impl {
  duckdb_prepared_statement stmt = nullptr;
  TypeCache types;
  ~Impl() {
    if (stmt != nullptr) duckdb_destroy_prepare(&stmt);
  }
};

PreparedStatement::PreparedStatement() : impl_(std::make_unique<Impl>()) {}
PreparedStatement::PreparedStatement(PreparedStatement&&) noexcept = default;
PreparedStatement& PreparedStatement::operator=(PreparedStatement&&) noexcept = default;
PreparedStatement::~PreparedStatement() = default;

Result<PreparedStatement> Session::prepare(std::string_view sql) {
  PreparedStatement p;
  std::string text(sql);
  if (duckdb_prepare(impl_->con, text.c_str(), &p.impl_->stmt) != DuckDBSuccess) {
    const char* err = duckdb_prepare_error(p.impl_->stmt);
    return invalid_argument(err != nullptr ? err : "cannot prepare statement");
  }
  return p;
}

size_t PreparedStatement::param_count() const {
  return duckdb_nparams(impl_->stmt);
}

int PreparedStatement::param_type(size_t i) const {
  return static_cast<int>(duckdb_param_type(impl_->stmt, i + 1));
}

size_t PreparedStatement::column_count() const {
  return duckdb_prepared_statement_column_count(impl_->stmt);
}

std::string PreparedStatement::column_name(size_t i) const {
  const char* n = duckdb_prepared_statement_column_name(impl_->stmt, i);
  std::string out = n != nullptr ? n : "";
  duckdb_free(const_cast<char*>(n));
  return out;
}

_duckdb_logical_type* PreparedStatement::column_type(size_t i) const {
  if (impl_->types.types.empty()) {
    for (size_t c = 0; c < column_count(); ++c)
      impl_->types.types.push_back(duckdb_prepared_statement_column_logical_type(impl_->stmt, c));
  }
  return impl_->types.types.at(i);
}

Status PreparedStatement::clear_bindings() {
  if (duckdb_clear_bindings(impl_->stmt) != DuckDBSuccess) {
    return internal_error("duckdb: cannot clear bindings");
  }
  return Status::ok();
}

namespace {
Status bind_status(duckdb_state rc, size_t i) {
  if (rc == DuckDBSuccess) return Status::ok();
  return invalid_argument(fmt::format("cannot bind parameter ${}", i + 1));
}
}  // namespace

Status PreparedStatement::bind_null(size_t i) {
  return bind_status(duckdb_bind_null(impl_->stmt, i + 1), i);
}

Status PreparedStatement::bind_text(size_t i, std::string_view value) {
  return bind_status(duckdb_bind_varchar_length(impl_->stmt, i + 1, value.data(), value.size()), i);
}

Status PreparedStatement::bind_blob(size_t i, std::string_view value) {
  return bind_status(duckdb_bind_blob(impl_->stmt, i + 1, value.data(), value.size()), i);
}

Result<StreamingResult> PreparedStatement::execute() {
  StreamingResult r;
  auto rc = duckdb_execute_prepared_streaming(impl_->stmt, &r.impl_->result);
  r.impl_->valid = true;
  if (rc != DuckDBSuccess) {
    const char* err = duckdb_result_error(&r.impl_->result);
    return invalid_argument(err != nullptr ? err : "statement failed");
  }
  return r;
}

_duckdb_prepared_statement* PreparedStatement::native() const {
  return impl_->stmt;
}

}  // namespace sluice::engine

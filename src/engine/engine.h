// The SQL engine: DuckDB, in-process, through its C API. One Database per process (it owns the
// buffer pool and threads); one Session per concurrent user of it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct _duckdb_connection;  // duckdb.h's connection handle
struct _duckdb_prepared_statement;
struct _duckdb_result;
struct _duckdb_data_chunk;
struct _duckdb_logical_type;

namespace sluice::engine {

// The linked DuckDB library's version, e.g. "1.4.4".
std::string duckdb_version();

struct EngineOptions {
  int threads = 0;           // 0: DuckDB's default (all cores)
  std::string memory_limit;  // DuckDB syntax ("4GB"); empty: DuckDB's default
  std::string temp_dir;      // spill folder; empty: DuckDB's default
};

// A result materialized as text, for display and tests. Values are DuckDB's VARCHAR casts;
// std::nullopt is SQL NULL.
struct QueryResult {
  std::vector<std::string> column_names;
  std::vector<std::string> column_types;  // DuckDB logical type names
  std::vector<std::vector<std::optional<std::string>>> rows;
};

class Database {
 public:
  static Result<std::shared_ptr<Database>> open_in_memory(const EngineOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

 private:
  friend class Session;
  Database() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class PreparedStatement;

// Not thread-safe: one thread at a time per Session (except interrupt()).
class Session {
 public:
  static Result<Session> open(std::shared_ptr<Database> db);
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Runs one or more statements, discarding results; the engine's message on failure.
  Status execute(std::string_view sql);
  // Parses and binds a statement without running it: errors point into `sql` itself.
  Status check(std::string_view sql);
  // Runs a statement and materializes its result.
  Result<QueryResult> query(std::string_view sql);

  // Prepares one statement (parameters $1, $2, ... or ?) for streaming execution.
  Result<PreparedStatement> prepare(std::string_view sql);
  // Thread-safe: interrupts the statement running on this session, if any; it fails with
  // "INTERRUPT Error" (used for cancel requests and statement timeouts).
  void interrupt();

  // The DuckDB C API connection, for engine internals that register functions.
  _duckdb_connection* native_connection();

 private:
  Session() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One chunk of a streamed result (at most 2048 rows); owns the DuckDB chunk.
class DataChunk {
 public:
  DataChunk() = default;
  explicit DataChunk(_duckdb_data_chunk* chunk) : chunk_(chunk) {}
  DataChunk(DataChunk&& o) noexcept : chunk_(o.chunk_) { o.chunk_ = nullptr; }
  DataChunk& operator=(DataChunk&& o) noexcept;
  ~DataChunk();
  explicit operator bool() const { return chunk_ != nullptr; }
  size_t size() const;
  _duckdb_data_chunk* native() const { return chunk_; }

 private:
  _duckdb_data_chunk* chunk_ = nullptr;
};

// A result read chunk by chunk (DuckDB streaming): memory stays bounded for any result size.
// Its Session must outlive it and run nothing else until it is destroyed.
class StreamingResult {
 public:
  StreamingResult(StreamingResult&&) noexcept;
  StreamingResult& operator=(StreamingResult&&) noexcept;
  ~StreamingResult();

  size_t column_count() const;
  std::string column_name(size_t i) const;
  // DuckDB's logical type of column i; owned by the result.
  _duckdb_logical_type* column_type(size_t i) const;
  // True for statements whose result is rows (a query), false for DML/DDL.
  bool returns_rows() const;
  // Rows inserted, updated or deleted by a DML statement.
  int64_t rows_changed();
  // The next chunk; an empty DataChunk at the end. Errors (interrupts too) surface here.
  Result<DataChunk> next();

 private:
  friend class PreparedStatement;
  StreamingResult();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A statement prepared on a Session (which must outlive it).
class PreparedStatement {
 public:
  PreparedStatement(PreparedStatement&&) noexcept;
  PreparedStatement& operator=(PreparedStatement&&) noexcept;
  ~PreparedStatement();

  size_t param_count() const;
  // DuckDB's type id (duckdb_type) of parameter i (0-based), or 0 when it could not be inferred.
  int param_type(size_t i) const;
  // Result columns (known before execution for queries).
  size_t column_count() const;
  std::string column_name(size_t i) const;
  // Owned by the statement.
  _duckdb_logical_type* column_type(size_t i) const;

  Status clear_bindings();
  Status bind_null(size_t i);
  // Binds text; DuckDB casts it to the parameter's type when the statement runs.
  Status bind_text(size_t i, std::string_view value);
  Status bind_blob(size_t i, std::string_view value);

  // Runs the statement; rows come from StreamingResult::next().
  Result<StreamingResult> execute();

  _duckdb_prepared_statement* native() const;

 private:
  friend class Session;
  PreparedStatement();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::engine

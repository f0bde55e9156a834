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

// Not thread-safe: one thread at a time per Session.
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

  // The DuckDB C API connection, for engine internals that register functions.
  _duckdb_connection* native_connection();

 private:
  Session() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::engine

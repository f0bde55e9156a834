// SQL over the lake: a DuckDB session in which every lake table is visible as `zone.table`.
//
// Reads: before each statement, the lake tables it names are (re)bound to the table's current
// snapshot, read by Iceberg field id (so renamed or re-ordered columns read right) with delete
// files applied. Time travel: `FROM zone.t AT (VERSION => <snapshot id>)` and
// `FROM zone.t AT (TIMESTAMP => <timestamp expression>)`.
//
// Writes: CREATE TABLE, CREATE TABLE AS, INSERT, DELETE, UPDATE, MERGE INTO, TRUNCATE, ALTER
// TABLE and DROP TABLE on lake tables are carried out by Sluice: data files are written as
// Parquet with Iceberg field ids and each statement is one lake commit (copy-on-write for
// row-level changes). Every other statement goes to DuckDB unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "lake/lake.h"

namespace sluice::engine {

struct StatementResult {
  bool has_rows = false;
  QueryResult rows;
  // PostgreSQL-style command tag: "SELECT 3", "INSERT 0 10", "DELETE 4", "CREATE TABLE".
  std::string tag;
  int64_t rows_affected = -1;
  std::optional<int64_t> snapshot_id;  // the lake snapshot a write committed
};

struct LakeSessionOptions {
  std::string compression = "zstd";  // Parquet codec of new data files
  int64_t target_file_size_bytes = 256LL << 20;
  // Hot-table cache: a lake table read `cache_min_reads` times at the same snapshot (and
  // schema) is copied into an in-memory DuckDB table, and later reads of that snapshot scan the
  // copy instead of its Parquet files. A new commit, schema change or rollback makes the copy
  // stale: it is dropped at the next read. `cache_bytes` is a budget shared by every session of
  // the process (least recently used copies of this session are dropped to make room); 0 turns
  // the cache off (the default: batch jobs read each table once).
  int64_t cache_bytes = 0;
  int cache_min_reads = 2;
};

// The hot-table cache's process-wide figures (for tests, metrics and `sluice doctor`).
struct TableCacheStats {
  int64_t bytes = 0;   // memory held by cached copies, all sessions
  int64_t tables = 0;  // cached copies, all sessions
  int64_t hits = 0;    // reads served from a copy
  int64_t loads = 0;   // copies made
};
TableCacheStats table_cache_stats();

// Splits a script into statements on top-level semicolons (quotes and comments respected).
std::vector<std::string> split_statements(std::string_view script);
// True for statements whose result is a relation that can be wrapped (SELECT, WITH, FROM,
// VALUES, TABLE, or a parenthesized query).
bool is_relation_query(std::string_view statement);

// The column naming each row's data file in scan_plan_sql(plan, /*with_file=*/true).
inline constexpr const char* kScanFileColumn = "__sluice_file";

// The SQL reading a scan plan (any set of data files with their delete files) as a relation with
// the plan's schema, by Iceberg field id; with `with_file`, plus each row's data file path as
// kScanFileColumn. Used to read staged (uncommitted) snapshots and to rewrite files.
std::string scan_plan_sql(const lake::ScanPlan& plan, bool with_file = false);

// Every `a.b` name in a SQL text that can be a table (not a column `a.b.c` nor a function
// `a.b(...)`), in order of appearance, comments and string literals skipped.
std::vector<lake::TableIdent> qualified_references(std::string_view sql);

// Saved views: `<zone>.<name>` defined by a SELECT over lake tables, kept in the warehouse
// (<warehouse>/<zone>/<name>/.sluice-view.sql) and expanded by LakeSession whenever a statement
// names it. A view never shadows a table of the same name.
Status save_lake_view(const lake::Catalog& catalog, const lake::TableIdent& ident,
                      std::string_view select_sql);
// The view's SQL, or nullopt if there is no such view.
std::optional<std::string> load_lake_view(const lake::Catalog& catalog,
                                          const lake::TableIdent& ident);
Status drop_lake_view(const lake::Catalog& catalog, const lake::TableIdent& ident);

// How LakeSession::write_data_files writes its files.
struct WriteOptions {
  // Overrides the session's Parquet codec (CDC writes small hot files with a cheap codec;
  // compaction rewrites them with the table's).
  std::string_view compression;
  // > 0: at most this many rows per file (one row group each), so a table written in key order
  // keeps narrow key bounds per file (CDC's refined tables prune by them).
  int64_t max_rows_per_file = 0;
  // The select reads only what every connection of the session's database sees (a regular
  // table, not a temp table or a lake view), and is cheap to read more than once: a large
  // partitioned write is then split by partition over parallel connections.
  bool shareable_source = false;
};

class LakeSession {
 public:
  static Result<LakeSession> open(std::shared_ptr<lake::Catalog> catalog,
                                  std::shared_ptr<Database> db, LakeSessionOptions options = {});
  LakeSession(LakeSession&&) noexcept;
  LakeSession& operator=(LakeSession&&) noexcept;
  ~LakeSession();

  // Runs one statement.
  Result<StatementResult> run(std::string_view statement);
  // Runs a script statement by statement; each statement commits on its own, and the first
  // error stops the script (its message names the statement's position).
  Result<std::vector<StatementResult>> run_script(std::string_view script);

  // Binds the lake tables a read-only statement names and rewrites time travel clauses; the
  // returned SQL runs on session() directly (used for streaming exports).
  Result<std::string> prepare_query(std::string_view statement);
  // Binds a lake table's view at its current snapshot for catalog listings (the gateway's
  // pg_catalog): not a read, so it never makes the table hot nor replaces its view needlessly.
  Status bind_for_catalog(const lake::TableIdent& table);

  // Writes the rows of `select_sql` into data files of `table` and returns their descriptions
  // (not committed). Used by INSERT and by maintenance (compaction).
  Result<std::vector<lake::DataFile>> write_data_files(const lake::Table& table,
                                                       std::string_view select_sql,
                                                       const WriteOptions& write = {});

  // Rewrites small files of a table into files of the target size (one "replace" commit).
  struct CompactResult {
    int64_t files_removed = 0;
    int64_t files_added = 0;
    std::optional<int64_t> snapshot_id;
  };
  Result<CompactResult> compact(const lake::TableIdent& ident, int64_t small_file_bytes);

  Session& session();
  lake::Catalog& catalog();

 private:
  LakeSession() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::engine

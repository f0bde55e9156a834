// Internals of the sources module, exposed for unit tests: type mapping, chunk planning, CSV.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sources/sources.h"

namespace sluice::sources::detail {

// A source column as the source's catalog describes it.
struct SourceColumn {
  std::string name;
  // PostgreSQL: format_type() text ("numeric(12,2)", "timestamp with time zone", "text[]");
  // MariaDB: information_schema COLUMN_TYPE ("decimal(10,2)", "int(10) unsigned", "datetime(6)").
  std::string type;
  bool is_enum = false;  // PostgreSQL: a user enum (or an array of one)
};

// How one source column travels: the expression the source SELECT reads (text in CSV), the
// DuckDB type read_csv parses it as, the DuckDB expression that turns it into the lake column
// (`{}` is the CSV column), and the lake column's type in DuckDB spelling (CREATE TABLE).
struct MappedColumn {
  std::string name;
  std::string source_expr;
  std::string csv_type;
  std::string convert;  // fmt pattern with one {}
  std::string lake_type;
  bool integer_key = false;  // usable for key-range chunking
  bool temporal = false;     // timestamp/date: look-back is in seconds
};

// Errors name the column and its type: "column 'x' has type interval, which Sluice cannot map
// to an Iceberg type".
Result<MappedColumn> map_pg_column(const SourceColumn& c);
Result<MappedColumn> map_mysql_column(const SourceColumn& c);

// Quotes an identifier for each dialect.
std::string pg_ident(std::string_view s);
std::string mysql_ident(std::string_view s);
std::string duck_ident(std::string_view s);
std::string sql_literal(std::string_view s);  // '...' with '' doubling (PG, DuckDB)

// A half-open key range [lo, hi) of an integer primary key; unbounded ends are nullopt.
struct KeyRange {
  std::optional<int64_t> lo;
  std::optional<int64_t> hi;
};
// Splits [min, max] into ranges of about `chunk_rows` rows given an estimate of the rows,
// at most `max_chunks`; the first and last ranges are open so rows outside [min, max] (none in
// a consistent snapshot) could not be missed. An empty table or a small one is one range.
std::vector<KeyRange> plan_chunks(int64_t min, int64_t max, int64_t estimated_rows,
                                  int64_t chunk_rows, int max_chunks = 1024);
// The WHERE condition for a range on `column` (already quoted): "" for an unbounded range.
std::string range_condition(const KeyRange& r, std::string_view column);

// Appends one CSV field (RFC 4180: always quoted, quotes doubled); nullptr appends nothing (the
// unquoted empty field is NULL; read with allow_quoted_nulls = false).
void append_csv_field(std::string& out, const char* data, size_t len);

// ---------------------------------------------------------------------------------------------
// Shared by the DB, file-drop and REST sources (ingest.cc).

// Now, UTC, as a TIMESTAMPTZ literal's text ("2026-11-21 15:00:00.123456+00").
std::string now_utc_text();
// Appends the rows of the DuckDB table `qtable` (the quarantine columns: _source, source_table,
// reason, column_name, raw_row, source_position, _ingested_at) to `quarantine`, creating it.
Status write_quarantine(engine::LakeSession& lake, const lake::TableIdent& quarantine,
                        const std::string& source, const std::string& qtable);

// type = "files" and type = "rest" (file_drop.cc, rest_source.cc).
Status validate_file_rest_source(SourceConfig& c);
Result<IngestReport> ingest_files(const SourceConfig& source, engine::LakeSession& lake,
                                  const IngestOptions& options);
Result<IngestReport> ingest_rest(const SourceConfig& source, engine::LakeSession& lake,
                                 const IngestOptions& options);

}  // namespace sluice::sources::detail

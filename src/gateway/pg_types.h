// DuckDB types as PostgreSQL types: OIDs, typmods and the text and binary encodings of values
// ("Data Types" chapter; binary formats are those of PostgreSQL's *send/*recv functions).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "gateway/pg_wire.h"

struct _duckdb_logical_type;
struct _duckdb_vector;

namespace sluice::gateway {

namespace oid {
inline constexpr int32_t kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25,
                         kJson = 114, kFloat4 = 700, kFloat8 = 701, kUnknown = 705, kVarchar = 1043,
                         kDate = 1082, kTime = 1083, kTimestamp = 1114, kTimestamptz = 1184,
                         kInterval = 1186, kTimetz = 1266, kNumeric = 1700, kUuid = 2950;
}  // namespace oid

struct PgType {
  int32_t oid = oid::kText;
  int16_t typlen = -1;  // bytes, -1 for variable length
  int32_t typmod = -1;  // numeric: ((precision << 16) | scale) + 4
  std::string name;     // PostgreSQL's name, e.g. "int4", "_int4"
};

// The PostgreSQL type DuckDB's logical type is sent as.
PgType pg_type_of(_duckdb_logical_type* type);
// The same for a DuckDB type name as engine::QueryResult reports it ("INTEGER", "DECIMAL", ...).
PgType pg_type_from_duckdb_name(std::string_view name);
// The array type of an element type OID (int4 -> _int4, 1007), or 0 when there is none.
int32_t array_oid_of(int32_t element_oid);
// The DuckDB type name for a PostgreSQL OID (for casting text parameters), or "" when unknown.
std::string_view duckdb_name_of_oid(int32_t oid);

// Encodes one column of DuckDB chunks as PostgreSQL values (text or binary format).
class ColumnEncoder {
 public:
  ColumnEncoder(_duckdb_logical_type* type, bool binary);
  ~ColumnEncoder();
  ColumnEncoder(ColumnEncoder&&) noexcept;
  ColumnEncoder& operator=(ColumnEncoder&&) noexcept;

  // False when `binary` was asked for a type without a binary encoding here.
  bool supported() const;
  // Points the encoder at the column's vector of the current chunk.
  void set_vector(_duckdb_vector* vector);
  // Appends the DataRow field (Int32 length, then bytes; -1 for NULL) of `row`.
  void write_field(Writer& w, uint64_t row) const;
  // Appends the text form of `row`; false (and nothing appended) for NULL.
  bool append_text(std::string& out, uint64_t row) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Converts a parameter sent in binary format for type `oid` to text DuckDB can cast.
Result<std::string> binary_param_to_text(int32_t oid, std::string_view bytes);

// Text formatting of date/time values (exposed for tests).
void format_date(int32_t days, std::string& out);
void format_timestamp(int64_t micros, bool with_tz, std::string& out);
// PG numeric binary from decimal text ("-12.340").
Result<std::string> numeric_text_to_binary(std::string_view text);

}  // namespace sluice::gateway

// Internals of the MariaDB/MySQL binlog reader: parsing TABLE_MAP and *_ROWS event bodies and
// decoding row images into change.h's text forms. Pure functions over byte buffers (unit-tested
// on hand-built buffers in tests/cdc/mysql_binlog_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/change.h"
#include "common/status.h"

namespace sluice::cdc::mysql {

// Binlog column type codes (enum_field_types) used in TABLE_MAP events.
enum FieldType : uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDatetime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDatetime2 = 18,
  kTypeTime2 = 19,
  kTypeJson = 245,
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

// How to decode one column of a row image: the binlog type (for STRING columns the real type,
// ENUM or SET, taken from the metadata) and its metadata, plus what the tracked schema adds.
struct ColumnCodec {
  uint8_t type = kTypeString;
  uint32_t meta = 0;         // max length, pack length, (precision << 8 | scale), fsp, bits
  bool is_unsigned = false;  // from the schema's source_type ("int(10) unsigned")
  ValueKind kind = ValueKind::kString;
  std::vector<std::string> members;  // ENUM / SET values, in declaration order
};

// A parsed TABLE_MAP event body (everything after the common header, checksum removed).
struct TableMap {
  uint64_t table_id = 0;
  std::string database;
  std::string table;
  std::vector<uint8_t> types;       // per column, as sent (STRING for ENUM/SET)
  std::vector<uint32_t> meta;       // per column, decoded metadata
  std::vector<uint8_t> real_types;  // per column: types with ENUM/SET resolved
};

Result<TableMap> parse_table_map(std::string_view body, uint8_t post_header_len);

// A parsed *_ROWS event: the images, each a vector of values in column order (nullopt = NULL or
// a column absent from the image).
enum class RowsKind { kWrite, kUpdate, kDelete };
struct RowsEvent {
  uint64_t table_id = 0;
  uint16_t flags = 0;
  RowsKind kind = RowsKind::kWrite;
  uint32_t column_count = 0;
  std::string_view data;             // the row images (after the column bitmaps)
  std::vector<bool> present;         // columns present in the (before) image
  std::vector<bool> present_update;  // columns present in the after image (updates)
};

// `event_type` is the binlog event type (23..25 v1, 30..32 v2).
Result<RowsEvent> parse_rows_header(std::string_view body, uint8_t event_type,
                                    uint8_t post_header_len);

// Decodes one row image starting at `*pos` of `data`, advancing `*pos`; `out` gets one value
// per column (absent columns stay nullopt).
Status decode_row_image(std::string_view data, size_t* pos, const std::vector<bool>& present,
                        const std::vector<ColumnCodec>& codecs, std::vector<Value>* out);

// Decodes one non-NULL value at `*pos` (advanced past it).
Result<std::string> decode_value(std::string_view data, size_t* pos, const ColumnCodec& codec);

// Individual decoders (exposed for tests). Each reads exactly its encoded size.
std::string decode_decimal(const uint8_t* p, int precision, int scale, size_t* size);
std::string decode_datetime2(const uint8_t* p, int fsp, size_t* size);
std::string decode_time2(const uint8_t* p, int fsp, size_t* size);
std::string decode_timestamp2(const uint8_t* p, int fsp, size_t* size);
std::string decode_date(const uint8_t* p);
size_t decimal_binary_size(int precision, int scale);

// The codec for a tracked column: its kind/unsignedness/members from the schema's source_type
// and the binlog type/metadata from the TABLE_MAP.
ColumnCodec make_codec(const Column& column, uint8_t real_type, uint32_t meta);

// From information_schema: DATA_TYPE, COLUMN_TYPE and whether a json_valid() check exists.
void classify_column(std::string_view data_type, std::string_view column_type, bool is_json,
                     Column* column);

// ENUM('a','b''c') / SET(...) members, unquoted.
std::vector<std::string> parse_members(std::string_view column_type);

// Normalises a value read by SELECT in the snapshot to the binlog decoder's form (floats via
// CAST(... AS DOUBLE), BIT via CAST(... AS UNSIGNED), TIMESTAMP with "+00").
std::string normalize_snapshot_value(const Column& column, std::string text);

// The SELECT expression for a column in the snapshot.
std::string snapshot_select_expr(const Column& column);

// "binlog.000042" -> 42.
uint64_t binlog_file_number(std::string_view file);

}  // namespace sluice::cdc::mysql

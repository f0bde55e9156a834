// Unit tests of the binlog row-image decoders on hand-built byte buffers (encodings as the
// MariaDB/MySQL server writes them: big-endian temporal types with offsets, decimal in 9-digit
// groups with the sign in the first bit, little-endian integers and lengths).
#include "cdc/mysql_binlog.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace sluice::cdc;
using namespace sluice::cdc::mysql;

namespace {

std::vector<uint8_t> be_bytes(uint64_t v, int n) {
  std::vector<uint8_t> out;
  for (int i = n - 1; i >= 0; --i)
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return out;
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& b) {
  to.insert(to.end(), b.begin(), b.end());
}

std::string_view view(const std::vector<uint8_t>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// DATETIME2 as the server packs it: ((year*13+month) << 22 | day << 17 | hms) + 2^39.
std::vector<uint8_t> datetime2(int y, int mo, int d, int h, int mi, int s) {
  uint64_t ym = static_cast<uint64_t>(y) * 13 + static_cast<uint64_t>(mo);
  uint64_t ymd = ym << 5 | static_cast<uint64_t>(d);
  uint64_t hms =
      static_cast<uint64_t>(h) << 12 | static_cast<uint64_t>(mi) << 6 | static_cast<uint64_t>(s);
  return be_bytes((ymd << 17 | hms) + 0x8000000000ULL, 5);
}

}  // namespace

TEST(MysqlDecimal, PositiveAndNegative) {
  // decimal(14,4) 1234567890.1234: 1 digit in 1 byte, 9 digits in 4 bytes, 4 digits in 2 bytes.
  std::vector<uint8_t> pos = {0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2};
  size_t size = 0;
  EXPECT_EQ(decode_decimal(pos.data(), 14, 4, &size), "1234567890.1234");
  EXPECT_EQ(size, 7u);
  std::vector<uint8_t> neg;
  for (auto b : pos)
    neg.push_back(static_cast<uint8_t>(~b));
  EXPECT_EQ(decode_decimal(neg.data(), 14, 4, &size), "-1234567890.1234");
  // decimal(10,3) 0.500 and -12.345.
  std::vector<uint8_t> half = {0x80, 0x00, 0x00, 0x00, 0x01, 0xF4};
  EXPECT_EQ(decode_decimal(half.data(), 10, 3, &size), "0.500");
  EXPECT_EQ(size, 6u);
  std::vector<uint8_t> m12 = {0x80, 0x00, 0x00, 0x0C, 0x01, 0x59};  // 12.345
  for (auto& b : m12)
    b = static_cast<uint8_t>(~b);
  EXPECT_EQ(decode_decimal(m12.data(), 10, 3, &size), "-12.345");
  // decimal(5,0) 0 and decimal(20,0) 18446744073709551615.
  std::vector<uint8_t> zero = {0x80, 0x00, 0x00};
  EXPECT_EQ(decode_decimal(zero.data(), 5, 0, &size), "0");
  std::vector<uint8_t> big = {0x80 | 0x12};
  append(big, be_bytes(446744073, 4));
  append(big, be_bytes(709551615, 4));
  EXPECT_EQ(decode_decimal(big.data(), 20, 0, &size), "18446744073709551615");
  EXPECT_EQ(decimal_binary_size(30, 10), 1u + 8u + 4u + 1u);
}

TEST(MysqlTemporal, Datetime2) {
  size_t size = 0;
  auto b = datetime2(2024, 1, 2, 3, 4, 5);
  EXPECT_EQ(decode_datetime2(b.data(), 0, &size), "2024-01-02 03:04:05");
  EXPECT_EQ(size, 5u);
  auto b6 = datetime2(1999, 12, 31, 23, 59, 59);
  append(b6, be_bytes(123456, 3));
  EXPECT_EQ(decode_datetime2(b6.data(), 6, &size), "1999-12-31 23:59:59.123456");
  EXPECT_EQ(size, 8u);
  auto b3 = datetime2(2000, 2, 29, 0, 0, 0);
  append(b3, be_bytes(5000, 2));  // .500 stored as 1/10000 s
  EXPECT_EQ(decode_datetime2(b3.data(), 3, &size), "2000-02-29 00:00:00.500");
  EXPECT_EQ(size, 7u);
}

TEST(MysqlTemporal, Time2NegativeAndFractions) {
  size_t size = 0;
  // -01:02:03: int part -(1<<12 | 2<<6 | 3) + 0x800000.
  std::vector<uint8_t> t0 = {0x7F, 0xEF, 0x7D};
  EXPECT_EQ(decode_time2(t0.data(), 0, &size), "-01:02:03");
  EXPECT_EQ(size, 3u);
  // -00:00:01.25 with fsp 2: int part floor(-1.25 s) = -2, fraction byte (uint8)(-25).
  std::vector<uint8_t> t2 = {0x7F, 0xFF, 0xFE, 0xE7};
  EXPECT_EQ(decode_time2(t2.data(), 2, &size), "-00:00:01.25");
  EXPECT_EQ(size, 4u);
  // -00:00:00.001 with fsp 3: int part -1, fraction (uint16)(-10).
  std::vector<uint8_t> t3 = {0x7F, 0xFF, 0xFF, 0xFF, 0xF6};
  EXPECT_EQ(decode_time2(t3.data(), 3, &size), "-00:00:00.001");
  // -01:02:03.500000 with fsp 6: 48-bit packed value + 2^47.
  int64_t packed = -((int64_t{4227} << 24) + 500000);
  auto t6 = be_bytes(static_cast<uint64_t>(packed + 0x800000000000LL), 6);
  EXPECT_EQ(decode_time2(t6.data(), 6, &size), "-01:02:03.500000");
  EXPECT_EQ(size, 6u);
  // 838:59:59 (the maximum) and 12:00:00.5 with fsp 1.
  auto tmax = be_bytes(0x800000 + (838u << 12 | 59u << 6 | 59u), 3);
  EXPECT_EQ(decode_time2(tmax.data(), 0, &size), "838:59:59");
  auto t1 = be_bytes(0x800000 + (12u << 12), 3);
  t1.push_back(50);
  EXPECT_EQ(decode_time2(t1.data(), 1, &size), "12:00:00.5");
}

TEST(MysqlTemporal, Timestamp2AndDate) {
  size_t size = 0;
  auto ts = be_bytes(1704164645, 4);  // 2024-01-02 03:04:05 UTC
  EXPECT_EQ(decode_timestamp2(ts.data(), 0, &size), "2024-01-02 03:04:05+00");
  append(ts, be_bytes(654321, 3));
  EXPECT_EQ(decode_timestamp2(ts.data(), 6, &size), "2024-01-02 03:04:05.654321+00");
  EXPECT_EQ(size, 7u);
  // DATE: little-endian day | month << 5 | year << 9.
  uint32_t d = 29 | 2 << 5 | 2024 << 9;
  std::vector<uint8_t> date = {static_cast<uint8_t>(d), static_cast<uint8_t>(d >> 8),
                               static_cast<uint8_t>(d >> 16)};
  EXPECT_EQ(decode_date(date.data()), "2024-02-29");
}

TEST(MysqlTableMap, ParsesTypesAndMetadata) {
  std::vector<uint8_t> body = {0x2A, 0, 0, 0, 0, 0, 0x01, 0x00};  // table id 42, flags
  body.push_back(3);
  for (char c : std::string("inv"))
    body.push_back(static_cast<uint8_t>(c));
  body.push_back(0);
  body.push_back(1);
  body.push_back('t');
  body.push_back(0);
  // int, varchar(20) utf8mb4, decimal(10,3), enum (as STRING), datetime(6), bit(5), char(10).
  std::vector<uint8_t> types = {kTypeLong,      kTypeVarchar, kTypeNewDecimal, kTypeString,
                                kTypeDatetime2, kTypeBit,     kTypeString};
  body.push_back(static_cast<uint8_t>(types.size()));
  append(body, types);
  std::vector<uint8_t> meta = {80, 0, 10, 3, kTypeEnum, 1, 6, 5, 0, kTypeString, 40};
  body.push_back(static_cast<uint8_t>(meta.size()));
  append(body, meta);
  body.push_back(0x7F);  // nullability
  auto tm = parse_table_map(view(body), 8);
  ASSERT_TRUE(tm.is_ok()) << tm.status().to_string();
  EXPECT_EQ(tm->table_id, 42u);
  EXPECT_EQ(tm->database, "inv");
  EXPECT_EQ(tm->table, "t");
  ASSERT_EQ(tm->types.size(), 7u);
  EXPECT_EQ(tm->meta[1], 80u);
  EXPECT_EQ(tm->meta[2], (10u << 8) | 3u);
  EXPECT_EQ(tm->real_types[3], kTypeEnum);
  EXPECT_EQ(tm->meta[3], 1u);
  EXPECT_EQ(tm->meta[4], 6u);
  EXPECT_EQ(tm->meta[5], 5u);
  EXPECT_EQ(tm->real_types[6], kTypeString);
  EXPECT_EQ(tm->meta[6], 40u);
  // Truncated metadata is an error, not a crash.
  std::vector<uint8_t> cut(body.begin(), body.begin() + static_cast<long>(body.size()) - 6);
  EXPECT_FALSE(parse_table_map(view(cut), 8).is_ok());
}

TEST(MysqlRows, DecodesWriteAndUpdateImages) {
  auto col = [](std::string type, ValueKind kind) {
    Column c;
    c.source_type = std::move(type);
    c.kind = kind;
    return c;
  };
  std::vector<ColumnCodec> codecs = {
      make_codec(col("int(10) unsigned", ValueKind::kInt64), kTypeLong, 0),
      make_codec(col("varchar(20)", ValueKind::kString), kTypeVarchar, 80),
      make_codec(col("enum('small','medium','large')", ValueKind::kString), kTypeEnum, 1),
      make_codec(col("set('red','green','blue')", ValueKind::kString), kTypeSet, 1),
      make_codec(col("bit(5)", ValueKind::kInt64), kTypeBit, 5),
      make_codec(col("smallint(6)", ValueKind::kInt16), kTypeShort, 0),
      make_codec(col("bit(1)", ValueKind::kBool), kTypeBit, 1),
      make_codec(col("longtext", ValueKind::kJson), kTypeBlob, 4),
  };
  // WRITE_ROWS v1 body: table id, flags, column count, present bitmap, then one row.
  std::vector<uint8_t> body = {0x2A, 0, 0, 0, 0, 0, 0x01, 0x00, 8, 0xFF};
  body.push_back(0x00);                          // NULL bitmap: none
  append(body, {0xFF, 0xFF, 0xFF, 0xFF});        // 4294967295 unsigned
  append(body, {5, 'h', 0xC3, 0xA9, 'l', 'o'});  // "hélo" (5 bytes)
  body.push_back(2);                             // enum index 2 -> medium
  body.push_back(0x05);                          // set bits 0 and 2
  body.push_back(0x15);                          // bit(5) 10101
  append(body, {0x00, 0x80});                    // -32768
  body.push_back(0x01);                          // bit(1) -> true
  append(body, {7, 0, 0, 0, '{', '"', 'a', '"', ':', '1', '}'});
  // A second row with NULLs in columns 1 and 7.
  body.push_back(0x82);
  append(body, {7, 0, 0, 0});
  body.push_back(0);  // enum 0 -> ''
  body.push_back(0);
  body.push_back(0);
  append(body, {0xFF, 0x7F});
  body.push_back(0);
  auto rows = parse_rows_header(view(body), 23, 8);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  EXPECT_EQ(rows->kind, RowsKind::kWrite);
  EXPECT_EQ(rows->column_count, 8u);
  size_t pos = 0;
  std::vector<Value> v;
  ASSERT_TRUE(decode_row_image(rows->data, &pos, rows->present, codecs, &v).is_ok());
  EXPECT_EQ(v[0], "4294967295");
  EXPECT_EQ(v[1], "h\xC3\xA9lo");
  EXPECT_EQ(v[2], "medium");
  EXPECT_EQ(v[3], "red,blue");
  EXPECT_EQ(v[4], "21");
  EXPECT_EQ(v[5], "-32768");
  EXPECT_EQ(v[6], "true");
  EXPECT_EQ(v[7], "{\"a\":1}");
  ASSERT_TRUE(decode_row_image(rows->data, &pos, rows->present, codecs, &v).is_ok());
  EXPECT_EQ(v[0], "7");
  EXPECT_FALSE(v[1].has_value());
  EXPECT_EQ(v[2], "");
  EXPECT_EQ(v[3], "");
  EXPECT_EQ(v[5], "32767");
  EXPECT_EQ(v[6], "false");
  EXPECT_FALSE(v[7].has_value());
  EXPECT_EQ(pos, rows->data.size());
  // A truncated image is an error naming the problem.
  pos = 0;
  auto cut = rows->data.substr(0, 8);
  sluice::Status st = decode_row_image(cut, &pos, rows->present, codecs, &v);
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("truncated"), std::string::npos);
}

TEST(MysqlRows, UpdateHasTwoBitmapsAndV2ExtraData) {
  // UPDATE_ROWS v2: post-header with extra-data length 2 (none), 1 column, two bitmaps.
  std::vector<uint8_t> body = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0x01, 0x01};
  body.push_back(0);
  append(body, {1, 0, 0, 0});
  body.push_back(0);
  append(body, {2, 0, 0, 0});
  auto rows = parse_rows_header(view(body), 31, 10);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  EXPECT_EQ(rows->kind, RowsKind::kUpdate);
  Column c;
  c.source_type = "int(11)";
  c.kind = ValueKind::kInt32;
  std::vector<ColumnCodec> codecs = {make_codec(c, kTypeLong, 0)};
  size_t pos = 0;
  std::vector<Value> before, after;
  ASSERT_TRUE(decode_row_image(rows->data, &pos, rows->present, codecs, &before).is_ok());
  ASSERT_TRUE(decode_row_image(rows->data, &pos, rows->present_update, codecs, &after).is_ok());
  EXPECT_EQ(before[0], "1");
  EXPECT_EQ(after[0], "2");
}

TEST(MysqlSchema, ClassifiesColumnsAndParsesMembers) {
  Column c;
  classify_column("bigint", "bigint(20) unsigned", false, &c);
  EXPECT_EQ(c.kind, ValueKind::kDecimal);
  EXPECT_EQ(c.precision, 20);
  classify_column("decimal", "decimal(12,4)", false, &c);
  EXPECT_EQ(c.kind, ValueKind::kDecimal);
  EXPECT_EQ(c.precision, 12);
  EXPECT_EQ(c.scale, 4);
  classify_column("longtext", "longtext", true, &c);
  EXPECT_EQ(c.kind, ValueKind::kJson);
  EXPECT_EQ(c.source_type, "json");
  classify_column("timestamp", "timestamp(6)", false, &c);
  EXPECT_EQ(c.kind, ValueKind::kTimestampTz);
  classify_column("bit", "bit(1)", false, &c);
  EXPECT_EQ(c.kind, ValueKind::kBool);
  classify_column("int", "int(10) unsigned", false, &c);
  EXPECT_EQ(c.kind, ValueKind::kInt64);
  auto m = parse_members("enum('a','b''c','d,e')");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1], "b'c");
  EXPECT_EQ(m[2], "d,e");
  Column f;
  f.source_type = "float";
  f.kind = ValueKind::kFloat32;
  EXPECT_EQ(normalize_snapshot_value(f, "3.1415927410125732"), "3.1415927");
  EXPECT_EQ(snapshot_select_expr(f), "CAST(`` AS DOUBLE)");
  EXPECT_EQ(binlog_file_number("mariadb-bin.000042"), 42u);
}

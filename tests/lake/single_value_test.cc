// Iceberg spec: Appendix D, binary single-value serialization, byte for byte.
#include "lake_test_util.h"

namespace sluice::lake {
namespace {

using testing::hex;

std::string enc(const std::string& type, const Value& v) {
  auto r = encode_single_value(*Type::of(type), v);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? hex(*r) : "";
}

TEST(LakeSingleValue, BytesPerType) {
  EXPECT_EQ(enc("boolean", true), "01");
  EXPECT_EQ(enc("boolean", false), "00");
  EXPECT_EQ(enc("int", int32_t{1}), "01000000");
  EXPECT_EQ(enc("int", int32_t{-1}), "ffffffff");
  EXPECT_EQ(enc("long", int64_t{1}), "0100000000000000");
  EXPECT_EQ(enc("long", int32_t{258}), "0201000000000000");  // promoted
  EXPECT_EQ(enc("float", 1.0f), "0000803f");
  EXPECT_EQ(enc("double", 1.0), "000000000000f03f");
  EXPECT_EQ(enc("date", int32_t{17486}), "4e440000");
  EXPECT_EQ(enc("time", int64_t{81068000000}), "008307e012000000");
  EXPECT_EQ(enc("timestamp", int64_t{1510871468000000}), "00c3262d215e0500");
  EXPECT_EQ(enc("timestamptz", int64_t{1510871468000000}), "00c3262d215e0500");
  EXPECT_EQ(enc("string", std::string("iceberg")), "69636562657267");
  EXPECT_EQ(enc("uuid", std::string("f79c3e09-677c-4bbd-a479-3f349cb785e7")),
            "f79c3e09677c4bbda4793f349cb785e7");
  EXPECT_EQ(enc("fixed[3]", std::vector<uint8_t>{1, 2, 3}), "010203");
  EXPECT_EQ(enc("binary", std::vector<uint8_t>{0, 255}), "00ff");
  // Decimal: unscaled two's complement, big-endian, minimum bytes.
  EXPECT_EQ(enc("decimal(4,2)", std::vector<uint8_t>{0x05, 0x8c}), "058c");
  EXPECT_EQ(enc("decimal(9,2)", std::vector<uint8_t>{0x00, 0x00, 0x05, 0x8c}), "058c");
  EXPECT_EQ(enc("decimal(9,2)", std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff}), "ff");
  EXPECT_EQ(enc("decimal(9,2)", std::vector<uint8_t>{0x00, 0x80}), "0080");
  EXPECT_EQ(enc("decimal(9,2)", std::vector<uint8_t>{0xff, 0x7f}), "ff7f");
}

TEST(LakeSingleValue, RoundTrips) {
  std::vector<std::pair<std::string, Value>> cases = {
      {"boolean", true},
      {"int", int32_t{-42}},
      {"long", int64_t{1} << 40},
      {"float", 2.5f},
      {"double", -0.125},
      {"date", int32_t{-3}},
      {"timestamp", int64_t{-5}},
      {"string", std::string("h\xc3\xa9llo")},
      {"uuid", std::string("f79c3e09-677c-4bbd-a479-3f349cb785e7")},
      {"fixed[2]", std::vector<uint8_t>{7, 8}},
      {"binary", std::vector<uint8_t>{}},
      {"decimal(9,2)", std::vector<uint8_t>{0x85}},
  };
  for (const auto& [type, v] : cases) {
    auto t = Type::of(type);
    auto bytes = encode_single_value(*t, v);
    ASSERT_TRUE(bytes.is_ok()) << type;
    auto back = decode_single_value(*t, *bytes);
    ASSERT_TRUE(back.is_ok()) << type;
    EXPECT_EQ(*back, v) << type;
  }
}

TEST(LakeSingleValue, WidenedColumnsReadOldBounds) {
  // A column widened int -> long keeps 4-byte bounds in old manifests.
  auto v = decode_single_value(*Type::of("long"), std::string("\x05\x00\x00\x00", 4));
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(std::get<int64_t>(*v), 5);
  auto d = decode_single_value(*Type::of("double"), std::string("\x00\x00\x80\x3f", 4));
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(std::get<double>(*d), 1.0);
}

TEST(LakeSingleValue, Errors) {
  EXPECT_EQ(encode_single_value(*Type::of("int"), Null{}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(encode_single_value(*Type::of("int"), std::string("x")).status().code(),
            StatusCode::kInvalidArgument);
  auto bad = decode_single_value(*Type::of("int"), "abc");
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("4 bytes"), std::string::npos);
  EXPECT_FALSE(decode_single_value(*Type::of("uuid"), "short").is_ok());
}

}  // namespace
}  // namespace sluice::lake

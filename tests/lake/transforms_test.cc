// Iceberg spec: Partition Transforms and Appendix B (hash values from the spec's table).
#include "lake_test_util.h"

namespace sluice::lake {
namespace {

int32_t hash_of(const std::string& type, const Value& v) {
  auto h = detail::bucket_hash(*Type::of(type), v);
  EXPECT_TRUE(h.is_ok()) << h.status().to_string();
  return h.is_ok() ? *h : 0;
}

TEST(LakeTransforms, AppendixBHashValues) {
  EXPECT_EQ(hash_of("int", int32_t{34}), 2017239379);
  EXPECT_EQ(hash_of("long", int64_t{34}), 2017239379);
  // 14.20 -> unscaled 1420 = 0x058c
  EXPECT_EQ(hash_of("decimal(4,2)", std::vector<uint8_t>{0x05, 0x8c}), -500754589);
  EXPECT_EQ(hash_of("date", int32_t{17486}), -653330422);        // 2017-11-16
  EXPECT_EQ(hash_of("time", int64_t{81068000000}), -662762989);  // 22:31:08
  EXPECT_EQ(hash_of("timestamp", int64_t{1510871468000000}), -2047944441);
  EXPECT_EQ(hash_of("timestamptz", int64_t{1510871468000000}), -2047944441);
  EXPECT_EQ(hash_of("string", std::string("iceberg")), 1210000089);
  EXPECT_EQ(hash_of("uuid", std::string("f79c3e09-677c-4bbd-a479-3f349cb785e7")), 1488055340);
  EXPECT_EQ(hash_of("fixed[4]", std::vector<uint8_t>{0, 1, 2, 3}), -188683207);
  EXPECT_EQ(hash_of("binary", std::vector<uint8_t>{0, 1, 2, 3}), -188683207);
  EXPECT_EQ(hash_of("float", 1.0f), -142385009);
  EXPECT_EQ(hash_of("double", 1.0), -142385009);
}

Value apply(const std::string& t, const std::string& type, const Value& v) {
  auto r = apply_transform(t, *Type::of(type), v);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : Value(Null{});
}

TEST(LakeTransforms, Bucket) {
  EXPECT_EQ(std::get<int32_t>(apply("bucket[16]", "int", int32_t{34})), 2017239379 % 16);
  EXPECT_EQ(std::get<int32_t>(apply("bucket[100]", "string", std::string("iceberg"))),
            1210000089 % 100);
  // Negative hashes are masked to non-negative before the modulo.
  EXPECT_EQ(std::get<int32_t>(apply("bucket[7]", "string", std::string("iceberg"))),
            1210000089 % 7);
  int32_t h = -653330422;
  EXPECT_EQ(std::get<int32_t>(apply("bucket[10]", "date", int32_t{17486})), (h & 0x7fffffff) % 10);
  EXPECT_TRUE(std::holds_alternative<Null>(apply("bucket[4]", "int", Null{})));
}

TEST(LakeTransforms, Truncate) {
  EXPECT_EQ(std::get<int32_t>(apply("truncate[10]", "int", int32_t{1})), 0);
  EXPECT_EQ(std::get<int32_t>(apply("truncate[10]", "int", int32_t{-1})), -10);
  EXPECT_EQ(std::get<int64_t>(apply("truncate[10]", "long", int64_t{-1})), -10);
  EXPECT_EQ(std::get<std::string>(apply("truncate[3]", "string", std::string("iceberg"))), "ice");
  // Code points, not bytes: "é" is two bytes.
  EXPECT_EQ(std::get<std::string>(apply("truncate[2]", "string", std::string("\xc3\xa9t\xc3\xa9"))),
            "\xc3\xa9t");
  // 10.65 (unscaled 1065) truncate[50] -> 10.50 (1050 = 0x041a)
  EXPECT_EQ(std::get<std::vector<uint8_t>>(
                apply("truncate[50]", "decimal(9,2)", std::vector<uint8_t>{0x04, 0x29})),
            (std::vector<uint8_t>{0x04, 0x1a}));
  EXPECT_EQ(
      std::get<std::vector<uint8_t>>(apply("truncate[2]", "binary", std::vector<uint8_t>{1, 2, 3})),
      (std::vector<uint8_t>{1, 2}));
}

TEST(LakeTransforms, DateAndTime) {
  int64_t ts = 1510871468000000;  // 2017-11-16T22:31:08
  EXPECT_EQ(std::get<int32_t>(apply("year", "timestamp", ts)), 47);
  EXPECT_EQ(std::get<int32_t>(apply("month", "timestamp", ts)), 47 * 12 + 10);
  EXPECT_EQ(std::get<int32_t>(apply("day", "timestamptz", ts)), 17486);
  EXPECT_EQ(std::get<int32_t>(apply("hour", "timestamp", ts)), 17486 * 24 + 22);
  EXPECT_EQ(std::get<int32_t>(apply("month", "date", int32_t{17486})), 574);
  // Before the epoch, results round down.
  EXPECT_EQ(std::get<int32_t>(apply("year", "date", int32_t{-1})), -1);
  EXPECT_EQ(std::get<int32_t>(apply("month", "date", int32_t{-1})), -1);
  EXPECT_EQ(std::get<int32_t>(apply("day", "timestamp", int64_t{-1})), -1);
  EXPECT_EQ(std::get<int32_t>(apply("hour", "timestamp", int64_t{-1})), -1);
  EXPECT_TRUE(std::holds_alternative<Null>(apply("void", "string", std::string("x"))));
  EXPECT_EQ(std::get<std::string>(apply("identity", "string", std::string("x"))), "x");
}

TEST(LakeTransforms, InvalidTransformsNameColumnAndTransform) {
  Status day = validate_transform("day", *Type::of("string"), "region");
  EXPECT_EQ(day.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(day.message().find("'region'"), std::string::npos) << day.message();
  EXPECT_NE(day.message().find("'day'"), std::string::npos) << day.message();
  Status b0 = validate_transform("bucket[0]", *Type::of("int"), "id");
  EXPECT_EQ(b0.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b0.message().find("bucket[0]"), std::string::npos) << b0.message();
  EXPECT_FALSE(validate_transform("hour", *Type::of("date"), "d").is_ok());
  EXPECT_FALSE(validate_transform("truncate[4]", *Type::of("double"), "x").is_ok());
  EXPECT_FALSE(validate_transform("bucket[4]", *Type::of("double"), "x").is_ok());
  EXPECT_FALSE(validate_transform("bucket[4]", *Type::of("boolean"), "x").is_ok());
  EXPECT_FALSE(validate_transform("weekly", *Type::of("date"), "x").is_ok());
  EXPECT_FALSE(validate_transform("bucket[x]", *Type::of("int"), "x").is_ok());
  EXPECT_TRUE(validate_transform("BUCKET[16]", *Type::of("string"), "x").is_ok());
  EXPECT_TRUE(validate_transform("truncate[4]", *Type::of("decimal(9,2)"), "x").is_ok());
}

TEST(LakeTransforms, ResultTypes) {
  EXPECT_EQ((*transform_result_type("bucket[4]", *Type::of("string")))->primitive, "int");
  EXPECT_EQ((*transform_result_type("day", *Type::of("timestamp")))->primitive, "int");
  EXPECT_EQ((*transform_result_type("truncate[4]", *Type::of("string")))->primitive, "string");
  EXPECT_EQ((*transform_result_type("identity", *Type::of("date")))->primitive, "date");
  EXPECT_EQ(detail::default_partition_name("ts", "day"), "ts_day");
  EXPECT_EQ(detail::default_partition_name("id", "bucket[16]"), "id_bucket");
  EXPECT_EQ(detail::default_partition_name("s", "truncate[4]"), "s_trunc");
}

}  // namespace
}  // namespace sluice::lake

// Types, schemas, identifiers and value helpers (Iceberg spec: Schemas and Data Types).
#include "lake_test_util.h"

namespace sluice::lake {
namespace {

using testing::field;

TEST(LakeTypes, PrimitiveNamesAreCanonical) {
  EXPECT_EQ(Type::of("decimal(10, 2)")->primitive, "decimal(10,2)");
  EXPECT_EQ(Type::of("FIXED[16]")->primitive, "fixed[16]");
  EXPECT_EQ(Type::of("long")->to_string(), "long");
  EXPECT_FALSE(detail::canonical_primitive("decimal(39,2)"));
  EXPECT_FALSE(detail::canonical_primitive("varchar"));
  EXPECT_EQ(detail::decimal_required_bytes(9), 4);
  EXPECT_EQ(detail::decimal_required_bytes(18), 8);
  EXPECT_EQ(detail::decimal_required_bytes(38), 16);
}

TEST(LakeTypes, NestedTypeRendersAsSpecJson) {
  auto list = std::make_shared<Type>();
  list->kind = Type::Kind::kList;
  list->fields = {NestedField{5, "element", true, Type::of("int"), ""}};
  EXPECT_EQ(list->to_string(),
            R"({"type":"list","element-id":5,"element":"int","element-required":true})");
  auto map = std::make_shared<Type>();
  map->kind = Type::Kind::kMap;
  map->fields = {NestedField{6, "key", true, Type::of("string"), ""},
                 NestedField{7, "value", false, Type::of("double"), ""}};
  EXPECT_EQ(
      map->to_string(),
      R"({"type":"map","key-id":6,"key":"string","value-id":7,"value":"double","value-required":false})");
}

TEST(LakeTypes, SchemaFindsNestedFieldsById) {
  auto st = std::make_shared<Type>();
  st->kind = Type::Kind::kStruct;
  st->fields = {field(10, "city", "string"), field(11, "zip", "int")};
  Schema s;
  s.fields = {field(1, "id", "long", true), NestedField{2, "address", false, st, ""}};
  ASSERT_NE(s.find_field(11), nullptr);
  EXPECT_EQ(s.find_field(11)->name, "zip");
  EXPECT_EQ(s.find_field("address")->id, 2);
  EXPECT_EQ(s.find_field("zip"), nullptr);  // by name: top level only
  EXPECT_EQ(s.highest_field_id(), 11);
}

TEST(LakeTypes, TableIdentParse) {
  auto ok = TableIdent::parse("raw.orders");
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->ns, "raw");
  EXPECT_EQ(ok->name, "orders");
  EXPECT_EQ(ok->to_string(), "raw.orders");
  auto none = TableIdent::parse("orders");
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("<namespace>.<table>"), std::string::npos);
  EXPECT_FALSE(TableIdent::parse("a.b.c").is_ok());
  EXPECT_FALSE(TableIdent::parse("raw.9x").is_ok());
  EXPECT_FALSE(TableIdent::parse(".x").is_ok());
  EXPECT_FALSE(TableIdent::parse("raw.or-ders").is_ok());
}

TEST(LakeTypes, CoerceValueChecksTypes) {
  auto r = detail::coerce_value(*Type::of("long"), Value(int32_t{5}), "v");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(std::get<int64_t>(*r), 5);
  auto bad = detail::coerce_value(*Type::of("int"), Value(std::string("x")), "column 'n'");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("column 'n'"), std::string::npos);
  EXPECT_FALSE(detail::coerce_value(*Type::of("uuid"), Value(std::string("nope")), "u").is_ok());
  EXPECT_FALSE(
      detail::coerce_value(*Type::of("fixed[4]"), Value(std::vector<uint8_t>{1, 2}), "f").is_ok());
}

TEST(LakeTypes, CompareDecimalsAsSignedIntegers) {
  auto t = Type::of("decimal(9,2)");
  Value neg = std::vector<uint8_t>{0xff};        // -1
  Value small = std::vector<uint8_t>{0x01};      // 1
  Value big = std::vector<uint8_t>{0x01, 0x00};  // 256
  EXPECT_LT(detail::compare_values(*t, neg, small), 0);
  EXPECT_LT(detail::compare_values(*t, small, big), 0);
  EXPECT_GT(detail::compare_values(*t, big, neg), 0);
  EXPECT_EQ(detail::compare_values(*t, Value(std::vector<uint8_t>{0x00, 0x01}), small), 0);
}

}  // namespace
}  // namespace sluice::lake

// Avro and JSON Schema parsing and compatibility (table-driven from the *_cases.json files: add
// a case there), and the store's rules and durability.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "registry/avro_schema_internal.h"
#include "registry/json_schema_internal.h"
#include "registry/schema_store_internal.h"

namespace sluice::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json load_cases(const std::string& name) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/tests/registry/" + name);
  return json::parse(in);
}

std::string joined(const std::vector<Incompatibility>& found) {
  std::string out;
  for (const auto& f : found)
    out += f.message + "\n";
  return out;
}

TEST(AvroCompat, SpecCases) {
  json cases = load_cases("avro_compat_cases.json");
  ASSERT_GT(cases.size(), 40u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["case"].get<std::string>());
    auto w = avro::Schema::parse(c["writer"].dump());
    auto r = avro::Schema::parse(c["reader"].dump());
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<Incompatibility> found;
    avro::check_compatibility(**r, **w, true, found);
    EXPECT_EQ(found.empty(), c["ok"].get<bool>()) << joined(found);
    if (c.contains("message")) {
      EXPECT_NE(joined(found).find(c["message"].get<std::string>()), std::string::npos)
          << joined(found);
    }
  }
}

TEST(AvroCompat, ForwardWording) {
  // FORWARD: the old schema reads data written with the new one.
  auto old_s = *avro::Schema::parse(
      R"({"type":"record","name":"orders","fields":[{"name":"id","type":"long"},
          {"name":"note","type":"string"}]})");
  auto new_s = *avro::Schema::parse(
      R"({"type":"record","name":"orders","fields":[{"name":"id","type":"int"}]})");
  std::vector<Incompatibility> found;
  avro::check_compatibility(*old_s, *new_s, false, found);
  ASSERT_EQ(found.size(), 1u) << joined(found);
  EXPECT_EQ(found[0].message,
            "field 'orders.note' was removed, and the earlier schema has no default for it");
  auto widened = *avro::Schema::parse(
      R"({"type":"record","name":"orders","fields":[{"name":"id","type":"string"},
          {"name":"note","type":"string"}]})");
  found.clear();
  avro::check_compatibility(*old_s, *widened, false, found);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].message, "field 'orders.id' changed type from long to string");
}

TEST(AvroParse, CanonicalFormIsStableAcrossSpellings) {
  auto a = avro::Schema::parse(R"({
      "type": "record", "name": "Order", "namespace": "shop",
      "fields": [ {"name": "id", "type": {"type": "long"}},
                  {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
                  {"name": "next", "type": ["null", "Order"], "default": null} ]})");
  auto b = avro::Schema::parse(
      R"({"fields":[{"type":"long","name":"id"},{"default":[],"name":"tags","type":{"items":"string","type":"array"}},{"name":"next","default":null,"type":["null","shop.Order"]}],"name":"shop.Order","type":"record"})");
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ((*a)->canonical(), (*b)->canonical());
  EXPECT_EQ((*a)->canonical(),
            R"({"type":"record","name":"shop.Order","fields":[{"name":"id","type":"long"},)"
            R"({"name":"tags","type":{"type":"array","items":"string"},"default":[]},)"
            R"({"name":"next","type":["null","shop.Order"],"default":null}]})");
  EXPECT_EQ((*avro::Schema::parse("\"string\""))->canonical(), "\"string\"");
  EXPECT_EQ((*avro::Schema::parse("string"))->canonical(), "\"string\"");
  // A doc string is part of the schema (a different id), as in Confluent's registry.
  auto with_doc = avro::Schema::parse(
      R"({"type":"record","name":"shop.Order","doc":"x","fields":[{"name":"id","type":"long"}]})");
  EXPECT_NE((*with_doc)->canonical().find("\"doc\":\"x\""), std::string::npos);
}

TEST(AvroParse, ErrorsNameTheProblem) {
  auto err = [](const std::string& text) {
    auto s = avro::Schema::parse(text);
    return s.is_ok() ? std::string("OK") : s.status().message();
  };
  EXPECT_EQ(err(R"({"type":"record","name":"o","fields":[{"name":"a","type":"strin"}]})"),
            "o.a: unknown type 'strin'");
  EXPECT_EQ(
      err(R"({"type":"record","name":"o","fields":[{"name":"a","type":"int","default":"x"}]})"),
      "o.a: default \"x\" is not a valid int");
  EXPECT_EQ(err(R"({"type":"record","name":"o","fields":[{"name":"a","type":"int"},
                    {"name":"a","type":"int"}]})"),
            "o.a: field defined twice");
  EXPECT_EQ(err(R"({"type":"enum","name":"e","symbols":["A","A"]})"),
            "schema: enum 'e' repeats symbol \"A\"");
  EXPECT_EQ(err(R"(["null",["int"]])"), "schema: a union may not contain a union");
  EXPECT_EQ(err(R"(["int","int"])"), "schema: union contains 'int' twice");
  EXPECT_EQ(err(R"({"type":"fixed","name":"f"})"),
            "schema: fixed 'f' needs a non-negative integer \"size\"");
  EXPECT_EQ(err("{nope"), "schema is not valid JSON (at byte 3)");
  EXPECT_EQ(err(R"({"type":"record","name":"1x","fields":[]})"), "schema: invalid name '1x'");
  EXPECT_EQ(err(R"({"type":"record","name":"o","fields":[{"name":"a","type":["null","int"],
                    "default":null}]})"),
            "OK");
}

TEST(JsonSchemaCompat, Cases) {
  json cases = load_cases("json_compat_cases.json");
  ASSERT_GT(cases.size(), 25u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["case"].get<std::string>());
    std::vector<Incompatibility> found;
    jsonschema::check_compatibility(c["reader"], c["writer"], true, found);
    EXPECT_EQ(found.empty(), c["ok"].get<bool>()) << joined(found);
    if (c.contains("message")) {
      EXPECT_NE(joined(found).find(c["message"].get<std::string>()), std::string::npos)
          << joined(found);
    }
  }
}

TEST(JsonSchemaParse, RejectsNonSchemas) {
  EXPECT_FALSE(jsonschema::parse("[1,2]").is_ok());
  EXPECT_FALSE(jsonschema::parse(R"({"type":"strnig"})").is_ok());
  EXPECT_FALSE(jsonschema::parse(R"({"required":"a"})").is_ok());
  EXPECT_TRUE(jsonschema::parse(R"({"type":["string","null"]})").is_ok());
  EXPECT_TRUE(jsonschema::parse("true").is_ok());
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice_registry_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    auto s = SchemaStore::open(dir_, false);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  static SchemaInput avro_in(const std::string& text) { return SchemaInput{text, "AVRO"}; }
  static std::string record(const std::string& fields) {
    return R"({"type":"record","name":"orders","fields":[)" + fields + "]}";
  }
  static ApiError err(const Status& st) { return to_api_error(st); }

  fs::path dir_;
  std::unique_ptr<SchemaStore> store_;
};

TEST_F(StoreTest, RegisterIsIdempotentAndIdsAreGlobal) {
  auto v1 = record(R"({"name":"id","type":"long"})");
  auto id1 = store_->register_schema("orders-value", avro_in(v1));
  ASSERT_TRUE(id1.is_ok()) << id1.status().to_string();
  EXPECT_EQ(*id1, 1);
  // Same schema, other spelling: same id, no new version.
  EXPECT_EQ(*store_->register_schema("orders-value",
                                     avro_in(R"({"name":"orders","type":"record","fields":[
                                         {"type":{"type":"long"},"name":"id"}]})")),
            1);
  EXPECT_EQ(*store_->versions("orders-value", false), std::vector<int>({1}));
  // Same schema under another subject: same id, its own version 1.
  EXPECT_EQ(*store_->register_schema("other", avro_in(v1)), 1);
  auto v2 = record(R"({"name":"id","type":"long"},{"name":"note","type":"string","default":""})");
  EXPECT_EQ(*store_->register_schema("orders-value", avro_in(v2)), 2);
  auto latest = store_->get_version("orders-value", "latest", false);
  ASSERT_TRUE(latest.is_ok());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->schema.id, 2);
  auto looked = store_->lookup("orders-value", avro_in(v1), false);
  ASSERT_TRUE(looked.is_ok());
  EXPECT_EQ(looked->version, 1);
  EXPECT_EQ(store_->subjects(false), std::vector<std::string>({"orders-value", "other"}));
}

TEST_F(StoreTest, IncompatibleChangeNamesFieldRuleAndVersion) {
  ASSERT_TRUE(
      store_
          ->register_schema("orders-value", avro_in(record(R"({"name":"amount","type":"double"})")))
          .is_ok());
  ASSERT_TRUE(
      store_
          ->register_schema("orders-value", avro_in(record(R"({"name":"amount","type":"double"},
                                                        {"name":"n","type":"int","default":0})")))
          .is_ok());
  // The first schema again: already live as version 1, so no version 3.
  ASSERT_TRUE(
      store_
          ->register_schema("orders-value", avro_in(record(R"({"name":"amount","type":"double"})")))
          .is_ok());
  auto bad = store_->register_schema("orders-value",
                                     avro_in(record(R"({"name":"amount","type":"string"})")));
  ASSERT_FALSE(bad.is_ok());
  auto e = err(bad.status());
  EXPECT_EQ(e.http_status, 409);
  EXPECT_EQ(e.error_code, 409);
  EXPECT_EQ(e.message,
            "Schema being registered is incompatible with an earlier schema for subject "
            "\"orders-value\": field 'orders.amount' changed type from double to string "
            "(BACKWARD: a reader using the new schema cannot read data written with version 2)");
  // NONE accepts it; FORWARD words the other direction.
  ASSERT_TRUE(store_->set_subject_level("orders-value", CompatLevel::kForward).is_ok());
  auto fwd =
      store_->register_schema("orders-value", avro_in(record(R"({"name":"amount","type":"double"},
                                         {"name":"x","type":"int"})")));
  ASSERT_TRUE(fwd.is_ok()) << fwd.status().to_string();  // old readers ignore a new field
  auto fwd_bad =
      store_->register_schema("orders-value", avro_in(record(R"({"name":"x","type":"int"})")));
  ASSERT_FALSE(fwd_bad.is_ok());
  EXPECT_EQ(err(fwd_bad.status()).message,
            "Schema being registered is incompatible with an earlier schema for subject "
            "\"orders-value\": field 'orders.amount' was removed, and the earlier schema has no "
            "default for it (FORWARD: a reader using version 3 cannot read data written with the "
            "new schema)");
  ASSERT_TRUE(store_->set_subject_level("orders-value", CompatLevel::kNone).is_ok());
  EXPECT_TRUE(
      store_
          ->register_schema("orders-value", avro_in(record(R"({"name":"amount","type":"string"})")))
          .is_ok());
}

TEST_F(StoreTest, TransitiveChecksEveryVersion) {
  ASSERT_TRUE(store_->set_global_level(CompatLevel::kBackwardTransitive).is_ok());
  ASSERT_TRUE(
      store_->register_schema("s", avro_in(record(R"({"name":"a","type":"int"})"))).is_ok());
  // v2 drops a (fine for a reader); v3 re-adds a as a string: fine against v2, not against v1.
  ASSERT_TRUE(store_
                  ->register_schema("s", avro_in(record(R"({"name":"b","type":"int",
                                                             "default":0})")))
                  .is_ok());
  auto v3 = avro_in(record(R"({"name":"b","type":"int","default":0},
                              {"name":"a","type":"string","default":""})"));
  auto r = store_->register_schema("s", v3);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(err(r.status())
                .message.find("field 'orders.a' changed type from int to string "
                              "(BACKWARD_TRANSITIVE: a reader using the new schema "
                              "cannot read data written with version 1)"),
            std::string::npos)
      << err(r.status()).message;
  // Against the latest only, it is compatible.
  auto report = store_->test_compatibility("s", "latest", v3);
  ASSERT_TRUE(report.is_ok());
  EXPECT_TRUE(report->compatible);
  auto all = store_->test_compatibility("s", "", v3);
  EXPECT_FALSE(all->compatible);
  EXPECT_EQ(all->messages.size(), 1u);
}

TEST_F(StoreTest, DeletesAndErrorsFollowConfluent) {
  auto v1 = avro_in(record(R"({"name":"id","type":"long"})"));
  ASSERT_TRUE(store_->register_schema("s", v1).is_ok());
  EXPECT_EQ(err(store_->delete_version("s", "1", true).status()).error_code,
            kVersionNotSoftDeleted);
  EXPECT_EQ(*store_->delete_version("s", "1", false), 1);
  EXPECT_EQ(err(store_->delete_version("s", "1", false).status()).error_code, kVersionSoftDeleted);
  EXPECT_EQ(err(store_->get_version("s", "1", false).status()).error_code, kSubjectNotFound);
  EXPECT_TRUE(store_->get_version("s", "1", true)->deleted);
  EXPECT_TRUE(store_->schema_by_id(1).is_ok());  // a soft-deleted version keeps its id readable
  // Re-registering after a soft delete makes a new version with the same id.
  EXPECT_EQ(*store_->register_schema("s", v1), 1);
  EXPECT_EQ(*store_->versions("s", false), std::vector<int>({2}));
  EXPECT_EQ(err(store_->delete_subject("s", true).status()).error_code, kSubjectNotSoftDeleted);
  EXPECT_EQ(*store_->delete_subject("s", false), std::vector<int>({2}));
  EXPECT_EQ(err(store_->delete_subject("s", false).status()).error_code, kSubjectSoftDeleted);
  EXPECT_EQ(*store_->delete_subject("s", true), std::vector<int>({1, 2}));
  EXPECT_EQ(err(store_->schema_by_id(1).status()).error_code, kSchemaNotFound);
  EXPECT_EQ(err(store_->versions("s", true).status()).error_code, kSubjectNotFound);
  EXPECT_EQ(err(store_->get_version("s", "0", false).status()).error_code, kInvalidVersion);
  EXPECT_EQ(err(store_->get_version("s", "x", false).status()).http_status, 422);
  // Ids are never reused, also across a restart.
  reopen();
  EXPECT_EQ(*store_->register_schema("t", avro_in(record(R"({"name":"z","type":"int"})"))), 2);
}

TEST_F(StoreTest, RestartKeepsEverythingAndCutsATornTail) {
  ASSERT_TRUE(store_->register_schema("a", avro_in("\"string\"")).is_ok());
  ASSERT_TRUE(store_->register_schema("b", SchemaInput{R"({"type":"object"})", "JSON"}).is_ok());
  ASSERT_TRUE(store_->set_subject_level("a", CompatLevel::kFull).is_ok());
  ASSERT_TRUE(store_->set_global_level(CompatLevel::kNone).is_ok());
  auto log = store_->log_path();
  reopen();
  std::ofstream(log, std::ios::app) << R"({"t":"version","subject":"a","ver)";  // torn append
  reopen();
  EXPECT_EQ(store_->schema_by_id(1)->schema, "\"string\"");
  EXPECT_EQ(store_->schema_by_id(2)->type, "JSON");
  EXPECT_EQ(*store_->subject_level("a", false), CompatLevel::kFull);
  EXPECT_EQ(store_->global_level(), CompatLevel::kNone);
  EXPECT_EQ(err(store_->subject_level("b", false).status()).error_code,
            kSubjectLevelConfigNotFound);
  EXPECT_EQ(*store_->subject_level("b", true), CompatLevel::kNone);
  EXPECT_EQ(*store_->register_schema("c", avro_in("\"int\"")), 3);
  reopen();
  EXPECT_EQ(*store_->versions("c", false), std::vector<int>({1}));
}

TEST_F(StoreTest, UnsupportedTypesAndReferencesAreClear) {
  auto proto = store_->register_schema("p", SchemaInput{"syntax = \"proto3\";", "PROTOBUF"});
  ASSERT_FALSE(proto.is_ok());
  EXPECT_EQ(err(proto.status()).error_code, kInvalidSchema);
  EXPECT_EQ(err(proto.status()).message,
            "PROTOBUF schemas are not supported by Sluice's registry; use AVRO or JSON");
  auto bad = store_->register_schema("p", avro_in(R"({"type":"recrod"})"));
  EXPECT_EQ(err(bad.status()).message, "Invalid schema: schema: unknown type 'recrod'");
  EXPECT_EQ(err(bad.status()).http_status, 422);
}

}  // namespace
}  // namespace sluice::registry

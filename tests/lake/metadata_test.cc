// Iceberg spec: Table Metadata JSON (v2 written, v1 and v2 read).
#include <nlohmann/json.hpp>

#include "lake_test_util.h"

namespace sluice::lake {
namespace {

using testing::LakeTest;

TEST_F(LakeTest, MetadataJsonHasEveryRequiredV2Field) {
  CreateTableOptions opts;
  opts.partition_by = {{"ts", "day"}, {"region", "identity"}};
  opts.properties = {{"write.target-file-size-bytes", "134217728"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  ASSERT_TRUE(
      t.append({testing::data_file("/d/a.parquet", 1, 5, 5, {int32_t{17486}, std::string("eu")})})
          .is_ok());
  auto j = nlohmann::json::parse(testing::slurp(t.metadata_location()));
  for (const char* key :
       {"format-version", "table-uuid", "location", "last-sequence-number", "last-updated-ms",
        "last-column-id", "schemas", "current-schema-id", "partition-specs", "default-spec-id",
        "last-partition-id", "sort-orders", "default-sort-order-id", "properties",
        "current-snapshot-id", "snapshots", "snapshot-log", "metadata-log", "refs"}) {
    EXPECT_TRUE(j.contains(key)) << "missing " << key;
  }
  EXPECT_EQ(j["format-version"], 2);
  EXPECT_EQ(j["last-sequence-number"], 1);
  EXPECT_EQ(j["last-column-id"], 4);
  EXPECT_EQ(j["last-partition-id"], 1001);
  EXPECT_EQ(j["table-uuid"].get<std::string>().size(), 36u);
  EXPECT_EQ(j["schemas"][0]["type"], "struct");
  EXPECT_EQ(j["schemas"][0]["schema-id"], 0);
  EXPECT_EQ(j["schemas"][0]["fields"][1]["type"], "timestamptz");
  EXPECT_EQ(j["schemas"][0]["fields"][0]["required"], true);
  auto spec = j["partition-specs"][0];
  EXPECT_EQ(spec["spec-id"], 0);
  EXPECT_EQ(spec["fields"][0]["name"], "ts_day");
  EXPECT_EQ(spec["fields"][0]["transform"], "day");
  EXPECT_EQ(spec["fields"][0]["source-id"], 2);
  EXPECT_EQ(spec["fields"][0]["field-id"], 1000);
  EXPECT_EQ(spec["fields"][1]["field-id"], 1001);
  EXPECT_EQ(j["sort-orders"][0]["order-id"], 0);
  auto snap = j["snapshots"][0];
  for (const char* key : {"snapshot-id", "sequence-number", "timestamp-ms", "manifest-list",
                          "summary", "schema-id"}) {
    EXPECT_TRUE(snap.contains(key)) << "snapshot missing " << key;
  }
  EXPECT_FALSE(snap.contains("parent-snapshot-id"));
  EXPECT_EQ(snap["summary"]["operation"], "append");
  EXPECT_EQ(j["current-snapshot-id"], snap["snapshot-id"]);
  EXPECT_EQ(j["refs"]["main"]["snapshot-id"], snap["snapshot-id"]);
  EXPECT_EQ(j["refs"]["main"]["type"], "branch");
  EXPECT_EQ(j["snapshot-log"][0]["snapshot-id"], snap["snapshot-id"]);
  EXPECT_EQ(j["metadata-log"].size(), 1u);
  EXPECT_NE(j["metadata-log"][0]["metadata-file"].get<std::string>().find("00000-"),
            std::string::npos);
  EXPECT_NE(t.metadata_location().find("/metadata/00001-"), std::string::npos);
}

TEST_F(LakeTest, MetadataRoundTrips) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({testing::data_file("/d/a.parquet", 1, 5)}).is_ok());
  std::string text = serialize_table_metadata(t.metadata());
  auto back = parse_table_metadata(text, "m.json");
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(serialize_table_metadata(*back), text);
}

TEST(LakeMetadata, EmptyTableHasNoCurrentSnapshot) {
  TableMetadata m;
  m.table_uuid = "9c12d441-03fe-4693-9a96-a0705ddf69c1";
  m.location = "/w/t";
  m.schemas = {testing::orders_schema()};
  m.partition_specs = {PartitionSpec{}};
  m.sort_orders = {SortOrder{}};
  auto j = nlohmann::json::parse(serialize_table_metadata(m));
  EXPECT_EQ(j["current-snapshot-id"], -1);
  auto back = parse_table_metadata(j.dump(), "m.json");
  ASSERT_TRUE(back.is_ok());
  EXPECT_FALSE(back->current_snapshot_id);
  EXPECT_EQ(back->current_snapshot(), nullptr);
}

const char* kV1 = R"({
  "format-version": 1,
  "table-uuid": "d20125c8-7284-442c-9aea-15fee620737c",
  "location": "/tmp/v1table",
  "last-updated-ms": 1602638573874,
  "last-column-id": 3,
  "schema": {"type": "struct", "fields": [
    {"id": 1, "name": "x", "required": true, "type": "long"},
    {"id": 2, "name": "y", "required": true, "type": "long", "doc": "comment"},
    {"id": 3, "name": "z", "required": true, "type": "long"}]},
  "partition-spec": [{"name": "x", "transform": "identity", "source-id": 1, "field-id": 1000}],
  "properties": {},
  "current-snapshot-id": 3055729675574597004,
  "snapshots": [
    {"snapshot-id": 3051729675574597004, "timestamp-ms": 1515100955770,
     "summary": {"operation": "append"}, "manifest-list": "/tmp/v1table/metadata/s1.avro"},
    {"snapshot-id": 3055729675574597004, "parent-snapshot-id": 3051729675574597004,
     "timestamp-ms": 1555100955770, "summary": {"operation": "append"},
     "manifest-list": "/tmp/v1table/metadata/s2.avro"}],
  "snapshot-log": [
    {"snapshot-id": 3051729675574597004, "timestamp-ms": 1515100955770},
    {"snapshot-id": 3055729675574597004, "timestamp-ms": 1555100955770}]
})";

TEST(LakeMetadata, ReadsV1) {
  auto m = parse_table_metadata(kV1, "v1.metadata.json");
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->format_version, 1);
  EXPECT_EQ(m->last_sequence_number, 0);
  ASSERT_EQ(m->schemas.size(), 1u);
  EXPECT_EQ(m->current_schema().fields[1].doc, "comment");
  ASSERT_EQ(m->partition_specs.size(), 1u);
  EXPECT_EQ(m->default_spec().fields[0].field_id, 1000);
  EXPECT_EQ(m->last_partition_id, 1000);
  EXPECT_EQ(m->snapshots[1].sequence_number, 0);
  ASSERT_NE(m->current_snapshot(), nullptr);
  EXPECT_EQ(m->refs.at("main").snapshot_id, 3055729675574597004);
  // Time travel uses the snapshot log.
  EXPECT_EQ(m->snapshot_as_of(1515100955770)->snapshot_id, 3051729675574597004);
  EXPECT_EQ(m->snapshot_as_of(1555100955769)->snapshot_id, 3051729675574597004);
  EXPECT_EQ(m->snapshot_as_of(1555100955770)->snapshot_id, 3055729675574597004);
  EXPECT_EQ(m->snapshot_as_of(1000), nullptr);
  // Written back as v2 with every v2 field.
  auto j = nlohmann::json::parse(serialize_table_metadata(*m));
  EXPECT_EQ(j["format-version"], 2);
  EXPECT_TRUE(j.contains("partition-specs"));
  EXPECT_TRUE(j.contains("schemas"));
}

TEST(LakeMetadata, V1WithoutFieldIdsInSpec) {
  auto j = nlohmann::json::parse(kV1);
  j["partition-spec"] = nlohmann::json::parse(
      R"([{"name": "x", "transform": "identity", "source-id": 1},
          {"name": "y_bucket", "transform": "bucket[4]", "source-id": 2}])");
  auto m = parse_table_metadata(j.dump(), "v1.json");
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->default_spec().fields[1].field_id, 1001);
  EXPECT_EQ(m->last_partition_id, 1001);
}

TEST(LakeMetadata, ErrorsNameTheFileAndField) {
  auto j = nlohmann::json::parse(kV1);
  j["format-version"] = 2;
  auto m = parse_table_metadata(j.dump(), "/w/t/metadata/00003-x.metadata.json");
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
  EXPECT_NE(m.status().message().find("/w/t/metadata/00003-x.metadata.json"), std::string::npos);
  EXPECT_NE(m.status().message().find("last-sequence-number"), std::string::npos)
      << m.status().message();

  auto j2 = nlohmann::json::parse(kV1);
  j2["last-column-id"] = "three";
  auto m2 = parse_table_metadata(j2.dump(), "f.json");
  EXPECT_NE(m2.status().message().find("'last-column-id': expected an integer"), std::string::npos)
      << m2.status().message();

  auto j3 = nlohmann::json::parse(kV1);
  j3["schema"]["fields"][1].erase("type");
  auto m3 = parse_table_metadata(j3.dump(), "f.json");
  EXPECT_NE(m3.status().message().find("schema.fields[1].type"), std::string::npos)
      << m3.status().message();

  auto j4 = nlohmann::json::parse(kV1);
  j4["schema"]["fields"][0]["type"] = "varchar";
  EXPECT_NE(parse_table_metadata(j4.dump(), "f.json").status().message().find("varchar"),
            std::string::npos);

  auto j5 = nlohmann::json::parse(kV1);
  j5["current-snapshot-id"] = 42;
  EXPECT_NE(
      parse_table_metadata(j5.dump(), "f.json").status().message().find("current-snapshot-id"),
      std::string::npos);

  EXPECT_NE(parse_table_metadata("{not json", "f.json").status().message().find("invalid JSON"),
            std::string::npos);
  auto j6 = nlohmann::json::parse(kV1);
  j6["format-version"] = 3;
  EXPECT_NE(parse_table_metadata(j6.dump(), "f.json").status().message().find("format version 3"),
            std::string::npos);
}

TEST(LakeMetadata, V2RequiresSummaryOperation) {
  auto j = nlohmann::json::parse(kV1);
  j["format-version"] = 2;
  j["last-sequence-number"] = 0;
  j["schemas"] = nlohmann::json::array({j["schema"]});
  j["schemas"][0]["schema-id"] = 0;
  j["current-schema-id"] = 0;
  j["partition-specs"] = nlohmann::json::array({{{"spec-id", 0}, {"fields", j["partition-spec"]}}});
  j["default-spec-id"] = 0;
  j["last-partition-id"] = 1000;
  j["sort-orders"] =
      nlohmann::json::array({{{"order-id", 0}, {"fields", nlohmann::json::array()}}});
  j["default-sort-order-id"] = 0;
  for (auto& s : j["snapshots"])
    s["sequence-number"] = 1;
  ASSERT_TRUE(parse_table_metadata(j.dump(), "f.json").is_ok());
  j["snapshots"][0]["summary"].erase("operation");
  auto m = parse_table_metadata(j.dump(), "f.json");
  EXPECT_NE(m.status().message().find("snapshots[0].summary.operation"), std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace sluice::lake

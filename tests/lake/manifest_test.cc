// Iceberg spec: Manifests and Manifest Lists as Avro files - schemas, field ids, header
// metadata, sequence number inheritance - checked against the spec and python3-avro.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lake_test_util.h"

namespace sluice::lake {
namespace {

using nlohmann::json;
using testing::LakeTest;

// Finds a record field by name; its type without the ["null", T] union; whether optional.
struct FieldInfo {
  int id = -1;
  bool optional = false;
  json type;
};
FieldInfo find(const json& record, const std::string& name) {
  for (const auto& f : record["fields"]) {
    if (f["name"] == name) {
      FieldInfo out;
      out.id = f.value("field-id", -1);
      out.type = f["type"];
      if (out.type.is_array()) {
        out.optional = out.type[0] == "null";
        out.type = out.type[1];
        EXPECT_TRUE(f.contains("default") && f["default"].is_null()) << name;
      }
      return out;
    }
  }
  ADD_FAILURE() << "no field " << name;
  return {};
}

PartitionSpec day_region_spec() {
  PartitionSpec spec;
  spec.fields = {{2, 1000, "ts_day", "day"}, {3, 1001, "region", "identity"}};
  return spec;
}

TEST(LakeManifestSchema, ManifestEntryFieldIdsMatchTheSpec) {
  auto j =
      json::parse(detail::manifest_entry_avro_schema(testing::orders_schema(), day_region_spec()));
  EXPECT_EQ(j["type"], "record");
  EXPECT_EQ(j["name"], "manifest_entry");
  auto status = find(j, "status");
  EXPECT_EQ(status.id, 0);
  EXPECT_FALSE(status.optional);
  EXPECT_EQ(status.type, "int");
  EXPECT_EQ(find(j, "snapshot_id").id, 1);
  EXPECT_TRUE(find(j, "snapshot_id").optional);
  EXPECT_EQ(find(j, "sequence_number").id, 3);
  EXPECT_TRUE(find(j, "sequence_number").optional);
  EXPECT_EQ(find(j, "file_sequence_number").id, 4);
  EXPECT_TRUE(find(j, "file_sequence_number").optional);
  auto df = find(j, "data_file");
  EXPECT_EQ(df.id, 2);
  EXPECT_FALSE(df.optional);
  EXPECT_EQ(df.type["name"], "r2");
  const json& r2 = df.type;

  struct Want {
    const char* name;
    int id;
    bool optional;
  };
  for (const Want& w :
       {Want{"content", 134, false}, Want{"file_path", 100, false}, Want{"file_format", 101, false},
        Want{"partition", 102, false}, Want{"record_count", 103, false},
        Want{"file_size_in_bytes", 104, false}, Want{"column_sizes", 108, true},
        Want{"value_counts", 109, true}, Want{"null_value_counts", 110, true},
        Want{"nan_value_counts", 137, true}, Want{"lower_bounds", 125, true},
        Want{"upper_bounds", 128, true}, Want{"key_metadata", 131, true},
        Want{"split_offsets", 132, true}, Want{"equality_ids", 135, true},
        Want{"sort_order_id", 140, true}, Want{"referenced_data_file", 143, true}}) {
    auto f = find(r2, w.name);
    EXPECT_EQ(f.id, w.id) << w.name;
    EXPECT_EQ(f.optional, w.optional) << w.name;
  }
  EXPECT_EQ(find(r2, "file_path").type, "string");
  EXPECT_EQ(find(r2, "record_count").type, "long");
  EXPECT_EQ(find(r2, "content").type, "int");
  // Maps with int keys: arrays of key/value records named k<key-id>_v<value-id>.
  struct MapWant {
    const char* name;
    int key, value;
    const char* value_type;
  };
  for (const MapWant& m :
       {MapWant{"column_sizes", 117, 118, "long"}, MapWant{"value_counts", 119, 120, "long"},
        MapWant{"null_value_counts", 121, 122, "long"},
        MapWant{"nan_value_counts", 138, 139, "long"}, MapWant{"lower_bounds", 126, 127, "bytes"},
        MapWant{"upper_bounds", 129, 130, "bytes"}}) {
    auto f = find(r2, m.name);
    EXPECT_EQ(f.type["type"], "array") << m.name;
    EXPECT_EQ(f.type["logicalType"], "map") << m.name;
    const json& kv = f.type["items"];
    EXPECT_EQ(kv["name"], "k" + std::to_string(m.key) + "_v" + std::to_string(m.value));
    EXPECT_EQ(find(kv, "key").id, m.key) << m.name;
    EXPECT_EQ(find(kv, "key").type, "int") << m.name;
    EXPECT_EQ(find(kv, "value").id, m.value) << m.name;
    EXPECT_EQ(find(kv, "value").type, m.value_type) << m.name;
  }
  EXPECT_EQ(find(r2, "split_offsets").type["element-id"], 133);
  EXPECT_EQ(find(r2, "equality_ids").type["element-id"], 136);
  // The partition tuple: record r102, optional fields with the partition field ids and the
  // transform result types (day -> int, identity string -> string).
  auto part = find(r2, "partition").type;
  EXPECT_EQ(part["name"], "r102");
  EXPECT_EQ(find(part, "ts_day").id, 1000);
  EXPECT_TRUE(find(part, "ts_day").optional);
  EXPECT_EQ(find(part, "ts_day").type, "int");
  EXPECT_EQ(find(part, "region").id, 1001);
  EXPECT_EQ(find(part, "region").type, "string");
}

TEST(LakeManifestSchema, ManifestListFieldIdsMatchTheSpec) {
  auto j = json::parse(detail::manifest_list_avro_schema());
  EXPECT_EQ(j["name"], "manifest_file");
  struct Want {
    const char* name;
    int id;
    bool optional;
    const char* type;
  };
  for (const Want& w :
       {Want{"manifest_path", 500, false, "string"}, Want{"manifest_length", 501, false, "long"},
        Want{"partition_spec_id", 502, false, "int"}, Want{"content", 517, false, "int"},
        Want{"sequence_number", 515, false, "long"},
        Want{"min_sequence_number", 516, false, "long"},
        Want{"added_snapshot_id", 503, false, "long"}, Want{"added_files_count", 504, false, "int"},
        Want{"existing_files_count", 505, false, "int"},
        Want{"deleted_files_count", 506, false, "int"},
        Want{"added_rows_count", 512, false, "long"},
        Want{"existing_rows_count", 513, false, "long"},
        Want{"deleted_rows_count", 514, false, "long"}, Want{"key_metadata", 519, true, "bytes"}}) {
    auto f = find(j, w.name);
    EXPECT_EQ(f.id, w.id) << w.name;
    EXPECT_EQ(f.optional, w.optional) << w.name;
    EXPECT_EQ(f.type, w.type) << w.name;
  }
  auto parts = find(j, "partitions");
  EXPECT_EQ(parts.id, 507);
  EXPECT_TRUE(parts.optional);
  EXPECT_EQ(parts.type["element-id"], 508);
  const json& r508 = parts.type["items"];
  EXPECT_EQ(r508["name"], "r508");
  EXPECT_EQ(find(r508, "contains_null").id, 509);
  EXPECT_FALSE(find(r508, "contains_null").optional);
  EXPECT_EQ(find(r508, "contains_nan").id, 518);
  EXPECT_TRUE(find(r508, "contains_nan").optional);
  EXPECT_EQ(find(r508, "lower_bound").id, 510);
  EXPECT_EQ(find(r508, "upper_bound").id, 511);
  EXPECT_EQ(find(r508, "upper_bound").type, "bytes");
}

std::vector<detail::ManifestEntry> sample_entries() {
  std::vector<detail::ManifestEntry> out;
  for (int i = 0; i < 3; ++i) {
    detail::ManifestEntry e;
    e.status = detail::EntryStatus::kAdded;
    e.snapshot_id = 77;
    e.file =
        testing::data_file("/d/f" + std::to_string(i) + ".parquet", i * 10, i * 10 + 9, 10,
                           {int32_t{17486 + i}, i == 2 ? Value(Null{}) : Value(std::string("eu"))});
    e.file.file_format = "PARQUET";
    out.push_back(e);
  }
  out[1].status = detail::EntryStatus::kExisting;
  out[1].sequence_number = 4;
  out[1].file_sequence_number = 3;
  return out;
}

class LakeManifestFile : public ::testing::Test {
 protected:
  testing::TempDir dir_;
};

TEST_F(LakeManifestFile, RoundTripAndHeaderMetadata) {
  for (std::string codec : {"deflate", "null"}) {
    std::string path = (dir_.path() / ("m-" + codec + ".avro")).string();
    detail::ManifestWriteOptions o;
    o.codec = codec;
    auto mf = detail::write_manifest(path, testing::orders_schema(), day_region_spec(), 0, 77,
                                     sample_entries(), o);
    ASSERT_TRUE(mf.is_ok()) << mf.status().to_string();
    EXPECT_EQ(mf->added_files_count, 2);
    EXPECT_EQ(mf->existing_files_count, 1);
    EXPECT_EQ(mf->added_rows_count, 20);
    EXPECT_EQ(mf->min_sequence_number, 4);
    EXPECT_EQ(mf->manifest_length, static_cast<int64_t>(std::filesystem::file_size(path)));
    ASSERT_TRUE(mf->partitions.has_value());
    ASSERT_EQ(mf->partitions->size(), 2u);
    EXPECT_EQ(testing::hex(*(*mf->partitions)[0].lower_bound), "4e440000");
    EXPECT_EQ(testing::hex(*(*mf->partitions)[0].upper_bound), "50440000");
    EXPECT_FALSE((*mf->partitions)[0].contains_null);
    EXPECT_TRUE((*mf->partitions)[1].contains_null);
    EXPECT_EQ(*(*mf->partitions)[1].lower_bound, "eu");

    auto m = detail::read_manifest(path, day_region_spec(), testing::orders_schema());
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_EQ(m->metadata.at("format-version"), "2");
    EXPECT_EQ(m->metadata.at("content"), "data");
    EXPECT_EQ(m->metadata.at("partition-spec-id"), "0");
    EXPECT_EQ(m->metadata.at("schema-id"), "0");
    EXPECT_EQ(m->metadata.at("avro.codec"), codec);
    auto spec_json = json::parse(m->metadata.at("partition-spec"));
    EXPECT_EQ(spec_json[0]["field-id"], 1000);
    auto schema_json = json::parse(m->metadata.at("schema"));
    EXPECT_EQ(schema_json["fields"][0]["name"], "id");
    ASSERT_EQ(m->entries.size(), 3u);
    const auto& e1 = m->entries[1];
    EXPECT_EQ(e1.status, detail::EntryStatus::kExisting);
    EXPECT_EQ(e1.sequence_number, 4);
    EXPECT_EQ(e1.file_sequence_number, 3);
    EXPECT_FALSE(m->entries[0].sequence_number.has_value());  // inherited
    EXPECT_EQ(e1.file.file_path, "/d/f1.parquet");
    EXPECT_EQ(std::get<int32_t>(e1.file.partition[0]), 17487);
    EXPECT_EQ(std::get<std::string>(e1.file.partition[1]), "eu");
    EXPECT_TRUE(std::holds_alternative<Null>(m->entries[2].file.partition[1]));
    EXPECT_EQ(e1.file.value_counts.at(1), 10);
    EXPECT_EQ(e1.file.lower_bounds.at(1), sample_entries()[1].file.lower_bounds.at(1));

    // Sequence number inheritance from the manifest list entry.
    detail::ManifestFile listed = *mf;
    listed.sequence_number = 9;
    DataFile added = detail::inherit(m->entries[0], listed);
    EXPECT_EQ(added.data_sequence_number, 9);
    EXPECT_EQ(added.file_sequence_number, 9);
    DataFile existing = detail::inherit(m->entries[1], listed);
    EXPECT_EQ(existing.data_sequence_number, 4);
    EXPECT_EQ(existing.file_sequence_number, 3);
  }
}

TEST_F(LakeManifestFile, ManifestListRoundTrip) {
  std::string path = (dir_.path() / "snap.avro").string();
  detail::ManifestFile a;
  a.manifest_path = "/m/a.avro";
  a.manifest_length = 1234;
  a.sequence_number = 3;
  a.min_sequence_number = 1;
  a.added_snapshot_id = 99;
  a.added_files_count = 2;
  a.added_rows_count = 20;
  a.partitions = std::vector<detail::FieldSummary>{
      {true, false, std::string("\x01\0\0\0", 4), std::string("\x05\0\0\0", 4)}};
  detail::ManifestFile b = a;
  b.manifest_path = "/m/b.avro";
  b.content = 1;
  b.partitions.reset();
  ASSERT_TRUE(detail::write_manifest_list(path, 99, 98, 3, {a, b}).is_ok());
  auto l = detail::read_manifest_list(path);
  ASSERT_TRUE(l.is_ok()) << l.status().to_string();
  EXPECT_EQ(l->metadata.at("snapshot-id"), "99");
  EXPECT_EQ(l->metadata.at("parent-snapshot-id"), "98");
  EXPECT_EQ(l->metadata.at("sequence-number"), "3");
  EXPECT_EQ(l->metadata.at("format-version"), "2");
  ASSERT_EQ(l->manifests.size(), 2u);
  EXPECT_EQ(l->manifests[0].manifest_path, "/m/a.avro");
  EXPECT_EQ(l->manifests[0].manifest_length, 1234);
  EXPECT_EQ(l->manifests[0].min_sequence_number, 1);
  EXPECT_EQ(l->manifests[0].added_rows_count, 20);
  ASSERT_TRUE(l->manifests[0].partitions.has_value());
  EXPECT_TRUE((*l->manifests[0].partitions)[0].contains_null);
  EXPECT_EQ((*l->manifests[0].partitions)[0].contains_nan, false);
  EXPECT_EQ(testing::hex(*(*l->manifests[0].partitions)[0].upper_bound), "05000000");
  EXPECT_EQ(l->manifests[1].content, 1);
  EXPECT_FALSE(l->manifests[1].partitions.has_value());
}

TEST_F(LakeManifestFile, CorruptFilesNameTheFile) {
  std::string path = (dir_.path() / "m.avro").string();
  ASSERT_TRUE(detail::write_manifest(path, testing::orders_schema(), day_region_spec(), 0, 1,
                                     sample_entries())
                  .is_ok());
  std::string bytes = testing::slurp(path);
  std::string truncated = (dir_.path() / "truncated.avro").string();
  testing::touch(truncated, bytes.substr(0, bytes.size() - 20));
  auto m = detail::read_manifest(truncated, day_region_spec(), testing::orders_schema());
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
  EXPECT_NE(m.status().message().find(truncated), std::string::npos) << m.status().message();

  std::string garbage = (dir_.path() / "garbage.avro").string();
  testing::touch(garbage, "this is not avro");
  auto g = detail::read_manifest_list(garbage);
  EXPECT_EQ(g.status().code(), StatusCode::kCorruption);
  EXPECT_NE(g.status().message().find("bad magic"), std::string::npos);

  auto missing = detail::read_manifest_list((dir_.path() / "nope.avro").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  // A container whose schema is not a manifest.
  auto framed = detail::frame_avro_container({}, R"({"type":"record","name":"x","fields":[]})",
                                             "null", {}, {});
  std::string other = (dir_.path() / "other.avro").string();
  testing::touch(other, *framed);
  auto o = detail::read_manifest(other, day_region_spec(), testing::orders_schema());
  EXPECT_NE(o.status().message().find("not a manifest"), std::string::npos) << o.status().message();
}

std::string run_python_reader(const std::string& file) {
  std::string cmd = std::string("/usr/bin/python3 ") + SLUICE_SOURCE_DIR +
                    "/tests/lake/read_avro.py '" + file + "' 2>/dev/null";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << cmd << "\n" << out;
  return out;
}

bool has_line(const std::string& out, const std::string& line) {
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST_F(LakeTest, PythonAvroReadsManifestListAndManifest) {
  CreateTableOptions opts;
  opts.partition_by = {{"ts", "day"}, {"region", "identity"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  ASSERT_TRUE(
      t.append({testing::data_file("/d/a.parquet", 1, 5, 5, {int32_t{17486}, std::string("eu")})})
          .is_ok());
  const Snapshot* s = t.metadata().current_snapshot();
  ASSERT_NE(s, nullptr);

  std::string list = run_python_reader(s->manifest_list);
  EXPECT_TRUE(has_line(list, "schema-name manifest_file")) << list;
  EXPECT_TRUE(has_line(list, "meta format-version 2")) << list;
  EXPECT_TRUE(has_line(list, "meta snapshot-id " + std::to_string(s->snapshot_id))) << list;
  EXPECT_TRUE(has_line(list, "meta sequence-number 1")) << list;
  EXPECT_TRUE(has_line(list, "field manifest_path 500 required")) << list;
  EXPECT_TRUE(has_line(list, "field content 517 required")) << list;
  EXPECT_TRUE(has_line(list, "field sequence_number 515 required")) << list;
  EXPECT_TRUE(has_line(list, "field min_sequence_number 516 required")) << list;
  EXPECT_TRUE(has_line(list, "field added_snapshot_id 503 required")) << list;
  EXPECT_TRUE(has_line(list, "field added_files_count 504 required")) << list;
  EXPECT_TRUE(has_line(list, "field partitions 507 optional")) << list;
  EXPECT_TRUE(has_line(list, "element partitions 508")) << list;
  EXPECT_TRUE(has_line(list, "field partitions.contains_null 509 required")) << list;
  EXPECT_TRUE(has_line(list, "field partitions.lower_bound 510 optional")) << list;
  size_t rec = list.find("record ");
  ASSERT_NE(rec, std::string::npos) << list;
  auto r = json::parse(list.substr(rec + 7, list.find('\n', rec) - rec - 7));
  EXPECT_EQ(r["added_files_count"], 1);
  EXPECT_EQ(r["sequence_number"], 1);
  EXPECT_EQ(r["added_snapshot_id"], s->snapshot_id);
  EXPECT_EQ(r["partitions"][0]["lower_bound"], "4e440000");
  EXPECT_EQ(r["partitions"][1]["upper_bound"], "6575");  // "eu"
  std::string manifest_path = r["manifest_path"];

  std::string m = run_python_reader(manifest_path);
  EXPECT_TRUE(has_line(m, "schema-name manifest_entry")) << m;
  EXPECT_TRUE(has_line(m, "meta format-version 2")) << m;
  EXPECT_TRUE(has_line(m, "meta content data")) << m;
  EXPECT_TRUE(has_line(m, "meta partition-spec-id 0")) << m;
  EXPECT_TRUE(has_line(m, "meta schema-id 0")) << m;
  EXPECT_NE(m.find("meta partition-spec [{"), std::string::npos) << m;
  EXPECT_NE(m.find("meta schema {\"type\":\"struct\""), std::string::npos) << m;
  EXPECT_TRUE(has_line(m, "field status 0 required")) << m;
  EXPECT_TRUE(has_line(m, "field snapshot_id 1 optional")) << m;
  EXPECT_TRUE(has_line(m, "field sequence_number 3 optional")) << m;
  EXPECT_TRUE(has_line(m, "field file_sequence_number 4 optional")) << m;
  EXPECT_TRUE(has_line(m, "field data_file 2 required")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.content 134 required")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.file_path 100 required")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.partition 102 required")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.partition.ts_day 1000 optional")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.partition.region 1001 optional")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.record_count 103 required")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.lower_bounds 125 optional")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.lower_bounds.key 126 required")) << m;
  EXPECT_TRUE(has_line(m, "field data_file.lower_bounds.value 127 required")) << m;
  EXPECT_TRUE(has_line(m, "element data_file.equality_ids 136")) << m;
  rec = m.find("record ");
  ASSERT_NE(rec, std::string::npos) << m;
  auto e = json::parse(m.substr(rec + 7, m.find('\n', rec) - rec - 7));
  EXPECT_EQ(e["status"], 1);
  EXPECT_EQ(e["snapshot_id"], s->snapshot_id);
  EXPECT_TRUE(e["sequence_number"].is_null());  // inherited from the manifest list
  EXPECT_EQ(e["data_file"]["file_path"], "/d/a.parquet");
  EXPECT_EQ(e["data_file"]["file_format"], "PARQUET");
  EXPECT_EQ(e["data_file"]["record_count"], 5);
  EXPECT_EQ(e["data_file"]["partition"]["ts_day"], 17486);
  EXPECT_EQ(e["data_file"]["partition"]["region"], "eu");
  EXPECT_EQ(e["data_file"]["lower_bounds"][0]["key"], 1);
  EXPECT_EQ(e["data_file"]["lower_bounds"][0]["value"], "0100000000000000");
}

}  // namespace
}  // namespace sluice::lake

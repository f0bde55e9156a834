// The embedded catalog: namespaces, table layout, register, drop, bad input.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lake_test_util.h"

namespace sluice::lake {
namespace {

namespace fs = std::filesystem;
using testing::LakeTest;

TEST_F(LakeTest, BuiltinNamespacesAlwaysExist) {
  auto ns = catalog_->list_namespaces();
  ASSERT_TRUE(ns.is_ok());
  EXPECT_EQ(*ns, (std::vector<std::string>{"curated", "raw", "refined"}));
  ASSERT_TRUE(catalog_->create_namespace("sandbox").is_ok());
  EXPECT_EQ(catalog_->create_namespace("sandbox").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->create_namespace("bad-name").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_->list_namespaces()->size(), 4u);
  EXPECT_EQ(catalog_->drop_namespace("raw").code(), StatusCode::kInvalidArgument);
  create("sandbox.t");
  Status st = catalog_->drop_namespace("sandbox");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("sandbox.t"), std::string::npos) << st.message();
  ASSERT_TRUE(catalog_->drop_table(*TableIdent::parse("sandbox.t"), true).is_ok());
  EXPECT_TRUE(catalog_->drop_namespace("sandbox").is_ok());
  EXPECT_EQ(catalog_->drop_namespace("sandbox").code(), StatusCode::kNotFound);
}

TEST_F(LakeTest, CreateTableLaysOutWarehouseFolder) {
  Table t = create("refined.orders");
  fs::path dir = catalog_->warehouse() / "refined" / "orders";
  EXPECT_EQ(t.metadata().location, dir.string());
  EXPECT_TRUE(fs::is_directory(dir / "data"));
  EXPECT_TRUE(fs::is_directory(dir / "metadata"));
  EXPECT_EQ(t.data_dir(), dir / "data");
  EXPECT_EQ(fs::path(t.metadata_location()).parent_path(), dir / "metadata");
  EXPECT_EQ(fs::path(t.metadata_location()).filename().string().substr(0, 6), "00000-");
  EXPECT_TRUE(catalog_->table_exists(*TableIdent::parse("refined.orders")));
  EXPECT_FALSE(catalog_->table_exists(*TableIdent::parse("raw.orders")));
  auto tables = catalog_->list_tables("refined");
  ASSERT_TRUE(tables.is_ok());
  ASSERT_EQ(tables->size(), 1u);
  EXPECT_EQ((*tables)[0].to_string(), "refined.orders");
  Table again = load("refined.orders");
  EXPECT_EQ(again.metadata().table_uuid, t.metadata().table_uuid);
  EXPECT_EQ(again.metadata_location(), t.metadata_location());
  auto dup = catalog_->create_table(*TableIdent::parse("refined.orders"), testing::orders_schema());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(LakeTest, CreateAssignsFreshFieldIdsWhenMissing) {
  Schema s;
  s.fields = {testing::field(0, "a", "int", true), testing::field(0, "b", "string")};
  auto st = std::make_shared<Type>();
  st->kind = Type::Kind::kStruct;
  st->fields = {testing::field(0, "x", "long")};
  s.fields.push_back(NestedField{0, "c", false, st, ""});
  Table t = create("raw.ids", s);
  const Schema& got = t.metadata().current_schema();
  EXPECT_EQ(got.fields[0].id, 1);
  EXPECT_EQ(got.fields[1].id, 2);
  EXPECT_EQ(got.fields[2].id, 3);
  EXPECT_EQ(got.fields[2].type->fields[0].id, 4);
  EXPECT_EQ(t.metadata().last_column_id, 4);
}

TEST_F(LakeTest, BadCreateInputLeavesNothingBehind) {
  auto ident = *TableIdent::parse("raw.bad");
  CreateTableOptions day_on_string;
  day_on_string.partition_by = {{"region", "day"}};
  auto r = catalog_->create_table(ident, testing::orders_schema(), day_on_string);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("raw.bad"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("'region'"), std::string::npos) << r.status().message();
  CreateTableOptions bucket0;
  bucket0.partition_by = {{"id", "bucket[0]"}};
  EXPECT_EQ(catalog_->create_table(ident, testing::orders_schema(), bucket0).status().code(),
            StatusCode::kInvalidArgument);
  CreateTableOptions unknown;
  unknown.partition_by = {{"nope", "identity"}};
  auto u = catalog_->create_table(ident, testing::orders_schema(), unknown);
  EXPECT_NE(u.status().message().find("unknown column 'nope'"), std::string::npos);
  Schema dup = testing::orders_schema();
  dup.fields.push_back(testing::field(9, "id", "int"));
  EXPECT_NE(catalog_->create_table(ident, dup).status().message().find("'id' appears twice"),
            std::string::npos);
  Schema badtype = testing::orders_schema();
  badtype.fields[3].type = Type::of("money");
  EXPECT_NE(catalog_->create_table(ident, badtype).status().message().find("money"),
            std::string::npos);
  EXPECT_FALSE(catalog_->table_exists(ident));
  EXPECT_FALSE(fs::exists(catalog_->warehouse() / "raw" / "bad"));
}

TEST_F(LakeTest, WrongNamespaceAndUnknownTableAreClear) {
  create("raw.orders");
  auto wrong_ns = catalog_->load_table({"staging", "orders"});
  EXPECT_EQ(wrong_ns.status().code(), StatusCode::kNotFound);
  EXPECT_NE(wrong_ns.status().message().find("namespace 'staging' does not exist"),
            std::string::npos)
      << wrong_ns.status().message();
  auto wrong_zone = catalog_->load_table({"curated", "orders"});
  EXPECT_EQ(wrong_zone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(wrong_zone.status().message().find("curated.orders does not exist"), std::string::npos)
      << wrong_zone.status().message();
  auto bad_name = catalog_->load_table({"raw", "a.b"});
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LakeTest, CorruptMetadataFileIsReportedAndTableStays) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({testing::data_file("/d/a.parquet", 1, 5)}).is_ok());
  std::string current = t.metadata_location();
  std::string good = testing::slurp(current);
  testing::touch(current, "{\"format-version\": 2, \"location\": ");
  auto r = catalog_->load_table(t.ident());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("raw.orders"), std::string::npos);
  EXPECT_NE(r.status().message().find(current), std::string::npos) << r.status().message();
  testing::touch(current, good);
  EXPECT_TRUE(catalog_->load_table(t.ident()).is_ok());
}

TEST_F(LakeTest, CorruptManifestIsReportedWithTableAndFile) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({testing::data_file("/d/a.parquet", 1, 5)}).is_ok());
  detail::clear_manifest_cache();
  auto list = detail::read_manifest_list(t.metadata().current_snapshot()->manifest_list);
  ASSERT_TRUE(list.is_ok());
  std::string manifest = list->manifests[0].manifest_path;
  testing::touch(manifest, "Obj\x01garbage");
  auto plan = t.plan_scan({});
  ASSERT_FALSE(plan.is_ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kCorruption);
  EXPECT_NE(plan.status().message().find("raw.orders"), std::string::npos);
  EXPECT_NE(plan.status().message().find(manifest), std::string::npos) << plan.status().message();
  detail::clear_manifest_cache();
}

TEST_F(LakeTest, RegisterAdoptsAnotherEnginesTable) {
  // A table written elsewhere: another catalog's warehouse stands in for the other engine.
  auto other = Catalog::open(dir_.path() / "other");
  ASSERT_TRUE(other.is_ok());
  auto src = (*other)->create_table({"raw", "events"}, testing::orders_schema());
  ASSERT_TRUE(src.is_ok());
  ASSERT_TRUE(src->append({testing::data_file("/d/e1.parquet", 1, 9)}).is_ok());
  std::string metadata_file = src->metadata_location();
  std::string location = src->metadata().location;

  auto reg = catalog_->register_table({"curated", "events"}, metadata_file);
  ASSERT_TRUE(reg.is_ok()) << reg.status().to_string();
  EXPECT_EQ(reg->metadata_location(), metadata_file);
  EXPECT_EQ(reg->metadata().location, location);
  Table t = load("curated.events");
  EXPECT_EQ(t.metadata().current_snapshot_id, src->metadata().current_snapshot_id);
  ASSERT_TRUE(t.append({testing::data_file("/d/e2.parquet", 10, 19)}).is_ok());
  // New metadata goes into the table's own metadata folder.
  EXPECT_EQ(fs::path(t.metadata_location()).parent_path(), fs::path(location) / "metadata");
  EXPECT_EQ(t.list_files(std::nullopt)->size(), 2u);
  // Columns are matched by name only in tables this catalog created: not in an adopted one,
  // whose files another engine wrote.
  EXPECT_TRUE(src->plan_scan({})->read_by_name);
  EXPECT_FALSE(t.plan_scan({})->read_by_name);
  EXPECT_EQ(catalog_->register_table({"curated", "events"}, metadata_file).status().code(),
            StatusCode::kAlreadyExists);
  auto missing = catalog_->register_table({"raw", "x"}, (dir_.path() / "none.json").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("raw.x"), std::string::npos);
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << cmd;
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

// A v1 table written by another writer (python3-avro, with the v1 manifest schemas) is read,
// planned and then extended: Sluice's commit upgrades it to v2 in the table's own folder.
TEST_F(LakeTest, ReadsAndExtendsV1TableFromAnotherWriter) {
  fs::path root = dir_.path() / "spark" / "legacy";
  std::string metadata = run(std::string("/usr/bin/python3 ") + SLUICE_SOURCE_DIR +
                             "/tests/lake/write_v1_table.py '" + root.string() + "' 2>/dev/null");
  ASSERT_FALSE(metadata.empty());
  auto reg = catalog_->register_table({"raw", "legacy"}, metadata);
  ASSERT_TRUE(reg.is_ok()) << reg.status().to_string();
  EXPECT_EQ(reg->metadata().format_version, 1);
  EXPECT_EQ(reg->metadata().default_spec().fields[0].transform, "truncate[10]");
  auto plan = reg->plan_scan({});
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  ASSERT_EQ(plan->tasks.size(), 2u);
  EXPECT_FALSE(plan->read_by_name);
  for (const auto& task : plan->tasks) {
    EXPECT_EQ(task.data_file.data_sequence_number, 0);  // v1: no sequence numbers
    EXPECT_EQ(task.data_file.content, FileContent::kData);
    EXPECT_EQ(task.data_file.file_path.substr(0, 5), "file:");
  }
  EXPECT_EQ(std::get<int64_t>(plan->tasks[1].data_file.partition[0]), 10);
  EXPECT_EQ(plan->tasks[1].data_file.record_count, 101);
  ScanOptions o;
  o.filter = {{1, Predicate::Op::kEq, {int64_t{15}}}};
  auto pruned = reg->plan_scan(o);
  ASSERT_TRUE(pruned.is_ok());
  ASSERT_EQ(pruned->tasks.size(), 1u);
  EXPECT_NE(pruned->tasks[0].data_file.file_path.find("f1.parquet"), std::string::npos);

  ASSERT_TRUE(
      reg->append({testing::data_file("/d/new.parquet", 20, 29, 5, {int64_t{20}})}).is_ok());
  Table t = load("raw.legacy");
  EXPECT_EQ(t.metadata().format_version, 2);
  EXPECT_EQ(fs::path(t.metadata_location()).parent_path(), root / "metadata");
  EXPECT_EQ(fs::path(t.metadata_location()).filename().string().substr(0, 6), "00002-");
  EXPECT_EQ(t.metadata().current_snapshot()->summary.at("total-data-files"), "3");
  EXPECT_EQ(t.metadata().current_snapshot()->summary.at("total-records"), "206");
  auto files = t.list_files(std::nullopt);
  ASSERT_TRUE(files.is_ok());
  ASSERT_EQ(files->size(), 3u);
  for (const auto& f : *files) {
    EXPECT_EQ(f.data_sequence_number, f.file_path == "/d/new.parquet" ? 1 : 0) << f.file_path;
  }
}

TEST_F(LakeTest, DropTable) {
  Table t = create("raw.orders");
  fs::path dir = catalog_->warehouse() / "raw" / "orders";
  fs::path data = t.data_dir() / "a.parquet";
  testing::touch(data);
  ASSERT_TRUE(t.append({testing::data_file(data.string(), 1, 5)}).is_ok());
  ASSERT_TRUE(catalog_->drop_table(t.ident(), false).is_ok());
  EXPECT_FALSE(catalog_->table_exists(t.ident()));
  EXPECT_TRUE(fs::exists(data));  // not purged
  EXPECT_EQ(catalog_->drop_table(t.ident(), false).code(), StatusCode::kNotFound);
  Table t2 = create("raw.orders2");
  fs::path data2 = t2.data_dir() / "b.parquet";
  testing::touch(data2);
  ASSERT_TRUE(t2.append({testing::data_file(data2.string(), 1, 5)}).is_ok());
  ASSERT_TRUE(catalog_->drop_table(t2.ident(), true).is_ok());
  EXPECT_FALSE(fs::exists(data2));
  EXPECT_FALSE(fs::exists(catalog_->warehouse() / "raw" / "orders2"));
}

}  // namespace
}  // namespace sluice::lake

// Table operations: append (manifest reuse, summaries, sequence numbers), overwrite/replace,
// row-level deletes, schema and partition evolution, properties, rollback, commit crash safety
// and optimistic concurrency.
#include <atomic>
#include <set>
#include <thread>

#include "lake_test_util.h"

namespace sluice::lake {
namespace {

namespace fs = std::filesystem;
using testing::data_file;
using testing::LakeTest;

std::vector<detail::ManifestFile> manifests_of(const Table& t) {
  auto l = detail::read_manifest_list(t.metadata().current_snapshot()->manifest_list);
  EXPECT_TRUE(l.is_ok()) << l.status().to_string();
  return l.is_ok() ? l->manifests : std::vector<detail::ManifestFile>{};
}

TEST_F(LakeTest, AppendWritesSummaryAndSequenceNumbers) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10, 10), data_file("/d/b.parquet", 11, 20, 5)},
                       {{"sluice.source", "test"}})
                  .is_ok());
  ASSERT_NE(t.metadata().current_snapshot(), nullptr);
  const Snapshot s1_copy = *t.metadata().current_snapshot();  // metadata() changes on commit
  const Snapshot* s1 = &s1_copy;
  EXPECT_EQ(s1->sequence_number, 1);
  EXPECT_EQ(s1->schema_id, 0);
  EXPECT_FALSE(s1->parent_snapshot_id);
  EXPECT_EQ(s1->summary.at("operation"), "append");
  EXPECT_EQ(s1->summary.at("added-data-files"), "2");
  EXPECT_EQ(s1->summary.at("added-records"), "15");
  EXPECT_EQ(s1->summary.at("added-files-size"), std::to_string(1010 + 1005));
  EXPECT_EQ(s1->summary.at("total-records"), "15");
  EXPECT_EQ(s1->summary.at("total-data-files"), "2");
  EXPECT_EQ(s1->summary.at("total-delete-files"), "0");
  EXPECT_EQ(s1->summary.at("total-position-deletes"), "0");
  EXPECT_EQ(s1->summary.at("total-equality-deletes"), "0");
  EXPECT_EQ(s1->summary.at("total-files-size"), "2015");
  EXPECT_EQ(s1->summary.at("changed-partition-count"), "1");
  EXPECT_EQ(s1->summary.at("sluice.source"), "test");
  EXPECT_EQ(s1->summary.count("deleted-data-files"), 0u);

  ASSERT_TRUE(t.append({data_file("/d/c.parquet", 21, 30, 7)}).is_ok());
  const Snapshot* s2 = t.metadata().current_snapshot();
  EXPECT_EQ(s2->sequence_number, 2);
  EXPECT_EQ(s2->parent_snapshot_id, s1->snapshot_id);
  EXPECT_EQ(s2->summary.at("total-records"), "22");
  EXPECT_EQ(s2->summary.at("total-data-files"), "3");
  EXPECT_EQ(t.metadata().last_sequence_number, 2);
  EXPECT_EQ(t.metadata().snapshot_log.size(), 2u);
  EXPECT_EQ(t.metadata().refs.at("main").snapshot_id, s2->snapshot_id);

  auto files = t.list_files(std::nullopt);
  ASSERT_TRUE(files.is_ok());
  ASSERT_EQ(files->size(), 3u);
  std::map<std::string, int64_t> seq;
  for (const auto& f : *files)
    seq[f.file_path] = f.data_sequence_number;
  EXPECT_EQ(seq["/d/a.parquet"], 1);
  EXPECT_EQ(seq["/d/c.parquet"], 2);
  // Reloaded from disk, the same.
  Table again = load("raw.orders");
  EXPECT_EQ(again.list_files(std::nullopt)->size(), 3u);
  EXPECT_EQ(again.list_files(s1->snapshot_id)->size(), 2u);
}

TEST_F(LakeTest, AppendReusesExistingManifests) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10)}).is_ok());
  auto first = manifests_of(t);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(t.append({data_file("/d/b.parquet", 1, 10)}).is_ok());
  auto second = manifests_of(t);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[1].manifest_path, first[0].manifest_path);  // carried over, not rewritten
  EXPECT_EQ(second[1].sequence_number, 1);
  EXPECT_EQ(second[0].sequence_number, 2);
  EXPECT_EQ(second[0].min_sequence_number, 2);
  EXPECT_EQ(second[0].added_snapshot_id, t.metadata().current_snapshot_id);
  EXPECT_EQ(second[0].added_files_count, 1);
  // New entries leave their sequence numbers null, to be inherited (Iceberg spec).
  auto m = detail::read_manifest(second[0].manifest_path, t.metadata().default_spec(),
                                 t.metadata().current_schema());
  ASSERT_TRUE(m.is_ok());
  EXPECT_FALSE(m->entries[0].sequence_number.has_value());
  EXPECT_EQ(m->entries[0].snapshot_id, t.metadata().current_snapshot_id);
}

TEST_F(LakeTest, ManyManifestsAreMergedPastTheThreshold) {
  CreateTableOptions opts;
  opts.properties = {{"commit.manifest.min-count-to-merge", "3"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(t.append({data_file("/d/" + std::to_string(i) + ".parquet", 1, 10)}).is_ok());
  }
  EXPECT_EQ(manifests_of(t).size(), 3u);  // below the threshold: carried over as they are
  ASSERT_TRUE(t.append({data_file("/d/3.parquet", 1, 10)}).is_ok());
  auto ms = manifests_of(t);
  ASSERT_EQ(ms.size(), 2u);  // the new one + one merged from the three old ones
  EXPECT_EQ(ms[0].added_files_count, 1);
  EXPECT_EQ(ms[1].existing_files_count, 3);
  EXPECT_EQ(ms[1].min_sequence_number, 1);
  EXPECT_EQ(ms[1].sequence_number, 4);
  auto files = t.list_files(std::nullopt);
  ASSERT_TRUE(files.is_ok());
  std::map<std::string, int64_t> seq;
  for (const auto& f : *files)
    seq[f.file_path] = f.data_sequence_number;
  EXPECT_EQ(
      seq,
      (std::map<std::string, int64_t>{
          {"/d/0.parquet", 1}, {"/d/1.parquet", 2}, {"/d/2.parquet", 3}, {"/d/3.parquet", 4}}));
  EXPECT_EQ(t.metadata().current_snapshot()->summary.at("total-data-files"), "4");
}

TEST_F(LakeTest, BadFilesAreRejectedAndTableStays) {
  CreateTableOptions opts;
  opts.partition_by = {{"ts", "day"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  std::string before = t.metadata_location();
  DataFile wrong_type = data_file("/d/a.parquet", 1, 2, 1, {std::string("monday")});
  Status st = t.append({wrong_type});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("raw.orders"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("/d/a.parquet"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("partition field 'ts_day'"), std::string::npos) << st.message();
  DataFile arity = data_file("/d/a.parquet", 1, 2, 1, {});
  EXPECT_NE(t.append({arity}).message().find("field 'partition' has 0 values"), std::string::npos);
  DataFile unknown_col = data_file("/d/a.parquet", 1, 2, 1, {int32_t{1}});
  unknown_col.lower_bounds[99] = "x";
  EXPECT_NE(t.append({unknown_col}).message().find("column id 99"), std::string::npos);
  DataFile bad_spec = data_file("/d/a.parquet", 1, 2, 1, {int32_t{1}}, 7);
  EXPECT_NE(t.append({bad_spec}).message().find("partition spec 7"), std::string::npos);
  DataFile fmt = data_file("/d/a.parquet", 1, 2, 1, {int32_t{1}});
  fmt.file_format = "csv";
  EXPECT_NE(t.append({fmt}).message().find("file_format"), std::string::npos);
  DataFile del = data_file("/d/a.parquet", 1, 2, 1, {int32_t{1}});
  del.content = FileContent::kPositionDeletes;
  EXPECT_NE(t.append({del}).message().find("add_deletes"), std::string::npos);
  EXPECT_EQ(t.metadata_location(), before);
  EXPECT_EQ(load("raw.orders").metadata_location(), before);
  EXPECT_FALSE(load("raw.orders").metadata().current_snapshot_id);
}

TEST_F(LakeTest, OverwriteMarksRemovedFilesDeleted) {
  Table t = create("raw.orders");
  ASSERT_TRUE(
      t.append({data_file("/d/a.parquet", 1, 10, 10), data_file("/d/b.parquet", 11, 20, 10)})
          .is_ok());
  ASSERT_TRUE(t.append({data_file("/d/c.parquet", 21, 30, 10)}).is_ok());
  ASSERT_TRUE(
      t.overwrite({data_file("/d/a.parquet", 0, 0)}, {data_file("/d/a2.parquet", 1, 10, 8)}, {})
          .is_ok());
  const Snapshot* s = t.metadata().current_snapshot();
  EXPECT_EQ(s->summary.at("operation"), "overwrite");
  EXPECT_EQ(s->summary.at("added-data-files"), "1");
  EXPECT_EQ(s->summary.at("deleted-data-files"), "1");
  EXPECT_EQ(s->summary.at("deleted-records"), "10");
  EXPECT_EQ(s->summary.at("total-records"), "28");
  EXPECT_EQ(s->summary.at("total-data-files"), "3");
  std::set<std::string> live;
  auto listed = t.list_files(std::nullopt);
  ASSERT_TRUE(listed.is_ok());
  for (const auto& f : *listed)
    live.insert(f.file_path);
  EXPECT_EQ(live, (std::set<std::string>{"/d/a2.parquet", "/d/b.parquet", "/d/c.parquet"}));
  // The manifest that held a.parquet was rewritten with a DELETED entry and an EXISTING one
  // that keeps its original sequence number; the untouched manifest was carried over.
  auto ms = manifests_of(t);
  ASSERT_EQ(ms.size(), 3u);
  int deleted = 0, existing = 0;
  for (const auto& mf : ms) {
    deleted += mf.deleted_files_count;
    existing += mf.existing_files_count;
    if (mf.deleted_files_count == 1) {
      auto m = detail::read_manifest(mf.manifest_path, t.metadata().default_spec(),
                                     t.metadata().current_schema());
      ASSERT_TRUE(m.is_ok());
      for (const auto& e : m->entries) {
        EXPECT_EQ(e.sequence_number, 1) << e.file.file_path;
        if (e.status == detail::EntryStatus::kDeleted) {
          EXPECT_EQ(e.file.file_path, "/d/a.parquet");
          EXPECT_EQ(e.snapshot_id, s->snapshot_id);
        }
      }
    }
  }
  EXPECT_EQ(deleted, 1);
  EXPECT_EQ(existing, 1);
  // Removing a file that is not live is a caller error.
  Status st = t.overwrite({data_file("/d/a.parquet", 0, 0)}, {}, {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("not a live file"), std::string::npos);
  // Delete-only overwrite and compaction name their operations as Iceberg does.
  ASSERT_TRUE(t.overwrite({data_file("/d/c.parquet", 0, 0)}, {}, {}).is_ok());
  EXPECT_EQ(t.metadata().current_snapshot()->summary.at("operation"), "delete");
  ASSERT_TRUE(t.overwrite({data_file("/d/a2.parquet", 0, 0), data_file("/d/b.parquet", 0, 0)},
                          {data_file("/d/ab.parquet", 1, 20, 18)}, {}, true)
                  .is_ok());
  EXPECT_EQ(t.metadata().current_snapshot()->summary.at("operation"), "replace");
  EXPECT_EQ(t.metadata().current_snapshot()->summary.at("total-records"), "18");
  EXPECT_EQ(t.list_files(std::nullopt)->size(), 1u);
}

TEST_F(LakeTest, AddDeletesRecordsDeleteFiles) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10, 10)}).is_ok());
  DataFile pos = data_file("/d/pos.parquet", 0, 0, 3);
  pos.content = FileContent::kPositionDeletes;
  pos.value_counts.clear();
  pos.null_value_counts.clear();
  pos.lower_bounds = {{2147483546, "/d/a.parquet"}};
  pos.upper_bounds = {{2147483546, "/d/a.parquet"}};
  DataFile eq = data_file("/d/eq.parquet", 5, 5, 1);
  eq.content = FileContent::kEqualityDeletes;
  eq.equality_ids = {1};
  ASSERT_TRUE(t.add_deletes({pos, eq}).is_ok());
  const Snapshot* s = t.metadata().current_snapshot();
  EXPECT_EQ(s->summary.at("operation"), "delete");
  EXPECT_EQ(s->summary.at("added-delete-files"), "2");
  EXPECT_EQ(s->summary.at("added-position-delete-files"), "1");
  EXPECT_EQ(s->summary.at("added-equality-delete-files"), "1");
  EXPECT_EQ(s->summary.at("added-position-deletes"), "3");
  EXPECT_EQ(s->summary.at("added-equality-deletes"), "1");
  EXPECT_EQ(s->summary.at("total-delete-files"), "2");
  EXPECT_EQ(s->summary.at("total-position-deletes"), "3");
  auto ms = manifests_of(t);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].content, 1);  // a delete manifest
  auto m = detail::read_manifest(ms[0].manifest_path, t.metadata().default_spec(),
                                 t.metadata().current_schema());
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->metadata.at("content"), "deletes");
  DataFile no_ids = eq;
  no_ids.file_path = "/d/eq2.parquet";
  no_ids.equality_ids.clear();
  EXPECT_NE(t.add_deletes({no_ids}).message().find("equality_ids"), std::string::npos);
  DataFile bad_ids = eq;
  bad_ids.file_path = "/d/eq3.parquet";
  bad_ids.equality_ids = {42};
  EXPECT_NE(t.add_deletes({bad_ids}).message().find("column id 42"), std::string::npos);
}

TEST_F(LakeTest, SchemaEvolution) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10)}).is_ok());
  int64_t before = *t.metadata().current_snapshot_id;
  std::string data_before = testing::slurp(t.metadata().current_snapshot()->manifest_list);
  std::vector<SchemaChange> changes(4);
  changes[0].kind = SchemaChange::Kind::kAddColumn;
  changes[0].column = "discount";
  changes[0].type = Type::of("float");
  changes[0].doc = "percent";
  changes[1].kind = SchemaChange::Kind::kRenameColumn;
  changes[1].column = "region";
  changes[1].new_name = "zone";
  changes[2].kind = SchemaChange::Kind::kWidenType;
  changes[2].column = "discount";
  changes[2].type = Type::of("double");
  changes[3].kind = SchemaChange::Kind::kMoveAfter;
  changes[3].column = "discount";
  changes[3].other = "id";
  ASSERT_TRUE(t.update_schema(changes).is_ok());
  const Schema& s = t.metadata().current_schema();
  EXPECT_EQ(s.schema_id, 1);
  EXPECT_EQ(t.metadata().current_schema_id, 1);
  EXPECT_EQ(t.metadata().last_column_id, 5);
  ASSERT_EQ(s.fields.size(), 5u);
  EXPECT_EQ(s.fields[1].name, "discount");
  EXPECT_EQ(s.fields[1].id, 5);
  EXPECT_EQ(s.fields[1].type->primitive, "double");
  EXPECT_EQ(s.fields[1].doc, "percent");
  EXPECT_FALSE(s.fields[1].required);
  EXPECT_EQ(s.find_field("zone")->id, 3);
  // No data rewrite, no new snapshot.
  EXPECT_EQ(*t.metadata().current_snapshot_id, before);
  EXPECT_EQ(t.metadata().schemas.size(), 2u);

  auto change = [&](SchemaChange::Kind k, std::string col, TypePtr type = nullptr,
                    std::string other = "") {
    SchemaChange c;
    c.kind = k;
    c.column = std::move(col);
    c.type = std::move(type);
    c.new_name = other;
    c.other = other;
    c.doc = other;
    return t.update_schema({c});
  };
  EXPECT_TRUE(change(SchemaChange::Kind::kDropColumn, "amount").is_ok());
  EXPECT_EQ(t.metadata().current_schema().find_field("amount"), nullptr);
  EXPECT_TRUE(change(SchemaChange::Kind::kMoveFirst, "zone").is_ok());
  EXPECT_EQ(t.metadata().current_schema().fields[0].name, "zone");
  EXPECT_TRUE(change(SchemaChange::Kind::kSetDoc, "zone", nullptr, "sales zone").is_ok());
  EXPECT_EQ(t.metadata().current_schema().fields[0].doc, "sales zone");
  EXPECT_TRUE(change(SchemaChange::Kind::kSetOptional, "id").is_ok());
  EXPECT_FALSE(t.metadata().current_schema().find_field("id")->required);
  // id has null counts of 0 in every file: it may become required again.
  EXPECT_TRUE(change(SchemaChange::Kind::kSetRequired, "id").is_ok());
  EXPECT_TRUE(t.metadata().current_schema().find_field("id")->required);
  // ts has no null counts: making it required could be wrong.
  Status req = change(SchemaChange::Kind::kSetRequired, "ts");
  EXPECT_EQ(req.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(req.message().find("/d/a.parquet"), std::string::npos) << req.message();
  // Re-adding a dropped name gets a fresh id.
  EXPECT_TRUE(change(SchemaChange::Kind::kAddColumn, "amount", Type::of("decimal(9,2)")).is_ok());
  EXPECT_EQ(t.metadata().current_schema().find_field("amount")->id, 6);
  EXPECT_TRUE(change(SchemaChange::Kind::kWidenType, "amount", Type::of("decimal(12,2)")).is_ok());

  std::string at = t.metadata_location();
  Status bad_widen = change(SchemaChange::Kind::kWidenType, "zone", Type::of("int"));
  EXPECT_EQ(bad_widen.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_widen.message().find("'zone'"), std::string::npos) << bad_widen.message();
  EXPECT_NE(bad_widen.message().find("string to int"), std::string::npos) << bad_widen.message();
  EXPECT_FALSE(change(SchemaChange::Kind::kWidenType, "amount", Type::of("decimal(12,3)")).is_ok());
  Status unknown = change(SchemaChange::Kind::kRenameColumn, "nope", nullptr, "x");
  EXPECT_NE(unknown.message().find("unknown column 'nope'"), std::string::npos);
  EXPECT_FALSE(change(SchemaChange::Kind::kAddColumn, "zone", Type::of("int")).is_ok());
  EXPECT_FALSE(change(SchemaChange::Kind::kAddColumn, "y", Type::of("varchar")).is_ok());
  EXPECT_FALSE(change(SchemaChange::Kind::kRenameColumn, "zone", nullptr, "id").is_ok());
  EXPECT_EQ(t.metadata_location(), at);  // failed changes commit nothing
  EXPECT_EQ(testing::slurp(load("raw.orders").metadata().snapshots[0].manifest_list), data_before);
}

TEST_F(LakeTest, DropPartitionSourceColumnIsRefused) {
  CreateTableOptions opts;
  opts.partition_by = {{"region", "identity"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  SchemaChange c;
  c.kind = SchemaChange::Kind::kDropColumn;
  c.column = "region";
  Status st = t.update_schema({c});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("partition field 'region'"), std::string::npos) << st.message();
}

TEST_F(LakeTest, PartitionEvolution) {
  CreateTableOptions opts;
  opts.partition_by = {{"ts", "month"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  ASSERT_TRUE(t.append({data_file("/d/m.parquet", 1, 5, 5, {int32_t{574}})}).is_ok());
  ASSERT_TRUE(t.update_spec({{"ts", "day"}, {"id", "bucket[8]"}}).is_ok());
  EXPECT_EQ(t.metadata().default_spec_id, 1);
  EXPECT_EQ(t.metadata().partition_specs.size(), 2u);
  const PartitionSpec& spec = t.metadata().default_spec();
  ASSERT_EQ(spec.fields.size(), 2u);
  EXPECT_EQ(spec.fields[0].field_id, 1001);
  EXPECT_EQ(spec.fields[0].name, "ts_day");
  EXPECT_EQ(spec.fields[1].field_id, 1002);
  EXPECT_EQ(spec.fields[1].name, "id_bucket");
  EXPECT_EQ(t.metadata().last_partition_id, 1002);
  // Old files keep their spec; new files use the new one.
  ASSERT_TRUE(
      t.append({data_file("/d/d.parquet", 1, 5, 5, {int32_t{17486}, int32_t{3}}, 1)}).is_ok());
  auto files = t.list_files(std::nullopt);
  ASSERT_EQ(files->size(), 2u);
  std::map<std::string, int> spec_of;
  for (const auto& f : *files)
    spec_of[f.file_path] = f.spec_id;
  EXPECT_EQ(spec_of["/d/m.parquet"], 0);
  EXPECT_EQ(spec_of["/d/d.parquet"], 1);
  // Going back to month reuses spec 0 and its field id.
  ASSERT_TRUE(t.update_spec({{"ts", "month"}}).is_ok());
  EXPECT_EQ(t.metadata().default_spec_id, 0);
  EXPECT_EQ(t.metadata().partition_specs.size(), 2u);
  // Unpartitioned is a spec too.
  ASSERT_TRUE(t.update_spec({}).is_ok());
  EXPECT_TRUE(t.metadata().default_spec().is_unpartitioned());
  EXPECT_EQ(t.update_spec({{"region", "hour"}}).code(), StatusCode::kInvalidArgument);
}

TEST_F(LakeTest, PropertiesAndRollback) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.set_properties({{"write.parquet.compression-codec", "zstd"}, {"a", "1"}}).is_ok());
  ASSERT_TRUE(t.set_properties({}, {"a"}).is_ok());
  EXPECT_EQ(load("raw.orders").metadata().properties,
            (std::map<std::string, std::string>{{"write.parquet.compression-codec", "zstd"}}));
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10)}).is_ok());
  int64_t first = *t.metadata().current_snapshot_id;
  ASSERT_TRUE(t.append({data_file("/d/b.parquet", 1, 10)}).is_ok());
  ASSERT_TRUE(t.rollback_to(first).is_ok());
  Table again = load("raw.orders");
  EXPECT_EQ(again.metadata().current_snapshot_id, first);
  EXPECT_EQ(again.metadata().refs.at("main").snapshot_id, first);
  EXPECT_EQ(again.list_files(std::nullopt)->size(), 1u);
  EXPECT_EQ(again.metadata().snapshot_log.back().snapshot_id, first);
  EXPECT_EQ(t.rollback_to(12345).code(), StatusCode::kNotFound);
  // A commit after a rollback builds on the rolled-back snapshot.
  ASSERT_TRUE(again.append({data_file("/d/c.parquet", 1, 10)}).is_ok());
  EXPECT_EQ(again.metadata().current_snapshot()->parent_snapshot_id, first);
  EXPECT_EQ(again.metadata().current_snapshot()->sequence_number, 3);
}

TEST_F(LakeTest, CrashBeforePointerSwapLeavesPreviousSnapshotCurrent) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10)}).is_ok());
  int64_t good = *t.metadata().current_snapshot_id;
  std::string good_location = t.metadata_location();
  fs::path metadata_dir = fs::path(good_location).parent_path();
  size_t files_before = std::distance(fs::directory_iterator(metadata_dir), {});

  detail::set_fault_hook([](std::string_view point) {
    return point == "commit.before-swap" ? io_error("simulated crash") : Status::ok();
  });
  Status st = t.append({data_file("/d/b.parquet", 1, 10)});
  detail::set_fault_hook(nullptr);
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("simulated crash"), std::string::npos);
  // The new metadata file was written (as a crash would leave it) but is not current.
  size_t files_after = std::distance(fs::directory_iterator(metadata_dir), {});
  EXPECT_GT(files_after, files_before);
  Table reloaded = load("raw.orders");
  EXPECT_EQ(reloaded.metadata_location(), good_location);
  EXPECT_EQ(reloaded.metadata().current_snapshot_id, good);
  EXPECT_EQ(reloaded.list_files(std::nullopt)->size(), 1u);
  // No temp pointer left behind, and the table keeps working.
  for (const auto& e : fs::directory_iterator(catalog_->warehouse() / "raw" / "orders")) {
    EXPECT_EQ(e.path().filename().string().find(".sluice-pointer.tmp"), std::string::npos);
  }
  ASSERT_TRUE(reloaded.append({data_file("/d/c.parquet", 1, 10)}).is_ok());
  EXPECT_EQ(load("raw.orders").list_files(std::nullopt)->size(), 2u);
}

TEST_F(LakeTest, ConcurrentAppendsAllSucceed) {
  create("raw.orders");
  constexpr int kThreads = 6, kEach = 4;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        auto t = catalog_->load_table({"raw", "orders"});
        if (!t.is_ok()) {
          ++failures;
          continue;
        }
        std::string path = "/d/t" + std::to_string(i) + "-" + std::to_string(j) + ".parquet";
        Status st = t->append({data_file(path, 1, 10, 1)});
        if (!st.is_ok()) {
          ADD_FAILURE() << st.to_string();
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures.load(), 0);
  Table t = load("raw.orders");
  EXPECT_EQ(t.metadata().snapshots.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(t.metadata().last_sequence_number, kThreads * kEach);
  EXPECT_EQ(t.list_files(std::nullopt)->size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(t.metadata().current_snapshot()->summary.at("total-data-files"),
            std::to_string(kThreads * kEach));
}

TEST_F(LakeTest, StaleHandlesAppendAfterRetry) {
  Table a = create("raw.orders");
  Table b = load("raw.orders");
  ASSERT_TRUE(a.append({data_file("/d/a.parquet", 1, 10)}).is_ok());
  ASSERT_TRUE(b.append({data_file("/d/b.parquet", 1, 10)}).is_ok());  // b's base is stale
  EXPECT_EQ(b.metadata().current_snapshot()->sequence_number, 2);
  EXPECT_EQ(b.list_files(std::nullopt)->size(), 2u);
}

TEST_F(LakeTest, ConflictingOverwritesFailTheLoser) {
  Table t = create("raw.orders");
  ASSERT_TRUE(
      t.append({data_file("/d/a.parquet", 1, 10), data_file("/d/b.parquet", 11, 20)}).is_ok());
  Table w1 = load("raw.orders");
  Table w2 = load("raw.orders");
  ASSERT_TRUE(
      w1.overwrite({data_file("/d/a.parquet", 0, 0)}, {data_file("/d/a1.parquet", 1, 10)}, {})
          .is_ok());
  std::string winner = w1.metadata_location();
  Status st =
      w2.overwrite({data_file("/d/a.parquet", 0, 0)}, {data_file("/d/a2.parquet", 1, 10)}, {});
  EXPECT_EQ(st.code(), StatusCode::kConflict);
  EXPECT_NE(st.message().find("raw.orders"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("snapshot " + std::to_string(*w1.metadata().current_snapshot_id)),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("/d/a.parquet"), std::string::npos) << st.message();
  EXPECT_EQ(load("raw.orders").metadata_location(), winner);
}

TEST_F(LakeTest, OverwriteConflictFilterAgainstConcurrentAppends) {
  CreateTableOptions opts;
  opts.partition_by = {{"region", "identity"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  ASSERT_TRUE(t.append({data_file("/d/eu.parquet", 1, 10, 10, {std::string("eu")}),
                        data_file("/d/us.parquet", 1, 10, 10, {std::string("us")})})
                  .is_ok());
  Predicate eu{3, Predicate::Op::kEq, {std::string("eu")}};

  // A concurrent append to another partition does not conflict.
  Table w = load("raw.orders");
  ASSERT_TRUE(load("raw.orders")
                  .append({data_file("/d/us2.parquet", 1, 10, 10, {std::string("us")})})
                  .is_ok());
  EXPECT_TRUE(w.overwrite({data_file("/d/eu.parquet", 0, 0)},
                          {data_file("/d/eu2.parquet", 1, 10, 10, {std::string("eu")})}, {eu})
                  .is_ok());

  // A concurrent append into the overwritten partition does.
  Table w2 = load("raw.orders");
  Table other = load("raw.orders");
  ASSERT_TRUE(other.append({data_file("/d/eu3.parquet", 1, 10, 10, {std::string("eu")})}).is_ok());
  Status st = w2.overwrite({data_file("/d/eu2.parquet", 0, 0)},
                           {data_file("/d/eu4.parquet", 1, 10, 10, {std::string("eu")})}, {eu});
  EXPECT_EQ(st.code(), StatusCode::kConflict);
  EXPECT_NE(st.message().find("/d/eu3.parquet"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("snapshot " + std::to_string(*other.metadata().current_snapshot_id)),
            std::string::npos);

  // Compaction ignores concurrent appends.
  Table c = load("raw.orders");
  ASSERT_TRUE(load("raw.orders")
                  .append({data_file("/d/us3.parquet", 1, 10, 10, {std::string("us")})})
                  .is_ok());
  EXPECT_TRUE(c.overwrite({data_file("/d/us.parquet", 0, 0), data_file("/d/us2.parquet", 0, 0)},
                          {data_file("/d/us-big.parquet", 1, 10, 20, {std::string("us")})}, {},
                          true)
                  .is_ok());
  std::set<std::string> live;
  Table final_table = load("raw.orders");
  auto listed = final_table.list_files(std::nullopt);
  ASSERT_TRUE(listed.is_ok());
  for (const auto& f : *listed)
    live.insert(f.file_path);
  EXPECT_EQ(live, (std::set<std::string>{"/d/eu2.parquet", "/d/eu3.parquet", "/d/us-big.parquet",
                                         "/d/us3.parquet"}));
}

TEST_F(LakeTest, CompactionConflictsWithConcurrentDeletes) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10)}).is_ok());
  Table compactor = load("raw.orders");
  DataFile pos = data_file("/d/pos.parquet", 0, 0, 1);
  pos.content = FileContent::kPositionDeletes;
  pos.referenced_data_file = "/d/a.parquet";
  ASSERT_TRUE(load("raw.orders").add_deletes({pos}).is_ok());
  Status st = compactor.overwrite({data_file("/d/a.parquet", 0, 0)},
                                  {data_file("/d/a-compact.parquet", 1, 10)}, {}, true);
  EXPECT_EQ(st.code(), StatusCode::kConflict);
  EXPECT_NE(st.message().find("/d/pos.parquet"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sluice::lake

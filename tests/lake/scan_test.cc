// Scan planning: pruning by partition summaries, partition values and column stats; delete
// assignment by sequence numbers; time travel; a 10,000-file table.
#include <chrono>
#include <thread>

#include "lake_test_util.h"

namespace sluice::lake {
namespace {

using Op = Predicate::Op;
using testing::data_file;
using testing::LakeTest;

constexpr int64_t kDayMicros = 86400LL * 1000000;

// ts bounds for a day-partitioned file: the whole day.
DataFile day_file(const std::string& path, int32_t day, const std::string& region, int64_t lo,
                  int64_t hi) {
  DataFile f = data_file(path, lo, hi, 100, {day, region});
  f.lower_bounds[2] = *encode_single_value(*Type::of("timestamptz"), int64_t{day * kDayMicros});
  f.upper_bounds[2] =
      *encode_single_value(*Type::of("timestamptz"), int64_t{(day + 1) * kDayMicros - 1});
  f.value_counts[3] = 100;
  f.null_value_counts[3] = 0;
  return f;
}

TEST_F(LakeTest, PrunesManifestsAndFilesByPartitionAndStats) {
  CreateTableOptions opts;
  opts.partition_by = {{"ts", "day"}, {"region", "identity"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  // 10 appends (one manifest each), each one day with 2 regions x 5 files.
  const int32_t day0 = 19000;
  for (int d = 0; d < 10; ++d) {
    std::vector<DataFile> files;
    for (const char* region : {"eu", "us"}) {
      for (int i = 0; i < 5; ++i) {
        int64_t lo = (d * 10 + i) * 1000 + (std::string(region) == "us" ? 500000 : 0);
        files.push_back(
            day_file("/d/" + std::to_string(d) + region + std::to_string(i) + ".parquet", day0 + d,
                     region, lo, lo + 999));
      }
    }
    ASSERT_TRUE(t.append(files).is_ok());
  }
  auto all = t.plan_scan({});
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ(all->manifests_total, 10);
  EXPECT_EQ(all->manifests_skipped, 0);
  EXPECT_EQ(all->files_total, 100);
  EXPECT_EQ(all->tasks.size(), 100u);

  // One day: 9 manifests skipped by their partition summaries.
  ScanOptions one_day;
  int64_t ts = (day0 + 3) * kDayMicros + 3600LL * 1000000;
  one_day.filter = {{2, Op::kEq, {ts}}};
  auto p = t.plan_scan(one_day);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->manifests_skipped, 9);
  EXPECT_EQ(p->files_total, 100);
  EXPECT_EQ(p->files_skipped, 90);
  EXPECT_EQ(p->tasks.size(), 10u);

  // Day range and region: partition values prune within manifests.
  ScanOptions range;
  range.filter = {{2, Op::kGtEq, {int64_t{(day0 + 8) * kDayMicros}}},
                  {3, Op::kEq, {std::string("eu")}}};
  auto r = t.plan_scan(range);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->manifests_skipped, 8);
  EXPECT_EQ(r->tasks.size(), 10u);
  for (const auto& task : r->tasks)
    EXPECT_EQ(std::get<std::string>(task.data_file.partition[1]), "eu");

  // Column bounds: id in one file only.
  ScanOptions by_id;
  by_id.filter = {{1, Op::kEq, {int64_t{42500}}}};
  auto i = t.plan_scan(by_id);
  ASSERT_TRUE(i.is_ok());
  ASSERT_EQ(i->tasks.size(), 1u);
  EXPECT_EQ(i->tasks[0].data_file.file_path, "/d/4eu2.parquet");
  ScanOptions in;
  in.filter = {{1, Op::kIn, {int64_t{500}, int64_t{94500}}}};
  EXPECT_EQ(t.plan_scan(in)->tasks.size(), 2u);
  ScanOptions lt;
  lt.filter = {{1, Op::kLt, {int64_t{2000}}}};
  EXPECT_EQ(t.plan_scan(lt)->tasks.size(), 2u);
  ScanOptions gt;
  gt.filter = {{1, Op::kGt, {int64_t{594000}}}};
  EXPECT_EQ(t.plan_scan(gt)->tasks.size(), 1u);
  // Null counts: region has no nulls anywhere.
  ScanOptions nulls;
  nulls.filter = {{3, Op::kIsNull, {}}};
  EXPECT_EQ(t.plan_scan(nulls)->tasks.size(), 0u);
  // Unknown stats never prune: amount (4) has none.
  ScanOptions amount;
  amount.filter = {{4, Op::kEq, {1.5}}};
  EXPECT_EQ(t.plan_scan(amount)->tasks.size(), 100u);
  ScanOptions noteq;
  noteq.filter = {{3, Op::kNotEq, {std::string("eu")}}};
  EXPECT_EQ(t.plan_scan(noteq)->tasks.size(), 50u);  // identity partitions prune NotEq

  // Bad filters name the problem.
  ScanOptions bad;
  bad.filter = {{99, Op::kEq, {int64_t{1}}}};
  auto b = t.plan_scan(bad);
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("column id 99"), std::string::npos);
  EXPECT_NE(b.status().message().find("raw.orders"), std::string::npos);
  ScanOptions bad_type;
  bad_type.filter = {{1, Op::kEq, {std::string("x")}}};
  EXPECT_NE(t.plan_scan(bad_type).status().message().find("column 'id'"), std::string::npos);
}

TEST_F(LakeTest, BucketAndTruncatePruning) {
  CreateTableOptions opts;
  opts.partition_by = {{"id", "bucket[4]"}, {"region", "truncate[1]"}};
  Table t = create("raw.b", testing::orders_schema(), opts);
  std::vector<DataFile> files;
  for (int b = 0; b < 4; ++b) {
    for (const char* r : {"a", "b"}) {
      DataFile f = data_file("/d/" + std::to_string(b) + r + ".parquet", 0, 1000000, 10,
                             {int32_t{b}, std::string(r)});
      files.push_back(f);
    }
  }
  ASSERT_TRUE(t.append(files).is_ok());
  int32_t bucket = std::get<int32_t>(*apply_transform("bucket[4]", *Type::of("long"), int64_t{77}));
  ScanOptions o;
  o.filter = {{1, Op::kEq, {int64_t{77}}}, {3, Op::kGtEq, {std::string("banana")}}};
  auto p = t.plan_scan(o);
  ASSERT_TRUE(p.is_ok());
  ASSERT_EQ(p->tasks.size(), 1u);
  EXPECT_EQ(p->tasks[0].data_file.file_path, "/d/" + std::to_string(bucket) + "b.parquet");
}

TEST_F(LakeTest, DeletesAreAssignedBySequenceNumber) {
  CreateTableOptions opts;
  opts.partition_by = {{"region", "identity"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  ASSERT_TRUE(t.append({data_file("/d/eu1.parquet", 1, 10, 10, {std::string("eu")}),
                        data_file("/d/us1.parquet", 1, 10, 10, {std::string("us")})})
                  .is_ok());  // seq 1
  DataFile pos = data_file("/d/pos-eu.parquet", 0, 0, 2, {std::string("eu")});
  pos.content = FileContent::kPositionDeletes;
  DataFile eq = data_file("/d/eq-eu.parquet", 5, 5, 1, {std::string("eu")});
  eq.content = FileContent::kEqualityDeletes;
  eq.equality_ids = {1};
  ASSERT_TRUE(t.add_deletes({pos, eq}).is_ok());  // seq 2
  ASSERT_TRUE(t.append({data_file("/d/eu2.parquet", 1, 10, 10, {std::string("eu")})}).is_ok());
  // seq 3: a position delete written together with its data file (same sequence number).
  DataFile pos3 = data_file("/d/pos-eu3.parquet", 0, 0, 1, {std::string("eu")});
  pos3.content = FileContent::kPositionDeletes;
  pos3.lower_bounds = {{2147483546, "/d/eu2.parquet"}};
  pos3.upper_bounds = {{2147483546, "/d/eu2.parquet"}};
  ASSERT_TRUE(t.add_deletes({pos3}).is_ok());  // seq 4

  auto p = t.plan_scan({});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  std::map<std::string, const ScanTask*> by_path;
  for (const auto& task : p->tasks)
    by_path[task.data_file.file_path] = &task;
  ASSERT_EQ(by_path.size(), 3u);
  const ScanTask* eu1 = by_path["/d/eu1.parquet"];
  const ScanTask* eu2 = by_path["/d/eu2.parquet"];
  const ScanTask* us1 = by_path["/d/us1.parquet"];
  EXPECT_EQ(eu1->data_file.data_sequence_number, 1);
  // eu1 (seq 1): pos delete seq 2 applies; pos3 names another file by its bounds.
  ASSERT_EQ(eu1->position_deletes.size(), 1u);
  EXPECT_EQ(eu1->position_deletes[0].file_path, "/d/pos-eu.parquet");
  EXPECT_EQ(eu1->position_deletes[0].data_sequence_number, 2);
  ASSERT_EQ(eu1->equality_deletes.size(), 1u);
  // eu2 (seq 3): the older deletes do not apply; pos3 (seq 4, bounds = eu2) does.
  EXPECT_EQ(eu2->data_file.data_sequence_number, 3);
  ASSERT_EQ(eu2->position_deletes.size(), 1u);
  EXPECT_EQ(eu2->position_deletes[0].file_path, "/d/pos-eu3.parquet");
  EXPECT_TRUE(eu2->equality_deletes.empty());
  // us1: other partition.
  EXPECT_TRUE(us1->position_deletes.empty());
  EXPECT_TRUE(us1->equality_deletes.empty());
}

TEST_F(LakeTest, EqualityDeletesFromUnpartitionedSpecAreGlobal) {
  CreateTableOptions opts;
  opts.partition_by = {{"region", "identity"}};
  Table t = create("raw.orders", testing::orders_schema(), opts);
  ASSERT_TRUE(t.append({data_file("/d/eu.parquet", 1, 10, 10, {std::string("eu")}),
                        data_file("/d/us.parquet", 1, 10, 10, {std::string("us")})})
                  .is_ok());
  ASSERT_TRUE(t.update_spec({}).is_ok());
  DataFile eq = data_file("/d/eq.parquet", 5, 5, 1, {}, 1);
  eq.content = FileContent::kEqualityDeletes;
  eq.equality_ids = {1};
  ASSERT_TRUE(t.add_deletes({eq}).is_ok());
  auto p = t.plan_scan({});
  ASSERT_TRUE(p.is_ok());
  ASSERT_EQ(p->tasks.size(), 2u);
  for (const auto& task : p->tasks)
    EXPECT_EQ(task.equality_deletes.size(), 1u);
}

TEST_F(LakeTest, TimeTravelBySnapshotAndTimestampUsesPastSchema) {
  Table t = create("raw.orders");
  ASSERT_TRUE(t.append({data_file("/d/a.parquet", 1, 10)}).is_ok());
  const Snapshot first = *t.metadata().current_snapshot();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  SchemaChange rename;
  rename.kind = SchemaChange::Kind::kRenameColumn;
  rename.column = "region";
  rename.new_name = "zone";
  ASSERT_TRUE(t.update_schema({rename}).is_ok());
  ASSERT_TRUE(t.append({data_file("/d/b.parquet", 1, 10)}).is_ok());
  const Snapshot second = *t.metadata().current_snapshot();
  EXPECT_EQ(second.schema_id, 1);

  ScanOptions by_id;
  by_id.snapshot_id = first.snapshot_id;
  auto p = t.plan_scan(by_id);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->snapshot_id, first.snapshot_id);
  EXPECT_EQ(p->tasks.size(), 1u);
  EXPECT_NE(p->schema.find_field("region"), nullptr);  // the snapshot's schema
  EXPECT_EQ(p->schema.find_field("zone"), nullptr);

  ScanOptions by_time;
  by_time.as_of_ms = second.timestamp_ms - 1;
  auto q = t.plan_scan(by_time);
  ASSERT_TRUE(q.is_ok());
  EXPECT_EQ(q->snapshot_id, first.snapshot_id);
  by_time.as_of_ms = second.timestamp_ms;
  EXPECT_EQ(t.plan_scan(by_time)->snapshot_id, second.snapshot_id);

  auto current = t.plan_scan({});
  EXPECT_EQ(current->tasks.size(), 2u);
  EXPECT_NE(current->schema.find_field("zone"), nullptr);

  ScanOptions too_early;
  too_early.as_of_ms = first.timestamp_ms - 1000;
  EXPECT_EQ(t.plan_scan(too_early).status().code(), StatusCode::kNotFound);
  ScanOptions missing;
  missing.snapshot_id = 1;
  EXPECT_EQ(t.plan_scan(missing).status().code(), StatusCode::kNotFound);
  ScanOptions both;
  both.snapshot_id = first.snapshot_id;
  both.as_of_ms = first.timestamp_ms;
  EXPECT_EQ(t.plan_scan(both).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LakeTest, EmptyTablePlansNothing) {
  Table t = create("raw.orders");
  auto p = t.plan_scan({});
  ASSERT_TRUE(p.is_ok());
  EXPECT_FALSE(p->snapshot_id);
  EXPECT_TRUE(p->tasks.empty());
  EXPECT_EQ(p->schema.fields.size(), 4u);
}

TEST_F(LakeTest, TenThousandFilesPlan) {
  CreateTableOptions opts;
  opts.partition_by = {{"ts", "day"}, {"region", "identity"}};
  Table t = create("raw.big", testing::orders_schema(), opts);
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<DataFile> files;
    for (int i = 0; i < 1000; ++i) {
      int n = batch * 1000 + i;
      files.push_back(day_file("/d/f" + std::to_string(n) + ".parquet", 19000 + n % 100,
                               n % 2 ? "eu" : "us", n * 10, n * 10 + 9));
    }
    ASSERT_TRUE(t.append(files).is_ok());
  }
  detail::clear_manifest_cache();
  auto p = t.plan_scan({});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->tasks.size(), 10000u);
  ScanOptions o;
  o.filter = {{1, Op::kEq, {int64_t{55555}}}};
  auto q = t.plan_scan(o);
  ASSERT_TRUE(q.is_ok());
  ASSERT_EQ(q->tasks.size(), 1u);
  EXPECT_EQ(q->tasks[0].data_file.file_path, "/d/f5555.parquet");
  EXPECT_EQ(q->files_skipped, 9999);
}

}  // namespace
}  // namespace sluice::lake

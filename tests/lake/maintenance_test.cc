// Maintenance: snapshot expiry deletes only unreachable files; orphan removal spares recent and
// referenced files.
#include <sys/time.h>

#include "lake_test_util.h"

namespace sluice::lake {
namespace {

namespace fs = std::filesystem;
using testing::data_file;
using testing::LakeTest;

void make_old(const fs::path& p) {
  struct timeval times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimes(p.c_str(), times), 0);
}

TEST_F(LakeTest, ExpireSnapshotsDeletesOnlyUnreachableFiles) {
  Table t = create("raw.orders");
  auto real = [&](const std::string& name) {
    fs::path p = t.data_dir() / name;
    testing::touch(p);
    return p;
  };
  fs::path a = real("a.parquet"), b = real("b.parquet"), c = real("c.parquet"),
           a2 = real("a2.parquet");
  ASSERT_TRUE(t.append({data_file(a.string(), 1, 10)}).is_ok());
  std::string list1 = t.metadata().current_snapshot()->manifest_list;
  ASSERT_TRUE(t.append({data_file(b.string(), 1, 10)}).is_ok());
  std::string list2 = t.metadata().current_snapshot()->manifest_list;
  ASSERT_TRUE(
      t.overwrite({data_file(a.string(), 0, 0)}, {data_file(a2.string(), 1, 10)}, {}).is_ok());
  ASSERT_TRUE(t.append({data_file(c.string(), 1, 10)}).is_ok());
  ASSERT_EQ(t.metadata().snapshots.size(), 4u);

  // Keep the last two snapshots (the overwrite and the last append).
  auto r = t.expire_snapshots(detail::now_ms() + 1000, 2);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->snapshots_expired, 2);
  EXPECT_GE(r->files_deleted, 3);  // a.parquet, two manifest lists, ...
  EXPECT_FALSE(fs::exists(a));
  EXPECT_FALSE(fs::exists(list1));
  EXPECT_FALSE(fs::exists(list2));
  for (const auto& p : {b, c, a2})
    EXPECT_TRUE(fs::exists(p)) << p;
  Table again = load("raw.orders");
  EXPECT_EQ(again.metadata().snapshots.size(), 2u);
  for (const auto& e : again.metadata().snapshot_log) {
    EXPECT_NE(again.metadata().snapshot_by_id(e.snapshot_id), nullptr);
  }
  detail::clear_manifest_cache();
  auto plan = again.plan_scan({});
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->tasks.size(), 3u);
  // Nothing left to expire.
  auto none = again.expire_snapshots(detail::now_ms() + 1000, 2);
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(none->snapshots_expired, 0);
  // Recent snapshots are kept whatever retain_last says.
  auto recent = again.expire_snapshots(0, 1);
  ASSERT_TRUE(recent.is_ok());
  EXPECT_EQ(recent->snapshots_expired, 0);
}

TEST_F(LakeTest, RemoveOrphanFiles) {
  Table t = create("raw.orders");
  fs::path live = t.data_dir() / "live.parquet";
  fs::path old_orphan = t.data_dir() / "part=1" / "old-orphan.parquet";
  fs::path new_orphan = t.data_dir() / "new-orphan.parquet";
  fs::path hidden = t.data_dir() / ".tmp-inflight";
  for (const auto& p : {live, old_orphan, new_orphan, hidden})
    testing::touch(p);
  ASSERT_TRUE(t.append({data_file(live.string(), 1, 10)}).is_ok());
  for (const auto& p : {live, old_orphan, hidden})
    make_old(p);
  // Old metadata files stay reachable through the metadata log.
  for (const auto& e : fs::directory_iterator(t.data_dir().parent_path() / "metadata")) {
    make_old(e.path());
  }
  int64_t cutoff = detail::now_ms() - 60 * 1000;
  make_old(new_orphan);
  // new_orphan: make it recent again.
  testing::touch(new_orphan, "recent");

  auto dry = t.remove_orphan_files(cutoff, true);
  ASSERT_TRUE(dry.is_ok()) << dry.status().to_string();
  ASSERT_EQ(dry->size(), 1u);
  EXPECT_EQ((*dry)[0], old_orphan.string());
  EXPECT_TRUE(fs::exists(old_orphan));
  auto wet = t.remove_orphan_files(cutoff, false);
  ASSERT_TRUE(wet.is_ok());
  EXPECT_EQ(wet->size(), 1u);
  EXPECT_FALSE(fs::exists(old_orphan));
  for (const auto& p : {live, new_orphan, hidden})
    EXPECT_TRUE(fs::exists(p)) << p;
  // The table is intact.
  detail::clear_manifest_cache();
  auto plan = load("raw.orders").plan_scan({});
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->tasks.size(), 1u);

  // A metadata file from a crashed commit is an orphan once old enough.
  fs::path stray = t.data_dir().parent_path() / "metadata" / "00009-crashed.metadata.json";
  testing::touch(stray, "{}");
  make_old(stray);
  auto again = t.remove_orphan_files(cutoff, false);
  ASSERT_TRUE(again.is_ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0], stray.string());
}

}  // namespace
}  // namespace sluice::lake

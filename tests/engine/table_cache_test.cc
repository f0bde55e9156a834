// The hot-table cache of LakeSession: a table read often at one snapshot is copied into memory,
// the copy is never read after a commit (from this session or another process's), budgets are
// kept, and results are always those of the table's current snapshot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/lake_session.h"

namespace sluice::engine {
namespace {

class TableCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_table_cache_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto catalog = lake::Catalog::open(dir_ / "lake");
    ASSERT_TRUE(catalog.is_ok()) << catalog.status().to_string();
    catalog_ = *catalog;
    // The writer: its own DuckDB database and catalog object, like another process.
    writer_ = open_session(0, 2);
    run(*writer_,
        "CREATE TABLE raw.orders AS SELECT i AS id, i % 7 AS shop, i * 1.5 AS amount "
        "FROM range(10000) t(i)");
  }
  void TearDown() override {
    reader_.reset();
    writer_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<LakeSession> open_session(int64_t cache_bytes, int min_reads) {
    auto catalog = lake::Catalog::open(dir_ / "lake");
    EXPECT_TRUE(catalog.is_ok());
    auto db = Database::open_in_memory({.threads = 2});
    EXPECT_TRUE(db.is_ok());
    LakeSessionOptions o;
    o.cache_bytes = cache_bytes;
    o.cache_min_reads = min_reads;
    auto s = LakeSession::open(*catalog, *db, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return std::make_unique<LakeSession>(std::move(s).value());
  }

  static StatementResult run(LakeSession& s, const std::string& sql) {
    auto r = s.run(sql);
    EXPECT_TRUE(r.is_ok()) << sql << "\n-> " << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : StatementResult{};
  }
  static std::string one(LakeSession& s, const std::string& sql) {
    auto r = run(s, sql);
    if (r.rows.rows.empty()) return "<no rows>";
    std::string out;
    for (const auto& v : r.rows.rows[0])
      out += (out.empty() ? "" : "|") + v.value_or("NULL");
    return out;
  }
  // True when the session's DuckDB view of the table reads the in-memory copy.
  static bool reads_copy(LakeSession& s, const std::string& name) {
    auto r = s.session().query("SELECT sql FROM duckdb_views() WHERE view_name = '" + name + "'");
    EXPECT_TRUE(r.is_ok());
    return r.is_ok() && !r->rows.empty() && r->rows[0][0] &&
           r->rows[0][0]->find("__sluice_cache") != std::string::npos;
  }

  std::filesystem::path dir_;
  std::shared_ptr<lake::Catalog> catalog_;
  std::unique_ptr<LakeSession> writer_, reader_;
};

const char* kSum = "SELECT count(*), sum(amount), max(id) FROM raw.orders";

TEST_F(TableCacheTest, AHotTableIsCopiedOnItsNthReadAndReadsTheSame) {
  reader_ = open_session(64 << 20, 3);
  auto before = table_cache_stats();
  std::string expected = one(*reader_, kSum);
  EXPECT_EQ(expected, "10000|74992500.0|9999");
  EXPECT_FALSE(reads_copy(*reader_, "orders"));
  EXPECT_EQ(one(*reader_, kSum), expected);
  EXPECT_FALSE(reads_copy(*reader_, "orders")) << "copied before the 3rd read";
  EXPECT_EQ(one(*reader_, kSum), expected);
  EXPECT_TRUE(reads_copy(*reader_, "orders"));
  const char* filtered =
      "SELECT count(*), sum(amount) FROM raw.orders WHERE shop = 3 AND id > 5000";
  EXPECT_EQ(one(*reader_, filtered), one(*writer_, filtered));
  auto after = table_cache_stats();
  EXPECT_EQ(after.loads - before.loads, 1);
  EXPECT_GE(after.hits - before.hits, 1);
  EXPECT_EQ(after.tables - before.tables, 1);
  EXPECT_GT(after.bytes - before.bytes, 0);
  // Closing the session gives the memory back.
  reader_.reset();
  auto closed = table_cache_stats();
  EXPECT_EQ(closed.tables, before.tables);
  EXPECT_EQ(closed.bytes, before.bytes);
}

TEST_F(TableCacheTest, OffByDefault) {
  reader_ = open_session(0, 1);
  auto before = table_cache_stats();
  for (int i = 0; i < 4; ++i)
    one(*reader_, kSum);
  EXPECT_FALSE(reads_copy(*reader_, "orders"));
  EXPECT_EQ(table_cache_stats().loads, before.loads);
}

TEST_F(TableCacheTest, ACommitElsewhereMakesTheCopyStale) {
  reader_ = open_session(64 << 20, 1);
  EXPECT_EQ(one(*reader_, "SELECT count(*) FROM raw.orders"), "10000");
  EXPECT_TRUE(reads_copy(*reader_, "orders"));
  // Another writer appends, deletes and updates; each read sees exactly the current snapshot.
  run(*writer_, "INSERT INTO raw.orders SELECT 20000 + i, 1, 2.0 FROM range(5) t(i)");
  EXPECT_EQ(one(*reader_, "SELECT count(*), max(id) FROM raw.orders"), "10005|20004");
  run(*writer_, "DELETE FROM raw.orders WHERE id < 100");
  EXPECT_EQ(one(*reader_, "SELECT count(*), min(id) FROM raw.orders"), "9905|100");
  run(*writer_, "UPDATE raw.orders SET amount = -1 WHERE id = 500");
  EXPECT_EQ(one(*reader_, "SELECT amount FROM raw.orders WHERE id = 500"), "-1.0");
  EXPECT_TRUE(reads_copy(*reader_, "orders"));
  // Its own writes too.
  run(*reader_, "DELETE FROM raw.orders WHERE id >= 20000");
  EXPECT_EQ(one(*reader_, "SELECT count(*) FROM raw.orders"), "9900");
}

TEST_F(TableCacheTest, SchemaChangesAndTimeTravelReadRight) {
  reader_ = open_session(64 << 20, 1);
  auto first = catalog_->load_table({"raw", "orders"});
  ASSERT_TRUE(first.is_ok());
  int64_t v1 = *first->metadata().current_snapshot_id;
  EXPECT_EQ(one(*reader_, "SELECT sum(shop) FROM raw.orders"), "29994");
  run(*writer_, "ALTER TABLE raw.orders RENAME COLUMN shop TO store");
  EXPECT_EQ(one(*reader_, "SELECT sum(store) FROM raw.orders"), "29994");
  run(*writer_, "ALTER TABLE raw.orders ADD COLUMN note VARCHAR");
  run(*writer_, "INSERT INTO raw.orders VALUES (-1, 0, 0, 'late')");
  EXPECT_EQ(one(*reader_, "SELECT count(*), count(note) FROM raw.orders"), "10001|1");
  // Time travel never reads the copy of the current snapshot.
  EXPECT_EQ(
      one(*reader_, "SELECT count(*) FROM raw.orders AT (VERSION => " + std::to_string(v1) + ")"),
      "10000");
  // Dropped and re-created under the same name: a new table, not the old copy.
  run(*writer_, "DROP TABLE raw.orders");
  run(*writer_, "CREATE TABLE raw.orders AS SELECT 1 AS id, 2 AS shop, 3.0 AS amount");
  EXPECT_EQ(one(*reader_, "SELECT count(*), sum(amount) FROM raw.orders"), "1|3.0");
}

TEST_F(TableCacheTest, ATableOverTheBudgetIsReadFromItsFiles) {
  reader_ = open_session(1024, 1);  // 1 KiB: the table's files alone are bigger
  auto before = table_cache_stats();
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(one(*reader_, kSum), "10000|74992500.0|9999");
  EXPECT_FALSE(reads_copy(*reader_, "orders"));
  EXPECT_EQ(table_cache_stats().loads, before.loads);
}

TEST_F(TableCacheTest, TheLeastRecentlyUsedCopyMakesRoom) {
  run(*writer_,
      "CREATE TABLE raw.other AS SELECT i AS id, i % 5 AS shop, i * 2.5 AS amount FROM "
      "range(10000) t(i)");
  // Measure one copy, then give the reader room for one and a half.
  int64_t one_copy = 0;
  {
    auto probe = open_session(64 << 20, 1);
    auto before = table_cache_stats();
    one(*probe, "SELECT count(*) FROM raw.orders");
    one_copy = table_cache_stats().bytes - before.bytes;
  }
  ASSERT_GT(one_copy, 0);
  reader_ = open_session(one_copy * 3 / 2, 1);
  EXPECT_EQ(one(*reader_, "SELECT count(*) FROM raw.orders"), "10000");
  EXPECT_TRUE(reads_copy(*reader_, "orders"));
  EXPECT_EQ(one(*reader_, "SELECT count(*) FROM raw.other"), "10000");
  EXPECT_TRUE(reads_copy(*reader_, "other"));
  EXPECT_FALSE(reads_copy(*reader_, "orders")) << "evicted to make room";
  EXPECT_EQ(one(*reader_, "SELECT count(*), sum(amount) FROM raw.orders"), "10000|74992500.0");
  // Both hot, room for one: a statement reading both never loses the copy it is bound to.
  const char* join =
      "SELECT count(*), sum(o.amount + t.amount) FROM raw.orders o JOIN raw.other t USING (id)";
  std::string expected = one(*writer_, join);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(one(*reader_, join), expected);
  EXPECT_LE(table_cache_stats().bytes, one_copy * 3 / 2);
}

}  // namespace
}  // namespace sluice::engine

// SQL over real lake tables: DuckDB writes Parquet with field ids, the lake commits Iceberg
// metadata, and reads go back through scan planning.
#include "engine/lake_session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "engine/lake_stats_internal.h"

namespace sluice::engine {
namespace {

class LakeSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_lake_session_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto catalog = lake::Catalog::open(dir_ / "lake");
    ASSERT_TRUE(catalog.is_ok()) << catalog.status().to_string();
    catalog_ = *catalog;
    auto db = Database::open_in_memory({.threads = 2});
    ASSERT_TRUE(db.is_ok());
    db_ = *db;
    auto s = LakeSession::open(catalog_, db_);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    session_ = std::make_unique<LakeSession>(std::move(s).value());
  }
  void TearDown() override {
    session_.reset();
    std::filesystem::remove_all(dir_);
  }

  StatementResult run(const std::string& sql) {
    auto r = session_->run(sql);
    EXPECT_TRUE(r.is_ok()) << sql << "\n-> " << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : StatementResult{};
  }
  std::string error(const std::string& sql) {
    auto r = session_->run(sql);
    EXPECT_FALSE(r.is_ok()) << "expected an error from: " << sql;
    return r.is_ok() ? "" : r.status().message();
  }
  // First row, all columns joined by '|'.
  std::string one(const std::string& sql) {
    auto r = run(sql);
    if (r.rows.rows.empty()) return "<no rows>";
    std::string out;
    for (const auto& v : r.rows.rows[0])
      out += (out.empty() ? "" : "|") + v.value_or("NULL");
    return out;
  }

  std::filesystem::path dir_;
  std::shared_ptr<lake::Catalog> catalog_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<LakeSession> session_;
};

TEST_F(LakeSessionTest, CreateInsertSelect) {
  run("CREATE TABLE raw.orders (id BIGINT NOT NULL, customer VARCHAR, amount DECIMAL(10,2), "
      "ts TIMESTAMPTZ)");
  auto ins =
      run("INSERT INTO raw.orders SELECT i, 'c' || (i % 7), i * 1.25, "
          "TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_hours(i) FROM range(1000) t(i)");
  EXPECT_EQ(ins.rows_affected, 1000);
  EXPECT_EQ(ins.tag, "INSERT 0 1000");
  ASSERT_TRUE(ins.snapshot_id.has_value());
  EXPECT_EQ(one("SELECT count(*), sum(id), sum(amount), max(customer) FROM raw.orders"),
            "1000|499500|624375.00|c6");
  // The data files carry Iceberg field ids.
  auto table = catalog_->load_table({"raw", "orders"});
  ASSERT_TRUE(table.is_ok());
  auto files = table->list_files(std::nullopt);
  ASSERT_TRUE(files.is_ok());
  ASSERT_FALSE(files->empty());
  EXPECT_EQ(one("SELECT string_agg(name || '=' || field_id, ',' ORDER BY field_id) FROM "
                "parquet_schema('" +
                files->at(0).file_path + "') WHERE field_id IS NOT NULL"),
            "id=1,customer=2,amount=3,ts=4");
  EXPECT_EQ(files->at(0).record_count, 1000);
  EXPECT_FALSE(files->at(0).lower_bounds.empty());
}

TEST_F(LakeSessionTest, CreateTableAsAndPartitioning) {
  auto r =
      run("CREATE TABLE curated.daily PARTITIONED BY (day(ts), bucket(4, id)) AS SELECT i "
          "AS id, TIMESTAMP '2026-11-01' + to_hours(i * 6) AS ts, i % 3 = 0 AS flag FROM "
          "range(40) t(i)");
  EXPECT_EQ(r.rows_affected, 40);
  EXPECT_EQ(one("SELECT count(*), count(DISTINCT ts::DATE) FROM curated.daily"), "40|10");
  auto table = catalog_->load_table({"curated", "daily"});
  ASSERT_TRUE(table.is_ok());
  EXPECT_EQ(table->metadata().default_spec().fields.size(), 2u);
  // Filtering on the partition column prunes files.
  auto plan = table->plan_scan({});
  ASSERT_TRUE(plan.is_ok());
  EXPECT_GT(plan->tasks.size(), 10u);
  lake::ScanOptions opts;
  opts.filter.push_back({.field_id = 2,
                         .op = lake::Predicate::Op::kGtEq,
                         .values = {lake::Value(int64_t{1794096000000000})}});  // 2026-11-10
  auto pruned = table->plan_scan(opts);
  ASSERT_TRUE(pruned.is_ok());
  EXPECT_LT(pruned->tasks.size(), plan->tasks.size());
  // Every file's partition values agree with the rows inside it.
  for (const auto& t : plan->tasks) {
    const auto& f = t.data_file;
    ASSERT_EQ(f.partition.size(), 2u);
    int32_t day = std::get<int32_t>(f.partition[0]);
    EXPECT_EQ(one("SELECT count(*) FROM read_parquet('" + f.file_path +
                  "') WHERE (ts::DATE - DATE '1970-01-01') <> " + std::to_string(day)),
              "0");
    int32_t bucket = std::get<int32_t>(f.partition[1]);
    auto ids = run("SELECT DISTINCT id FROM read_parquet('" + f.file_path + "')");
    for (const auto& row : ids.rows.rows) {
      auto expected = lake::apply_transform("bucket[4]", *lake::Type::of("long"),
                                            lake::Value(int64_t{std::stoll(*row[0])}));
      ASSERT_TRUE(expected.is_ok());
      EXPECT_EQ(std::get<int32_t>(*expected), bucket) << "id " << *row[0];
    }
  }
}

TEST_F(LakeSessionTest, TimeTravelByVersionAndTimestamp) {
  run("CREATE TABLE raw.t (id INTEGER)");
  auto s1 = run("INSERT INTO raw.t VALUES (1), (2)").snapshot_id.value_or(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto between = one("SELECT CAST(now() AS VARCHAR)");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  run("INSERT INTO raw.t VALUES (3)");
  EXPECT_EQ(one("SELECT count(*) FROM raw.t"), "3");
  EXPECT_EQ(one("SELECT count(*) FROM raw.t AT (VERSION => " + std::to_string(s1) + ")"), "2");
  EXPECT_EQ(one("SELECT count(*) FROM raw.t AT (TIMESTAMP => TIMESTAMPTZ '" + between + "')"), "2");
  EXPECT_EQ(one("SELECT count(*) FROM raw.t AS x AT (VERSION => " + std::to_string(s1) +
                ") JOIN raw.t y USING (id)"),
            "2");
  EXPECT_NE(error("SELECT * FROM raw.t AT (VERSION => 12345)").find("12345"), std::string::npos);
}

TEST_F(LakeSessionTest, DeleteUpdateMergeAreCommits) {
  run("CREATE TABLE refined.users PARTITIONED BY (country) AS SELECT i AS id, CASE WHEN i % 2 = "
      "0 THEN 'DE' ELSE 'FR' END AS country, 'u' || i AS name FROM range(10) t(i)");
  auto del = run("DELETE FROM refined.users WHERE id < 3");
  EXPECT_EQ(del.tag, "DELETE 3");
  EXPECT_EQ(one("SELECT count(*), min(id) FROM refined.users"), "7|3");
  auto upd = run("UPDATE refined.users SET name = upper(name) WHERE country = 'FR'");
  EXPECT_EQ(upd.rows_affected, 4);  // 3, 5, 7, 9
  EXPECT_EQ(one("SELECT string_agg(name, ',' ORDER BY id) FROM refined.users"),
            "U3,u4,U5,u6,U7,u8,U9");
  auto merge =
      run("MERGE INTO refined.users AS u USING (SELECT 4 AS id, 'DE' AS country, 'new4' AS name "
          "UNION ALL SELECT 42, 'IT', 'n42') AS s ON u.id = s.id WHEN MATCHED THEN UPDATE SET name "
          "= s.name WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.country, s.name)");
  EXPECT_EQ(merge.rows_affected, 2);
  EXPECT_EQ(one("SELECT count(*), max(id), string_agg(name, ',' ORDER BY id) FILTER (WHERE id "
                "IN (4, 42)) FROM refined.users"),
            "8|42|new4,n42");
  auto table = catalog_->load_table({"refined", "users"});
  ASSERT_TRUE(table.is_ok());
  // create+append, delete, update, merge: four snapshots.
  EXPECT_EQ(table->metadata().snapshots.size(), 4u);
  EXPECT_EQ(run("DELETE FROM refined.users WHERE id > 1000").rows_affected, 0);
  EXPECT_EQ(run("TRUNCATE refined.users").tag, "TRUNCATE TABLE");
  EXPECT_EQ(one("SELECT count(*) FROM refined.users"), "0");
}

TEST_F(LakeSessionTest, SchemaEvolutionReadsByFieldId) {
  run("CREATE TABLE raw.e (a INTEGER, b VARCHAR)");
  run("INSERT INTO raw.e VALUES (1, 'x')");
  // One schema so far: read by name (DuckDB scans a file in parallel only then); after the
  // rename, by field id.
  EXPECT_TRUE(catalog_->load_table({"raw", "e"})->plan_scan({})->read_by_name);
  run("ALTER TABLE raw.e RENAME COLUMN b TO label");
  EXPECT_FALSE(catalog_->load_table({"raw", "e"})->plan_scan({})->read_by_name);
  run("ALTER TABLE raw.e ADD COLUMN c DOUBLE");
  run("ALTER TABLE raw.e ALTER COLUMN a TYPE BIGINT");
  run("INSERT INTO raw.e VALUES (2, 'y', 0.5)");
  auto r = run("SELECT a, label, c FROM raw.e ORDER BY a");
  ASSERT_EQ(r.rows.rows.size(), 2u);
  EXPECT_EQ(r.rows.column_types[0], "BIGINT");
  EXPECT_EQ(r.rows.rows[0][1], "x");  // renamed column still reads the old file
  EXPECT_EQ(r.rows.rows[0][2], std::nullopt);
  EXPECT_EQ(r.rows.rows[1][2], "0.5");
  run("ALTER TABLE raw.e DROP COLUMN label");
  EXPECT_EQ(run("SELECT * FROM raw.e").rows.column_names, (std::vector<std::string>{"a", "c"}));
}

TEST_F(LakeSessionTest, BadInputNamesTheProblemAndChangesNothing) {
  run("CREATE TABLE raw.k (id INTEGER NOT NULL, v VARCHAR)");
  run("INSERT INTO raw.k VALUES (1, 'a')");
  auto before = catalog_->load_table({"raw", "k"})->metadata_location();
  EXPECT_NE(error("INSERT INTO raw.k VALUES ('not a number', 'b')").find("INSERT INTO raw.k"),
            std::string::npos);
  EXPECT_NE(error("INSERT INTO raw.k (id, nope) VALUES (1, 2)").find("no column 'nope'"),
            std::string::npos);
  EXPECT_NE(error("INSERT INTO raw.k VALUES (NULL, 'b')").find("NOT NULL"), std::string::npos);
  EXPECT_NE(error("INSERT INTO raw.k VALUES (1)").find("returns 1 column(s) but 2"),
            std::string::npos);
  EXPECT_NE(error("CREATE TABLE raw.k (x INTEGER)").find("already exists"), std::string::npos);
  EXPECT_NE(error("CREATE TABLE raw.i AS SELECT INTERVAL 1 DAY AS d").find("INTERVAL"),
            std::string::npos);
  EXPECT_NE(error("CREATE TABLE raw.p (s VARCHAR) PARTITIONED BY (day(s))").find("s"),
            std::string::npos);
  EXPECT_FALSE(catalog_->table_exists({"raw", "i"}));
  EXPECT_EQ(catalog_->load_table({"raw", "k"})->metadata_location(), before);
  EXPECT_EQ(one("SELECT count(*) FROM raw.k"), "1");
}

TEST_F(LakeSessionTest, CompactionMergesSmallFilesKeepingRows) {
  run("CREATE TABLE raw.c (id INTEGER)");
  for (int i = 0; i < 5; ++i)
    run("INSERT INTO raw.c SELECT range FROM range(" + std::to_string(i * 10) + ", " +
        std::to_string(i * 10 + 10) + ")");
  auto r = session_->compact({"raw", "c"}, 1 << 20);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->files_removed, 5);
  EXPECT_EQ(r->files_added, 1);
  EXPECT_EQ(one("SELECT count(*), sum(id) FROM raw.c"), "50|1225");
  auto table = catalog_->load_table({"raw", "c"});
  EXPECT_EQ(table->list_files(std::nullopt)->size(), 1u);
}

// A table's Iceberg write properties choose its data files' codec and size; a bad value is
// refused when set, naming the table, the property and what it accepts.
TEST_F(LakeSessionTest, TableWritePropertiesChooseCodecAndFileSize) {
  run("CREATE TABLE raw.w (id BIGINT, s VARCHAR)");
  run("ALTER TABLE raw.w SET PROPERTIES ('write.parquet.compression-codec' = 'SNAPPY', "
      "'write.target-file-size-bytes' = '300000')");
  run("INSERT INTO raw.w SELECT i, md5(i::VARCHAR) FROM range(500000) t(i)");
  auto table = catalog_->load_table({"raw", "w"});
  ASSERT_TRUE(table.is_ok());
  auto files = table->list_files(std::nullopt);
  ASSERT_TRUE(files.is_ok());
  // DuckDB cuts files at row-group boundaries (122,880 rows): each row group here is far over
  // 300 kB, so every one makes a file of its own.
  EXPECT_GE(files->size(), 4u);
  EXPECT_EQ(one("SELECT string_agg(DISTINCT compression, ',') FROM parquet_metadata('" +
                files->at(0).file_path + "')"),
            "SNAPPY");
  EXPECT_EQ(one("SELECT count(*), count(DISTINCT id) FROM raw.w"), "500000|500000");

  // Without the properties: the session's default codec (zstd), one file.
  run("CREATE TABLE raw.d (id BIGINT)");
  run("INSERT INTO raw.d SELECT range FROM range(1000)");
  auto d = catalog_->load_table({"raw", "d"});
  auto dfiles = d->list_files(std::nullopt);
  ASSERT_EQ(dfiles->size(), 1u);
  EXPECT_EQ(one("SELECT string_agg(DISTINCT compression, ',') FROM parquet_metadata('" +
                dfiles->at(0).file_path + "')"),
            "ZSTD");

  auto before = catalog_->load_table({"raw", "w"})->metadata_location();
  auto bad = error("ALTER TABLE raw.w SET PROPERTIES ('write.parquet.compression-codec' = 'lzo')");
  EXPECT_NE(bad.find("raw.w"), std::string::npos) << bad;
  EXPECT_NE(bad.find("write.parquet.compression-codec = 'lzo'"), std::string::npos) << bad;
  EXPECT_NE(bad.find("zstd, snappy"), std::string::npos) << bad;
  auto size = error("ALTER TABLE raw.w SET PROPERTIES ('write.target-file-size-bytes' = '-1')");
  EXPECT_NE(size.find("write.target-file-size-bytes = '-1' is not a positive byte count"),
            std::string::npos)
      << size;
  EXPECT_EQ(catalog_->load_table({"raw", "w"})->metadata_location(), before);
}

// A partitioned write is clustered by partition (write.distribution-mode = hash, the default):
// rows arriving in any order give about one file per partition. `none` keeps the arrival order
// (DuckDB then writes a file per partition per thread, more past its open-file limit); a bad value
// is refused naming the property.
TEST_F(LakeSessionTest, PartitionedWritesAreClusteredByPartition) {
  const std::string rows =
      "SELECT i AS id, DATE '2024-01-01' + CAST(hash(i) % 400 AS INTEGER) AS day FROM "
      "range(1000000) t(i)";
  run("CREATE TABLE raw.h (id BIGINT, day DATE) PARTITIONED BY (day)");
  run("INSERT INTO raw.h " + rows);
  run("CREATE TABLE raw.n (id BIGINT, day DATE) PARTITIONED BY (day)");
  run("ALTER TABLE raw.n SET PROPERTIES ('write.distribution-mode' = 'none')");
  run("INSERT INTO raw.n " + rows);
  auto h = catalog_->load_table({"raw", "h"})->list_files(std::nullopt);
  auto n = catalog_->load_table({"raw", "n"})->list_files(std::nullopt);
  ASSERT_TRUE(h.is_ok() && n.is_ok());
  // Sorted, each thread writes a range of partitions; a partition at a range's edge gets one file
  // from each side.
  EXPECT_GE(h->size(), 400u);
  EXPECT_LE(h->size(), 416u);
  EXPECT_GT(n->size(), 500u);  // DuckDB 1.4: ~700 here
  EXPECT_EQ(one("SELECT count(*), sum(id), count(DISTINCT day) FROM raw.h"),
            "1000000|499999500000|400");
  EXPECT_EQ(one("SELECT count(*) FROM (SELECT * FROM raw.h EXCEPT SELECT * FROM raw.n)"), "0");
  auto bad = error("ALTER TABLE raw.h SET PROPERTIES ('write.distribution-mode' = 'sorted')");
  EXPECT_NE(bad.find("write.distribution-mode = 'sorted' is not none, hash or range"),
            std::string::npos)
      << bad;
}

// A large partitioned write from a table every connection sees is split by partition over
// parallel connections (one folder each): no partition is in two splits, every row is written
// once, and each file holds one partition (day of a timestamptz, across the 1970 boundary, and a
// bucket, whose UDF the other connections have too).
TEST_F(LakeSessionTest, SplitPartitionedWritesKeepEachPartitionInOneSplit) {
  ASSERT_TRUE(session_->session()
                  .execute("CREATE TABLE main.src AS SELECT i AS id, TIMESTAMPTZ "
                           "'1969-12-20 00:00:00+00' + to_microseconds(i * 7919 % 30 * "
                           "86400000000 + i % 3 - 1) AS ts FROM range(300000) t(i)")
                  .is_ok());
  run("CREATE TABLE raw.s (id BIGINT, ts TIMESTAMPTZ) PARTITIONED BY (day(ts), bucket(4, id))");
  auto table = catalog_->load_table({"raw", "s"});
  ASSERT_TRUE(table.is_ok());
  WriteOptions wo;
  wo.shareable_source = true;
  auto files = session_->write_data_files(*table, "SELECT * FROM main.src", wo);
  ASSERT_TRUE(files.is_ok()) << files.status().to_string();
  std::map<std::string, std::set<std::string>> folders_of;  // partition -> write folders
  std::set<std::string> folders;
  int64_t rows = 0;
  std::string paths;
  for (const auto& f : *files) {
    std::string part;
    for (const auto& v : f.partition)
      part +=
          (std::holds_alternative<int32_t>(v) ? std::to_string(std::get<int32_t>(v)) : "?") + "/";
    auto rel = f.file_path.substr(f.file_path.find("/data/w-") + 6);
    std::string folder = rel.substr(0, rel.find('/'));
    folders_of[part].insert(folder);
    folders.insert(folder);
    rows += f.record_count;
    paths += (paths.empty() ? "'" : ", '") + f.file_path + "'";
  }
  EXPECT_EQ(rows, 300000);
  EXPECT_EQ(folders.size(), 2u);  // two threads: two splits
  EXPECT_EQ(std::to_string(folders_of.size()),
            one("SELECT count(*) FROM (SELECT DISTINCT CAST(ts AS DATE), sluice_bucket(id, 4) "
                "FROM main.src)"));
  for (const auto& [part, in] : folders_of)
    EXPECT_EQ(in.size(), 1u) << part;
  // Each file: one day (UTC) and one bucket, matching its partition tuple's day.
  auto mixed = session_->session().query(
      "SELECT filename FROM read_parquet([" + paths +
      "], filename = true) GROUP BY 1 HAVING count(DISTINCT CAST(ts AS DATE)) > 1");
  ASSERT_TRUE(mixed.is_ok()) << mixed.status().to_string();
  EXPECT_TRUE(mixed->rows.empty()) << mixed->rows.size();
  ASSERT_TRUE(table->append(*files, {}).is_ok());
  EXPECT_EQ(one("SELECT count(*) FROM (SELECT * FROM raw.s EXCEPT SELECT * FROM main.src)"), "0");
  EXPECT_EQ(one("SELECT count(*) FROM (SELECT * FROM main.src EXCEPT SELECT * FROM raw.s)"), "0");
  // Day pruning sees the right partitions on both sides of the epoch.
  EXPECT_EQ(one("SELECT count(*) FROM raw.s WHERE ts >= TIMESTAMPTZ '1970-01-01 00:00:00+00' AND "
                "ts < TIMESTAMPTZ '1970-01-02 00:00:00+00'"),
            one("SELECT count(*) FROM main.src WHERE ts >= TIMESTAMPTZ '1970-01-01 00:00:00+00' "
                "AND ts < TIMESTAMPTZ '1970-01-02 00:00:00+00'"));
}

// Merge-on-read tables written by other engines carry position and equality delete files; reads
// must apply both, with the spec's sequence number rules.
TEST_F(LakeSessionTest, ReadsApplyPositionAndEqualityDeletes) {
  run("CREATE TABLE raw.d (id INTEGER, v VARCHAR)");
  run("INSERT INTO raw.d SELECT i, 'v' || i FROM range(10) t(i)");
  auto table = catalog_->load_table({"raw", "d"});
  ASSERT_TRUE(table.is_ok());
  auto files = table->list_files(std::nullopt);
  ASSERT_EQ(files->size(), 1u);
  std::string data_path = files->at(0).file_path;

  auto write_delete = [&](const std::string& name, const std::string& select,
                          const std::string& field_ids) {
    auto path = dir_ / name;
    auto st = session_->session().execute("COPY (" + select + ") TO '" + path.string() +
                                          "' (FORMAT parquet, FIELD_IDS " + field_ids + ")");
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return path;
  };
  // Position deletes: rows 0 and 1 of the data file (ids 0 and 1).
  auto pos = write_delete("pos.parquet",
                          "SELECT '" + data_path +
                              "' AS file_path, p::BIGINT AS pos FROM "
                              "(VALUES (0), (1)) t(p)",
                          "{file_path: 2147483546, pos: 2147483545}");
  lake::DataFile pd;
  pd.content = lake::FileContent::kPositionDeletes;
  pd.file_path = pos.string();
  pd.record_count = 2;
  pd.file_size_in_bytes = static_cast<int64_t>(std::filesystem::file_size(pos));
  ASSERT_TRUE(table->add_deletes({pd}).is_ok());
  EXPECT_EQ(one("SELECT count(*), min(id) FROM raw.d"), "8|2");

  // Equality deletes on id: 5 and 7 go; a later insert of id 5 stays (newer sequence number).
  auto eq =
      write_delete("eq.parquet", "SELECT i::INTEGER AS id FROM (VALUES (5), (7)) t(i)", "{id: 1}");
  lake::DataFile ed;
  ed.content = lake::FileContent::kEqualityDeletes;
  ed.file_path = eq.string();
  ed.record_count = 2;
  ed.equality_ids = {1};
  ed.file_size_in_bytes = static_cast<int64_t>(std::filesystem::file_size(eq));
  ASSERT_TRUE(table->refresh().is_ok());
  ASSERT_TRUE(table->add_deletes({ed}).is_ok());
  EXPECT_EQ(one("SELECT count(*), string_agg(id::VARCHAR, ',' ORDER BY id) FROM raw.d"),
            "6|2,3,4,6,8,9");
  run("INSERT INTO raw.d VALUES (5, 'again')");
  EXPECT_EQ(one("SELECT count(*), max(v) FILTER (WHERE id = 5) FROM raw.d"), "7|again");
  // Compaction folds the deletes into rewritten data.
  auto c = session_->compact({"raw", "d"}, 1 << 20);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(one("SELECT count(*), sum(id) FROM raw.d"), "7|37");
}

TEST_F(LakeSessionTest, ScriptsSplitOnSemicolons) {
  auto r = session_->run_script(
      "CREATE SCHEMA IF NOT EXISTS sandbox; CREATE TABLE sandbox.s (x VARCHAR);\n"
      "INSERT INTO sandbox.s VALUES ('a;b'); -- comment; here\n SELECT x FROM sandbox.s;");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ(r->back().rows.rows.at(0).at(0), "a;b");
}

// The manifests of a write carry the statistics of its files' Parquet footers, whether they came
// with the write (COPY ... RETURN_STATS) or from re-reading the footers.
class WrittenStatsTest : public LakeSessionTest {
 protected:
  // Every live file of `table`: its manifest entry's statistics equal the footer's.
  void expect_footer_stats(const lake::TableIdent& ident, size_t min_files) {
    auto table = catalog_->load_table(ident);
    ASSERT_TRUE(table.is_ok()) << table.status().to_string();
    auto files = table->list_files(std::nullopt);
    ASSERT_TRUE(files.is_ok()) << files.status().to_string();
    ASSERT_GE(files->size(), min_files);
    std::vector<std::string> paths;
    for (const auto& f : *files)
      paths.push_back(f.file_path);
    auto footer =
        detail::footer_stats(session_->session(), table->metadata().current_schema(), paths);
    ASSERT_TRUE(footer.is_ok()) << footer.status().to_string();
    for (const auto& f : *files) {
      SCOPED_TRACE(f.file_path);
      const auto& want = footer->at(f.file_path).file;
      EXPECT_GT(f.record_count, 0);
      EXPECT_EQ(f.record_count, want.record_count);
      EXPECT_EQ(f.column_sizes, want.column_sizes);
      EXPECT_EQ(f.value_counts, want.value_counts);
      EXPECT_EQ(f.null_value_counts, want.null_value_counts);
      EXPECT_EQ(f.lower_bounds, want.lower_bounds);
      EXPECT_EQ(f.upper_bounds, want.upper_bounds);
    }
  }
};

TEST_F(WrittenStatsTest, PartitionedInsertCarriesTheFootersStats) {
  run("CREATE TABLE curated.events (id BIGINT NOT NULL, name VARCHAR, amount DECIMAL(18, 4), "
      "price DECIMAL(10, 2), score DOUBLE, ratio FLOAT, d DATE, t TIME, ts TIMESTAMPTZ, "
      "local_ts TIMESTAMP, n INTEGER, tags VARCHAR[], info STRUCT(k VARCHAR, v INTEGER), "
      "u UUID) PARTITIONED BY (day(ts))");
  std::string schema = detail::return_stats_complete(
                           catalog_->load_table({"curated", "events"})->metadata().current_schema())
                           ? "complete"
                           : "incomplete";
  EXPECT_EQ(schema, "complete");  // this schema's statistics come with the write
  // NULLs, NaN (one day), a long string (footers truncate its bound), empty strings, negative
  // decimals, Unicode, a day of only NULL names.
  run("INSERT INTO curated.events SELECT i, CASE WHEN i % 9 = 0 THEN NULL WHEN i % 10 = 1 THEN "
      "'' WHEN i = 37 THEN repeat('z', 3000) WHEN i // 24 = 5 THEN NULL ELSE 'n\u00e9' || i END, "
      "(i - 100) / 3.0, (i % 50) - 20.5, CASE WHEN i // 24 = 2 THEN 'nan'::DOUBLE WHEN i % 4 = 0 "
      "THEN NULL ELSE i * 0.5 END, i / 7.0, DATE '2026-01-01' + i::INTEGER, TIME '00:00:00' + "
      "to_minutes(i), "
      "TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_hours(i), TIMESTAMP '2026-11-01' + to_seconds(i), "
      "CASE WHEN i % 3 = 0 THEN NULL ELSE -i END, [i::VARCHAR], {'k': 'x', 'v': i}, "
      "gen_random_uuid() FROM range(200) t(i)");
  expect_footer_stats({"curated", "events"}, 8);
  // The NaN day has no bounds for `score` (as its footer), the others do.
  auto table = catalog_->load_table({"curated", "events"});
  auto files = table->list_files(std::nullopt);
  ASSERT_TRUE(files.is_ok());
  int with_score = 0;
  for (const auto& f : *files)
    with_score += f.lower_bounds.count(5);
  EXPECT_EQ(with_score, static_cast<int>(files->size()) - 1);
  // Partition pruning still sees the bounds.
  EXPECT_EQ(one("SELECT count(*), count(name), min(amount), max(price) FROM curated.events WHERE "
                "ts >= TIMESTAMPTZ '2026-11-08 00:00:00+00'"),
            "32|28|22.6667|28.50");
}

TEST_F(WrittenStatsTest, SchemasReturnStatsCannotCoverReadTheFooters) {
  // DuckDB returns no min/max for BOOLEAN or DECIMAL(38, x) columns: their footers do.
  run("CREATE TABLE curated.flags (id BIGINT, active BOOLEAN, big DECIMAL(38, 2)) PARTITIONED BY "
      "(bucket(4, id))");
  EXPECT_FALSE(detail::return_stats_complete(
      catalog_->load_table({"curated", "flags"})->metadata().current_schema()));
  run("INSERT INTO curated.flags SELECT i, i % 3 = 0, i * 1000000000000.5 FROM range(100) t(i)");
  expect_footer_stats({"curated", "flags"}, 4);
  auto files = catalog_->load_table({"curated", "flags"})->list_files(std::nullopt);
  ASSERT_TRUE(files.is_ok());
  for (const auto& f : *files) {
    EXPECT_EQ(f.lower_bounds.count(2), 1u);
    EXPECT_EQ(f.lower_bounds.count(3), 1u);
  }
}

TEST_F(WrittenStatsTest, ReturnedStatsEqualTheFootersForEveryFile) {
  // A write that rotates files (FILE_SIZE_BYTES) and one per partition, straight through
  // copy_returning_stats.
  run("CREATE TABLE raw.wide (id BIGINT, s VARCHAR, x DOUBLE)");
  auto table = catalog_->load_table({"raw", "wide"});
  ASSERT_TRUE(table.is_ok());
  const auto& schema = table->metadata().current_schema();
  for (std::string opts : {"FILE_SIZE_BYTES 20000, ROW_GROUP_SIZE 2048", "PARTITION_BY (p)"}) {
    SCOPED_TRACE(opts);
    auto out = dir_ / "copy";
    std::filesystem::remove_all(out);
    std::string select =
        "SELECT i AS id, CASE WHEN i % 5 = 0 THEN NULL ELSE md5(i::VARCHAR) END AS s, (i * "
        "0.25)::DOUBLE "
        "AS x" +
        std::string(opts.rfind("PARTITION", 0) == 0 ? ", i % 6 AS p" : "") +
        " FROM range(20000) t(i)";
    auto returned = detail::copy_returning_stats(
        session_->session(), schema,
        "COPY (" + select + ") TO '" + out.string() +
            "' (FORMAT parquet, FIELD_IDS {id: 1, s: 2, x: 3}, " + opts + ", RETURN_STATS)");
    ASSERT_TRUE(returned.is_ok()) << returned.status().to_string();
    ASSERT_GE(returned->size(), 3u);
    std::vector<std::string> paths;
    for (const auto& [p, st] : *returned)
      paths.push_back(p);
    auto footer = detail::footer_stats(session_->session(), schema, paths);
    ASSERT_TRUE(footer.is_ok()) << footer.status().to_string();
    int64_t rows = 0;
    for (const auto& [p, st] : *returned) {
      SCOPED_TRACE(p);
      ASSERT_TRUE(std::filesystem::exists(p));
      const auto& want = footer->at(p).file;
      rows += st.file.record_count;
      EXPECT_EQ(st.file.record_count, want.record_count);
      EXPECT_EQ(st.file.column_sizes, want.column_sizes);
      EXPECT_EQ(st.file.value_counts, want.value_counts);
      EXPECT_EQ(st.file.null_value_counts, want.null_value_counts);
      EXPECT_EQ(st.file.lower_bounds, want.lower_bounds);
      EXPECT_EQ(st.file.upper_bounds, want.upper_bounds);
      EXPECT_EQ(st.file.lower_bounds.size(), 3u);
    }
    EXPECT_EQ(rows, 20000);
  }
}

}  // namespace
}  // namespace sluice::engine

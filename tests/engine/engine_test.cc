#include "engine/engine.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sluice::engine {
namespace {

Session open_session() {
  auto db = Database::open_in_memory({.threads = 2});
  EXPECT_TRUE(db.is_ok()) << db.status().to_string();
  auto s = Session::open(*db);
  EXPECT_TRUE(s.is_ok());
  return std::move(s).value();
}

TEST(Engine, VersionIs14) {
  EXPECT_EQ(duckdb_version().substr(0, 4), "1.4.");
}

TEST(Engine, QueryReturnsTypedColumnsAndNulls) {
  auto s = open_session();
  auto r = s.query("SELECT 1::INTEGER AS a, 'x' AS b, NULL::DATE AS c");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->column_names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(r->column_types, (std::vector<std::string>{"INTEGER", "VARCHAR", "DATE"}));
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0][0], "1");
  EXPECT_EQ(r->rows[0][2], std::nullopt);
}

TEST(Engine, ErrorsCarryTheEngineMessage) {
  auto s = open_session();
  auto r = s.query("SELECT * FROM no_such_table");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("no_such_table"), std::string::npos);
}

TEST(Engine, ParquetWithFieldIdsRoundTrips) {
  auto s = open_session();
  auto file = std::filesystem::temp_directory_path() / "sluice_engine_test.parquet";
  ASSERT_TRUE(s.execute("COPY (SELECT range AS id, range::VARCHAR AS s FROM range(1000)) TO '" +
                        file.string() + "' (FORMAT parquet, FIELD_IDS {id: 7, s: 9})")
                  .is_ok());
  auto r = s.query("SELECT name, field_id FROM parquet_schema('" + file.string() +
                   "') WHERE field_id IS NOT NULL ORDER BY name");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->rows[0][0], "id");
  EXPECT_EQ(r->rows[0][1], "7");
  EXPECT_EQ(r->rows[1][1], "9");
  std::filesystem::remove(file);
}

TEST(Engine, RejectsBadOptions) {
  auto db = Database::open_in_memory({.memory_limit = "lots"});
  ASSERT_FALSE(db.is_ok());
}

}  // namespace
}  // namespace sluice::engine

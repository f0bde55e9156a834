// Unit tests of the sources module: type mapping, chunk planning, CSV fields, source files.
#include <gtest/gtest.h>

#include "sources/sources.h"
#include "sources/sources_internal.h"

namespace sluice::sources {
namespace {

using detail::map_mysql_column;
using detail::map_pg_column;
using detail::SourceColumn;

std::string pg_type(const std::string& t, bool is_enum = false) {
  auto m = map_pg_column(SourceColumn{"c", t, is_enum});
  return m.is_ok() ? m->lake_type : "error: " + m.status().message();
}
std::string my_type(const std::string& t) {
  auto m = map_mysql_column(SourceColumn{"c", t, false});
  return m.is_ok() ? m->lake_type : "error: " + m.status().message();
}

TEST(TypeMap, PostgresScalars) {
  EXPECT_EQ(pg_type("smallint"), "INTEGER");
  EXPECT_EQ(pg_type("integer"), "INTEGER");
  EXPECT_EQ(pg_type("bigint"), "BIGINT");
  EXPECT_EQ(pg_type("real"), "FLOAT");
  EXPECT_EQ(pg_type("double precision"), "DOUBLE");
  EXPECT_EQ(pg_type("numeric(12,2)"), "DECIMAL(12,2)");
  EXPECT_EQ(pg_type("numeric(7)"), "DECIMAL(7,0)");
  EXPECT_EQ(pg_type("numeric"), "VARCHAR");  // no fixed scale: exact text
  EXPECT_EQ(pg_type("boolean"), "BOOLEAN");
  EXPECT_EQ(pg_type("character varying(32)"), "VARCHAR");
  EXPECT_EQ(pg_type("character(2)"), "VARCHAR");
  EXPECT_EQ(pg_type("jsonb"), "VARCHAR");
  EXPECT_EQ(pg_type("uuid"), "UUID");
  EXPECT_EQ(pg_type("date"), "DATE");
  EXPECT_EQ(pg_type("timestamp(3) without time zone"), "TIMESTAMP");
  EXPECT_EQ(pg_type("timestamp with time zone"), "TIMESTAMPTZ");
  EXPECT_EQ(pg_type("time without time zone"), "TIME");
  EXPECT_EQ(pg_type("bytea"), "BLOB");
  EXPECT_EQ(pg_type("order_status", true), "VARCHAR");
}

TEST(TypeMap, PostgresArraysTravelAsJson) {
  EXPECT_EQ(pg_type("text[]"), "VARCHAR[]");
  EXPECT_EQ(pg_type("integer[]"), "INTEGER[]");
  EXPECT_EQ(pg_type("numeric(5,1)[]"), "DECIMAL(5,1)[]");
  auto m = map_pg_column(SourceColumn{"tags", "text[]", false});
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->source_expr, "array_to_json(\"tags\")::text");
  EXPECT_EQ(m->convert, "CAST(CAST({} AS JSON) AS VARCHAR[])");
}

TEST(TypeMap, BinaryTravelsAsHex) {
  auto m = map_pg_column(SourceColumn{"img", "bytea", false});
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->source_expr, "encode(\"img\", 'hex')");
  EXPECT_EQ(m->csv_type, "VARCHAR");
  EXPECT_EQ(m->convert, "unhex({})");
}

TEST(TypeMap, UnmappableTypesAreErrorsNamingTheColumn) {
  EXPECT_EQ(pg_type("interval"),
            "error: column 'c' has type interval, which Sluice cannot map to an Iceberg type");
  EXPECT_EQ(pg_type("numeric(50,2)"),
            "error: column 'c' has type numeric(50,2), which Sluice cannot map to an Iceberg "
            "type: Iceberg decimals hold at most 38 digits");
  EXPECT_EQ(my_type("geometry"),
            "error: column 'c' has type geometry, which Sluice cannot map to an Iceberg type");
}

TEST(TypeMap, Mysql) {
  EXPECT_EQ(my_type("int(11)"), "INTEGER");
  EXPECT_EQ(my_type("int(10) unsigned"), "BIGINT");
  EXPECT_EQ(my_type("bigint(20)"), "BIGINT");
  EXPECT_EQ(my_type("bigint(20) unsigned"), "DECIMAL(20,0)");
  EXPECT_EQ(my_type("tinyint(1)"), "INTEGER");
  EXPECT_EQ(my_type("decimal(10,2)"), "DECIMAL(10,2)");
  EXPECT_EQ(my_type("double"), "DOUBLE");
  EXPECT_EQ(my_type("datetime(6)"), "TIMESTAMP");
  EXPECT_EQ(my_type("timestamp(6)"), "TIMESTAMPTZ");
  EXPECT_EQ(my_type("date"), "DATE");
  EXPECT_EQ(my_type("varchar(64)"), "VARCHAR");
  EXPECT_EQ(my_type("enum('a','b')"), "VARCHAR");
  EXPECT_EQ(my_type("longtext"), "VARCHAR");
  EXPECT_EQ(my_type("varbinary(16)"), "BLOB");
  EXPECT_EQ(my_type("decimal(65,2)").rfind("error: column 'c' has type decimal(65,2)", 0), 0u);
}

TEST(ChunkPlan, SmallTableIsOneOpenRange) {
  auto r = detail::plan_chunks(1, 100, 100, 1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].lo);
  EXPECT_FALSE(r[0].hi);
  EXPECT_EQ(detail::range_condition(r[0], "id"), "");
}

TEST(ChunkPlan, SplitsByKeyRangeAndCoversEverything) {
  auto r = detail::plan_chunks(1, 1000000, 1000000, 250000);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_FALSE(r.front().lo);
  EXPECT_FALSE(r.back().hi);
  for (size_t i = 1; i < r.size(); ++i)
    EXPECT_EQ(*r[i - 1].hi, *r[i].lo);  // contiguous, no gaps, no overlap
  EXPECT_EQ(detail::range_condition(r[0], "id"), "id < 250001");
  EXPECT_EQ(detail::range_condition(r[1], "id"), "id >= 250001 AND id < 500001");
  EXPECT_EQ(detail::range_condition(r[3], "id"), "id >= 750001");
}

TEST(ChunkPlan, ExtremeKeysDoNotOverflow) {
  auto r = detail::plan_chunks(INT64_MIN, INT64_MAX, 10, 1, 8);
  ASSERT_EQ(r.size(), 8u);
  for (size_t i = 1; i < r.size(); ++i)
    EXPECT_LT(*r[i - 1].hi, r[i].hi.value_or(INT64_MAX));
}

TEST(ChunkPlan, NarrowKeySpanNeverMakesEmptyRanges) {
  auto r = detail::plan_chunks(1, 3, 1000000, 10);
  EXPECT_LE(r.size(), 3u);
  for (size_t i = 1; i + 1 < r.size(); ++i)
    EXPECT_LT(*r[i].lo, *r[i].hi);
}

TEST(Csv, FieldsAreQuotedAndNullIsEmpty) {
  std::string out;
  detail::append_csv_field(out, "a\"b,c\nd", 7);
  out += ',';
  detail::append_csv_field(out, nullptr, 0);
  out += ',';
  detail::append_csv_field(out, "", 0);
  EXPECT_EQ(out, "\"a\"\"b,c\nd\",,\"\"");
}

TEST(SourceConfig, ParsesTablesAndDefaults) {
  auto c = parse_source_config(R"(
type = "postgres"
port = 55432
database = "shop"
parallelism = 3
[tables.orders]
cursor = "updated_at"
look_back = 300
chunk_rows = 5000
[tables.categories]
)",
                               "sources/shop.toml", "shop");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->name, "shop");
  EXPECT_EQ(c->schema, "public");
  EXPECT_EQ(c->password_env, "SLUICE_PG_PASSWORD");
  EXPECT_EQ(c->parallelism, 3);
  ASSERT_EQ(c->tables.size(), 2u);
  EXPECT_EQ(c->tables[0].name, "orders");
  EXPECT_EQ(c->tables[0].cursor, "updated_at");
  EXPECT_EQ(c->tables[0].look_back, 300);
  EXPECT_EQ(c->tables[0].chunk_rows, 5000);
  EXPECT_EQ(c->tables[1].name, "categories");
}

TEST(SourceConfig, ErrorsNameFileLineAndKey) {
  auto err = [](const char* text) {
    auto c = parse_source_config(text, "sources/x.toml", "x");
    return c.is_ok() ? std::string("ok") : c.status().message();
  };
  EXPECT_EQ(err("type = \"oracle\"\n"),
            "sources/x.toml:1:8: unknown source type 'oracle'; use postgres, mysql, files or rest");
  EXPECT_EQ(err("type = \"mysql\"\ndatabase = \"d\"\npassword = \"x\"\n"),
            "sources/x.toml:3:12: passwords never go in source files; name an environment "
            "variable with 'password_env'");
  EXPECT_EQ(err("type = \"mysql\"\ndatabase = \"d\"\n[tables.t]\ncursr = \"x\"\n"),
            "sources/x.toml:4:9: unknown key 'cursr' in [tables.t]; known keys: cursor, "
            "look_back, key, chunk_rows (files: pattern, format, delimiter, header; rest: path, "
            "records)");
  EXPECT_EQ(err("type = \"mysql\"\ndatabase = \"d\"\n"),
            "sources/x.toml: no tables; add [tables.<name>] sections");
  EXPECT_EQ(err("type = \"mysql\"\nport = 99999\n"),
            "sources/x.toml:2:8: key 'port' must be between 1 and 65535, got 99999");
}

}  // namespace
}  // namespace sluice::sources

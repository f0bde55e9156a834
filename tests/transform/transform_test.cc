#include "transform/transform.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sluice::transform {
namespace {

namespace fs = std::filesystem;

TEST(ConfigHeader, ParsesKeysListsAndPartitionTransforms) {
  auto c = parse_model_config(
      "-- a comment\n"
      "-- config: materialized=incremental, strategy=merge, unique_key=order_id\n"
      "-- config: partition_by=day(order_ts), bucket(4, user_id), pii=email:hash,phone:mask\n"
      "SELECT 1\n",
      "m.sql");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->materialized, Materialization::kIncremental);
  EXPECT_EQ(c->strategy, Strategy::kMerge);
  EXPECT_EQ(c->unique_key, std::vector<std::string>{"order_id"});
  ASSERT_EQ(c->partition_by.size(), 2u);
  EXPECT_EQ(c->partition_by[0], (std::pair<std::string, std::string>{"order_ts", "day"}));
  EXPECT_EQ(c->partition_by[1], (std::pair<std::string, std::string>{"user_id", "bucket[4]"}));
  ASSERT_EQ(c->pii.size(), 2u);
  EXPECT_EQ(c->pii[0].column, "email");
  EXPECT_EQ(c->pii[0].method, PiiMethod::kHash);
  EXPECT_EQ(c->pii[1].method, PiiMethod::kMask);
}

TEST(ConfigHeader, CompoundKeyAndScd2) {
  auto c = parse_model_config(
      "-- config: materialized=scd2, unique_key=[a, b], updated_at=ts, check_cols=x,y\nSELECT 1",
      "m.sql");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->unique_key, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c->check_cols, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c->updated_at, "ts");
}

TEST(ConfigHeader, ErrorsNameFileAndLine) {
  EXPECT_EQ(parse_model_config("\n-- config: materialised=table\nSELECT 1", "jobs/m.sql")
                .status()
                .message(),
            "jobs/m.sql:2: config: unknown key 'materialised' (known: materialized, strategy, "
            "unique_key, partition_by, pii, check_cols, updated_at, hard_deletes, tags)");
  EXPECT_EQ(parse_model_config("-- config: materialized=ephemeral\n", "m.sql").status().message(),
            "m.sql:1: config: materialized='ephemeral' is not valid (use table, view, incremental "
            "or scd2)");
  EXPECT_EQ(parse_model_config("-- config: materialized=incremental, strategy=merge\n", "m.sql")
                .status()
                .message(),
            "m.sql:1: config: strategy=merge needs unique_key=<column[s]>");
  EXPECT_EQ(parse_model_config("-- config: pii=email:scramble\n", "m.sql").status().message(),
            "m.sql:1: config: pii method 'scramble' for column 'email' is not valid (use hash, "
            "mask or redact)");
}

TEST(ConfigHeader, StopsAtFirstSqlLine) {
  auto c = parse_model_config("SELECT 1\n-- config: materialized=view\n", "m.sql");
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->materialized, Materialization::kTable);
}

TEST(Template, DatesVarsAndThis) {
  RenderContext ctx{.ds = "2024-02-28", .vars = {{"country", "VN"}}, .this_table = "refined.t"};
  auto r = render_template(
      "{{ ds }} {{next_ds}} {{ prev_ds }} {{ ds_nodash }} {{ var('country') }} "
      "{{ var('limit', '10') }} {{ this }}",
      ctx, "f.sql");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, "2024-02-28 2024-02-29 2024-02-27 20240228 VN 10 refined.t");
  EXPECT_EQ(*shift_date("2024-12-31", 1), "2025-01-01");
  EXPECT_FALSE(shift_date("2024-02-30", 0).is_ok());
}

TEST(Template, UnknownVariablesNameFileAndLine) {
  RenderContext ctx{.ds = "2024-01-01"};
  EXPECT_EQ(render_template("SELECT\n  {{ dss }}", ctx, "jobs/m.sql").status().message(),
            "jobs/m.sql:2: unknown template variable 'dss' (known: ds, next_ds, prev_ds, "
            "ds_nodash, this, var('name'))");
  EXPECT_EQ(render_template("\n\n{{ var('region') }}", ctx, "m.sql").status().message(),
            "m.sql:3: variable 'region' is not set (pass --var region=...)");
  EXPECT_EQ(render_template("{{ ds ", ctx, "m.sql").status().message(),
            "m.sql:1: '{{' without a closing '}}'");
}

class ProjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice_transform_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void model(const std::string& zone, const std::string& name, const std::string& sql) {
    fs::create_directories(dir_ / "jobs" / "batch" / zone);
    std::ofstream(dir_ / "jobs" / "batch" / zone / (name + ".sql")) << sql;
  }
  Result<Graph> graph() {
    auto p = load_project(dir_, {"raw", "refined", "curated"});
    if (!p.is_ok()) return p.status();
    project_ = std::move(p).value();
    return Graph::build(project_);
  }
  fs::path dir_;
  Project project_;
};

TEST_F(ProjectTest, DependenciesFromTableReferences) {
  model("refined", "orders", "SELECT o.id, o.user_id FROM raw.orders AS o -- raw.ignored\n");
  model("refined", "users", "SELECT * FROM raw.users WHERE note <> 'raw.not_a_table'");
  model("curated", "fact", "SELECT * FROM refined.orders o JOIN refined.users u USING (user_id)");
  model("curated", "kpi", "SELECT count(*) FROM curated.fact, curated.kpi");
  auto g = graph();
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  EXPECT_EQ(project_.find("refined.orders")->references, std::set<std::string>{"raw.orders"});
  EXPECT_EQ(project_.find("curated.kpi")->references, std::set<std::string>{"curated.fact"});
  EXPECT_EQ(g->order(), (std::vector<std::string>{"refined.orders", "refined.users", "curated.fact",
                                                  "curated.kpi"}));
}

TEST_F(ProjectTest, Selectors) {
  model("refined", "a", "SELECT * FROM raw.x");
  model("refined", "b", "SELECT * FROM refined.a");
  model("curated", "c", "SELECT * FROM refined.b");
  model("curated", "d", "SELECT * FROM raw.y");
  auto g = graph();
  ASSERT_TRUE(g.is_ok());
  using V = std::vector<std::string>;
  EXPECT_EQ(*g->select({"b"}), V{"refined.b"});
  EXPECT_EQ(*g->select({"+curated.c"}), (V{"refined.a", "refined.b", "curated.c"}));
  EXPECT_EQ(*g->select({"refined.a+"}), (V{"refined.a", "refined.b", "curated.c"}));
  EXPECT_EQ(*g->select({"curated.*"}), (V{"curated.d", "curated.c"}));
  EXPECT_EQ(g->select({}).value().size(), 4u);
  EXPECT_EQ(g->select({"nope"}).status().message(),
            "selector 'nope' matches no model (models: curated.d, refined.a, refined.b, "
            "curated.c)");
}

TEST_F(ProjectTest, CycleIsAnErrorNamingTheModels) {
  model("refined", "a", "SELECT * FROM curated.c");
  model("refined", "b", "SELECT * FROM refined.a");
  model("curated", "c", "SELECT * FROM refined.b");
  model("curated", "ok", "SELECT * FROM raw.x");
  auto g = graph();
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().message(),
            "models form a cycle: curated.c -> refined.b -> refined.a -> curated.c (each reads "
            "the next)");
}

TEST(Pii, ExpressionsWrapTheQuery) {
  EXPECT_EQ(apply_pii("SELECT 1", {}), "SELECT 1");
  auto sql = apply_pii("SELECT email FROM t", {{"email", PiiMethod::kHash}});
  EXPECT_NE(sql.find("sha256(getvariable('sluice_pii_salt')"), std::string::npos) << sql;
  EXPECT_NE(sql.find("SELECT * REPLACE ("), std::string::npos) << sql;
}

TEST(Quality, ParsesChecksAndReportsErrorsWithLines) {
  auto r = parse_quality_file(
      "table: refined.orders\n"
      "checks:\n"
      "  - check: not_null\n"
      "    columns: [order_id, user_id]\n"
      "  - check: unique\n"
      "    columns: [order_id]\n"
      "    severity: warn\n"
      "  - check: range\n"
      "    column: amount\n"
      "    min: 0\n",
      "q.yaml");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].checks.size(), 3u);
  EXPECT_EQ((*r)[0].checks[0].name, "not_null(order_id, user_id)");
  EXPECT_EQ((*r)[0].checks[1].severity, Severity::kWarn);
  EXPECT_EQ((*r)[0].checks[2].file, "q.yaml:8");
  EXPECT_EQ(parse_quality_file("table: t.x\nchecks:\n  - check: not_nul\n    column: a\n", "q.yaml")
                .status()
                .message(),
            "q.yaml:3: unknown check 'not_nul' (known: not_null, unique, accepted_values, range, "
            "regex, relationships, freshness, row_count, reconcile, sql)");
  EXPECT_EQ(parse_quality_file("table: t.x\nchecks:\n  - check: regex\n    column: a\n", "q.yaml")
                .status()
                .message(),
            "q.yaml:3: regex needs pattern:");
  EXPECT_FALSE(parse_quality_file("table: [unclosed\n", "q.yaml").is_ok());
}

}  // namespace
}  // namespace sluice::transform

// Dashboard files: parsing, validation messages, parameter substitution; and the example
// platform's dashboards load.
#include "console/dashboards.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace sluice::console {
namespace {

namespace fs = std::filesystem;

class DashboardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice_dash_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "dashboards");
    fs::create_directories(dir_ / "sql");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    auto p = dir_ / "dashboards" / name;
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(DashboardsTest, ParsesChartsFiltersAndQueryFiles) {
  std::ofstream(dir_ / "sql" / "q.sql") << "SELECT 1 AS n";
  auto d = load_dashboard(write("s.yaml", R"(title: Sales
filters:
  - name: date
    type: date_range
    default: {last_days: 7, anchor: SELECT max(d) FROM curated.x}
charts:
  - {id: a, type: line, x: day, y: [r1, r2], sql: "SELECT 1"}
  - {id: b, type: number, query: q.sql}
)"),
                          dir_);
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(d->id, "s");
  EXPECT_EQ(d->title, "Sales");
  ASSERT_EQ(d->filters.size(), 1u);
  EXPECT_EQ(d->filters[0].last_days, 7);
  EXPECT_EQ(d->filters[0].anchor_sql, "SELECT max(d) FROM curated.x");
  ASSERT_EQ(d->charts.size(), 2u);
  EXPECT_EQ(d->charts[0].y, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(d->charts[1].sql, "SELECT 1 AS n");
}

TEST_F(DashboardsTest, BadFilesNameTheFileAndTheEntry) {
  auto unknown =
      load_dashboard(write("a.yaml", "charts:\n  - {id: x, type: radar, sql: SELECT 1}\n"), dir_);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("a.yaml: charts[0] (x): unknown chart type 'radar'"),
            std::string::npos)
      << unknown.status().message();
  auto no_xy =
      load_dashboard(write("b.yaml", "charts:\n  - {id: x, type: bar, sql: SELECT 1}\n"), dir_);
  ASSERT_FALSE(no_xy.is_ok());
  EXPECT_NE(no_xy.status().message().find("needs x and y"), std::string::npos);
  auto missing =
      load_dashboard(write("c.yaml", "charts:\n  - {id: x, type: table, query: nope.sql}\n"), dir_);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("nope.sql not found"), std::string::npos);
  auto dup = load_dashboard(
      write("d.yaml",
            "charts:\n  - {id: x, type: table, sql: a}\n  - {id: x, type: table, sql: b}\n"),
      dir_);
  ASSERT_FALSE(dup.is_ok());
  EXPECT_NE(dup.status().message().find("duplicate chart id"), std::string::npos);
  auto set = load_dashboards(dir_ / "dashboards", dir_);
  EXPECT_EQ(set.dashboards.size(), 0u);
  EXPECT_EQ(set.errors.size(), 4u);
}

TEST(Substitute, QuotesValuesAndNamesMissingParameters) {
  auto s = substitute("WHERE d BETWEEN {{ from }} AND {{to}} AND n = {{ name }}",
                      {{"from", "2024-01-01"}, {"to", "2024-01-31"}, {"name", "O'Brien"}});
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(*s, "WHERE d BETWEEN '2024-01-01' AND '2024-01-31' AND n = 'O''Brien'");
  auto missing = substitute("{{ from }} {{ nope }}", {{"from", "x"}});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("{{ nope }}"), std::string::npos);
  EXPECT_TRUE(is_date("2024-02-29"));
  EXPECT_FALSE(is_date("2024-02-29' OR 1=1 --"));
}

TEST(ExampleDashboards, AllLoad) {
  fs::path project = fs::path(SLUICE_SOURCE_DIR) / "examples" / "ecommerce";
  auto set = load_dashboards(project / "dashboards", project);
  for (const auto& [file, msg] : set.errors)
    ADD_FAILURE() << file << ": " << msg;
  ASSERT_EQ(set.dashboards.size(), 3u);
  EXPECT_EQ(set.dashboards[0].id, "customers");
  EXPECT_EQ(set.dashboards[1].id, "risk");
  EXPECT_EQ(set.dashboards[2].id, "sales");
}

}  // namespace
}  // namespace sluice::console

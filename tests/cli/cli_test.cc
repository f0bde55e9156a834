// Drives the real `sluice` binary as a user would and checks output and exit codes.
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/sluice_runner.h"

namespace {

using sluice::testing::Outcome;

class CliTest : public sluice::testing::SluiceTest {};

TEST_F(CliTest, HelpListsEveryCommandWithOneLine) {
  Outcome r = sluice("--help");
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* cmd : {"version", "config", "doctor", "broker", "topic", "registry", "ingest",
                          "gen", "gateway", "user", "model", "quality"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + cmd + " "), std::string::npos)
        << cmd << " missing from:\n"
        << r.out;
  }
  EXPECT_NE(r.out.find("--data-dir"), std::string::npos);
}

TEST_F(CliTest, VersionNamesSluiceAndLibraries) {
  Outcome r = sluice("version");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("sluice 0.", 0), 0u) << r.out;
  for (const char* lib : {"duckdb               1.4.", "librdkafka           2.",
                          "rocksdb              7.", "avro-c", "libpq", "boost"}) {
    EXPECT_NE(r.out.find(lib), std::string::npos) << lib << " missing from:\n" << r.out;
  }
  Outcome j = sluice("version --json");
  ASSERT_EQ(j.code, 0);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["libraries"]["duckdb"].get<std::string>().substr(0, 4), "1.4.");
}

TEST_F(CliTest, UnknownCommandIsUsageError) {
  Outcome r = sluice("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "sluice: error: unknown command 'frobnicate'\nRun 'sluice --help' to list commands.\n");
  EXPECT_TRUE(r.out.empty());
}

TEST_F(CliTest, BadFlagIsUsageError) {
  Outcome r = sluice("version --colour");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--colour"), std::string::npos) << r.err;
  Outcome r2 = sluice("--no-such-flag version");
  EXPECT_EQ(r2.code, 2);
  EXPECT_NE(r2.err.find("--no-such-flag"), std::string::npos) << r2.err;
  Outcome r3 = sluice("");
  EXPECT_EQ(r3.code, 2);
}

TEST_F(CliTest, ConfigCheckReportsFileLineAndKey) {
  std::ofstream(dir_ / "sluice.toml") << "[engine]\nthreads = 2\nthread = 3\n";
  Outcome r = sluice("config check");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "sluice: error: sluice.toml:3:1: unknown key 'engine.thread' (did you mean "
            "'threads'?); known keys in [engine]: threads, memory_limit, temp_dir, "
            "table_cache_mb, table_cache_min_reads\n");
  std::ofstream(dir_ / "good.toml") << "[engine]\nthreads = 2\n";
  Outcome ok = sluice("config check good.toml");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok: good.toml\n");
  Outcome missing = sluice("--config nope.toml config show");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err,
            "sluice: error: cannot read config file 'nope.toml': No such file or directory\n");
}

TEST_F(CliTest, ExamplePlatformConfigIsValid) {
  Outcome r =
      sluice(std::string("config check ") + SLUICE_SOURCE_DIR + "/examples/ecommerce/sluice.toml");
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CliTest, ConfigShowRedactsSecretsFromEnvironment) {
  Outcome r = sluice("config show");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("[platform]\nname = \"sluice\"  # default"), std::string::npos) << r.out;
  ::setenv("SLUICE_PG_PASSWORD", "topsecret", 1);
  Outcome e = sluice("--data-dir /tmp/elsewhere config show");
  ::unsetenv("SLUICE_PG_PASSWORD");
  EXPECT_EQ(e.out.find("topsecret"), std::string::npos);
  EXPECT_NE(e.out.find("password = \"********\"  # env SLUICE_PG_PASSWORD"), std::string::npos);
  EXPECT_NE(e.out.find("data_dir = \"/tmp/elsewhere\"  # command line"), std::string::npos);
}

TEST_F(CliTest, DoctorRoundTripsParquetInTheDataDir) {
  Outcome r = sluice("doctor --data-dir state");
  EXPECT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("wrote 100000 rows to Parquet"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("field ids kept in the Parquet schema: id=1 name=2 amount=3"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "state" / "tmp"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "state" / "tmp")) << "doctor left files behind";
}

TEST_F(CliTest, DoctorFailsClearlyOnUnwritableDataDir) {
  std::ofstream(dir_ / "afile") << "x";
  Outcome r = sluice("doctor --data-dir afile/sub");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("sluice: error: cannot create data directory 'afile/sub'", 0), 0u) << r.err;
}

}  // namespace

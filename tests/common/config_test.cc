#include "common/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>

namespace sluice::common {
namespace {

std::string error_of(std::string_view text) {
  auto c = Config::parse(text, "sluice.toml");
  EXPECT_FALSE(c.is_ok()) << "expected an error for:\n" << text;
  return c.is_ok() ? std::string() : c.status().message();
}

TEST(Config, DefaultsNeedNoFile) {
  auto c = Config::parse("", "sluice.toml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->get_string("platform.data_dir"), "var");
  EXPECT_EQ(c->get_string("log.level"), "info");
  EXPECT_EQ(c->get_int("engine.threads"), 0);
  EXPECT_EQ(c->get_string("lake.compression"), "zstd");
  EXPECT_EQ(c->origin("log.level"), "default");
}

TEST(Config, ReadsValuesAndRecordsOrigin) {
  auto c = Config::parse("[log]\nlevel = \"debug\"\n\n[engine]\nthreads = 2\n", "sluice.toml",
                         "/etc/sluice");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->get_string("log.level"), "debug");
  EXPECT_EQ(c->get_int("engine.threads"), 2);
  EXPECT_EQ(c->origin("engine.threads"), "sluice.toml:5");
}

TEST(Config, RelativePathsResolveAgainstTheFileFolder) {
  auto c = Config::parse("[platform]\ndata_dir = \"state\"\n", "x.toml", "/srv/shop");
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->get_string("platform.data_dir"), "/srv/shop/state");
  auto abs = Config::parse("[platform]\ndata_dir = \"/data/x\"\n", "x.toml", "/srv/shop");
  EXPECT_EQ(abs->get_string("platform.data_dir"), "/data/x");
}

TEST(Config, UnknownKeyNamesFileLineKeyAndSuggests) {
  EXPECT_EQ(error_of("[log]\nlevel = \"info\"\nlevle = \"debug\"\n"),
            "sluice.toml:3:1: unknown key 'log.levle' (did you mean 'level'?); known keys in "
            "[log]: level, format");
}

TEST(Config, UnknownKeyWithoutCloseMatch) {
  EXPECT_EQ(error_of("[engine]\n  parallelism = 4\n"),
            "sluice.toml:2:3: unknown key 'engine.parallelism'; known keys in [engine]: threads, "
            "memory_limit, temp_dir, table_cache_mb, table_cache_min_reads");
}

TEST(Config, UnknownSection) {
  EXPECT_EQ(error_of("[engin]\nthreads = 1\n"),
            "sluice.toml:1:2: unknown section [engin] (did you mean 'engine'?); known sections: "
            "platform, log, engine, lake, bus, registry, gateway, postgres, mysql, sources, "
            "transform, scheduler, cdc, console");
}

TEST(Config, KeyOutsideSection) {
  EXPECT_EQ(error_of("threads = 1\n"),
            "sluice.toml:1:1: key 'threads' is outside any section; settings belong in a "
            "section such as [platform]");
}

TEST(Config, WrongTypeNamesExpectedAndActual) {
  EXPECT_EQ(error_of("[engine]\nthreads = \"four\"\n"),
            "sluice.toml:2:11: key 'engine.threads' expects an integer, got a string");
  EXPECT_EQ(error_of("[log]\nlevel = 3\n"),
            "sluice.toml:2:9: key 'log.level' expects a string, got an integer");
  EXPECT_EQ(error_of("[lake]\ncompression = [\"zstd\"]\n"),
            "sluice.toml:2:15: key 'lake.compression' expects a string, got an array");
}

TEST(Config, OutOfRangeAndNotAllowed) {
  EXPECT_EQ(error_of("[postgres]\nport = 70000\n"),
            "sluice.toml:2:8: key 'postgres.port' must be between 1 and 65535, got 70000");
  EXPECT_EQ(error_of("[log]\nlevel = \"loud\"\n"),
            "sluice.toml:2:9: key 'log.level' must be one of trace, debug, info, warn, error, "
            "off, got 'loud'");
}

TEST(Config, BadTomlNamesLineAndColumn) {
  std::string e = error_of("[log]\nlevel = \"info\n");
  EXPECT_TRUE(e.rfind("sluice.toml:2:", 0) == 0) << e;
  EXPECT_NE(e.find("invalid TOML: "), std::string::npos) << e;
  std::string dup = error_of("[log]\nlevel = \"a\"\nlevel = \"b\"\n");
  EXPECT_TRUE(dup.rfind("sluice.toml:3:", 0) == 0) << dup;
  EXPECT_NE(dup.find("invalid TOML: "), std::string::npos) << dup;
}

TEST(Config, MissingFile) {
  auto c = Config::load_file("/nonexistent/sluice.toml");
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(),
            "cannot read config file '/nonexistent/sluice.toml': No such file or directory");
}

TEST(Config, LoadFileUsesItsPathInMessages) {
  auto dir = std::filesystem::temp_directory_path() / "sluice_config_test";
  std::filesystem::create_directories(dir);
  auto file = dir / "sluice.toml";
  std::ofstream(file) << "[platform]\nname = \"shop\"\n\n[lake]\ntarget_file_size_mb = 0\n";
  auto c = Config::load_file(file);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(
      c.status().message(),
      file.string() + ":5:23: key 'lake.target_file_size_mb' must be between 1 and 16384, got 0");
  std::filesystem::remove_all(dir);
}

TEST(Config, EnvironmentOverridesSecretsWithoutLeakingThem) {
  ::setenv("SLUICE_PG_PASSWORD", "s3cret-pw", 1);
  auto c = Config::parse("[postgres]\npassword = \"in-file\"\n", "sluice.toml");
  ::unsetenv("SLUICE_PG_PASSWORD");
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->get_secret("postgres.password").reveal(), "s3cret-pw");
  EXPECT_EQ(c->origin("postgres.password"), "env SLUICE_PG_PASSWORD");
  std::string shown = c->render();
  EXPECT_EQ(shown.find("s3cret-pw"), std::string::npos);
  EXPECT_NE(shown.find("password = \"********\"  # env SLUICE_PG_PASSWORD"), std::string::npos)
      << shown;
  EXPECT_EQ(fmt::format("{}", c->get_secret("postgres.password")), "********");
}

TEST(Config, BadEnvironmentValueIsNamed) {
  ::setenv("SLUICE_LOG_LEVEL", "chatty", 1);
  auto c = Config::parse("", "sluice.toml");
  ::unsetenv("SLUICE_LOG_LEVEL");
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().message(),
            "environment variable SLUICE_LOG_LEVEL (setting 'log.level') must be one of trace, "
            "debug, info, warn, error, off, got 'chatty'");
}

TEST(Config, FlagsAreValidatedLikeFileValues) {
  auto c = Config::parse("", "sluice.toml");
  ASSERT_TRUE(c.is_ok());
  EXPECT_TRUE(c->set_from_flag("platform.data_dir", "/tmp/x").is_ok());
  EXPECT_EQ(c->origin("platform.data_dir"), "command line");
  EXPECT_EQ(c->set_from_flag("log.level", "loud").message(),
            "setting 'log.level': must be one of trace, debug, info, warn, error, off, got "
            "'loud'");
}

TEST(Config, EverySettingIsDocumented) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing; run `sluice config docs`";
  std::stringstream buf;
  buf << in.rdbuf();
  EXPECT_EQ(buf.str(), settings_reference_markdown())
      << "docs/configuration.md is stale: regenerate it with `sluice config docs > "
         "docs/configuration.md`";
  for (const auto& s : all_settings()) {
    EXPECT_FALSE(s.doc.empty()) << s.key;
    if (s.secret) {
      EXPECT_FALSE(s.env.empty()) << s.key << " is secret but has no env override";
    }
  }
}

}  // namespace
}  // namespace sluice::common

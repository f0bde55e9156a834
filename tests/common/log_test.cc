#include "common/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace sluice::log {
namespace {

TEST(Log, TextLineHasTimeLevelMessageAndContext) {
  std::string line =
      format_line(Format::kText, Level::kInfo, "snapshot committed",
                  {kv("table", "raw.orders"), kv("snapshot", 42), kv("note", "two words")});
  std::regex re(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info snapshot committed table=raw\.orders snapshot=42 note="two words"$)");
  EXPECT_TRUE(std::regex_match(line, re)) << line;
}

TEST(Log, JsonLineIsOneObject) {
  std::string line = format_line(Format::kJson, Level::kWarn, "slow commit", {kv("ms", 120.5)});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "slow commit");
  EXPECT_EQ(j["ms"], "120.5");
  EXPECT_TRUE(j.contains("ts"));
}

TEST(Log, SecretsNeverAppear) {
  common::Secret pw("hunter2");
  std::string line = format_line(Format::kText, Level::kInfo, "connecting", {kv("password", pw)});
  EXPECT_EQ(line.find("hunter2"), std::string::npos);
  EXPECT_NE(line.find("password=********"), std::string::npos) << line;
}

TEST(Log, LevelNames) {
  EXPECT_EQ(*parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("loud").status().message(),
            "unknown log level 'loud'; use trace, debug, info, warn, error or off");
  EXPECT_EQ(*parse_format("json"), Format::kJson);
}

}  // namespace
}  // namespace sluice::log

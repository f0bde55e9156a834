// `sluice version`: Sluice's version and those of the libraries linked into this binary, read
// from the libraries at run time where they expose it (so a swapped shared library shows up).
#include <avro.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <mysql.h>
#include <openssl/crypto.h>
#include <rocksdb/version.h>
#include <spdlog/version.h>
#include <toml++/toml.h>
#include <zlib.h>

#include <CLI/Version.hpp>
#include <boost/version.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "cli/cli.h"
#include "common/build_info.h"
#include "engine/engine.h"

namespace sluice::cli {
namespace {

std::vector<std::pair<std::string, std::string>> library_versions() {
  int pq = PQlibVersion();  // e.g. 150018
  const char* mariadb = nullptr;
  mariadb_get_infov(nullptr, MARIADB_CLIENT_VERSION, &mariadb);
  return {
      {"duckdb", engine::duckdb_version()},
      {"librdkafka", rd_kafka_version_str()},
      {"rocksdb", rocksdb::GetRocksVersionAsString(true)},
      {"avro-c", SLUICE_AVRO_VERSION},
      {"libpq", fmt::format("{}.{}", pq / 10000, pq % 10000)},
      {"mariadb-connector-c", mariadb != nullptr ? mariadb : "unknown"},
      {"openssl", OpenSSL_version(OPENSSL_VERSION)},
      {"zlib", zlibVersion()},
      {"boost", fmt::format("{}.{}.{}", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                            BOOST_VERSION % 100)},
      {"spdlog", fmt::format("{}.{}.{}", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH)},
      {"fmt",
       fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
      {"toml++", fmt::format("{}.{}.{}", TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH)},
      {"cli11", CLI11_VERSION},
      {"nlohmann-json", fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR,
                                    NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH)},
  };
}

}  // namespace

void add_version_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("version", "Print Sluice's version and its libraries' versions");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print one JSON object instead of a table");
  cmd->callback([&state, json] {
    auto libs = library_versions();
    if (*json) {
      nlohmann::ordered_json j;
      j["sluice"] = common::kSluiceVersion;
      j["build"] = common::kBuildType;
      j["compiler"] = common::kCompiler;
      for (const auto& [name, version] : libs)
        j["libraries"][name] = version;
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << fmt::format("sluice {} ({}, {})\n", common::kSluiceVersion, common::kBuildType,
                               common::kCompiler);
      for (const auto& [name, version] : libs) {
        std::cout << fmt::format("  {:<20} {}\n", name, version);
      }
    }
    state.exit_code = kExitOk;
  });
}

}  // namespace sluice::cli

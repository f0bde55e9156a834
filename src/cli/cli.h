// The `sluice` executable: a thin CLI11 layer over the modules. Each command file adds one
// subcommand; its callback records the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/config.h"
#include "common/data_dir.h"
#include "common/status.h"
#include "engine/lake_session.h"
#include "lake/lake.h"

namespace sluice::cli {

// Exit codes: 0 success, 1 the command failed, 2 the command line was wrong.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string config_file;
  std::string data_dir;
  std::string log_level;
};

// Shared by all commands: options parsed from the command line and the exit code to return.
struct CliState {
  GlobalOptions global;
  int exit_code = kExitOk;
};

// Loads sluice.toml (or defaults), applies --data-dir and --log-level, initialises logging.
Result<common::Config> load_config(const GlobalOptions& g);
// Opens the data directory named by the config.
Result<common::DataDir> open_data_dir(const common::Config& config);

// The lake and a SQL session over it, as configured (lake.warehouse or <data_dir>/lake).
struct LakeContext {
  common::Config config;  // the configuration the lake was opened with
  std::shared_ptr<lake::Catalog> catalog;
  std::shared_ptr<engine::Database> db;
  engine::LakeSession session;
};
Result<LakeContext> open_lake(const common::Config& config);

// Prints "sluice: error: <message>" to stderr and returns kExitFailure.
int report(const Status& st);

// Loads the config, opens the lake and runs `fn(LakeContext&) -> Status`, turning any error
// into the command's exit code.
template <typename Fn>
void with_lake(CliState& state, Fn&& fn) {
  auto config = load_config(state.global);
  if (!config.is_ok()) {
    state.exit_code = report(config.status());
    return;
  }
  auto lake = open_lake(*config);
  if (!lake.is_ok()) {
    state.exit_code = report(lake.status());
    return;
  }
  Status st = fn(*lake);
  if (!st.is_ok()) state.exit_code = report(st);
}

void add_version_command(CLI::App& app, CliState& state);
void add_config_command(CLI::App& app, CliState& state);
void add_doctor_command(CLI::App& app, CliState& state);
void add_bus_commands(CLI::App& app, CliState& state);
void add_registry_command(CLI::App& app, CliState& state);
void add_sql_command(CLI::App& app, CliState& state);
void add_table_command(CLI::App& app, CliState& state);
void add_gateway_command(CLI::App& app, CliState& state);
void add_user_command(CLI::App& app, CliState& state);
void add_model_command(CLI::App& app, CliState& state);
void add_quality_command(CLI::App& app, CliState& state);
void add_ingest_command(CLI::App& app, CliState& state);
void add_gen_command(CLI::App& app, CliState& state);
void add_console_command(CLI::App& app, CliState& state);
void add_up_command(CLI::App& app, CliState& state);
void add_cdc_command(CLI::App& app, CliState& state);
void add_dag_command(CLI::App& app, CliState& state);

}  // namespace sluice::cli

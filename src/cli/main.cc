#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "common/log.h"

namespace sluice::cli {

Result<common::Config> load_config(const GlobalOptions& g) {
  SLUICE_ASSIGN_OR_RETURN(auto config, common::Config::discover(g.config_file));
  if (!g.data_dir.empty()) {
    SLUICE_RETURN_IF_ERROR(config.set_from_flag("platform.data_dir", g.data_dir));
  }
  if (!g.log_level.empty()) {
    SLUICE_RETURN_IF_ERROR(config.set_from_flag("log.level", g.log_level));
  }
  SLUICE_ASSIGN_OR_RETURN(auto level, log::parse_level(config.get_string("log.level")));
  SLUICE_ASSIGN_OR_RETURN(auto format, log::parse_format(config.get_string("log.format")));
  log::init(level, format);
  return config;
}

Result<common::DataDir> open_data_dir(const common::Config& config) {
  return common::DataDir::open(config.get_string("platform.data_dir"));
}

int report(const Status& st) {
  std::fprintf(stderr, "sluice: error: %s\n", st.message().c_str());
  return kExitFailure;
}

namespace {

int run(int argc, char** argv) {
  CliState state;
  CLI::App app{"Sluice: an on-premises data platform in one binary.", "sluice"};
  app.set_help_flag("-h,--help", "Show help and exit");
  app.fallthrough();  // global options may follow the subcommand
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  app.add_option("--config", state.global.config_file,
                 "Configuration file (default: ./sluice.toml if present, else built-in defaults)");
  app.add_option("--data-dir", state.global.data_dir,
                 "Folder for all runtime state (default: platform.data_dir, i.e. var/)");
  app.add_option("--log-level", state.global.log_level,
                 "trace, debug, info, warn, error or off (default: log.level)");
  app.footer("Run 'sluice <command> --help' for a command's options. Docs: docs/ in the repo.");

  add_up_command(app, state);
  add_cdc_command(app, state);
  add_version_command(app, state);
  add_config_command(app, state);
  add_doctor_command(app, state);
  add_bus_commands(app, state);
  add_registry_command(app, state);
  add_sql_command(app, state);
  add_table_command(app, state);
  add_gateway_command(app, state);
  add_user_command(app, state);
  add_model_command(app, state);
  add_quality_command(app, state);
  add_ingest_command(app, state);
  add_gen_command(app, state);
  add_console_command(app, state);
  add_dag_command(app, state);

  // An unknown first word is an unknown command, not "extra arguments".
  if (argc > 1 && argv[1][0] != '-') {
    std::string word = argv[1];
    bool known = false;
    for (const auto* sub : app.get_subcommands({}))
      known = known || sub->get_name() == word;
    if (!known) {
      std::fprintf(stderr,
                   "sluice: error: unknown command '%s'\nRun 'sluice --help' to list commands.\n",
                   word.c_str());
      return kExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp& e) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // Errors inside a subcommand name it, so the user sees which help to read.
    std::fprintf(stderr, "sluice: error: %s\nRun 'sluice --help' for usage.\n", e.what());
    return kExitUsage;
  }
  return state.exit_code;
}

}  // namespace
}  // namespace sluice::cli

int main(int argc, char** argv) {
  try {
    return sluice::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice: internal error: %s\n", e.what());
    return sluice::cli::kExitFailure;
  }
}

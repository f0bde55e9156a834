// `sluice config check|show|docs`.
#include <iostream>

#include "cli/cli.h"

namespace sluice::cli {

void add_config_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("config", "Check, show or document the configuration");
  cmd->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  auto* check = cmd->add_subcommand("check", "Validate a sluice.toml; errors name file:line:col");
  check->add_option("file", *file, "File to check (default: --config, else ./sluice.toml)");
  check->callback([&state, file] {
    GlobalOptions g = state.global;
    if (!file->empty()) g.config_file = *file;
    if (g.config_file.empty()) g.config_file = "sluice.toml";
    auto config = load_config(g);
    if (!config.is_ok()) {
      state.exit_code = report(config.status());
      return;
    }
    std::cout << "ok: " << config->source_name() << "\n";
  });

  cmd->add_subcommand("show",
                      "Print the effective settings, where each came from; secrets "
                      "redacted")
      ->callback([&state] {
        auto config = load_config(state.global);
        if (!config.is_ok()) {
          state.exit_code = report(config.status());
          return;
        }
        std::cout << config->render();
      });

  cmd->add_subcommand("docs", "Print the reference of every setting (Markdown)")->callback([] {
    std::cout << common::settings_reference_markdown();
  });
}

}  // namespace sluice::cli

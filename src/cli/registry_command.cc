// `sluice registry`: the Confluent-compatible schema registry over HTTP (docs/registry.md).
#include <fmt/format.h>

#include <iostream>

#include "cli/cli.h"
#include "registry/registry.h"

namespace sluice::cli {

void add_registry_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand(
      "registry", "Run the schema registry (Confluent REST API; Avro and JSON Schema)");
  auto listen = std::make_shared<std::string>();
  cmd->add_option("--listen", *listen, "HOST:PORT to listen on (default: registry.listen)");
  cmd->callback([&state, listen] {
    Status st = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
      if (!listen->empty()) {
        SLUICE_RETURN_IF_ERROR(config.set_from_flag("registry.listen", *listen));
      }
      SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
      SLUICE_ASSIGN_OR_RETURN(auto options,
                              registry::RegistryOptions::from_config(config, dir.root()));
      SLUICE_ASSIGN_OR_RETURN(auto server, registry::RegistryServer::start(options));
      // The bound address is the command's result (a port of 0 picks a free one).
      std::cout << fmt::format("sluice registry listening on {}:{}", options.host, server->port())
                << std::endl;
      server->run_until_signal();
      return Status::ok();
    }();
    if (!st.is_ok()) state.exit_code = report(st);
  });
}

}  // namespace sluice::cli

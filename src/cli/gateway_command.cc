// `sluice gateway`: the PostgreSQL-wire SQL gateway in front of the lake.
#include <fmt/format.h>

#include <iostream>

#include "cli/cli.h"
#include "gateway/gateway.h"

namespace sluice::cli {

void add_gateway_command(CLI::App& app, CliState& state) {
  auto listen = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "gateway", "Serve the lake over the PostgreSQL wire protocol (psql, JDBC, BI tools)");
  cmd->add_option("--listen", *listen, "HOST:PORT to listen on (default: gateway.listen)");
  cmd->footer(
      "Users: sluice user add NAME; grants: sluice user grant NAME read|write raw. Connect: psql "
      "-h 127.0.0.1 -p 5433 -U NAME sluice. See docs/gateway.md.");
  cmd->callback([&state, listen] {
    auto run = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
      if (!listen->empty()) {
        SLUICE_RETURN_IF_ERROR(config.set_from_flag("gateway.listen", *listen));
      }
      SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
      SLUICE_RETURN_IF_ERROR(dir.subdir("tmp"));
      SLUICE_ASSIGN_OR_RETURN(auto options,
                              gateway::GatewayOptions::from_config(config, dir.root()));
      SLUICE_ASSIGN_OR_RETURN(auto gw, gateway::Gateway::open(options));
      std::cout << fmt::format("sluice gateway listening on {}:{}", options.listen_host, gw->port())
                << std::endl;
      return gw->run();
    };
    Status st = run();
    if (!st.is_ok()) state.exit_code = report(st);
  });
}

}  // namespace sluice::cli

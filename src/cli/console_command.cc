// `sluice console`: the web console alone (dashboards, SQL editor, table browser), on
// console.listen. `sluice up` runs the same console together with the scheduler.
#include <fmt/format.h>

#include <iostream>

#include "cli/cli.h"
#include "console/console.h"

namespace sluice::cli {

void add_console_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand(
      "console", "Run the web console: dashboards, SQL editor, table browser (docs/console.md)");
  auto listen = std::make_shared<std::string>();
  cmd->add_option("--listen", *listen, "HOST:PORT to listen on (default: console.listen)");
  cmd->callback([&state, listen] {
    Status st = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
      if (!listen->empty()) {
        SLUICE_RETURN_IF_ERROR(config.set_from_flag("console.listen", *listen));
      }
      SLUICE_ASSIGN_OR_RETURN(auto options, console::ConsoleOptions::from_config(config));
      SLUICE_ASSIGN_OR_RETURN(auto server, console::Console::start(config, options));
      std::string host = options.host == "0.0.0.0" ? "127.0.0.1" : options.host;
      // The URL is the command's result (a port of 0 picks a free one).
      std::cout << fmt::format("sluice console listening on http://{}:{}/", host, server->port())
                << std::endl;
      std::cout << "log in with a Sluice user (`sluice user add NAME --admin` creates one)"
                << std::endl;
      server->run_until_signal();
      return Status::ok();
    }();
    if (!st.is_ok()) state.exit_code = report(st);
  });
}

}  // namespace sluice::cli

// The web console: one HTTP server (src/http) serving the built front end (web/dist) and the
// console's JSON API — login and cookie sessions, SQL queries (row limit, cancel; streamed as
// NDJSON for the editor), the table browser, dashboards (dashboards/*.yaml) with a per-snapshot
// result cache. The same grants as the SQL gateway apply (gateway::authorize_statement). See
// docs/console.md.
//
//   auto console = console::Console::start(config, {.host = "127.0.0.1", .port = 0, ...});
//   std::cout << "http://127.0.0.1:" << (*console)->port() << "/\n";
//   (*console)->wait();
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "http/server.h"

namespace sluice::console {

struct ConsoleOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                     // 0 picks a free port; see Console::port()
  std::filesystem::path web_root;        // the built front end (web/dist)
  std::filesystem::path dashboards_dir;  // dashboards/*.yaml
  std::filesystem::path project_dir;     // saved queries go to <project_dir>/sql/
  int max_parallel_queries = 2;          // dashboard queries running at once
  int max_sessions = 6;                  // SQL sessions (DuckDB databases) kept open

  // Reads [console] (listen, dashboards_dir, web_root, max_parallel_queries) from a config;
  // `project_dir` is the config file's folder (or the working directory).
  static Result<ConsoleOptions> from_config(const common::Config& config);
};

// The built front end's default location: <source tree>/web/dist.
std::filesystem::path default_web_root();

class Console {
 public:
  // Opens the lake and the user store named by `config`, then serves. `extra_routes` may add
  // routes (e.g. the scheduler's /api/dags) behind the console's authentication.
  static Result<std::unique_ptr<Console>> start(
      const common::Config& config, ConsoleOptions options,
      std::function<void(http::Router&)> extra_routes = {});
  ~Console();

  uint16_t port() const;
  const std::string& host() const;
  void stop();
  void wait();
  void run_until_signal();

  struct Impl;

 private:
  explicit Console(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::console

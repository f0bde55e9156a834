// `sluice up`: the whole platform in one process on embedded defaults — the Kafka-wire broker,
// the schema registry, the PostgreSQL-wire gateway, the scheduler, the web console and a CDC
// stream per source with `[cdc] enabled = true` — until Ctrl-C or SIGTERM. Each service is the
// same code its own command runs (`sluice broker`, `sluice registry`, `sluice gateway`,
// `sluice scheduler`, `sluice console`, `sluice cdc start`); `up` only starts them together,
// prints where they listen and stops them in reverse order.
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "bus/broker.h"
#include "cdc/cdc.h"
#include "cli/cli.h"
#include "common/log.h"
#include "console/console.h"
#include "gateway/gateway.h"
#include "governance/governance.h"
#include "governance/scram.h"
#include "registry/registry.h"
#include "scheduler/scheduler.h"
#include "sources/sources.h"

namespace sluice::cli {
namespace {

// The services `up` knows, in start order; `--skip` takes these names.
constexpr std::string_view kServices[] = {"broker",    "registry", "gateway",
                                          "scheduler", "console",  "cdc"};

// One running service: how to stop it and, for those that serve on their own thread, the thread.
struct Running {
  std::string name;
  std::string address;  // what a user connects to
  std::string hint;     // one line: how to use it
  std::function<void()> stop;
  std::thread thread;
  std::shared_ptr<Status> exit_status = std::make_shared<Status>(Status::ok());
};

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes)
    out += fmt::format("{:02x}", c);
  return out;
}

// On a data directory without any user, creates the admin user with a random password written
// to <data_dir>/admin-password (mode 0600), so the gateway and the console can be logged into
// right away. Returns a hint for the banner.
Result<std::string> ensure_admin(const common::DataDir& dir) {
  SLUICE_ASSIGN_OR_RETURN(auto users, governance::UserStore::open(dir.root()));
  auto file = dir.root() / "admin-password";
  if (!users.users().empty()) {
    if (std::filesystem::exists(file)) {
      return fmt::format("user admin, password in {}", file.string());
    }
    return std::string("users: sluice user list");
  }
  std::string password = hex(governance::random_bytes(12));
  {
    std::ofstream out(file, std::ios::trunc);
    if (!out) return io_error(fmt::format("cannot write {}", file.string()));
    out << password << "\n";
  }
  ::chmod(file.c_str(), 0600);
  SLUICE_RETURN_IF_ERROR(users.add_user("admin", password, /*admin=*/true));
  log::info("created the admin user", {log::kv("password_file", file.string())});
  return fmt::format("user admin, password in {}", file.string());
}

struct UpArgs {
  std::vector<std::string> skip;
};

Status check_skip(const std::vector<std::string>& skip) {
  for (const auto& s : skip) {
    bool known = false;
    for (auto k : kServices)
      known = known || k == s;
    if (!known) {
      std::string list;
      for (auto k : kServices)
        list += (list.empty() ? "" : ", ") + std::string(k);
      return invalid_argument(fmt::format("--skip: unknown service '{}'; services: {}", s, list));
    }
  }
  return Status::ok();
}

// The sources whose file enables CDC, from sources.dir.
Result<std::vector<sources::SourceConfig>> cdc_sources(const common::Config& config) {
  std::vector<sources::SourceConfig> out;
  std::filesystem::path dir = config.get_string("sources.dir");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".toml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    SLUICE_ASSIGN_OR_RETURN(auto source, sources::load_source_config(f));
    if (source.cdc.enabled) out.push_back(std::move(source));
  }
  return out;
}

// Publishes where the scheduler's API listens, so `sluice dag ...` goes through this process.
void write_daemon_file(const std::filesystem::path& state_dir, const std::string& host,
                       uint16_t port) {
  nlohmann::json info = {{"pid", ::getpid()}, {"host", host}, {"port", port}};
  std::filesystem::create_directories(state_dir);
  {
    std::ofstream out(state_dir / "daemon.json.tmp");
    out << info.dump() << "\n";
  }
  std::filesystem::rename(state_dir / "daemon.json.tmp", state_dir / "daemon.json");
}

Status run_up(CliState& state, const UpArgs& args) {
  SLUICE_RETURN_IF_ERROR(check_skip(args.skip));
  std::set<std::string> skip(args.skip.begin(), args.skip.end());
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
  SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
  SLUICE_RETURN_IF_ERROR(dir.subdir("tmp"));

  // SIGINT/SIGTERM are taken by this thread only (sigwait below); every service thread started
  // from here inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<Running> running;
  auto stop_all = [&running] {
    for (auto it = running.rbegin(); it != running.rend(); ++it) {
      log::info("stopping", {log::kv("service", it->name)});
      it->stop();
      if (it->thread.joinable()) it->thread.join();
    }
    running.clear();
  };
  auto fail = [&](Status st, std::string_view service) {
    stop_all();
    return st.with_context(fmt::format("sluice up: starting the {}", service));
  };

  SLUICE_ASSIGN_OR_RETURN(auto login_hint, ensure_admin(dir));

  if (!skip.count("broker")) {
    auto options = bus::BrokerOptions::from_config(config, dir.root());
    if (!options.is_ok()) return fail(options.status(), "broker");
    auto broker = bus::Broker::open(*options);
    if (!broker.is_ok()) return fail(broker.status(), "broker");
    std::shared_ptr<bus::Broker> b = std::move(*broker);
    Running r;
    r.name = "broker";
    r.address = fmt::format("{}:{}", options->listen_host, b->port());
    r.hint = fmt::format("Kafka wire: kcat -b {} -L", r.address);
    r.stop = [b] { b->stop(); };
    r.thread = std::thread([b, st = r.exit_status] { *st = b->run(/*handle_signals=*/false); });
    running.push_back(std::move(r));
  }
  if (!skip.count("registry")) {
    auto options = registry::RegistryOptions::from_config(config, dir.root());
    if (!options.is_ok()) return fail(options.status(), "schema registry");
    auto server = registry::RegistryServer::start(*options);
    if (!server.is_ok()) return fail(server.status(), "schema registry");
    std::shared_ptr<registry::RegistryServer> s = std::move(*server);
    Running r;
    r.name = "registry";
    r.address = fmt::format("http://{}:{}", options->host, s->port());
    r.hint = fmt::format("schema registry: curl {}/subjects", r.address);
    r.stop = [s] { s->stop(); };
    running.push_back(std::move(r));
  }
  if (!skip.count("gateway")) {
    auto options = gateway::GatewayOptions::from_config(config, dir.root());
    if (!options.is_ok()) return fail(options.status(), "SQL gateway");
    auto gw = gateway::Gateway::open(*options);
    if (!gw.is_ok()) return fail(gw.status(), "SQL gateway");
    std::shared_ptr<gateway::Gateway> g = std::move(*gw);
    Running r;
    r.name = "gateway";
    r.address = fmt::format("{}:{}", options->listen_host, g->port());
    r.hint = fmt::format("SQL: psql -h {} -p {} -U admin sluice", options->listen_host, g->port());
    r.stop = [g] { g->stop(); };
    r.thread = std::thread([g, st = r.exit_status] { *st = g->run(/*handle_signals=*/false); });
    running.push_back(std::move(r));
  }

  std::shared_ptr<scheduler::Scheduler> sched;
  if (!skip.count("scheduler")) {
    auto options = scheduler::options_from_config(config, std::filesystem::absolute(dir.root()));
    if (!options.is_ok()) return fail(options.status(), "scheduler");
    auto opened = scheduler::Scheduler::open(*options);
    if (!opened.is_ok()) return fail(opened.status(), "scheduler");
    sched = std::move(*opened);
    // Its own loopback API for `sluice dag ...` (the console serves the same routes behind login).
    auto listen = bus::parse_host_port(config.get_string("scheduler.listen"));
    if (!listen.is_ok()) return fail(listen.status().with_context("scheduler.listen"), "scheduler");
    http::Router router;
    sched->register_routes(router);
    http::ServerOptions so;
    so.host = listen->first;
    so.port = listen->second;
    so.name = "scheduler";
    so.access_log = false;
    auto server = http::Server::start(so, std::move(router));
    if (!server.is_ok()) return fail(server.status(), "scheduler");
    std::shared_ptr<http::Server> api = std::move(*server);
    if (Status st = sched->start(); !st.is_ok()) return fail(st, "scheduler");
    write_daemon_file(options->state_dir, so.host, api->port());
    Running r;
    r.name = "scheduler";
    r.address = fmt::format("http://{}:{}", so.host, api->port());
    r.hint = fmt::format("DAGs in {}: sluice dag list", options->dags_dir.string());
    r.stop = [api, sched, state_dir = options->state_dir] {
      std::error_code ec;
      std::filesystem::remove(state_dir / "daemon.json", ec);
      api->stop();
      sched->stop();
    };
    running.push_back(std::move(r));
  }
  if (!skip.count("console")) {
    auto options = console::ConsoleOptions::from_config(config);
    if (!options.is_ok()) return fail(options.status(), "console");
    std::function<void(http::Router&)> extra;
    if (sched) extra = [sched](http::Router& router) { sched->register_routes(router); };
    auto started = console::Console::start(config, *options, extra);
    if (!started.is_ok()) return fail(started.status(), "console");
    std::shared_ptr<console::Console> c = std::move(*started);
    std::string host = options->host == "0.0.0.0" ? "127.0.0.1" : options->host;
    Running r;
    r.name = "console";
    r.address = fmt::format("http://{}:{}/", host, c->port());
    r.hint = "web console: dashboards, SQL editor, tables, DAGs";
    r.stop = [c] { c->stop(); };
    running.push_back(std::move(r));
  }
  if (!skip.count("cdc")) {
    auto list = cdc_sources(config);
    if (!list.is_ok()) return fail(list.status(), "CDC streams");
    for (const auto& source : *list) {
      auto stream = cdc::CdcStream::start(config, source);
      if (!stream.is_ok()) return fail(stream.status(), "CDC stream of " + source.name);
      std::shared_ptr<cdc::CdcStream> cs = std::move(*stream);
      Running r;
      r.name = "cdc:" + source.name;
      r.address = fmt::format("{}:{}", source.host, source.port);
      r.hint = fmt::format("sluice cdc status {}", source.name);
      r.stop = [cs] {
        cs->stop();
        (void)cs->wait();
      };
      running.push_back(std::move(r));
    }
  }

  // up.json: where each service listens, for scripts and tests (removed on a clean stop).
  nlohmann::json status = {{"pid", ::getpid()}, {"services", nlohmann::json::object()}};
  for (const auto& r : running)
    status["services"][r.name] = r.address;
  auto status_file = dir.root() / "up.json";
  {
    std::ofstream out(status_file.string() + ".tmp", std::ios::trunc);
    out << status.dump(2) << "\n";
  }
  std::filesystem::rename(status_file.string() + ".tmp", status_file);

  std::cout << fmt::format("sluice up: platform '{}' running, data in {}\n",
                           config.get_string("platform.name"), dir.root().string());
  for (const auto& r : running)
    std::cout << fmt::format("  {:<10} {:<28} {}\n", r.name, r.address, r.hint);
  std::cout << fmt::format("  {:<10} {}\n", "login", login_hint);
  std::cout << "Press Ctrl-C to stop." << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  log::info("shutting down", {log::kv("signal", sig == SIGINT ? "SIGINT" : "SIGTERM")});
  std::vector<std::pair<std::string, std::shared_ptr<Status>>> results;
  for (const auto& r : running)
    results.emplace_back(r.name, r.exit_status);
  stop_all();
  std::error_code ec;
  std::filesystem::remove(status_file, ec);
  for (const auto& [name, st] : results) {
    if (!st->is_ok()) return st->with_context(fmt::format("sluice up: the {} failed", name));
  }
  std::cout << "sluice up: stopped" << std::endl;
  return Status::ok();
}

}  // namespace

void add_up_command(CLI::App& app, CliState& state) {
  auto args = std::make_shared<UpArgs>();
  auto* cmd = app.add_subcommand(
      "up", "Run the whole platform in one process: bus, registry, SQL, scheduler, console, CDC");
  cmd->add_option("--skip", args->skip,
                  "Services not to start: broker, registry, gateway, scheduler, console, cdc")
      ->delimiter(',');
  cmd->footer(
      "Ports come from sluice.toml (bus.listen, registry.listen, gateway.listen, scheduler.listen, "
      "console.listen). The first run creates the user 'admin' with a random password in "
      "<data_dir>/admin-password.");
  cmd->callback([&state, args] {
    Status st = run_up(state, *args);
    if (!st.is_ok()) state.exit_code = report(st);
  });
}

}  // namespace sluice::cli

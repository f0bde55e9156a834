// `sluice gen oltp|activity`: example data in the local PostgreSQL and MariaDB sources.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "sources/sources.h"

namespace sluice::cli {
namespace {

struct GenArgs {
  int scale = 1;
  uint64_t seed = 42;
  int days = 90;
  int64_t anchor = 0;
  std::string only;  // postgres | mysql | (both)
  double rate = 10;
  double duration = 10;
};

struct CrmArgs {
  std::string listen = "127.0.0.1:8765";
  int customers = 200;
  uint64_t seed = 42;
  double fail_rate = 0;
  std::string token_env = "SLUICE_CRM_TOKEN";
  int api_version = 1;
};

Result<std::pair<sources::Endpoint, sources::Endpoint>> endpoints(const common::Config& c) {
  sources::Endpoint pg{c.get_string("postgres.host"), static_cast<int>(c.get_int("postgres.port")),
                       c.get_string("postgres.owner_user"),
                       c.get_secret("postgres.owner_password").reveal(),
                       c.get_string("postgres.database")};
  sources::Endpoint my{c.get_string("mysql.host"), static_cast<int>(c.get_int("mysql.port")),
                       c.get_string("mysql.owner_user"),
                       c.get_secret("mysql.owner_password").reveal(),
                       c.get_string("mysql.database")};
  return std::make_pair(pg, my);
}

Status check_only(const std::string& only, bool* pg, bool* my) {
  if (only.empty()) return Status::ok();
  if (only == "postgres") {
    *my = false;
  } else if (only == "mysql" || only == "mariadb") {
    *pg = false;
  } else {
    return invalid_argument(fmt::format("unknown --only '{}'; use postgres or mysql", only));
  }
  return Status::ok();
}

Status need_password(const sources::Endpoint& e, const char* env, bool used) {
  if (used && e.password.empty()) {
    return invalid_argument(fmt::format(
        "no password for {}: set {} (scripts/pg.sh and scripts/mariadb.sh use 'shop_owner' "
        "unless told otherwise)",
        e.user, env));
  }
  return Status::ok();
}

void print_counts(const sources::GenCounts& counts) {
  for (const auto& [name, n] : counts)
    std::printf("%-28s %12lld\n", name.c_str(), static_cast<long long>(n));
}

}  // namespace

void add_gen_command(CLI::App& app, CliState& state) {
  auto args = std::make_shared<GenArgs>();
  auto* cmd = app.add_subcommand("gen", "Generate example data in the local source databases");
  cmd->require_subcommand(1);

  auto* oltp = cmd->add_subcommand(
      "oltp", "(Re)create and fill the e-commerce tables (PostgreSQL shop, MariaDB inventory)");
  oltp->add_option("--scale", args->scale, "1 = 1k users, 10k orders (seconds); linear")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  oltp->add_option("--seed", args->seed, "Random seed (same seed, scale, anchor: same rows)")
      ->capture_default_str();
  oltp->add_option("--days", args->days, "Days of order history")->capture_default_str();
  oltp->add_option("--anchor", args->anchor,
                   "End of the history as Unix seconds (default: start of today, UTC)");
  oltp->add_option("--only", args->only, "postgres or mysql (default: both)");
  oltp->callback([&state, args] {
    auto run = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
      SLUICE_ASSIGN_OR_RETURN(auto eps, endpoints(config));
      sources::GenOptions o;
      o.scale = args->scale;
      o.seed = args->seed;
      o.days = args->days;
      o.anchor_epoch_s = args->anchor;
      SLUICE_RETURN_IF_ERROR(check_only(args->only, &o.postgres, &o.mysql));
      SLUICE_RETURN_IF_ERROR(need_password(eps.first, "SLUICE_PG_OWNER_PASSWORD", o.postgres));
      SLUICE_RETURN_IF_ERROR(need_password(eps.second, "SLUICE_MYSQL_OWNER_PASSWORD", o.mysql));
      SLUICE_ASSIGN_OR_RETURN(auto counts, sources::gen_oltp(eps.first, eps.second, o));
      print_counts(counts);
      return Status::ok();
    };
    Status st = run();
    if (!st.is_ok()) state.exit_code = report(st);
  });

  auto* act = cmd->add_subcommand(
      "activity", "Keep placing orders, settling payments, shipping and moving stock");
  act->add_option("--rate", args->rate, "Changes per second")->capture_default_str();
  act->add_option("--duration", args->duration, "Seconds to run (0: until interrupted)")
      ->capture_default_str();
  act->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  act->add_option("--only", args->only, "postgres or mysql (default: both)");
  act->callback([&state, args] {
    auto run = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
      SLUICE_ASSIGN_OR_RETURN(auto eps, endpoints(config));
      sources::ActivityOptions o;
      o.rate = args->rate;
      o.duration_s = args->duration;
      o.seed = args->seed;
      SLUICE_RETURN_IF_ERROR(check_only(args->only, &o.postgres, &o.mysql));
      SLUICE_RETURN_IF_ERROR(need_password(eps.first, "SLUICE_PG_OWNER_PASSWORD", o.postgres));
      SLUICE_RETURN_IF_ERROR(need_password(eps.second, "SLUICE_MYSQL_OWNER_PASSWORD", o.mysql));
      SLUICE_ASSIGN_OR_RETURN(auto counts, sources::gen_activity(eps.first, eps.second, o));
      print_counts(counts);
      return Status::ok();
    };
    Status st = run();
    if (!st.is_ok()) state.exit_code = report(st);
  });

  auto crm = std::make_shared<CrmArgs>();
  auto* api = cmd->add_subcommand(
      "crm-api", "Serve a small local CRM JSON API (/customers, /interactions) for REST sources");
  api->add_option("--listen", crm->listen, "HOST:PORT (port 0 picks a free one)")
      ->capture_default_str();
  api->add_option("--customers", crm->customers, "Customers (3 interactions each)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  api->add_option("--seed", crm->seed, "Random seed")->capture_default_str();
  api->add_option("--fail-rate", crm->fail_rate,
                  "Share of requests answered 429 or 503 (retry tests)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  api->add_option("--token-env", crm->token_env,
                  "Environment variable holding the bearer token clients must send")
      ->capture_default_str();
  api->add_option("--api-version", crm->api_version, "2 adds a 'segment' field to customers")
      ->capture_default_str()
      ->check(CLI::Range(1, 2));
  api->footer("Prints 'listening on HOST:PORT' and serves until interrupted. See docs/sources.md.");
  api->callback([&state, crm] {
    auto run = [&]() -> Status {
      sources::CrmApiOptions o;
      auto colon = crm->listen.rfind(':');
      if (colon == std::string::npos) return invalid_argument("--listen expects HOST:PORT");
      o.host = crm->listen.substr(0, colon);
      int port = std::atoi(crm->listen.c_str() + colon + 1);
      if (port < 0 || port > 65535) return invalid_argument("--listen: bad port");
      o.port = static_cast<uint16_t>(port);
      o.customers = crm->customers;
      o.seed = crm->seed;
      o.fail_rate = crm->fail_rate;
      o.api_version = crm->api_version;
      const char* token = std::getenv(crm->token_env.c_str());
      if (token == nullptr || *token == '\0') {
        return invalid_argument(fmt::format(
            "set {} to the bearer token the API should require (--token-env names another "
            "variable)",
            crm->token_env));
      }
      o.token = token;
      SLUICE_ASSIGN_OR_RETURN(auto server, sources::start_crm_api(o));
      std::printf("listening on %s:%u\n", o.host.c_str(), static_cast<unsigned>(server->port()));
      std::fflush(stdout);
      server->run_until_signal();
      return Status::ok();
    };
    Status st = run();
    if (!st.is_ok()) state.exit_code = report(st);
  });
}

}  // namespace sluice::cli

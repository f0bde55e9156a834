// `sluice gen oltp|activity`: example data in the local PostgreSQL and MariaDB sources.
#include <fmt/format.h>

#include <cstdio>

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
}

}  // namespace sluice::cli

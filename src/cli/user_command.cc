// `sluice user ...`: users of the SQL gateway (SCRAM verifiers only) and their grants.
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "cli/output.h"
#include "governance/governance.h"

namespace sluice::cli {
namespace {

// The password: $SLUICE_USER_PASSWORD, else stdin's first line (--password-stdin or not a
// terminal), else a prompt without echo (asked twice).
Result<std::string> read_password(bool from_stdin) {
  if (const char* env = std::getenv("SLUICE_USER_PASSWORD"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  std::string pw;
  if (from_stdin || !::isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, pw)) return invalid_argument("no password on standard input");
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    return pw;
  }
  auto prompt = [](const char* text) -> std::string {
    std::cerr << text << std::flush;
    termios old{};
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string line;
    std::getline(std::cin, line);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
    return line;
  };
  pw = prompt("Password: ");
  if (prompt("Again: ") != pw) return invalid_argument("the passwords do not match");
  return pw;
}

Result<governance::UserStore> open_store(const GlobalOptions& g) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(g));
  SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
  return governance::UserStore::open(dir.root());
}

}  // namespace

void add_user_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("user", "Manage gateway users and their read/write grants");
  cmd->require_subcommand(1);
  struct Args {
    std::string name, access, object, format = "table";
    bool password_stdin = false, admin = false;
  };
  auto a = std::make_shared<Args>();
  auto finish = [&state](const Status& st) {
    if (!st.is_ok()) state.exit_code = report(st);
  };

  auto* add = cmd->add_subcommand("add",
                                  "Add a user (password from a prompt, stdin or "
                                  "SLUICE_USER_PASSWORD)");
  add->add_option("name", a->name, "User name")->required();
  add->add_flag("--password-stdin", a->password_stdin, "Read the password from standard input");
  add->add_flag("--admin", a->admin, "Superuser: every grant implied");
  add->callback([&state, a, finish] {
    finish([&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto store, open_store(state.global));
      SLUICE_ASSIGN_OR_RETURN(auto pw, read_password(a->password_stdin));
      SLUICE_RETURN_IF_ERROR(store.add_user(a->name, pw, a->admin));
      std::cout << fmt::format("user {} added{}\n", a->name, a->admin ? " (admin)" : "");
      return Status::ok();
    }());
  });

  auto* passwd = cmd->add_subcommand("passwd", "Change a user's password");
  passwd->add_option("name", a->name, "User name")->required();
  passwd->add_flag("--password-stdin", a->password_stdin, "Read the password from standard input");
  passwd->callback([&state, a, finish] {
    finish([&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto store, open_store(state.global));
      SLUICE_ASSIGN_OR_RETURN(auto pw, read_password(a->password_stdin));
      SLUICE_RETURN_IF_ERROR(store.set_password(a->name, pw));
      std::cout << fmt::format("password of {} changed\n", a->name);
      return Status::ok();
    }());
  });

  auto* list = cmd->add_subcommand("list", "List users and their grants");
  list->add_option("--format", a->format, "table, csv or json")->capture_default_str();
  list->callback([&state, a, finish] {
    finish([&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto format, parse_output_format(a->format));
      SLUICE_ASSIGN_OR_RETURN(auto store, open_store(state.global));
      engine::QueryResult r;
      r.column_names = {"user", "admin", "grants"};
      r.column_types = {"VARCHAR", "BOOLEAN", "VARCHAR"};
      for (const auto& u : store.users()) {
        std::string grants;
        for (const auto& g : u.grants) {
          if (!grants.empty()) grants += ", ";
          grants += fmt::format("{} {}", governance::access_name(g.access), g.object);
        }
        r.rows.push_back({u.name, u.admin ? "true" : "false", grants});
      }
      print_result(std::cout, r, format);
      return Status::ok();
    }());
  });

  for (bool is_grant : {true, false}) {
    auto* g = cmd->add_subcommand(
        is_grant ? "grant" : "revoke",
        is_grant ? "Grant read or write on a namespace (raw), a table (raw.orders) or *"
                 : "Revoke a grant");
    g->add_option("name", a->name, "User name")->required();
    g->add_option("access", a->access, "read or write (write includes read)")->required();
    g->add_option("object", a->object, "*, a namespace or namespace.table")->required();
    g->callback([&state, a, finish, is_grant] {
      finish([&]() -> Status {
        SLUICE_ASSIGN_OR_RETURN(auto access, governance::parse_access(a->access));
        SLUICE_ASSIGN_OR_RETURN(auto store, open_store(state.global));
        if (is_grant) {
          SLUICE_RETURN_IF_ERROR(store.grant(a->name, access, a->object));
          std::cout << fmt::format("granted {} on {} to {}\n", a->access, a->object, a->name);
        } else {
          SLUICE_RETURN_IF_ERROR(store.revoke(a->name, access, a->object));
          std::cout << fmt::format("revoked {} on {} from {}\n", a->access, a->object, a->name);
        }
        return Status::ok();
      }());
    });
  }

  auto* remove = cmd->add_subcommand("remove", "Remove a user");
  remove->add_option("name", a->name, "User name")->required();
  remove->callback([&state, a, finish] {
    finish([&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto store, open_store(state.global));
      SLUICE_RETURN_IF_ERROR(store.remove_user(a->name));
      std::cout << fmt::format("user {} removed\n", a->name);
      return Status::ok();
    }());
  });
}

}  // namespace sluice::cli

// The one way integration tests get real source databases: a PostgreSQL 15 and/or a MariaDB
// server started by scripts/pg.sh and scripts/mariadb.sh on free loopback ports under a fresh
// temporary folder, stopped (and the folder removed) at exit and on fatal signals, so a failing
// or crashing test never leaves a server behind.
//
//   static sluice::testing::SourceServers* servers;
//   static void SetUpTestSuite() {
//     auto s = sluice::testing::SourceServers::start({.name = "cdc"});
//     ASSERT_TRUE(s.ok) << s.error;
//     servers = s.servers;   // servers->pg_port, servers->my_port, servers->dir
//   }
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sluice::testing {

struct ShellOutcome {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `cmd` with /bin/sh, capturing stdout and stderr.
inline ShellOutcome run_shell(const std::string& cmd) {
  ShellOutcome o;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return o;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    o.out.append(buf.data(), n);
  int st = ::pclose(p);
  o.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

// A loopback port nobody listens on right now.
inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

// Passwords the servers' accounts get (exported for scripts/*.sh and for Sluice's sources).
inline constexpr const char* kSluicePassword = "it-sluice-pw";
inline constexpr const char* kOwnerPassword = "it-owner-pw";

class SourceServers {
 public:
  struct Options {
    std::string name = "it";  // part of the temporary folder's name
    bool postgres = true;
    bool mariadb = true;
  };
  struct Started {
    bool ok = false;
    std::string error;  // the failing script's output
    SourceServers* servers = nullptr;
  };

  std::filesystem::path dir;  // the suite's temporary folder (servers under pg/ and mariadb/)
  int pg_port = 0;
  int my_port = 0;

  // The environment scripts/pg.sh and scripts/mariadb.sh read (ports, fast start-up).
  std::string env_prefix() const {
    return "SLUICE_PG_PORT=" + std::to_string(pg_port) +
           " SLUICE_MYSQL_PORT=" + std::to_string(my_port) +
           " SLUICE_PG_FAST=1 SLUICE_MYSQL_FAST=1 ";
  }

  // Starts the servers once per process (later calls return the same ones).
  static Started start(const Options& options) {
    Started r;
    if (instance() != nullptr) {
      r.ok = true;
      r.servers = instance();
      return r;
    }
    auto* s = new SourceServers;
    std::string tmpl = "/tmp/sluice-" + options.name + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      r.error = "mkdtemp failed";
      return r;
    }
    s->dir = tmpl;
    // The servers run as the postgres/mysql users when the tests run as root: they must reach
    // their folders.
    std::filesystem::permissions(s->dir, std::filesystem::perms::owner_all |
                                             std::filesystem::perms::group_exec |
                                             std::filesystem::perms::others_exec);
    s->postgres_ = options.postgres;
    s->mariadb_ = options.mariadb;
    if (options.postgres) s->pg_port = free_port();
    if (options.mariadb) s->my_port = free_port();
    ::setenv("SLUICE_PG_PASSWORD", kSluicePassword, 1);
    ::setenv("SLUICE_MYSQL_PASSWORD", kSluicePassword, 1);
    ::setenv("SLUICE_PG_OWNER_PASSWORD", kOwnerPassword, 1);
    ::setenv("SLUICE_MYSQL_OWNER_PASSWORD", kOwnerPassword, 1);
    instance() = s;
    std::atexit([] { stop_instance(); });
    for (int sig : {SIGINT, SIGTERM, SIGSEGV, SIGABRT})
      std::signal(sig, on_fatal_signal);
    if (options.postgres) {
      auto pg =
          run_shell(s->env_prefix() + s->script("pg.sh") + " start " + (s->dir / "pg").string());
      if (pg.code != 0) {
        r.error = "scripts/pg.sh start failed:\n" + pg.out;
        return r;
      }
    }
    if (options.mariadb) {
      auto my = run_shell(s->env_prefix() + s->script("mariadb.sh") + " start " +
                          (s->dir / "mariadb").string());
      if (my.code != 0) {
        r.error = "scripts/mariadb.sh start failed:\n" + my.out;
        return r;
      }
    }
    r.ok = true;
    r.servers = s;
    return r;
  }

  // Stops the servers and removes the folder (also run at exit).
  static void stop_instance() {
    SourceServers* s = instance();
    if (s == nullptr) return;
    instance() = nullptr;
    if (s->postgres_) {
      (void)run_shell(s->env_prefix() + s->script("pg.sh") + " stop " + (s->dir / "pg").string());
    }
    if (s->mariadb_) {
      (void)run_shell(s->env_prefix() + s->script("mariadb.sh") + " stop " +
                      (s->dir / "mariadb").string());
    }
    std::error_code ec;
    std::filesystem::remove_all(s->dir, ec);
    delete s;
  }

 private:
  std::string script(const std::string& name) const {
    return std::string(SLUICE_SOURCE_DIR) + "/scripts/" + name;
  }
  static SourceServers*& instance() {
    static SourceServers* s = nullptr;
    return s;
  }
  static void on_fatal_signal(int sig) {
    stop_instance();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }

  bool postgres_ = false;
  bool mariadb_ = false;
};

}  // namespace sluice::testing

// The one way tests run the `sluice` binary as a server (broker, gateway, registry, console, ...):
// a child process under a test folder, its stdout and stderr in files there, started and waited
// for until it prints where it listens (servers bind 127.0.0.1:0, so no port is guessed), and
// stopped with a signal, then SIGKILL. Plus shell commands with a hard time limit.
//
//   sluice::testing::SluiceProcess gw(dir, "gateway",
//                                     sluice::testing::server_options(dir, "gateway", toml));
//   ASSERT_TRUE(gw.start()) << gw.log();   // gw.port(), gw.log() (stderr), gw.kill(SIGTERM)
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/source_servers.h"

namespace sluice::testing {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

struct CommandResult {
  int code = -1;
  std::string out, err;
};

// Runs `cmd` (a shell script) under coreutils `timeout`, so a hung peer fails the test instead
// of stalling it; stdin, stdout and stderr go through files under `dir`.
inline CommandResult run_command(const std::string& cmd, const std::filesystem::path& dir,
                                 int timeout_s = 60, const std::string& stdin_text = "") {
  static int counter = 0;
  auto base = (dir / ("cmd" + std::to_string(++counter))).string();
  std::ofstream(base + ".in") << stdin_text;
  std::ofstream(base + ".sh") << cmd << "\n";
  // Braces: run_shell's own 2>&1 applies to the group, not over the command's 2>.
  ShellOutcome o = run_shell("{ timeout -k 2 " + std::to_string(timeout_s) + " sh '" + base +
                             ".sh' <'" + base + ".in' >'" + base + ".out' 2>'" + base + ".err'; }");
  return {o.code, slurp(base + ".out"), slurp(base + ".err")};
}

class SluiceProcess {
 public:
  struct Options {
    std::vector<std::string> args;  // after the binary's name
    // Written to <dir>/sluice.toml before each start when not empty.
    std::string config_toml;
    // Waited for on stdout, followed by the port number; empty: start() does not wait.
    std::string ready = "listening on 127.0.0.1:";
    int ready_timeout_s = 15;
    bool in_dir = false;  // run with <dir> as the working directory
  };

  // `name` names the output files: <dir>/<name><n>.out and .err for the n-th start.
  SluiceProcess(std::filesystem::path dir, std::string name, Options options)
      : dir_(std::move(dir)), name_(std::move(name)), options_(std::move(options)) {}
  SluiceProcess(const SluiceProcess&) = delete;
  SluiceProcess& operator=(const SluiceProcess&) = delete;
  ~SluiceProcess() { kill(SIGKILL); }

  // Starts the process and waits for its ready line. False if it exits or stays silent.
  bool start() {
    std::filesystem::create_directories(dir_);
    if (!options_.config_toml.empty()) std::ofstream(dir_ / "sluice.toml") << options_.config_toml;
    ++starts_;
    auto out = dir_ / (name_ + std::to_string(starts_) + ".out");
    err_ = dir_ / (name_ + std::to_string(starts_) + ".err");
    std::vector<char*> argv = {const_cast<char*>(SLUICE_BINARY)};
    for (auto& a : options_.args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    port_ = 0;
    pid_ = ::fork();
    if (pid_ == 0) {
      if (options_.in_dir && ::chdir(dir_.c_str()) != 0) ::_exit(126);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::execv(SLUICE_BINARY, argv.data());
      ::_exit(127);
    }
    if (options_.ready.empty()) return pid_ > 0;
    for (int i = 0; i < options_.ready_timeout_s * 20; ++i) {
      std::string text = slurp(out);
      auto at = text.find(options_.ready);
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        port_ = std::atoi(text.c_str() + at + options_.ready.size());
        return true;
      }
      if (!running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Sends `sig` and waits at most 10 s, then SIGKILL. Returns the wait status (-1: not running).
  int kill(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  int stop() { return kill(SIGTERM); }

  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return slurp(err_); }  // stderr of the last start
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string name_;
  Options options_;
  std::filesystem::path err_;
  pid_t pid_ = -1;
  int port_ = 0;
  int starts_ = 0;
};

// `sluice <command> --config <dir>/sluice.toml --data-dir <dir>/data --listen 127.0.0.1:0`,
// with `config_toml` after a `[log] level = "info"` section (the ready line is logged at info).
inline SluiceProcess::Options server_options(const std::filesystem::path& dir,
                                             const std::string& command,
                                             const std::string& config_toml = "") {
  SluiceProcess::Options o;
  o.args = {command,
            "--config",
            (dir / "sluice.toml").string(),
            "--data-dir",
            (dir / "data").string(),
            "--listen",
            "127.0.0.1:0"};
  o.config_toml = "[log]\nlevel = \"info\"\n" + config_toml;
  return o;
}

}  // namespace sluice::testing

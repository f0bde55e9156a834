// Helpers for the gateway tests: a temporary data dir with users and a lake table, a
// `sluice gateway` child process on a free loopback port, and shell commands with time limits.
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

namespace sluice::gateway::testing {

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

// Runs a shell command with a hard time limit, capturing its output.
inline CommandResult run_command(const std::string& cmd, const std::filesystem::path& dir,
                                 int timeout_s = 60) {
  static int counter = 0;
  auto base = dir / ("cmd" + std::to_string(++counter));
  std::ofstream(base.string() + ".sh") << cmd << "\n";
  std::string full = "timeout -k 2 " + std::to_string(timeout_s) + " sh '" + base.string() +
                     ".sh' </dev/null >'" + base.string() + ".out' 2>'" + base.string() + ".err'";
  int rc = std::system(full.c_str());
  CommandResult r;
  r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(base.string() + ".out");
  r.err = slurp(base.string() + ".err");
  return r;
}

// A `sluice gateway` child process under `dir`, listening on a free loopback port.
class GatewayProcess {
 public:
  explicit GatewayProcess(std::filesystem::path dir, std::string config_toml = "")
      : dir_(std::move(dir)), config_toml_(std::move(config_toml)) {}
  ~GatewayProcess() { stop(); }

  // Starts the gateway and waits (at most 15 s) for its "listening on" line.
  bool start() {
    auto config = dir_ / "sluice.toml";
    std::ofstream(config) << "[log]\nlevel = \"info\"\n[gateway]\nsession_threads = 2\n"
                          << config_toml_;
    auto out = dir_ / "gateway.out";
    err_ = dir_ / "gateway.err";
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::string data = (dir_ / "data").string(), cfg = config.string();
      ::execl(SLUICE_BINARY, SLUICE_BINARY, "gateway", "--config", cfg.c_str(), "--data-dir",
              data.c_str(), "--listen", "127.0.0.1:0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 300; ++i) {
      std::string text = slurp(out);
      auto at = text.find("listening on 127.0.0.1:");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        port_ = std::stoi(text.substr(at + 23));
        return true;
      }
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // SIGTERM, then SIGKILL after 10 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return slurp(err_); }

 private:
  std::filesystem::path dir_;
  std::string config_toml_;
  std::filesystem::path err_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace sluice::gateway::testing

// A `sluice registry` child process under a temporary folder, on a free loopback port, and a
// `curl` runner with a hard time limit.
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

namespace sluice::registry::testing {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

struct Shell {
  int code = -1;
  std::string out;
};

// Runs `cmd` with sh under `timeout` (so a hung peer fails the test instead of stalling it).
inline Shell run_shell(const std::string& cmd, const std::filesystem::path& dir,
                       int timeout_s = 30) {
  static int counter = 0;
  auto base = dir / ("sh" + std::to_string(++counter));
  std::ofstream(base.string() + ".sh") << cmd << "\n";
  std::string full = "timeout -k 2 " + std::to_string(timeout_s) + " sh '" + base.string() +
                     ".sh' >'" + base.string() + ".out' 2>&1 </dev/null";
  int rc = std::system(full.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(base.string() + ".out")};
}

class RegistryProcess {
 public:
  explicit RegistryProcess(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~RegistryProcess() { kill(SIGKILL); }

  // Starts `sluice registry` and waits (at most 15 s) for its "listening on" line.
  bool start() {
    std::filesystem::create_directories(dir_);
    ++starts_;
    auto out = dir_ / ("registry" + std::to_string(starts_) + ".out");
    err_ = dir_ / ("registry" + std::to_string(starts_) + ".err");
    std::string data = (dir_ / "data").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::execl(SLUICE_BINARY, SLUICE_BINARY, "registry", "--data-dir", data.c_str(), "--listen",
              "127.0.0.1:0", static_cast<char*>(nullptr));
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

  // Sends `sig` and waits at most 10 s, then SIGKILL. Returns the exit status.
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

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return slurp(err_); }

 private:
  std::filesystem::path dir_;
  std::filesystem::path err_;
  pid_t pid_ = -1;
  int port_ = 0;
  int starts_ = 0;
};

}  // namespace sluice::registry::testing

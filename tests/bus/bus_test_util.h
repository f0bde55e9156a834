// Helpers for the bus tests: building record batches, temporary folders, running commands and a
// `sluice broker` child process on a free loopback port.
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

#include "bus/record_batch.h"

namespace sluice::bus::testing {

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// An uncompressed batch of `records` key/value pairs starting at base offset 0.
inline std::string make_batch(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& kvs,
    int64_t timestamp = -1, int64_t producer_id = -1, int16_t epoch = -1,
    int32_t base_sequence = -1) {
  BatchHeader h;
  h.base_offset = 0;
  h.last_offset_delta = static_cast<int32_t>(kvs.size()) - 1;
  h.producer_id = producer_id;
  h.producer_epoch = epoch;
  h.base_sequence = base_sequence;
  std::vector<Record> recs;
  int64_t ts = timestamp < 0 ? now_ms() : timestamp;
  for (size_t i = 0; i < kvs.size(); ++i) {
    Record r;
    r.offset = static_cast<int64_t>(i);
    r.timestamp = ts + static_cast<int64_t>(i);
    r.key = kvs[i].first;
    r.value = kvs[i].second;
    recs.push_back(r);
  }
  h.base_timestamp = ts;
  return encode_batch(h, recs);
}

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ =
        std::filesystem::temp_directory_path() /
        ("sluice_bus_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(now_ms()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

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

// Runs a shell command with a hard time limit (coreutils `timeout`), capturing its output.
inline CommandResult run_command(const std::string& cmd, const std::filesystem::path& dir,
                                 int timeout_s = 30, const std::string& stdin_text = "") {
  static int counter = 0;
  ++counter;
  auto base = dir / ("cmd" + std::to_string(counter));
  std::ofstream(base.string() + ".in") << stdin_text;
  std::ofstream(base.string() + ".sh") << cmd << "\n";
  std::string full = "timeout -k 2 " + std::to_string(timeout_s) + " sh '" + base.string() +
                     ".sh' <'" + base.string() + ".in' >'" + base.string() + ".out' 2>'" +
                     base.string() + ".err'";
  int rc = std::system(full.c_str());
  CommandResult r;
  r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(base.string() + ".out");
  r.err = slurp(base.string() + ".err");
  return r;
}

// A `sluice broker` child process under `dir`, listening on a free loopback port.
class BrokerProcess {
 public:
  BrokerProcess(std::filesystem::path dir, std::string config_toml = "")
      : dir_(std::move(dir)), config_toml_(std::move(config_toml)) {}
  ~BrokerProcess() { kill(SIGKILL); }

  // Starts the broker and waits (at most 15 s) for its "listening on" line.
  bool start() {
    std::filesystem::create_directories(dir_);
    auto config = dir_ / "sluice.toml";
    std::ofstream(config) << "[log]\nlevel = \"info\"\n" << config_toml_;
    ++starts_;
    auto out = dir_ / ("broker" + std::to_string(starts_) + ".out");
    auto err = dir_ / ("broker" + std::to_string(starts_) + ".err");
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::string data = (dir_ / "data").string(), cfg = config.string();
      ::execl(SLUICE_BINARY, SLUICE_BINARY, "broker", "--config", cfg.c_str(), "--data-dir",
              data.c_str(), "--listen", "127.0.0.1:0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    err_file_ = err;
    for (int i = 0; i < 300; ++i) {
      std::string text = slurp(out);
      auto at = text.find("listening on 127.0.0.1:");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        port_ = std::stoi(text.substr(at + 23));
        return true;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // SIGTERM (graceful) or SIGKILL; waits at most 10 s, then SIGKILL.
  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
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
  void stop() { kill(SIGTERM); }

  int port() const { return port_; }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return slurp(err_file_); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string config_toml_;
  std::filesystem::path err_file_;
  pid_t pid_ = -1;
  int port_ = 0;
  int starts_ = 0;
};

}  // namespace sluice::bus::testing

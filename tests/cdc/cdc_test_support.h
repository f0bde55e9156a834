// What the CDC integration tests share: a `sluice cdc start <source>` child process, the lake of
// one test (its data folder) queried and polled through the `sluice` CLI, the way a user watches
// a stream land, and the frame of a suite (CdcSuite).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>

#include "support/sluice_process.h"
#include "support/source_servers.h"

namespace sluice::testing {

// `sluice cdc start <source> --config <config> --data-dir <data>` run in `dir`, stdout and stderr
// in one log file per start.
class CdcStream {
 public:
  CdcStream(std::filesystem::path dir, std::string source, std::string data_dir,
            std::string config = "sluice.toml")
      : dir_(std::move(dir)),
        source_(std::move(source)),
        data_(std::move(data_dir)),
        config_(std::move(config)) {}
  CdcStream(const CdcStream&) = delete;
  CdcStream& operator=(const CdcStream&) = delete;
  ~CdcStream() { kill(SIGKILL); }

  void start() {
    ++starts_;
    log_ = dir_ / (source_ + "-" + std::to_string(starts_) + ".err");
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(dir_.c_str()) != 0) ::_exit(126);
      int e = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(e, 2);
      ::dup2(e, 1);
      ::execl(SLUICE_BINARY, SLUICE_BINARY, "cdc", "start", source_.c_str(), "--config",
              config_.c_str(), "--data-dir", data_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  // Sends `sig` and waits up to 60 s (a stream finishes its last lake commit), then SIGKILL.
  // Returns the exit code, -1 when killed by a signal, 0 when not running.
  int kill(int sig) {
    if (pid_ <= 0) return 0;
    ::kill(pid_, sig);
    int status = 0;
    for (int i = 0; i < 1200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }
  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  std::string log() const { return slurp(log_); }

 private:
  std::filesystem::path dir_;
  std::string source_, data_, config_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int starts_ = 0;
};

// One test's lake: `sluice <args> --data-dir <data>` run in `dir` (where sluice.toml and
// sources/ are).
class CdcLake {
 public:
  CdcLake() = default;
  CdcLake(std::filesystem::path dir, std::string data_dir)
      : dir_(std::move(dir)), data_(std::move(data_dir)) {}

  ShellOutcome sluice(const std::string& args) const {
    return run_shell("cd '" + dir_.string() + "' && " + SLUICE_BINARY + " " + args +
                     " --data-dir " + data_);
  }
  // A lake query's CSV output without its header line (one value: unquoted); "" on error.
  std::string value(const std::string& sql) const {
    auto r = run_shell("cd '" + dir_.string() + "' && " + SLUICE_BINARY +
                       " sql --log-level error --format csv --data-dir " + data_ + " -e \"" + sql +
                       "\" 2>/dev/null");
    if (r.code != 0) return "";
    auto nl = r.out.find('\n');
    if (nl == std::string::npos) return "";
    std::string v = r.out.substr(nl + 1);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
      v.pop_back();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  // Polls `sluice cdc status` (60 s at most) until the stream of `source` reports `state`; gives
  // up early when `stream` (a CdcStream or SluiceProcess) has exited.
  template <class Process>
  bool wait_state(const std::string& source, const std::string& state, Process* stream) const {
    for (int i = 0; i < 240; ++i) {
      auto r = sluice("cdc status " + source + " --json 2>/dev/null");
      if (r.out.find("\"state\": \"" + state + "\"") != std::string::npos) return true;
      if (stream && !stream->running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }
  // Polls (60 s at most) until the lake query returns `want`; returns the last value.
  template <class Process = CdcStream>
  std::string wait_value(const std::string& sql, const std::string& want,
                         Process* stream = nullptr) const {
    std::string v;
    for (int i = 0; i < 240; ++i) {
      v = value(sql);
      if (v == want) return v;
      if (stream && !stream->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return v;
  }

 private:
  std::filesystem::path dir_;
  std::string data_;
};

// The frame of a CDC integration suite: the source servers started once for the suite (call
// start_servers from SetUpTestSuite), a folder with sluice.toml (CDC committing every 200 ms,
// no bus) and sources/, a data folder per test, the mariadb client, and the test's lake.
class CdcSuite : public ::testing::Test {
 public:
  // The suite's servers, for helpers outside the fixture (nullptr before start_servers).
  static SourceServers* servers() { return env_; }

 protected:
  using Stream = CdcStream;
  using Outcome = ShellOutcome;

  static void start_servers(const SourceServers::Options& options) {
    auto started = SourceServers::start(options);
    ASSERT_TRUE(started.ok) << started.error;
    env_ = started.servers;
    std::filesystem::create_directories(env_->dir / "sources");
    std::ofstream(env_->dir / "sluice.toml")
        << "[log]\nlevel = \"info\"\n[engine]\nthreads = 2\n[cdc]\ncommit_interval_ms = 200\n"
        << "publish = false\n";
  }
  static void TearDownTestSuite() {
    SourceServers::stop_instance();
    env_ = nullptr;
  }
  void SetUp() override {
    if (env_ == nullptr) GTEST_SKIP() << "the source servers did not start";
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    data_ = (env_->dir / ("data-" + name_)).string();
  }

  // SQL through the mariadb client as root over the server's Unix socket (root may SET
  // sql_log_bin); its tab-separated output without column names.
  static Outcome my_sql(const std::string& statements, const std::string& database = "inventory") {
    std::filesystem::path f = env_->dir / "stmt.sql";
    std::ofstream(f) << statements << "\n";
    return run_shell(
        "mariadb --no-defaults --socket=" + (env_->dir / "mariadb" / "mysqld.sock").string() +
        " -uroot -N -B " + database + " < " + f.string());
  }
  static void my_exec(const std::string& statements) {
    auto o = my_sql(statements);
    ASSERT_EQ(o.code, 0) << statements << "\n" << o.out;
  }

  CdcLake lake() const { return {env_->dir, data_}; }
  Outcome sluice(const std::string& args) { return lake().sluice(args); }
  std::string lake_value(const std::string& sql) { return lake().value(sql); }
  bool wait_state(const std::string& source, const std::string& state, Stream* s) {
    return lake().wait_state(source, state, s);
  }
  std::string wait_lake(const std::string& sql, const std::string& want, Stream* s = nullptr) {
    return lake().wait_value(sql, want, s);
  }

  // Waits until the raw changes table `changes` holds a streamed (not snapshot) change, then
  // kills the stream with SIGKILL twice mid-stream, restarting it each time.
  void kill_twice_mid_stream(Stream& s, const std::string& changes) {
    for (int i = 0; i < 200 && lake_value("SELECT count(*) > 0 FROM " + changes +
                                          " WHERE _op <> 'r'") != "true";
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    s.kill(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    s.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    s.kill(SIGKILL);
    s.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }

  // Kills the stream of `source` with SIGKILL once its bootstrap is on its way into the lake (the
  // first data file of `changes_table`, e.g. "kill_item_changes", is written; the current state
  // and the checkpoint come after it). Fails the test when the bootstrap ended before the kill.
  void kill_during_bootstrap(Stream& s, const std::string& source,
                             const std::string& changes_table) {
    const std::filesystem::path raw_data =
        std::filesystem::path(data_) / "lake" / "raw" / changes_table / "data";
    bool landing = false;
    for (int i = 0; i < 3000 && !landing && s.running(); ++i) {
      std::error_code ec;
      landing = std::filesystem::exists(raw_data, ec) && !std::filesystem::is_empty(raw_data, ec);
      if (!landing) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(landing) << s.log();
    s.kill(SIGKILL);
    std::string cp;
    {
      std::ifstream in(std::filesystem::path(data_) / "cdc" / source / "checkpoint.json");
      cp.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    ASSERT_EQ(cp.find("\"snapshot_complete\": true"), std::string::npos)
        << "the bootstrap ended before the kill; make the table bigger\n"
        << cp << s.log();
  }

  inline static SourceServers* env_ = nullptr;
  std::string name_, data_;
};

}  // namespace sluice::testing

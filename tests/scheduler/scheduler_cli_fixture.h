// The fixture of the scheduler's CLI tests: a fresh folder with `dags/`, the real `sluice`
// binary with `--data-dir state`, background daemons (killed at the end of a test), and
// helpers that read `sluice dag show --json`.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/sluice_runner.h"

namespace sluice::testing {

class SchedulerCli : public SluiceTest {
 protected:
  using json = nlohmann::json;
  SchedulerCli() : SluiceTest("--data-dir state --log-level warn") {}
  std::vector<int> started_;

  void dag(const std::string& name, const std::string& yaml) {
    std::filesystem::create_directories(dir_ / "dags");
    std::ofstream(dir_ / "dags" / (name + ".yaml")) << yaml;
  }
  std::string file(const std::string& name) const { return slurp(dir_ / name); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  template <typename F>
  bool wait_for(F&& f, int seconds = 30) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Polls `f` every `poll_ms` until it holds or `seconds` of wall time passed (for conditions
  // that run `sluice` themselves, which a tight loop would keep the machine busy with).
  template <typename F>
  bool wait_until(F&& f, int seconds, int poll_ms = 300) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (true) {
      if (f()) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  }
  // Starts `sluice <args>` in the background; returns its pid.
  int spawn(const std::string& args, int slot) {
    auto out = path("stdout" + std::to_string(slot)), err = path("stderr" + std::to_string(slot));
    std::string cmd = "cd '" + dir_.string() + "' && { '" + SLUICE_BINARY + "' " + prefix_ + " " +
                      args + " >'" + out + "' 2>'" + err + "' </dev/null & echo $! >'" +
                      path("bg.pid") + "'; }";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return std::stoi(file("bg.pid"));
  }
  // Running (not gone, not a zombie).
  static bool alive(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    if (!std::getline(in, s)) return false;
    auto rp = s.rfind(')');
    return rp != std::string::npos && rp + 2 < s.size() && s[rp + 2] != 'Z' && s[rp + 2] != 'X';
  }
  static int pid_of(const std::string& text) { return std::stoi(text); }

  void TearDown() override {
    // Nothing a failed test started outlives it.
    for (int pid : started_)
      ::kill(pid, SIGKILL);
    if (std::filesystem::exists(dir_ / "long.pid") && !file("long.pid").empty())
      ::kill(-pid_of(file("long.pid")), SIGKILL);
    SluiceTest::TearDown();
  }

  int start_daemon(int slot) {
    int pid = spawn("scheduler --listen 127.0.0.1:0", slot);
    started_.push_back(pid);
    EXPECT_TRUE(wait_for([&] {
      return std::filesystem::exists(dir_ / "state/scheduler/daemon.json");
    })) << slurp(dir_ / ("stderr" + std::to_string(slot)));
    return pid;
  }
  void stop(int pid) {
    ::kill(pid, SIGTERM);
    wait_for([&] { return !alive(pid); });
  }
  json show(const std::string& dag_id) {
    auto r = sluice("dag show " + dag_id + " --json", 7);
    auto j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json::object() : j;
  }
  std::string run_state(const std::string& dag_id, const std::string& ds) {
    auto j = show(dag_id);
    if (!j.contains("runs")) return "";
    for (const auto& r : j["runs"])
      if (r["ds"] == ds) return r["state"];
    return "";
  }
  // The most `start X` lines of `log` (whose X satisfies `counts`) open at once, reading
  // `start X` / `end X` lines in the order the tasks appended them: a task writes `end` before
  // it exits, so tasks run one after the other never look concurrent.
  template <typename F>
  int peak(const std::string& log, F&& counts) const {
    std::istringstream in(file(log));
    std::string what, id;
    int running = 0, most = 0;
    while (in >> what >> id) {
      if (!counts(id)) continue;
      if (what == "start") most = std::max(most, ++running);
      if (what == "end") --running;
    }
    return most;
  }
  // The first value of a one-row `sluice sql` query ("" on error, which the test reports).
  std::string sql_value(const std::string& query) {
    auto r = sluice("sql --format csv -e \"" + query + "\"", 8);
    EXPECT_EQ(r.code, 0) << query << "\n" << r.out << r.err;
    auto nl = r.out.find('\n');
    if (nl == std::string::npos) return "";
    std::string v = r.out.substr(nl + 1);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
      v.pop_back();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
};

}  // namespace sluice::testing

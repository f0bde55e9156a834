// The console's DAGs page in Debian's chromium against `sluice up` (console + scheduler in one
// process, tests/console/dags_test.mjs): the runs grid, trigger a run, its task states and log.
// Skipped until `sluice up` serves the console and the scheduler.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

std::string run(const std::string& cmd) {
  auto out = fs::temp_directory_path() / ("sluice_dags_cmd_" + std::to_string(::getpid()));
  int rc = std::system((cmd + " >'" + out.string() + "' 2>&1 </dev/null").c_str());
  (void)rc;
  std::string text = slurp(out);
  fs::remove(out);
  return text;
}

TEST(ConsoleDagsBrowserTest, TriggerARunAndReadItsLog) {
  std::string bin = SLUICE_BINARY;
  std::string help = run("'" + bin + "' --help");
  std::string up_help = run("'" + bin + "' up --help");
  if (help.find("\n  up") == std::string::npos || up_help.find("console") == std::string::npos ||
      up_help.find("scheduler") == std::string::npos) {
    GTEST_SKIP() << "`sluice up` does not run the console and the scheduler yet";
  }
  if (!fs::exists("/usr/bin/chromium") ||
      !fs::exists(fs::path(SLUICE_SOURCE_DIR) / "web" / "dist" / "index.html")) {
    FAIL() << "chromium or web/dist missing: run scripts/setup.sh";
  }
  fs::path dir = fs::temp_directory_path() / ("sluice_dags_ui_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "dags");
  std::ofstream(dir / "sluice.toml") << "[platform]\ndata_dir = \"data\"\n"
                                        "[console]\nlisten = \"127.0.0.1:0\"\n"
                                        "[scheduler]\ndags_dir = \"dags\"\n";
  std::ofstream(dir / "dags" / "hello.yaml") << "dag_id: hello\n"
                                                "schedule: \"@daily\"\n"
                                                "start_date: 2026-01-01\n"
                                                "catchup: false\n"
                                                "tasks:\n"
                                                "  - id: greet\n"
                                                "    kind: shell\n"
                                                "    command: echo hello from {{ ds }}\n"
                                                "  - id: done\n"
                                                "    kind: noop\n"
                                                "    depends_on: [greet]\n";
  std::string cfg = (dir / "sluice.toml").string();
  run("cd '" + dir.string() + "' && SLUICE_USER_PASSWORD=admin-pw '" + bin + "' --config '" + cfg +
      "' user add admin --admin");
  auto out = dir / "up.out";
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    std::string cmd = "exec '" + bin + "' --config '" + cfg +
                      "' up --skip broker,registry,gateway >'" + out.string() + "' 2>'" +
                      (dir / "up.err").string() + "'";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string url;
  std::regex re(R"(http://127\.0\.0\.1:[0-9]+/)");
  for (int i = 0; i < 300 && url.empty(); ++i) {
    std::smatch m;
    std::string text = slurp(out);
    if (std::regex_search(text, m, re)) url = m.str();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string result;
  if (!url.empty()) {
    fs::path artifacts = fs::path(SLUICE_BUILD_DIR) / "test-artifacts" / "console";
    fs::create_directories(artifacts);
    result = run("cd '" + std::string(SLUICE_SOURCE_DIR) + "/web' && timeout -k 5 240 node '" +
                 SLUICE_SOURCE_DIR + "/tests/console/dags_test.mjs' '" + url + "' '" +
                 artifacts.string() + "' ; echo exit=$?");
  }
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
  std::string log = slurp(dir / "up.err");
  fs::remove_all(dir);
  ASSERT_FALSE(url.empty()) << "sluice up printed no console URL\n" << log;
  EXPECT_NE(result.find("exit=0"), std::string::npos) << result;
}

}  // namespace

// The console's DAGs page in Debian's chromium against `sluice up` (console + scheduler in one
// process, tests/console/dags_test.mjs): the runs grid, trigger a run, its task states and log.
// Skipped until `sluice up` serves the console and the scheduler.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/sluice_process.h"

namespace {

namespace fs = std::filesystem;

using sluice::testing::slurp;

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
  sluice::testing::SluiceProcess::Options o;
  o.args = {"--config", cfg, "up", "--skip", "broker,registry,gateway"};
  // The services table row "  console    http://127.0.0.1:PORT/" (the scheduler's row comes first).
  o.ready = "console    http://127.0.0.1:";
  o.ready_timeout_s = 30;
  o.in_dir = true;
  sluice::testing::SluiceProcess up(dir, "up", o);
  std::string url;
  if (up.start()) url = "http://127.0.0.1:" + std::to_string(up.port()) + "/";
  std::string result;
  if (!url.empty()) {
    fs::path artifacts = fs::path(SLUICE_BUILD_DIR) / "test-artifacts" / "console";
    fs::create_directories(artifacts);
    result = run("cd '" + std::string(SLUICE_SOURCE_DIR) + "/web' && timeout -k 5 240 node '" +
                 SLUICE_SOURCE_DIR + "/tests/console/dags_test.mjs' '" + url + "' '" +
                 artifacts.string() + "' ; echo exit=$?");
  }
  up.stop();
  std::string log = up.log();
  fs::remove_all(dir);
  ASSERT_FALSE(url.empty()) << "sluice up printed no console URL\n" << log;
  EXPECT_NE(result.find("exit=0"), std::string::npos) << result;
}

}  // namespace

// `sluice up`: every service starts in one process on free ports, answers real clients (kcat,
// curl, psql with the generated admin password), and stops cleanly on SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/sluice_runner.h"

namespace {

using sluice::testing::slurp;

class UpTest : public sluice::testing::SluiceTest {
 protected:
  UpTest() : SluiceTest("--data-dir state") {}

  void write_config() {
    std::ofstream(dir_ / "sluice.toml") << "[bus]\nlisten = \"127.0.0.1:0\"\n"
                                           "[registry]\nlisten = \"127.0.0.1:0\"\n"
                                           "[gateway]\nlisten = \"127.0.0.1:0\"\n"
                                           "[console]\nlisten = \"127.0.0.1:0\"\n"
                                           "[scheduler]\ndags_dir = \"dags\"\n"
                                           "listen = \"127.0.0.1:0\"\n";
    std::filesystem::create_directories(dir_ / "dags");
    std::ofstream(dir_ / "dags" / "hello.yaml")
        << "dag_id: hello\nschedule: \"@daily\"\nstart_date: 2026-01-01\ncatchup: false\n"
           "tasks:\n  - id: say\n    kind: shell\n    command: echo hello\n";
  }

  // Starts `sluice up` in the background; returns its pid.
  pid_t start_up(const std::string& args = "") {
    std::string cmd =
        cmdline("up " + args, 9) + " & echo $! > '" + (dir_ / "up.pid").string() + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return std::stoi(slurp(dir_ / "up.pid"));
  }

  // Waits for state/up.json (written once every service listens).
  nlohmann::json wait_ready(pid_t pid) {
    auto file = dir_ / "state" / "up.json";
    for (int i = 0; i < 300; ++i) {
      if (std::filesystem::exists(file)) return nlohmann::json::parse(slurp(file));
      if (::kill(pid, 0) != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "sluice up never became ready; stderr:\n" << slurp(dir_ / "stderr9");
    return nlohmann::json::object();
  }

  int shell(const std::string& cmd) {
    int rc = std::system(("cd '" + dir_.string() + "' && " + cmd).c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  // Sends SIGTERM and waits (up to 30 s) for the process to go away.
  bool stop(pid_t pid) {
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      if (::kill(pid, 0) != 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid, SIGKILL);
    return false;
  }
};

std::string port_of(const std::string& address) {
  return address.substr(address.rfind(':') + 1);
}

TEST_F(UpTest, StartsEveryServiceAndStopsOnSigterm) {
  write_config();
  pid_t pid = start_up();
  auto up = wait_ready(pid);
  ASSERT_TRUE(up.contains("services"));
  auto services = up["services"];
  ASSERT_TRUE(services.contains("broker"));
  ASSERT_TRUE(services.contains("registry"));
  ASSERT_TRUE(services.contains("gateway"));

  // The broker answers kcat's metadata request.
  EXPECT_EQ(shell("kcat -b " + services["broker"].get<std::string>() + " -L -m 5 > kcat.out 2>&1"),
            0)
      << slurp(dir_ / "kcat.out");
  // The registry answers its REST API.
  EXPECT_EQ(shell("curl -sf " + services["registry"].get<std::string>() + "/subjects > reg.out"),
            0);
  EXPECT_EQ(slurp(dir_ / "reg.out"), "[]");
  // The gateway lets the generated admin in.
  std::string password = slurp(dir_ / "state" / "admin-password");
  ASSERT_FALSE(password.empty());
  password.pop_back();  // newline
  EXPECT_EQ(
      shell("PGPASSWORD=" + password + " psql -X -A -t -h 127.0.0.1 -p " +
            port_of(services["gateway"]) + " -U admin -c 'select 6 * 7' sluice > psql.out 2>&1"),
      0)
      << slurp(dir_ / "psql.out");
  EXPECT_EQ(slurp(dir_ / "psql.out"), "42\n");
  // The console logs the admin in and serves the scheduler's API behind that login.
  ASSERT_TRUE(services.contains("console"));
  ASSERT_TRUE(services.contains("scheduler"));
  std::string console = services["console"];
  EXPECT_EQ(shell("curl -s -o /dev/null -w '%{http_code}' " + console + "api/dags > anon.out"), 0);
  EXPECT_EQ(slurp(dir_ / "anon.out"), "401");
  EXPECT_EQ(shell("curl -sf -c cookies -H 'Content-Type: application/json' -d '{\"user\":\"admin\","
                  "\"password\":\"" +
                  password + "\"}' " + console + "api/login > login.out"),
            0);
  EXPECT_NE(slurp(dir_ / "login.out").find("\"csrf\""), std::string::npos);
  EXPECT_EQ(shell("curl -sf -b cookies " + console + "api/dags > dags.out"), 0);
  EXPECT_NE(slurp(dir_ / "dags.out").find("\"hello\""), std::string::npos)
      << slurp(dir_ / "dags.out");
  // `sluice dag list` finds the scheduler inside `sluice up` through its daemon file.
  auto list = sluice("dag list", 3);
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("hello"), std::string::npos) << list.out;

  // A wrong password is refused.
  EXPECT_NE(shell("PGPASSWORD=wrong psql -X -h 127.0.0.1 -p " + port_of(services["gateway"]) +
                  " -U admin -c 'select 1' sluice > bad.out 2>&1"),
            0);

  // What a new user reads on the terminal: the console's URL and where the admin password is.
  std::string printed = slurp(dir_ / "stdout9");
  EXPECT_NE(
      printed.find("console    http://127.0.0.1:" + port_of(console.substr(0, console.size() - 1))),
      std::string::npos)
      << printed << console;
  EXPECT_NE(printed.find("login      user admin, password in " +
                         (dir_ / "state" / "admin-password").string()),
            std::string::npos)
      << printed;

  ASSERT_TRUE(stop(pid));
  EXPECT_NE(slurp(dir_ / "stdout9").find("sluice up: stopped"), std::string::npos)
      << slurp(dir_ / "stderr9");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state" / "up.json"));
}

TEST_F(UpTest, SkipLeavesAServiceOut) {
  write_config();
  pid_t pid = start_up("--skip broker,registry");
  auto up = wait_ready(pid);
  EXPECT_FALSE(up["services"].contains("broker"));
  EXPECT_FALSE(up["services"].contains("registry"));
  EXPECT_TRUE(up["services"].contains("gateway"));
  ASSERT_TRUE(stop(pid));
}

TEST_F(UpTest, UnknownServiceInSkipIsAClearError) {
  auto r = sluice("up --skip brokr");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--skip: unknown service 'brokr'; services: broker"), std::string::npos)
      << r.err;
}

TEST_F(UpTest, APortInUseNamesTheService) {
  write_config();
  pid_t pid = start_up("--skip registry,gateway");
  auto up = wait_ready(pid);
  std::string broker = up["services"]["broker"];
  // A second platform asked to listen on the first one's broker port fails, naming the broker.
  std::ofstream(dir_ / "second.toml") << "[bus]\nlisten = \"" << broker << "\"\n";
  auto r = sluice("--config second.toml up --skip registry,gateway");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("starting the broker"), std::string::npos) << r.err;
  ASSERT_TRUE(stop(pid));
}

}  // namespace

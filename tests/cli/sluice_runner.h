// Runs the real `sluice` binary in a per-test folder, capturing exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::testing {

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

// A fixture whose tests each get a fresh folder; `prefix_args` go before every command's
// arguments (e.g. "--data-dir state").
class SluiceTest : public ::testing::Test {
 protected:
  explicit SluiceTest(std::string prefix_args = "") : prefix_(std::move(prefix_args)) {}

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The shell command running `sluice <args>` in the test's folder; output slot `n` lets
  // concurrent runs keep their output apart.
  std::string cmdline(const std::string& args, int n = 0) const {
    auto out = dir_ / ("stdout" + std::to_string(n)), err = dir_ / ("stderr" + std::to_string(n));
    return "cd '" + dir_.string() + "' && '" + SLUICE_BINARY + "' " + prefix_ + " " + args + " >'" +
           out.string() + "' 2>'" + err.string() + "' </dev/null";
  }

  Outcome sluice(const std::string& args, int n = 0) const {
    int rc = std::system(cmdline(args, n).c_str());
    return Outcome{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1,
                   slurp(dir_ / ("stdout" + std::to_string(n))),
                   slurp(dir_ / ("stderr" + std::to_string(n)))};
  }

  std::filesystem::path dir_;
  std::string prefix_;
};

}  // namespace sluice::testing

// The data directory: every piece of runtime state lives under one folder (`var/` by default,
// `--data-dir` or platform.data_dir to change), so several platforms can live side by side.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/status.h"

namespace sluice::common {

class DataDir {
 public:
  // Creates the folder if missing and checks it is a writable directory.
  static Result<DataDir> open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  // `<root>/<name>`, created if missing (e.g. "lake", "tmp", "broker").
  Result<std::filesystem::path> subdir(std::string_view name) const;

 private:
  explicit DataDir(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
};

}  // namespace sluice::common

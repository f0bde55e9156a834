#include "common/data_dir.h"

#include <fmt/format.h>
#include <unistd.h>

namespace sluice::common {

Result<DataDir> DataDir::open(const std::filesystem::path& root) {
  if (root.empty()) return invalid_argument("data directory path is empty");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) {
    return io_error(
        fmt::format("cannot create data directory '{}': {}", root.string(), ec.message()));
  }
  if (!std::filesystem::is_directory(root, ec)) {
    return invalid_argument(
        fmt::format("data directory '{}' exists but is not a directory", root.string()));
  }
  if (::access(root.c_str(), W_OK | X_OK) != 0) {
    return permission_denied(fmt::format("data directory '{}' is not writable", root.string()));
  }
  auto abs = std::filesystem::absolute(root, ec);
  return DataDir(ec ? root : abs.lexically_normal());
}

Result<std::filesystem::path> DataDir::subdir(std::string_view name) const {
  auto p = root_ / name;
  std::error_code ec;
  std::filesystem::create_directories(p, ec);
  if (ec) return io_error(fmt::format("cannot create '{}': {}", p.string(), ec.message()));
  return p;
}

}  // namespace sluice::common

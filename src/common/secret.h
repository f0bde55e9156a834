// A value that must never reach a log, an error message or a printed config.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>

namespace sluice::common {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string v) : value_(std::move(v)) {}
  // The only way to read the value; call it where the secret is handed to a peer.
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace sluice::common

template <>
struct fmt::formatter<sluice::common::Secret> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const sluice::common::Secret& s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(s.empty() ? "" : "********", ctx);
  }
};

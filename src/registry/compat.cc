#include <algorithm>
#include <cctype>
#include <string>

#include "registry/compat_internal.h"

namespace sluice::registry {

namespace {
constexpr std::pair<CompatLevel, std::string_view> kLevels[] = {
    {CompatLevel::kBackward, "BACKWARD"}, {CompatLevel::kBackwardTransitive, "BACKWARD_TRANSITIVE"},
    {CompatLevel::kForward, "FORWARD"},   {CompatLevel::kForwardTransitive, "FORWARD_TRANSITIVE"},
    {CompatLevel::kFull, "FULL"},         {CompatLevel::kFullTransitive, "FULL_TRANSITIVE"},
    {CompatLevel::kNone, "NONE"},
};
}  // namespace

std::string_view level_name(CompatLevel level) {
  for (const auto& [l, n] : kLevels)
    if (l == level) return n;
  return "NONE";
}

std::optional<CompatLevel> parse_level(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& [l, n] : kLevels)
    if (n == upper) return l;
  return std::nullopt;
}

bool checks_backward(CompatLevel l) {
  return l == CompatLevel::kBackward || l == CompatLevel::kBackwardTransitive ||
         l == CompatLevel::kFull || l == CompatLevel::kFullTransitive;
}

bool checks_forward(CompatLevel l) {
  return l == CompatLevel::kForward || l == CompatLevel::kForwardTransitive ||
         l == CompatLevel::kFull || l == CompatLevel::kFullTransitive;
}

bool is_transitive(CompatLevel l) {
  return l == CompatLevel::kBackwardTransitive || l == CompatLevel::kForwardTransitive ||
         l == CompatLevel::kFullTransitive;
}

}  // namespace sluice::registry

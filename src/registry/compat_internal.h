// Compatibility levels and the reasons a schema change breaks one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::registry {

enum class CompatLevel {
  kBackward,
  kBackwardTransitive,
  kForward,
  kForwardTransitive,
  kFull,
  kFullTransitive,
  kNone
};

std::string_view level_name(CompatLevel level);
std::optional<CompatLevel> parse_level(std::string_view name);  // case-insensitive
bool checks_backward(CompatLevel level);  // the new schema must read the old data
bool checks_forward(CompatLevel level);   // the old schemas must read the new data
bool is_transitive(CompatLevel level);    // against every earlier version, not only the latest

// One reason a change is incompatible: the field path ("orders.items[].sku") and the rule it
// breaks, worded from the old schema to the new one ("changed type from double to string").
struct Incompatibility {
  std::string path;
  std::string message;  // "field 'orders.amount' changed type from double to string"
};

}  // namespace sluice::registry

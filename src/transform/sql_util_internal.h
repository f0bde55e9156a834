// Quoting helpers for the SQL the transform module generates.
#pragma once

#include <string>
#include <string_view>

namespace sluice::transform::detail {

// "a""b": an identifier for DuckDB.
inline std::string quote_ident(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// 'it''s': a string literal.
inline std::string quote_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace sluice::transform::detail

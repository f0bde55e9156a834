// Printing results: aligned tables (psql style), CSV and JSON lines.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"

namespace sluice::cli {

enum class OutputFormat { kTable, kCsv, kJson };

Result<OutputFormat> parse_output_format(const std::string& name);

// Prints rows in the chosen format. Table format right-aligns numeric columns and ends with
// "(N rows)"; CSV follows RFC 4180 with a header; JSON prints one object per line.
void print_result(std::ostream& out, const engine::QueryResult& result, OutputFormat format,
                  bool truncated = false);

// A result built by hand (for `sluice table ...`): all columns are text.
engine::QueryResult make_result(std::vector<std::string> columns,
                                std::vector<std::vector<std::optional<std::string>>> rows);

// "7d", "12h", "30m", "45s", "1500ms" -> milliseconds.
Result<int64_t> parse_duration_ms(const std::string& text);

}  // namespace sluice::cli

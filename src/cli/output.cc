#include "cli/output.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

namespace sluice::cli {
namespace {

bool is_numeric(const std::string& type) {
  static const std::set<std::string> kNum = {"TINYINT", "SMALLINT", "INTEGER",   "BIGINT",
                                             "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                                             "UBIGINT", "FLOAT",    "DOUBLE",    "DECIMAL"};
  return kNum.count(type) > 0;
}

// Display width of UTF-8 text (code points; good enough for aligned output).
size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<OutputFormat> parse_output_format(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  return invalid_argument(fmt::format("unknown format '{}'; use table, csv or json", name));
}

void print_result(std::ostream& out, const engine::QueryResult& r, OutputFormat format,
                  bool truncated) {
  const size_t ncols = r.column_names.size();
  if (format == OutputFormat::kCsv) {
    for (size_t c = 0; c < ncols; ++c)
      out << (c ? "," : "") << csv_field(r.column_names[c]);
    out << "\n";
    for (const auto& row : r.rows) {
      for (size_t c = 0; c < ncols; ++c)
        out << (c ? "," : "") << csv_field(row[c].value_or(""));
      out << "\n";
    }
    return;
  }
  if (format == OutputFormat::kJson) {
    for (const auto& row : r.rows) {
      nlohmann::ordered_json j = nlohmann::ordered_json::object();
      for (size_t c = 0; c < ncols; ++c) {
        const auto& v = row[c];
        if (!v) {
          j[r.column_names[c]] = nullptr;
        } else if (c < r.column_types.size() && is_numeric(r.column_types[c])) {
          j[r.column_names[c]] = nlohmann::ordered_json::parse(*v, nullptr, false);
          if (j[r.column_names[c]].is_discarded()) j[r.column_names[c]] = *v;
        } else if (c < r.column_types.size() && r.column_types[c] == "BOOLEAN") {
          j[r.column_names[c]] = *v == "true";
        } else {
          j[r.column_names[c]] = *v;
        }
      }
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return;
  }
  std::vector<size_t> w(ncols);
  for (size_t c = 0; c < ncols; ++c)
    w[c] = width(r.column_names[c]);
  for (const auto& row : r.rows) {
    for (size_t c = 0; c < ncols; ++c)
      w[c] = std::max(w[c], width(row[c].value_or("NULL")));
  }
  auto pad = [&](const std::string& s, size_t c, bool right) {
    std::string fill(w[c] - std::min(w[c], width(s)), ' ');
    return right ? fill + s : s + fill;
  };
  // psql's layout: " a | b" cells, "---+---" under the header, no trailing blanks.
  auto emit = [&](const std::vector<std::string>& cells, const std::vector<bool>& right) {
    std::string line;
    for (size_t c = 0; c < ncols; ++c) {
      line += (c ? " | " : " ") + pad(cells[c], c, right[c]);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << "\n";
  };
  std::vector<bool> left(ncols, false), numeric(ncols, false);
  for (size_t c = 0; c < ncols && c < r.column_types.size(); ++c) {
    numeric[c] = is_numeric(r.column_types[c]);
  }
  emit(r.column_names, left);
  for (size_t c = 0; c < ncols; ++c)
    out << (c ? "+" : "") << std::string(w[c] + 2, '-');
  out << "\n";
  std::vector<std::string> cells(ncols);
  for (const auto& row : r.rows) {
    for (size_t c = 0; c < ncols; ++c)
      cells[c] = row[c].value_or("NULL");
    emit(cells, numeric);
  }
  out << fmt::format("({} row{}{})\n", r.rows.size(), r.rows.size() == 1 ? "" : "s",
                     truncated ? ", output truncated: use --max-rows or --format csv" : "");
}

engine::QueryResult make_result(std::vector<std::string> columns,
                                std::vector<std::vector<std::optional<std::string>>> rows) {
  engine::QueryResult r;
  r.column_types.assign(columns.size(), "VARCHAR");
  r.column_names = std::move(columns);
  r.rows = std::move(rows);
  return r;
}

Result<int64_t> parse_duration_ms(const std::string& text) {
  size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &pos);
  } catch (...) {
    pos = 0;
  }
  std::string unit = text.substr(pos);
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
  if (pos > 0 && n >= 0) {
    for (const auto& [u, mult] : kUnits) {
      if (unit == u) return static_cast<int64_t>(n) * mult;
    }
  }
  return invalid_argument(
      fmt::format("bad duration '{}': use a number with ms, s, m, h or d (e.g. 7d)", text));
}

}  // namespace sluice::cli

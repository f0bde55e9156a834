#include <duckdb.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "engine/lake_stats_internal.h"
#include "engine/sql_text_internal.h"

namespace sluice::engine::detail {
namespace {

__extension__ using Int128 = __int128;

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool parse_date(std::string_view s, int64_t& days, size_t& pos) {
  int y = 0;
  unsigned m = 0, d = 0;
  int n = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%d-%u-%u%n", &y, &m, &d, &n) != 3) return false;
  days = days_from_civil(y, m, d);
  pos = static_cast<size_t>(n);
  return true;
}

// "HH:MM:SS[.ffffff]" at s[pos]; returns micros of day.
bool parse_time(std::string_view s, size_t& pos, int64_t& micros) {
  unsigned hh = 0, mm = 0, ss = 0;
  int n = 0;
  std::string str(s.substr(pos));
  if (std::sscanf(str.c_str(), "%u:%u:%u%n", &hh, &mm, &ss, &n) != 3) return false;
  pos += static_cast<size_t>(n);
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 6) frac = frac * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    for (; digits < 6; ++digits)
      frac *= 10;
  }
  micros = ((static_cast<int64_t>(hh) * 60 + mm) * 60 + ss) * 1000000 + frac;
  return true;
}

// "+HH[:MM]" or "-HH[:MM]" offset in seconds; none is UTC.
int64_t parse_offset(std::string_view s, size_t pos) {
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return 0;
  int sign = s[pos] == '-' ? -1 : 1;
  unsigned hh = 0, mm = 0;
  std::string str(s.substr(pos + 1));
  std::sscanf(str.c_str(), "%u:%u", &hh, &mm);
  return sign * static_cast<int64_t>(hh * 3600 + mm * 60);
}

}  // namespace

std::optional<lake::Value> parse_stat_value(const lake::Type& type, const std::string& text) {
  if (!type.is_primitive()) return std::nullopt;
  const std::string& p = type.primitive;
  char* end = nullptr;
  if (p == "boolean") {
    if (text == "true") return lake::Value(true);
    if (text == "false") return lake::Value(false);
    return std::nullopt;
  }
  if (p == "int") {
    long v = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0') return std::nullopt;
    return lake::Value(static_cast<int32_t>(v));
  }
  if (p == "long") {
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0') return std::nullopt;
    return lake::Value(static_cast<int64_t>(v));
  }
  if (p == "float" || p == "double") {
    double v = std::strtod(text.c_str(), &end);
    if (*end != '\0' || std::isnan(v)) return std::nullopt;
    if (p == "float") return lake::Value(static_cast<float>(v));
    return lake::Value(v);
  }
  if (p == "string") return lake::Value(text);
  if (p == "date") {
    int64_t days = 0;
    size_t pos = 0;
    if (!parse_date(text, days, pos)) return std::nullopt;
    return lake::Value(static_cast<int32_t>(days));
  }
  if (p == "time") {
    size_t pos = 0;
    int64_t micros = 0;
    if (!parse_time(text, pos, micros)) return std::nullopt;
    return lake::Value(micros);
  }
  if (p == "timestamp" || p == "timestamptz") {
    int64_t days = 0;
    size_t pos = 0;
    if (!parse_date(text, days, pos)) return std::nullopt;
    int64_t micros = 0;
    if (pos < text.size() && (text[pos] == ' ' || text[pos] == 'T')) {
      ++pos;
      if (!parse_time(text, pos, micros)) return std::nullopt;
    }
    int64_t offset = parse_offset(text, pos);
    return lake::Value(days * 86400000000LL + micros - offset * 1000000);
  }
  if (p.rfind("decimal", 0) == 0) {
    int precision = 0, scale = 0;
    if (std::sscanf(p.c_str(), "decimal(%d, %d)", &precision, &scale) != 2 &&
        std::sscanf(p.c_str(), "decimal(%d,%d)", &precision, &scale) != 2) {
      return std::nullopt;
    }
    // Unscaled value from the decimal text, then minimal big-endian two's complement.
    Int128 unscaled = 0;
    bool neg = false;
    int frac_digits = -1;
    for (char c : text) {
      if (c == '-') {
        neg = true;
      } else if (c == '.') {
        frac_digits = 0;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        unscaled = unscaled * 10 + (c - '0');
        if (frac_digits >= 0) ++frac_digits;
      } else {
        return std::nullopt;
      }
    }
    for (int f = std::max(frac_digits, 0); f < scale; ++f)
      unscaled *= 10;
    if (frac_digits > scale) return std::nullopt;
    if (neg) unscaled = -unscaled;
    std::vector<uint8_t> bytes;
    for (int i = 15; i >= 0; --i)
      bytes.push_back(static_cast<uint8_t>(unscaled >> (i * 8)));
    // Drop redundant sign bytes.
    size_t start = 0;
    while (start + 1 < bytes.size() && ((bytes[start] == 0x00 && (bytes[start + 1] & 0x80) == 0) ||
                                        (bytes[start] == 0xff && (bytes[start + 1] & 0x80) != 0))) {
      ++start;
    }
    return lake::Value(std::vector<uint8_t>(bytes.begin() + start, bytes.end()));
  }
  return std::nullopt;
}

bool value_less(const lake::Value& a, const lake::Value& b) {
  if (a.index() != b.index()) return a.index() < b.index();
  if (std::holds_alternative<std::vector<uint8_t>>(a)) {
    // Decimals: compare as signed big-endian integers.
    const auto& x = std::get<std::vector<uint8_t>>(a);
    const auto& y = std::get<std::vector<uint8_t>>(b);
    auto to_i128 = [](const std::vector<uint8_t>& v) {
      Int128 r = (!v.empty() && (v[0] & 0x80)) ? -1 : 0;
      for (uint8_t c : v)
        r = (r << 8) | c;
      return r;
    };
    return to_i128(x) < to_i128(y);
  }
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, lake::Null>) {
          return false;
        } else {
          return x < std::get<T>(b);
        }
      },
      a);
}

namespace {

// Min/max of one column of one file, before serialization.
using Bounds = std::map<int, std::pair<lake::Value, lake::Value>>;

void widen(Bounds& bounds, int id, lake::Value lo, lake::Value hi) {
  auto b = bounds.find(id);
  if (b == bounds.end()) {
    bounds.emplace(id, std::make_pair(std::move(lo), std::move(hi)));
    return;
  }
  if (value_less(lo, b->second.first)) b->second.first = std::move(lo);
  if (value_less(b->second.second, hi)) b->second.second = std::move(hi);
}

// Serializes the bounds of `schema`'s columns into `stats` (Iceberg spec: single-value
// serialization, Appendix D).
void set_bounds(const lake::Schema& schema, const Bounds& bounds, FileStats& stats) {
  for (const auto& f : schema.fields) {
    auto b = bounds.find(f.id);
    if (b == bounds.end()) continue;
    stats.lower[f.id] = b->second.first;
    auto lo = lake::encode_single_value(*f.type, b->second.first);
    auto hi = lake::encode_single_value(*f.type, b->second.second);
    if (lo.is_ok() && hi.is_ok()) {
      stats.file.lower_bounds[f.id] = *lo;
      stats.file.upper_bounds[f.id] = *hi;
    }
  }
}

// Owns a duckdb_result / duckdb_data_chunk for its scope.
struct ResultGuard {
  duckdb_result r{};
  ~ResultGuard() { duckdb_destroy_result(&r); }
};
struct ChunkGuard {
  duckdb_data_chunk c = nullptr;
  ~ChunkGuard() {
    if (c != nullptr) duckdb_destroy_data_chunk(&c);
  }
};

bool valid(duckdb_vector v, idx_t row) {
  uint64_t* mask = duckdb_vector_get_validity(v);
  return mask == nullptr || duckdb_validity_row_is_valid(mask, row);
}

std::string varchar_at(duckdb_vector v, idx_t row) {
  auto* data = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v));
  return std::string(duckdb_string_t_data(&data[row]), duckdb_string_t_length(data[row]));
}

// The entries of the MAP(VARCHAR, VARCHAR) at `row` of `v`.
std::map<std::string, std::string> string_map_at(duckdb_vector v, idx_t row) {
  std::map<std::string, std::string> out;
  if (!valid(v, row)) return out;
  const auto& e = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(v))[row];
  duckdb_vector entries = duckdb_list_vector_get_child(v);
  duckdb_vector keys = duckdb_struct_vector_get_child(entries, 0);
  duckdb_vector values = duckdb_struct_vector_get_child(entries, 1);
  for (idx_t i = e.offset; i < e.offset + e.length; ++i) {
    if (valid(keys, i) && valid(values, i)) out[varchar_at(keys, i)] = varchar_at(values, i);
  }
  return out;
}

// A column's path as RETURN_STATS names it: its quoted name ("a", "we""ird").
std::string stats_key(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

}  // namespace

Result<std::map<std::string, FileStats>> footer_stats(Session& session, const lake::Schema& schema,
                                                      const std::vector<std::string>& paths) {
  std::string list = "[";
  for (size_t i = 0; i < paths.size(); ++i)
    list += (i > 0 ? ", " : "") + quote_literal(paths[i]);
  list += "]";
  // Statistics of every file in one metadata query.
  SLUICE_ASSIGN_OR_RETURN(
      auto meta, session.query(fmt::format(
                     "SELECT file_name, row_group_id, row_group_num_rows, path_in_schema, "
                     "stats_min_value, stats_max_value, stats_null_count, total_compressed_size, "
                     "num_values FROM parquet_metadata({})",
                     list)));
  std::map<std::string, FileStats> files;
  for (const auto& p : paths)
    files[p];
  std::map<std::string, const lake::NestedField*> by_name;
  for (const auto& f : schema.fields)
    by_name[f.name] = &f;
  std::map<std::string, std::set<std::string>> row_groups_seen;
  std::map<std::string, Bounds> bounds;
  for (const auto& row : meta.rows) {
    const std::string& file = row[0].value_or("");
    auto fit = files.find(file);
    if (fit == files.end()) continue;
    auto& df = fit->second.file;
    if (row_groups_seen[file].insert(row[1].value_or("")).second) {
      df.record_count += std::stoll(row[2].value_or("0"));
    }
    auto col = by_name.find(row[3].value_or(""));
    if (col == by_name.end()) continue;  // nested leaf: sizes only at top level
    int id = col->second->id;
    df.column_sizes[id] += std::stoll(row[7].value_or("0"));
    df.value_counts[id] += std::stoll(row[8].value_or("0"));
    if (row[6]) df.null_value_counts[id] += std::stoll(*row[6]);
    if (!row[4] || !row[5]) continue;
    auto lo = parse_stat_value(*col->second->type, *row[4]);
    auto hi = parse_stat_value(*col->second->type, *row[5]);
    if (!lo || !hi) continue;
    widen(bounds[file], id, std::move(*lo), std::move(*hi));
  }
  for (auto& [path, stats] : files)
    set_bounds(schema, bounds[path], stats);
  return files;
}

bool return_stats_complete(const lake::Schema& schema) {
  for (const auto& f : schema.fields) {
    if (!f.type->is_primitive()) continue;  // neither gives nested columns' statistics
    const std::string& p = f.type->primitive;
    if (p == "boolean") return false;
    int precision = 0, scale = 0;
    if (p.rfind("decimal", 0) == 0 &&
        (std::sscanf(p.c_str(), "decimal(%d, %d)", &precision, &scale) == 2 ||
         std::sscanf(p.c_str(), "decimal(%d,%d)", &precision, &scale) == 2) &&
        precision > 18) {
      return false;
    }
  }
  return true;
}

Result<std::map<std::string, FileStats>> copy_returning_stats(Session& session,
                                                              const lake::Schema& schema,
                                                              const std::string& copy_sql) {
  // QueryResult renders values with duckdb_value_varchar, which gives nothing for MAPs: read
  // the result's vectors. Columns (DuckDB 1.4): filename VARCHAR, count UBIGINT,
  // file_size_bytes UBIGINT, footer_size_bytes UBIGINT, column_statistics MAP(VARCHAR,
  // MAP(VARCHAR, VARCHAR)), partition_keys MAP(VARCHAR, VARCHAR).
  ResultGuard g;
  if (duckdb_query(session.native_connection(), copy_sql.c_str(), &g.r) != DuckDBSuccess) {
    return invalid_argument(duckdb_result_error(&g.r));
  }
  std::map<std::string, idx_t> col;
  for (idx_t c = 0; c < duckdb_column_count(&g.r); ++c)
    col[duckdb_column_name(&g.r, c)] = c;
  for (const char* name : {"filename", "count", "column_statistics"}) {
    if (col.count(name) == 0) {
      return internal_error(fmt::format("COPY ... RETURN_STATS returned no '{}' column", name));
    }
  }
  std::map<std::string, const lake::NestedField*> by_key;
  for (const auto& f : schema.fields)
    by_key[stats_key(f.name)] = &f;
  std::map<std::string, FileStats> files;
  while (true) {
    ChunkGuard chunk{duckdb_fetch_chunk(g.r)};
    if (chunk.c == nullptr) break;
    idx_t n = duckdb_data_chunk_get_size(chunk.c);
    if (n == 0) break;
    duckdb_vector names = duckdb_data_chunk_get_vector(chunk.c, col["filename"]);
    duckdb_vector counts = duckdb_data_chunk_get_vector(chunk.c, col["count"]);
    duckdb_vector columns = duckdb_data_chunk_get_vector(chunk.c, col["column_statistics"]);
    const auto* count_data = static_cast<const uint64_t*>(duckdb_vector_get_data(counts));
    duckdb_list_entry* column_entries =
        static_cast<duckdb_list_entry*>(duckdb_vector_get_data(columns));
    duckdb_vector column_kv = duckdb_list_vector_get_child(columns);
    duckdb_vector column_keys = duckdb_struct_vector_get_child(column_kv, 0);
    duckdb_vector column_values = duckdb_struct_vector_get_child(column_kv, 1);
    for (idx_t r = 0; r < n; ++r) {
      if (!valid(names, r)) continue;
      FileStats& stats = files[varchar_at(names, r)];
      auto& df = stats.file;
      df.record_count = valid(counts, r) ? static_cast<int64_t>(count_data[r]) : 0;
      if (!valid(columns, r)) continue;
      Bounds bounds;
      const auto& e = column_entries[r];
      for (idx_t i = e.offset; i < e.offset + e.length; ++i) {
        if (!valid(column_keys, i)) continue;
        auto f = by_key.find(varchar_at(column_keys, i));
        if (f == by_key.end()) continue;  // nested leaf ("a"."b"): none, as from the footer
        int id = f->second->id;
        auto s = string_map_at(column_values, i);
        auto get = [&](const char* k) -> const std::string* {
          auto it = s.find(k);
          return it == s.end() ? nullptr : &it->second;
        };
        if (const auto* v = get("column_size_bytes")) df.column_sizes[id] = std::stoll(*v);
        // A top-level column has one value (or null) per row: the footer's num_values.
        df.value_counts[id] = df.record_count;
        if (const auto* v = get("null_count")) df.null_value_counts[id] = std::stoll(*v);
        // The footer has no float bounds when a NaN was written; RETURN_STATS gives the
        // bounds of the other values and has_nan.
        const auto* nan = get("has_nan");
        if (nan != nullptr && *nan != "false") continue;
        const auto* min = get("min");
        const auto* max = get("max");
        if (min == nullptr || max == nullptr) continue;
        auto lo = parse_stat_value(*f->second->type, *min);
        auto hi = parse_stat_value(*f->second->type, *max);
        if (!lo || !hi) continue;
        widen(bounds, id, std::move(*lo), std::move(*hi));
      }
      set_bounds(schema, bounds, stats);
    }
  }
  return files;
}

}  // namespace sluice::engine::detail

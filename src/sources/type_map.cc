// Source column types -> lake (Iceberg) types. The mapping table is in docs/sources.md; keep
// them in step.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "sources/sources_internal.h"

namespace sluice::sources::detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "character varying(20)" -> "character varying"; "timestamp(3) with time zone" ->
// "timestamp with time zone"; returns the parenthesised text (e.g. "12,2") in *args.
std::string strip_args(std::string_view t, std::string* args) {
  auto open = t.find('(');
  if (open == std::string_view::npos) return std::string(t);
  auto close = t.find(')', open);
  if (close == std::string_view::npos) return std::string(t);
  if (args) *args = std::string(t.substr(open + 1, close - open - 1));
  std::string out(t.substr(0, open));
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  out += t.substr(close + 1);
  return out;
}

Status unmappable(const SourceColumn& c, std::string_view why = {}) {
  return invalid_argument(
      fmt::format("column '{}' has type {}, which Sluice cannot map to an Iceberg type{}{}", c.name,
                  c.type, why.empty() ? "" : ": ", why));
}

Result<std::string> decimal_type(const SourceColumn& c, const std::string& args) {
  int p = 0, s = 0;
  int n = std::sscanf(args.c_str(), "%d,%d", &p, &s);
  if (n < 1) return unmappable(c);
  if (n == 1) s = 0;
  if (p < 1 || p > 38 || s < 0 || s > p) {
    return unmappable(c, "Iceberg decimals hold at most 38 digits");
  }
  return fmt::format("DECIMAL({},{})", p, s);
}

MappedColumn simple(const SourceColumn& c, std::string expr, std::string type) {
  MappedColumn m;
  m.name = c.name;
  m.source_expr = std::move(expr);
  m.csv_type = type;
  m.convert = "{}";
  m.lake_type = std::move(type);
  return m;
}

// PostgreSQL element/base types (no array). `q` is the quoted column.
Result<MappedColumn> pg_scalar(const SourceColumn& c, const std::string& q, const std::string& t,
                               const std::string& args) {
  if (c.is_enum) return simple(c, q, "VARCHAR");
  if (t == "smallint" || t == "integer") {
    auto m = simple(c, q, "INTEGER");
    m.integer_key = true;
    return m;
  }
  if (t == "bigint" || t == "oid") {
    auto m = simple(c, q, "BIGINT");
    m.integer_key = true;
    return m;
  }
  if (t == "real") return simple(c, q, "FLOAT");
  if (t == "double precision") return simple(c, q, "DOUBLE");
  if (t == "numeric") {
    // Unconstrained numeric has no fixed scale: its exact text is kept (documented).
    if (args.empty()) return simple(c, q, "VARCHAR");
    SLUICE_ASSIGN_OR_RETURN(auto d, decimal_type(c, args));
    return simple(c, q, d);
  }
  if (t == "boolean") return simple(c, q, "BOOLEAN");
  if (t == "text" || t == "character varying" || t == "character" || t == "name" ||
      t == "\"char\"" || t == "citext" || t == "json" || t == "jsonb" || t == "xml" ||
      t == "inet" || t == "cidr" || t == "macaddr" || t == "macaddr8") {
    return simple(c, q, "VARCHAR");
  }
  if (t == "uuid") return simple(c, q, "UUID");
  if (t == "date") {
    auto m = simple(c, q, "DATE");
    m.temporal = true;
    return m;
  }
  if (t == "timestamp without time zone" || t == "timestamp") {
    auto m = simple(c, q, "TIMESTAMP");
    m.temporal = true;
    return m;
  }
  if (t == "timestamp with time zone") {
    auto m = simple(c, q, "TIMESTAMPTZ");
    m.temporal = true;
    return m;
  }
  if (t == "time without time zone" || t == "time") return simple(c, q, "TIME");
  if (t == "bytea") {
    MappedColumn m;
    m.name = c.name;
    m.source_expr = fmt::format("encode({}, 'hex')", q);
    m.csv_type = "VARCHAR";
    m.convert = "unhex({})";
    m.lake_type = "BLOB";
    return m;
  }
  return unmappable(c);
}

}  // namespace

std::string pg_ident(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}
std::string duck_ident(std::string_view s) {
  return pg_ident(s);
}
std::string mysql_ident(std::string_view s) {
  std::string out = "`";
  for (char ch : s) {
    if (ch == '`') out += '`';
    out += ch;
  }
  return out + "`";
}
std::string sql_literal(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  return out + "'";
}

Result<MappedColumn> map_pg_column(const SourceColumn& c) {
  std::string q = pg_ident(c.name);
  std::string t = lower(c.type);
  bool is_array = t.size() > 2 && t.compare(t.size() - 2, 2, "[]") == 0;
  if (is_array) t.resize(t.size() - 2);
  std::string args;
  std::string base = strip_args(t, &args);
  if (!is_array) return pg_scalar(c, q, base, args);
  if (base == "bytea" || (base.size() > 2 && base.compare(base.size() - 2, 2, "[]") == 0)) {
    return unmappable(c, "arrays of bytea are not supported");
  }
  auto elem = pg_scalar(c, q, base, args);
  if (!elem.is_ok()) return elem.status();
  // Arrays travel as JSON text and are cast to a DuckDB list; multi-dimensional arrays fail the
  // cast and are reported (quarantine is per row only for CSV parse errors).
  MappedColumn m;
  m.name = c.name;
  m.source_expr = fmt::format("array_to_json({})::text", q);
  m.csv_type = "VARCHAR";
  m.convert = "CAST(CAST({} AS JSON) AS " + elem->lake_type + "[])";
  m.lake_type = elem->lake_type + "[]";
  return m;
}

Result<MappedColumn> map_mysql_column(const SourceColumn& c) {
  std::string q = mysql_ident(c.name);
  std::string t = lower(c.type);
  bool is_unsigned = t.find("unsigned") != std::string::npos;
  std::string args;
  std::string base = strip_args(t, &args);
  auto sp = base.find(' ');
  if (sp != std::string::npos) base.resize(sp);
  if (base == "tinyint" || base == "smallint" || base == "mediumint" ||
      (base == "int" && !is_unsigned)) {
    auto m = simple(c, q, "INTEGER");
    m.integer_key = true;
    return m;
  }
  if (base == "int" || (base == "bigint" && !is_unsigned)) {
    auto m = simple(c, q, "BIGINT");
    m.integer_key = true;
    return m;
  }
  if (base == "bigint") return simple(c, q, "DECIMAL(20,0)");
  if (base == "year") return simple(c, q, "INTEGER");
  if (base == "bit") return simple(c, fmt::format("CAST({} AS UNSIGNED)", q), "BIGINT");
  if (base == "decimal" || base == "numeric") {
    SLUICE_ASSIGN_OR_RETURN(auto d, decimal_type(c, args.empty() ? "10,0" : args));
    return simple(c, q, d);
  }
  if (base == "float") return simple(c, q, "FLOAT");
  if (base == "double" || base == "real") return simple(c, q, "DOUBLE");
  if (base == "date") {
    auto m = simple(c, q, "DATE");
    m.temporal = true;
    return m;
  }
  if (base == "datetime") {
    auto m = simple(c, q, "TIMESTAMP");
    m.temporal = true;
    return m;
  }
  if (base == "timestamp") {
    // Read in a session at time_zone '+00:00', so the text is UTC.
    auto m = simple(c, fmt::format("CONCAT({}, '+00')", q), "TIMESTAMPTZ");
    m.temporal = true;
    return m;
  }
  if (base == "time") return simple(c, q, "TIME");
  if (base == "char" || base == "varchar" || base == "tinytext" || base == "text" ||
      base == "mediumtext" || base == "longtext" || base == "enum" || base == "set" ||
      base == "json") {
    return simple(c, q, "VARCHAR");
  }
  if (base == "binary" || base == "varbinary" || base == "tinyblob" || base == "blob" ||
      base == "mediumblob" || base == "longblob") {
    MappedColumn m;
    m.name = c.name;
    m.source_expr = fmt::format("HEX({})", q);
    m.csv_type = "VARCHAR";
    m.convert = "unhex({})";
    m.lake_type = "BLOB";
    return m;
  }
  return unmappable(c);
}

std::vector<KeyRange> plan_chunks(int64_t min, int64_t max, int64_t estimated_rows,
                                  int64_t chunk_rows, int max_chunks) {
  if (chunk_rows <= 0 || estimated_rows <= chunk_rows || max <= min) return {KeyRange{}};
  int64_t n = (estimated_rows + chunk_rows - 1) / chunk_rows;
  n = std::min<int64_t>(n, max_chunks);
  // Width computed in unsigned arithmetic: max - min may exceed INT64_MAX.
  uint64_t span = static_cast<uint64_t>(max) - static_cast<uint64_t>(min) + 1;
  if (span != 0 && span < static_cast<uint64_t>(n)) n = static_cast<int64_t>(span);
  uint64_t step = span == 0 ? UINT64_MAX / static_cast<uint64_t>(n)  // the full int64 range
                            : span / static_cast<uint64_t>(n);
  std::vector<KeyRange> out;
  std::optional<int64_t> lo;  // first range open below
  for (int64_t i = 1; i < n; ++i) {
    uint64_t cut = static_cast<uint64_t>(min) + step * static_cast<uint64_t>(i);
    int64_t hi = static_cast<int64_t>(cut);
    if (lo && hi <= *lo) continue;
    out.push_back(KeyRange{lo, hi});
    lo = hi;
  }
  out.push_back(KeyRange{lo, std::nullopt});
  return out;
}

std::string range_condition(const KeyRange& r, std::string_view column) {
  if (r.lo && r.hi) return fmt::format("{0} >= {1} AND {0} < {2}", column, *r.lo, *r.hi);
  if (r.lo) return fmt::format("{} >= {}", column, *r.lo);
  if (r.hi) return fmt::format("{} < {}", column, *r.hi);
  return "";
}

void append_csv_field(std::string& out, const char* data, size_t len) {
  if (data == nullptr) return;
  out += '"';
  const char* p = data;
  const char* end = data + len;
  while (p < end) {
    const char* q = static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(end - p)));
    if (q == nullptr) {
      out.append(p, static_cast<size_t>(end - p));
      break;
    }
    out.append(p, static_cast<size_t>(q - p) + 1);
    out += '"';
    p = q + 1;
  }
  out += '"';
}

}  // namespace sluice::sources::detail

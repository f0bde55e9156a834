#include <fmt/format.h>

#include <cctype>

#include "engine/lake_types_internal.h"
#include "engine/sql_text_internal.h"

namespace sluice::engine::detail {

std::string duckdb_type(const lake::Type& t) {
  using K = lake::Type::Kind;
  switch (t.kind) {
    case K::kList:
      return duckdb_type(*t.fields.at(0).type) + "[]";
    case K::kMap:
      return fmt::format("MAP({}, {})", duckdb_type(*t.fields.at(0).type),
                         duckdb_type(*t.fields.at(1).type));
    case K::kStruct: {
      std::string out = "STRUCT(";
      for (size_t i = 0; i < t.fields.size(); ++i) {
        if (i > 0) out += ", ";
        out += quote_ident(t.fields[i].name) + " " + duckdb_type(*t.fields[i].type);
      }
      return out + ")";
    }
    case K::kPrimitive:
      break;
  }
  const std::string& p = t.primitive;
  if (p == "boolean") return "BOOLEAN";
  if (p == "int") return "INTEGER";
  if (p == "long") return "BIGINT";
  if (p == "float") return "FLOAT";
  if (p == "double") return "DOUBLE";
  if (p == "date") return "DATE";
  if (p == "time") return "TIME";
  if (p == "timestamp") return "TIMESTAMP";
  if (p == "timestamptz") return "TIMESTAMPTZ";
  if (p == "timestamp_ns") return "TIMESTAMP_NS";
  if (p == "timestamptz_ns") return "TIMESTAMPTZ";
  if (p == "string") return "VARCHAR";
  if (p == "uuid") return "UUID";
  if (p == "binary" || p.rfind("fixed", 0) == 0) return "BLOB";
  if (p.rfind("decimal", 0) == 0) {
    // decimal(P, S) -> DECIMAL(P,S)
    std::string inner = p.substr(p.find('(') + 1);
    inner.erase(inner.find(')'));
    std::string compact;
    for (char c : inner) {
      if (c != ' ') compact += c;
    }
    return "DECIMAL(" + compact + ")";
  }
  return "VARCHAR";
}

namespace {

// A cursor over a DuckDB type string.
struct TypeParser {
  std::string_view s;
  size_t i = 0;

  void ws() {
    while (i < s.size() && s[i] == ' ')
      ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string word() {
    ws();
    size_t b = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_'))
      ++i;
    return std::string(s.substr(b, i - b));
  }
  std::string name() {
    ws();
    if (i < s.size() && s[i] == '"') {
      std::string out;
      ++i;
      while (i < s.size()) {
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            out += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        out += s[i++];
      }
      return out;
    }
    return word();
  }
  // The text up to the matching ')' (exclusive), for ENUM('a','b') and DECIMAL(p,s).
  std::string until_close() {
    int depth = 1;
    size_t b = i;
    bool in_quote = false;
    while (i < s.size()) {
      char c = s[i];
      if (c == '\'') in_quote = !in_quote;
      if (!in_quote && c == '(') ++depth;
      if (!in_quote && c == ')' && --depth == 0) break;
      ++i;
    }
    std::string out(s.substr(b, i - b));
    if (i < s.size()) ++i;
    return out;
  }

  Result<lake::TypePtr> parse(int& next_id) {
    std::string w = word();
    std::string up;
    for (char c : w)
      up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    lake::TypePtr base;
    if (up == "STRUCT") {
      if (!eat('(')) return invalid_argument("STRUCT without fields");
      auto t = std::make_shared<lake::Type>();
      t->kind = lake::Type::Kind::kStruct;
      std::vector<std::pair<std::string, std::string>> pending;
      // Field ids of a struct's own fields come first, then their children.
      std::vector<size_t> starts;
      do {
        std::string n = name();
        lake::NestedField f;
        f.id = next_id++;
        f.name = n;
        t->fields.push_back(std::move(f));
        starts.push_back(i);
        // Skip the field type for now: parse it below once all sibling ids are taken.
        int depth = 0;
        while (i < s.size()) {
          if (s[i] == '(') ++depth;
          if (s[i] == ')' && depth-- == 0) break;
          if (s[i] == ',' && depth == 0) break;
          ++i;
        }
      } while (eat(','));
      if (!eat(')')) return invalid_argument(fmt::format("unterminated STRUCT in '{}'", s));
      size_t end = i;
      for (size_t k = 0; k < starts.size(); ++k) {
        i = starts[k];
        SLUICE_ASSIGN_OR_RETURN(t->fields[k].type, parse(next_id));
      }
      i = end;
      base = t;
    } else if (up == "MAP") {
      if (!eat('(')) return invalid_argument("MAP without types");
      auto t = std::make_shared<lake::Type>();
      t->kind = lake::Type::Kind::kMap;
      lake::NestedField k{.id = next_id++, .name = "key", .required = true};
      lake::NestedField v{.id = next_id++, .name = "value", .required = false};
      SLUICE_ASSIGN_OR_RETURN(k.type, parse(next_id));
      if (!eat(',')) return invalid_argument(fmt::format("MAP needs two types in '{}'", s));
      SLUICE_ASSIGN_OR_RETURN(v.type, parse(next_id));
      if (!eat(')')) return invalid_argument(fmt::format("unterminated MAP in '{}'", s));
      t->fields = {k, v};
      base = t;
    } else if (up == "DECIMAL" || up == "NUMERIC") {
      int p = 18, sc = 3;
      if (eat('(')) {
        std::string args = until_close();
        if (std::sscanf(args.c_str(), "%d , %d", &p, &sc) < 1) {
          return invalid_argument(fmt::format("bad DECIMAL arguments '{}'", args));
        }
      }
      base = lake::Type::of(fmt::format("decimal({}, {})", p, sc));
    } else if (up == "ENUM") {
      if (eat('(')) until_close();
      base = lake::Type::of("string");
    } else {
      std::string full = up;
      // Multi-word names: TIMESTAMP WITH TIME ZONE, DOUBLE PRECISION, CHARACTER VARYING.
      auto peek_word = [&]() {
        size_t save = i;
        std::string nw = word();
        i = save;
        std::string u;
        for (char c : nw)
          u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return u;
      };
      if (up == "TIMESTAMP" && peek_word() == "WITH") {
        word();
        word();
        word();
        full = "TIMESTAMPTZ";
      }
      if (up == "DOUBLE" && peek_word() == "PRECISION") word(), full = "DOUBLE";
      if ((up == "VARCHAR" || up == "CHAR") && eat('(')) until_close();
      static const std::pair<const char*, const char*> kMap[] = {
          {"BOOLEAN", "boolean"},
          {"BOOL", "boolean"},
          {"TINYINT", "int"},
          {"SMALLINT", "int"},
          {"INTEGER", "int"},
          {"INT", "int"},
          {"UTINYINT", "int"},
          {"USMALLINT", "int"},
          {"BIGINT", "long"},
          {"UINTEGER", "long"},
          {"FLOAT", "float"},
          {"REAL", "float"},
          {"DOUBLE", "double"},
          {"VARCHAR", "string"},
          {"TEXT", "string"},
          {"STRING", "string"},
          {"JSON", "string"},
          {"CHAR", "string"},
          {"BLOB", "binary"},
          {"BYTEA", "binary"},
          {"DATE", "date"},
          {"TIME", "time"},
          {"TIMESTAMP", "timestamp"},
          {"DATETIME", "timestamp"},
          {"TIMESTAMP_S", "timestamp"},
          {"TIMESTAMP_MS", "timestamp"},
          {"TIMESTAMP_NS", "timestamp"},
          {"TIMESTAMPTZ", "timestamptz"},
          {"UUID", "uuid"},
      };
      // 128-bit and unsigned 64-bit integers (e.g. DuckDB's sum(BIGINT)) become decimals.
      if (full == "HUGEINT" || full == "UHUGEINT") base = lake::Type::of("decimal(38, 0)");
      if (full == "UBIGINT") base = lake::Type::of("decimal(20, 0)");
      for (const auto& [d, ice] : kMap) {
        if (full == d) base = lake::Type::of(ice);
      }
      if (!base) {
        return invalid_argument(fmt::format(
            "DuckDB type {} has no Iceberg equivalent (Iceberg has boolean, int, long, float, "
            "double, decimal, date, time, timestamp, timestamptz, string, uuid, binary, struct, "
            "list, map); cast it first",
            full));
      }
    }
    // Trailing [] (list) or [N] (array): both are Iceberg lists.
    while (true) {
      ws();
      if (i < s.size() && s[i] == '[') {
        while (i < s.size() && s[i] != ']')
          ++i;
        ++i;
        auto t = std::make_shared<lake::Type>();
        t->kind = lake::Type::Kind::kList;
        lake::NestedField e{.id = next_id++, .name = "element", .required = false, .type = base};
        t->fields = {e};
        base = t;
        continue;
      }
      break;
    }
    return base;
  }
};

}  // namespace

Result<lake::TypePtr> iceberg_type(std::string_view duckdb_type_name, int& next_id) {
  TypeParser p{duckdb_type_name};
  return p.parse(next_id);
}

Result<lake::Schema> schema_from_columns(const std::vector<ColumnDef>& columns) {
  lake::Schema schema;
  int next_id = static_cast<int>(columns.size()) + 1;
  for (size_t i = 0; i < columns.size(); ++i) {
    const auto& c = columns[i];
    auto t = iceberg_type(c.duckdb_type, next_id);
    if (!t.is_ok()) return t.status().with_context(fmt::format("column '{}'", c.name));
    schema.fields.push_back(lake::NestedField{
        .id = static_cast<int>(i) + 1, .name = c.name, .required = c.not_null, .type = *t});
  }
  return schema;
}

}  // namespace sluice::engine::detail

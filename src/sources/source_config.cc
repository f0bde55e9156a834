// sources/<name>.toml: one file per source. Unknown keys and wrong types are errors that name
// the file, line and column, like sluice.toml's.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "sources/sources.h"

namespace sluice::sources {
namespace {

std::string where(std::string_view file, const toml::source_region& r) {
  return fmt::format("{}:{}:{}", file, r.begin.line, r.begin.column);
}

struct Reader {
  std::string_view file;

  Status bad(const toml::node& n, const std::string& msg) const {
    return invalid_argument(fmt::format("{}: {}", where(file, n.source()), msg));
  }
  Result<std::string> str(const toml::node& n, std::string_view key) const {
    if (auto v = n.value<std::string>()) return *v;
    return bad(n, fmt::format("key '{}' expects a string", key));
  }
  Result<int64_t> integer(const toml::node& n, std::string_view key, int64_t min,
                          int64_t max) const {
    auto v = n.value<int64_t>();
    if (!v || !n.is_integer()) return bad(n, fmt::format("key '{}' expects an integer", key));
    if (*v < min || *v > max) {
      return bad(n, fmt::format("key '{}' must be between {} and {}, got {}", key, min, max, *v));
    }
    return *v;
  }
};

Status parse_table(const Reader& r, const std::string& name, const toml::node& node,
                   TableConfig* t) {
  t->name = name;
  const auto* tbl = node.as_table();
  if (tbl == nullptr) return r.bad(node, fmt::format("[tables.{}] must be a table", name));
  for (const auto& [k, v] : *tbl) {
    std::string key(k.str());
    if (key == "cursor") {
      SLUICE_ASSIGN_OR_RETURN(t->cursor, r.str(v, key));
    } else if (key == "look_back") {
      SLUICE_ASSIGN_OR_RETURN(t->look_back, r.integer(v, key, 0, INT64_MAX / 4));
    } else if (key == "chunk_rows") {
      SLUICE_ASSIGN_OR_RETURN(t->chunk_rows, r.integer(v, key, 1000, INT64_MAX));
    } else if (key == "key") {
      const auto* arr = v.as_array();
      if (arr == nullptr) return r.bad(v, "key 'key' expects an array of column names");
      for (const auto& e : *arr) {
        SLUICE_ASSIGN_OR_RETURN(auto col, r.str(e, "key"));
        t->key.push_back(col);
      }
    } else {
      return r.bad(v, fmt::format("unknown key '{}' in [tables.{}]; known keys: cursor, "
                                  "look_back, key, chunk_rows",
                                  key, name));
    }
  }
  return Status::ok();
}

}  // namespace

Result<SourceConfig> parse_source_config(std::string_view text, std::string_view file,
                                         std::string name) {
  toml::table doc;
  try {
    doc = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return invalid_argument(
        fmt::format("{}: {}", where(file, e.source()), std::string(e.description())));
  }
  Reader r{file};
  SourceConfig c;
  c.name = std::move(name);
  c.file = std::string(file);
  bool has_type = false;
  for (const auto& [k, v] : doc) {
    std::string key(k.str());
    if (key == "type") {
      SLUICE_ASSIGN_OR_RETURN(auto t, r.str(v, key));
      if (t == "postgres" || t == "postgresql") {
        c.kind = SourceKind::kPostgres;
      } else if (t == "mysql" || t == "mariadb") {
        c.kind = SourceKind::kMysql;
      } else {
        return r.bad(v, fmt::format("unknown source type '{}'; use postgres or mysql", t));
      }
      has_type = true;
    } else if (key == "host") {
      SLUICE_ASSIGN_OR_RETURN(c.host, r.str(v, key));
    } else if (key == "port") {
      SLUICE_ASSIGN_OR_RETURN(auto p, r.integer(v, key, 1, 65535));
      c.port = static_cast<int>(p);
    } else if (key == "database") {
      SLUICE_ASSIGN_OR_RETURN(c.database, r.str(v, key));
    } else if (key == "schema") {
      SLUICE_ASSIGN_OR_RETURN(c.schema, r.str(v, key));
    } else if (key == "user") {
      SLUICE_ASSIGN_OR_RETURN(c.user, r.str(v, key));
    } else if (key == "password_env") {
      SLUICE_ASSIGN_OR_RETURN(c.password_env, r.str(v, key));
    } else if (key == "parallelism") {
      SLUICE_ASSIGN_OR_RETURN(auto p, r.integer(v, key, 1, 64));
      c.parallelism = static_cast<int>(p);
    } else if (key == "chunk_rows") {
      SLUICE_ASSIGN_OR_RETURN(c.chunk_rows, r.integer(v, key, 1000, INT64_MAX));
    } else if (key == "tables") {
      const auto* tbl = v.as_table();
      if (tbl == nullptr) return r.bad(v, "'tables' must be a table of [tables.<name>] sections");
      // toml++ iterates keys in sorted order; keep the file's order (load order).
      std::vector<std::pair<const toml::key*, const toml::node*>> entries;
      for (const auto& [tk, tv] : *tbl)
        entries.emplace_back(&tk, &tv);
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const auto& x = a.first->source().begin;
        const auto& y = b.first->source().begin;
        return x.line != y.line ? x.line < y.line : x.column < y.column;
      });
      for (const auto& [tk, tv] : entries) {
        TableConfig t;
        SLUICE_RETURN_IF_ERROR(parse_table(r, std::string(tk->str()), *tv, &t));
        c.tables.push_back(std::move(t));
      }
    } else if (key == "password") {
      return r.bad(v,
                   "passwords never go in source files; name an environment variable "
                   "with 'password_env'");
    } else {
      return r.bad(v, fmt::format("unknown key '{}'; known keys: type, host, port, database, "
                                  "schema, user, password_env, parallelism, chunk_rows, tables",
                                  key));
    }
  }
  if (!has_type) {
    return invalid_argument(fmt::format("{}: missing 'type' (postgres or mysql)", file));
  }
  if (c.database.empty()) return invalid_argument(fmt::format("{}: missing 'database'", file));
  if (c.tables.empty()) {
    return invalid_argument(fmt::format("{}: no tables; add [tables.<name>] sections", file));
  }
  bool pg = c.kind == SourceKind::kPostgres;
  if (c.port == 0) c.port = pg ? 5432 : 3306;
  if (c.schema.empty()) c.schema = pg ? "public" : c.database;
  if (c.password_env.empty()) c.password_env = pg ? "SLUICE_PG_PASSWORD" : "SLUICE_MYSQL_PASSWORD";
  return c;
}

Result<SourceConfig> load_source_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    return not_found(
        fmt::format("source file {} not found (sources are defined in "
                    "sources/<name>.toml; see docs/sources.md)",
                    file.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_source_config(ss.str(), file.string(), file.stem().string());
}

}  // namespace sluice::sources

// sources/<name>.toml: one file per source. Unknown keys and wrong types are errors that name
// the file, line and column, like sluice.toml's.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "sources/sources.h"
#include "sources/sources_internal.h"

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
    } else if (key == "pattern" || key == "format" || key == "delimiter" || key == "path" ||
               key == "records") {
      SLUICE_ASSIGN_OR_RETURN(auto s, r.str(v, key));
      if (key == "format" && s != "csv" && s != "jsonl" && s != "parquet") {
        return r.bad(v, fmt::format("unknown format '{}'; use csv, jsonl or parquet", s));
      }
      if (key == "delimiter" && s.size() != 1) {
        return r.bad(v, "key 'delimiter' expects one character");
      }
      (key == "pattern"     ? t->pattern
       : key == "format"    ? t->format
       : key == "delimiter" ? t->delimiter
       : key == "path"      ? t->path
                            : t->records) = s;
    } else if (key == "header") {
      auto b = v.value<bool>();
      if (!b || !v.is_boolean()) return r.bad(v, "key 'header' expects true or false");
      t->header = *b;
    } else if (key == "key") {
      const auto* arr = v.as_array();
      if (arr == nullptr) return r.bad(v, "key 'key' expects an array of column names");
      for (const auto& e : *arr) {
        SLUICE_ASSIGN_OR_RETURN(auto col, r.str(e, "key"));
        t->key.push_back(col);
      }
    } else {
      return r.bad(v, fmt::format("unknown key '{}' in [tables.{}]; known keys: cursor, "
                                  "look_back, key, chunk_rows (files: pattern, format, "
                                  "delimiter, header; rest: path, records)",
                                  key, name));
    }
  }
  return Status::ok();
}

Status parse_cdc(const Reader& r, const toml::node& node, CdcConfig* c) {
  const auto* tbl = node.as_table();
  if (tbl == nullptr) return r.bad(node, "[cdc] must be a table");
  for (const auto& [k, v] : *tbl) {
    std::string key(k.str());
    if (key == "enabled") {
      auto b = v.value<bool>();
      if (!b || !v.is_boolean()) return r.bad(v, "key 'enabled' in [cdc] expects true or false");
      c->enabled = *b;
      c->options[key] = *b ? "true" : "false";
      continue;
    }
    if (key == "slot" || key == "publication") {
      SLUICE_ASSIGN_OR_RETURN(auto s, r.str(v, key));
      bool ok = !s.empty() && s.size() <= 63;
      for (char ch : s)
        ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
      if (!ok) {
        return r.bad(v, fmt::format("key '{}' in [cdc] must be 1 to 63 characters of a-z, 0-9 "
                                    "and _, got '{}'",
                                    key, s));
      }
      (key == "slot" ? c->slot : c->publication) = s;
      c->options[key] = s;
    } else if (key == "server_id") {
      SLUICE_ASSIGN_OR_RETURN(c->server_id, r.integer(v, key, 1, 4294967295LL));
      c->options[key] = std::to_string(c->server_id);
    } else if (key == "heartbeat_ms") {
      SLUICE_ASSIGN_OR_RETURN(c->heartbeat_ms, r.integer(v, key, 100, 3600000));
      c->options[key] = std::to_string(c->heartbeat_ms);
    } else if (key == "max_retained_wal_mb") {
      SLUICE_ASSIGN_OR_RETURN(c->max_retained_wal_mb, r.integer(v, key, 1, INT64_MAX / (1 << 20)));
      c->options[key] = std::to_string(c->max_retained_wal_mb);
    } else if (v.is_string() || v.is_integer() || v.is_boolean()) {
      // Reader-specific keys (e.g. a MariaDB reader's start position) are kept as text.
      if (auto s = v.value<std::string>(); s && v.is_string()) {
        c->options[key] = *s;
      } else if (v.is_integer()) {
        c->options[key] = std::to_string(*v.value<int64_t>());
      } else {
        c->options[key] = *v.value<bool>() ? "true" : "false";
      }
    } else {
      return r.bad(v,
                   fmt::format("key '{}' in [cdc] expects a string, an integer or a boolean", key));
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
      } else if (t == "files") {
        c.kind = SourceKind::kFiles;
      } else if (t == "rest") {
        c.kind = SourceKind::kRest;
      } else {
        return r.bad(
            v, fmt::format("unknown source type '{}'; use postgres, mysql, files or rest", t));
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
    } else if (key == "cdc") {
      SLUICE_RETURN_IF_ERROR(parse_cdc(r, v, &c.cdc));
    } else if (key == "folder" || key == "base_url" || key == "pagination" ||
               key == "auth_header" || key == "auth_prefix" || key == "token_env" ||
               key == "cursor_field") {
      SLUICE_ASSIGN_OR_RETURN(auto s, r.str(v, key));
      if (key == "pagination" && s != "offset" && s != "cursor" && s != "link") {
        return r.bad(v, fmt::format("unknown pagination '{}'; use offset, cursor or link", s));
      }
      (key == "folder"        ? c.folder
       : key == "base_url"    ? c.base_url
       : key == "pagination"  ? c.pagination
       : key == "auth_header" ? c.auth_header
       : key == "auth_prefix" ? c.auth_prefix
       : key == "token_env"   ? c.token_env
                              : c.cursor_field) = s;
    } else if (key == "settle_ms") {
      SLUICE_ASSIGN_OR_RETURN(c.settle_ms, r.integer(v, key, 0, 86400000));
    } else if (key == "page_size") {
      SLUICE_ASSIGN_OR_RETURN(c.page_size, r.integer(v, key, 1, 100000));
    } else if (key == "max_retries") {
      SLUICE_ASSIGN_OR_RETURN(c.max_retries, r.integer(v, key, 0, 100));
    } else if (key == "rate_limit_per_s") {
      auto d = v.value<double>();
      if (!d || !(v.is_floating_point() || v.is_integer()) || *d < 0) {
        return r.bad(v, "key 'rate_limit_per_s' expects a number >= 0");
      }
      c.rate_limit_per_s = *d;
    } else if (key == "token") {
      return r.bad(v,
                   "tokens never go in source files; name an environment variable with "
                   "'token_env'");
    } else if (key == "password") {
      return r.bad(v,
                   "passwords never go in source files; name an environment variable "
                   "with 'password_env'");
    } else {
      return r.bad(v,
                   fmt::format("unknown key '{}'; known keys: type, host, port, database, "
                               "schema, user, password_env, parallelism, chunk_rows, tables, cdc "
                               "(files: folder, settle_ms; rest: base_url, pagination, page_size, "
                               "auth_header, auth_prefix, token_env, rate_limit_per_s, "
                               "max_retries, cursor_field)",
                               key));
    }
  }
  if (!has_type) {
    return invalid_argument(
        fmt::format("{}: missing 'type' (postgres, mysql, files or rest)", file));
  }
  if (c.kind == SourceKind::kFiles || c.kind == SourceKind::kRest) {
    SLUICE_RETURN_IF_ERROR(detail::validate_file_rest_source(c));
    return c;
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

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "gateway/sql_scan_internal.h"

namespace sluice::gateway::detail {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         (static_cast<unsigned char>(c) & 0x80);
}

std::string quote_literal(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n')
        ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      size_t e = s.find("*/", i + 2);
      i = e == std::string_view::npos ? s.size() : e + 2;
      continue;
    }
    Token t;
    t.begin = i;
    bool estring = (c == 'e' || c == 'E') && i + 1 < s.size() && s[i + 1] == '\'';
    if (c == '\'' || estring) {
      t.kind = Token::kString;
      size_t j = i + (estring ? 2 : 1);
      while (j < s.size()) {
        if (estring && s[j] == '\\' && j + 1 < s.size()) {
          t.text += s[j + 1];
          j += 2;
          continue;
        }
        if (s[j] == '\'') {
          if (j + 1 < s.size() && s[j + 1] == '\'') {
            t.text += '\'';
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        t.text += s[j++];
      }
      i = j;
    } else if (c == '"') {
      t.kind = Token::kQuoted;
      size_t j = i + 1;
      while (j < s.size()) {
        if (s[j] == '"') {
          if (j + 1 < s.size() && s[j + 1] == '"') {
            t.text += '"';
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        t.text += s[j++];
      }
      i = j;
    } else if (c == '$' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      t.kind = Token::kParam;
      size_t j = i + 1;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])))
        ++j;
      t.text = std::string(s.substr(i + 1, j - i - 1));
      i = j;
    } else if (c == '$') {
      // Dollar quoting: $tag$ ... $tag$.
      size_t close = s.find('$', i + 1);
      if (close == std::string_view::npos) {
        t.kind = Token::kSymbol;
        t.text = "$";
        ++i;
      } else {
        std::string tag(s.substr(i, close - i + 1));
        size_t e = s.find(tag, close + 1);
        t.kind = Token::kString;
        if (e == std::string_view::npos) {
          t.text = std::string(s.substr(close + 1));
          i = s.size();
        } else {
          t.text = std::string(s.substr(close + 1, e - close - 1));
          i = e + tag.size();
        }
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      t.kind = Token::kNumber;
      size_t j = i;
      while (j < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
              ((s[j] == '+' || s[j] == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
        ++j;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (word_char(c)) {
      t.kind = Token::kWord;
      size_t j = i;
      while (j < s.size() && word_char(s[j]))
        ++j;
      t.text = lower(s.substr(i, j - i));
      i = j;
    } else {
      t.kind = Token::kSymbol;
      static constexpr std::string_view kTwo[] = {"::", "<=", ">=", "<>", "!=", "||",
                                                  "=>", "!~", "->", "~~", "**"};
      t.text = std::string(1, c);
      for (auto two : kTwo) {
        if (s.substr(i, 2) == two) t.text = std::string(two);
      }
      i += t.text.size();
    }
    t.end = i;
    out.push_back(std::move(t));
  }
  return out;
}

StatementKind classify(const std::vector<Token>& t) {
  size_t n = t.size();
  while (n > 0 && t[n - 1].sym(";"))
    --n;
  if (n == 0) return StatementKind::kEmpty;
  const auto& w = t[0];
  if (w.is("begin") || (w.is("start") && n > 1 && t[1].is("transaction"))) {
    return StatementKind::kBegin;
  }
  if (w.is("commit") || w.is("end")) return StatementKind::kCommit;
  if (w.is("rollback") || w.is("abort")) return StatementKind::kRollback;
  if (w.is("savepoint") || w.is("release")) return StatementKind::kBegin;  // accepted, no effect
  if (w.is("set")) {
    // SET TRANSACTION ... / SET SESSION CHARACTERISTICS: accepted.
    return StatementKind::kSet;
  }
  if (w.is("reset")) return StatementKind::kReset;
  if (w.is("show")) {
    // SHOW TABLES / SHOW ALL TABLES are DuckDB's; PostgreSQL's SHOW reads a setting.
    if (n > 1 && (t[1].is("tables") || (t[1].is("all") && n > 2 && t[2].is("tables")))) {
      return StatementKind::kOther;
    }
    return StatementKind::kShow;
  }
  if (w.is("declare")) return StatementKind::kDeclareCursor;
  if (w.is("fetch")) return StatementKind::kFetch;
  if (w.is("close")) return StatementKind::kCloseCursor;
  if (w.is("discard")) return StatementKind::kDiscard;
  if (w.is("deallocate")) return StatementKind::kDeallocate;
  if (w.is("listen") || w.is("unlisten") || w.is("notify")) return StatementKind::kListen;
  if (w.is("copy")) {
    for (size_t i = 1; i + 1 < n; ++i)
      if (t[i].is("to") && t[i + 1].is("stdout")) return StatementKind::kCopyToStdout;
    return StatementKind::kOther;
  }
  if (w.is("select") || w.is("with") || w.is("from") || w.is("values") || w.is("table") ||
      w.sym("(")) {
    // WITH ... INSERT/DELETE is not a relation; DuckDB does not support it anyway.
    return StatementKind::kQuery;
  }
  return StatementKind::kOther;
}

std::optional<std::string> schema_target(const std::vector<Token>& t) {
  if (t.size() < 3) return std::nullopt;
  if (!(t[0].is("create") || t[0].is("drop"))) return std::nullopt;
  if (!(t[1].is("schema") || t[1].is("namespace"))) return std::nullopt;
  size_t k = 2;
  if (t[k].is("if")) k += t[0].is("create") ? 3 : 2;
  if (k < t.size() && t[k].ident()) return t[k].text;
  return std::nullopt;
}

int max_param(const std::vector<Token>& t) {
  int m = 0;
  for (const auto& tok : t)
    if (tok.kind == Token::kParam) m = std::max(m, std::atoi(tok.text.c_str()));
  return m;
}

std::string substitute_params(std::string_view sql, const std::vector<Token>& t,
                              const std::vector<std::optional<std::string>>& values,
                              const std::vector<std::string>& casts) {
  std::string out;
  size_t copied = 0;
  for (const auto& tok : t) {
    if (tok.kind != Token::kParam) continue;
    size_t n = static_cast<size_t>(std::atoi(tok.text.c_str()));
    if (n == 0 || n > values.size()) continue;
    out.append(sql.substr(copied, tok.begin - copied));
    const auto& v = values[n - 1];
    const std::string cast = n <= casts.size() ? casts[n - 1] : "";
    if (!v) {
      out += cast.empty() ? "NULL" : fmt::format("CAST(NULL AS {})", cast);
    } else if (cast.empty()) {
      out += quote_literal(*v);
    } else {
      out += fmt::format("CAST({} AS {})", quote_literal(*v), cast);
    }
    copied = tok.end;
  }
  out.append(sql.substr(copied));
  return out;
}

namespace {

// Catalog relations and functions Sluice defines in schema sluice_pg (see pg_catalog.cc).
const std::set<std::string>& overridden() {
  static const std::set<std::string> k = {
      "pg_class",
      "pg_namespace",
      "pg_attribute",
      "pg_type",
      "pg_database",
      "pg_roles",
      "pg_user",
      "pg_authid",
      "pg_attrdef",
      "pg_description",
      "pg_index",
      "pg_constraint",
      "pg_inherits",
      "pg_am",
      "pg_collation",
      "pg_proc",
      "pg_tables",
      "pg_views",
      "pg_settings",
      "pg_enum",
      "pg_range",
      "pg_extension",
      "pg_tablespace",
      "pg_stat_activity",
      "pg_matviews",
      "pg_sequence",
      "pg_depend",
      "pg_trigger",
      "pg_policy",
      "pg_statistic_ext",
      "pg_publication",
      "pg_publication_rel",
      "pg_publication_namespace",
      "pg_foreign_table",
      "pg_partitioned_table",
      "pg_rewrite",
      "pg_event_trigger",
      "pg_foreign_data_wrapper",
      "pg_foreign_server",
      "pg_operator",
      "pg_cast",
      "pg_language",
      "pg_shdescription",
      "pg_auth_members",
      "pg_db_role_setting",
      "pg_default_acl",
      "pg_init_privs",
      "pg_conversion",
      "pg_opclass",
      "pg_aggregate",
      "pg_indexes",
      // functions
      "pg_get_userbyid",
      "format_type",
      "pg_table_is_visible",
      "pg_type_is_visible",
      "pg_function_is_visible",
      "pg_get_expr",
      "pg_encoding_to_char",
      "version",
      "current_schema",
      "current_schemas",
      "pg_get_indexdef",
      "pg_get_constraintdef",
      "obj_description",
      "col_description",
      "shobj_description",
      "pg_get_viewdef",
      "has_table_privilege",
      "has_schema_privilege",
      "has_database_privilege",
      "pg_is_in_recovery",
      "pg_backend_pid",
      "pg_postmaster_start_time",
      "current_setting",
      "pg_total_relation_size",
      "pg_relation_size",
      "pg_table_size",
      "pg_size_pretty",
      "array_upper",
      "array_lower",
      "pg_get_partkeydef",
      "pg_get_statisticsobjdef_columns",
      "txid_current",
      "pg_get_serial_sequence",
      "pg_get_function_identity_arguments",
      "pg_get_function_result",
      "pg_get_function_arguments",
      "quote_ident",
      "quote_literal",
      "parse_ident",
      "pg_has_role",
      "current_user",
      "session_user",
      "current_database",
      "pg_current_xact_id",
      "pg_tablespace_location",
      "pg_relation_is_publishable",
      "pg_column_is_updatable",
  };
  return k;
}

const std::set<std::string>& empty_catalogs() {
  static const std::set<std::string> k = {"pg_policy",
                                          "pg_statistic_ext",
                                          "pg_publication",
                                          "pg_publication_rel",
                                          "pg_publication_namespace",
                                          "pg_inherits",
                                          "pg_trigger",
                                          "pg_rewrite",
                                          "pg_foreign_table",
                                          "pg_partitioned_table",
                                          "pg_event_trigger",
                                          "pg_constraint",
                                          "pg_index",
                                          "pg_depend",
                                          "pg_collation",
                                          "pg_extension",
                                          "pg_enum",
                                          "pg_range",
                                          "pg_foreign_data_wrapper",
                                          "pg_foreign_server",
                                          "pg_operator",
                                          "pg_cast",
                                          "pg_opclass",
                                          "pg_aggregate",
                                          "pg_default_acl",
                                          "pg_init_privs",
                                          "pg_auth_members",
                                          "pg_db_role_setting",
                                          "pg_statistic_ext_data",
                                          "pg_sequence",
                                          "pg_largeobject_metadata"};
  return k;
}

// PostgreSQL functions DuckDB has under another name.
std::string renamed_function(const std::string& name) {
  if (name == "json_build_object" || name == "jsonb_build_object") return "json_object";
  if (name == "json_build_array" || name == "jsonb_build_array") return "json_array";
  if (name == "json_agg" || name == "jsonb_agg") return "json_group_array";
  if (name == "to_regclass") return "sluice_pg.regclass_oid";
  return name;
}

// Type names in casts: what DuckDB calls them.
std::string cast_type(const std::string& name) {
  if (name == "oid" || name == "regproc" || name == "regprocedure" || name == "xid" ||
      name == "cid" || name == "tid" || name == "regnamespace" || name == "regrole" ||
      name == "regoper" || name == "regconfig") {
    return "BIGINT";
  }
  if (name == "text" || name == "name" || name == "char" || name == "bpchar" ||
      name == "int2vector" || name == "oidvector" || name == "pg_node_tree" || name == "aclitem" ||
      name == "regdictionary") {
    return "VARCHAR";
  }
  if (name == "int2") return "SMALLINT";
  if (name == "int4") return "INTEGER";
  if (name == "int8") return "BIGINT";
  if (name == "float4") return "FLOAT";
  if (name == "float8") return "DOUBLE";
  if (name == "bool") return "BOOLEAN";
  return "";
}

// A PostgreSQL regex (matches anywhere) as a DuckDB full-match pattern literal.
std::string full_match_pattern(std::string pattern) {
  if (pattern.empty() || pattern[0] != '^') pattern = ".*" + pattern;
  if (pattern.back() != '$') pattern += ".*";
  std::string quoted = "'";
  for (char c : pattern) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

// `x::regclass` / `x::regtype` -> sluice_pg lookups. One pass handles the casts whose operand
// was not itself rewritten in that pass; the caller repeats until nothing changes.
std::string rewrite_reg_casts_once(std::string_view sql) {
  auto t = tokenize(sql);
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!(t[i].sym("::") && i + 1 < t.size() && t[i + 1].ident())) continue;
    size_t name_at = i + 1;
    if (t[name_at].text == "pg_catalog" && i + 3 < t.size() && t[i + 2].sym(".")) name_at = i + 3;
    const std::string& name = t[name_at].text;
    if (name == "regclass" || name == "regtype") {
      // The operand: one token, or a.b.
      if (i == 0) continue;
      size_t op_begin = i - 1;
      if (t[op_begin].sym(")")) {
        // A parenthesized operand or a call: back to the matching '(' and the function name.
        int depth = 0;
        size_t k = op_begin;
        while (true) {
          if (t[k].sym(")")) ++depth;
          if (t[k].sym("(") && --depth == 0) break;
          if (k == 0) break;
          --k;
        }
        op_begin = k;
        if (op_begin >= 1 && t[op_begin - 1].ident()) --op_begin;
      }
      if (op_begin >= 2 && t[op_begin - 1].sym(".") && t[op_begin - 2].ident()) op_begin -= 2;
      std::string operand(sql.substr(t[op_begin].begin, t[i - 1].end - t[op_begin].begin));
      bool literal =
          t[i - 1].kind == Token::kString || t[i - 1].kind == Token::kParam ||
          (name_at + 2 < t.size() && t[name_at + 1].sym("::") &&
           (t[name_at + 2].is("oid") || t[name_at + 2].is("int4") || t[name_at + 2].is("int8")));
      std::string fn = name == "regclass"
                           ? (literal ? "sluice_pg.regclass_oid" : "sluice_pg.regclass_name")
                           : (literal ? "sluice_pg.regtype_oid" : "sluice_pg.regtype_name");
      if (t[op_begin].begin >= copied) {
        out.append(sql.substr(copied, t[op_begin].begin - copied));
        out += fn + "(" + operand + ")";
        copied = t[name_at].end;
        i = name_at;
        continue;
      }
    }
  }
  out.append(sql.substr(copied));
  return out;
}

// Words that end a FROM item (so they are not its alias) or the FROM list.
bool ends_from_item(const Token& tok) {
  static const std::set<std::string> k = {
      "where",     "group",  "order",   "limit",   "offset",  "having", "union", "except",
      "intersect", "window", "qualify", "on",      "using",   "join",   "inner", "left",
      "right",     "full",   "cross",   "natural", "lateral", "for",    "fetch", "returning"};
  return tok.kind == Token::kWord && k.count(tok.text) > 0;
}

// PostgreSQL lets a scalar function stand in FROM as a one-column relation named by its alias,
// as in Grafana's search_path query: `FROM generate_series(array_lower(a,1), array_upper(a,1))
// as i, string_to_array(current_setting('search_path'),',') s`. DuckDB has no such table
// function (string_to_array) or refuses subqueries in a table function's arguments
// (current_setting reads a table), so `f(args) [AS] x` becomes `(SELECT f(args) AS x) AS x`,
// with unnest() for the set-returning generate_series. Only aliased items without a column
// list are rewritten.
std::string rewrite_from_functions(std::string_view sql) {
  auto t = tokenize(sql);
  struct Level {
    bool query = false;    // a (sub)query's level, where FROM is a clause
    bool in_from = false;  // between FROM and the end of its list
  };
  std::vector<Level> levels = {{true, false}};
  std::string out;
  size_t copied = 0;
  auto starts_item = [&](size_t j) {
    const Token& f = t[j];
    if (f.kind != Token::kWord || j + 1 >= t.size() || !t[j + 1].sym("(")) return size_t{0};
    if (f.text != "generate_series" && f.text != "string_to_array" &&
        f.text != "regexp_split_to_array")
      return size_t{0};
    size_t close = j + 1;
    int depth = 0;
    for (; close < t.size(); ++close) {
      if (t[close].sym("(")) ++depth;
      if (t[close].sym(")") && --depth == 0) break;
    }
    if (close >= t.size()) return size_t{0};
    return close;
  };
  for (size_t i = 0; i < t.size(); ++i) {
    Level& level = levels.back();
    if (t[i].sym("(")) {
      bool query = i + 1 < t.size() && (t[i + 1].is("select") || t[i + 1].is("with"));
      levels.push_back({query, false});
      continue;
    }
    if (t[i].sym(")")) {
      if (levels.size() > 1) levels.pop_back();
      continue;
    }
    if (!level.query) continue;
    bool item_start = false;
    if ((t[i].is("from") && !(i > 0 && t[i - 1].is("distinct"))) || t[i].is("join")) {
      level.in_from = true;
      item_start = true;
    } else if (level.in_from && t[i].sym(",")) {
      item_start = true;
    } else if (ends_from_item(t[i]) || t[i].sym(";")) {
      level.in_from = false;
    }
    if (!item_start || i + 1 >= t.size()) continue;
    size_t j = i + 1;
    size_t close = starts_item(j);
    if (close == 0) continue;
    size_t alias_at = close + 1;
    if (alias_at < t.size() && t[alias_at].is("as")) ++alias_at;
    if (alias_at >= t.size() || !t[alias_at].ident() || ends_from_item(t[alias_at])) continue;
    if (alias_at + 1 < t.size() && t[alias_at + 1].sym("(")) continue;  // a column list
    std::string call(sql.substr(t[j].begin, t[close].end - t[j].begin));
    std::string alias(sql.substr(t[alias_at].begin, t[alias_at].end - t[alias_at].begin));
    if (t[j].text == "generate_series") call = "unnest(" + call + ")";
    out.append(sql.substr(copied, t[j].begin - copied));
    out += "(SELECT " + call + " AS " + alias + ") AS " + alias;
    copied = t[alias_at].end;
    i = alias_at;
  }
  out.append(sql.substr(copied));
  return out;
}

}  // namespace

bool mentions_catalog(const std::vector<Token>& t) {
  for (const auto& tok : t) {
    if (!tok.ident()) continue;
    if (tok.text == "pg_catalog" || tok.text == "information_schema") return true;
    if (tok.text.rfind("pg_", 0) == 0 && overridden().count(tok.text) > 0) return true;
  }
  return false;
}

bool mentions_empty_catalog(const std::vector<Token>& t) {
  for (const auto& tok : t)
    if (tok.ident() && empty_catalogs().count(tok.text) > 0) return true;
  return false;
}

std::optional<std::string> pg_bytea_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || (text[1] != 'x' && text[1] != 'X')) return {};
  std::string hex;
  for (char c : text.substr(2)) {
    if (std::isspace(static_cast<unsigned char>(c)))
      continue;  // PostgreSQL allows it between pairs
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    hex += c;
  }
  if (hex.size() % 2 != 0) return {};
  return hex;
}

std::string rewrite_pg_syntax(std::string_view sql) {
  auto t = tokenize(sql);
  std::string out;
  size_t copied = 0;
  auto emit = [&](size_t from_tok, size_t to_tok_exclusive, const std::string& text) {
    out.append(sql.substr(copied, t[from_tok].begin - copied));
    out += text;
    copied = t[to_tok_exclusive - 1].end;
  };
  for (size_t i = 0; i < t.size(); ++i) {
    // OPERATOR(pg_catalog.~) -> ~
    if (t[i].is("operator") && i + 2 < t.size() && t[i + 1].sym("(")) {
      size_t close = i + 2;
      while (close < t.size() && !t[close].sym(")"))
        ++close;
      if (close < t.size() && close >= i + 3) {
        const std::string& op = t[close - 1].text;
        if ((op == "~" || op == "!~") && close + 1 < t.size() &&
            t[close + 1].kind == Token::kString) {
          emit(i, close + 2, " " + op + " " + full_match_pattern(t[close + 1].text));
          i = close + 1;
          continue;
        }
        emit(i, close + 1, " " + op + " ");
        i = close;
        continue;
      }
    }
    // PostgreSQL's ~ finds the pattern anywhere; DuckDB's ~ matches the whole string.
    if ((t[i].sym("~") || t[i].sym("!~")) && i + 1 < t.size() && t[i + 1].kind == Token::kString) {
      emit(i, i + 2, t[i].text + " " + full_match_pattern(t[i + 1].text));
      i += 1;
      continue;
    }
    // COLLATE pg_catalog.default / COLLATE "C" -> nothing
    if (t[i].is("collate") && i + 1 < t.size()) {
      size_t last = i + 1;
      if (i + 3 < t.size() && t[i + 2].sym(".")) last = i + 3;
      emit(i, last + 1, "");
      i = last;
      continue;
    }
    // PostgreSQL's hex bytea input ('\x0102'::bytea, the way psycopg2 sends bytes) ->
    // from_hex('0102'): DuckDB reads '\x01' escapes per byte, so '\x0102' would be 3 bytes.
    if (t[i].kind == Token::kString && i + 2 < t.size() && t[i + 1].sym("::") &&
        (t[i + 2].text == "bytea" ||
         (t[i + 2].text == "pg_catalog" && i + 4 < t.size() && t[i + 4].text == "bytea"))) {
      if (auto hex = pg_bytea_hex(t[i].text)) {
        emit(i, i + 1, "from_hex('" + *hex + "')");
        continue;
      }
    }
    // ::[pg_catalog.]type
    if (t[i].sym("::") && i + 1 < t.size() && t[i + 1].ident()) {
      size_t name_at = i + 1;
      if (t[name_at].text == "pg_catalog" && i + 3 < t.size() && t[i + 2].sym(".")) name_at = i + 3;
      const std::string& name = t[name_at].text;
      bool is_array = name_at + 2 < t.size() && t[name_at + 1].sym("[") && t[name_at + 2].sym("]");
      if (name == "regclass" || name == "regtype") {
        i = name_at;  // rewritten by rewrite_reg_casts()
        continue;
      }
      std::string mapped = cast_type(name);
      if (!mapped.empty() || name_at != i + 1) {
        if (mapped.empty())
          mapped = std::string(sql.substr(t[name_at].begin, t[name_at].end - t[name_at].begin));
        emit(i, name_at + 1, "::" + mapped);
        i = name_at;
        (void)is_array;
        continue;
      }
    }
    // pg_catalog.X / information_schema.X / unqualified overridden X.
    if (t[i].ident() && i + 2 < t.size() && t[i + 1].sym(".") && t[i + 2].ident() &&
        (i == 0 || !t[i - 1].sym("."))) {
      const std::string& schema = t[i].text;
      const std::string& name = t[i + 2].text;
      if (schema == "pg_catalog" &&
          (name == "current_schema" || name == "current_user" || name == "session_user")) {
        bool call = i + 4 < t.size() && t[i + 3].sym("(") && t[i + 4].sym(")");
        emit(i, call ? i + 5 : i + 3,
             name == "current_schema" ? "sluice_pg.cur_schema()" : "sluice_pg.login_user()");
        i += call ? 4 : 2;
        continue;
      }
      if (schema == "pg_catalog" && overridden().count(name) > 0) {
        emit(i, i + 3, "sluice_pg." + name);
        i += 2;
        continue;
      }
      if (schema == "pg_catalog") {
        // Anything else DuckDB's pg_catalog or built-ins provide: drop the qualifier so that
        // plain functions (pg_catalog.lower, pg_catalog.generate_series) resolve.
        emit(i, i + 3, renamed_function(name));
        i += 2;
        continue;
      }
      if (schema == "information_schema" &&
          (name == "tables" || name == "columns" || name == "schemata" || name == "views")) {
        emit(i, i + 3, "sluice_pg.is_" + name);
        i += 2;
        continue;
      }
      i += 2;
      continue;
    }
    if (t[i].kind == Token::kWord && i + 1 < t.size() && t[i + 1].sym("(") &&
        renamed_function(t[i].text) != t[i].text && (i == 0 || !t[i - 1].sym("."))) {
      emit(i, i + 1, renamed_function(t[i].text));
      continue;
    }
    // The bare keyword USER (PostgreSQL's current_user) where an expression starts.
    if (t[i].is("user") && i > 0 &&
        (t[i - 1].is("select") || t[i - 1].is("then") || t[i - 1].is("else") ||
         t[i - 1].is("when") || t[i - 1].sym(",") || t[i - 1].sym("(") || t[i - 1].sym("=")) &&
        !(i + 1 < t.size() && (t[i + 1].sym("(") || t[i + 1].sym(".")))) {
      emit(i, i + 1, "sluice_pg.login_user()");
      continue;
    }
    if (t[i].kind == Token::kWord && overridden().count(t[i].text) > 0 &&
        (i == 0 || !t[i - 1].sym(".")) && !(i > 0 && t[i - 1].sym("::"))) {
      bool is_call = i + 1 < t.size() && t[i + 1].sym("(");
      bool is_rel = t[i].text.rfind("pg_", 0) == 0 && !is_call;
      const std::string& n = t[i].text;
      if (n == "current_user" || n == "session_user") {
        if (is_call && i + 2 < t.size() && t[i + 2].sym(")")) {
          emit(i, i + 3, "sluice_pg.login_user()");
          i += 2;
        } else {
          emit(i, i + 1, "sluice_pg.login_user()");
        }
        continue;
      }
      if (n == "current_schema") {
        if (is_call && i + 2 < t.size() && t[i + 2].sym(")")) {
          emit(i, i + 3, "sluice_pg.cur_schema()");
          i += 2;
        } else if (!is_call) {
          emit(i, i + 1, "sluice_pg.cur_schema()");
        }
        continue;
      }
      if (is_call || is_rel) {
        emit(i, i + 1, "sluice_pg." + n);
        continue;
      }
    }
  }
  out.append(sql.substr(copied));
  for (int pass = 0; pass < 8; ++pass) {
    std::string next = rewrite_reg_casts_once(out);
    if (next == out) break;
    out = std::move(next);
  }
  return rewrite_from_functions(out);
}

std::string forbidden_feature(const std::vector<Token>& t) {
  if (t.empty()) return "";
  static const std::set<std::string> kStatements = {
      "attach",     "detach", "install", "load",   "export", "import",           "pragma",
      "checkpoint", "force",  "use",     "vacuum", "call",   "update_extensions"};
  if (t[0].kind == Token::kWord && kStatements.count(t[0].text) > 0) {
    return fmt::format("{} statements", t[0].text);
  }
  if (t[0].is("create") || t[0].is("drop")) {
    for (size_t i = 1; i < t.size() && i < 5; ++i)
      if (t[i].is("secret") || t[i].is("macro") || t[i].is("function") || t[i].is("type")) {
        return fmt::format("{} {}", t[0].text, t[i].text);
      }
  }
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (t[i].kind != Token::kWord || !t[i + 1].sym("(")) continue;
    const std::string& f = t[i].text;
    if (f.rfind("read_", 0) == 0 || f.rfind("parquet_", 0) == 0 || f == "glob" ||
        f == "sniff_csv" || f == "iceberg_scan" || f == "delta_scan" || f == "query" ||
        f == "query_table" || f == "getenv" || f.rfind("sqlite_", 0) == 0 ||
        f.rfind("postgres_", 0) == 0 || f.rfind("mysql_", 0) == 0 || f == "duckdb_secrets" ||
        f == "duckdb_settings" || f == "which_secret") {
      return fmt::format("the function {}()", f);
    }
  }
  // String literals used as table names read files: FROM 'file.csv'.
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if ((t[i].is("from") || t[i].is("join")) && t[i + 1].kind == Token::kString) {
      return "reading files";
    }
  }
  return "";
}

std::optional<SetCommand> parse_set(std::string_view sql, const std::vector<Token>& t) {
  SetCommand c;
  size_t i = 1;
  if (t.empty()) return std::nullopt;
  if (t[0].is("reset")) {
    if (t.size() < 2) return std::nullopt;
    c.name = t[1].text;
    c.value = "DEFAULT";
    return c;
  }
  if (t[0].is("show")) {
    if (t.size() < 2) return std::nullopt;
    c.name = t[1].text;
    // SHOW TRANSACTION ISOLATION LEVEL
    if (c.name == "transaction" && t.size() > 3) c.name = "transaction_isolation";
    return c;
  }
  if (i < t.size() && (t[i].is("session") || t[i].is("local"))) {
    c.local = t[i].is("local");
    ++i;
  }
  if (i >= t.size()) return std::nullopt;
  // SET TIME ZONE x
  if (t[i].is("time") && i + 1 < t.size() && t[i + 1].is("zone")) {
    c.name = "timezone";
    i += 2;
  } else if (t[i].is("names")) {
    c.name = "client_encoding";
    ++i;
  } else {
    c.name = t[i].text;
    ++i;
    while (i + 1 < t.size() && t[i].sym(".")) {  // SET a.b = c (custom settings)
      c.name += "." + t[i + 1].text;
      i += 2;
    }
    if (i < t.size() && (t[i].sym("=") || t[i].is("to"))) ++i;
  }
  if (i >= t.size()) return std::nullopt;
  // The value: the rest of the statement, items unquoted and joined with ", ".
  std::string value;
  for (size_t k = i; k < t.size(); ++k) {
    if (t[k].sym(";")) break;
    if (t[k].sym(",")) {
      value += ", ";
      continue;
    }
    if (t[k].kind == Token::kString || t[k].kind == Token::kQuoted) {
      value += t[k].text;
    } else if (t[k].kind == Token::kWord) {
      value += std::string(sql.substr(t[k].begin, t[k].end - t[k].begin));
    } else {
      value += t[k].text;
    }
  }
  if (value == "DEFAULT" || value == "default") value = "DEFAULT";
  c.value = value;
  return c;
}

std::optional<DeclareCursor> parse_declare(std::string_view sql, const std::vector<Token>& t) {
  if (t.size() < 4 || !t[0].is("declare") || !t[1].ident()) return std::nullopt;
  DeclareCursor d;
  d.name = t[1].text;
  for (size_t i = 2; i < t.size(); ++i) {
    if (t[i].is("binary")) d.binary = true;
    if (t[i].is("for")) {
      if (i + 1 >= t.size()) return std::nullopt;
      d.query = std::string(sql.substr(t[i + 1].begin));
      return d;
    }
  }
  return std::nullopt;
}

std::optional<FetchCommand> parse_fetch(const std::vector<Token>& t) {
  if (t.size() < 2 || !t[0].is("fetch")) return std::nullopt;
  FetchCommand f;
  size_t i = 1;
  if (t[i].is("forward") || t[i].is("next")) {
    ++i;
  }
  if (i < t.size() && t[i].is("all")) {
    f.count = -1;
    ++i;
  } else if (i < t.size() && t[i].kind == Token::kNumber) {
    f.count = std::atoll(t[i].text.c_str());
    ++i;
  }
  if (i < t.size() && (t[i].is("from") || t[i].is("in"))) ++i;
  if (i >= t.size() || !t[i].ident()) return std::nullopt;
  f.name = t[i].text;
  return f;
}

std::optional<CopyCommand> parse_copy(std::string_view sql, const std::vector<Token>& t) {
  if (t.size() < 5 || !t[0].is("copy") || !t[1].sym("(")) return std::nullopt;
  // The matching parenthesis.
  int depth = 0;
  size_t close = 0;
  for (size_t i = 1; i < t.size(); ++i) {
    if (t[i].sym("(")) ++depth;
    if (t[i].sym(")") && --depth == 0) {
      close = i;
      break;
    }
  }
  if (close == 0 || close + 2 >= t.size() + 1) return std::nullopt;
  CopyCommand c;
  c.query = std::string(sql.substr(t[2].begin, t[close].begin - t[2].begin));
  bool null_set = false;
  for (size_t i = close + 1; i < t.size(); ++i) {
    const auto& w = t[i];
    if (w.is("csv") || (w.is("format") && i + 1 < t.size() && t[i + 1].is("csv"))) c.csv = true;
    if (w.is("format") && i + 1 < t.size() && t[i + 1].is("binary")) return std::nullopt;
    if (w.is("header")) {
      c.header = !(i + 1 < t.size() &&
                   (t[i + 1].is("false") || t[i + 1].is("off") || t[i + 1].text == "0"));
    }
    if (w.is("delimiter") && i + 1 < t.size() && t[i + 1].kind == Token::kString &&
        !t[i + 1].text.empty()) {
      c.delimiter = t[i + 1].text[0];
    }
    if (w.is("null") && i + 1 < t.size() && t[i + 1].kind == Token::kString) {
      c.null_text = t[i + 1].text;
      null_set = true;
    }
  }
  if (c.csv) {
    if (c.delimiter == '\t') {
      bool explicit_delim = false;
      for (size_t i = close + 1; i < t.size(); ++i)
        explicit_delim = explicit_delim || t[i].is("delimiter");
      if (!explicit_delim) c.delimiter = ',';
    }
    if (!null_set) c.null_text = "";
  }
  return c;
}

}  // namespace sluice::gateway::detail

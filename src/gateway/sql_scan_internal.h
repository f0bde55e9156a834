// A small SQL scanner for the gateway: statement kinds, lake table references (for grants and
// search_path), parameters, and the rewrites that let PostgreSQL clients' catalog queries run on
// DuckDB. Not a parser: it works on tokens and is deliberately conservative.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::gateway::detail {

struct Token {
  enum Kind { kWord, kQuoted, kString, kNumber, kParam, kSymbol } kind = kWord;
  std::string text;  // words lower-cased; quoted identifiers unquoted; strings unquoted
  size_t begin = 0;  // byte offsets into the statement
  size_t end = 0;
  bool is(std::string_view lower_word) const { return kind == kWord && text == lower_word; }
  bool ident() const { return kind == kWord || kind == kQuoted; }
  bool sym(std::string_view s) const { return kind == kSymbol && text == s; }
};

std::vector<Token> tokenize(std::string_view sql);

enum class StatementKind {
  kEmpty,
  kBegin,
  kCommit,
  kRollback,
  kSet,
  kReset,
  kShow,
  kDeclareCursor,
  kFetch,
  kCloseCursor,
  kCopyToStdout,
  kDiscard,
  kDeallocate,
  kListen,  // LISTEN/UNLISTEN/NOTIFY: accepted, no effect
  kQuery,   // a relation (SELECT, WITH, VALUES, TABLE, ...): streamed
  kOther,   // DDL/DML and everything else: LakeSession::run
};
StatementKind classify(const std::vector<Token>& t);

// A lake table a statement names.
struct TableRef {
  std::string ns;
  std::string name;
  bool write = false;         // the statement's write target
  bool qualified = true;      // written as ns.name
  size_t begin = 0, end = 0;  // where the name is in the statement
};

// Lake tables referenced by a statement: qualified names whose namespace is a lake namespace,
// and unqualified names after FROM/JOIN/INTO/UPDATE/TABLE/USING that `resolve` maps to a lake
// table (search_path). `resolve(name)` returns the namespace or "".
template <typename Resolve>
std::vector<TableRef> table_refs(const std::vector<Token>& t, const std::set<std::string>& lake_ns,
                                 Resolve&& resolve);

// The namespace a CREATE/DROP SCHEMA statement names, if it is one.
std::optional<std::string> schema_target(const std::vector<Token>& t);

// Highest $n parameter number used.
int max_param(const std::vector<Token>& t);

// Replaces $n parameters by SQL literals (for statements run through the lake session).
std::string substitute_params(std::string_view sql, const std::vector<Token>& t,
                              const std::vector<std::optional<std::string>>& values,
                              const std::vector<std::string>& casts);

// Rewrites PostgreSQL-only syntax of catalog queries for DuckDB: OPERATOR(pg_catalog.~),
// COLLATE pg_catalog.default, ::regclass/::regtype/::oid casts, and references to the catalog
// relations and functions Sluice provides (`pg_catalog.pg_class` -> `sluice_pg.pg_class`).
std::string rewrite_pg_syntax(std::string_view sql);

// The hex digits of PostgreSQL's hex bytea text form (`\x0102` -> "0102"), or nothing when
// `text` is not in that form.
std::optional<std::string> pg_bytea_hex(std::string_view text);

// True when the statement reads PostgreSQL or SQL-standard catalogs.
bool mentions_catalog(const std::vector<Token>& t);
// True when it names a catalog Sluice keeps empty (publications, policies, triggers, ...).
bool mentions_empty_catalog(const std::vector<Token>& t);

// For non-admin users: the first thing in the statement that reaches outside the lake (files,
// extensions, other databases, settings), or "" when there is none.
std::string forbidden_feature(const std::vector<Token>& t);

// SET name = value / SET name TO value / SET SESSION name ...; RESET name; SHOW name.
struct SetCommand {
  std::string name;   // lower-case
  std::string value;  // unquoted; "DEFAULT" for RESET / SET ... TO DEFAULT
  bool local = false;
};
std::optional<SetCommand> parse_set(std::string_view sql, const std::vector<Token>& t);

// DECLARE name [BINARY] [INSENSITIVE] [[NO] SCROLL] CURSOR [WITH[OUT] HOLD] FOR query.
struct DeclareCursor {
  std::string name;
  std::string query;
  bool binary = false;
};
std::optional<DeclareCursor> parse_declare(std::string_view sql, const std::vector<Token>& t);

// FETCH [FORWARD|NEXT|ALL|n|FORWARD n|FORWARD ALL] [FROM|IN] name; MOVE is not supported.
struct FetchCommand {
  std::string name;
  int64_t count = 1;  // -1: all
};
std::optional<FetchCommand> parse_fetch(const std::vector<Token>& t);

// COPY (query) TO STDOUT [WITH] [(FORMAT csv, HEADER true, DELIMITER ',', NULL '')] or the
// old-style CSV HEADER options.
struct CopyCommand {
  std::string query;
  bool csv = false;
  bool header = false;
  char delimiter = '\t';
  std::string null_text = "\\N";
};
std::optional<CopyCommand> parse_copy(std::string_view sql, const std::vector<Token>& t);

}  // namespace sluice::gateway::detail

#include "gateway/sql_scan_inl.h"

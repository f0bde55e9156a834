// Lexical helpers for the few statements Sluice handles itself (lake DDL and DML heads). Full
// SQL parsing stays with DuckDB; these only split statements and read statement heads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::engine::detail {

struct Token {
  enum class Kind { kWord, kQuotedIdent, kString, kNumber, kSymbol };
  Kind kind;
  std::string text;  // words upper-cased in `upper`; identifiers unquoted in `text`
  std::string upper;
  size_t begin = 0;  // byte offsets into the statement
  size_t end = 0;
  bool is(std::string_view word) const { return kind == Kind::kWord && upper == word; }
  bool sym(std::string_view s) const { return kind == Kind::kSymbol && text == s; }
  bool ident() const { return kind == Kind::kWord || kind == Kind::kQuotedIdent; }
};

// Tokens of one statement, comments skipped.
std::vector<Token> tokenize(std::string_view sql);

// Splits a script on top-level semicolons (outside quotes, comments and parentheses); drops
// empty statements.
std::vector<std::string> split_statements(std::string_view script);

// Every `a.b` (two identifiers joined by a dot, not preceded by another dot) in the tokens.
struct QualifiedName {
  std::string ns;
  std::string name;
  size_t begin = 0, end = 0;
};
std::vector<QualifiedName> qualified_names(const std::vector<Token>& tokens);

// Index of the token closing the parenthesis opened at `open`, or tokens.size().
size_t matching_paren(const std::vector<Token>& tokens, size_t open);

// Quotes an identifier for DuckDB ("a""b"), and a string literal ('it''s').
std::string quote_ident(std::string_view s);
std::string quote_literal(std::string_view s);

}  // namespace sluice::engine::detail

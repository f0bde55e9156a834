#include <cctype>

#include "engine/sql_text_internal.h"

namespace sluice::engine::detail {
namespace {

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

// Skips a comment or a quoted section starting at `i`; returns the index after it, or `i` when
// nothing was skipped.
size_t skip_opaque(std::string_view s, size_t i) {
  if (s.compare(i, 2, "--") == 0) {
    size_t e = s.find('\n', i);
    return e == std::string_view::npos ? s.size() : e + 1;
  }
  if (s.compare(i, 2, "/*") == 0) {
    size_t e = s.find("*/", i + 2);
    return e == std::string_view::npos ? s.size() : e + 2;
  }
  if (s[i] == '\'' || s[i] == '"') {
    char q = s[i];
    size_t j = i + 1;
    while (j < s.size()) {
      if (s[j] == q) {
        if (j + 1 < s.size() && s[j + 1] == q) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      ++j;
    }
    return s.size();
  }
  if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') {
    size_t e = s.find("$$", i + 2);
    return e == std::string_view::npos ? s.size() : e + 2;
  }
  return i;
}

std::string unquote(std::string_view body, char q) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    out.push_back(body[i]);
    if (body[i] == q && i + 1 < body.size() && body[i + 1] == q) ++i;
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string u(s);
  for (auto& c : u)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
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
    if (s.compare(i, 2, "--") == 0 || s.compare(i, 2, "/*") == 0) {
      i = skip_opaque(s, i);
      continue;
    }
    Token t;
    t.begin = i;
    if (c == '\'' || c == '"' || (c == '$' && i + 1 < s.size() && s[i + 1] == '$')) {
      size_t e = skip_opaque(s, i);
      if (c == '$') {
        t.kind = Token::Kind::kString;
        t.text = std::string(s.substr(i + 2, e - i - 4));
      } else {
        t.kind = c == '\'' ? Token::Kind::kString : Token::Kind::kQuotedIdent;
        t.text = unquote(s.substr(i + 1, e - i - 2), c);
      }
      i = e;
    } else if (ident_start(c)) {
      size_t j = i;
      while (j < s.size() && ident_char(s[j]))
        ++j;
      t.kind = Token::Kind::kWord;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.'))
        ++j;
      t.kind = Token::Kind::kNumber;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else {
      // Two-character operators first.
      static constexpr std::string_view kTwo[] = {"=>", "<=", ">=", "<>", "!=", "::", "||"};
      t.kind = Token::Kind::kSymbol;
      t.text = std::string(1, c);
      for (auto op : kTwo) {
        if (s.compare(i, 2, op) == 0) t.text = std::string(op);
      }
      i += t.text.size();
    }
    t.end = i;
    t.upper = t.kind == Token::Kind::kWord ? upper(t.text) : t.text;
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::string> split_statements(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  int depth = 0;
  auto flush = [&](size_t end) {
    std::string_view stmt = s.substr(start, end - start);
    while (!stmt.empty() && std::isspace(static_cast<unsigned char>(stmt.front()))) {
      stmt.remove_prefix(1);
    }
    while (!stmt.empty() && std::isspace(static_cast<unsigned char>(stmt.back()))) {
      stmt.remove_suffix(1);
    }
    // Keep the statement only if it has a token (not just whitespace or comments).
    if (!tokenize(stmt).empty()) out.emplace_back(stmt);
  };
  while (i < s.size()) {
    size_t j = skip_opaque(s, i);
    if (j != i) {
      i = j;
      continue;
    }
    if (s[i] == '(') ++depth;
    if (s[i] == ')' && depth > 0) --depth;
    if (s[i] == ';' && depth == 0) {
      flush(i);
      start = i + 1;
    }
    ++i;
  }
  flush(s.size());
  return out;
}

std::vector<QualifiedName> qualified_names(const std::vector<Token>& t) {
  std::vector<QualifiedName> out;
  for (size_t i = 0; i + 2 < t.size(); ++i) {
    if (!t[i].ident() || !t[i + 1].sym(".") || !t[i + 2].ident()) continue;
    if (i > 0 && t[i - 1].sym(".")) continue;             // c.ns.name: catalog-qualified
    if (i + 3 < t.size() && t[i + 3].sym(".")) continue;  // ns.name.col: a column
    if (i + 3 < t.size() && t[i + 3].sym("(")) continue;  // schema.function(...)
    out.push_back({t[i].text, t[i + 2].text, t[i].begin, t[i + 2].end});
    i += 2;
  }
  return out;
}

size_t matching_paren(const std::vector<Token>& t, size_t open) {
  int depth = 0;
  for (size_t i = open; i < t.size(); ++i) {
    if (t[i].sym("(")) ++depth;
    if (t[i].sym(")") && --depth == 0) return i;
  }
  return t.size();
}

std::string quote_ident(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quote_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace sluice::engine::detail

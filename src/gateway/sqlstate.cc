#include "gateway/sqlstate.h"

#include <fmt/format.h>

#include <string>

namespace sluice::gateway {

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
bool contains(std::string_view s, std::string_view p) {
  return s.find(p) != std::string_view::npos;
}

// DuckDB appends "\n\nLINE 1: <text>\n        ^" to messages about a position in the query.
// Returns the 1-based character position in `query`, or 0, and strips the context.
int take_position(std::string& message, std::string_view query) {
  size_t line_at = message.find("\nLINE ");
  if (line_at == std::string::npos) return 0;
  std::string context = message.substr(line_at + 1);
  message.erase(line_at);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  size_t colon = context.find(": ");
  size_t nl = context.find('\n');
  if (colon == std::string::npos || nl == std::string::npos || colon > nl) return 0;
  int line_no = std::atoi(context.c_str() + 5);
  std::string snippet = context.substr(colon + 2, nl - colon - 2);
  size_t caret = context.find('^', nl);
  if (caret == std::string::npos || line_no < 1) return 0;
  int col = static_cast<int>(caret - nl - 1) - static_cast<int>(colon + 2);
  if (col < 0) return 0;
  // Locate the line in the query.
  size_t line_start = 0;
  for (int l = 1; l < line_no; ++l) {
    size_t next = query.find('\n', line_start);
    if (next == std::string_view::npos) return 0;
    line_start = next + 1;
  }
  size_t line_end = query.find('\n', line_start);
  std::string_view line =
      query.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos
                                                                  : line_end - line_start);
  // Long lines are shown from "..."; find where the snippet starts.
  size_t offset = 0;
  std::string shown = snippet;
  if (starts_with(shown, "...")) {
    shown.erase(0, 3);
    col -= 3;
  }
  if (shown.size() > 3 && shown.substr(shown.size() - 3) == "...") shown.resize(shown.size() - 3);
  size_t at = line.find(shown.substr(0, std::min<size_t>(shown.size(), 40)));
  if (at == std::string_view::npos) {
    if (shown != line.substr(0, shown.size())) return 0;
    at = 0;
  }
  offset = line_start + at + static_cast<size_t>(std::max(col, 0));
  if (offset > query.size()) return 0;
  // Characters, not bytes: count UTF-8 lead bytes.
  int chars = 0;
  for (size_t i = 0; i < offset; ++i)
    if ((static_cast<unsigned char>(query[i]) & 0xC0) != 0x80) ++chars;
  return chars + 1;
}

const char* code_for_duckdb(std::string_view m) {
  if (starts_with(m, "Parser Error")) return sqlstate::kSyntaxError;
  if (starts_with(m, "Catalog Error")) {
    if (contains(m, "Function with name") || contains(m, "Macro Function")) {
      return sqlstate::kUndefinedFunction;
    }
    if (contains(m, "already exists")) return sqlstate::kDuplicateTable;
    if (contains(m, "Schema with name")) return "3F000";
    if (contains(m, "does not exist")) return sqlstate::kUndefinedTable;
    return sqlstate::kUndefinedObject;
  }
  if (starts_with(m, "Binder Error")) {
    if (contains(m, "Referenced column") || contains(m, "not found in FROM clause") ||
        contains(m, "does not have a column")) {
      return sqlstate::kUndefinedColumn;
    }
    if (contains(m, "No function matches")) return sqlstate::kUndefinedFunction;
    return "42000";
  }
  if (starts_with(m, "Conversion Error") || starts_with(m, "Invalid Input Error")) {
    if (contains(m, "out of range")) return sqlstate::kNumericOutOfRange;
    return sqlstate::kInvalidTextRepresentation;
  }
  if (starts_with(m, "Constraint Error")) {
    if (contains(m, "NOT NULL")) return sqlstate::kNotNullViolation;
    if (contains(m, "Duplicate key") || contains(m, "unique")) return sqlstate::kUniqueViolation;
    return "23000";
  }
  if (starts_with(m, "Out of Range Error")) {
    if (contains(m, "ivision by zero")) return sqlstate::kDivisionByZero;
    return sqlstate::kNumericOutOfRange;
  }
  if (starts_with(m, "INTERRUPT Error") || starts_with(m, "Interrupt Error")) {
    return sqlstate::kQueryCanceled;
  }
  if (starts_with(m, "Not implemented Error")) return sqlstate::kFeatureNotSupported;
  if (starts_with(m, "TransactionContext Error") || contains(m, "write-write conflict")) {
    return sqlstate::kSerializationFailure;
  }
  if (starts_with(m, "Permission Error")) return sqlstate::kInsufficientPrivilege;
  if (starts_with(m, "IO Error")) return sqlstate::kIoError;
  return nullptr;
}

}  // namespace

ErrorFields error_fields(const Status& st, std::string_view query, InterruptReason reason) {
  ErrorFields e;
  e.message = st.message();
  const char* code = nullptr;
  switch (st.code()) {
    case StatusCode::kPermissionDenied:
      code = sqlstate::kInsufficientPrivilege;
      break;
    case StatusCode::kConflict:
      code = sqlstate::kSerializationFailure;
      break;
    case StatusCode::kCancelled:
    case StatusCode::kTimeout:
      code = sqlstate::kQueryCanceled;
      break;
    case StatusCode::kUnimplemented:
      code = sqlstate::kFeatureNotSupported;
      break;
    case StatusCode::kNotFound:
      code = contains(e.message, "table") || contains(e.message, "Table")
                 ? sqlstate::kUndefinedTable
                 : sqlstate::kUndefinedObject;
      break;
    case StatusCode::kAlreadyExists:
      code = sqlstate::kDuplicateTable;
      break;
    case StatusCode::kIOError:
      code = sqlstate::kIoError;
      break;
    default:
      break;
  }
  // DuckDB's message decides when it is more precise (a lake error wraps DuckDB's message).
  for (std::string_view kind :
       {"Parser Error", "Catalog Error", "Binder Error", "Conversion Error", "Constraint Error",
        "Out of Range Error", "INTERRUPT Error", "Invalid Input Error", "Not implemented Error",
        "TransactionContext Error", "Permission Error", "IO Error"}) {
    size_t at = e.message.find(kind);
    if (at != std::string::npos) {
      if (const char* c = code_for_duckdb(std::string_view(e.message).substr(at))) code = c;
      break;
    }
  }
  if (code == nullptr) code = sqlstate::kInternalError;
  e.sqlstate = code;
  e.position = take_position(e.message, query);
  if (e.sqlstate == sqlstate::kQueryCanceled) {
    if (reason == InterruptReason::kTimeout) {
      e.message = "canceling statement due to statement timeout";
    } else if (reason == InterruptReason::kCancel || starts_with(e.message, "INTERRUPT")) {
      e.message = "canceling statement due to user request";
    }
  }
  return e;
}

}  // namespace sluice::gateway

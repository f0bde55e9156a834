// Sluice's one error model: library and I/O code returns Status or Result<T>; callers propagate
// with SLUICE_RETURN_IF_ERROR / SLUICE_ASSIGN_OR_RETURN. Exceptions are for programmer errors only
// (or are converted to Status at a component boundary, e.g. a third-party library that throws).
// Protocol codes (Kafka error codes, SQLSTATEs) are mapped from StatusCode in one place per
// protocol. See docs/CONTRIBUTING.md, "Errors".
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong (bad flag, bad SQL, bad config value)
  kNotFound,          // a named object does not exist
  kAlreadyExists,     // a named object exists and must not
  kConflict,          // an optimistic commit lost a race that cannot be retried
  kPermissionDenied,  // the principal lacks a grant
  kCorruption,        // stored data does not match its format
  kIOError,           // the OS refused (disk, network)
  kUnavailable,       // a peer is down; retrying later may work
  kTimeout,           // a deadline passed
  kCancelled,         // the caller cancelled
  kUnimplemented,     // a valid request for something Sluice does not do
  kInternal,          // a bug in Sluice
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "<CodeName>: <message>", or "OK".
  std::string to_string() const;

  // Returns a copy whose message is prefixed with `context: ` (for adding the file or object).
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status not_found(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status already_exists(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status conflict(std::string m) {
  return {StatusCode::kConflict, std::move(m)};
}
inline Status permission_denied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status corruption(std::string m) {
  return {StatusCode::kCorruption, std::move(m)};
}
inline Status io_error(std::string m) {
  return {StatusCode::kIOError, std::move(m)};
}
inline Status unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status timeout_error(std::string m) {
  return {StatusCode::kTimeout, std::move(m)};
}
inline Status cancelled(std::string m) {
  return {StatusCode::kCancelled, std::move(m)};
}
inline Status unimplemented(std::string m) {
  return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status internal_error(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}

// Either a value or a non-OK Status. Accessing value() of an error is a programmer error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).is_ok() && "Result<T> built from an OK Status has no value");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

namespace detail {
inline const Status& as_status(const Status& s) {
  return s;
}
template <typename T>
const Status& as_status(const Result<T>& r) {
  return r.status();
}
}  // namespace detail

}  // namespace sluice

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)

// Returns the Status of `expr` (a Status or Result<T>) from the enclosing function if not OK.
#define SLUICE_RETURN_IF_ERROR(expr)                                         \
  do {                                                                       \
    auto&& _sluice_st = (expr);                                              \
    if (!_sluice_st.is_ok()) return ::sluice::detail::as_status(_sluice_st); \
  } while (0)

// `SLUICE_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result<T> or returns its error.
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(_sluice_res_, __LINE__), lhs, expr)
#define SLUICE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

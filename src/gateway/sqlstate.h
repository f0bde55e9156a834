// The one mapping from Sluice errors (Status codes and DuckDB's "<Kind> Error: ..." messages) to
// PostgreSQL SQLSTATEs and ErrorResponse fields (Appendix A, "PostgreSQL Error Codes").
#pragma once

#include <string_view>

#include "common/status.h"
#include "gateway/pg_wire.h"

namespace sluice::gateway {

namespace sqlstate {
inline constexpr const char* kSuccessfulCompletion = "00000";
inline constexpr const char* kUndefinedTable = "42P01";
inline constexpr const char* kUndefinedColumn = "42703";
inline constexpr const char* kUndefinedFunction = "42883";
inline constexpr const char* kUndefinedObject = "42704";
inline constexpr const char* kDuplicateTable = "42P07";
inline constexpr const char* kSyntaxError = "42601";
inline constexpr const char* kInsufficientPrivilege = "42501";
inline constexpr const char* kInvalidPassword = "28P01";
inline constexpr const char* kInvalidAuthorization = "28000";
inline constexpr const char* kQueryCanceled = "57014";
inline constexpr const char* kInvalidTextRepresentation = "22P02";
inline constexpr const char* kDivisionByZero = "22012";
inline constexpr const char* kNumericOutOfRange = "22003";
inline constexpr const char* kNotNullViolation = "23502";
inline constexpr const char* kUniqueViolation = "23505";
inline constexpr const char* kSerializationFailure = "40001";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kProtocolViolation = "08P01";
inline constexpr const char* kInFailedTransaction = "25P02";
inline constexpr const char* kInvalidParameterValue = "22023";
inline constexpr const char* kUndefinedParameter = "42P02";
inline constexpr const char* kInvalidCursorName = "34000";
inline constexpr const char* kInvalidStatementName = "26000";
inline constexpr const char* kTooManyConnections = "53300";
inline constexpr const char* kAdminShutdown = "57P01";
inline constexpr const char* kInternalError = "XX000";
inline constexpr const char* kIoError = "58030";
}  // namespace sqlstate

// How a statement was stopped, when it was interrupted.
enum class InterruptReason { kNone, kCancel, kTimeout };

// ErrorResponse fields for a failed statement. `query` is the statement as the client sent it
// (for the position field); `reason` explains an interrupt.
ErrorFields error_fields(const Status& st, std::string_view query = {},
                         InterruptReason reason = InterruptReason::kNone);

}  // namespace sluice::gateway

// Logging: spdlog underneath, one line per event on stderr, structured key=value context.
//   log::info("snapshot committed", {log::kv("table", name), log::kv("snapshot", id)});
// Text format: `2026-11-21T10:00:00.123Z info snapshot committed table=raw.orders snapshot=7`.
// JSON format: one object per line with ts, level, msg and the context keys.
// Secrets (common::Secret) format as ******** wherever they appear.
#pragma once

#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "common/status.h"

namespace sluice::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class Format { kText, kJson };

struct Field {
  std::string_view key;
  std::string value;
};

template <typename T>
Field kv(std::string_view key, const T& value) {
  return Field{key, fmt::format("{}", value)};
}

Result<Level> parse_level(std::string_view name);
Result<Format> parse_format(std::string_view name);

// Configures the process-wide logger. Safe to call more than once.
void init(Level level, Format format);
Level level();

// Formats one event as it would be written (exposed for tests).
std::string format_line(Format format, Level level, std::string_view msg,
                        std::initializer_list<Field> fields);

void write(Level level, std::string_view msg, std::initializer_list<Field> fields);

inline void trace(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kTrace, m, f);
}
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

}  // namespace sluice::log

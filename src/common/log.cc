#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>

namespace sluice::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

spdlog::logger& logger() {
  // The sink writes the fully formatted line; spdlog supplies locking and flushing.
  static std::shared_ptr<spdlog::logger> l = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto lg = std::make_shared<spdlog::logger>("sluice", sink);
    lg->set_pattern("%v");
    lg->set_level(spdlog::level::trace);
    lg->flush_on(spdlog::level::warn);
    return lg;
  }();
  return *l;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms.count()));
}

}  // namespace

Result<Level> parse_level(std::string_view name) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (kLevelNames[i] == name) return static_cast<Level>(i);
  }
  return invalid_argument(
      fmt::format("unknown log level '{}'; use trace, debug, info, warn, error or off", name));
}

Result<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return invalid_argument(fmt::format("unknown log format '{}'; use text or json", name));
}

void init(Level level, Format format) {
  g_level = level;
  g_format = format;
}

Level level() {
  return g_level;
}

std::string format_line(Format format, Level level, std::string_view msg,
                        std::initializer_list<Field> fields) {
  auto lvl = kLevelNames[static_cast<int>(level)];
  if (format == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = timestamp();
    j["level"] = lvl;
    j["msg"] = msg;
    for (const auto& f : fields)
      j[std::string(f.key)] = f.value;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = fmt::format("{} {} {}", timestamp(), lvl, msg);
  for (const auto& f : fields) {
    if (needs_quotes(f.value)) {
      nlohmann::json quoted = f.value;
      line += fmt::format(" {}={}", f.key,
                          quoted.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      line += fmt::format(" {}={}", f.key, f.value);
    }
  }
  return line;
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (level < g_level.load() || level == Level::kOff) return;
  logger().log(spdlog::level::info, format_line(g_format.load(), level, msg, fields));
}

}  // namespace sluice::log

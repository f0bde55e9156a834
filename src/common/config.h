// sluice.toml: one file, one [section] per module. Every setting is declared once in
// config.cc's table (type, default, doc, optional environment override), which also generates
// docs/configuration.md (`sluice config docs`). Loading rejects unknown sections and keys, wrong
// types and out-of-range values with "<file>:<line>:<column>: ..." messages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/secret.h"
#include "common/status.h"

namespace sluice::common {

enum class SettingType { kString, kInt, kBool, kDouble };

struct SettingSpec {
  std::string_view key;  // "section.name"
  SettingType type;
  std::string_view default_value;  // as it would be written in TOML (strings unquoted)
  std::string_view doc;
  std::string_view env = {};  // environment variable that overrides the file, if any
  bool secret = false;        // never printed or logged; redacted in `sluice config show`
  std::span<const std::string_view> allowed = {};  // for enumerated strings
  int64_t min = INT64_MIN;                         // for ints
  int64_t max = INT64_MAX;
  bool is_path = false;  // relative values resolve against the config file's folder
};

// Every setting Sluice knows, in documentation order.
std::span<const SettingSpec> all_settings();
const SettingSpec* find_setting(std::string_view key);

using SettingValue = std::variant<std::string, int64_t, bool, double>;

class Config {
 public:
  // Defaults only (no file), with environment overrides applied.
  static Result<Config> from_defaults();
  // Reads and validates a file; relative path settings resolve against its folder.
  static Result<Config> load_file(const std::filesystem::path& file);
  // Validates TOML text; `source_name` is used in messages; `base_dir` resolves relative paths.
  static Result<Config> parse(std::string_view text, std::string_view source_name,
                              const std::filesystem::path& base_dir = ".");
  // Picks the file: `explicit_file` if given (it must exist), else ./sluice.toml if present,
  // else defaults.
  static Result<Config> discover(const std::filesystem::path& explicit_file);

  std::string get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  double get_double(std::string_view key) const;
  Secret get_secret(std::string_view key) const;

  // Where a setting's value came from: "default", "<file>:<line>", "env NAME" or "command line".
  std::string origin(std::string_view key) const;
  // The file the config came from, empty for defaults.
  const std::string& source_name() const { return source_name_; }

  // Sets a value from a command-line flag (e.g. --data-dir); validated like a file value.
  Status set_from_flag(std::string_view key, std::string_view value);

  // The effective configuration as TOML, with each setting's origin as a comment and secrets
  // redacted.
  std::string render() const;

 private:
  Status apply_env();
  struct Entry {
    SettingValue value;
    std::string origin;
  };
  const Entry& entry(std::string_view key, SettingType type) const;
  std::map<std::string, Entry, std::less<>> values_;
  std::string source_name_;
};

// Markdown reference of every setting (docs/configuration.md is this output).
std::string settings_reference_markdown();

}  // namespace sluice::common

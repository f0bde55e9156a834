// The registry's state (schemas by global id, subjects and their versions, compatibility
// configs) and its durable log `<dir>/schemas.log`: one JSON record per line, appended with one
// write() and fdatasync'ed before a change is acknowledged. Replayed on open; a torn last line
// (a crash mid-append) is cut off. Ids come from a counter that only grows (the log keeps every
// schema record), so an id is never reused, even after a permanent delete.
//
// Errors carry Confluent's error codes (registry_error(), to_api_error()).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "registry/compat_internal.h"

namespace sluice::registry {

// Confluent Schema Registry error codes.
inline constexpr int kSubjectNotFound = 40401;
inline constexpr int kVersionNotFound = 40402;
inline constexpr int kSchemaNotFound = 40403;
inline constexpr int kSubjectSoftDeleted = 40404;
inline constexpr int kSubjectNotSoftDeleted = 40405;
inline constexpr int kVersionSoftDeleted = 40406;
inline constexpr int kVersionNotSoftDeleted = 40407;
inline constexpr int kSubjectLevelConfigNotFound = 40408;
inline constexpr int kIncompatibleSchema = 409;
inline constexpr int kInvalidSchema = 42201;
inline constexpr int kInvalidVersion = 42202;
inline constexpr int kInvalidCompatibilityLevel = 42203;
inline constexpr int kInvalidMode = 42204;
inline constexpr int kStoreError = 50001;

// A Status that carries a Confluent error code (kept in the message as "#<code> ").
Status registry_error(int error_code, const std::string& message);

struct ApiError {
  int http_status;
  int error_code;
  std::string message;
};
// The one mapping from Status to Confluent's {error_code, message} and its HTTP status.
ApiError to_api_error(const Status& st);

struct SchemaInput {
  std::string schema;
  std::string type = "AVRO";  // AVRO, JSON (PROTOBUF is refused)
  nlohmann::json references = nlohmann::json::array();
};

struct SchemaView {
  int id = 0;
  std::string type;
  std::string schema;  // canonical text
};

struct VersionView {
  std::string subject;
  int version = 0;
  SchemaView schema;
  bool deleted = false;
};

struct CompatReport {
  bool compatible = true;
  std::vector<std::string> messages;
};

struct ParsedSchema;

class SchemaStore {
 public:
  // Opens (creating) the store under `dir`. `fsync` false is for tests and benchmarks only.
  static Result<std::unique_ptr<SchemaStore>> open(const std::filesystem::path& dir,
                                                   bool fsync = true);
  ~SchemaStore();

  // Registers under `subject`; returns the global id. The same schema (canonically equal)
  // registered again returns its id without a new version.
  Result<int> register_schema(const std::string& subject, const SchemaInput& in);
  Result<VersionView> lookup(const std::string& subject, const SchemaInput& in,
                             bool include_deleted);

  std::vector<std::string> subjects(bool include_deleted);
  Result<std::vector<int>> versions(const std::string& subject, bool include_deleted);
  // `version` is a number, "latest" or "-1".
  Result<VersionView> get_version(const std::string& subject, const std::string& version,
                                  bool include_deleted);
  Result<std::vector<int>> delete_subject(const std::string& subject, bool permanent);
  Result<int> delete_version(const std::string& subject, const std::string& version,
                             bool permanent);

  Result<SchemaView> schema_by_id(int id);
  Result<std::vector<std::pair<std::string, int>>> subject_versions_of(int id,
                                                                       bool include_deleted);

  // Against one version ("latest" or a number), or every live version when `version` is empty
  // (transitive).
  Result<CompatReport> test_compatibility(const std::string& subject, const std::string& version,
                                          const SchemaInput& in);

  CompatLevel global_level();
  Status set_global_level(CompatLevel level);
  // The subject's own level; with `default_to_global`, the global one when it has none.
  Result<CompatLevel> subject_level(const std::string& subject, bool default_to_global);
  Status set_subject_level(const std::string& subject, CompatLevel level);
  Result<CompatLevel> delete_subject_level(const std::string& subject);

  const std::filesystem::path& log_path() const { return log_path_; }

 private:
  struct Stored;
  struct VersionEntry {
    int version;
    int id;
    bool deleted;
  };
  struct Subject {
    std::vector<VersionEntry> versions;  // ascending by version
    std::optional<CompatLevel> level;
  };

  SchemaStore() = default;
  Status replay();
  Status append(const std::vector<nlohmann::json>& records);
  Status apply(const nlohmann::json& record);
  Result<std::shared_ptr<const ParsedSchema>> parse_input(const SchemaInput& in) const;
  Result<int> resolve_version(const std::string& subject, const Subject& s,
                              const std::string& version, bool include_deleted) const;
  // The reasons `candidate` breaks `level` against the subject's live versions (newest first,
  // all of them when transitive), as user-facing messages; empty when compatible.
  std::vector<std::string> check(const std::string& subject, const Subject& s,
                                 const ParsedSchema& candidate, CompatLevel level,
                                 const std::vector<VersionEntry>& against, bool stop_at_first);
  SchemaView view(int id) const;

  std::filesystem::path dir_;
  std::filesystem::path log_path_;
  bool fsync_ = true;
  int fd_ = -1;

  std::mutex mu_;
  std::map<int, std::shared_ptr<const ParsedSchema>> schemas_;
  std::unordered_map<std::string, int> ids_by_key_;  // type + canonical text -> id
  std::map<std::string, Subject> subjects_;
  CompatLevel global_ = CompatLevel::kBackward;
  int next_id_ = 1;
};

}  // namespace sluice::registry

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "registry/avro_schema_internal.h"
#include "registry/json_schema_internal.h"
#include "registry/schema_store_internal.h"

namespace sluice::registry {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- errors ----

Status registry_error(int error_code, const std::string& message) {
  StatusCode code = StatusCode::kInternal;
  if (error_code / 100 == 404) code = StatusCode::kNotFound;
  if (error_code / 100 == 422) code = StatusCode::kInvalidArgument;
  if (error_code == kIncompatibleSchema) code = StatusCode::kConflict;
  if (error_code / 100 == 500) code = StatusCode::kIOError;
  return {code, fmt::format("#{} {}", error_code, message)};
}

ApiError to_api_error(const Status& st) {
  const std::string& m = st.message();
  if (m.size() > 1 && m[0] == '#') {
    auto space = m.find(' ');
    int code = std::atoi(m.substr(1, space - 1).c_str());
    int http = code >= 10000 ? code / 100 : code;
    return {http, code, space == std::string::npos ? "" : m.substr(space + 1)};
  }
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return {422, kInvalidSchema, m};
    case StatusCode::kNotFound:
      return {404, 404, m};
    case StatusCode::kConflict:
      return {409, kIncompatibleSchema, m};
    case StatusCode::kIOError:
    case StatusCode::kCorruption:
      return {500, kStoreError, m};
    default:
      return {500, 50000, m};
  }
}

// ---- parsed schemas ----

struct ParsedSchema {
  std::string type;       // AVRO or JSON
  std::string canonical;  // the text stored and returned
  std::shared_ptr<const avro::Schema> avro;
  json json_schema;
  std::string key() const { return type + '\n' + canonical; }
};

Result<std::shared_ptr<const ParsedSchema>> SchemaStore::parse_input(const SchemaInput& in) const {
  auto p = std::make_shared<ParsedSchema>();
  std::string type = in.type.empty() ? "AVRO" : in.type;
  for (auto& c : type)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (type == "PROTOBUF") {
    return registry_error(kInvalidSchema,
                          "PROTOBUF schemas are not supported by Sluice's registry; use AVRO or "
                          "JSON");
  }
  if (type != "AVRO" && type != "JSON") {
    return registry_error(kInvalidSchema,
                          fmt::format("unknown schemaType '{}'; use AVRO or JSON", in.type));
  }
  if (in.references.is_array() && !in.references.empty()) {
    return registry_error(kInvalidSchema,
                          "schema references are not supported by Sluice's registry yet; inline "
                          "the referenced types");
  }
  p->type = type;
  if (type == "AVRO") {
    auto s = avro::Schema::parse(in.schema);
    if (!s.is_ok()) {
      return registry_error(kInvalidSchema,
                            fmt::format("Invalid schema: {}", s.status().message()));
    }
    p->avro = *s;
    p->canonical = p->avro->canonical();
  } else {
    auto j = jsonschema::parse(in.schema);
    if (!j.is_ok()) {
      return registry_error(kInvalidSchema,
                            fmt::format("Invalid schema: {}", j.status().message()));
    }
    p->json_schema = std::move(*j);
    p->canonical = p->json_schema.dump();
  }
  return std::shared_ptr<const ParsedSchema>(std::move(p));
}

// ---- log ----

Result<std::unique_ptr<SchemaStore>> SchemaStore::open(const fs::path& dir, bool fsync) {
  std::unique_ptr<SchemaStore> s(new SchemaStore());
  s->dir_ = dir;
  s->log_path_ = dir / "schemas.log";
  s->fsync_ = fsync;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  SLUICE_RETURN_IF_ERROR(s->replay());
  s->fd_ = ::open(s->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (s->fd_ < 0) {
    return io_error(fmt::format("cannot open {}: {}", s->log_path_.string(), std::strerror(errno)));
  }
  if (fsync) {
    // Make the (possibly new) file's directory entry durable.
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return s;
}

SchemaStore::~SchemaStore() {
  if (fd_ >= 0) ::close(fd_);
}

Status SchemaStore::replay() {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return Status::ok();
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = std::move(buf).str();
  size_t pos = 0, good_end = 0;
  int line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // a torn last line: cut below
    std::string_view line(text.data() + pos, nl - pos);
    json rec = json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.is_object()) {
      if (text.find('\n', nl + 1) == std::string::npos && nl + 1 >= text.size()) break;
      return corruption(fmt::format("{}:{}: not a registry record", log_path_.string(), line_no));
    }
    Status st = apply(rec);
    if (!st.is_ok()) return st.with_context(fmt::format("{}:{}", log_path_.string(), line_no));
    pos = good_end = nl + 1;
  }
  if (good_end < text.size()) {
    log::warn("registry log has a torn tail; cutting it",
              {log::kv("file", log_path_.string()), log::kv("bytes", text.size() - good_end)});
    if (::truncate(log_path_.c_str(), static_cast<off_t>(good_end)) != 0) {
      return io_error(
          fmt::format("cannot truncate {}: {}", log_path_.string(), std::strerror(errno)));
    }
  }
  return Status::ok();
}

Status SchemaStore::apply(const json& r) {
  std::string t = r.value("t", "");
  if (t == "schema") {
    SchemaInput in;
    in.schema = r.at("schema").get<std::string>();
    in.type = r.value("type", "AVRO");
    auto parsed = parse_input(in);
    if (!parsed.is_ok()) return corruption(to_api_error(parsed.status()).message);
    int id = r.at("id").get<int>();
    schemas_[id] = *parsed;
    ids_by_key_[(*parsed)->key()] = id;
    next_id_ = std::max(next_id_, id + 1);
  } else if (t == "version") {
    auto& s = subjects_[r.at("subject").get<std::string>()];
    s.versions.push_back({r.at("version").get<int>(), r.at("id").get<int>(), false});
  } else if (t == "delete_version") {
    auto it = subjects_.find(r.at("subject").get<std::string>());
    if (it == subjects_.end()) return Status::ok();
    int v = r.at("version").get<int>();
    auto& vs = it->second.versions;
    if (r.value("permanent", false)) {
      std::erase_if(vs, [v](const VersionEntry& e) { return e.version == v; });
    } else {
      for (auto& e : vs)
        if (e.version == v) e.deleted = true;
    }
  } else if (t == "config") {
    std::optional<CompatLevel> level;
    if (r.contains("level") && r["level"].is_string())
      level = parse_level(r["level"].get<std::string>());
    if (r.contains("subject") && r["subject"].is_string()) {
      subjects_[r["subject"].get<std::string>()].level = level;
    } else {
      global_ = level.value_or(CompatLevel::kBackward);
    }
  } else if (t == "delete_subject_config") {
    auto it = subjects_.find(r.at("subject").get<std::string>());
    if (it != subjects_.end()) it->second.level.reset();
  } else {
    return corruption(fmt::format("unknown registry record type '{}'", t));
  }
  return Status::ok();
}

Status SchemaStore::append(const std::vector<json>& records) {
  std::string data;
  for (const auto& r : records) {
    data += r.dump();
    data += '\n';
  }
  // One write() per change: a crash leaves whole lines or a torn last line, which replay cuts.
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return registry_error(kStoreError, fmt::format("Error while writing {}: {}",
                                                     log_path_.string(), std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync_ && ::fdatasync(fd_) != 0) {
    return registry_error(kStoreError, fmt::format("Error while syncing {}: {}", log_path_.string(),
                                                   std::strerror(errno)));
  }
  return Status::ok();
}

// ---- queries ----

namespace {

bool has_live(const std::vector<int>& v) {
  return !v.empty();
}

std::string subject_not_found(const std::string& subject) {
  return fmt::format("Subject '{}' not found.", subject);
}

}  // namespace

SchemaView SchemaStore::view(int id) const {
  const auto& p = schemas_.at(id);
  return {id, p->type, p->canonical};
}

std::vector<std::string> SchemaStore::subjects(bool include_deleted) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, s] : subjects_) {
    bool any = false;
    for (const auto& v : s.versions)
      any = any || include_deleted || !v.deleted;
    if (any) out.push_back(name);
  }
  return out;
}

Result<std::vector<int>> SchemaStore::versions(const std::string& subject, bool include_deleted) {
  std::lock_guard lock(mu_);
  std::vector<int> out;
  auto it = subjects_.find(subject);
  if (it != subjects_.end()) {
    for (const auto& v : it->second.versions)
      if (include_deleted || !v.deleted) out.push_back(v.version);
  }
  if (!has_live(out)) return registry_error(kSubjectNotFound, subject_not_found(subject));
  return out;
}

Result<int> SchemaStore::resolve_version(const std::string& subject, const Subject& s,
                                         const std::string& version, bool include_deleted) const {
  if (version == "latest" || version == "-1") {
    for (auto it = s.versions.rbegin(); it != s.versions.rend(); ++it)
      if (include_deleted || !it->deleted) return it->version;
    return registry_error(kVersionNotFound, fmt::format("Version {} not found.", version));
  }
  int64_t v = 0;
  bool ok = !version.empty() && version.size() <= 10;
  for (char c : version) {
    ok = ok && std::isdigit(static_cast<unsigned char>(c));
    if (ok) v = v * 10 + (c - '0');
  }
  if (!ok || v < 1 || v > INT32_MAX) {
    return registry_error(kInvalidVersion,
                          fmt::format("The specified version '{}' is not a valid version id. "
                                      "Allowed values are between [1, 2^31-1] and the string "
                                      "\"latest\"",
                                      version));
  }
  for (const auto& e : s.versions) {
    if (e.version == v && (include_deleted || !e.deleted)) return e.version;
  }
  (void)subject;
  return registry_error(kVersionNotFound, fmt::format("Version {} not found.", version));
}

Result<VersionView> SchemaStore::get_version(const std::string& subject, const std::string& version,
                                             bool include_deleted) {
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  bool exists = false;
  if (it != subjects_.end()) {
    for (const auto& v : it->second.versions)
      exists = exists || include_deleted || !v.deleted;
  }
  if (!exists) {
    // An invalid version is reported before a missing subject, as Confluent does.
    if (version != "latest" && version != "-1") {
      Subject none;
      auto r = resolve_version(subject, none, version, include_deleted);
      if (!r.is_ok() && to_api_error(r.status()).error_code == kInvalidVersion) return r.status();
    }
    return registry_error(kSubjectNotFound, subject_not_found(subject));
  }
  SLUICE_ASSIGN_OR_RETURN(int v, resolve_version(subject, it->second, version, include_deleted));
  for (const auto& e : it->second.versions) {
    if (e.version == v) return VersionView{subject, v, view(e.id), e.deleted};
  }
  return registry_error(kVersionNotFound, fmt::format("Version {} not found.", version));
}

Result<SchemaView> SchemaStore::schema_by_id(int id) {
  std::lock_guard lock(mu_);
  bool referenced = false;
  for (const auto& [name, s] : subjects_)
    for (const auto& v : s.versions)
      referenced = referenced || v.id == id;
  if (!referenced || !schemas_.count(id)) {
    return registry_error(kSchemaNotFound, fmt::format("Schema {} not found", id));
  }
  return view(id);
}

Result<std::vector<std::pair<std::string, int>>> SchemaStore::subject_versions_of(
    int id, bool include_deleted) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, int>> out;
  bool referenced = false;
  for (const auto& [name, s] : subjects_) {
    for (const auto& v : s.versions) {
      if (v.id != id) continue;
      referenced = true;
      if (include_deleted || !v.deleted) out.emplace_back(name, v.version);
    }
  }
  if (!referenced) return registry_error(kSchemaNotFound, fmt::format("Schema {} not found", id));
  return out;
}

Result<VersionView> SchemaStore::lookup(const std::string& subject, const SchemaInput& in,
                                        bool include_deleted) {
  SLUICE_ASSIGN_OR_RETURN(auto parsed, parse_input(in));
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  bool exists = false;
  if (it != subjects_.end()) {
    for (const auto& v : it->second.versions)
      exists = exists || include_deleted || !v.deleted;
  }
  if (!exists) return registry_error(kSubjectNotFound, subject_not_found(subject));
  auto id = ids_by_key_.find(parsed->key());
  if (id != ids_by_key_.end()) {
    for (auto v = it->second.versions.rbegin(); v != it->second.versions.rend(); ++v) {
      if (v->id == id->second && (include_deleted || !v->deleted)) {
        return VersionView{subject, v->version, view(v->id), v->deleted};
      }
    }
  }
  return registry_error(kSchemaNotFound, "Schema not found");
}

// ---- compatibility ----

std::vector<std::string> SchemaStore::check(const std::string& subject, const Subject& s,
                                            const ParsedSchema& candidate, CompatLevel level,
                                            const std::vector<VersionEntry>& against,
                                            bool stop_at_first) {
  (void)s;
  std::vector<std::string> messages;
  if (level == CompatLevel::kNone) return messages;
  for (auto it = against.rbegin(); it != against.rend(); ++it) {
    const ParsedSchema& old = *schemas_.at(it->id);
    for (bool backward : {true, false}) {
      if (backward ? !checks_backward(level) : !checks_forward(level)) continue;
      std::vector<Incompatibility> found;
      if (old.type != candidate.type) {
        found.push_back(
            {"", fmt::format("the schema type changed from {} to {}", old.type, candidate.type)});
      } else if (candidate.type == "AVRO") {
        if (backward) {
          avro::check_compatibility(*candidate.avro, *old.avro, true, found);
        } else {
          avro::check_compatibility(*old.avro, *candidate.avro, false, found);
        }
      } else {
        if (backward) {
          jsonschema::check_compatibility(candidate.json_schema, old.json_schema, true, found);
        } else {
          jsonschema::check_compatibility(old.json_schema, candidate.json_schema, false, found);
        }
      }
      if (found.empty()) continue;
      std::vector<std::string> reasons;
      for (const auto& f : found)
        reasons.push_back(f.message);
      std::string rule = backward
                             ? fmt::format(
                                   "{}: a reader using the new schema cannot read data written "
                                   "with version {}",
                                   level_name(level), it->version)
                             : fmt::format(
                                   "{}: a reader using version {} cannot read data written with "
                                   "the new schema",
                                   level_name(level), it->version);
      messages.push_back(fmt::format("{} ({})", fmt::join(reasons, "; "), rule));
      if (stop_at_first) return messages;
    }
    (void)subject;
  }
  return messages;
}

Result<int> SchemaStore::register_schema(const std::string& subject, const SchemaInput& in) {
  if (subject.empty()) return registry_error(kInvalidSchema, "the subject name is empty");
  SLUICE_ASSIGN_OR_RETURN(auto parsed, parse_input(in));
  std::lock_guard lock(mu_);
  auto& s = subjects_[subject];
  auto known = ids_by_key_.find(parsed->key());
  if (known != ids_by_key_.end()) {
    for (const auto& v : s.versions)
      if (v.id == known->second && !v.deleted) return v.id;  // idempotent
  }
  std::vector<VersionEntry> live;
  for (const auto& v : s.versions)
    if (!v.deleted) live.push_back(v);
  CompatLevel level = s.level.value_or(global_);
  if (!live.empty() && level != CompatLevel::kNone) {
    std::vector<VersionEntry> against =
        is_transitive(level) ? live : std::vector<VersionEntry>{live.back()};
    auto messages = check(subject, s, *parsed, level, against, true);
    if (!messages.empty()) {
      return registry_error(kIncompatibleSchema,
                            fmt::format("Schema being registered is incompatible with an earlier "
                                        "schema for subject \"{}\": {}",
                                        subject, messages.front()));
    }
  }
  std::vector<json> records;
  int id = 0;
  if (known != ids_by_key_.end()) {
    id = known->second;
  } else {
    id = next_id_;
    records.push_back(
        {{"t", "schema"}, {"id", id}, {"type", parsed->type}, {"schema", parsed->canonical}});
  }
  int version = s.versions.empty() ? 1 : s.versions.back().version + 1;
  records.push_back({{"t", "version"}, {"subject", subject}, {"version", version}, {"id", id}});
  Status st = append(records);
  if (!st.is_ok()) {
    if (s.versions.empty() && !s.level) subjects_.erase(subject);
    return st;
  }
  if (known == ids_by_key_.end()) {
    schemas_[id] = parsed;
    ids_by_key_[parsed->key()] = id;
    next_id_ = id + 1;
  }
  s.versions.push_back({version, id, false});
  return id;
}

Result<CompatReport> SchemaStore::test_compatibility(const std::string& subject,
                                                     const std::string& version,
                                                     const SchemaInput& in) {
  SLUICE_ASSIGN_OR_RETURN(auto parsed, parse_input(in));
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  std::vector<VersionEntry> live;
  if (it != subjects_.end()) {
    for (const auto& v : it->second.versions)
      if (!v.deleted) live.push_back(v);
  }
  CompatReport report;
  if (live.empty()) {
    if (version.empty() || version == "latest" || version == "-1") return report;
    return registry_error(kSubjectNotFound, subject_not_found(subject));
  }
  CompatLevel level = it->second.level.value_or(global_);
  std::vector<VersionEntry> against;
  if (version.empty()) {
    against = live;
  } else {
    SLUICE_ASSIGN_OR_RETURN(int v, resolve_version(subject, it->second, version, false));
    for (const auto& e : live)
      if (e.version == v) against.push_back(e);
  }
  report.messages = check(subject, it->second, *parsed, level, against, false);
  report.compatible = report.messages.empty();
  return report;
}

// ---- deletes ----

Result<std::vector<int>> SchemaStore::delete_subject(const std::string& subject, bool permanent) {
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end() || it->second.versions.empty()) {
    return registry_error(kSubjectNotFound, subject_not_found(subject));
  }
  auto& vs = it->second.versions;
  bool all_deleted = std::all_of(vs.begin(), vs.end(), [](const auto& v) { return v.deleted; });
  std::vector<int> out;
  std::vector<json> records;
  if (permanent) {
    if (!all_deleted) {
      return registry_error(kSubjectNotSoftDeleted,
                            fmt::format("Subject '{}' was not deleted first before being "
                                        "permanently deleted",
                                        subject));
    }
    for (const auto& v : vs) {
      out.push_back(v.version);
      records.push_back({{"t", "delete_version"},
                         {"subject", subject},
                         {"version", v.version},
                         {"permanent", true}});
    }
    if (it->second.level) records.push_back({{"t", "delete_subject_config"}, {"subject", subject}});
  } else {
    if (all_deleted) {
      return registry_error(kSubjectSoftDeleted,
                            fmt::format("Subject '{}' was soft deleted. Set permanent=true to "
                                        "delete permanently",
                                        subject));
    }
    for (const auto& v : vs) {
      if (v.deleted) continue;
      out.push_back(v.version);
      records.push_back({{"t", "delete_version"},
                         {"subject", subject},
                         {"version", v.version},
                         {"permanent", false}});
    }
  }
  SLUICE_RETURN_IF_ERROR(append(records));
  for (const auto& r : records)
    (void)apply(r);
  if (permanent) subjects_.erase(subject);
  return out;
}

Result<int> SchemaStore::delete_version(const std::string& subject, const std::string& version,
                                        bool permanent) {
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end() || it->second.versions.empty()) {
    return registry_error(kSubjectNotFound, subject_not_found(subject));
  }
  bool latest = version == "latest" || version == "-1";
  SLUICE_ASSIGN_OR_RETURN(int v,
                          resolve_version(subject, it->second, version, !latest || permanent));
  VersionEntry* entry = nullptr;
  for (auto& e : it->second.versions)
    if (e.version == v) entry = &e;
  if (permanent && !entry->deleted) {
    return registry_error(kVersionNotSoftDeleted,
                          fmt::format("Subject '{}' Version {} was not deleted first before being "
                                      "permanently deleted",
                                      subject, v));
  }
  if (!permanent && entry->deleted) {
    return registry_error(kVersionSoftDeleted,
                          fmt::format("Subject '{}' Version {} was soft deleted. Set "
                                      "permanent=true to delete permanently",
                                      subject, v));
  }
  json rec = {
      {"t", "delete_version"}, {"subject", subject}, {"version", v}, {"permanent", permanent}};
  SLUICE_RETURN_IF_ERROR(append({rec}));
  (void)apply(rec);
  if (it->second.versions.empty() && !it->second.level) subjects_.erase(it);
  return v;
}

// ---- configs ----

CompatLevel SchemaStore::global_level() {
  std::lock_guard lock(mu_);
  return global_;
}

Status SchemaStore::set_global_level(CompatLevel level) {
  std::lock_guard lock(mu_);
  json rec = {{"t", "config"}, {"subject", nullptr}, {"level", level_name(level)}};
  SLUICE_RETURN_IF_ERROR(append({rec}));
  global_ = level;
  return Status::ok();
}

Result<CompatLevel> SchemaStore::subject_level(const std::string& subject, bool default_to_global) {
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  if (it != subjects_.end() && it->second.level) return *it->second.level;
  if (default_to_global) return global_;
  return registry_error(kSubjectLevelConfigNotFound,
                        fmt::format("Subject '{}' does not have subject-level compatibility "
                                    "configured",
                                    subject));
}

Status SchemaStore::set_subject_level(const std::string& subject, CompatLevel level) {
  std::lock_guard lock(mu_);
  json rec = {{"t", "config"}, {"subject", subject}, {"level", level_name(level)}};
  SLUICE_RETURN_IF_ERROR(append({rec}));
  subjects_[subject].level = level;
  return Status::ok();
}

Result<CompatLevel> SchemaStore::delete_subject_level(const std::string& subject) {
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end() || !it->second.level) {
    return registry_error(kSubjectLevelConfigNotFound,
                          fmt::format("Subject '{}' does not have subject-level compatibility "
                                      "configured",
                                      subject));
  }
  CompatLevel prev = *it->second.level;
  SLUICE_RETURN_IF_ERROR(append({{{"t", "delete_subject_config"}, {"subject", subject}}}));
  it->second.level.reset();
  if (it->second.versions.empty()) subjects_.erase(it);
  return prev;
}

}  // namespace sluice::registry

// Iceberg spec: Table Metadata (JSON), read from v1 or v2 files and written as v2.
#include <algorithm>

#include "lake/detail/json_internal.h"
#include "lake/lake_internal.h"

namespace sluice::lake {

using detail::Json;
using detail::json_bool;
using detail::json_int;
using detail::json_long;
using detail::json_required;
using detail::json_string;
using detail::JsonError;
using detail::OJson;

const Schema& TableMetadata::current_schema() const {
  if (const auto* s = schema_by_id(current_schema_id)) return *s;
  static const Schema kEmpty;
  return schemas.empty() ? kEmpty : schemas.back();
}

const Schema* TableMetadata::schema_by_id(int id) const {
  for (const auto& s : schemas) {
    if (s.schema_id == id) return &s;
  }
  return nullptr;
}

const PartitionSpec& TableMetadata::default_spec() const {
  if (const auto* s = spec_by_id(default_spec_id)) return *s;
  static const PartitionSpec kUnpartitioned;
  return kUnpartitioned;
}

const PartitionSpec* TableMetadata::spec_by_id(int id) const {
  for (const auto& s : partition_specs) {
    if (s.spec_id == id) return &s;
  }
  return nullptr;
}

const Snapshot* TableMetadata::current_snapshot() const {
  if (!current_snapshot_id) return nullptr;
  return snapshot_by_id(*current_snapshot_id);
}

const Snapshot* TableMetadata::snapshot_by_id(int64_t id) const {
  for (const auto& s : snapshots) {
    if (s.snapshot_id == id) return &s;
  }
  return nullptr;
}

const Snapshot* TableMetadata::snapshot_as_of(int64_t timestamp_ms) const {
  const Snapshot* found = nullptr;
  if (!snapshot_log.empty()) {
    for (const auto& e : snapshot_log) {
      if (e.timestamp_ms > timestamp_ms) break;
      if (const auto* s = snapshot_by_id(e.snapshot_id)) found = s;
    }
    return found;
  }
  // No snapshot log (some writers omit it): walk the current lineage.
  for (const Snapshot* s = current_snapshot(); s != nullptr;
       s = s->parent_snapshot_id ? snapshot_by_id(*s->parent_snapshot_id) : nullptr) {
    if (s->timestamp_ms <= timestamp_ms) return s;
  }
  return nullptr;
}

namespace {

Snapshot snapshot_from_json(const Json& j, int format_version, const std::string& p) {
  Snapshot s;
  s.snapshot_id = json_long(json_required(j, "snapshot-id", p), p + ".snapshot-id");
  if (auto it = j.find("parent-snapshot-id"); it != j.end() && !it->is_null()) {
    s.parent_snapshot_id = json_long(*it, p + ".parent-snapshot-id");
  }
  if (format_version >= 2) {
    s.sequence_number = json_long(json_required(j, "sequence-number", p), p + ".sequence-number");
  } else if (auto it = j.find("sequence-number"); it != j.end()) {
    s.sequence_number = json_long(*it, p + ".sequence-number");
  }
  s.timestamp_ms = json_long(json_required(j, "timestamp-ms", p), p + ".timestamp-ms");
  if (auto it = j.find("manifest-list"); it != j.end()) {
    s.manifest_list = json_string(*it, p + ".manifest-list");
  } else if (format_version >= 2) {
    json_required(j, "manifest-list", p);
  } else {
    throw JsonError(p + ".manifests",
                    "v1 snapshots that list manifests inline (no manifest-list) are not "
                    "supported; rewrite the table's manifests with its writer first");
  }
  if (auto it = j.find("summary"); it != j.end()) {
    if (!it->is_object()) throw JsonError(p + ".summary", "expected an object");
    for (const auto& [k, v] : it->items()) {
      s.summary[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    if (format_version >= 2 && !s.summary.count("operation")) {
      throw JsonError(p + ".summary.operation", "required field is missing");
    }
  } else if (format_version >= 2) {
    json_required(j, "summary", p);
  }
  if (auto it = j.find("schema-id"); it != j.end() && !it->is_null()) {
    s.schema_id = json_int(*it, p + ".schema-id");
  }
  return s;
}

SortOrder sort_order_from_json(const Json& j, const std::string& p) {
  SortOrder o;
  o.order_id = json_int(json_required(j, "order-id", p), p + ".order-id");
  const Json& fields = json_required(j, "fields", p);
  if (!fields.is_array()) throw JsonError(p + ".fields", "expected an array");
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string fp = p + ".fields[" + std::to_string(i) + "]";
    SortField f;
    f.transform = json_string(json_required(fields[i], "transform", fp), fp + ".transform");
    f.source_id = json_int(json_required(fields[i], "source-id", fp), fp + ".source-id");
    auto dir = json_string(json_required(fields[i], "direction", fp), fp + ".direction");
    if (dir != "asc" && dir != "desc") throw JsonError(fp + ".direction", "expected asc or desc");
    f.ascending = dir == "asc";
    auto nulls = json_string(json_required(fields[i], "null-order", fp), fp + ".null-order");
    if (nulls != "nulls-first" && nulls != "nulls-last") {
      throw JsonError(fp + ".null-order", "expected nulls-first or nulls-last");
    }
    f.nulls_first = nulls == "nulls-first";
    o.fields.push_back(f);
  }
  return o;
}

TableMetadata parse_metadata_json(const Json& j) {
  TableMetadata m;
  if (!j.is_object()) throw JsonError("", "table metadata must be a JSON object");
  m.format_version = json_int(json_required(j, "format-version", ""), "format-version");
  if (m.format_version < 1 || m.format_version > 2) {
    throw JsonError("format-version", "format version " + std::to_string(m.format_version) +
                                          " is not supported (Sluice reads v1 and v2)");
  }
  const bool v2 = m.format_version >= 2;
  if (v2 || j.contains("table-uuid")) {
    m.table_uuid = json_string(json_required(j, "table-uuid", ""), "table-uuid");
  }
  m.location = json_string(json_required(j, "location", ""), "location");
  if (v2) {
    m.last_sequence_number =
        json_long(json_required(j, "last-sequence-number", ""), "last-sequence-number");
  }
  m.last_updated_ms = json_long(json_required(j, "last-updated-ms", ""), "last-updated-ms");
  m.last_column_id = json_int(json_required(j, "last-column-id", ""), "last-column-id");

  if (v2 || j.contains("schemas")) {
    const Json& schemas = json_required(j, "schemas", "");
    if (!schemas.is_array() || schemas.empty()) {
      throw JsonError("schemas", "expected a non-empty array");
    }
    for (size_t i = 0; i < schemas.size(); ++i) {
      m.schemas.push_back(
          detail::schema_from_json_object(schemas[i], "schemas[" + std::to_string(i) + "]"));
    }
    if (v2 || j.contains("current-schema-id")) {
      m.current_schema_id =
          json_int(json_required(j, "current-schema-id", ""), "current-schema-id");
    } else {
      m.current_schema_id = m.schemas.back().schema_id;
    }
  } else {
    m.schemas.push_back(detail::schema_from_json_object(json_required(j, "schema", ""), "schema"));
    m.current_schema_id = m.schemas[0].schema_id;
  }
  if (!m.schema_by_id(m.current_schema_id)) {
    throw JsonError("current-schema-id",
                    "schema " + std::to_string(m.current_schema_id) + " is not in schemas");
  }

  if (v2 || j.contains("partition-specs")) {
    const Json& specs = json_required(j, "partition-specs", "");
    if (!specs.is_array() || specs.empty()) {
      throw JsonError("partition-specs", "expected a non-empty array");
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      std::string p = "partition-specs[" + std::to_string(i) + "]";
      int id = json_int(json_required(specs[i], "spec-id", p), p + ".spec-id");
      m.partition_specs.push_back(
          detail::spec_from_json_fields(json_required(specs[i], "fields", p), id, p + ".fields"));
    }
    if (v2 || j.contains("default-spec-id")) {
      m.default_spec_id = json_int(json_required(j, "default-spec-id", ""), "default-spec-id");
    } else {
      m.default_spec_id = m.partition_specs.back().spec_id;
    }
  } else {
    m.partition_specs.push_back(
        detail::spec_from_json_fields(json_required(j, "partition-spec", ""), 0, "partition-spec"));
    m.default_spec_id = 0;
  }
  if (!m.spec_by_id(m.default_spec_id)) {
    throw JsonError("default-spec-id",
                    "spec " + std::to_string(m.default_spec_id) + " is not in partition-specs");
  }
  if (v2 || j.contains("last-partition-id")) {
    m.last_partition_id = json_int(json_required(j, "last-partition-id", ""), "last-partition-id");
  } else {
    m.last_partition_id = 999;
    for (const auto& s : m.partition_specs) {
      for (const auto& f : s.fields)
        m.last_partition_id = std::max(m.last_partition_id, f.field_id);
    }
  }

  if (v2 || j.contains("sort-orders")) {
    const Json& orders = json_required(j, "sort-orders", "");
    if (!orders.is_array()) throw JsonError("sort-orders", "expected an array");
    for (size_t i = 0; i < orders.size(); ++i) {
      m.sort_orders.push_back(
          sort_order_from_json(orders[i], "sort-orders[" + std::to_string(i) + "]"));
    }
    m.default_sort_order_id =
        json_int(json_required(j, "default-sort-order-id", ""), "default-sort-order-id");
  }
  if (m.sort_orders.empty()) m.sort_orders.push_back(SortOrder{0, {}});

  if (auto it = j.find("properties"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw JsonError("properties", "expected an object");
    for (const auto& [k, v] : it->items()) {
      m.properties[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  if (auto it = j.find("current-snapshot-id"); it != j.end() && !it->is_null()) {
    int64_t id = json_long(*it, "current-snapshot-id");
    if (id != -1) m.current_snapshot_id = id;
  }
  if (auto it = j.find("snapshots"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw JsonError("snapshots", "expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      m.snapshots.push_back(
          snapshot_from_json((*it)[i], m.format_version, "snapshots[" + std::to_string(i) + "]"));
    }
  }
  if (m.current_snapshot_id && !m.snapshot_by_id(*m.current_snapshot_id)) {
    throw JsonError("current-snapshot-id",
                    "snapshot " + std::to_string(*m.current_snapshot_id) + " is not in snapshots");
  }
  if (auto it = j.find("snapshot-log"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw JsonError("snapshot-log", "expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      std::string p = "snapshot-log[" + std::to_string(i) + "]";
      m.snapshot_log.push_back(
          {json_long(json_required((*it)[i], "timestamp-ms", p), p + ".timestamp-ms"),
           json_long(json_required((*it)[i], "snapshot-id", p), p + ".snapshot-id")});
    }
  }
  if (auto it = j.find("metadata-log"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw JsonError("metadata-log", "expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      std::string p = "metadata-log[" + std::to_string(i) + "]";
      m.metadata_log.push_back(
          {json_long(json_required((*it)[i], "timestamp-ms", p), p + ".timestamp-ms"),
           json_string(json_required((*it)[i], "metadata-file", p), p + ".metadata-file")});
    }
  }
  if (auto it = j.find("refs"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw JsonError("refs", "expected an object");
    for (const auto& [name, r] : it->items()) {
      std::string p = "refs." + name;
      SnapshotRef ref;
      ref.snapshot_id = json_long(json_required(r, "snapshot-id", p), p + ".snapshot-id");
      ref.type = json_string(json_required(r, "type", p), p + ".type");
      if (ref.type != "branch" && ref.type != "tag") {
        throw JsonError(p + ".type", "expected branch or tag");
      }
      m.refs[name] = ref;
    }
  }
  if (m.current_snapshot_id && !m.refs.count("main")) {
    m.refs["main"] = SnapshotRef{*m.current_snapshot_id, "branch"};
  }
  return m;
}

}  // namespace

Result<TableMetadata> parse_table_metadata(std::string_view json, const std::string& file) {
  try {
    return parse_metadata_json(Json::parse(json));
  } catch (const JsonError& e) {
    if (e.path.empty()) return corruption("table metadata " + file + ": " + e.what());
    return corruption("table metadata " + file + ": field '" + e.path + "': " + e.what());
  } catch (const Json::exception& e) {
    return corruption("table metadata " + file + ": invalid JSON: " + e.what());
  }
}

std::string serialize_table_metadata(const TableMetadata& m) {
  OJson j;
  j["format-version"] = 2;
  j["table-uuid"] = m.table_uuid;
  j["location"] = m.location;
  j["last-sequence-number"] = m.last_sequence_number;
  j["last-updated-ms"] = m.last_updated_ms;
  j["last-column-id"] = m.last_column_id;
  j["current-schema-id"] = m.current_schema_id;
  OJson schemas = OJson::array();
  for (const auto& s : m.schemas)
    schemas.push_back(detail::schema_to_json_object(s));
  j["schemas"] = std::move(schemas);
  j["default-spec-id"] = m.default_spec_id;
  OJson specs = OJson::array();
  for (const auto& s : m.partition_specs)
    specs.push_back(detail::spec_to_json_object(s));
  j["partition-specs"] = std::move(specs);
  j["last-partition-id"] = m.last_partition_id;
  j["default-sort-order-id"] = m.default_sort_order_id;
  OJson orders = OJson::array();
  for (const auto& o : m.sort_orders) {
    OJson oj;
    oj["order-id"] = o.order_id;
    OJson fields = OJson::array();
    for (const auto& f : o.fields) {
      OJson fj;
      fj["transform"] = f.transform;
      fj["source-id"] = f.source_id;
      fj["direction"] = f.ascending ? "asc" : "desc";
      fj["null-order"] = f.nulls_first ? "nulls-first" : "nulls-last";
      fields.push_back(std::move(fj));
    }
    oj["fields"] = std::move(fields);
    orders.push_back(std::move(oj));
  }
  j["sort-orders"] = std::move(orders);
  OJson props = OJson::object();
  for (const auto& [k, v] : m.properties)
    props[k] = v;
  j["properties"] = std::move(props);
  j["current-snapshot-id"] = m.current_snapshot_id ? *m.current_snapshot_id : -1;
  OJson refs = OJson::object();
  for (const auto& [name, r] : m.refs) {
    refs[name] = OJson{{"snapshot-id", r.snapshot_id}, {"type", r.type}};
  }
  j["refs"] = std::move(refs);
  OJson snaps = OJson::array();
  for (const auto& s : m.snapshots) {
    OJson sj;
    sj["sequence-number"] = s.sequence_number;
    sj["snapshot-id"] = s.snapshot_id;
    if (s.parent_snapshot_id) sj["parent-snapshot-id"] = *s.parent_snapshot_id;
    sj["timestamp-ms"] = s.timestamp_ms;
    OJson summary = OJson::object();
    auto op = s.summary.find("operation");
    summary["operation"] = op != s.summary.end() ? op->second : "append";
    for (const auto& [k, v] : s.summary) {
      if (k != "operation") summary[k] = v;
    }
    sj["summary"] = std::move(summary);
    sj["manifest-list"] = s.manifest_list;
    if (s.schema_id) sj["schema-id"] = *s.schema_id;
    snaps.push_back(std::move(sj));
  }
  j["snapshots"] = std::move(snaps);
  OJson slog = OJson::array();
  for (const auto& e : m.snapshot_log) {
    slog.push_back(OJson{{"timestamp-ms", e.timestamp_ms}, {"snapshot-id", e.snapshot_id}});
  }
  j["snapshot-log"] = std::move(slog);
  OJson mlog = OJson::array();
  for (const auto& e : m.metadata_log) {
    mlog.push_back(OJson{{"timestamp-ms", e.timestamp_ms}, {"metadata-file", e.metadata_file}});
  }
  j["metadata-log"] = std::move(mlog);
  return j.dump(2);
}

}  // namespace sluice::lake

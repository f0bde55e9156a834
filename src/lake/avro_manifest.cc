// Iceberg spec: Manifests and Manifest Lists, as Avro files. avro-c encodes and decodes the
// records; the container framing is in avro_container.cc. Readers find fields by their
// `field-id` attributes in the file's own schema, so v1 files (added_data_files_count, ...) and
// files from other writers read the same way.
#include <avro.h>

#include <algorithm>
#include <cmath>
#include <list>
#include <mutex>
#include <unordered_map>

#include "lake/detail/json_internal.h"
#include "lake/lake_internal.h"

namespace sluice::lake::detail {

namespace {

// --- Avro schemas (Iceberg spec: manifest_entry, data_file, manifest_file) -------------------

OJson avro_field(const std::string& name, OJson type, int id, bool optional,
                 const std::string& doc = "") {
  OJson f;
  f["name"] = name;
  if (optional) {
    f["type"] = OJson::array({"null", std::move(type)});
    f["default"] = nullptr;
  } else {
    f["type"] = std::move(type);
  }
  if (!doc.empty()) f["doc"] = doc;
  f["field-id"] = id;
  return f;
}

// Maps with non-string keys are arrays of key/value records (Iceberg spec: Avro, Maps).
OJson avro_int_map(int key_id, int value_id, const char* value_type) {
  OJson kv;
  kv["type"] = "record";
  kv["name"] = "k" + std::to_string(key_id) + "_v" + std::to_string(value_id);
  kv["fields"] = OJson::array(
      {avro_field("key", "int", key_id, false), avro_field("value", value_type, value_id, false)});
  OJson a;
  a["type"] = "array";
  a["items"] = std::move(kv);
  a["logicalType"] = "map";
  return a;
}

OJson avro_list(const char* element_type, int element_id) {
  OJson a;
  a["type"] = "array";
  a["items"] = element_type;
  a["element-id"] = element_id;
  return a;
}

// Iceberg spec: Avro type mapping, for partition tuple fields.
OJson avro_partition_type(const Type& t, int field_id) {
  const std::string& p = t.primitive;
  if (p == "boolean" || p == "int" || p == "long" || p == "float" || p == "double" ||
      p == "string") {
    return p;
  }
  if (p == "binary") return "bytes";
  if (p == "date") return OJson{{"type", "int"}, {"logicalType", "date"}};
  if (p == "time") return OJson{{"type", "long"}, {"logicalType", "time-micros"}};
  if (p == "timestamp" || p == "timestamptz") {
    return OJson{{"type", "long"},
                 {"logicalType", "timestamp-micros"},
                 {"adjust-to-utc", p == "timestamptz"}};
  }
  std::string name = "fixed_" + std::to_string(field_id);
  if (p == "uuid") {
    return OJson{{"type", "fixed"}, {"name", name}, {"size", 16}, {"logicalType", "uuid"}};
  }
  int prec = 0, scale = 0, len = 0;
  if (decimal_params(p, &prec, &scale)) {
    return OJson{
        {"type", "fixed"},          {"name", name},      {"size", decimal_required_bytes(prec)},
        {"logicalType", "decimal"}, {"precision", prec}, {"scale", scale}};
  }
  if (fixed_length(p, &len)) return OJson{{"type", "fixed"}, {"name", name}, {"size", len}};
  return "bytes";
}

// The type of each partition field of `spec` (transform result types).
Result<std::vector<TypePtr>> partition_types_for(const std::vector<Schema>& schemas,
                                                 const PartitionSpec& spec) {
  std::vector<TypePtr> out;
  for (const auto& f : spec.fields) {
    const NestedField* src = nullptr;
    for (auto it = schemas.rbegin(); it != schemas.rend() && !src; ++it) {
      src = it->find_field(f.source_id);
    }
    if (!src) {
      return corruption("partition field '" + f.name + "' refers to column id " +
                        std::to_string(f.source_id) + ", which no schema has");
    }
    SLUICE_ASSIGN_OR_RETURN(TypePtr t, transform_result_type(f.transform, *src->type));
    out.push_back(t);
  }
  return out;
}

OJson partition_record(const PartitionSpec& spec, const std::vector<TypePtr>& types) {
  OJson rec;
  rec["type"] = "record";
  rec["name"] = "r102";
  OJson fields = OJson::array();
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    fields.push_back(avro_field(spec.fields[i].name,
                                avro_partition_type(*types[i], spec.fields[i].field_id),
                                spec.fields[i].field_id, true));
  }
  rec["fields"] = std::move(fields);
  return rec;
}

OJson manifest_entry_schema_json(const PartitionSpec& spec, const std::vector<TypePtr>& types) {
  OJson df;
  df["type"] = "record";
  df["name"] = "r2";
  df["fields"] = OJson::array({
      avro_field("content", "int", 134, false,
                 "Contents of the file: 0=data, 1=position deletes, 2=equality deletes"),
      avro_field("file_path", "string", 100, false, "Location URI with FS scheme"),
      avro_field("file_format", "string", 101, false, "File format name: avro, orc, or parquet"),
      avro_field("partition", partition_record(spec, types), 102, false,
                 "Partition data tuple, schema based on the partition spec"),
      avro_field("record_count", "long", 103, false, "Number of records in the file"),
      avro_field("file_size_in_bytes", "long", 104, false, "Total file size in bytes"),
      avro_field("column_sizes", avro_int_map(117, 118, "long"), 108, true,
                 "Map of column id to total size on disk"),
      avro_field("value_counts", avro_int_map(119, 120, "long"), 109, true,
                 "Map of column id to total count, including null and NaN"),
      avro_field("null_value_counts", avro_int_map(121, 122, "long"), 110, true,
                 "Map of column id to null value count"),
      avro_field("nan_value_counts", avro_int_map(138, 139, "long"), 137, true,
                 "Map of column id to number of NaN values in the column"),
      avro_field("lower_bounds", avro_int_map(126, 127, "bytes"), 125, true,
                 "Map of column id to lower bound"),
      avro_field("upper_bounds", avro_int_map(129, 130, "bytes"), 128, true,
                 "Map of column id to upper bound"),
      avro_field("key_metadata", "bytes", 131, true, "Encryption key metadata blob"),
      avro_field("split_offsets", avro_list("long", 133), 132, true, "Splittable offsets"),
      avro_field("equality_ids", avro_list("int", 136), 135, true, "Equality comparison field IDs"),
      avro_field("sort_order_id", "int", 140, true, "Sort order ID"),
      avro_field("referenced_data_file", "string", 143, true,
                 "Fully qualified location of a data file that all deletes reference"),
  });
  OJson entry;
  entry["type"] = "record";
  entry["name"] = "manifest_entry";
  entry["fields"] = OJson::array({
      avro_field("status", "int", 0, false),
      avro_field("snapshot_id", "long", 1, true),
      avro_field("sequence_number", "long", 3, true),
      avro_field("file_sequence_number", "long", 4, true),
      avro_field("data_file", std::move(df), 2, false),
  });
  return entry;
}

OJson manifest_list_schema_json() {
  OJson summary;
  summary["type"] = "record";
  summary["name"] = "r508";
  summary["fields"] = OJson::array({
      avro_field("contains_null", "boolean", 509, false,
                 "True if any file has a null partition value"),
      avro_field("contains_nan", "boolean", 518, true,
                 "True if any file has a nan partition value"),
      avro_field("lower_bound", "bytes", 510, true, "Partition lower bound for all files"),
      avro_field("upper_bound", "bytes", 511, true, "Partition upper bound for all files"),
  });
  OJson parts;
  parts["type"] = "array";
  parts["items"] = std::move(summary);
  parts["element-id"] = 508;
  OJson mf;
  mf["type"] = "record";
  mf["name"] = "manifest_file";
  mf["fields"] = OJson::array({
      avro_field("manifest_path", "string", 500, false, "Location URI with FS scheme"),
      avro_field("manifest_length", "long", 501, false, "Total file size in bytes"),
      avro_field("partition_spec_id", "int", 502, false, "Spec ID used to write"),
      avro_field("content", "int", 517, false, "Contents of the manifest: 0=data, 1=deletes"),
      avro_field("sequence_number", "long", 515, false,
                 "Sequence number when the manifest was added"),
      avro_field("min_sequence_number", "long", 516, false,
                 "Lowest sequence number in the manifest"),
      avro_field("added_snapshot_id", "long", 503, false, "Snapshot ID that added the manifest"),
      avro_field("added_files_count", "int", 504, false, "Added entry count"),
      avro_field("existing_files_count", "int", 505, false, "Existing entry count"),
      avro_field("deleted_files_count", "int", 506, false, "Deleted entry count"),
      avro_field("added_rows_count", "long", 512, false, "Added rows count"),
      avro_field("existing_rows_count", "long", 513, false, "Existing rows count"),
      avro_field("deleted_rows_count", "long", 514, false, "Deleted rows count"),
      avro_field("partitions", std::move(parts), 507, true, "Summary for each partition"),
      avro_field("key_metadata", "bytes", 519, true, "Encryption key metadata blob"),
  });
  return mf;
}

// --- avro-c RAII ------------------------------------------------------------------------------

struct SchemaHolder {
  avro_schema_t s = nullptr;
  ~SchemaHolder() {
    if (s) avro_schema_decref(s);
  }
};
struct IfaceHolder {
  avro_value_iface_t* i = nullptr;
  ~IfaceHolder() {
    if (i) avro_value_iface_decref(i);
  }
};
struct ValueHolder {
  avro_value_t v{};
  bool live = false;
  ~ValueHolder() {
    if (live) avro_value_decref(&v);
  }
};
struct ReaderHolder {
  avro_reader_t r = nullptr;
  ~ReaderHolder() {
    if (r) avro_reader_free(r);
  }
};
struct WriterHolder {
  avro_writer_t w = nullptr;
  ~WriterHolder() {
    if (w) avro_writer_free(w);
  }
};

Status avro_error(const std::string& file, const std::string& what) {
  return corruption("Avro file " + file + ": " + what + ": " + avro_strerror());
}

#define AVRO_OK(expr, what) \
  if ((expr) != 0) return avro_error(file, what)

// A generic value class for a schema (avro-c): created once per file.
struct AvroClass {
  SchemaHolder schema;
  IfaceHolder iface;
  ValueHolder value;
};

Status make_class(const std::string& schema_json, const std::string& file, AvroClass* c) {
  AVRO_OK(avro_schema_from_json_length(schema_json.data(), schema_json.size(), &c->schema.s),
          "cannot parse the Avro schema");
  c->iface.i = avro_generic_class_from_schema(c->schema.s);
  if (!c->iface.i) return avro_error(file, "cannot build a value class for the schema");
  AVRO_OK(avro_generic_value_new(c->iface.i, &c->value.v), "cannot allocate a value");
  c->value.live = true;
  return Status::ok();
}

// Encodes `v` onto `out` (avro-c binary encoding).
Status append_encoded(avro_value_t* v, std::string* out, const std::string& file) {
  size_t size = 0;
  AVRO_OK(avro_value_sizeof(v, &size), "cannot size a record");
  size_t off = out->size();
  out->resize(off + size);
  WriterHolder w;
  w.w = avro_writer_memory(out->data() + off, static_cast<int64_t>(size));
  if (!w.w) return avro_error(file, "cannot create a memory writer");
  AVRO_OK(avro_value_write(w.w, v), "cannot encode a record");
  return Status::ok();
}

// --- setters ----------------------------------------------------------------------------------

Status set_field(avro_value_t* rec, const char* name, avro_value_t* out, const std::string& file) {
  AVRO_OK(avro_value_get_by_name(rec, name, out, nullptr), std::string("no field ") + name);
  return Status::ok();
}

// Sets an optional (["null", T]) field to null or returns the T branch in `branch`.
Status set_optional(avro_value_t* rec, const char* name, bool present, avro_value_t* branch,
                    const std::string& file) {
  avro_value_t f;
  SLUICE_RETURN_IF_ERROR(set_field(rec, name, &f, file));
  AVRO_OK(avro_value_set_branch(&f, present ? 1 : 0, branch), std::string("union ") + name);
  if (!present) AVRO_OK(avro_value_set_null(branch), std::string("null ") + name);
  return Status::ok();
}

Status set_long_field(avro_value_t* rec, const char* name, int64_t v, const std::string& file) {
  avro_value_t f;
  SLUICE_RETURN_IF_ERROR(set_field(rec, name, &f, file));
  AVRO_OK(avro_value_set_long(&f, v), name);
  return Status::ok();
}
Status set_int_field(avro_value_t* rec, const char* name, int32_t v, const std::string& file) {
  avro_value_t f;
  SLUICE_RETURN_IF_ERROR(set_field(rec, name, &f, file));
  AVRO_OK(avro_value_set_int(&f, v), name);
  return Status::ok();
}
Status set_string(avro_value_t* v, const std::string& s, const std::string& file) {
  AVRO_OK(avro_value_set_string_len(v, s.c_str(), s.size() + 1), "string");
  return Status::ok();
}
Status set_bytes(avro_value_t* v, std::string_view b, const std::string& file) {
  AVRO_OK(avro_value_set_bytes(v, const_cast<char*>(b.data()), b.size()), "bytes");
  return Status::ok();
}
Status set_opt_long(avro_value_t* rec, const char* name, std::optional<int64_t> v,
                    const std::string& file) {
  avro_value_t b;
  SLUICE_RETURN_IF_ERROR(set_optional(rec, name, v.has_value(), &b, file));
  if (v) AVRO_OK(avro_value_set_long(&b, *v), name);
  return Status::ok();
}

template <typename V>
Status set_int_map(avro_value_t* rec, const char* name, const std::map<int, V>& m,
                   const std::string& file) {
  avro_value_t arr;
  SLUICE_RETURN_IF_ERROR(set_optional(rec, name, !m.empty(), &arr, file));
  for (const auto& [k, v] : m) {
    avro_value_t kv, key, val;
    AVRO_OK(avro_value_append(&arr, &kv, nullptr), name);
    SLUICE_RETURN_IF_ERROR(set_field(&kv, "key", &key, file));
    SLUICE_RETURN_IF_ERROR(set_field(&kv, "value", &val, file));
    AVRO_OK(avro_value_set_int(&key, k), name);
    if constexpr (std::is_same_v<V, int64_t>) {
      AVRO_OK(avro_value_set_long(&val, v), name);
    } else {
      SLUICE_RETURN_IF_ERROR(set_bytes(&val, v, file));
    }
  }
  return Status::ok();
}

Status set_partition_value(avro_value_t* v, const Type& t, const Value& val,
                           const std::string& file) {
  const std::string& p = t.primitive;
  int prec = 0, scale = 0;
  if (auto* b = std::get_if<bool>(&val)) {
    AVRO_OK(avro_value_set_boolean(v, *b ? 1 : 0), "partition boolean");
  } else if (auto* i = std::get_if<int32_t>(&val)) {
    AVRO_OK(avro_value_set_int(v, *i), "partition int");
  } else if (auto* l = std::get_if<int64_t>(&val)) {
    AVRO_OK(avro_value_set_long(v, *l), "partition long");
  } else if (auto* f = std::get_if<float>(&val)) {
    AVRO_OK(avro_value_set_float(v, *f), "partition float");
  } else if (auto* d = std::get_if<double>(&val)) {
    AVRO_OK(avro_value_set_double(v, *d), "partition double");
  } else if (auto* s = std::get_if<std::string>(&val)) {
    if (p == "uuid") {
      SLUICE_ASSIGN_OR_RETURN(auto bytes, uuid_to_bytes(*s));
      AVRO_OK(avro_value_set_fixed(v, bytes.data(), bytes.size()), "partition uuid");
    } else {
      SLUICE_RETURN_IF_ERROR(set_string(v, *s, file));
    }
  } else if (auto* bytes = std::get_if<std::vector<uint8_t>>(&val)) {
    if (decimal_params(p, &prec, &scale)) {
      // Sign-extend the unscaled value to the fixed size.
      size_t size = static_cast<size_t>(decimal_required_bytes(prec));
      auto m = minimal_decimal_bytes(*bytes);
      if (m.size() > size) return invalid_argument("decimal partition value exceeds " + p);
      std::vector<uint8_t> out(size, (!m.empty() && (m[0] & 0x80)) ? 0xff : 0x00);
      std::copy(m.begin(), m.end(), out.begin() + static_cast<long>(size - m.size()));
      AVRO_OK(avro_value_set_fixed(v, out.data(), out.size()), "partition decimal");
    } else if (p.rfind("fixed[", 0) == 0) {
      AVRO_OK(avro_value_set_fixed(v, const_cast<uint8_t*>(bytes->data()), bytes->size()),
              "partition fixed");
    } else {
      AVRO_OK(avro_value_set_bytes(v, const_cast<uint8_t*>(bytes->data()), bytes->size()),
              "partition bytes");
    }
  }
  return Status::ok();
}

// --- getters ----------------------------------------------------------------------------------

// Resolves a union to its branch; returns false if the value is null.
bool unwrap(avro_value_t* v) {
  if (avro_value_get_type(v) == AVRO_UNION) {
    avro_value_t b;
    if (avro_value_get_current_branch(v, &b) != 0) return false;
    *v = b;
  }
  return avro_value_get_type(v) != AVRO_NULL;
}

bool get_long(avro_value_t* v, int64_t* out) {
  if (!unwrap(v)) return false;
  switch (avro_value_get_type(v)) {
    case AVRO_INT32: {
      int32_t i = 0;
      avro_value_get_int(v, &i);
      *out = i;
      return true;
    }
    case AVRO_INT64:
      avro_value_get_long(v, out);
      return true;
    default:
      return false;
  }
}

bool get_string(avro_value_t* v, std::string* out) {
  if (!unwrap(v)) return false;
  if (avro_value_get_type(v) == AVRO_STRING) {
    const char* s = nullptr;
    size_t size = 0;
    avro_value_get_string(v, &s, &size);
    out->assign(s, size > 0 ? size - 1 : 0);
    return true;
  }
  if (avro_value_get_type(v) == AVRO_BYTES) {
    const void* b = nullptr;
    size_t size = 0;
    avro_value_get_bytes(v, &b, &size);
    out->assign(static_cast<const char*>(b), size);
    return true;
  }
  if (avro_value_get_type(v) == AVRO_FIXED) {
    const void* b = nullptr;
    size_t size = 0;
    avro_value_get_fixed(v, &b, &size);
    out->assign(static_cast<const char*>(b), size);
    return true;
  }
  return false;
}

bool get_bool(avro_value_t* v, bool* out) {
  if (!unwrap(v) || avro_value_get_type(v) != AVRO_BOOLEAN) return false;
  int b = 0;
  avro_value_get_boolean(v, &b);
  *out = b != 0;
  return true;
}

Value partition_value_from_avro(avro_value_t* v, const Type& t) {
  if (!unwrap(v)) return Null{};
  const std::string& p = t.primitive;
  switch (avro_value_get_type(v)) {
    case AVRO_BOOLEAN: {
      int b = 0;
      avro_value_get_boolean(v, &b);
      return b != 0;
    }
    case AVRO_INT32:
    case AVRO_INT64: {
      int64_t l = 0;
      get_long(v, &l);
      if (p == "long" || p == "time" || p == "timestamp" || p == "timestamptz") return l;
      return static_cast<int32_t>(l);
    }
    case AVRO_FLOAT: {
      float f = 0;
      avro_value_get_float(v, &f);
      if (p == "double") return static_cast<double>(f);
      return f;
    }
    case AVRO_DOUBLE: {
      double d = 0;
      avro_value_get_double(v, &d);
      if (p == "float") return static_cast<float>(d);
      return d;
    }
    default: {
      std::string s;
      get_string(v, &s);
      if (p == "string") return s;
      if (p == "uuid") return uuid_from_bytes(s);
      std::vector<uint8_t> b(s.begin(), s.end());
      if (p.rfind("decimal(", 0) == 0) return minimal_decimal_bytes(b);
      return b;
    }
  }
}

// Field names of a record in a writer's schema, keyed by their field-id attribute.
std::map<int, std::string> names_by_id(const Json& record) {
  std::map<int, std::string> out;
  if (!record.is_object() || !record.contains("fields")) return out;
  for (const auto& f : record["fields"]) {
    if (f.contains("field-id") && f["field-id"].is_number_integer() && f.contains("name")) {
      out[f["field-id"].get<int>()] = f["name"].get<std::string>();
    }
  }
  return out;
}

// The record JSON of a (possibly optional) field's type.
const Json* record_type_of_field(const Json& record, int id, const char* name) {
  if (!record.is_object() || !record.contains("fields")) return nullptr;
  for (const auto& f : record["fields"]) {
    bool match = (f.contains("field-id") && f["field-id"] == id) ||
                 (!f.contains("field-id") && f.value("name", "") == name);
    if (!match) continue;
    const Json* t = &f["type"];
    if (t->is_array()) {
      for (const auto& b : *t) {
        if (b.is_object()) return &b;
      }
      return nullptr;
    }
    return t->is_object() ? t : nullptr;
  }
  return nullptr;
}

// Field indices in an avro-c record schema, by Iceberg field id (name from the writer's
// field-id attributes, else the spec's name). -1 if the writer has no such field.
class FieldIndex {
 public:
  FieldIndex(avro_schema_t rec, const Json& rec_json,
             std::initializer_list<std::pair<int, const char*>> fields) {
    auto names = names_by_id(rec_json);
    for (const auto& [id, spec_name] : fields) {
      auto it = names.find(id);
      std::string name = it != names.end() ? it->second : spec_name;
      idx_.emplace_back(id, rec ? avro_schema_record_field_get_index(rec, name.c_str()) : -1);
    }
  }
  // Child by Iceberg field id; false if absent or null.
  bool get(avro_value_t* rec, int id, avro_value_t* out) const {
    int i = index(id);
    if (i < 0) return false;
    if (avro_value_get_by_index(rec, static_cast<size_t>(i), out, nullptr) != 0) return false;
    return unwrap(out);
  }
  bool has(int id) const { return index(id) >= 0; }

 private:
  int index(int id) const {
    for (const auto& [k, v] : idx_) {
      if (k == id) return v;
    }
    return -1;
  }
  std::vector<std::pair<int, int>> idx_;
};

template <typename V>
void read_int_map(avro_value_t* v, std::map<int, V>* out) {
  if (!unwrap(v)) return;
  if (avro_value_get_type(v) == AVRO_ARRAY) {
    size_t n = 0;
    avro_value_get_size(v, &n);
    for (size_t i = 0; i < n; ++i) {
      // Iceberg spec: the key/value record holds "key" then "value".
      avro_value_t kv, key, val;
      if (avro_value_get_by_index(v, i, &kv, nullptr) != 0) continue;
      if (avro_value_get_by_index(&kv, 0, &key, nullptr) != 0) continue;
      if (avro_value_get_by_index(&kv, 1, &val, nullptr) != 0) continue;
      int64_t k = 0;
      if (!get_long(&key, &k)) continue;
      if constexpr (std::is_same_v<V, int64_t>) {
        int64_t x = 0;
        if (get_long(&val, &x)) (*out)[static_cast<int>(k)] = x;
      } else {
        std::string s;
        if (get_string(&val, &s)) (*out)[static_cast<int>(k)] = std::move(s);
      }
    }
  } else if (avro_value_get_type(v) == AVRO_MAP) {
    size_t n = 0;
    avro_value_get_size(v, &n);
    for (size_t i = 0; i < n; ++i) {
      avro_value_t val;
      const char* key = nullptr;
      if (avro_value_get_by_index(v, i, &val, &key) != 0 || !key) continue;
      int k = std::atoi(key);
      if constexpr (std::is_same_v<V, int64_t>) {
        int64_t x = 0;
        if (get_long(&val, &x)) (*out)[k] = x;
      } else {
        std::string s;
        if (get_string(&val, &s)) (*out)[k] = std::move(s);
      }
    }
  }
}

Result<int> meta_int(const std::map<std::string, std::string>& meta, const char* key, int dflt,
                     const std::string& file) {
  auto it = meta.find(key);
  if (it == meta.end()) return dflt;
  try {
    return std::stoi(it->second);
  } catch (const std::exception&) {
    return corruption("Avro file " + file + ": header metadata '" + key + "' is not a number: '" +
                      it->second + "'");
  }
}

}  // namespace

std::string manifest_entry_avro_schema(const Schema& schema, const PartitionSpec& spec) {
  auto types = partition_types_for({schema}, spec);
  if (!types.is_ok()) return {};
  return manifest_entry_schema_json(spec, *types).dump();
}

std::string manifest_list_avro_schema() {
  return manifest_list_schema_json().dump();
}

Result<ManifestFile> write_manifest(const std::string& path, const Schema& schema,
                                    const PartitionSpec& spec, int content,
                                    int64_t added_snapshot_id,
                                    const std::vector<ManifestEntry>& entries,
                                    const ManifestWriteOptions& options) {
  const std::string& file = path;
  SLUICE_ASSIGN_OR_RETURN(auto types, partition_types_for({schema}, spec));
  std::string schema_json = manifest_entry_schema_json(spec, types).dump();
  AvroClass cls;
  SLUICE_RETURN_IF_ERROR(make_class(schema_json, file, &cls));

  ManifestFile mf;
  mf.manifest_path = path;
  mf.partition_spec_id = spec.spec_id;
  mf.content = content;
  mf.added_snapshot_id = added_snapshot_id;
  mf.min_sequence_number = INT64_MAX;
  std::vector<FieldSummary> summaries(spec.fields.size());
  std::vector<std::optional<Value>> lower(spec.fields.size()), upper(spec.fields.size());

  std::string block;
  for (const auto& e : entries) {
    const DataFile& f = e.file;
    if (f.partition.size() != spec.fields.size()) {
      return invalid_argument("data file " + f.file_path + ": partition has " +
                              std::to_string(f.partition.size()) + " values but spec " +
                              std::to_string(spec.spec_id) + " has " +
                              std::to_string(spec.fields.size()) + " fields");
    }
    avro_value_t* rec = &cls.value.v;
    AVRO_OK(avro_value_reset(rec), "reset");
    SLUICE_RETURN_IF_ERROR(set_int_field(rec, "status", static_cast<int>(e.status), file));
    SLUICE_RETURN_IF_ERROR(set_opt_long(rec, "snapshot_id", e.snapshot_id, file));
    SLUICE_RETURN_IF_ERROR(set_opt_long(rec, "sequence_number", e.sequence_number, file));
    SLUICE_RETURN_IF_ERROR(set_opt_long(rec, "file_sequence_number", e.file_sequence_number, file));
    avro_value_t df, v;
    SLUICE_RETURN_IF_ERROR(set_field(rec, "data_file", &df, file));
    SLUICE_RETURN_IF_ERROR(set_int_field(&df, "content", static_cast<int>(f.content), file));
    SLUICE_RETURN_IF_ERROR(set_field(&df, "file_path", &v, file));
    SLUICE_RETURN_IF_ERROR(set_string(&v, f.file_path, file));
    SLUICE_RETURN_IF_ERROR(set_field(&df, "file_format", &v, file));
    SLUICE_RETURN_IF_ERROR(set_string(&v, f.file_format, file));
    avro_value_t part;
    SLUICE_RETURN_IF_ERROR(set_field(&df, "partition", &part, file));
    for (size_t i = 0; i < spec.fields.size(); ++i) {
      const Value& pv = f.partition[i];
      bool is_null = std::holds_alternative<Null>(pv);
      avro_value_t pf, branch;
      AVRO_OK(avro_value_get_by_index(&part, i, &pf, nullptr), "partition field");
      AVRO_OK(avro_value_set_branch(&pf, is_null ? 0 : 1, &branch), "partition union");
      if (is_null) {
        AVRO_OK(avro_value_set_null(&branch), "partition null");
      } else {
        SLUICE_ASSIGN_OR_RETURN(Value cv,
                                coerce_value(*types[i], pv,
                                             "data file " + f.file_path + ": partition field '" +
                                                 spec.fields[i].name + "'"));
        SLUICE_RETURN_IF_ERROR(set_partition_value(&branch, *types[i], cv, file));
      }
      // Partition summaries cover live entries (Iceberg spec: field_summary).
      if (e.status == EntryStatus::kDeleted) continue;
      if (is_null) {
        summaries[i].contains_null = true;
        continue;
      }
      if (auto* d = std::get_if<double>(&pv); d && std::isnan(*d)) {
        summaries[i].contains_nan = true;
        continue;
      }
      if (auto* fl = std::get_if<float>(&pv); fl && std::isnan(*fl)) {
        summaries[i].contains_nan = true;
        continue;
      }
      SLUICE_ASSIGN_OR_RETURN(Value cv, coerce_value(*types[i], pv, "partition"));
      if (!lower[i] || compare_values(*types[i], cv, *lower[i]) < 0) lower[i] = cv;
      if (!upper[i] || compare_values(*types[i], cv, *upper[i]) > 0) upper[i] = cv;
    }
    SLUICE_RETURN_IF_ERROR(set_long_field(&df, "record_count", f.record_count, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(&df, "file_size_in_bytes", f.file_size_in_bytes, file));
    SLUICE_RETURN_IF_ERROR(set_int_map(&df, "column_sizes", f.column_sizes, file));
    SLUICE_RETURN_IF_ERROR(set_int_map(&df, "value_counts", f.value_counts, file));
    SLUICE_RETURN_IF_ERROR(set_int_map(&df, "null_value_counts", f.null_value_counts, file));
    SLUICE_RETURN_IF_ERROR(set_int_map(&df, "nan_value_counts", f.nan_value_counts, file));
    SLUICE_RETURN_IF_ERROR(set_int_map(&df, "lower_bounds", f.lower_bounds, file));
    SLUICE_RETURN_IF_ERROR(set_int_map(&df, "upper_bounds", f.upper_bounds, file));
    avro_value_t b;
    SLUICE_RETURN_IF_ERROR(set_optional(&df, "key_metadata", false, &b, file));
    SLUICE_RETURN_IF_ERROR(set_optional(&df, "split_offsets", false, &b, file));
    SLUICE_RETURN_IF_ERROR(set_optional(&df, "equality_ids", !f.equality_ids.empty(), &b, file));
    for (int id : f.equality_ids) {
      avro_value_t el;
      AVRO_OK(avro_value_append(&b, &el, nullptr), "equality_ids");
      AVRO_OK(avro_value_set_int(&el, id), "equality_ids");
    }
    SLUICE_RETURN_IF_ERROR(
        set_optional(&df, "sort_order_id", f.sort_order_id.has_value(), &b, file));
    if (f.sort_order_id) AVRO_OK(avro_value_set_int(&b, *f.sort_order_id), "sort_order_id");
    SLUICE_RETURN_IF_ERROR(
        set_optional(&df, "referenced_data_file", f.referenced_data_file.has_value(), &b, file));
    if (f.referenced_data_file)
      SLUICE_RETURN_IF_ERROR(set_string(&b, *f.referenced_data_file, file));
    SLUICE_RETURN_IF_ERROR(append_encoded(rec, &block, file));

    switch (e.status) {
      case EntryStatus::kAdded:
        ++mf.added_files_count;
        mf.added_rows_count += f.record_count;
        break;
      case EntryStatus::kExisting:
        ++mf.existing_files_count;
        mf.existing_rows_count += f.record_count;
        break;
      case EntryStatus::kDeleted:
        ++mf.deleted_files_count;
        mf.deleted_rows_count += f.record_count;
        break;
    }
    if (e.status != EntryStatus::kDeleted && e.sequence_number) {
      mf.min_sequence_number = std::min(mf.min_sequence_number, *e.sequence_number);
    }
  }
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    if (lower[i]) {
      SLUICE_ASSIGN_OR_RETURN(auto lb, encode_single_value(*types[i], *lower[i]));
      SLUICE_ASSIGN_OR_RETURN(auto ub, encode_single_value(*types[i], *upper[i]));
      summaries[i].lower_bound = lb;
      summaries[i].upper_bound = ub;
    }
    const std::string& p = types[i]->primitive;
    if ((p == "float" || p == "double") && !summaries[i].contains_nan) {
      summaries[i].contains_nan = false;
    }
  }
  mf.partitions = std::move(summaries);

  std::map<std::string, std::string> meta = {
      {"schema", schema_to_json(schema)},
      {"schema-id", std::to_string(schema.schema_id)},
      {"partition-spec", partition_spec_fields_to_json(spec)},
      {"partition-spec-id", std::to_string(spec.spec_id)},
      {"format-version", "2"},
      {"content", content == 0 ? "data" : "deletes"},
  };
  SLUICE_ASSIGN_OR_RETURN(std::string bytes,
                          frame_avro_container(meta, schema_json, options.codec, {block},
                                               {static_cast<int64_t>(entries.size())}));
  SLUICE_RETURN_IF_ERROR(write_new_file(path, bytes));
  mf.manifest_length = static_cast<int64_t>(bytes.size());
  return mf;
}

Status write_manifest_list(const std::string& path, int64_t snapshot_id,
                           std::optional<int64_t> parent_id, int64_t sequence_number,
                           const std::vector<ManifestFile>& manifests,
                           const ManifestWriteOptions& options) {
  const std::string& file = path;
  std::string schema_json = manifest_list_schema_json().dump();
  AvroClass cls;
  SLUICE_RETURN_IF_ERROR(make_class(schema_json, file, &cls));
  std::string block;
  for (const auto& m : manifests) {
    avro_value_t* rec = &cls.value.v;
    AVRO_OK(avro_value_reset(rec), "reset");
    avro_value_t v;
    SLUICE_RETURN_IF_ERROR(set_field(rec, "manifest_path", &v, file));
    SLUICE_RETURN_IF_ERROR(set_string(&v, m.manifest_path, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(rec, "manifest_length", m.manifest_length, file));
    SLUICE_RETURN_IF_ERROR(set_int_field(rec, "partition_spec_id", m.partition_spec_id, file));
    SLUICE_RETURN_IF_ERROR(set_int_field(rec, "content", m.content, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(rec, "sequence_number", m.sequence_number, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(rec, "min_sequence_number", m.min_sequence_number, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(rec, "added_snapshot_id", m.added_snapshot_id, file));
    SLUICE_RETURN_IF_ERROR(set_int_field(rec, "added_files_count", m.added_files_count, file));
    SLUICE_RETURN_IF_ERROR(
        set_int_field(rec, "existing_files_count", m.existing_files_count, file));
    SLUICE_RETURN_IF_ERROR(set_int_field(rec, "deleted_files_count", m.deleted_files_count, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(rec, "added_rows_count", m.added_rows_count, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(rec, "existing_rows_count", m.existing_rows_count, file));
    SLUICE_RETURN_IF_ERROR(set_long_field(rec, "deleted_rows_count", m.deleted_rows_count, file));
    avro_value_t arr;
    SLUICE_RETURN_IF_ERROR(set_optional(rec, "partitions", m.partitions.has_value(), &arr, file));
    if (m.partitions) {
      for (const auto& s : *m.partitions) {
        avro_value_t fs, b;
        AVRO_OK(avro_value_append(&arr, &fs, nullptr), "partitions");
        avro_value_t cn;
        SLUICE_RETURN_IF_ERROR(set_field(&fs, "contains_null", &cn, file));
        AVRO_OK(avro_value_set_boolean(&cn, s.contains_null ? 1 : 0), "contains_null");
        SLUICE_RETURN_IF_ERROR(
            set_optional(&fs, "contains_nan", s.contains_nan.has_value(), &b, file));
        if (s.contains_nan) AVRO_OK(avro_value_set_boolean(&b, *s.contains_nan ? 1 : 0), "nan");
        SLUICE_RETURN_IF_ERROR(
            set_optional(&fs, "lower_bound", s.lower_bound.has_value(), &b, file));
        if (s.lower_bound) SLUICE_RETURN_IF_ERROR(set_bytes(&b, *s.lower_bound, file));
        SLUICE_RETURN_IF_ERROR(
            set_optional(&fs, "upper_bound", s.upper_bound.has_value(), &b, file));
        if (s.upper_bound) SLUICE_RETURN_IF_ERROR(set_bytes(&b, *s.upper_bound, file));
      }
    }
    avro_value_t km;
    SLUICE_RETURN_IF_ERROR(
        set_optional(rec, "key_metadata", m.key_metadata.has_value(), &km, file));
    if (m.key_metadata) SLUICE_RETURN_IF_ERROR(set_bytes(&km, *m.key_metadata, file));
    SLUICE_RETURN_IF_ERROR(append_encoded(rec, &block, file));
  }
  std::map<std::string, std::string> meta = {
      {"snapshot-id", std::to_string(snapshot_id)},
      {"parent-snapshot-id", parent_id ? std::to_string(*parent_id) : "null"},
      {"sequence-number", std::to_string(sequence_number)},
      {"format-version", "2"},
  };
  SLUICE_ASSIGN_OR_RETURN(std::string bytes,
                          frame_avro_container(meta, schema_json, options.codec, {block},
                                               {static_cast<int64_t>(manifests.size())}));
  // Not synced here: the commit syncs it together with the metadata file, in one round.
  return write_new_file(path, bytes, /*sync=*/false);
}

namespace {

// Decodes every record of a container with avro-c, calling `fn` on each.
Status for_each_record(const AvroContainer& c, AvroClass* cls, const std::string& file,
                       const std::function<Status(avro_value_t*)>& fn) {
  ReaderHolder r;
  for (size_t b = 0; b < c.blocks.size(); ++b) {
    const std::string& data = c.blocks[b];
    if (!r.r) {
      r.r = avro_reader_memory(data.data(), static_cast<int64_t>(data.size()));
      if (!r.r) return avro_error(file, "cannot create a memory reader");
    } else {
      avro_reader_memory_set_source(r.r, data.data(), static_cast<int64_t>(data.size()));
    }
    for (int64_t i = 0; i < c.block_counts[b]; ++i) {
      AVRO_OK(avro_value_reset(&cls->value.v), "reset");
      if (avro_value_read(r.r, &cls->value.v) != 0) {
        return avro_error(file, "record " + std::to_string(i) + " of block " + std::to_string(b) +
                                    " does not decode");
      }
      SLUICE_RETURN_IF_ERROR(fn(&cls->value.v));
    }
  }
  return Status::ok();
}

}  // namespace

Result<Manifest> read_manifest(const std::string& path, const PartitionSpec& spec,
                               const Schema& schema) {
  const std::string& file = path;
  SLUICE_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  SLUICE_ASSIGN_OR_RETURN(AvroContainer c, read_avro_container(bytes, path));
  Manifest m;
  m.metadata = c.metadata;
  SLUICE_ASSIGN_OR_RETURN(m.format_version, meta_int(c.metadata, "format-version", 1, file));
  SLUICE_ASSIGN_OR_RETURN(m.spec_id, meta_int(c.metadata, "partition-spec-id", spec.spec_id, file));
  auto content = c.metadata.find("content");
  m.content = (content != c.metadata.end() && content->second == "deletes") ? 1 : 0;

  Json writer;
  try {
    writer = Json::parse(c.metadata.at("avro.schema"));
  } catch (const Json::exception& e) {
    return corruption("manifest " + path + ": avro.schema is not JSON: " + e.what());
  }
  AvroClass cls;
  SLUICE_RETURN_IF_ERROR(make_class(c.metadata.at("avro.schema"), file, &cls));
  SLUICE_ASSIGN_OR_RETURN(auto types, partition_types_for({schema}, spec));

  FieldIndex top(cls.schema.s, writer,
                 {{0, "status"},
                  {1, "snapshot_id"},
                  {3, "sequence_number"},
                  {4, "file_sequence_number"},
                  {2, "data_file"}});
  if (!top.has(0) || !top.has(2)) {
    return corruption("manifest " + path +
                      ": not a manifest (no status (field 0) or data_file (field 2) field)");
  }
  const Json* df_json = record_type_of_field(writer, 2, "data_file");
  auto top_names = names_by_id(writer);
  avro_schema_t df_schema = avro_schema_record_field_get(
      cls.schema.s, top_names.count(2) ? top_names[2].c_str() : "data_file");
  FieldIndex dfi(df_schema, df_json ? *df_json : Json(),
                 {{134, "content"},
                  {100, "file_path"},
                  {101, "file_format"},
                  {102, "partition"},
                  {103, "record_count"},
                  {104, "file_size_in_bytes"},
                  {108, "column_sizes"},
                  {109, "value_counts"},
                  {110, "null_value_counts"},
                  {137, "nan_value_counts"},
                  {125, "lower_bounds"},
                  {128, "upper_bounds"},
                  {135, "equality_ids"},
                  {140, "sort_order_id"},
                  {143, "referenced_data_file"}});
  if (!dfi.has(100) || !dfi.has(103)) {
    return corruption("manifest " + path + ": data_file has no file_path (field 100) or " +
                      "record_count (field 103)");
  }
  // Partition tuple: map each spec field to its index in the writer's partition record.
  std::vector<int> part_idx(spec.fields.size(), -1);
  if (df_json) {
    const Json* pj = record_type_of_field(*df_json, 102, "partition");
    auto df_names = names_by_id(*df_json);
    avro_schema_t p_schema =
        df_schema ? avro_schema_record_field_get(
                        df_schema, df_names.count(102) ? df_names[102].c_str() : "partition")
                  : nullptr;
    auto pnames = pj ? names_by_id(*pj) : std::map<int, std::string>{};
    for (size_t i = 0; i < spec.fields.size() && p_schema; ++i) {
      auto it = pnames.find(spec.fields[i].field_id);
      std::string name = it != pnames.end() ? it->second : spec.fields[i].name;
      part_idx[i] = avro_schema_record_field_get_index(p_schema, name.c_str());
    }
  }

  size_t n = 0;
  for (auto cnt : c.block_counts)
    n += static_cast<size_t>(cnt);
  m.entries.reserve(n);
  SLUICE_RETURN_IF_ERROR(for_each_record(c, &cls, file, [&](avro_value_t* rec) -> Status {
    ManifestEntry e;
    avro_value_t v;
    int64_t x = 0;
    if (!top.get(rec, 0, &v) || !get_long(&v, &x) || x < 0 || x > 2) {
      return corruption("manifest " + path + ": entry " + std::to_string(m.entries.size()) +
                        ": field 'status' must be 0, 1 or 2");
    }
    e.status = static_cast<EntryStatus>(x);
    if (top.get(rec, 1, &v) && get_long(&v, &x)) e.snapshot_id = x;
    if (top.get(rec, 3, &v) && get_long(&v, &x)) e.sequence_number = x;
    if (top.get(rec, 4, &v) && get_long(&v, &x)) e.file_sequence_number = x;
    avro_value_t df;
    if (!top.get(rec, 2, &df)) {
      return corruption("manifest " + path + ": entry " + std::to_string(m.entries.size()) +
                        ": field 'data_file' is missing");
    }
    DataFile& f = e.file;
    f.spec_id = spec.spec_id;
    if (dfi.get(&df, 134, &v) && get_long(&v, &x)) f.content = static_cast<FileContent>(x);
    if (!dfi.get(&df, 100, &v) || !get_string(&v, &f.file_path)) {
      return corruption("manifest " + path + ": entry " + std::to_string(m.entries.size()) +
                        ": field 'file_path' is missing");
    }
    if (dfi.get(&df, 101, &v)) {
      get_string(&v, &f.file_format);
      std::transform(f.file_format.begin(), f.file_format.end(), f.file_format.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    }
    if (dfi.get(&df, 103, &v)) get_long(&v, &f.record_count);
    if (dfi.get(&df, 104, &v)) get_long(&v, &f.file_size_in_bytes);
    if (dfi.get(&df, 108, &v)) read_int_map(&v, &f.column_sizes);
    if (dfi.get(&df, 109, &v)) read_int_map(&v, &f.value_counts);
    if (dfi.get(&df, 110, &v)) read_int_map(&v, &f.null_value_counts);
    if (dfi.get(&df, 137, &v)) read_int_map(&v, &f.nan_value_counts);
    if (dfi.get(&df, 125, &v)) read_int_map(&v, &f.lower_bounds);
    if (dfi.get(&df, 128, &v)) read_int_map(&v, &f.upper_bounds);
    if (dfi.get(&df, 135, &v) && avro_value_get_type(&v) == AVRO_ARRAY) {
      size_t cnt = 0;
      avro_value_get_size(&v, &cnt);
      for (size_t i = 0; i < cnt; ++i) {
        avro_value_t el;
        if (avro_value_get_by_index(&v, i, &el, nullptr) == 0 && get_long(&el, &x)) {
          f.equality_ids.push_back(static_cast<int>(x));
        }
      }
    }
    if (dfi.get(&df, 140, &v) && get_long(&v, &x)) f.sort_order_id = static_cast<int>(x);
    std::string ref;
    if (dfi.get(&df, 143, &v) && get_string(&v, &ref)) f.referenced_data_file = ref;
    f.partition.resize(spec.fields.size());
    avro_value_t part;
    if (dfi.get(&df, 102, &part)) {
      for (size_t i = 0; i < spec.fields.size(); ++i) {
        if (part_idx[i] < 0) continue;
        avro_value_t pv;
        if (avro_value_get_by_index(&part, static_cast<size_t>(part_idx[i]), &pv, nullptr) == 0) {
          f.partition[i] = partition_value_from_avro(&pv, *types[i]);
        }
      }
    }
    m.entries.push_back(std::move(e));
    return Status::ok();
  }));
  return m;
}

Result<ManifestList> read_manifest_list(const std::string& path) {
  const std::string& file = path;
  SLUICE_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  SLUICE_ASSIGN_OR_RETURN(AvroContainer c, read_avro_container(bytes, path));
  ManifestList out;
  out.metadata = c.metadata;
  Json writer;
  try {
    writer = Json::parse(c.metadata.at("avro.schema"));
  } catch (const Json::exception& e) {
    return corruption("manifest list " + path + ": avro.schema is not JSON: " + e.what());
  }
  AvroClass cls;
  SLUICE_RETURN_IF_ERROR(make_class(c.metadata.at("avro.schema"), file, &cls));
  FieldIndex fi(cls.schema.s, writer,
                {{500, "manifest_path"},
                 {501, "manifest_length"},
                 {502, "partition_spec_id"},
                 {517, "content"},
                 {515, "sequence_number"},
                 {516, "min_sequence_number"},
                 {503, "added_snapshot_id"},
                 {504, "added_files_count"},
                 {505, "existing_files_count"},
                 {506, "deleted_files_count"},
                 {512, "added_rows_count"},
                 {513, "existing_rows_count"},
                 {514, "deleted_rows_count"},
                 {507, "partitions"},
                 {519, "key_metadata"}});
  if (!fi.has(500)) {
    return corruption("manifest list " + path + ": no manifest_path (field 500) field");
  }
  const Json* summary_json = nullptr;
  if (const Json* arr = record_type_of_field(writer, 507, "partitions"); arr && arr->is_object()) {
    if (arr->contains("items") && (*arr)["items"].is_object()) summary_json = &(*arr)["items"];
  }
  auto sum_names = summary_json ? names_by_id(*summary_json) : std::map<int, std::string>{};
  auto name_or = [&](int id, const char* d) {
    auto it = sum_names.find(id);
    return it != sum_names.end() ? it->second : std::string(d);
  };
  std::string cn = name_or(509, "contains_null"), cnan = name_or(518, "contains_nan"),
              lb = name_or(510, "lower_bound"), ub = name_or(511, "upper_bound");

  SLUICE_RETURN_IF_ERROR(for_each_record(c, &cls, file, [&](avro_value_t* rec) -> Status {
    ManifestFile m;
    avro_value_t v;
    int64_t x = 0;
    if (!fi.get(rec, 500, &v) || !get_string(&v, &m.manifest_path)) {
      return corruption("manifest list " + path + ": entry " +
                        std::to_string(out.manifests.size()) + ": manifest_path is missing");
    }
    auto get = [&](int id, auto* dst) {
      if (fi.get(rec, id, &v) && get_long(&v, &x)) {
        *dst = static_cast<std::decay_t<decltype(*dst)>>(x);
      }
    };
    get(501, &m.manifest_length);
    get(502, &m.partition_spec_id);
    get(517, &m.content);
    get(515, &m.sequence_number);
    get(516, &m.min_sequence_number);
    get(503, &m.added_snapshot_id);
    get(504, &m.added_files_count);
    get(505, &m.existing_files_count);
    get(506, &m.deleted_files_count);
    get(512, &m.added_rows_count);
    get(513, &m.existing_rows_count);
    get(514, &m.deleted_rows_count);
    if (fi.get(rec, 507, &v) && avro_value_get_type(&v) == AVRO_ARRAY) {
      std::vector<FieldSummary> sums;
      size_t n = 0;
      avro_value_get_size(&v, &n);
      for (size_t i = 0; i < n; ++i) {
        avro_value_t fs, f;
        if (avro_value_get_by_index(&v, i, &fs, nullptr) != 0) continue;
        FieldSummary s;
        bool b = false;
        if (avro_value_get_by_name(&fs, cn.c_str(), &f, nullptr) == 0 && get_bool(&f, &b)) {
          s.contains_null = b;
        }
        if (avro_value_get_by_name(&fs, cnan.c_str(), &f, nullptr) == 0 && get_bool(&f, &b)) {
          s.contains_nan = b;
        }
        std::string bytes_v;
        if (avro_value_get_by_name(&fs, lb.c_str(), &f, nullptr) == 0 && get_string(&f, &bytes_v)) {
          s.lower_bound = bytes_v;
        }
        if (avro_value_get_by_name(&fs, ub.c_str(), &f, nullptr) == 0 && get_string(&f, &bytes_v)) {
          s.upper_bound = bytes_v;
        }
        sums.push_back(std::move(s));
      }
      m.partitions = std::move(sums);
    }
    std::string km;
    if (fi.get(rec, 519, &v) && get_string(&v, &km)) m.key_metadata = km;
    out.manifests.push_back(std::move(m));
    return Status::ok();
  }));
  return out;
}

// --- caches -----------------------------------------------------------------------------------

namespace {

// Immutable files cached by path (bounded; the oldest are dropped first).
template <typename T>
class FileCache {
 public:
  explicit FileCache(size_t capacity) : capacity_(capacity) {}
  std::shared_ptr<const T> get(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(path);
    return it == map_.end() ? nullptr : it->second;
  }
  void put(const std::string& path, std::shared_ptr<const T> v) {
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.emplace(path, std::move(v)).second) order_.push_back(path);
    while (order_.size() > capacity_) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    map_.clear();
    order_.clear();
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const T>> map_;
  std::list<std::string> order_;
};

FileCache<Manifest>& manifest_cache() {
  static FileCache<Manifest> c(8192);
  return c;
}
FileCache<ManifestList>& manifest_list_cache() {
  static FileCache<ManifestList> c(4096);
  return c;
}

}  // namespace

Result<std::shared_ptr<const Manifest>> cached_manifest(const std::string& path,
                                                        const TableMetadata& md, int spec_id) {
  if (auto hit = manifest_cache().get(path)) return hit;
  const PartitionSpec* spec = md.spec_by_id(spec_id);
  if (!spec) {
    return corruption("manifest " + path + ": partition spec " + std::to_string(spec_id) +
                      " is not in the table metadata");
  }
  // Partition types come from the spec's source columns in whichever schema has them.
  Schema all;
  for (auto it = md.schemas.rbegin(); it != md.schemas.rend(); ++it) {
    for (const auto& pf : spec->fields) {
      if (!all.find_field(pf.source_id)) {
        if (const auto* f = it->find_field(pf.source_id)) all.fields.push_back(*f);
      }
    }
  }
  SLUICE_ASSIGN_OR_RETURN(Manifest m, read_manifest(path, *spec, all));
  auto ptr = std::make_shared<const Manifest>(std::move(m));
  manifest_cache().put(path, ptr);
  return ptr;
}

Result<std::shared_ptr<const ManifestList>> cached_manifest_list(const std::string& path) {
  if (auto hit = manifest_list_cache().get(path)) return hit;
  SLUICE_ASSIGN_OR_RETURN(ManifestList l, read_manifest_list(path));
  auto ptr = std::make_shared<const ManifestList>(std::move(l));
  manifest_list_cache().put(path, ptr);
  return ptr;
}

void clear_manifest_cache() {
  manifest_cache().clear();
  manifest_list_cache().clear();
}

DataFile inherit(const ManifestEntry& e, const ManifestFile& mf) {
  DataFile f = e.file;
  f.spec_id = mf.partition_spec_id;
  bool added = e.status == EntryStatus::kAdded;
  f.data_sequence_number =
      e.sequence_number ? *e.sequence_number : (added ? mf.sequence_number : 0);
  f.file_sequence_number =
      e.file_sequence_number ? *e.file_sequence_number : (added ? mf.sequence_number : 0);
  return f;
}

Result<std::vector<LiveFile>> live_files(const TableMetadata& md, const Snapshot& snap) {
  SLUICE_ASSIGN_OR_RETURN(auto list, cached_manifest_list(snap.manifest_list));
  std::vector<LiveFile> out;
  for (const auto& mf : list->manifests) {
    SLUICE_ASSIGN_OR_RETURN(auto m, cached_manifest(mf.manifest_path, md, mf.partition_spec_id));
    for (const auto& e : m->entries) {
      if (e.status == EntryStatus::kDeleted) continue;
      out.push_back({inherit(e, mf), e.snapshot_id.value_or(mf.added_snapshot_id)});
    }
  }
  return out;
}

}  // namespace sluice::lake::detail

// Iceberg spec: Appendix C, JSON serialization of schemas, types and partition specs.
#include "lake/detail/json_internal.h"
#include "lake/lake_internal.h"

namespace sluice::lake::detail {

namespace {
std::string kind_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_float:
      return "a number with a fraction";
    default:
      return "a number";
  }
}
}  // namespace

const Json& json_required(const Json& obj, const char* key, const std::string& path) {
  if (!obj.is_object()) throw JsonError(path, "expected an object, got " + kind_name(obj));
  auto it = obj.find(key);
  if (it == obj.end()) {
    throw JsonError(path.empty() ? key : path + "." + key, "required field is missing");
  }
  return *it;
}

int64_t json_long(const Json& v, const std::string& path) {
  if (!v.is_number_integer()) throw JsonError(path, "expected an integer, got " + kind_name(v));
  return v.get<int64_t>();
}

int json_int(const Json& v, const std::string& path) {
  int64_t x = json_long(v, path);
  if (x < INT32_MIN || x > INT32_MAX) throw JsonError(path, "integer out of range");
  return static_cast<int>(x);
}

std::string json_string(const Json& v, const std::string& path) {
  if (!v.is_string()) throw JsonError(path, "expected a string, got " + kind_name(v));
  return v.get<std::string>();
}

bool json_bool(const Json& v, const std::string& path) {
  if (!v.is_boolean()) throw JsonError(path, "expected true or false, got " + kind_name(v));
  return v.get<bool>();
}

OJson type_to_json(const Type& t) {
  switch (t.kind) {
    case Type::Kind::kPrimitive:
      return t.primitive;
    case Type::Kind::kStruct: {
      OJson j;
      j["type"] = "struct";
      OJson fields = OJson::array();
      for (const auto& f : t.fields) {
        OJson fj;
        fj["id"] = f.id;
        fj["name"] = f.name;
        fj["required"] = f.required;
        fj["type"] = type_to_json(*f.type);
        if (!f.doc.empty()) fj["doc"] = f.doc;
        fields.push_back(std::move(fj));
      }
      j["fields"] = std::move(fields);
      return j;
    }
    case Type::Kind::kList: {
      OJson j;
      j["type"] = "list";
      j["element-id"] = t.fields.at(0).id;
      j["element"] = type_to_json(*t.fields[0].type);
      j["element-required"] = t.fields[0].required;
      return j;
    }
    case Type::Kind::kMap: {
      OJson j;
      j["type"] = "map";
      j["key-id"] = t.fields.at(0).id;
      j["key"] = type_to_json(*t.fields[0].type);
      j["value-id"] = t.fields.at(1).id;
      j["value"] = type_to_json(*t.fields[1].type);
      j["value-required"] = t.fields[1].required;
      return j;
    }
  }
  return nullptr;
}

namespace {
std::vector<NestedField> fields_from_json(const Json& arr, const std::string& path) {
  if (!arr.is_array()) throw JsonError(path, "expected an array, got " + kind_name(arr));
  std::vector<NestedField> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    const Json& f = arr[i];
    NestedField nf;
    nf.id = json_int(json_required(f, "id", p), p + ".id");
    nf.name = json_string(json_required(f, "name", p), p + ".name");
    nf.required = json_bool(json_required(f, "required", p), p + ".required");
    nf.type = type_from_json(json_required(f, "type", p), p + "(" + nf.name + ").type");
    if (auto it = f.find("doc"); it != f.end() && it->is_string()) nf.doc = it->get<std::string>();
    out.push_back(std::move(nf));
  }
  return out;
}
}  // namespace

TypePtr type_from_json(const Json& j, const std::string& path) {
  if (j.is_string()) {
    auto canon = canonical_primitive(j.get<std::string>());
    if (!canon) throw JsonError(path, "unknown type '" + j.get<std::string>() + "'");
    return Type::of(*canon);
  }
  if (!j.is_object()) throw JsonError(path, "expected a type name or object");
  std::string kind = json_string(json_required(j, "type", path), path + ".type");
  auto t = std::make_shared<Type>();
  if (kind == "struct") {
    t->kind = Type::Kind::kStruct;
    t->fields = fields_from_json(json_required(j, "fields", path), path + ".fields");
  } else if (kind == "list") {
    t->kind = Type::Kind::kList;
    NestedField e;
    e.id = json_int(json_required(j, "element-id", path), path + ".element-id");
    e.name = "element";
    e.required = json_bool(json_required(j, "element-required", path), path + ".element-required");
    e.type = type_from_json(json_required(j, "element", path), path + ".element");
    t->fields.push_back(std::move(e));
  } else if (kind == "map") {
    t->kind = Type::Kind::kMap;
    NestedField k, v;
    k.id = json_int(json_required(j, "key-id", path), path + ".key-id");
    k.name = "key";
    k.required = true;
    k.type = type_from_json(json_required(j, "key", path), path + ".key");
    v.id = json_int(json_required(j, "value-id", path), path + ".value-id");
    v.name = "value";
    v.required = json_bool(json_required(j, "value-required", path), path + ".value-required");
    v.type = type_from_json(json_required(j, "value", path), path + ".value");
    t->fields.push_back(std::move(k));
    t->fields.push_back(std::move(v));
  } else {
    throw JsonError(path + ".type", "unknown nested type '" + kind + "'");
  }
  return t;
}

OJson schema_to_json_object(const Schema& s) {
  OJson j;
  j["type"] = "struct";
  j["schema-id"] = s.schema_id;
  if (!s.identifier_field_ids.empty()) j["identifier-field-ids"] = s.identifier_field_ids;
  Type st{Type::Kind::kStruct, "", s.fields};
  j["fields"] = type_to_json(st)["fields"];
  return j;
}

Schema schema_from_json_object(const Json& j, const std::string& path) {
  Schema s;
  if (!j.is_object()) throw JsonError(path, "expected a schema object");
  if (auto it = j.find("schema-id"); it != j.end())
    s.schema_id = json_int(*it, path + ".schema-id");
  s.fields = fields_from_json(json_required(j, "fields", path), path + ".fields");
  if (auto it = j.find("identifier-field-ids"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw JsonError(path + ".identifier-field-ids", "expected an array");
    for (const auto& v : *it)
      s.identifier_field_ids.push_back(json_int(v, path));
  }
  return s;
}

OJson spec_to_json_object(const PartitionSpec& spec) {
  OJson j;
  j["spec-id"] = spec.spec_id;
  OJson fields = OJson::array();
  for (const auto& f : spec.fields) {
    OJson fj;
    fj["name"] = f.name;
    fj["transform"] = f.transform;
    fj["source-id"] = f.source_id;
    fj["field-id"] = f.field_id;
    fields.push_back(std::move(fj));
  }
  j["fields"] = std::move(fields);
  return j;
}

PartitionSpec spec_from_json_fields(const Json& fields, int spec_id, const std::string& path) {
  PartitionSpec spec;
  spec.spec_id = spec_id;
  if (!fields.is_array()) throw JsonError(path, "expected an array of partition fields");
  int next_id = 1000;  // v1 specs may omit field ids: assigned 1000, 1001, ... in order
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    const Json& f = fields[i];
    PartitionField pf;
    pf.name = json_string(json_required(f, "name", p), p + ".name");
    auto t = json_string(json_required(f, "transform", p), p + ".transform");
    auto canon = canonical_transform(t);
    if (!canon.is_ok()) throw JsonError(p + ".transform", canon.status().message());
    pf.transform = *canon;
    pf.source_id = json_int(json_required(f, "source-id", p), p + ".source-id");
    if (auto it = f.find("field-id"); it != f.end()) {
      pf.field_id = json_int(*it, p + ".field-id");
    } else {
      pf.field_id = next_id;
    }
    next_id = std::max(next_id, pf.field_id + 1);
    spec.fields.push_back(std::move(pf));
  }
  return spec;
}

std::string schema_to_json(const Schema& schema) {
  return schema_to_json_object(schema).dump();
}

std::string partition_spec_fields_to_json(const PartitionSpec& spec) {
  return spec_to_json_object(spec)["fields"].dump();
}

Result<Schema> schema_from_json(std::string_view json, const std::string& file) {
  try {
    return schema_from_json_object(Json::parse(json), "schema");
  } catch (const JsonError& e) {
    return corruption(file + ": field '" + e.path + "': " + e.what());
  } catch (const Json::exception& e) {
    return corruption(file + ": invalid JSON: " + e.what());
  }
}

}  // namespace sluice::lake::detail

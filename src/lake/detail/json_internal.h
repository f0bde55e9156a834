// JSON helpers shared by schema_json.cc and table_metadata.cc. Parsing throws JsonError (with
// the JSON path of the offending field); the public parse functions catch it at their boundary
// and return a Status naming the file and the field.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "lake/lake.h"

namespace sluice::lake::detail {

struct JsonError : std::runtime_error {
  JsonError(std::string field_path, const std::string& what)
      : std::runtime_error(what), path(std::move(field_path)) {}
  std::string path;
};

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;

const Json& json_required(const Json& obj, const char* key, const std::string& path);
int64_t json_long(const Json& v, const std::string& path);
int json_int(const Json& v, const std::string& path);
std::string json_string(const Json& v, const std::string& path);
bool json_bool(const Json& v, const std::string& path);

OJson type_to_json(const Type& t);
TypePtr type_from_json(const Json& j, const std::string& path);
OJson schema_to_json_object(const Schema& s);
Schema schema_from_json_object(const Json& j, const std::string& path);
OJson spec_to_json_object(const PartitionSpec& spec);
PartitionSpec spec_from_json_fields(const Json& fields, int spec_id, const std::string& path);

}  // namespace sluice::lake::detail

// Avro schemas for the registry: parsing (Avro spec 1.11, "Schema Declaration"), a canonical
// text so equivalent declarations get one id, and reader/writer compatibility ("Schema
// Resolution").
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "registry/compat_internal.h"

namespace sluice::registry::avro {

enum class Kind {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kEnum,
  kArray,
  kMap,
  kUnion,
  kFixed
};

struct Node;

struct Field {
  std::string name;
  const Node* type = nullptr;
  std::optional<nlohmann::json> default_value;
  std::vector<std::string> aliases;
  std::string doc;
  std::string order;     // "" (ascending), "descending" or "ignore"
  nlohmann::json props;  // other attributes, kept in the canonical text
};

struct Node {
  Kind kind = Kind::kNull;
  // Named types (record, enum, fixed).
  std::string fullname;              // "com.acme.Order"
  std::string name;                  // "Order"
  std::vector<std::string> aliases;  // full names
  std::string doc;
  std::vector<Field> fields;         // record
  std::vector<std::string> symbols;  // enum
  std::optional<std::string> enum_default;
  int64_t size = 0;                                 // fixed
  const Node* items = nullptr;                      // array
  const Node* values = nullptr;                     // map
  std::vector<const Node*> branches;                // union
  nlohmann::json props = nlohmann::json::object();  // logicalType, precision, ... (sorted)
};

// A parsed schema; owns its nodes (named types may refer to themselves: the graph can cycle).
class Schema {
 public:
  // Parses a schema text; InvalidArgument naming what is wrong and where.
  static Result<std::shared_ptr<const Schema>> parse(const std::string& text);

  const Node* root() const { return root_; }
  // Normalized JSON text: no whitespace, full names, no "namespace" attributes, primitives
  // without attributes as plain strings, attributes in a fixed order. Equal for equivalent
  // declarations; keeps doc, defaults, aliases, order and custom attributes.
  const std::string& canonical() const { return canonical_; }

 private:
  friend class Parser;
  std::vector<std::unique_ptr<Node>> nodes_;
  const Node* root_ = nullptr;
  std::string canonical_;
};

// Short description for messages: "int", "record Order", "array<string>", "[null, string]".
std::string describe(const Node* n);

// Appends every reason why a reader with `reader` cannot read data written with `writer`.
// `reader_is_new` chooses the wording (added/removed) of the messages.
void check_compatibility(const Schema& reader, const Schema& writer, bool reader_is_new,
                         std::vector<Incompatibility>& out);

}  // namespace sluice::registry::avro

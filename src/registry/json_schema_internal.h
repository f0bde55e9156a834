// JSON Schema (draft 4 to 2020-12, a practical subset) for the registry: validation that a text
// is a schema, a canonical text, and compatibility ("does the reader accept every document the
// writer accepts?").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "registry/compat_internal.h"

namespace sluice::registry::jsonschema {

// Parses a schema text (an object or a boolean); the canonical text is the compact dump with
// sorted keys.
Result<nlohmann::json> parse(const std::string& text);

// Appends every reason why documents valid under `writer` may be rejected by `reader`.
// Compared: type (integer is a number), enum and const, properties, required,
// additionalProperties (an open content model accepts anything under a new property name, so
// adding a property to an open model is a change, as in Confluent's registry), items,
// min/max length, items and values, and local $ref to #/definitions or #/$defs. Other
// combinators (oneOf, anyOf, allOf, not, if/then/else) must be unchanged.
void check_compatibility(const nlohmann::json& reader, const nlohmann::json& writer,
                         bool reader_is_new, std::vector<Incompatibility>& out);

}  // namespace sluice::registry::jsonschema

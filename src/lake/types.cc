// Types, schemas, values and table identifiers (Iceberg spec: Schemas and Data Types).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include "lake/detail/json_internal.h"
#include "lake/lake_internal.h"

namespace sluice::lake {

namespace {

std::string strip_spaces(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

bool parse_int(std::string_view s, int* out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

TypePtr Type::of(std::string primitive_name) {
  auto t = std::make_shared<Type>();
  t->kind = Kind::kPrimitive;
  auto canon = detail::canonical_primitive(primitive_name);
  t->primitive = canon ? *canon : std::move(primitive_name);
  return t;
}

std::string Type::to_string() const {
  if (is_primitive()) return primitive;
  return detail::type_to_json(*this).dump();
}

const NestedField* Schema::find_field(int id) const {
  std::function<const NestedField*(const std::vector<NestedField>&)> walk =
      [&](const std::vector<NestedField>& fields) -> const NestedField* {
    for (const auto& f : fields) {
      if (f.id == id) return &f;
      if (f.type && !f.type->is_primitive()) {
        if (const auto* r = walk(f.type->fields)) return r;
      }
    }
    return nullptr;
  };
  return walk(fields);
}

const NestedField* Schema::find_field(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

int Schema::highest_field_id() const {
  int highest = 0;
  std::function<void(const std::vector<NestedField>&)> walk =
      [&](const std::vector<NestedField>& fs) {
        for (const auto& f : fs) {
          highest = std::max(highest, f.id);
          if (f.type && !f.type->is_primitive()) walk(f.type->fields);
        }
      };
  walk(fields);
  return highest;
}

namespace {
bool valid_identifier(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}
}  // namespace

Result<TableIdent> TableIdent::parse(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return invalid_argument("table name '" + std::string(text) +
                            "' must be <namespace>.<table>, e.g. raw.orders");
  }
  if (text.find('.', dot + 1) != std::string_view::npos) {
    return invalid_argument("table name '" + std::string(text) +
                            "' has more than one '.'; use <namespace>.<table>");
  }
  TableIdent id{std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
  if (!valid_identifier(id.ns)) {
    return invalid_argument("table name '" + std::string(text) + "': namespace '" + id.ns +
                            "' must be letters, digits and '_' (not starting with a digit)");
  }
  if (!valid_identifier(id.name)) {
    return invalid_argument("table name '" + std::string(text) + "': table '" + id.name +
                            "' must be letters, digits and '_' (not starting with a digit)");
  }
  return id;
}

namespace detail {

bool is_valid_identifier(std::string_view s) {
  return valid_identifier(s);
}

std::optional<std::string> canonical_primitive(std::string_view name) {
  static const std::set<std::string, std::less<>> kSimple = {
      "boolean", "int",       "long",        "float",  "double", "date",
      "time",    "timestamp", "timestamptz", "string", "uuid",   "binary"};
  std::string s = strip_spaces(name);
  if (kSimple.count(s)) return s;
  if (s.rfind("decimal(", 0) == 0 && s.back() == ')') {
    auto inner = std::string_view(s).substr(8, s.size() - 9);
    auto comma = inner.find(',');
    int p = 0, sc = 0;
    if (comma == std::string_view::npos || !parse_int(inner.substr(0, comma), &p) ||
        !parse_int(inner.substr(comma + 1), &sc)) {
      return std::nullopt;
    }
    if (p < 1 || p > 38 || sc > p) return std::nullopt;
    return "decimal(" + std::to_string(p) + "," + std::to_string(sc) + ")";
  }
  if (s.rfind("fixed[", 0) == 0 && s.back() == ']') {
    int len = 0;
    if (!parse_int(std::string_view(s).substr(6, s.size() - 7), &len) || len < 1) {
      return std::nullopt;
    }
    return "fixed[" + std::to_string(len) + "]";
  }
  return std::nullopt;
}

bool decimal_params(const std::string& primitive, int* precision, int* scale) {
  if (primitive.rfind("decimal(", 0) != 0) return false;
  auto comma = primitive.find(',');
  if (comma == std::string::npos) return false;
  return parse_int(std::string_view(primitive).substr(8, comma - 8), precision) &&
         parse_int(std::string_view(primitive).substr(comma + 1, primitive.size() - comma - 2),
                   scale);
}

bool fixed_length(const std::string& primitive, int* length) {
  if (primitive.rfind("fixed[", 0) != 0) return false;
  return parse_int(std::string_view(primitive).substr(6, primitive.size() - 7), length);
}

int decimal_required_bytes(int precision) {
  // Smallest n with 2^(8n-1) > 10^precision.
  for (int n = 1; n <= 16; ++n) {
    if (std::log10(std::pow(2.0, 8.0 * n - 1)) >= precision) return n;
  }
  return 16;
}

Status validate_type(const Type& type, const std::string& where) {
  switch (type.kind) {
    case Type::Kind::kPrimitive:
      if (!canonical_primitive(type.primitive)) {
        return invalid_argument(where + ": unknown type '" + type.primitive +
                                "' (expected boolean, int, long, float, double, decimal(P,S), "
                                "date, time, timestamp, timestamptz, string, uuid, fixed[L], "
                                "binary)");
      }
      return Status::ok();
    case Type::Kind::kStruct:
      break;
    case Type::Kind::kList:
      if (type.fields.size() != 1) {
        return invalid_argument(where + ": a list type has exactly one element field");
      }
      break;
    case Type::Kind::kMap:
      if (type.fields.size() != 2) {
        return invalid_argument(where + ": a map type has a key field and a value field");
      }
      if (!type.fields[0].required) {
        return invalid_argument(where + ": map keys are required (Iceberg spec: Maps)");
      }
      break;
  }
  for (const auto& f : type.fields) {
    if (!f.type) return invalid_argument(where + "." + f.name + ": missing type");
    SLUICE_RETURN_IF_ERROR(validate_type(*f.type, where + "." + f.name));
  }
  return Status::ok();
}

bool types_equal(const Type& a, const Type& b) {
  if (a.kind != b.kind) return false;
  if (a.is_primitive()) return a.primitive == b.primitive;
  if (a.fields.size() != b.fields.size()) return false;
  for (size_t i = 0; i < a.fields.size(); ++i) {
    const auto& x = a.fields[i];
    const auto& y = b.fields[i];
    if (x.id != y.id || x.name != y.name || x.required != y.required || x.doc != y.doc ||
        !types_equal(*x.type, *y.type)) {
      return false;
    }
  }
  return true;
}

bool schemas_equal(const Schema& a, const Schema& b) {
  Type ta{Type::Kind::kStruct, "", a.fields};
  Type tb{Type::Kind::kStruct, "", b.fields};
  return a.identifier_field_ids == b.identifier_field_ids && types_equal(ta, tb);
}

namespace {
std::string type_name_of(const Value& v) {
  static const char* kNames[] = {"null",  "boolean", "int32",  "int64",
                                 "float", "double",  "string", "bytes"};
  return kNames[v.index()];
}

bool valid_uuid_text(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}
}  // namespace

Result<Value> coerce_value(const Type& type, const Value& v, const std::string& what) {
  if (std::holds_alternative<Null>(v)) return v;
  auto mismatch = [&]() {
    return invalid_argument(what + ": a " + type_name_of(v) + " value does not fit type " +
                            type.to_string());
  };
  if (!type.is_primitive()) return mismatch();
  const std::string& p = type.primitive;
  if (p == "boolean") {
    if (std::holds_alternative<bool>(v)) return v;
    return mismatch();
  }
  if (p == "int" || p == "date") {
    if (std::holds_alternative<int32_t>(v)) return v;
    if (auto* l = std::get_if<int64_t>(&v)) {
      if (*l >= INT32_MIN && *l <= INT32_MAX) return Value(static_cast<int32_t>(*l));
    }
    return mismatch();
  }
  if (p == "long" || p == "time" || p == "timestamp" || p == "timestamptz") {
    if (std::holds_alternative<int64_t>(v)) return v;
    if (auto* i = std::get_if<int32_t>(&v)) return Value(static_cast<int64_t>(*i));
    return mismatch();
  }
  if (p == "float") {
    if (std::holds_alternative<float>(v)) return v;
    if (auto* d = std::get_if<double>(&v)) return Value(static_cast<float>(*d));
    return mismatch();
  }
  if (p == "double") {
    if (std::holds_alternative<double>(v)) return v;
    if (auto* f = std::get_if<float>(&v)) return Value(static_cast<double>(*f));
    if (auto* i = std::get_if<int32_t>(&v)) return Value(static_cast<double>(*i));
    if (auto* l = std::get_if<int64_t>(&v)) return Value(static_cast<double>(*l));
    return mismatch();
  }
  if (p == "string") {
    if (std::holds_alternative<std::string>(v)) return v;
    return mismatch();
  }
  if (p == "uuid") {
    if (auto* s = std::get_if<std::string>(&v)) {
      if (!valid_uuid_text(*s)) {
        return invalid_argument(what + ": '" + *s + "' is not a UUID (8-4-4-4-12 hex digits)");
      }
      std::string lower = *s;
      for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return Value(lower);
    }
    return mismatch();
  }
  if (p == "binary" || p.rfind("fixed[", 0) == 0 || p.rfind("decimal(", 0) == 0) {
    if (auto* b = std::get_if<std::vector<uint8_t>>(&v)) {
      int len = 0;
      if (fixed_length(p, &len) && static_cast<int>(b->size()) != len) {
        return invalid_argument(what + ": " + std::to_string(b->size()) +
                                " bytes do not fit type " + p);
      }
      if (p.rfind("decimal(", 0) == 0 && b->empty()) {
        return invalid_argument(what + ": an empty unscaled decimal value");
      }
      return v;
    }
    if (p == "binary" || p.rfind("fixed[", 0) == 0) {
      if (auto* s = std::get_if<std::string>(&v)) {
        return coerce_value(type, Value(std::vector<uint8_t>(s->begin(), s->end())), what);
      }
    }
    return mismatch();
  }
  return mismatch();
}

namespace {
// Signed big-endian two's complement comparison of different lengths.
int compare_twos_complement(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  bool na = !a.empty() && (a[0] & 0x80);
  bool nb = !b.empty() && (b[0] & 0x80);
  if (na != nb) return na ? -1 : 1;
  size_t n = std::max(a.size(), b.size());
  uint8_t pad = na ? 0xff : 0x00;
  for (size_t i = 0; i < n; ++i) {
    size_t ia = i + a.size();
    size_t ib = i + b.size();
    uint8_t x = ia < n ? pad : a[ia - n];
    uint8_t y = ib < n ? pad : b[ib - n];
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

template <typename T>
int cmp3(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}
}  // namespace

int compare_values(const Type& type, const Value& a, const Value& b) {
  bool an = std::holds_alternative<Null>(a), bn = std::holds_alternative<Null>(b);
  if (an || bn) return an == bn ? 0 : (an ? -1 : 1);
  if (a.index() != b.index()) return cmp3(a.index(), b.index());
  if (type.is_primitive() && type.primitive.rfind("decimal(", 0) == 0) {
    return compare_twos_complement(std::get<std::vector<uint8_t>>(a),
                                   std::get<std::vector<uint8_t>>(b));
  }
  return std::visit(
      [&](const auto& x) -> int {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null>) {
          return 0;
        } else {
          return cmp3(x, std::get<T>(b));
        }
      },
      a);
}

std::string value_to_string(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null>) {
          return "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return "'" + x + "'";
        } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
          static const char* kHex = "0123456789abcdef";
          std::string s = "0x";
          for (uint8_t c : x) {
            s += kHex[c >> 4];
            s += kHex[c & 15];
          }
          return s;
        } else {
          return std::to_string(x);
        }
      },
      v);
}

std::string partition_key(int spec_id, const std::vector<Value>& values) {
  std::string key = std::to_string(spec_id);
  for (const auto& v : values) {
    key += '\x1f';
    key += static_cast<char>('0' + v.index());
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Null>) {
          } else if constexpr (std::is_same_v<T, std::string>) {
            key += x;
          } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
            key.append(x.begin(), x.end());
          } else {
            char buf[sizeof(T)];
            std::memcpy(buf, &x, sizeof(T));
            key.append(buf, sizeof(T));
          }
        },
        v);
  }
  return key;
}

}  // namespace detail
}  // namespace sluice::lake

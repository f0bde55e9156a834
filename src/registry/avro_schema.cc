// Avro spec 1.11: "Schema Declaration" (parsing, names and namespaces), "Parsing Canonical Form"
// (the normalization idea; we keep more attributes than PCF) and "Schema Resolution"
// (compatibility).
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "registry/avro_schema_internal.h"

namespace sluice::registry::avro {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

const std::map<std::string, Kind, std::less<>> kPrimitives = {
    {"null", Kind::kNull},   {"boolean", Kind::kBoolean}, {"int", Kind::kInt},
    {"long", Kind::kLong},   {"float", Kind::kFloat},     {"double", Kind::kDouble},
    {"bytes", Kind::kBytes}, {"string", Kind::kString}};

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kInt:
      return "int";
    case Kind::kLong:
      return "long";
    case Kind::kFloat:
      return "float";
    case Kind::kDouble:
      return "double";
    case Kind::kBytes:
      return "bytes";
    case Kind::kString:
      return "string";
    case Kind::kRecord:
      return "record";
    case Kind::kEnum:
      return "enum";
    case Kind::kArray:
      return "array";
    case Kind::kMap:
      return "map";
    case Kind::kUnion:
      return "union";
    case Kind::kFixed:
      return "fixed";
  }
  return "?";
}

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool valid_fullname(std::string_view n) {
  while (true) {
    auto dot = n.find('.');
    if (!valid_name(n.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    n.remove_prefix(dot + 1);
  }
}

bool is_named(Kind k) {
  return k == Kind::kRecord || k == Kind::kEnum || k == Kind::kFixed;
}

// Avro spec, "Complex Types" / field defaults: the JSON encoding of a default per type.
bool valid_default(const Node* t, const json& v, int depth = 0) {
  if (depth > 64) return true;
  switch (t->kind) {
    case Kind::kNull:
      return v.is_null();
    case Kind::kBoolean:
      return v.is_boolean();
    case Kind::kInt:
      return v.is_number_integer() && v.get<int64_t>() >= INT32_MIN &&
             v.get<int64_t>() <= INT32_MAX;
    case Kind::kLong:
      return v.is_number_integer();
    case Kind::kFloat:
    case Kind::kDouble:
      return v.is_number() ||
             (v.is_string() && (v == "NaN" || v == "Infinity" || v == "-Infinity"));
    case Kind::kBytes:
    case Kind::kString:
    case Kind::kFixed:
      return v.is_string();
    case Kind::kEnum:
      return v.is_string() && std::find(t->symbols.begin(), t->symbols.end(),
                                        v.get<std::string>()) != t->symbols.end();
    case Kind::kArray:
      if (!v.is_array()) return false;
      return std::all_of(v.begin(), v.end(),
                         [&](const json& e) { return valid_default(t->items, e, depth + 1); });
    case Kind::kMap:
      if (!v.is_object()) return false;
      return std::all_of(v.begin(), v.end(),
                         [&](const json& e) { return valid_default(t->values, e, depth + 1); });
    case Kind::kRecord:
      if (!v.is_object()) return false;
      for (const auto& f : t->fields) {
        auto it = v.find(f.name);
        if (it == v.end()) {
          if (!f.default_value) return false;
        } else if (!valid_default(f.type, *it, depth + 1)) {
          return false;
        }
      }
      return true;
    case Kind::kUnion:
      // Avro 1.11: the default matches the first branch; older writers used any branch, so the
      // registry accepts a default valid for some branch.
      return std::any_of(t->branches.begin(), t->branches.end(),
                         [&](const Node* b) { return valid_default(b, v, depth + 1); });
  }
  return false;
}

}  // namespace

class Parser {
 public:
  explicit Parser(Schema* s) : s_(s) {}

  Result<const Node*> parse(const json& j, const std::string& ns, const std::string& where) {
    if (j.is_string()) return by_name(j.get<std::string>(), ns, where);
    if (j.is_array()) return parse_union(j, ns, where);
    if (!j.is_object()) {
      return invalid_argument(
          fmt::format("{}: a schema must be a string, an array or an object, "
                      "got {}",
                      where, j.dump()));
    }
    auto t = j.find("type");
    if (t == j.end()) return invalid_argument(fmt::format("{}: missing \"type\"", where));
    if (!t->is_string()) {
      // {"type": {...}} or {"type": [...]}: a schema wrapped in an object.
      return parse(*t, ns, where);
    }
    std::string type = t->get<std::string>();
    if (type == "record" || type == "error") return parse_record(j, ns, where);
    if (type == "enum") return parse_enum(j, ns, where);
    if (type == "fixed") return parse_fixed(j, ns, where);
    if (type == "array") {
      auto items = j.find("items");
      if (items == j.end())
        return invalid_argument(fmt::format("{}: array without \"items\"", where));
      auto n = make(Kind::kArray);
      SLUICE_ASSIGN_OR_RETURN(n->items, parse(*items, ns, where + "[]"));
      copy_props(j, *n, {"type", "items"});
      return n;
    }
    if (type == "map") {
      auto values = j.find("values");
      if (values == j.end())
        return invalid_argument(fmt::format("{}: map without \"values\"", where));
      auto n = make(Kind::kMap);
      SLUICE_ASSIGN_OR_RETURN(n->values, parse(*values, ns, where + "{}"));
      copy_props(j, *n, {"type", "values"});
      return n;
    }
    auto prim = kPrimitives.find(type);
    if (prim != kPrimitives.end()) {
      auto n = make(prim->second);
      copy_props(j, *n, {"type"});
      // Primitives without attributes are shared nodes: canonical text "int".
      return n;
    }
    return by_name(type, ns, where);
  }

  Schema* s_;

 private:
  Node* make(Kind k) {
    s_->nodes_.push_back(std::make_unique<Node>());
    s_->nodes_.back()->kind = k;
    return s_->nodes_.back().get();
  }

  static void copy_props(const json& j, Node& n, std::initializer_list<std::string_view> skip) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (std::find(skip.begin(), skip.end(), it.key()) != skip.end()) continue;
      n.props[it.key()] = it.value();
    }
  }

  Result<const Node*> by_name(const std::string& name, const std::string& ns,
                              const std::string& where) {
    auto prim = kPrimitives.find(name);
    if (prim != kPrimitives.end()) return static_cast<const Node*>(make(prim->second));
    std::string full = name.find('.') == std::string::npos && !ns.empty() ? ns + "." + name : name;
    auto it = named_.find(full);
    if (it == named_.end()) it = named_.find(name);  // a name in the null namespace
    if (it == named_.end()) {
      return invalid_argument(fmt::format("{}: unknown type '{}'", where, name));
    }
    return static_cast<const Node*>(it->second);
  }

  Result<const Node*> parse_union(const json& j, const std::string& ns, const std::string& where) {
    auto n = make(Kind::kUnion);
    std::set<std::string> seen;
    for (size_t i = 0; i < j.size(); ++i) {
      SLUICE_ASSIGN_OR_RETURN(const Node* b, parse(j[i], ns, where));
      if (b->kind == Kind::kUnion) {
        return invalid_argument(fmt::format("{}: a union may not contain a union", where));
      }
      std::string key = is_named(b->kind) ? b->fullname : std::string(kind_name(b->kind));
      if (!seen.insert(key).second) {
        return invalid_argument(fmt::format("{}: union contains '{}' twice", where, key));
      }
      n->branches.push_back(b);
    }
    return static_cast<const Node*>(n);
  }

  // Names and namespaces per the spec: a dotted name is a full name; else the "namespace"
  // attribute, else the enclosing namespace.
  Status name_node(const json& j, Node* n, const std::string& ns, const std::string& where,
                   std::string* node_ns) {
    auto name = j.find("name");
    if (name == j.end() || !name->is_string()) {
      return invalid_argument(fmt::format("{}: {} without a \"name\"", where, kind_name(n->kind)));
    }
    std::string nm = name->get<std::string>();
    std::string space = ns;
    auto nsj = j.find("namespace");
    if (nsj != j.end() && nsj->is_string()) space = nsj->get<std::string>();
    if (nm.find('.') != std::string::npos) {
      n->fullname = nm;
      space = nm.substr(0, nm.rfind('.'));
      n->name = nm.substr(nm.rfind('.') + 1);
    } else {
      n->name = nm;
      n->fullname = space.empty() ? nm : space + "." + nm;
    }
    if (!valid_fullname(n->fullname)) {
      return invalid_argument(fmt::format("{}: invalid name '{}'", where, n->fullname));
    }
    if (kPrimitives.count(n->name)) {
      return invalid_argument(
          fmt::format("{}: '{}' is a primitive type and cannot be redefined", where, n->name));
    }
    if (!named_.emplace(n->fullname, n).second) {
      return invalid_argument(fmt::format("{}: type '{}' is defined twice", where, n->fullname));
    }
    if (auto a = j.find("aliases"); a != j.end()) {
      if (!a->is_array())
        return invalid_argument(fmt::format("{}: \"aliases\" must be an array", where));
      for (const auto& alias : *a) {
        if (!alias.is_string())
          return invalid_argument(fmt::format("{}: alias must be a string", where));
        std::string s = alias.get<std::string>();
        n->aliases.push_back(s.find('.') == std::string::npos && !space.empty() ? space + "." + s
                                                                                : s);
      }
    }
    if (auto d = j.find("doc"); d != j.end() && d->is_string()) n->doc = d->get<std::string>();
    *node_ns = space;
    return Status::ok();
  }

  Result<const Node*> parse_record(const json& j, const std::string& ns, const std::string& where) {
    auto n = make(Kind::kRecord);
    std::string space;
    SLUICE_RETURN_IF_ERROR(name_node(j, n, ns, where, &space));
    auto fields = j.find("fields");
    if (fields == j.end() || !fields->is_array()) {
      return invalid_argument(
          fmt::format("{}: record '{}' needs a \"fields\" array", where, n->fullname));
    }
    std::string path = where.empty() || where == "schema" ? n->name : where;
    std::set<std::string> names;
    for (const auto& fj : *fields) {
      if (!fj.is_object()) {
        return invalid_argument(fmt::format("{}: each field must be an object", path));
      }
      Field f;
      auto fname = fj.find("name");
      if (fname == fj.end() || !fname->is_string() || !valid_name(fname->get<std::string>())) {
        return invalid_argument(fmt::format("{}: a field needs a valid \"name\"", path));
      }
      f.name = fname->get<std::string>();
      std::string fpath = path + "." + f.name;
      if (!names.insert(f.name).second) {
        return invalid_argument(fmt::format("{}: field defined twice", fpath));
      }
      auto ft = fj.find("type");
      if (ft == fj.end()) return invalid_argument(fmt::format("{}: field without \"type\"", fpath));
      SLUICE_ASSIGN_OR_RETURN(f.type, parse(*ft, space, fpath));
      if (auto d = fj.find("default"); d != fj.end()) {
        if (!valid_default(f.type, *d)) {
          return invalid_argument(
              fmt::format("{}: default {} is not a valid {}", fpath, d->dump(), describe(f.type)));
        }
        f.default_value = *d;
      }
      if (auto a = fj.find("aliases"); a != fj.end() && a->is_array()) {
        for (const auto& alias : *a)
          if (alias.is_string()) f.aliases.push_back(alias.get<std::string>());
      }
      if (auto d = fj.find("doc"); d != fj.end() && d->is_string()) f.doc = d->get<std::string>();
      if (auto o = fj.find("order"); o != fj.end()) {
        if (!o->is_string() || (*o != "ascending" && *o != "descending" && *o != "ignore")) {
          return invalid_argument(
              fmt::format("{}: \"order\" must be ascending, descending or ignore", fpath));
        }
        if (*o != "ascending") f.order = o->get<std::string>();
      }
      f.props = json::object();
      for (auto it = fj.begin(); it != fj.end(); ++it) {
        static const std::set<std::string> kKnown = {"name",    "type", "default",
                                                     "aliases", "doc",  "order"};
        if (!kKnown.count(it.key())) f.props[it.key()] = it.value();
      }
      n->fields.push_back(std::move(f));
    }
    copy_props(j, *n, {"type", "name", "namespace", "aliases", "doc", "fields"});
    return static_cast<const Node*>(n);
  }

  Result<const Node*> parse_enum(const json& j, const std::string& ns, const std::string& where) {
    auto n = make(Kind::kEnum);
    std::string space;
    SLUICE_RETURN_IF_ERROR(name_node(j, n, ns, where, &space));
    auto symbols = j.find("symbols");
    if (symbols == j.end() || !symbols->is_array()) {
      return invalid_argument(
          fmt::format("{}: enum '{}' needs a \"symbols\" array", where, n->fullname));
    }
    std::set<std::string> seen;
    for (const auto& s : *symbols) {
      if (!s.is_string() || !valid_name(s.get<std::string>())) {
        return invalid_argument(
            fmt::format("{}: enum '{}' has an invalid symbol {}", where, n->fullname, s.dump()));
      }
      if (!seen.insert(s.get<std::string>()).second) {
        return invalid_argument(
            fmt::format("{}: enum '{}' repeats symbol {}", where, n->fullname, s.dump()));
      }
      n->symbols.push_back(s.get<std::string>());
    }
    if (auto d = j.find("default"); d != j.end()) {
      if (!d->is_string() || !seen.count(d->get<std::string>())) {
        return invalid_argument(fmt::format("{}: enum '{}' default {} is not one of its symbols",
                                            where, n->fullname, d->dump()));
      }
      n->enum_default = d->get<std::string>();
    }
    copy_props(j, *n, {"type", "name", "namespace", "aliases", "doc", "symbols", "default"});
    return static_cast<const Node*>(n);
  }

  Result<const Node*> parse_fixed(const json& j, const std::string& ns, const std::string& where) {
    auto n = make(Kind::kFixed);
    std::string space;
    SLUICE_RETURN_IF_ERROR(name_node(j, n, ns, where, &space));
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
      return invalid_argument(
          fmt::format("{}: fixed '{}' needs a non-negative integer \"size\"", where, n->fullname));
    }
    n->size = size->get<int64_t>();
    copy_props(j, *n, {"type", "name", "namespace", "aliases", "doc", "size"});
    return static_cast<const Node*>(n);
  }

  std::map<std::string, Node*> named_;
};

namespace {

// Appends attributes in sorted order (json's std::map iterates sorted).
void add_props(ojson& out, const json& props) {
  for (auto it = props.begin(); it != props.end(); ++it)
    out[it.key()] = ojson::parse(it.value().dump());
}

ojson canonical_json(const Node* n, std::set<std::string>& defined) {
  auto base = [&](ojson o) {
    add_props(o, n->props);
    return o;
  };
  switch (n->kind) {
    case Kind::kRecord:
    case Kind::kEnum:
    case Kind::kFixed: {
      if (!defined.insert(n->fullname).second) return n->fullname;
      ojson o = ojson::object();
      o["type"] = std::string(kind_name(n->kind));
      o["name"] = n->fullname;
      if (!n->doc.empty()) o["doc"] = n->doc;
      if (!n->aliases.empty()) o["aliases"] = n->aliases;
      if (n->kind == Kind::kRecord) {
        ojson fields = ojson::array();
        for (const auto& f : n->fields) {
          ojson fo = ojson::object();
          fo["name"] = f.name;
          fo["type"] = canonical_json(f.type, defined);
          if (!f.doc.empty()) fo["doc"] = f.doc;
          if (f.default_value) fo["default"] = ojson::parse(f.default_value->dump());
          if (!f.order.empty()) fo["order"] = f.order;
          if (!f.aliases.empty()) fo["aliases"] = f.aliases;
          add_props(fo, f.props);
          fields.push_back(std::move(fo));
        }
        o["fields"] = std::move(fields);
      } else if (n->kind == Kind::kEnum) {
        o["symbols"] = n->symbols;
        if (n->enum_default) o["default"] = *n->enum_default;
      } else {
        o["size"] = n->size;
      }
      return base(std::move(o));
    }
    case Kind::kArray: {
      ojson o = ojson::object();
      o["type"] = "array";
      o["items"] = canonical_json(n->items, defined);
      return base(std::move(o));
    }
    case Kind::kMap: {
      ojson o = ojson::object();
      o["type"] = "map";
      o["values"] = canonical_json(n->values, defined);
      return base(std::move(o));
    }
    case Kind::kUnion: {
      ojson a = ojson::array();
      for (const auto* b : n->branches)
        a.push_back(canonical_json(b, defined));
      return a;
    }
    default:
      if (n->props.empty()) return std::string(kind_name(n->kind));
      ojson o = ojson::object();
      o["type"] = std::string(kind_name(n->kind));
      return base(std::move(o));
  }
}

}  // namespace

Result<std::shared_ptr<const Schema>> Schema::parse(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // A bare primitive name is also a valid schema text ("string" without quotes is not JSON).
    if (kPrimitives.count(text)) {
      j = text;
    } else {
      return invalid_argument(fmt::format("schema is not valid JSON (at byte {})", e.byte));
    }
  }
  auto s = std::make_shared<Schema>();
  Parser p(s.get());
  SLUICE_ASSIGN_OR_RETURN(s->root_, p.parse(j, "", "schema"));
  std::set<std::string> defined;
  s->canonical_ = canonical_json(s->root_, defined).dump();
  return std::shared_ptr<const Schema>(std::move(s));
}

std::string describe(const Node* n) {
  switch (n->kind) {
    case Kind::kRecord:
    case Kind::kEnum:
    case Kind::kFixed:
      return fmt::format("{} {}", kind_name(n->kind), n->fullname);
    case Kind::kArray:
      return fmt::format("array<{}>", describe(n->items));
    case Kind::kMap:
      return fmt::format("map<{}>", describe(n->values));
    case Kind::kUnion: {
      std::vector<std::string> parts;
      for (const auto* b : n->branches)
        parts.push_back(describe(b));
      return fmt::format("[{}]", fmt::join(parts, ", "));
    }
    default:
      return std::string(kind_name(n->kind));
  }
}

// ---- Schema Resolution ----

namespace {

class Checker {
 public:
  Checker(bool reader_is_new, std::vector<Incompatibility>& out)
      : reader_is_new_(reader_is_new), out_(out) {}

  void check(const Node* r, const Node* w, const std::string& path) {
    if (!seen_.insert({r, w}).second) return;  // recursive types: assume compatible on a cycle
    if (w->kind == Kind::kUnion) {
      // Every branch the writer may pick must be readable.
      for (const auto* wb : w->branches) {
        if (r->kind == Kind::kUnion) {
          if (!find_branch(r, wb)) {
            add(path, reader_is_new_
                          ? fmt::format("{} dropped union branch {} (data written with it can no "
                                        "longer be read)",
                                        where(path), describe(wb))
                          : fmt::format("{} added union branch {}", where(path), describe(wb)));
          }
        } else if (!compatible(r, wb)) {
          changed(path, r, w);
          return;
        }
      }
      return;
    }
    if (r->kind == Kind::kUnion) {
      if (const Node* b = find_branch(r, w)) {
        check(b, w, path);
      } else {
        changed(path, r, w);
      }
      return;
    }
    if (r->kind != w->kind) {
      if (!promotable(w->kind, r->kind)) changed(path, r, w);
      return;
    }
    switch (r->kind) {
      case Kind::kRecord:
        if (!names_match(r, w)) return renamed(path, r, w);
        for (const auto& rf : r->fields) {
          std::string fpath = path.empty() ? rf.name : path + "." + rf.name;
          const Field* wf = writer_field(rf, w);
          if (wf != nullptr) {
            check(rf.type, wf->type, fpath);
          } else if (!rf.default_value) {
            add(fpath, reader_is_new_
                           ? fmt::format("field '{}' was added without a default", fpath)
                           : fmt::format("field '{}' was removed, and the earlier schema has no "
                                         "default for it",
                                         fpath));
          }
        }
        return;
      case Kind::kEnum: {
        if (!names_match(r, w)) return renamed(path, r, w);
        if (r->enum_default) return;  // unknown symbols resolve to the reader's default
        std::vector<std::string> missing;
        for (const auto& s : w->symbols) {
          if (std::find(r->symbols.begin(), r->symbols.end(), s) == r->symbols.end())
            missing.push_back(s);
        }
        if (missing.empty()) return;
        std::string list = fmt::format("{}", fmt::join(missing, ", "));
        add(path, reader_is_new_
                      ? fmt::format("enum {} removed symbol(s) {} and has no default symbol",
                                    quoted(path, r), list)
                      : fmt::format("enum {} added symbol(s) {}, unknown to the earlier schema "
                                    "which has no default symbol",
                                    quoted(path, r), list));
        return;
      }
      case Kind::kFixed:
        if (!names_match(r, w)) return renamed(path, r, w);
        if (r->size != w->size) {
          auto [old_size, new_size] =
              reader_is_new_ ? std::pair(w->size, r->size) : std::pair(r->size, w->size);
          add(path, fmt::format("fixed {} changed size from {} to {}", quoted(path, r), old_size,
                                new_size));
        }
        return;
      case Kind::kArray:
        check(r->items, w->items, path + "[]");
        return;
      case Kind::kMap:
        check(r->values, w->values, path + "{}");
        return;
      default:
        return;  // same primitive
    }
  }

 private:
  // Writer -> reader promotions of the spec: int -> long, float, double; long -> float,
  // double; float -> double; string <-> bytes.
  static bool promotable(Kind w, Kind r) {
    switch (w) {
      case Kind::kInt:
        return r == Kind::kLong || r == Kind::kFloat || r == Kind::kDouble;
      case Kind::kLong:
        return r == Kind::kFloat || r == Kind::kDouble;
      case Kind::kFloat:
        return r == Kind::kDouble;
      case Kind::kString:
        return r == Kind::kBytes;
      case Kind::kBytes:
        return r == Kind::kString;
      default:
        return false;
    }
  }

  // Named types match on the unqualified name, or on one of the reader's aliases.
  static bool names_match(const Node* r, const Node* w) {
    if (r->name == w->name) return true;
    for (const auto& a : r->aliases) {
      if (a == w->fullname || a == w->name) return true;
    }
    return false;
  }

  static const Field* writer_field(const Field& rf, const Node* w) {
    for (const auto& wf : w->fields)
      if (wf.name == rf.name) return &wf;
    for (const auto& a : rf.aliases)
      for (const auto& wf : w->fields)
        if (wf.name == a) return &wf;
    return nullptr;
  }

  bool compatible(const Node* r, const Node* w) {
    std::vector<Incompatibility> scratch;
    Checker sub(reader_is_new_, scratch);
    sub.seen_ = seen_;
    sub.check(r, w, "");
    return scratch.empty();
  }

  // The spec picks the first reader branch that matches the writer's type: the same kind (and
  // name for named types), else the first one reachable by promotion.
  const Node* find_branch(const Node* r, const Node* w) {
    for (const auto* b : r->branches) {
      if (b->kind == w->kind && (!is_named(b->kind) || names_match(b, w)) && compatible(b, w))
        return b;
    }
    for (const auto* b : r->branches) {
      if (compatible(b, w)) return b;
    }
    return nullptr;
  }

  static std::string where(const std::string& path) {
    return path.empty() ? std::string("the schema") : fmt::format("field '{}'", path);
  }
  static std::string quoted(const std::string& path, const Node* n) {
    return path.empty() ? fmt::format("'{}'", n->fullname) : fmt::format("'{}'", path);
  }

  void changed(const std::string& path, const Node* r, const Node* w) {
    const Node* o = reader_is_new_ ? w : r;
    const Node* n = reader_is_new_ ? r : w;
    add(path, fmt::format("{} changed type from {} to {}", where(path), describe(o), describe(n)));
  }
  void renamed(const std::string& path, const Node* r, const Node* w) {
    const Node* o = reader_is_new_ ? w : r;
    const Node* n = reader_is_new_ ? r : w;
    add(path, fmt::format("{} changed name from {} to {} (no alias matches)",
                          path.empty() ? std::string(kind_name(n->kind)) : where(path), o->fullname,
                          n->fullname));
  }
  void add(const std::string& path, std::string message) {
    out_.push_back({path, std::move(message)});
  }

  bool reader_is_new_;
  std::vector<Incompatibility>& out_;
  std::set<std::pair<const Node*, const Node*>> seen_;
};

}  // namespace

void check_compatibility(const Schema& reader, const Schema& writer, bool reader_is_new,
                         std::vector<Incompatibility>& out) {
  Checker c(reader_is_new, out);
  // Paths start at the top-level record's name, as users name their data ("orders.amount").
  std::string root = reader.root()->kind == Kind::kRecord ? reader.root()->name : "";
  if (!reader_is_new && writer.root()->kind == Kind::kRecord) root = writer.root()->name;
  c.check(reader.root(), writer.root(), root);
}

}  // namespace sluice::registry::avro

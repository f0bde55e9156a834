#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "registry/json_schema_internal.h"

namespace sluice::registry::jsonschema {

using nlohmann::json;

Result<json> parse(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return invalid_argument(fmt::format("JSON schema is not valid JSON (at byte {})", e.byte));
  }
  if (!j.is_object() && !j.is_boolean()) {
    return invalid_argument("a JSON schema must be an object or a boolean");
  }
  if (j.is_object()) {
    auto t = j.find("type");
    static const std::set<std::string> kTypes = {"null",   "boolean", "object", "array",
                                                 "number", "string",  "integer"};
    auto valid = [&](const json& v) { return v.is_string() && kTypes.count(v.get<std::string>()); };
    if (t != j.end() &&
        !(valid(*t) || (t->is_array() && std::all_of(t->begin(), t->end(), valid)))) {
      return invalid_argument(fmt::format("JSON schema has an invalid \"type\": {}", t->dump()));
    }
    for (const char* k : {"properties", "definitions", "$defs"}) {
      auto p = j.find(k);
      if (p != j.end() && !p->is_object()) {
        return invalid_argument(fmt::format("JSON schema's \"{}\" must be an object", k));
      }
    }
    auto r = j.find("required");
    if (r != j.end() && !(r->is_array() && std::all_of(r->begin(), r->end(), [](const json& v) {
                            return v.is_string();
                          }))) {
      return invalid_argument("JSON schema's \"required\" must be an array of strings");
    }
  }
  return j;
}

namespace {

const json kTrue = true;

class Checker {
 public:
  Checker(const json& reader, const json& writer, bool reader_is_new,
          std::vector<Incompatibility>& out)
      : rroot_(reader), wroot_(writer), reader_is_new_(reader_is_new), out_(out) {}

  void check(const json& r0, const json& w0, const std::string& path, int depth) {
    if (depth > 64) return;
    const json& r = resolve(rroot_, r0);
    const json& w = resolve(wroot_, w0);
    if (accepts_anything(r) || (w.is_boolean() && !w.get<bool>())) return;
    if (r.is_boolean()) {  // false: rejects everything the writer accepts
      return changed(path, "its schema", describe_bool(w), "false");
    }
    static const json kEmpty = json::object();
    const json& wo = w.is_object() ? w : kEmpty;
    check_types(r, wo, path);
    check_enum(r, wo, path);
    check_bounds(r, wo, path);
    if (may_be(r, "object") && may_be(wo, "object")) check_object(r, wo, path, depth);
    if (may_be(r, "array") && may_be(wo, "array")) check_array(r, wo, path, depth);
    for (const char* k : {"oneOf", "anyOf", "allOf", "not", "if", "then", "else", "pattern"}) {
      const json* rv = get(r, k);
      const json* wv = get(wo, k);
      if (rv == nullptr) continue;
      if (wv == nullptr || *rv != *wv) {
        const json* o = reader_is_new_ ? wv : rv;
        const json* n = reader_is_new_ ? rv : wv;
        add(path, fmt::format("{} changed \"{}\" from {} to {}", where(path), k,
                              o ? o->dump() : "none", n ? n->dump() : "none"));
      }
    }
  }

 private:
  static const json* get(const json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }

  // Local references only: "#/definitions/x", "#/$defs/x" (any JSON pointer into the document).
  static const json& resolve(const json& root, const json& node) {
    const json* cur = &node;
    for (int i = 0; i < 16 && cur->is_object(); ++i) {
      auto ref = cur->find("$ref");
      if (ref == cur->end() || !ref->is_string()) break;
      std::string s = ref->get<std::string>();
      if (s.empty() || s[0] != '#') break;
      try {
        cur = &root.at(json::json_pointer(s.substr(1)));
      } catch (const std::exception&) {
        break;
      }
    }
    return *cur;
  }

  static bool accepts_anything(const json& s) {
    if (s.is_boolean()) return s.get<bool>();
    if (!s.is_object()) return false;
    for (auto it = s.begin(); it != s.end(); ++it) {
      static const std::set<std::string> kAnnotations = {
          "$schema", "$id",      "id",       "title",       "description",
          "default", "examples", "$comment", "definitions", "$defs"};
      if (!kAnnotations.count(it.key())) return false;
    }
    return true;
  }

  static std::string describe_bool(const json& s) {
    if (s.is_boolean()) return s.get<bool>() ? "true" : "false";
    return "a schema";
  }

  // nullopt: any type.
  static std::optional<std::set<std::string>> types(const json& s) {
    const json* t = get(s, "type");
    if (t == nullptr) return std::nullopt;
    std::set<std::string> out;
    if (t->is_string()) out.insert(t->get<std::string>());
    if (t->is_array())
      for (const auto& v : *t)
        if (v.is_string()) out.insert(v.get<std::string>());
    return out;
  }
  static bool type_accepts(const std::set<std::string>& ts, const std::string& t) {
    return ts.count(t) || (t == "integer" && ts.count("number"));
  }
  static bool may_be(const json& s, const std::string& t) {
    auto ts = types(s);
    return !ts || type_accepts(*ts, t);
  }
  static std::string type_text(const std::optional<std::set<std::string>>& ts) {
    if (!ts) return "any";
    if (ts->size() == 1) return *ts->begin();
    return fmt::format("[{}]", fmt::join(*ts, ", "));
  }

  void check_types(const json& r, const json& w, const std::string& path) {
    auto rt = types(r);
    if (!rt) return;
    auto wt = types(w);
    bool ok = wt.has_value() && std::all_of(wt->begin(), wt->end(), [&](const std::string& t) {
                return type_accepts(*rt, t);
              });
    if (!ok) changed(path, "type", type_text(wt), type_text(rt));
  }

  void check_enum(const json& r, const json& w, const std::string& path) {
    for (const char* key : {"enum", "const"}) {
      const json* re = get(r, key);
      if (re == nullptr) continue;
      json rv = std::string(key) == "const" ? json::array({*re}) : *re;
      const json* we = get(w, "enum");
      const json* wc = get(w, "const");
      if (we == nullptr && wc == nullptr) {
        changed(path, key, "any value", re->dump());
        continue;
      }
      json wv = we ? *we : json::array({*wc});
      std::vector<std::string> missing;
      for (const auto& v : wv)
        if (!rv.is_array() || std::find(rv.begin(), rv.end(), v) == rv.end())
          missing.push_back(v.dump());
      if (missing.empty()) continue;
      add(path, reader_is_new_
                    ? fmt::format("{} no longer allows {} in \"{}\"", where(path),
                                  fmt::join(missing, ", "), key)
                    : fmt::format("{} now allows {} in \"{}\", unknown to the earlier schema",
                                  where(path), fmt::join(missing, ", "), key));
    }
  }

  void check_bounds(const json& r, const json& w, const std::string& path) {
    // An upper bound may not go down nor a lower bound up (the reader must accept the writer's
    // values).
    for (const char* k :
         {"maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum"}) {
      const json* rv = get(r, k);
      if (rv == nullptr || !rv->is_number()) continue;
      const json* wv = get(w, k);
      if (wv == nullptr || !wv->is_number() || wv->get<double>() > rv->get<double>())
        bound_changed(path, k, wv, rv);
    }
    for (const char* k :
         {"minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum"}) {
      const json* rv = get(r, k);
      if (rv == nullptr || !rv->is_number()) continue;
      const json* wv = get(w, k);
      if (wv == nullptr || !wv->is_number() || wv->get<double>() < rv->get<double>())
        bound_changed(path, k, wv, rv);
    }
  }

  void bound_changed(const std::string& path, const char* k, const json* wv, const json* rv) {
    std::string ws = wv ? wv->dump() : "none";
    std::string rs = rv ? rv->dump() : "none";
    changed(path, k, ws, rs);
  }

  void check_object(const json& r, const json& w, const std::string& path, int depth) {
    static const json kEmpty = json::object();
    const json* rp = get(r, "properties");
    const json* wp = get(w, "properties");
    const json& rprops = rp && rp->is_object() ? *rp : kEmpty;
    const json& wprops = wp && wp->is_object() ? *wp : kEmpty;
    const json* ra = get(r, "additionalProperties");
    const json* wa = get(w, "additionalProperties");
    const json& raddl = ra ? resolve(rroot_, *ra) : kTrue;
    const json& waddl = wa ? resolve(wroot_, *wa) : kTrue;
    bool r_closed = raddl.is_boolean() && !raddl.get<bool>();
    bool w_closed = waddl.is_boolean() && !waddl.get<bool>();

    for (auto it = wprops.begin(); it != wprops.end(); ++it) {
      std::string p = join(path, it.key());
      auto rit = rprops.find(it.key());
      if (rit != rprops.end()) {
        check(*rit, it.value(), p, depth + 1);
      } else if (r_closed) {
        add(p, reader_is_new_
                   ? fmt::format("property '{}' was removed from a closed content model "
                                 "(additionalProperties is false)",
                                 p)
                   : fmt::format("property '{}' was added, but the earlier schema is a closed "
                                 "content model (additionalProperties is false)",
                                 p));
      } else if (!accepts_anything(raddl)) {
        check(raddl, it.value(), p, depth + 1);
      }
    }
    for (auto it = rprops.begin(); it != rprops.end(); ++it) {
      if (wprops.contains(it.key()) || w_closed) continue;
      std::string p = join(path, it.key());
      if (!accepts_anything(waddl)) {
        check(it.value(), waddl, p, depth + 1);
      } else if (!accepts_anything(resolve(rroot_, it.value()))) {
        add(p, reader_is_new_
                   ? fmt::format("property '{}' was added to an open content model (data written "
                                 "with the earlier schema may hold any value under that name)",
                                 p)
                   : fmt::format("property '{}' was removed from an open content model (new "
                                 "data may hold any value under that name)",
                                 p));
      }
    }
    if (!w_closed && !accepts_anything(raddl)) {
      if (r_closed) {
        add(path,
            reader_is_new_
                ? fmt::format("{} changed additionalProperties from allowed to false", where(path))
                : fmt::format("{} changed additionalProperties from false to allowed",
                              where(path)));
      } else if (accepts_anything(waddl)) {
        changed(path, "additionalProperties", reader_is_new_ ? "any" : raddl.dump(),
                reader_is_new_ ? raddl.dump() : "any");
      } else {
        check(raddl, waddl, join(path, "*"), depth + 1);
      }
    }
    std::set<std::string> wreq;
    if (const json* wr = get(w, "required"); wr && wr->is_array())
      for (const auto& v : *wr)
        if (v.is_string()) wreq.insert(v.get<std::string>());
    if (const json* rr = get(r, "required"); rr && rr->is_array()) {
      for (const auto& v : *rr) {
        if (!v.is_string() || wreq.count(v.get<std::string>())) continue;
        std::string p = join(path, v.get<std::string>());
        add(p, reader_is_new_ ? fmt::format("property '{}' became required", p)
                              : fmt::format("property '{}' is no longer required (the earlier "
                                            "schema requires it)",
                                            p));
      }
    }
  }

  void check_array(const json& r, const json& w, const std::string& path, int depth) {
    const json* ri = get(r, "items");
    if (ri == nullptr) return;
    const json* wi = get(w, "items");
    if (ri->is_array() || (wi && wi->is_array())) {  // tuple form: compared for equality
      if (wi == nullptr || *ri != *wi) {
        changed(path, "items", wi ? wi->dump() : "any", ri->dump());
      }
      return;
    }
    check(*ri, wi ? *wi : kTrue, path + "[]", depth + 1);
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string where(const std::string& path) {
    return path.empty() ? std::string("the schema") : fmt::format("property '{}'", path);
  }

  // Worded from old to new whichever side reads.
  void changed(const std::string& path, std::string_view what, const std::string& writer_value,
               const std::string& reader_value) {
    const std::string& o = reader_is_new_ ? writer_value : reader_value;
    const std::string& n = reader_is_new_ ? reader_value : writer_value;
    add(path, fmt::format("{} changed {} from {} to {}", where(path), what, o, n));
  }
  void add(const std::string& path, std::string message) {
    out_.push_back({path, std::move(message)});
  }

  const json& rroot_;
  const json& wroot_;
  bool reader_is_new_;
  std::vector<Incompatibility>& out_;
};

}  // namespace

void check_compatibility(const json& reader, const json& writer, bool reader_is_new,
                         std::vector<Incompatibility>& out) {
  Checker c(reader, writer, reader_is_new, out);
  c.check(reader, writer, "", 0);
}

}  // namespace sluice::registry::jsonschema

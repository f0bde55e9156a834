// Template part of sql_scan_internal.h.
#pragma once

namespace sluice::gateway::detail {

template <typename Resolve>
std::vector<TableRef> table_refs(const std::vector<Token>& t, const std::set<std::string>& lake_ns,
                                 Resolve&& resolve) {
  std::vector<TableRef> out;
  // Names defined by WITH: `name AS (`.
  std::set<std::string> ctes;
  for (size_t i = 0; i + 2 < t.size(); ++i) {
    if (t[i].ident() && t[i + 1].is("as") && t[i + 2].sym("(")) ctes.insert(t[i].text);
  }
  // The write target's position, if any.
  size_t target = std::string::npos;
  if (!t.empty()) {
    size_t k = std::string::npos;
    if ((t[0].is("insert") || t[0].is("merge")) && t.size() > 1 && t[1].is("into")) {
      k = 2;
    } else if (t[0].is("insert") && t.size() > 3 && t[1].is("or") && t[3].is("into")) {
      k = 4;
    } else if (t[0].is("delete") && t.size() > 1 && t[1].is("from")) {
      k = 2;
    } else if (t[0].is("update")) {
      k = 1;
    } else if (t[0].is("truncate")) {
      k = t.size() > 1 && t[1].is("table") ? 2 : 1;
    } else if ((t[0].is("alter") || t[0].is("drop")) && t.size() > 1 && t[1].is("table")) {
      k = 2;
      if (k < t.size() && t[k].is("if")) k += 2;
    } else if (t[0].is("create")) {
      size_t i = 1;
      if (i + 1 < t.size() && t[i].is("or") && t[i + 1].is("replace")) i += 2;
      if (i < t.size() && (t[i].is("temp") || t[i].is("temporary"))) ++i;
      if (i < t.size() && t[i].is("table")) {
        k = i + 1;
        if (k < t.size() && t[k].is("if")) k += 3;
      }
    } else if (t[0].is("copy") && t.size() > 1 && t[1].ident()) {
      // COPY t FROM ... writes t.
      for (size_t i = 2; i < t.size(); ++i)
        if (t[i].is("from")) k = 1;
    }
    target = k;
  }
  for (size_t i = 0; i < t.size(); ++i) {
    if (!t[i].ident()) continue;
    if (i > 0 && t[i - 1].sym(".")) continue;
    bool qualified = i + 2 < t.size() && t[i + 1].sym(".") && t[i + 2].ident();
    if (qualified) {
      if (i + 4 < t.size() && t[i + 3].sym(".")) continue;  // a.b.c: a column or other catalog
      if (lake_ns.count(t[i].text) == 0) continue;
      if (i != target && i + 3 < t.size() && t[i + 3].sym("(")) continue;  // ns.function(...)
      out.push_back(
          TableRef{t[i].text, t[i + 2].text, i == target, true, t[i].begin, t[i + 2].end});
      i += 2;
      continue;
    }
    bool after_from =
        i > 0 && (t[i - 1].is("from") || t[i - 1].is("join") || t[i - 1].is("into") ||
                  t[i - 1].is("update") || t[i - 1].is("table") || t[i - 1].is("using") ||
                  t[i - 1].is("truncate") || (t[i - 1].is("exists") && i == target));
    if (!after_from && i != target) continue;
    if (i != target && i + 1 < t.size() && t[i + 1].sym("(")) continue;  // a table function
    if (ctes.count(t[i].text) > 0) continue;
    std::string ns = resolve(t[i].text);
    if (ns.empty()) continue;
    out.push_back(TableRef{ns, t[i].text, i == target, false, t[i].begin, t[i].end});
  }
  return out;
}

}  // namespace sluice::gateway::detail

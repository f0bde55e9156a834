#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "engine/filter_pushdown_internal.h"
#include "engine/lake_stats_internal.h"
#include "engine/sql_text_internal.h"

namespace sluice::engine::detail {
namespace {

using Json = nlohmann::json;

bool numeric_type(const std::string& id) {
  return id == "TINYINT" || id == "SMALLINT" || id == "INTEGER" || id == "BIGINT" ||
         id == "HUGEINT" || id == "FLOAT" || id == "DOUBLE" || id == "DECIMAL" ||
         id == "UTINYINT" || id == "USMALLINT" || id == "UINTEGER" || id == "UBIGINT";
}

// The constant's text and its DuckDB type id, looking through one CAST.
bool constant_text(const Json& e, std::string& text, std::string& type_id) {
  const Json* c = &e;
  std::string cast_to;
  if (e.value("class", "") == "CAST" && !e.value("try_cast", false)) {
    cast_to = e["cast_type"].value("id", "");
    c = &e["child"];
  }
  if (c->value("class", "") != "CONSTANT") return false;
  const Json& v = (*c)["value"];
  if (v.value("is_null", true)) return false;
  type_id = v["type"].value("id", "");
  const Json& raw = v["value"];
  if (type_id == "DECIMAL") {
    int scale = v["type"]["type_info"].value("scale", 0);
    std::string digits = raw.dump();
    bool neg = !digits.empty() && digits[0] == '-';
    if (neg) digits.erase(0, 1);
    while (static_cast<int>(digits.size()) <= scale)
      digits.insert(0, "0");
    text = (neg ? "-" : "") + digits.substr(0, digits.size() - scale) +
           (scale > 0 ? "." + digits.substr(digits.size() - scale) : "");
  } else if (raw.is_string()) {
    text = raw.get<std::string>();
  } else if (raw.is_number() || raw.is_boolean()) {
    text = raw.dump();
  } else {
    return false;
  }
  if (!cast_to.empty()) type_id = cast_to;
  return true;
}

// The constant's type must belong to the column's family, so DuckDB's comparison and the
// lake's bound comparison mean the same thing.
bool compatible(const lake::Type& col, const std::string& type_id) {
  if (!col.is_primitive()) return false;
  const std::string& p = col.primitive;
  if (p == "int" || p == "long" || p == "float" || p == "double" || p.rfind("decimal", 0) == 0) {
    return numeric_type(type_id);
  }
  if (p == "string") return type_id == "VARCHAR";
  if (p == "boolean") return type_id == "BOOLEAN";
  if (p == "date") return type_id == "DATE";
  if (p == "timestamp") return type_id == "TIMESTAMP" || type_id == "DATE";
  if (p == "timestamptz") return type_id == "TIMESTAMP WITH TIME ZONE" || type_id == "TIMESTAMPTZ";
  return false;
}

const lake::NestedField* column_of(const Json& e, const lake::Schema& schema,
                                   const std::vector<std::string>& qualifiers) {
  if (e.value("class", "") != "COLUMN_REF") return nullptr;
  const auto& names = e["column_names"];
  if (names.size() == 1) return schema.find_field(names[0].get<std::string>());
  if (names.size() == 2) {
    auto q = names[0].get<std::string>();
    if (std::find(qualifiers.begin(), qualifiers.end(), q) == qualifiers.end()) return nullptr;
    return schema.find_field(names[1].get<std::string>());
  }
  return nullptr;
}

std::optional<lake::Value> value_for(const lake::NestedField& f, const Json& e) {
  std::string text, type_id;
  if (!constant_text(e, text, type_id) || !compatible(*f.type, type_id)) return std::nullopt;
  // An integer column compared with a fractional constant: leave it to DuckDB.
  if ((f.type->primitive == "int" || f.type->primitive == "long") &&
      text.find_first_of(".eE") != std::string::npos) {
    return std::nullopt;
  }
  return parse_stat_value(*f.type, text);
}

void collect(const Json& e, const lake::Schema& schema, const std::vector<std::string>& quals,
             std::vector<lake::Predicate>& out) {
  std::string cls = e.value("class", ""), type = e.value("type", "");
  if (cls == "CONJUNCTION" && type == "CONJUNCTION_AND") {
    for (const auto& c : e["children"])
      collect(c, schema, quals, out);
    return;
  }
  using Op = lake::Predicate::Op;
  if (cls == "COMPARISON") {
    static const std::map<std::string, std::pair<Op, Op>> kOps = {
        {"COMPARE_EQUAL", {Op::kEq, Op::kEq}},
        {"COMPARE_NOTEQUAL", {Op::kNotEq, Op::kNotEq}},
        {"COMPARE_LESSTHAN", {Op::kLt, Op::kGt}},
        {"COMPARE_LESSTHANOREQUALTO", {Op::kLtEq, Op::kGtEq}},
        {"COMPARE_GREATERTHAN", {Op::kGt, Op::kLt}},
        {"COMPARE_GREATERTHANOREQUALTO", {Op::kGtEq, Op::kLtEq}}};
    auto op = kOps.find(type);
    if (op == kOps.end()) return;
    const auto* left = column_of(e["left"], schema, quals);
    const auto* right = column_of(e["right"], schema, quals);
    if (left != nullptr && right == nullptr) {
      if (auto v = value_for(*left, e["right"])) out.push_back({left->id, op->second.first, {*v}});
    } else if (right != nullptr && left == nullptr) {
      if (auto v = value_for(*right, e["left"])) {
        out.push_back({right->id, op->second.second, {*v}});
      }
    }
    return;
  }
  if (cls == "OPERATOR" && (type == "OPERATOR_IS_NULL" || type == "OPERATOR_IS_NOT_NULL")) {
    const auto* col = column_of(e["children"][0], schema, quals);
    if (col != nullptr) {
      out.push_back({col->id, type == "OPERATOR_IS_NULL" ? Op::kIsNull : Op::kNotNull, {}});
    }
    return;
  }
  if (cls == "OPERATOR" && type == "COMPARE_IN") {
    const auto& ch = e["children"];
    const auto* col = column_of(ch[0], schema, quals);
    if (col == nullptr) return;
    lake::Predicate p{col->id, Op::kIn, {}};
    for (size_t i = 1; i < ch.size(); ++i) {
      auto v = value_for(*col, ch[i]);
      if (!v) return;
      p.values.push_back(*v);
    }
    out.push_back(std::move(p));
  }
}

}  // namespace

std::vector<lake::Predicate> extract_predicates(Session& session, std::string_view select_sql,
                                                const lake::TableIdent& table,
                                                const lake::Schema& schema) {
  auto r = session.query(fmt::format("SELECT json_serialize_sql({})", quote_literal(select_sql)));
  if (!r.is_ok() || r->rows.empty() || !r->rows[0][0]) return {};
  Json doc = Json::parse(*r->rows[0][0], nullptr, false);
  if (doc.is_discarded() || doc.value("error", true)) return {};
  const auto& stmts = doc["statements"];
  if (stmts.size() != 1) return {};
  const Json& node = stmts[0]["node"];
  if (node.value("type", "") != "SELECT_NODE") return {};
  const Json& from = node["from_table"];
  if (from.value("type", "") != "BASE_TABLE" || from.value("schema_name", "") != table.ns ||
      from.value("table_name", "") != table.name || !from["at_clause"].is_null()) {
    return {};
  }
  std::vector<std::string> quals = {table.name};
  if (!from.value("alias", "").empty()) quals = {from.value("alias", "")};
  std::vector<lake::Predicate> out;
  if (!node["where_clause"].is_null()) collect(node["where_clause"], schema, quals, out);
  return out;
}

}  // namespace sluice::engine::detail

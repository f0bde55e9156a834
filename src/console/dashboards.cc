#include "console/dashboards.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace sluice::console {
namespace {

std::string scalar(const YAML::Node& n, const char* key, const std::string& fallback = "") {
  if (!n[key] || n[key].IsNull()) return fallback;
  return n[key].as<std::string>();
}

bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

Result<Dashboard> parse(const std::filesystem::path& file,
                        const std::filesystem::path& project_dir) {
  Dashboard d;
  d.file = file;
  d.id = file.stem().string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    return invalid_argument(fmt::format("{}: {}", file.string(), e.what()));
  }
  auto bad = [&](const std::string& where, const std::string& what) {
    return invalid_argument(fmt::format("{}: {}: {}", file.string(), where, what));
  };
  if (!root.IsMap()) return bad("top level", "expected a mapping with title and charts");
  try {
    d.title = scalar(root, "title", d.id);
    d.description = scalar(root, "description");
    if (root["filters"]) {
      if (!root["filters"].IsSequence()) return bad("filters", "expected a list");
      for (size_t i = 0; i < root["filters"].size(); ++i) {
        const auto& f = root["filters"][i];
        std::string where = fmt::format("filters[{}]", i);
        Filter flt;
        flt.name = scalar(f, "name");
        flt.type = scalar(f, "type", "date_range");
        flt.label = scalar(f, "label", flt.name);
        if (!valid_id(flt.name)) return bad(where, "name must be letters, digits, _ or -");
        if (flt.type == "date_range") {
          const auto& def = f["default"];
          if (def && def.IsMap()) {
            flt.default_from = scalar(def, "from");
            flt.default_to = scalar(def, "to");
            flt.last_days = def["last_days"] ? def["last_days"].as<int>() : 0;
            flt.anchor_sql = scalar(def, "anchor");
          }
          if (flt.last_days <= 0 && (flt.default_from.empty() || flt.default_to.empty())) {
            flt.last_days = 30;
          }
          for (const auto* v : {&flt.default_from, &flt.default_to}) {
            if (!v->empty() && !is_date(*v)) return bad(where, "default dates must be YYYY-MM-DD");
          }
        } else if (flt.type == "value") {
          flt.default_value = scalar(f, "default");
        } else {
          return bad(where, fmt::format("unknown filter type '{}' (date_range, value)", flt.type));
        }
        d.filters.push_back(std::move(flt));
      }
    }
    if (!root["charts"] || !root["charts"].IsSequence() || root["charts"].size() == 0) {
      return bad("charts", "expected a non-empty list of charts");
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < root["charts"].size(); ++i) {
      const auto& c = root["charts"][i];
      Chart ch;
      ch.id = scalar(c, "id");
      std::string where = fmt::format("charts[{}]{}", i, ch.id.empty() ? "" : " (" + ch.id + ")");
      if (!valid_id(ch.id)) return bad(where, "id must be letters, digits, _ or -");
      if (!ids.insert(ch.id).second) return bad(where, "duplicate chart id");
      ch.title = scalar(c, "title", ch.id);
      ch.type = scalar(c, "type", "table");
      if (std::find(std::begin(kChartTypes), std::end(kChartTypes), ch.type) ==
          std::end(kChartTypes)) {
        return bad(where, fmt::format("unknown chart type '{}' (line, bar, stacked_bar, pie, "
                                      "funnel, table, number)",
                                      ch.type));
      }
      ch.sql = scalar(c, "sql");
      ch.query_file = scalar(c, "query");
      if (ch.sql.empty() == ch.query_file.empty()) {
        return bad(where, "give either sql or query (a file under sql/)");
      }
      if (!ch.query_file.empty()) {
        if (ch.query_file.find("..") != std::string::npos) return bad(where, "query: no '..'");
        auto path = project_dir / "sql" / ch.query_file;
        std::ifstream in(path);
        if (!in) return bad(where, fmt::format("query file {} not found", path.string()));
        std::stringstream ss;
        ss << in.rdbuf();
        ch.sql = ss.str();
      }
      ch.x = scalar(c, "x");
      if (c["y"]) {
        if (c["y"].IsSequence()) {
          for (const auto& y : c["y"])
            ch.y.push_back(y.as<std::string>());
        } else {
          ch.y.push_back(c["y"].as<std::string>());
        }
      }
      ch.series = scalar(c, "series");
      ch.note = scalar(c, "note");
      ch.width = scalar(c, "width", ch.type == "number" ? "quarter" : "half");
      if (ch.type != "table" && ch.type != "number" && (ch.x.empty() || ch.y.empty())) {
        return bad(where, fmt::format("a {} chart needs x and y columns", ch.type));
      }
      d.charts.push_back(std::move(ch));
    }
  } catch (const YAML::Exception& e) {
    return invalid_argument(fmt::format("{}: {}", file.string(), e.what()));
  }
  return d;
}

}  // namespace

bool is_date(const std::string& s) {
  static const std::regex re("^[0-9]{4}-[0-9]{2}-[0-9]{2}$");
  return std::regex_match(s, re);
}

Result<Dashboard> load_dashboard(const std::filesystem::path& file,
                                 const std::filesystem::path& project_dir) {
  return parse(file, project_dir);
}

DashboardSet load_dashboards(const std::filesystem::path& dir,
                             const std::filesystem::path& project_dir) {
  DashboardSet out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto d = parse(f, project_dir);
    if (d.is_ok()) {
      out.dashboards.push_back(std::move(*d));
    } else {
      out.errors.emplace_back(f.string(), d.status().message());
    }
  }
  return out;
}

Result<std::string> substitute(const std::string& sql,
                               const std::map<std::string, std::string>& params) {
  static const std::regex re(R"(\{\{\s*([A-Za-z0-9_-]+)\s*\}\})");
  std::string out;
  auto begin = std::sregex_iterator(sql.begin(), sql.end(), re);
  size_t copied = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    out += sql.substr(copied, static_cast<size_t>(m.position(0)) - copied);
    auto p = params.find(m[1].str());
    if (p == params.end()) {
      return invalid_argument(fmt::format("no value for {{{{ {} }}}}", m[1].str()));
    }
    std::string lit = "'";
    for (char c : p->second) {
      if (c == '\'') lit += '\'';
      lit += c;
    }
    out += lit + "'";
    copied = static_cast<size_t>(m.position(0) + m.length(0));
  }
  out += sql.substr(copied);
  return out;
}

}  // namespace sluice::console

// Models: config headers, templating, projects, the dependency graph and selectors, PII.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "transform/sql_util_internal.h"
#include "transform/transform.h"

namespace sluice::transform {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Splits on commas outside parentheses and brackets.
std::vector<std::string> split_top(std::string_view s, char sep = ',') {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (c == sep && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty()) out.push_back(trim(cur));
  return out;
}

std::vector<std::string> list_value(const std::string& v) {
  std::string s = trim(v);
  if (!s.empty() && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::vector<std::string> out;
  for (auto& p : split_top(s))
    if (!p.empty()) out.push_back(p);
  return out;
}

}  // namespace

// --- config header -------------------------------------------------------------------------

Result<ModelConfig> parse_model_config(std::string_view sql, const std::string& file) {
  ModelConfig cfg;
  std::istringstream in{std::string(sql)};
  std::string line;
  int lineno = 0;
  // (key, value, line) in order; a piece without '=' continues the previous key's list.
  std::vector<std::tuple<std::string, std::string, int>> entries;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = trim(line);
    if (t.empty()) continue;
    if (t.rfind("--", 0) != 0) break;  // the header ends at the first SQL line
    std::string body = trim(std::string_view(t).substr(2));
    if (body.rfind("config:", 0) != 0) continue;
    for (const auto& piece : split_top(body.substr(7))) {
      auto eq = piece.find('=');
      if (eq == std::string::npos) {
        if (entries.empty()) {
          return invalid_argument(
              fmt::format("{}:{}: config: expected key=value, got '{}'", file, lineno, piece));
        }
        std::get<1>(entries.back()) += "," + piece;
        continue;
      }
      entries.emplace_back(lower(trim(piece.substr(0, eq))), trim(piece.substr(eq + 1)), lineno);
    }
  }
  bool has_strategy = false;
  for (const auto& [key, value, ln] : entries) {
    auto bad = [&, &key = key, &value = value, ln = ln](const std::string& allowed) {
      return invalid_argument(fmt::format("{}:{}: config: {}='{}' is not valid (use {})", file, ln,
                                          key, value, allowed));
    };
    if (key == "materialized") {
      std::string v = lower(value);
      if (v == "table") {
        cfg.materialized = Materialization::kTable;
      } else if (v == "view") {
        cfg.materialized = Materialization::kView;
      } else if (v == "incremental") {
        cfg.materialized = Materialization::kIncremental;
      } else if (v == "scd2") {
        cfg.materialized = Materialization::kScd2;
      } else {
        return bad("table, view, incremental or scd2");
      }
    } else if (key == "strategy" || key == "incremental_strategy") {
      std::string v = lower(value);
      has_strategy = true;
      if (v == "append") {
        cfg.strategy = Strategy::kAppend;
      } else if (v == "merge") {
        cfg.strategy = Strategy::kMerge;
      } else if (v == "insert_overwrite") {
        cfg.strategy = Strategy::kInsertOverwrite;
      } else {
        return bad("append, merge or insert_overwrite");
      }
    } else if (key == "unique_key") {
      cfg.unique_key = list_value(value);
    } else if (key == "check_cols") {
      cfg.check_cols = list_value(value);
    } else if (key == "updated_at") {
      cfg.updated_at = value;
    } else if (key == "tags") {
      cfg.tags = list_value(value);
    } else if (key == "hard_deletes") {
      std::string v = lower(value);
      if (v == "close") {
        cfg.close_deleted = true;
      } else if (v == "ignore") {
        cfg.close_deleted = false;
      } else {
        return bad("close or ignore");
      }
    } else if (key == "partition_by") {
      for (const auto& p : list_value(value)) {
        auto open = p.find('(');
        if (open == std::string::npos) {
          cfg.partition_by.emplace_back(p, "identity");
          continue;
        }
        auto close = p.rfind(')');
        std::string fn = lower(trim(p.substr(0, open)));
        auto args = split_top(p.substr(open + 1, close - open - 1));
        if (fn == "days") fn = "day";
        if (fn == "months") fn = "month";
        if (fn == "years") fn = "year";
        if (fn == "hours") fn = "hour";
        if ((fn == "bucket" || fn == "truncate") && args.size() == 2) {
          cfg.partition_by.emplace_back(args[1], fmt::format("{}[{}]", fn, args[0]));
        } else if (args.size() == 1 &&
                   (fn == "day" || fn == "month" || fn == "year" || fn == "hour")) {
          cfg.partition_by.emplace_back(args[0], fn);
        } else {
          return bad("column, day(c), month(c), year(c), hour(c), bucket(N, c), truncate(W, c)");
        }
      }
    } else if (key == "pii") {
      for (const auto& p : list_value(value)) {
        auto colon = p.find(':');
        PiiColumn pc;
        pc.column = trim(p.substr(0, colon));
        std::string m = colon == std::string::npos ? "hash" : lower(trim(p.substr(colon + 1)));
        if (m == "hash") {
          pc.method = PiiMethod::kHash;
        } else if (m == "mask") {
          pc.method = PiiMethod::kMask;
        } else if (m == "redact") {
          pc.method = PiiMethod::kRedact;
        } else {
          return invalid_argument(fmt::format(
              "{}:{}: config: pii method '{}' for column '{}' is not valid (use hash, mask or "
              "redact)",
              file, ln, m, pc.column));
        }
        cfg.pii.push_back(pc);
      }
    } else {
      return invalid_argument(
          fmt::format("{}:{}: config: unknown key '{}' (known: materialized, strategy, unique_key, "
                      "partition_by, pii, check_cols, updated_at, hard_deletes, tags)",
                      file, ln, key));
    }
  }
  // Cross-checks, reported on the header's first line.
  int first = entries.empty() ? 1 : std::get<2>(entries.front());
  if (cfg.materialized == Materialization::kIncremental && cfg.strategy == Strategy::kMerge &&
      cfg.unique_key.empty()) {
    return invalid_argument(
        fmt::format("{}:{}: config: strategy=merge needs unique_key=<column[s]>", file, first));
  }
  if (cfg.materialized == Materialization::kIncremental &&
      cfg.strategy == Strategy::kInsertOverwrite && cfg.partition_by.empty()) {
    return invalid_argument(fmt::format(
        "{}:{}: config: strategy=insert_overwrite needs partition_by=day(<timestamp column>) or "
        "a DATE column",
        file, first));
  }
  if (cfg.materialized == Materialization::kScd2 &&
      (cfg.unique_key.empty() || cfg.updated_at.empty())) {
    return invalid_argument(
        fmt::format("{}:{}: config: materialized=scd2 needs unique_key=<key column[s]> and "
                    "updated_at=<timestamp column>",
                    file, first));
  }
  if (has_strategy && cfg.materialized != Materialization::kIncremental) {
    return invalid_argument(fmt::format(
        "{}:{}: config: strategy applies to materialized=incremental only", file, first));
  }
  return cfg;
}

// --- templating ----------------------------------------------------------------------------

std::string today() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

Result<std::string> shift_date(const std::string& ds, int days) {
  int y = 0, m = 0, d = 0;
  char extra = 0;
  if (ds.size() != 10 || std::sscanf(ds.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 ||
      m < 1 || m > 12 || d < 1 || d > 31) {
    return invalid_argument(fmt::format("'{}' is not a date YYYY-MM-DD", ds));
  }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(m)},
                                  std::chrono::day{unsigned(d)}};
  if (!ymd.ok()) return invalid_argument(fmt::format("'{}' is not a date YYYY-MM-DD", ds));
  std::chrono::year_month_day out{std::chrono::sys_days{ymd} + std::chrono::days{days}};
  return fmt::format("{:04}-{:02}-{:02}", int(out.year()), unsigned(out.month()),
                     unsigned(out.day()));
}

namespace {

// Parses `'text'` or `"text"` at s[i]; advances i.
std::optional<std::string> quoted(std::string_view s, size_t& i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return std::nullopt;
  char q = s[i++];
  std::string out;
  while (i < s.size() && s[i] != q)
    out += s[i++];
  if (i >= s.size()) return std::nullopt;
  ++i;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  return out;
}

}  // namespace

Result<std::string> render_template(std::string_view text, const RenderContext& ctx,
                                    const std::string& file) {
  std::string out;
  size_t pos = 0;
  auto line_of = [&](size_t at) {
    return 1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(at), '\n');
  };
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return invalid_argument(
          fmt::format("{}:{}: '{{{{' without a closing '}}}}'", file, line_of(open)));
    }
    std::string expr = trim(text.substr(open + 2, close - open - 2));
    auto err = [&](const std::string& what) {
      return invalid_argument(fmt::format("{}:{}: {}", file, line_of(open), what));
    };
    auto need_ds = [&]() -> Status {
      if (ctx.ds.empty())
        return err(fmt::format("'{{{{ {} }}}}' needs a logical date (--ds)", expr));
      return Status::ok();
    };
    if (expr == "ds") {
      SLUICE_RETURN_IF_ERROR(need_ds());
      out += ctx.ds;
    } else if (expr == "next_ds" || expr == "prev_ds") {
      SLUICE_RETURN_IF_ERROR(need_ds());
      auto d = shift_date(ctx.ds, expr == "next_ds" ? 1 : -1);
      if (!d.is_ok()) return err(d.status().message());
      out += *d;
    } else if (expr == "ds_nodash") {
      SLUICE_RETURN_IF_ERROR(need_ds());
      for (char c : ctx.ds)
        if (c != '-') out += c;
    } else if (expr == "this") {
      if (ctx.this_table.empty())
        return err("'{{ this }}' is only defined inside a model or check");
      out += ctx.this_table;
    } else if (expr.rfind("var", 0) == 0 && expr.size() > 3 &&
               (expr[3] == '(' || std::isspace(static_cast<unsigned char>(expr[3])))) {
      size_t i = expr.find('(');
      if (i == std::string::npos || expr.back() != ')') {
        return err(fmt::format("'{}': write var('name') or var('name', 'default')", expr));
      }
      ++i;
      auto name = quoted(expr, i);
      if (!name) return err(fmt::format("'{}': the variable name must be quoted", expr));
      std::optional<std::string> def;
      if (i < expr.size() && expr[i] == ',') {
        ++i;
        def = quoted(expr, i);
        if (!def) return err(fmt::format("'{}': the default must be quoted", expr));
      }
      if (i != expr.size() - 1) {
        return err(fmt::format("'{}': write var('name') or var('name', 'default')", expr));
      }
      auto it = ctx.vars.find(*name);
      if (it != ctx.vars.end()) {
        out += it->second;
      } else if (def) {
        out += *def;
      } else {
        return err(fmt::format("variable '{}' is not set (pass --var {}=...)", *name, *name));
      }
    } else {
      return err(fmt::format(
          "unknown template variable '{}' (known: ds, next_ds, prev_ds, ds_nodash, this, "
          "var('name'))",
          expr));
    }
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

// --- projects ------------------------------------------------------------------------------

const Model* Project::find(const std::string& name) const {
  for (const auto& m : models)
    if (m.name() == name) return &m;
  return nullptr;
}

Result<Project> load_project(const std::filesystem::path& dir,
                             const std::set<std::string>& zones_in) {
  namespace fs = std::filesystem;
  Project p;
  p.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return not_found(
        fmt::format("project folder {} does not exist (pass --project DIR or set "
                    "transform.project)",
                    dir.string()));
  }
  fs::path batch = dir / "jobs" / "batch";
  if (fs::is_directory(batch, ec)) {
    for (const auto& zone : fs::directory_iterator(batch)) {
      if (!zone.is_directory()) continue;
      for (const auto& f : fs::directory_iterator(zone.path())) {
        if (!f.is_regular_file() || f.path().extension() != ".sql") continue;
        Model m;
        m.file = f.path();
        auto id = lake::TableIdent::parse(zone.path().filename().string() + "." +
                                          f.path().stem().string());
        if (!id.is_ok()) return id.status().with_context(f.path().string());
        m.ident = *id;
        std::ifstream in(f.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        m.sql = ss.str();
        SLUICE_ASSIGN_OR_RETURN(m.config, parse_model_config(m.sql, f.path().string()));
        p.models.push_back(std::move(m));
      }
    }
  }
  std::sort(p.models.begin(), p.models.end(),
            [](const Model& a, const Model& b) { return a.name() < b.name(); });
  std::set<std::string> zones = zones_in;
  for (const auto& m : p.models)
    zones.insert(m.ident.ns);
  for (auto& m : p.models) {
    for (const auto& ref : engine::qualified_references(m.sql)) {
      if (zones.count(ref.ns) == 0 || ref.to_string() == m.name()) continue;
      m.references.insert(ref.to_string());
    }
  }
  SLUICE_ASSIGN_OR_RETURN(p.checks, load_quality_dir(dir / "quality"));
  // A model's checks gate its publish, so the tables they read (relationships, reconcile, sql)
  // must be built first: they count as the model's references.
  for (auto& m : p.models) {
    for (const auto& tc : p.checks) {
      if (tc.table != m.name()) continue;
      for (const auto& c : tc.checks) {
        std::vector<std::string> names;
        for (const auto* t : {&c.to, &c.with})
          if (!t->empty()) names.push_back(*t);
        for (const auto& ref :
             engine::qualified_references(c.sql + " " + c.where + " " + c.with_where))
          if (zones.count(ref.ns)) names.push_back(ref.to_string());
        for (const auto& n : names)
          if (n != m.name()) m.references.insert(n);
      }
    }
  }
  return p;
}

// --- graph ---------------------------------------------------------------------------------

Result<Graph> Graph::build(const Project& project) {
  Graph g;
  for (const auto& m : project.models) {
    g.up_[m.name()];
    g.down_[m.name()];
  }
  for (const auto& m : project.models) {
    for (const auto& r : m.references) {
      if (g.up_.count(r) == 0) continue;
      g.up_[m.name()].push_back(r);
      g.down_[r].push_back(m.name());
    }
  }
  // Kahn's algorithm, smallest name first, so the order is stable.
  std::map<std::string, size_t> pending;
  std::set<std::string> ready;
  for (const auto& [name, ups] : g.up_) {
    pending[name] = ups.size();
    if (ups.empty()) ready.insert(name);
  }
  while (!ready.empty()) {
    std::string n = *ready.begin();
    ready.erase(ready.begin());
    g.order_.push_back(n);
    for (const auto& d : g.down_[n])
      if (--pending[d] == 0) ready.insert(d);
  }
  if (g.order_.size() != g.up_.size()) {
    // Name one cycle: walk upstream from a model left over until a model repeats.
    std::string start;
    for (const auto& [name, n] : pending)
      if (n > 0) {
        start = name;
        break;
      }
    std::vector<std::string> path;
    std::map<std::string, size_t> seen;
    std::string cur = start;
    while (!seen.count(cur)) {
      seen[cur] = path.size();
      path.push_back(cur);
      for (const auto& u : g.up_[cur])
        if (pending[u] > 0) {
          cur = u;
          break;
        }
    }
    std::vector<std::string> cycle(path.begin() + static_cast<ptrdiff_t>(seen[cur]), path.end());
    cycle.push_back(cycle.front());
    return invalid_argument(
        fmt::format("models form a cycle: {} (each reads the next)", fmt::join(cycle, " -> ")));
  }
  return g;
}

const std::vector<std::string>& Graph::upstream(const std::string& model) const {
  static const std::vector<std::string> kNone;
  auto it = up_.find(model);
  return it == up_.end() ? kNone : it->second;
}

const std::vector<std::string>& Graph::downstream(const std::string& model) const {
  static const std::vector<std::string> kNone;
  auto it = down_.find(model);
  return it == down_.end() ? kNone : it->second;
}

Result<std::vector<std::string>> Graph::select(const std::vector<std::string>& selectors) const {
  if (selectors.empty()) return order_;
  std::set<std::string> chosen;
  auto walk = [&](const std::string& from, bool up) {
    std::vector<std::string> stack{from};
    while (!stack.empty()) {
      auto n = stack.back();
      stack.pop_back();
      for (const auto& x : up ? upstream(n) : downstream(n))
        if (chosen.insert(x).second) stack.push_back(x);
    }
  };
  for (const auto& raw : selectors) {
    std::string s = raw;
    bool ancestors = !s.empty() && s.front() == '+';
    if (ancestors) s = s.substr(1);
    bool descendants = !s.empty() && s.back() == '+';
    if (descendants) s.pop_back();
    std::vector<std::string> matched;
    if (s.size() > 2 && s.substr(s.size() - 2) == ".*") {
      std::string zone = s.substr(0, s.size() - 1);
      for (const auto& n : order_)
        if (n.rfind(zone, 0) == 0) matched.push_back(n);
    } else if (up_.count(s)) {
      matched.push_back(s);
    } else if (s.find('.') == std::string::npos) {
      for (const auto& n : order_)
        if (n.substr(n.find('.') + 1) == s) matched.push_back(n);
      if (matched.size() > 1) {
        return invalid_argument(fmt::format("selector '{}' is ambiguous: {} (write zone.name)", raw,
                                            fmt::join(matched, ", ")));
      }
    }
    if (matched.empty()) {
      return not_found(
          fmt::format("selector '{}' matches no model (models: {})", raw,
                      order_.empty() ? "none" : fmt::format("{}", fmt::join(order_, ", "))));
    }
    for (const auto& m : matched) {
      chosen.insert(m);
      if (ancestors) walk(m, true);
      if (descendants) walk(m, false);
    }
  }
  std::vector<std::string> out;
  for (const auto& n : order_)
    if (chosen.count(n)) out.push_back(n);
  return out;
}

// --- PII -----------------------------------------------------------------------------------

std::string pii_expression(const std::string& column, PiiMethod method) {
  std::string c = detail::quote_ident(column);
  switch (method) {
    case PiiMethod::kHash:
      // Salted SHA-256, hex: equal inputs still join, the salt keeps dictionaries out.
      return fmt::format(
          "CASE WHEN {0} IS NULL THEN NULL ELSE sha256(getvariable('sluice_pii_salt') || "
          "CAST({0} AS VARCHAR)) END",
          c);
    case PiiMethod::kMask:
      // Emails keep their first letter and domain (j***@example.com); anything else keeps its
      // last 4 digits (phones: ***4567).
      return fmt::format(
          "CASE WHEN {0} IS NULL THEN NULL WHEN contains(CAST({0} AS VARCHAR), '@') THEN "
          "regexp_replace(CAST({0} AS VARCHAR), '^(.)[^@]*(@.*)$', '\\1***\\2') ELSE '***' || "
          "right(regexp_replace(CAST({0} AS VARCHAR), '[^0-9]', '', 'g'), 4) END",
          c);
    case PiiMethod::kRedact:
      return fmt::format("CAST(NULL AS VARCHAR)");
  }
  return c;
}

std::string apply_pii(const std::string& sql, const std::vector<PiiColumn>& pii) {
  if (pii.empty()) return sql;
  std::string repl;
  for (size_t i = 0; i < pii.size(); ++i) {
    repl += fmt::format("{}{} AS {}", i ? ", " : "", pii_expression(pii[i].column, pii[i].method),
                        detail::quote_ident(pii[i].column));
  }
  return fmt::format("SELECT * REPLACE ({}) FROM (\n{}\n) AS __pii", repl, sql);
}

}  // namespace sluice::transform

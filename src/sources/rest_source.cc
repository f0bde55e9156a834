// type = "rest": pages through a JSON API into raw.<source>_<table>.
//
// Per endpoint (a [tables.<name>] section): pages are fetched with offset/limit, a cursor from
// the body, or the Link header's rel="next"; every request carries the auth header (token from
// the environment variable `token_env`), waits for the rate limit, and is retried with
// exponential backoff (Retry-After honoured) on 429, 5xx and connection errors. Records are
// flattened (top-level fields are columns, nested values JSON text) into a work file that DuckDB
// reads with inferred types; TableWriter evolves the lake schema and commits once per table.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/log.h"
#include "http/client.h"
#include "sources/file_rest_internal.h"
#include "sources/sources_internal.h"

namespace sluice::sources::detail {
namespace fs = std::filesystem;

namespace {

constexpr const char* kWatermarkKey = "sluice.watermark";

struct Url {
  std::string host;
  uint16_t port = 80;
  std::string path;  // without a trailing '/'
};

Result<Url> parse_url(const std::string& url, const std::string& what) {
  if (url.rfind("https://", 0) == 0) {
    return unimplemented(fmt::format(
        "{}: https is not supported yet (Sluice's HTTP client has no TLS); use http:// on a "
        "trusted network or loopback",
        what));
  }
  if (url.rfind("http://", 0) != 0) {
    return invalid_argument(fmt::format("{}: '{}' is not an http:// URL", what, url));
  }
  std::string rest = url.substr(7);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  Url u;
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.path.empty() && u.path.back() == '/')
    u.path.pop_back();
  auto colon = hostport.rfind(':');
  u.host = hostport.substr(0, colon);
  if (colon != std::string::npos) {
    int p = std::atoi(hostport.c_str() + colon + 1);
    if (p <= 0 || p > 65535)
      return invalid_argument(fmt::format("{}: bad port in '{}'", what, url));
    u.port = static_cast<uint16_t>(p);
  }
  if (u.host.empty()) return invalid_argument(fmt::format("{}: no host in '{}'", what, url));
  return u;
}

std::string pct(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("%{:02X}", ch);
    }
  }
  return out;
}

// rel="next" of a Link header: <url>; rel="next", <url>; rel="prev"
std::string next_link(const std::string& header) {
  size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string::npos) {
    auto end = header.find('>', pos);
    if (end == std::string::npos) break;
    auto comma = header.find(",", end);
    std::string params =
        header.substr(end + 1, comma == std::string::npos ? std::string::npos : comma - end - 1);
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos) {
      return header.substr(pos + 1, end - pos - 1);
    }
    pos = end;
  }
  return "";
}

const nlohmann::json* at_path(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json* cur = &j;
  size_t start = 0;
  while (start <= path.size() && !path.empty()) {
    auto dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

class RestIngester {
 public:
  RestIngester(const SourceConfig& src, engine::LakeSession& lake, const IngestOptions& opts)
      : src_(src), lake_(lake), opts_(opts), rng_(std::random_device{}()) {}

  Result<IngestReport> run() {
    SLUICE_ASSIGN_OR_RETURN(url_, parse_url(src_.base_url, "source " + src_.name + " base_url"));
    if (!src_.token_env.empty()) {
      const char* v = std::getenv(src_.token_env.c_str());
      if (v == nullptr || *v == '\0') {
        return invalid_argument(
            fmt::format("source {}: environment variable {} (token_env in {}) is not set",
                        src_.name, src_.token_env, src_.file));
      }
      token_ = v;
    }
    client_ = std::make_unique<http::Client>(url_.host, url_.port, 30000);
    SLUICE_ASSIGN_OR_RETURN(auto tables, select_tables(src_, opts_.tables));
    ingested_at_ = now_utc_text();
    std::error_code ec;
    fs::create_directories(opts_.work_dir, ec);
    IngestReport report;
    report.source_position = src_.base_url;
    for (const auto& t : tables) {
      auto r = load_table(t);
      if (!r.is_ok()) {
        return r.status().with_context(
            fmt::format("loading {}.{} into raw.{}_{} (the table is unchanged)", src_.name, t.name,
                        src_.name, t.name));
      }
      report.tables.push_back(std::move(r).value());
    }
    log::info("rest source done", {log::kv("source", src_.name), log::kv("requests", requests_),
                                   log::kv("retries", retries_)});
    return report;
  }

 private:
  void pace() {
    if (src_.rate_limit_per_s <= 0) return;
    auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.01 / src_.rate_limit_per_s));  // 1% under the limit
    auto now = std::chrono::steady_clock::now();
    if (last_request_ && now < *last_request_ + interval) {
      std::this_thread::sleep_until(*last_request_ + interval);
    }
    last_request_ = std::chrono::steady_clock::now();
  }

  // GET with auth, rate limit and retries; a non-2xx answer that is not retried is an error
  // naming the source and the request.
  Result<http::ClientResponse> get(const std::string& target) {
    std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "application/json"}};
    if (!token_.empty()) headers.emplace_back(src_.auth_header, src_.auth_prefix + token_);
    for (int64_t attempt = 0;; ++attempt) {
      pace();
      ++requests_;
      auto r = client_->request("GET", target, "", headers);
      std::string why;
      double retry_after = -1;
      if (!r.is_ok()) {
        why = r.status().message();
      } else if (r->status == 429 || r->status >= 500) {
        why = fmt::format("HTTP {}", r->status);
        auto ra = r->header("Retry-After");
        if (!ra.empty()) retry_after = std::atof(ra.c_str());
      } else if (r->status == 401 || r->status == 403) {
        return permission_denied(fmt::format(
            "source {}: the API refused the credentials (HTTP {} from GET {}); check the token "
            "in {} (token_env)",
            src_.name, r->status, target, src_.token_env.empty() ? "(none set)" : src_.token_env));
      } else if (r->status < 200 || r->status >= 300) {
        return invalid_argument(fmt::format("source {}: HTTP {} from GET {}: {}", src_.name,
                                            r->status, target, r->body.substr(0, 200)));
      } else {
        return r;
      }
      if (attempt >= src_.max_retries) {
        return unavailable(fmt::format("source {}: GET {} failed after {} attempts: {}", src_.name,
                                       target, attempt + 1, why));
      }
      ++retries_;
      // Exponential backoff with jitter: 100 ms, 200 ms, ... capped at 5 s.
      double backoff =
          std::min(5.0, 0.1 * static_cast<double>(1LL << std::min<int64_t>(attempt, 6)));
      backoff *= std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
      if (retry_after >= 0) backoff = std::max(backoff, std::min(retry_after, 30.0));
      log::info("retrying", {log::kv("source", src_.name), log::kv("target", target),
                             log::kv("reason", why), log::kv("backoff_s", backoff)});
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    }
  }

  // The target of an absolute or relative next link; the link must stay on base_url's server.
  Result<std::string> link_target(const std::string& link) {
    if (link.rfind("http://", 0) == 0 || link.rfind("https://", 0) == 0) {
      SLUICE_ASSIGN_OR_RETURN(auto u, parse_url(link, "source " + src_.name + " Link header"));
      if (u.host != url_.host || u.port != url_.port) {
        return invalid_argument(
            fmt::format("source {}: the Link header points to another server ({}); not followed",
                        src_.name, link));
      }
      auto rest = link.substr(link.find('/', 7));
      return rest;
    }
    return link;
  }

  Result<TableReport> load_table(const TableConfig& t) {
    auto started = std::chrono::steady_clock::now();
    lake::TableIdent ident{"raw", src_.name + "_" + t.name};
    bool incremental = opts_.mode == LoadMode::kIncremental;
    if (incremental && t.cursor.empty()) {
      return invalid_argument(fmt::format(
          "no cursor field: set 'cursor' (e.g. \"updated_at\") in [tables.{}] of {} for "
          "incremental loads",
          t.name, src_.file));
    }
    std::optional<std::string> old_wm;
    if (incremental) old_wm = summary_value(lake_, ident, kWatermarkKey);
    std::string base = url_.path + (t.path.empty() ? "/" + t.name : t.path);
    std::string sep = base.find('?') == std::string::npos ? "?" : "&";
    std::string fixed = fmt::format("limit={}", src_.page_size);
    if (old_wm) fixed += "&updated_since=" + pct(*old_wm);

    fs::path work = opts_.work_dir / fmt::format("{}-{}.jsonl", t.name, ::getpid());
    std::ofstream out(work);
    int64_t records = 0, bytes = 0, pages = 0;
    std::optional<std::string> new_wm = old_wm;
    std::string target = base + sep + fixed + (src_.pagination == "offset" ? "&offset=0" : "");
    int64_t offset = 0;
    while (!target.empty()) {
      SLUICE_ASSIGN_OR_RETURN(auto resp, get(target));
      ++pages;
      bytes += static_cast<int64_t>(resp.body.size());
      auto body = nlohmann::json::parse(resp.body, nullptr, false);
      if (body.is_discarded()) {
        return invalid_argument(
            fmt::format("source {}: GET {} did not return JSON", src_.name, target));
      }
      const nlohmann::json* recs = t.records.empty() ? &body : at_path(body, t.records);
      if (recs == nullptr || !recs->is_array()) {
        return invalid_argument(fmt::format(
            "source {}: GET {}: no records array at '{}' (set 'records' in [tables.{}] to the "
            "JSON path of the array)",
            src_.name, target, t.records.empty() ? "(the body)" : t.records, t.name));
      }
      int64_t i = 0;
      for (const auto& rec : *recs) {
        if (!rec.is_object()) continue;
        nlohmann::json flat = nlohmann::json::object();
        for (const auto& [k, v] : rec.items()) {
          if (k == "_source" || k == "_load_type" || k == "_ingested_at" ||
              k == "_source_position") {
            return invalid_argument(fmt::format(
                "source {}: field '{}' clashes with Sluice's lineage column", src_.name, k));
          }
          flat[k] = v.is_structured() ? nlohmann::json(v.dump()) : v;
        }
        flat["_source_position"] = fmt::format("GET {} #{}", target, i++);
        if (!t.cursor.empty() && rec.contains(t.cursor) && rec[t.cursor].is_string()) {
          std::string c = rec[t.cursor].get<std::string>();
          if (!new_wm || c > *new_wm) new_wm = c;
        }
        out << flat.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        ++records;
      }
      if (t.name == opts_.fail_table && opts_.fail_after_chunks >= 0 &&
          pages >= opts_.fail_after_chunks) {
        return internal_error(fmt::format("injected failure (test hook) after {} pages", pages));
      }
      int64_t n = static_cast<int64_t>(recs->size());
      std::string next;
      if (src_.pagination == "offset") {
        offset += n;
        if (n == src_.page_size) next = fmt::format("{}{}{}&offset={}", base, sep, fixed, offset);
      } else if (src_.pagination == "cursor") {
        const nlohmann::json* c = at_path(body, src_.cursor_field);
        if (c != nullptr && c->is_string() && !c->get<std::string>().empty()) {
          next = fmt::format("{}{}{}&cursor={}", base, sep, fixed, pct(c->get<std::string>()));
        } else if (c != nullptr && c->is_number_integer()) {
          next = fmt::format("{}{}{}&cursor={}", base, sep, fixed, c->get<int64_t>());
        }
      } else {
        std::string link = next_link(resp.header("Link"));
        if (!link.empty()) {
          SLUICE_ASSIGN_OR_RETURN(next, link_target(link));
        }
      }
      if (next == target) {
        return invalid_argument(
            fmt::format("source {}: the API returned the same next page as {}", src_.name, target));
      }
      target = next;
    }
    out.close();
    TableWriter w(lake_, src_.name, ident, incremental ? "incremental" : "snapshot", ingested_at_);
    if (records > 0) {
      SLUICE_RETURN_IF_ERROR(w.write(
          t.name,
          fmt::format("SELECT * FROM read_json({}, format = 'newline_delimited', sample_size = -1)",
                      sql_literal(work.string()))));
    }
    std::error_code ec;
    fs::remove(work, ec);
    std::map<std::string, std::string> summary = {{"sluice.source-position", src_.base_url},
                                                  {"sluice.pages", std::to_string(pages)}};
    if (new_wm) summary[kWatermarkKey] = *new_wm;
    TableReport rep;
    if (records > 0 || !incremental) {
      if (records == 0 && !lake_.catalog().table_exists(ident)) {
        rep.lake_table = ident.to_string();
      } else {
        SLUICE_ASSIGN_OR_RETURN(rep, w.commit(summary, !incremental));
      }
    } else {
      rep.lake_table = ident.to_string();
    }
    rep.source_table = t.name;
    rep.bytes = bytes;
    rep.watermark = new_wm.value_or("");
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::info("endpoint loaded", {log::kv("table", rep.lake_table), log::kv("rows", rep.rows),
                                  log::kv("pages", pages)});
    return rep;
  }

  const SourceConfig& src_;
  engine::LakeSession& lake_;
  const IngestOptions& opts_;
  Url url_;
  std::string token_;
  std::unique_ptr<http::Client> client_;
  std::optional<std::chrono::steady_clock::time_point> last_request_;
  std::mt19937_64 rng_;
  std::string ingested_at_;
  int64_t requests_ = 0;
  int64_t retries_ = 0;
};

}  // namespace

Status validate_rest(SourceConfig& c) {
  if (c.base_url.empty()) {
    return invalid_argument(
        fmt::format("{}: missing 'base_url' (http://host:port/prefix)", c.file));
  }
  auto url = parse_url(c.base_url, c.file + ": base_url");
  if (!url.is_ok()) return url.status();
  for (auto& t : c.tables) {
    if (!t.pattern.empty() || !t.format.empty()) {
      return invalid_argument(fmt::format(
          "{}: [tables.{}]: 'pattern' and 'format' do not apply to a rest source", c.file, t.name));
    }
    if (!t.path.empty() && t.path[0] != '/') t.path = "/" + t.path;
  }
  return Status::ok();
}

Result<IngestReport> ingest_rest(const SourceConfig& source, engine::LakeSession& lake,
                                 const IngestOptions& options) {
  RestIngester ing(source, lake, options);
  return ing.run();
}

}  // namespace sluice::sources::detail

// Routing, request helpers and static files.
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/log.h"
#include "http/http_internal.h"
#include "http/server.h"

namespace sluice::http {
namespace detail {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : percent_decode(part.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out[*key] = *value;
  }
  return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::vector<PatternSegment> parse_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument(fmt::format("route pattern '{}' must start with '/'", pattern));
  }
  std::vector<PatternSegment> out;
  auto segs = split_path(pattern);
  for (size_t i = 0; i < segs.size(); ++i) {
    auto s = segs[i];
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
      auto name = s.substr(1, s.size() - 2);
      if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
        if (i + 1 != segs.size()) {
          throw std::invalid_argument(
              fmt::format("route pattern '{}': a {{name...}} segment must be last", pattern));
        }
        out.push_back({PatternSegment::kRest, std::string(name.substr(0, name.size() - 3))});
      } else {
        out.push_back({PatternSegment::kParam, std::string(name)});
      }
    } else {
      out.push_back({PatternSegment::kLiteral, std::string(s)});
    }
  }
  return out;
}

bool match_pattern(const std::vector<PatternSegment>& pattern,
                   const std::vector<std::string_view>& segments,
                   std::map<std::string, std::string>& params) {
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    const auto& p = pattern[i];
    if (p.kind == PatternSegment::kRest) {
      std::string rest;
      for (size_t j = i; j < segments.size(); ++j) {
        auto d = percent_decode(segments[j], false);
        if (!d) return false;
        if (j > i) rest += '/';
        rest += *d;
      }
      params[p.text] = std::move(rest);
      return true;
    }
    if (i >= segments.size()) return false;
    auto d = percent_decode(segments[i], false);
    if (!d) return false;
    if (p.kind == PatternSegment::kLiteral) {
      if (*d != p.text) return false;
    } else {
      if (d->empty()) return false;
      params[p.text] = std::move(*d);
    }
  }
  return i == segments.size();
}

std::string_view mime_type(std::string_view filename) {
  static const std::map<std::string, std::string_view, std::less<>> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
      {"yaml", "application/yaml"},
      {"yml", "application/yaml"},
  };
  auto slash = filename.rfind('/');
  auto base = slash == std::string_view::npos ? filename : filename.substr(slash + 1);
  auto dot = base.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(base.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? std::string_view("application/octet-stream") : it->second;
}

std::optional<std::filesystem::path> resolve_static_path(const std::filesystem::path& root,
                                                         std::string_view relative) {
  namespace fs = std::filesystem;
  if (relative.find('\0') != std::string_view::npos ||
      relative.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  if (!relative.empty() && relative.front() == '/') return std::nullopt;
  for (auto seg : split_path(std::string("/") + std::string(relative))) {
    if (seg == "..") return std::nullopt;
  }
  std::error_code ec;
  fs::path canon_root = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  fs::path candidate = fs::canonical(canon_root / fs::path(std::string(relative)), ec);
  if (ec) return std::nullopt;
  // Containment on whole path components ("/srv/www2" is not inside "/srv/www").
  auto r = canon_root.begin(), c = candidate.begin();
  for (; r != canon_root.end(); ++r, ++c) {
    if (c == candidate.end() || *r != *c) return std::nullopt;
  }
  if (fs::is_directory(candidate, ec)) candidate /= "index.html";
  if (!fs::is_regular_file(candidate, ec)) return std::nullopt;
  return candidate;
}

}  // namespace detail

std::string_view method_name(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kPatch:
      return "PATCH";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return "";
}

const std::string& Request::param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) throw std::logic_error("route has no parameter '" + name + "'");
  return it->second;
}

std::string Request::query_param(const std::string& name, std::string fallback) const {
  auto it = query.find(name);
  return it == query.end() ? std::move(fallback) : it->second;
}

bool Request::query_flag(const std::string& name) const {
  auto it = query.find(name);
  return it != query.end() && (iequals(it->second, "true") || it->second == "1");
}

Result<nlohmann::json> Request::json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return invalid_argument(fmt::format("request body is not valid JSON (at byte {})", e.byte));
  }
}

Response Response::json(int status, const nlohmann::json& body, std::string_view content_type) {
  Response r;
  r.status = status;
  r.content_type = std::string(content_type);
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view message) {
  return json(status, {{"error_code", status}, {"message", message}});
}

Response Response::stream(int status, std::string content_type, Producer producer) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.producer = std::move(producer);
  return r;
}

Response& Response::set_header(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (iequals(k, name)) {
      v = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

struct Route {
  Method method;
  std::string pattern_text;
  std::vector<detail::PatternSegment> pattern;
  int literals = 0;
  Handler handler;
};

struct Router::Impl {
  std::vector<Route> routes;
  std::vector<Middleware> middleware;
};

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router& Router::add(Method method, std::string_view pattern, Handler handler) {
  Route r{method, std::string(pattern), detail::parse_pattern(pattern), 0, std::move(handler)};
  for (const auto& s : r.pattern)
    r.literals += s.kind == detail::PatternSegment::kLiteral ? 1 : 0;
  impl_->routes.push_back(std::move(r));
  return *this;
}

Router& Router::use(Middleware middleware) {
  impl_->middleware.push_back(std::move(middleware));
  return *this;
}

namespace {

Response serve_file(const Request& req, const std::filesystem::path& root,
                    const std::string& relative) {
  auto file = detail::resolve_static_path(root, relative);
  if (!file) return Response::error(404, fmt::format("no file '{}'", relative));
  struct stat st {};
  if (::stat(file->c_str(), &st) != 0) return Response::error(404, "file vanished");
  // A weak validator from size and modification time, enough for a browser's revalidation.
  std::string etag = fmt::format("\"{:x}-{:x}\"", static_cast<uint64_t>(st.st_size),
                                 static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                                     static_cast<uint64_t>(st.st_mtim.tv_nsec));
  Response r;
  r.content_type = std::string(detail::mime_type(file->filename().string()));
  r.set_header("ETag", etag);
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Cache-Control", "no-cache");
  if (req.header("If-None-Match") == etag) {
    r.status = 304;
    return r;
  }
  std::ifstream in(*file, std::ios::binary);
  if (!in) return Response::error(404, "file not readable");
  std::ostringstream buf;
  buf << in.rdbuf();
  r.body = std::move(buf).str();
  return r;
}

}  // namespace

Router& Router::static_files(std::string_view prefix, std::filesystem::path root) {
  std::string p(prefix);
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  auto handler = [root = std::move(root)](Request& req) {
    return serve_file(req, root, req.param("file"));
  };
  return add(Method::kGet, p + "/{file...}", handler);
}

Response Router::dispatch(Request& req, const ErrorResponder& errors) const {
  auto fail = [&](int status, std::string_view msg) {
    return errors ? errors(status, msg) : Response::error(status, msg);
  };
  try {
    auto segments = detail::split_path(req.path);
    const Route* best = nullptr;
    std::map<std::string, std::string> best_params;
    std::vector<std::string> allowed;
    Method want = req.method == Method::kHead ? Method::kGet : req.method;
    for (const auto& r : impl_->routes) {
      std::map<std::string, std::string> params;
      if (!detail::match_pattern(r.pattern, segments, params)) continue;
      if (r.method != want && !(r.method == Method::kHead && req.method == Method::kHead)) {
        allowed.emplace_back(method_name(r.method));
        continue;
      }
      if (best == nullptr || r.literals > best->literals) {
        best = &r;
        best_params = std::move(params);
      }
    }
    if (best == nullptr) {
      if (allowed.empty()) return fail(404, fmt::format("no such resource: {}", req.path));
      std::sort(allowed.begin(), allowed.end());
      allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
      if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end())
        allowed.emplace_back("HEAD");
      Response r = fail(405, fmt::format("method {} not allowed on {}", req.method_text, req.path));
      r.set_header("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
      return r;
    }
    req.params = std::move(best_params);
    // Build the middleware chain around the handler, outermost first.
    Handler chain = best->handler;
    for (auto it = impl_->middleware.rbegin(); it != impl_->middleware.rend(); ++it) {
      chain = [mw = &*it, next = std::move(chain)](Request& q) { return (*mw)(q, next); };
    }
    return chain(req);
  } catch (const std::exception& e) {
    log::error("http handler failed", {log::kv("method", req.method_text),
                                       log::kv("path", req.path), log::kv("error", e.what())});
    return fail(500, fmt::format("internal error: {}", e.what()));
  }
}

}  // namespace sluice::http

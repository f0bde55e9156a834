// Sluice's one HTTP server stack (Boost.Beast underneath), used by every REST surface: the schema
// registry now, the console's JSON APIs and static files later.
//
//   http::Router r;
//   r.get("/subjects/{subject}/versions/{version}", [](http::Request& q) {
//     return http::Response::json(200, {{"subject", q.param("subject")}});
//   });
//   r.static_files("/ui", "web/dist");
//   auto server = http::Server::start({.host = "127.0.0.1", .port = 0}, std::move(r));
//
// Threading: one I/O thread accepts and reads/writes sockets; handlers run on a worker pool, so a
// handler that blocks (disk, fsync, a query) stalls neither the acceptor nor other connections.
// Handlers and middleware may run concurrently and must be thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

std::string_view method_name(Method m);

inline constexpr std::string_view kJsonType = "application/json";

// One request, as the handler sees it. Header lookups are case-insensitive.
struct Request {
  Method method = Method::kGet;
  std::string method_text;                    // as sent ("GET"), also for kOther
  std::string target;                         // raw request target: path and query, percent-encoded
  std::string path;                           // the target's path, still percent-encoded
  std::map<std::string, std::string> query;   // decoded query parameters
  std::map<std::string, std::string> params;  // decoded path parameters of the matched route
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // peer address "ip:port"
  // Filled by middleware for the handlers behind it (e.g. "user" after authentication).
  std::map<std::string, std::string> context;

  // Empty when absent.
  std::string header(std::string_view name) const;
  // The path parameter `name` (programmer error if the route has none of that name).
  const std::string& param(const std::string& name) const;
  // The query parameter or `fallback`.
  std::string query_param(const std::string& name, std::string fallback = "") const;
  // True for ?name=true (case-insensitive) or ?name=1.
  bool query_flag(const std::string& name) const;
  // The body parsed as JSON; InvalidArgument (with the parser's position) when it is not.
  Result<nlohmann::json> json() const;
};

// Where the producer of a streamed response writes its body (see Response::stream).
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // Sends `data` as one chunk and returns once the socket has taken it, so a slow client slows
  // the producer down (nothing piles up in memory). False when the client is gone, the write
  // timed out (ServerOptions::idle_timeout_ms) or the server stopped: the producer should stop
  // its work (e.g. interrupt its query) and return. An empty `data` sends nothing.
  virtual bool write(std::string_view data) = 0;
  // False once a write failed.
  virtual bool ok() const = 0;
  // Bytes of body written so far.
  virtual size_t bytes() const = 0;
};

// Writes the body of a streamed response on the handler's worker thread. Returns true when the
// body is complete (the server then ends it with the last chunk and keeps the connection alive),
// false to abort it (the connection closes without the last chunk: the client sees a truncated
// response rather than a short one).
using Producer = std::function<bool(ChunkSink&)>;

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Set-Cookie, ...)
  std::string body;
  // Set for a streamed response (then `body` is unused): see stream().
  Producer producer;

  static Response json(int status, const nlohmann::json& body,
                       std::string_view content_type = kJsonType);
  static Response text(int status, std::string body);
  // An error in the stack's default shape: {"error_code": status, "message": message}.
  static Response error(int status, std::string_view message);
  // A streamed response: the server sends the status and headers with `Transfer-Encoding:
  // chunked` (HTTP/1.1; HTTP/1.0 clients get the raw body and the connection closes at its end),
  // then calls `producer`, whose writes go out as chunks as they are made. Middleware wraps it
  // like any response (it may add headers; it sees no body). A HEAD request gets the headers
  // only; the producer is not called.
  static Response stream(int status, std::string content_type, Producer producer);
  bool streamed() const { return static_cast<bool>(producer); }

  Response& set_header(std::string name, std::string value);
};

using Handler = std::function<Response(Request&)>;

// Middleware wraps every routed request (static files included): it may reject (return its own
// Response without calling `next`), annotate `req.context` (e.g. the authenticated user), or
// post-process the response (e.g. Set-Cookie). The first added runs outermost. This is the hook
// for authentication: the console adds its cookie-session middleware here.
using Middleware = std::function<Response(Request& req, const Handler& next)>;

// Shapes the errors the stack itself produces (404, 405, 400, 413, 431, 500, 503), so that a
// surface can answer in its protocol's error format. `message` is human readable.
using ErrorResponder = std::function<Response(int status, std::string_view message)>;

// Method + path pattern routing. A pattern is a path of literal segments, `{name}` (one
// segment) and a final `{name...}` (the rest of the path, possibly empty). Parameters are
// percent-decoded. When several routes match, the one with more literal segments wins; a path
// that matches only under other methods answers 405 with an Allow header. GET routes also
// answer HEAD.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  Router& add(Method method, std::string_view pattern, Handler handler);
  Router& get(std::string_view p, Handler h) { return add(Method::kGet, p, std::move(h)); }
  Router& post(std::string_view p, Handler h) { return add(Method::kPost, p, std::move(h)); }
  Router& put(std::string_view p, Handler h) { return add(Method::kPut, p, std::move(h)); }
  Router& del(std::string_view p, Handler h) { return add(Method::kDelete, p, std::move(h)); }

  // Serves the files under `root` at `prefix` (GET and HEAD): correct MIME types, index.html for
  // folders, ETag/If-None-Match; paths that escape `root` (.., symlinks out) answer 404.
  Router& static_files(std::string_view prefix, std::filesystem::path root);

  Router& use(Middleware middleware);

  // Routes one request (used by the server; exposed for tests). Never throws: a handler's
  // exception becomes a 500.
  Response dispatch(Request& req, const ErrorResponder& errors) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; see Server::port()
  int workers = 4;    // handler threads
  size_t max_body_bytes = 8 << 20;
  size_t max_header_bytes = 16 << 10;
  int idle_timeout_ms = 60000;   // a keep-alive connection idle this long is closed
  int shutdown_grace_ms = 5000;  // stop() waits this long for in-flight requests
  std::string name = "http";     // names the server in its log lines
  bool access_log = true;        // log::info per request: method, path, status, ms
  ErrorResponder errors;         // empty: Response::error
};

class Server {
 public:
  // Binds, listens and starts serving in background threads.
  static Result<std::unique_ptr<Server>> start(ServerOptions options, Router router);
  ~Server();  // stop()s

  uint16_t port() const;
  const std::string& host() const;

  // Graceful shutdown: stops accepting, closes idle connections, lets in-flight requests finish
  // (their responses carry Connection: close) for up to shutdown_grace_ms, then closes the rest.
  // Idempotent and thread-safe.
  void stop();
  // Blocks until stop() has completed (from another thread or a signal).
  void wait();
  // Blocks until SIGINT or SIGTERM, then stop()s.
  void run_until_signal();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::http

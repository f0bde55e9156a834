// The Beast server: one I/O thread (acceptor, reads, writes), a worker pool for handlers.
// A connection serves its requests one at a time (no pipelining): read, hand to a worker, write,
// then read the next one if keep-alive. A streamed response (Response::stream) is written from
// its worker: each chunk is handed to the I/O thread and the worker waits until it is on the
// socket, so the producer runs at the client's pace.
#include "http/server.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "http/http_internal.h"

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

Method to_method(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::patch:
      return Method::kPatch;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

class Connection;

}  // namespace

struct Server::Impl {
  ServerOptions opts;
  Router router;

  // Declared before io so that connections destroyed with io's pending handlers can still
  // unregister themselves.
  std::mutex mu;
  std::condition_variable cv;
  std::set<Connection*> connections;
  bool stopping = false;
  bool stopped = false;
  bool signalled = false;
  uint16_t port = 0;

  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::unique_ptr<asio::thread_pool> workers;
  std::thread io_thread;

  ErrorResponder errors() const {
    if (opts.errors) return opts.errors;
    return [](int status, std::string_view msg) { return Response::error(status, msg); };
  }

  void accept();
  void stop();
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl* server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    std::lock_guard lock(server_->mu);
    server_->connections.insert(this);
  }
  ~Connection() {
    std::lock_guard lock(server_->mu);
    server_->connections.erase(this);
    server_->cv.notify_all();
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  // Called on stop(): an idle connection closes now; a busy one closes after its response.
  void shutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->close();
    });
  }

 private:
  void read() {
    if (stopping()) return close();
    parser_.emplace();
    parser_->body_limit(server_->opts.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(server_->opts.max_header_bytes));
    stream_.expires_after(std::chrono::milliseconds(server_->opts.idle_timeout_ms));
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return close();
    }
    if (ec == bhttp::error::body_limit) {
      return reply_error(
          413, fmt::format("request body larger than {} bytes", server_->opts.max_body_bytes));
    }
    if (ec == bhttp::error::header_limit) {
      return reply_error(
          431, fmt::format("request headers larger than {} bytes", server_->opts.max_header_bytes));
    }
    if (ec) {
      if (buffer_.size() == 0 && !parser_->got_some()) return close();
      return reply_error(400, fmt::format("malformed HTTP request: {}", ec.message()));
    }
    auto msg = parser_->release();
    auto req = std::make_shared<Request>();
    req->method = to_method(msg.method());
    req->method_text = std::string(msg.method_string());
    req->target = std::string(msg.target());
    auto q = req->target.find('?');
    req->path = req->target.substr(0, q);
    req->remote = remote_;
    for (const auto& f : msg)
      req->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req->body = std::move(msg.body());
    bool keep_alive = msg.keep_alive();
    unsigned version = msg.version();
    busy_ = true;
    stream_.expires_never();
    if (q != std::string::npos) {
      auto parsed = detail::parse_query(std::string_view(req->target).substr(q + 1));
      if (!parsed) {
        return write(req, server_->errors()(400, "malformed query string"), false, version);
      }
      req->query = std::move(*parsed);
    }
    auto start = std::chrono::steady_clock::now();
    asio::post(*server_->workers, [self = shared_from_this(), req, keep_alive, version, start] {
      Response res = self->server_->router.dispatch(*req, self->server_->errors());
      if (res.streamed() && req->method != Method::kHead) {
        self->stream_response(*req, std::move(res), keep_alive, version, start);
        return;
      }
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (self->server_->opts.access_log) {
        log::info("http request",
                  {log::kv("server", self->server_->opts.name), log::kv("method", req->method_text),
                   log::kv("path", req->path), log::kv("status", res.status),
                   log::kv("ms", fmt::format("{:.2f}", ms)), log::kv("remote", self->remote_)});
      }
      asio::post(self->stream_.get_executor(),
                 [self, req, res = std::move(res), keep_alive, version]() mutable {
                   self->write(req, std::move(res), keep_alive, version);
                 });
    });
  }

  void reply_error(int status, std::string message) {
    busy_ = true;
    auto req = std::make_shared<Request>();
    log::info("http request rejected",
              {log::kv("server", server_->opts.name), log::kv("status", status),
               log::kv("remote", remote_), log::kv("reason", message)});
    write(req, server_->errors()(status, message), false, 11);
  }

  void write(const std::shared_ptr<Request>& req, Response res, bool keep_alive, unsigned version) {
    keep_alive = keep_alive && !stopping();
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(version);
    out->result(static_cast<unsigned>(res.status));
    out->set(bhttp::field::server, "sluice");
    if (res.status != 204 && res.status != 304) {
      out->set(bhttp::field::content_type, res.content_type);
    }
    for (auto& [k, v] : res.headers)
      out->insert(k, v);
    out->keep_alive(keep_alive);
    if (req->method == Method::kHead) {
      // A streamed body's length is unknown: no Content-Length then.
      if (!res.streamed()) out->content_length(res.body.size());
    } else {
      out->body() = std::move(res.body);
      out->prepare_payload();
    }
    stream_.expires_after(std::chrono::milliseconds(server_->opts.idle_timeout_ms));
    bhttp::async_write(stream_, *out,
                       [self = shared_from_this(), out, keep_alive](beast::error_code ec, size_t) {
                         self->busy_ = false;
                         if (ec || !keep_alive) return self->close();
                         self->read();
                       });
  }

  // Runs on a worker: writes the head, runs the producer (its writes become chunks), ends the
  // body, then hands the connection back to the I/O thread (next request or close).
  void stream_response(const Request& req, Response res, bool keep_alive, unsigned version,
                       std::chrono::steady_clock::time_point start) {
    bool chunked = version >= 11;
    keep_alive = keep_alive && chunked && !stopping();
    bhttp::response<bhttp::empty_body> head;
    head.version(version);
    head.result(static_cast<unsigned>(res.status));
    head.set(bhttp::field::server, "sluice");
    head.set(bhttp::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers)
      head.insert(k, v);
    head.erase(bhttp::field::content_length);
    head.keep_alive(keep_alive);
    if (chunked) head.chunked(true);
    std::ostringstream os;
    os << head.base();

    StreamSink sink(this, chunked);
    bool complete = false;
    std::string error;
    if (sink.send(os.str())) {
      try {
        complete = res.producer(sink);
      } catch (const std::exception& e) {
        error = e.what();
        log::error("http stream producer failed",
                   {log::kv("server", server_->opts.name), log::kv("path", req.path),
                    log::kv("error", error)});
      }
      if (complete && chunked && sink.ok()) sink.send("0\r\n\r\n");
    }
    bool reuse = keep_alive && complete && sink.ok();
    if (server_->opts.access_log) {
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      log::info(
          "http request",
          {log::kv("server", server_->opts.name), log::kv("method", req.method_text),
           log::kv("path", req.path), log::kv("status", res.status),
           log::kv("ms", fmt::format("{:.2f}", ms)), log::kv("remote", remote_),
           log::kv("streamed_bytes", sink.bytes()), log::kv("complete", complete && sink.ok())});
    }
    asio::post(stream_.get_executor(), [self = shared_from_this(), reuse] {
      self->busy_ = false;
      if (!reuse) return self->close();
      self->read();
    });
  }

  // The ChunkSink of one streamed response: frames the producer's writes (chunked encoding or
  // raw for HTTP/1.0) and blocks the worker until each is on the socket.
  class StreamSink : public ChunkSink {
   public:
    StreamSink(Connection* conn, bool chunked) : conn_(conn), chunked_(chunked) {}

    bool write(std::string_view data) override {
      if (failed_) return false;
      if (data.empty()) return true;  // a zero-size chunk would end the body
      std::string framed;
      if (chunked_) {
        framed.reserve(data.size() + 16);
        framed = fmt::format("{:x}\r\n", data.size());
        framed.append(data);
        framed.append("\r\n");
      } else {
        framed.assign(data);
      }
      if (!send(std::move(framed))) return false;
      bytes_ += data.size();
      return true;
    }
    bool ok() const override { return !failed_; }
    size_t bytes() const override { return bytes_; }

    // Writes raw bytes on the I/O thread and waits for the result.
    bool send(std::string raw) {
      if (failed_) return false;
      auto buf = std::make_shared<std::string>(std::move(raw));
      auto done = std::make_shared<std::promise<beast::error_code>>();
      auto result = done->get_future();
      auto self = conn_->shared_from_this();
      asio::post(conn_->stream_.get_executor(), [self, buf, done] {
        self->stream_.expires_after(std::chrono::milliseconds(self->server_->opts.idle_timeout_ms));
        asio::async_write(self->stream_, asio::buffer(*buf),
                          [buf, done](beast::error_code ec, size_t) { done->set_value(ec); });
      });
      // The I/O thread stops at the end of a shutdown's grace period: then nothing completes.
      while (result.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
        if (conn_->server_->io.stopped()) {
          failed_ = true;
          return false;
        }
      }
      if (result.get()) failed_ = true;
      return !failed_;
    }

   private:
    Connection* conn_;
    bool chunked_;
    bool failed_ = false;
    size_t bytes_ = 0;
  };

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  bool stopping() {
    std::lock_guard lock(server_->mu);
    return server_->stopping;
  }

  Server::Impl* server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  bool busy_ = false;
};

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Connection>(this, std::move(socket))->start();
    } else {
      log::warn("http accept failed",
                {log::kv("server", opts.name), log::kv("error", ec.message())});
    }
    accept();
  });
}

void Server::Impl::stop() {
  auto closed = std::make_shared<std::promise<void>>();
  asio::post(io, [this, closed] {
    beast::error_code ec;
    acceptor.close(ec);
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(mu);
      for (auto* c : connections) {
        // A connection whose refcount already hit zero is being destroyed; skip it.
        try {
          live.push_back(c->shared_from_this());
        } catch (const std::bad_weak_ptr&) {
        }
      }
    }
    for (auto& c : live)
      c->shutdown();
    closed->set_value();
  });
  if (io_thread.joinable()) closed->get_future().wait_for(std::chrono::seconds(5));
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(opts.shutdown_grace_ms),
                [this] { return connections.empty(); });
  }
  io.stop();
  if (io_thread.joinable() && io_thread.get_id() != std::this_thread::get_id()) io_thread.join();
  if (workers) workers->join();
  {
    std::lock_guard lock(mu);
    if (!stopped) log::info("http server stopped", {log::kv("server", opts.name)});
    stopped = true;
  }
  cv.notify_all();
}

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Router router) {
  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(options);
  impl->router = std::move(router);
  if (impl->opts.workers < 1) impl->opts.workers = 1;
  beast::error_code ec;
  auto address = asio::ip::make_address(impl->opts.host, ec);
  if (ec) {
    // Allow host names such as "localhost".
    tcp::resolver resolver(impl->io);
    auto results = resolver.resolve(impl->opts.host, std::to_string(impl->opts.port), ec);
    if (ec || results.empty()) {
      return invalid_argument(fmt::format("{}: cannot resolve listen host '{}': {}",
                                          impl->opts.name, impl->opts.host, ec.message()));
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, impl->opts.port);
  auto where = fmt::format("{}:{}", impl->opts.host, impl->opts.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return io_error(
        fmt::format("{}: cannot listen on {}: {}", impl->opts.name, where, ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->workers = std::make_unique<asio::thread_pool>(static_cast<size_t>(impl->opts.workers));
  impl->accept();
  Impl* raw = impl.get();
  impl->io_thread = std::thread([raw] {
    auto guard = asio::make_work_guard(raw->io);
    raw->io.run();
  });
  log::info("http server listening",
            {log::kv("server", raw->opts.name),
             log::kv("address", fmt::format("{}:{}", raw->opts.host, raw->port))});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
}

uint16_t Server::port() const {
  return impl_->port;
}

const std::string& Server::host() const {
  return impl_->opts.host;
}

void Server::stop() {
  {
    std::unique_lock lock(impl_->mu);
    if (impl_->stopping) {
      // Someone else is stopping (or has stopped): wait for the end.
      impl_->cv.wait(lock, [this] { return impl_->stopped; });
      return;
    }
    impl_->stopping = true;
  }
  impl_->stop();
}

void Server::wait() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->stopped; });
}

void Server::run_until_signal() {
  asio::signal_set signals(impl_->io, SIGINT, SIGTERM);
  signals.async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    log::info("http server stopping",
              {log::kv("server", impl_->opts.name), log::kv("signal", sig)});
    std::lock_guard lock(impl_->mu);
    impl_->signalled = true;
    impl_->cv.notify_all();
  });
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [this] { return impl_->signalled || impl_->stopped; });
  }
  stop();
}

}  // namespace sluice::http

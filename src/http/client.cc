#include "http/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string ClientResponse::header(std::string_view name) const {
  auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  auto want = lower(name);
  for (const auto& [k, v] : headers) {
    if (lower(k) == want) return v;
  }
  return "";
}

struct Client::Impl {
  std::string host;
  uint16_t port;
  int timeout_ms;
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  bool connected = false;

  Status connect() {
    beast::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return io_error(fmt::format("cannot resolve {}: {}", host, ec.message()));
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.connect(results, ec);
    if (ec) return io_error(fmt::format("cannot connect to {}:{}: {}", host, port, ec.message()));
    stream.socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    connected = true;
    return Status::ok();
  }

  void disconnect() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
    connected = false;
  }
};

Client::Client(std::string host, uint16_t port, int timeout_ms) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout_ms = timeout_ms;
}
Client::~Client() {
  if (impl_ && impl_->connected) impl_->disconnect();
}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

bool Client::connected() const {
  return impl_->connected;
}

Result<ClientResponse> Client::request(std::string_view method, std::string_view target,
                                       std::string body,
                                       std::vector<std::pair<std::string, std::string>> headers) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, fmt::format("{}:{}", impl_->host, impl_->port));
  req.set(bhttp::field::user_agent, "sluice");
  req.keep_alive(true);
  for (auto& [k, v] : headers)
    req.set(k, v);
  req.body() = std::move(body);
  if (!req.body().empty() || method == "POST" || method == "PUT") req.prepare_payload();

  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = impl_->connected;
    if (!impl_->connected) SLUICE_RETURN_IF_ERROR(impl_->connect());
    beast::error_code ec;
    impl_->stream.expires_after(std::chrono::milliseconds(impl_->timeout_ms));
    bhttp::write(impl_->stream, req, ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1ull << 31);
    if (method == "HEAD") parser.skip(true);
    if (!ec) bhttp::read(impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->disconnect();
      // A reused connection may have been closed by the server while idle: retry once fresh.
      if (reused && attempt == 0 && ec != beast::error::timeout) continue;
      if (ec == beast::error::timeout) {
        return timeout_error(fmt::format("{} {}: no answer from {}:{} within {} ms", method, target,
                                         impl_->host, impl_->port, impl_->timeout_ms));
      }
      return io_error(fmt::format("{} {} to {}:{}: {}", method, target, impl_->host, impl_->port,
                                  ec.message()));
    }
    auto res = parser.release();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res)
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    out.body = std::move(res.body());
    if (!res.keep_alive()) impl_->disconnect();
    return out;
  }
  return io_error("unreachable");
}

Result<ClientResponse> Client::post(std::string_view target, std::string body,
                                    std::string content_type) {
  return request("POST", target, std::move(body), {{"Content-Type", std::move(content_type)}});
}

Result<ClientResponse> Client::put(std::string_view target, std::string body,
                                   std::string content_type) {
  return request("PUT", target, std::move(body), {{"Content-Type", std::move(content_type)}});
}

}  // namespace sluice::http

#include <fmt/format.h>
#include <sys/socket.h>

#include <random>

#include "common/log.h"
#include "engine/configured_lake.h"
#include "gateway/server_internal.h"

namespace sluice::gateway {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
Result<std::pair<std::string, uint16_t>> split_host_port(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    return invalid_argument(fmt::format("listen address '{}' must be HOST:PORT", s));
  }
  std::string host(s.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  try {
    port = std::stoi(std::string(s.substr(colon + 1)));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return invalid_argument(fmt::format("listen address '{}': bad port", s));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}
}  // namespace

Result<GatewayOptions> GatewayOptions::from_config(const common::Config& config,
                                                   const std::filesystem::path& data_dir) {
  GatewayOptions o;
  o.data_dir = data_dir;
  std::filesystem::path warehouse = config.get_string("lake.warehouse");
  o.warehouse = warehouse.empty() ? data_dir / "lake" : warehouse;
  SLUICE_ASSIGN_OR_RETURN(auto hp, split_host_port(config.get_string("gateway.listen")));
  o.listen_host = hp.first;
  o.listen_port = hp.second;
  o.max_connections = static_cast<int>(config.get_int("gateway.max_connections"));
  o.statement_timeout_ms = config.get_int("gateway.statement_timeout_ms");
  o.tls_cert = config.get_string("gateway.tls_cert");
  o.tls_key = config.get_string("gateway.tls_key");
  o.engine.threads = static_cast<int>(config.get_int("gateway.session_threads"));
  if (o.engine.threads == 0) o.engine.threads = static_cast<int>(config.get_int("engine.threads"));
  o.engine.memory_limit = config.get_string("gateway.session_memory_limit");
  if (o.engine.memory_limit.empty())
    o.engine.memory_limit = config.get_string("engine.memory_limit");
  o.engine.temp_dir = config.get_string("engine.temp_dir");
  if (o.engine.temp_dir.empty()) o.engine.temp_dir = (data_dir / "tmp").string();
  o.lake = engine::lake_session_options(config, /*hot_table_cache=*/true);
  return o;
}

GatewayImpl::GatewayImpl(GatewayOptions options) : options_(std::move(options)) {}

GatewayImpl::~GatewayImpl() {
  stopping_ = true;
  if (watchdog_.joinable()) watchdog_.join();
}

Status GatewayImpl::open() {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options_.listen_host, ec);
  if (ec) {
    // A host name: resolve it.
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(options_.listen_host, "", ec);
    if (ec || results.empty()) {
      return invalid_argument(fmt::format("cannot resolve listen host '{}'", options_.listen_host));
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, options_.listen_port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return io_error(fmt::format("cannot listen on {}:{}: {}", options_.listen_host,
                                options_.listen_port, ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  if (!options_.tls_cert.empty() || !options_.tls_key.empty()) {
    if (options_.tls_cert.empty() || options_.tls_key.empty()) {
      return invalid_argument("gateway TLS needs both gateway.tls_cert and gateway.tls_key");
    }
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
    tls_->use_certificate_chain_file(options_.tls_cert, ec);
    if (ec) {
      return invalid_argument(
          fmt::format("gateway.tls_cert '{}': {}", options_.tls_cert, ec.message()));
    }
    tls_->use_private_key_file(options_.tls_key, asio::ssl::context::pem, ec);
    if (ec) {
      return invalid_argument(
          fmt::format("gateway.tls_key '{}': {}", options_.tls_key, ec.message()));
    }
  }
  return Status::ok();
}

void GatewayImpl::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!stopping_ && ec != asio::error::operation_aborted) {
        log::warn("gateway accept failed", {log::kv("error", ec.message())});
        accept_next();
      }
      return;
    }
    bool refuse = connections_.load() >= options_.max_connections;
    ++connections_;
    std::thread([this, s = std::move(socket), refuse]() mutable {
      serve_connection(*this, std::move(s), refuse);
      std::lock_guard<std::mutex> lock(mu_);
      --connections_;
      idle_.notify_all();
    }).detach();
    accept_next();
  });
}

std::shared_ptr<SessionControl> GatewayImpl::register_session() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  auto c = std::make_shared<SessionControl>();
  std::lock_guard<std::mutex> lock(mu_);
  c->pid = next_pid_++;
  c->secret = static_cast<int32_t>(rng());
  sessions_[c->pid] = c;
  return c;
}

void GatewayImpl::unregister_session(int32_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(pid);
}

void GatewayImpl::cancel(int32_t pid, int32_t secret) {
  std::shared_ptr<SessionControl> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(pid);
    if (it == sessions_.end() || it->second->secret != secret) return;
    c = it->second;
  }
  std::lock_guard<std::mutex> lock(c->mu);
  if (!c->running || c->session == nullptr) return;
  c->reason = InterruptReason::kCancel;
  c->session->interrupt();
  log::info("gateway cancel request", {log::kv("pid", pid)});
}

void GatewayImpl::watchdog() {
  while (!stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<std::shared_ptr<SessionControl>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [_, c] : sessions_)
        all.push_back(c);
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& c : all) {
      std::lock_guard<std::mutex> lock(c->mu);
      if (!c->running || c->session == nullptr) continue;
      // Interrupt again on every tick: an interrupt that lands between two DuckDB calls of a
      // statement would otherwise be lost.
      if (c->reason == InterruptReason::kCancel) {
        c->session->interrupt();
      } else if (now >= c->deadline) {
        c->reason = InterruptReason::kTimeout;
        c->session->interrupt();
      }
    }
  }
}

Status GatewayImpl::run(bool handle_signals) {
  watchdog_ = std::thread([this] { watchdog(); });
  asio::signal_set signals(io_);
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log::info("gateway stopping", {log::kv("signal", sig)});
      stop();
    });
  }
  accept_next();
  io_.run();
  // Close every connection: shut sockets down so blocked reads return, interrupt queries.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [_, c] : sessions_) {
      std::lock_guard<std::mutex> l(c->mu);
      if (c->socket_fd >= 0) ::shutdown(c->socket_fd, SHUT_RDWR);
      if (c->running && c->session != nullptr) c->session->interrupt();
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait_for(lock, std::chrono::seconds(10), [this] { return connections_.load() == 0; });
  }
  stopping_ = true;
  if (watchdog_.joinable()) watchdog_.join();
  return Status::ok();
}

void GatewayImpl::stop() {
  stopping_ = true;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    io_.stop();
  });
}

Gateway::Gateway(std::unique_ptr<GatewayImpl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

Result<std::unique_ptr<Gateway>> Gateway::open(const GatewayOptions& options) {
  auto impl = std::make_unique<GatewayImpl>(options);
  SLUICE_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

uint16_t Gateway::port() const {
  return impl_->port();
}

Status Gateway::run(bool handle_signals) {
  return impl_->run(handle_signals);
}

void Gateway::stop() {
  impl_->stop();
}

}  // namespace sluice::gateway

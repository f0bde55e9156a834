// Gateway internals shared by server.cc (acceptor, registry, watchdog) and connection.cc (one
// client session).
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "gateway/gateway.h"
#include "gateway/sqlstate.h"

namespace sluice::gateway {

// What the watchdog and cancel requests need to reach a running statement. The session pointer
// is only used under `mu`, and cleared (under `mu`) before the session is destroyed.
struct SessionControl {
  int32_t pid = 0;
  int32_t secret = 0;
  std::mutex mu;
  engine::Session* session = nullptr;
  bool running = false;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  InterruptReason reason = InterruptReason::kNone;
  int socket_fd = -1;
};

class GatewayImpl {
 public:
  explicit GatewayImpl(GatewayOptions options);
  ~GatewayImpl();

  Status open();
  Status run(bool handle_signals);
  void stop();
  uint16_t port() const { return port_; }

  const GatewayOptions& options() const { return options_; }
  boost::asio::ssl::context* tls() { return tls_ ? tls_.get() : nullptr; }

  // Registry of live sessions (for cancel requests, the watchdog and shutdown).
  std::shared_ptr<SessionControl> register_session();
  void unregister_session(int32_t pid);
  // A CancelRequest: interrupts the session's running statement if pid and secret match.
  void cancel(int32_t pid, int32_t secret);

 private:
  void accept_next();
  void watchdog();

  GatewayOptions options_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::unique_ptr<boost::asio::ssl::context> tls_;
  uint16_t port_ = 0;

  std::mutex mu_;
  std::map<int32_t, std::shared_ptr<SessionControl>> sessions_;
  int32_t next_pid_ = 1000;
  std::atomic<int> connections_{0};
  std::condition_variable idle_;
  std::atomic<bool> stopping_{false};
  std::thread watchdog_;
};

// Runs one client connection to completion (in its own thread).
void serve_connection(GatewayImpl& gateway, boost::asio::ip::tcp::socket socket, bool refuse);

}  // namespace sluice::gateway

// The SQL gateway: a PostgreSQL wire protocol (v3) server in front of the lake, so that psql,
// psycopg2, JDBC, SQLAlchemy, Grafana and other PostgreSQL clients query Sluice unchanged.
// See docs/gateway.md for what it supports and src/gateway/README.md for its parts.
//
// Threading: one acceptor thread (Asio) and one thread per client connection; each connection
// has its own DuckDB database and lake session (DuckDB calls block), so sessions never see
// each other's temporary objects. A watchdog thread enforces statement timeouts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "engine/engine.h"
#include "engine/lake_session.h"
#include "governance/governance.h"
#include "lake/lake.h"

namespace sluice::gateway {

struct GatewayOptions {
  std::filesystem::path data_dir;   // users live in <data_dir>/governance
  std::filesystem::path warehouse;  // the lake
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 5433;  // 0 picks a free port (see Gateway::port())
  int max_connections = 64;
  int64_t statement_timeout_ms = 0;  // 0: none
  std::string tls_cert;              // PEM files; both set: SSLRequest is answered 'S'
  std::string tls_key;
  engine::EngineOptions engine;  // per session
  engine::LakeSessionOptions lake;

  // Reads [gateway], [engine] and [lake] from a loaded config.
  static Result<GatewayOptions> from_config(const common::Config& config,
                                            const std::filesystem::path& data_dir);
};

// The gateway's grant check for one statement run by `user`: non-admin users need a read grant
// on every lake table it reads and a write grant on the table it writes; unqualified names are
// resolved through `search_path`. kPermissionDenied ("permission denied for table raw.x") when
// a grant is missing. Used by the console so that both surfaces enforce the same grants.
Status authorize_statement(const governance::User& user, std::string_view sql,
                           const lake::Catalog& catalog,
                           const std::vector<std::string>& search_path);

class GatewayImpl;

class Gateway {
 public:
  // Binds the listening socket (and loads the TLS certificate, if configured).
  static Result<std::unique_ptr<Gateway>> open(const GatewayOptions& options);
  ~Gateway();

  uint16_t port() const;
  // Serves until stop() or SIGINT/SIGTERM (when `handle_signals`).
  Status run(bool handle_signals = true);
  // Thread-safe: asks run() to return; open connections are closed.
  void stop();

 private:
  explicit Gateway(std::unique_ptr<GatewayImpl> impl);
  std::unique_ptr<GatewayImpl> impl_;
};

}  // namespace sluice::gateway

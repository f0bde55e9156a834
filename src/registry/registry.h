// The schema registry: Confluent Schema Registry's REST API (subjects, versions, schemas by
// global id, compatibility checks and configs) over the http module, for Avro and JSON Schema.
// State lives in `<data_dir>/registry/` (see schema_store_internal.h). Docs: docs/registry.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "http/server.h"

namespace sluice::registry {

class SchemaStore;

struct RegistryOptions {
  std::filesystem::path dir;  // the registry's folder: <data_dir>/registry
  std::string host = "127.0.0.1";
  uint16_t port = 8081;
  int workers = 4;
  bool fsync = true;  // fdatasync every change before answering (false only for benchmarks)

  // From `registry.listen` and the data directory.
  static Result<RegistryOptions> from_config(const common::Config& config,
                                             const std::filesystem::path& data_dir);
};

// Adds the registry's routes over `store` to `router` (which must outlive neither).
void add_routes(http::Router& router, std::shared_ptr<SchemaStore> store);
// Confluent's error shape for errors the HTTP stack itself produces.
http::Response error_response(int http_status, int error_code, std::string_view message);

class RegistryServer {
 public:
  static Result<std::unique_ptr<RegistryServer>> start(const RegistryOptions& options);
  ~RegistryServer();

  uint16_t port() const { return server_->port(); }
  void run_until_signal() { server_->run_until_signal(); }
  void stop() { server_->stop(); }

 private:
  RegistryServer() = default;
  std::shared_ptr<SchemaStore> store_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace sluice::registry

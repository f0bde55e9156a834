// The embedded Kafka-wire broker: one node (id 0) serving the Kafka protocol over TCP with
// Boost.Asio on one I/O thread. See docs/bus.md for what it supports and src/bus/README.md for
// the API versions it advertises.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "bus/partition_log.h"
#include "common/config.h"
#include "common/status.h"

namespace sluice::bus {

// When a produced batch reaches the disk. The produce response (acks=1 or acks=all; they mean
// the same on one node) is sent after the batch is written to the log and, with kBatch, fsynced.
enum class FsyncPolicy { kBatch, kInterval, kNone };

struct BrokerOptions {
  std::filesystem::path data_dir;  // broker state lives in <data_dir>/broker
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 9092;  // 0 picks a free port (see Broker::port())
  std::string advertised_host;  // empty: listen_host (or the hostname for 0.0.0.0)
  bool auto_create_topics = true;
  int32_t default_partitions = 1;
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  int64_t fsync_interval_ms = 1000;
  // fsync = interval or none: start writing appended data back to disk every this many bytes
  // per segment (LogConfig::writeback_bytes); 0 leaves it to the OS.
  int64_t writeback_bytes = 1 << 20;
  int64_t cleanup_interval_ms = 30000;  // retention and compaction pass
  LogConfig log;                        // topic defaults

  // Reads the [bus] section (listen, fsync, retention, ...) of a loaded config.
  static Result<BrokerOptions> from_config(const common::Config& config,
                                           const std::filesystem::path& data_dir);
};

// Parses "host:port" (IPv6 as "[::1]:9092").
Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s);

class BrokerImpl;

class Broker {
 public:
  // Opens the broker's storage (recovering logs) and binds the listening socket.
  static Result<std::unique_ptr<Broker>> open(const BrokerOptions& options);
  ~Broker();

  uint16_t port() const;
  // Serves until stop() or SIGINT/SIGTERM (when `handle_signals`); flushes logs on the way out.
  Status run(bool handle_signals = true);
  // Thread-safe: asks run() to return.
  void stop();

 private:
  explicit Broker(std::unique_ptr<BrokerImpl> impl);
  std::unique_ptr<BrokerImpl> impl_;
};

}  // namespace sluice::bus

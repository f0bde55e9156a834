// Helpers for the bus tests: building record batches, temporary folders, and a `sluice broker`
// child process (tests/support/sluice_process.h) with its Kafka bootstrap address.
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "bus/record_batch.h"
#include "support/sluice_process.h"

namespace sluice::bus::testing {

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// An uncompressed batch of `records` key/value pairs starting at base offset 0.
inline std::string make_batch(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& kvs,
    int64_t timestamp = -1, int64_t producer_id = -1, int16_t epoch = -1,
    int32_t base_sequence = -1) {
  BatchHeader h;
  h.base_offset = 0;
  h.last_offset_delta = static_cast<int32_t>(kvs.size()) - 1;
  h.producer_id = producer_id;
  h.producer_epoch = epoch;
  h.base_sequence = base_sequence;
  std::vector<Record> recs;
  int64_t ts = timestamp < 0 ? now_ms() : timestamp;
  for (size_t i = 0; i < kvs.size(); ++i) {
    Record r;
    r.offset = static_cast<int64_t>(i);
    r.timestamp = ts + static_cast<int64_t>(i);
    r.key = kvs[i].first;
    r.value = kvs[i].second;
    recs.push_back(r);
  }
  h.base_timestamp = ts;
  return encode_batch(h, recs);
}

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ =
        std::filesystem::temp_directory_path() /
        ("sluice_bus_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(now_ms()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

using sluice::testing::CommandResult;
using sluice::testing::run_command;
using sluice::testing::slurp;

// A `sluice broker` child process under `dir`, listening on a free loopback port.
class BrokerProcess : public sluice::testing::SluiceProcess {
 public:
  explicit BrokerProcess(const std::filesystem::path& dir, const std::string& config_toml = "")
      : SluiceProcess(dir, "broker", sluice::testing::server_options(dir, "broker", config_toml)) {}
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port()); }
};

}  // namespace sluice::bus::testing

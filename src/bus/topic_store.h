// The broker's topics: names, partition counts and per-topic configs (persisted as
// `<root>/topics/<name>/topic.json`), each partition a PartitionLog under
// `<root>/topics/<name>/<partition>/`. Not thread-safe (the broker's I/O thread owns it).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bus/kafka_errors.h"
#include "bus/partition_log.h"

namespace sluice::bus {

// A Kafka error code with a message for the client (CreateTopics error_message etc).
struct KafkaStatus {
  KafkaError error = KafkaError::kNone;
  std::string message;
  bool ok() const { return error == KafkaError::kNone; }
};

struct Topic {
  std::string name;
  std::map<std::string, std::string> configs;  // overrides set at creation
  LogConfig log_config;                        // defaults + overrides
  std::vector<std::unique_ptr<PartitionLog>> partitions;
};

// Topic configs the broker understands, with their broker-wide defaults rendered as strings.
std::map<std::string, std::string> default_topic_configs(const LogConfig& defaults);

class TopicStore {
 public:
  static Result<std::unique_ptr<TopicStore>> open(const std::filesystem::path& root,
                                                  const LogConfig& defaults);

  Topic* find(std::string_view name);
  std::vector<Topic*> all();
  KafkaStatus create(const std::string& name, int32_t partitions,
                     const std::map<std::string, std::string>& configs, bool validate_only);
  KafkaStatus remove(const std::string& name);
  KafkaStatus add_partitions(const std::string& name, int32_t new_total, bool validate_only);

  const LogConfig& defaults() const { return defaults_; }

  static KafkaStatus validate_name(std::string_view name);
  // Applies `configs` over `base`; unknown keys and bad values are INVALID_CONFIG.
  static KafkaStatus apply_configs(const std::map<std::string, std::string>& configs,
                                   LogConfig* out);

 private:
  explicit TopicStore(std::filesystem::path root, LogConfig defaults)
      : root_(std::move(root)), defaults_(defaults) {}
  Status save(const Topic& t);
  Status open_partitions(Topic& t, int32_t count);

  std::filesystem::path root_;
  LogConfig defaults_;
  std::map<std::string, std::unique_ptr<Topic>, std::less<>> topics_;
};

}  // namespace sluice::bus

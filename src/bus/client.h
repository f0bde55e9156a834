// Sluice's Kafka client side, over librdkafka: topic administration, quick produce/consume and
// consumer-group lag. Works against the embedded broker or any Kafka cluster (`bus.bootstrap`).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::bus {

struct ClientOptions {
  std::string bootstrap = "127.0.0.1:9092";
  int timeout_ms = 10000;
};

struct PartitionDescription {
  int32_t id = 0;
  int32_t leader = -1;
  int64_t low = -1;   // log start offset
  int64_t high = -1;  // high watermark
};

struct TopicDescription {
  std::string name;
  std::vector<PartitionDescription> partitions;
  std::map<std::string, std::string> configs;
};

struct ConsumedMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
};

struct LagRow {
  std::string topic;
  int32_t partition = 0;
  int64_t committed = -1;
  int64_t end = -1;
  int64_t lag = -1;
};

Status create_topic(const ClientOptions& o, const std::string& name, int32_t partitions,
                    int32_t replication, const std::map<std::string, std::string>& configs);
Status delete_topic(const ClientOptions& o, const std::string& name);
Result<std::vector<std::string>> list_topics(const ClientOptions& o);
Result<TopicDescription> describe_topic(const ClientOptions& o, const std::string& name);

// Produces one message per input line (idempotent producer, acks=all). With `key_separator`,
// the text before its first occurrence is the key. Returns the number of messages delivered.
Result<int64_t> produce_lines(const ClientOptions& o, const std::string& topic, std::istream& in,
                              const std::optional<char>& key_separator);

struct ConsumeOptions {
  std::string topic;
  std::string group;  // empty: no group, read every partition
  bool from_beginning = true;
  int64_t max_messages = -1;   // -1: until idle
  int idle_timeout_ms = 3000;  // stop after this long without a message
};
// Calls `on_message` per message; returns how many were consumed.
Result<int64_t> consume(const ClientOptions& o, const ConsumeOptions& c,
                        const std::function<void(const ConsumedMessage&)>& on_message);

// Committed offset, log end and lag of every partition a group has committed.
Result<std::vector<LagRow>> group_lag(const ClientOptions& o, const std::string& group);

}  // namespace sluice::bus

// Change events as Kafka messages in Debezium's envelope (docs/cdc.md, "Output"):
//   json: Kafka Connect's JsonConverter style, `schema` + `payload` in every message;
//   avro: Confluent's wire format (magic 0, 4-byte big-endian schema id, Avro binary), the key
//         and value schemas registered in the schema registry under `<topic>-key` and
//         `<topic>-value` (TopicNameStrategy), ids cached per table schema version.
// Internal to the cdc module (and tests).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cdc/change.h"
#include "common/status.h"
#include "sources/sources.h"

namespace sluice::cdc {

enum class EventFormat { kJson, kAvro };

// "json" or "avro"; InvalidArgument naming cdc.format otherwise.
Result<EventFormat> parse_event_format(std::string_view text);

// Debezium's JSON envelope (with its Connect schema) for one event, and its key.
std::string debezium_value(const ChangeEvent& e, const Transaction& t,
                           const sources::SourceConfig& source, const std::string& topic_prefix);
std::string debezium_key(const ChangeEvent& e, const std::string& topic_prefix);

// The Avro schemas of a table's key (record `<prefix>.<schema>.<table>.Key`) and value (record
// `<prefix>.<schema>.<table>.Envelope`: before, after, source, op, ts_ms).
nlohmann::ordered_json avro_key_schema(const TableSchema& s, const std::string& topic_prefix);
nlohmann::ordered_json avro_value_schema(const TableSchema& s, sources::SourceKind kind,
                                         const std::string& topic_prefix);
// Avro binary datums of those schemas (without the wire header). InvalidArgument naming the
// table and column when a value does not parse as its column's kind.
Result<std::string> avro_key(const ChangeEvent& e);
Result<std::string> avro_value(const ChangeEvent& e, const Transaction& t,
                               const sources::SourceConfig& source,
                               const std::string& topic_prefix);

// The registry URL `cdc.registry_url` names, or, when empty, the registry's own
// `registry.listen` (a wildcard host becomes 127.0.0.1).
Result<std::string> registry_url_from(const std::string& registry_url,
                                      const std::string& registry_listen);

struct EncodedEvent {
  std::string topic;
  std::string key;
  std::string value;
};

// Builds an event's topic, key and value in the configured format; for Avro registers the
// schemas on first use of a table schema version. Registry failures name the subject and the
// registry URL: Unavailable when it cannot be reached (the stream retries), FailedPrecondition
// when it refuses the schema (e.g. incompatible with the subject's last version).
class EventEncoder {
 public:
  struct Options {
    EventFormat format = EventFormat::kJson;
    std::string topic_prefix = "sluice";
    std::string registry_url;  // http://host:port, for Avro
  };
  static Result<std::unique_ptr<EventEncoder>> open(const Options& options,
                                                    const sources::SourceConfig& source);
  ~EventEncoder();

  Result<EncodedEvent> encode(const ChangeEvent& e, const Transaction& t);

 private:
  struct Impl;
  explicit EventEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::cdc

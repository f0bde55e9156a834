// The CDC pipeline, generic over ChangeReader: batches committed transactions, publishes them to
// the bus in Debezium's envelope, appends them to raw.<source>_<table>_changes, merges them into
// refined.<source>_<table>, records the position in each lake commit and in the stream's
// checkpoint, then confirms the position to the reader. Internal to the cdc module (and tests).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cdc/cdc.h"
#include "cdc/change.h"
#include "cdc/envelope.h"
#include "engine/lake_session.h"
#include "sources/sources.h"

namespace sluice::cdc {

struct PipelineOptions {
  std::string topic_prefix = "sluice";
  std::string bootstrap;                    // Kafka bootstrap servers; empty: no bus
  EventFormat format = EventFormat::kJson;  // of the bus messages (envelope.h)
  std::string registry_url;                 // the schema registry, for Avro
  int64_t commit_interval_ms = 1000;
  int64_t max_batch_events = 200000;
  std::filesystem::path state_dir;  // checkpoint.json; work files
};

// The lake tables of a source table.
std::string raw_table_name(const std::string& source, const std::string& table);
std::string refined_table_name(const std::string& source, const std::string& table);
// DuckDB's spelling of an Iceberg primitive type, as the pipeline creates lake columns.
std::string duck_of_iceberg(const std::string& iceberg_type);
// Lower-case hexadecimal of bytes (how binary values travel through CSV staging).
std::string hex(std::string_view bytes);

// The stored checkpoint.
struct Checkpoint {
  Position position;
  bool snapshot_complete = false;
};
Result<std::optional<Checkpoint>> read_checkpoint(const std::filesystem::path& state_dir);

class Pipeline {
 public:
  Pipeline(sources::SourceConfig source, PipelineOptions options, engine::LakeSession* lake);
  ~Pipeline();

  // Where the reader starts: the checkpoint's position once the bootstrap completed; otherwise
  // empty (bootstrap), after dropping the lake tables a half-done bootstrap left.
  Result<Position> prepare();

  // Runs until `stop` (commits what it holds first) or an error. `on_status` is called at
  // least every second with the current figures.
  Status run(ChangeReader& reader, const std::atomic<bool>& stop,
             const std::function<void(const StreamStatus&)>& on_status);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::cdc

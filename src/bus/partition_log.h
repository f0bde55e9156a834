// One partition's log: a folder of segments `<base offset, 20 digits>.log`, each with a sparse
// offset index (`.index`: int32 relative offset, int32 position, every index_interval_bytes) and
// a time index (`.timeindex`: int64 max timestamp so far, int32 relative offset), as Kafka lays
// them out. Batches are stored as producers sent them; the broker rewrites only the base offset.
//
// Threading: not thread-safe; the broker calls it from its one I/O thread.
// Recovery: open() scans the newest segment batch by batch, checks each CRC-32C and truncates a
// torn tail, so offsets stay dense and monotonic after kill -9. Older segments trust their index
// and scan only from the last index entry to find their end.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bus/kafka_errors.h"
#include "bus/record_batch.h"
#include "common/status.h"

namespace sluice::bus {

struct LogConfig {
  int64_t segment_bytes = 128ll << 20;
  int64_t retention_ms = 7ll * 24 * 3600 * 1000;     // -1: keep forever
  int64_t retention_bytes = -1;                      // -1: no size limit
  bool cleanup_delete = true;                        // cleanup.policy has "delete"
  bool cleanup_compact = false;                      // cleanup.policy has "compact"
  int64_t delete_retention_ms = 24ll * 3600 * 1000;  // how long compaction keeps tombstones
  int32_t max_message_bytes = 1048588;
  int32_t index_interval_bytes = 4096;
  // > 0: each time this many bytes were appended to a segment since the last time, their
  // writeback to disk is started (sync_file_range, not waited for), so the page cache never holds
  // much unwritten log and a periodic fsync (or the kernel's own flush) has little left to write.
  // The broker sets it for fsync = interval and none (bus.writeback_bytes).
  int64_t writeback_bytes = 0;
};

struct AppendOutcome {
  KafkaError error = KafkaError::kNone;
  std::string message;
  int64_t base_offset = -1;
};

class Segment;

class PartitionLog {
 public:
  static Result<std::unique_ptr<PartitionLog>> open(const std::filesystem::path& dir,
                                                    const LogConfig& config);
  ~PartitionLog();

  // Appends the record batches of one produce request's partition (validated: v2, CRC, size,
  // keys on compacted topics; idempotent producers deduplicated by producer id, epoch and
  // sequence). Returns the base offset given to the first batch.
  AppendOutcome append(std::string_view record_set);
  // The same on a record set the caller owns: each batch's base offset and leader epoch are
  // patched in `data` (outside the CRC) and the bytes written from there, without a copy.
  AppendOutcome append_in_place(char* data, size_t size);

  // fsync of the active segment (and of any segment rolled since the last sync).
  Status sync();
  bool dirty() const { return dirty_; }
  // A duplicate of the active segment's file descriptor, for an fdatasync on another thread
  // (group commit). Data appended so far is in that file or in a segment fsynced when it rolled.
  // The caller closes it.
  Result<int> dup_active_fd() const;
  // For a flush on another thread (fsync=interval): when data was appended since the last
  // sync, writes the pending index entries, clears the dirty mark and returns a duplicate of
  // the active segment's descriptor (the caller fdatasyncs and closes it); -1 when clean.
  Result<int> take_dirty_fd();

  // The high watermark: offsets below it are visible to consumers. With fsync per batch it
  // advances only once the batches are on disk; otherwise right after each append.
  int64_t high_watermark() const { return high_watermark_; }
  void advance_high_watermark(int64_t offset) {
    high_watermark_ = std::max(high_watermark_, std::min(offset, next_offset_));
  }

  int64_t log_start_offset() const;
  int64_t log_end_offset() const { return next_offset_; }
  int64_t size_bytes() const;
  size_t segment_count() const { return segments_.size(); }

  // Appends to `out` whole batches from the one holding `offset`, up to `max_bytes` (always at
  // least one batch, so a batch larger than max_bytes still makes progress) and stopping before
  // the first batch at or past `limit_offset`. Returns bytes read.
  Result<size_t> read(int64_t offset, size_t max_bytes, std::string* out,
                      int64_t limit_offset = INT64_MAX) const;

  // The first offset whose record timestamp is >= ts, and that timestamp; -1 if none.
  Result<std::pair<int64_t, int64_t>> offset_for_timestamp(int64_t ts) const;

  // Deletes old segments by time and size (cleanup.policy delete).
  Status apply_retention(int64_t now_ms);
  // Keeps only the newest record per key in sealed segments (cleanup.policy compact); drops
  // tombstones older than delete_retention_ms.
  Status compact(int64_t now_ms);

  void set_config(const LogConfig& c) { config_ = c; }
  const LogConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct ProducerBatch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t base_offset;
  };
  struct ProducerState {
    int16_t epoch = -1;
    std::deque<ProducerBatch> recent;  // the last 5 batches, as Kafka keeps
  };

  PartitionLog(std::filesystem::path dir, LogConfig config);
  Status roll();
  void remember_producer(const BatchHeader& h);
  Status delete_front_segment();

  std::filesystem::path dir_;
  LogConfig config_;
  std::vector<std::unique_ptr<Segment>> segments_;  // ascending base offset; back() is active
  int64_t next_offset_ = 0;
  int64_t high_watermark_ = 0;
  bool dirty_ = false;
  std::map<int64_t, ProducerState> producers_;
  int64_t compacted_at_end_ = -1;  // log end offset when compaction last ran
};

}  // namespace sluice::bus

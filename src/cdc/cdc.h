// Change data capture: a source's committed changes to the bus (Debezium's envelope) and the
// lake (raw.<source>_<table>_changes and refined.<source>_<table>), exactly once in the lake
// across bootstrap, restarts and kill -9. See docs/cdc.md.
//
// CdcStream runs one source's stream on its own thread: open_reader() by SourceKind, then the
// pipeline (bus, lake, checkpoint, confirm). `sluice cdc start` runs one in the foreground;
// `sluice up` starts one per source whose file has `[cdc] enabled = true`.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cdc/change.h"
#include "common/config.h"
#include "sources/sources.h"

namespace sluice::engine {
class LakeSession;
}

namespace sluice::cdc {

struct StreamStatus {
  std::string source;
  std::string state = "starting";   // starting, bootstrapping, streaming, retrying, stopped, failed
  std::string position;             // the last position committed to the lake (source's form)
  int64_t transactions = 0;         // committed since start
  int64_t events = 0;               // committed since start
  double events_per_second = 0;     // over the last few seconds
  int64_t lake_lag_ms = -1;         // source commit -> visible in the lake, last batch
  int64_t bus_lag_ms = -1;          // source commit -> acknowledged by the bus, last batch
  int64_t retained_wal_bytes = -1;  // WAL (or binlog) the source keeps for this stream
  bool retained_wal_alert = false;  // above [cdc] max_retained_wal_mb
  int64_t updated_ms = 0;           // when this status was written (Unix ms)
  int pid = 0;
  std::string backfill;  // the running backfill: "orders (20000 rows, 0 deleted, 2 chunks)"
  std::string error;     // the last error (state failed or retrying)
};

std::string status_to_json(const StreamStatus& s);
Result<StreamStatus> status_from_json(std::string_view json);

// Where a source's stream keeps its state: <data_dir>/cdc/<source>/ (pid, status.json,
// checkpoint.json).
std::filesystem::path stream_dir(const common::Config& config, const std::string& source);

// The reader for a source, by kind (PostgreSQL pgoutput, MariaDB/MySQL binlog when built in).
Result<std::unique_ptr<ChangeReader>> open_reader(const sources::SourceConfig& source,
                                                  const Position& resume);

// What the source retains for this stream: PostgreSQL's slot WAL (current LSN - restart_lsn),
// MariaDB's binlog bytes after `resume`; nullopt when unknown (no slot, no position).
Result<std::optional<int64_t>> retained_bytes(const sources::SourceConfig& source,
                                              const std::string& resume);
// Forgets the source side of a stream (drops the PostgreSQL slot, the MariaDB reader's state):
// the next start bootstraps again.
Status reset_source_state(const sources::SourceConfig& source);

// `sluice cdc reconcile`: the lake's current state (refined.<source>_<table>) against the
// source's, row by row by key (a copy of the source's rows read into the engine with the lake's
// types). Rows changed after the lake's last commit show as differences while a stream runs.
struct ReconcileTable {
  std::string table;
  int64_t source_rows = 0;
  int64_t lake_rows = 0;
  int64_t missing = 0;              // in the source, not in the lake
  int64_t extra = 0;                // in the lake, not in the source
  int64_t different = 0;            // in both, with different values
  std::vector<std::string> sample;  // a few keys that differ ("missing id=5")
};
Result<std::vector<ReconcileTable>> reconcile(const sources::SourceConfig& source,
                                              engine::LakeSession& lake,
                                              const std::vector<std::string>& tables,
                                              const std::string& where,
                                              const std::filesystem::path& work_dir);

class CdcStream {
 public:
  // Starts streaming `source` on a background thread; returns once it runs.
  static Result<std::unique_ptr<CdcStream>> start(const common::Config& config,
                                                  const sources::SourceConfig& source);
  ~CdcStream();
  // Asks the stream to stop after its current batch (safe from a signal-handling thread).
  void stop();
  // Waits until the stream ends; its final status (OK after stop()).
  Status wait();
  StreamStatus status() const;

  struct Impl;

 private:
  explicit CdcStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::cdc

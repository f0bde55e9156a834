// The contract between CDC readers (PostgreSQL pgoutput, MariaDB/MySQL binlog) and CDC sinks
// (the bus in Debezium's envelope, the lake's raw change log and refined current state).
//
// A reader turns its source's replication stream into committed transactions of row changes,
// each with a totally ordered position. A sink applies them and reports the position it made
// durable; only then does the reader confirm it to the source (PostgreSQL's flush LSN), so the
// source never lets go of a change Sluice still needs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::cdc {

// Debezium's op codes.
enum class Op : char {
  kCreate = 'c',
  kUpdate = 'u',
  kDelete = 'd',
  kRead = 'r',  // a row of a snapshot (bootstrap or backfill)
  kTruncate = 't',
};

// The kind of a column's values, enough to render them (JSON numbers vs strings, Avro types)
// and to map them to a lake type.
enum class ValueKind {
  kBool,
  kInt16,
  kInt32,
  kInt64,
  kFloat32,
  kFloat64,
  kDecimal,  // text, with precision/scale in Column
  kString,
  kDate,         // text 'YYYY-MM-DD'
  kTime,         // text 'HH:MM:SS[.ffffff]'
  kTimestamp,    // text 'YYYY-MM-DD HH:MM:SS[.ffffff]' (no zone)
  kTimestampTz,  // text in UTC 'YYYY-MM-DD HH:MM:SS[.ffffff]+00'
  kUuid,
  kJson,
  kBytes,  // raw bytes in the text slot
  kOther,  // anything else, carried as its source text
};

struct Column {
  std::string name;
  std::string source_type;  // as the source names it: "int4", "varchar(64)", "decimal(10,2)"
  ValueKind kind = ValueKind::kString;
  int precision = 0;  // kDecimal
  int scale = 0;      // kDecimal
  bool key = false;   // part of the primary key (or replica identity)
  bool nullable = true;
};

// One version of a table's schema. A reader emits a new version (version + 1) whenever the
// source's columns change (PostgreSQL Relation message, MariaDB DDL in a QUERY event).
struct TableSchema {
  std::string database;  // PostgreSQL database / MariaDB schema (database)
  std::string schema;    // PostgreSQL schema ("public"); for MariaDB the database name again
  std::string table;
  std::vector<Column> columns;
  int version = 1;
};

// A column's value: nullopt is SQL NULL. Text in the form ValueKind documents.
using Value = std::optional<std::string>;

struct Row {
  std::vector<Value> values;  // in TableSchema::columns order
};

// Where a change sits in the source's history, totally ordered by (major, minor).
// PostgreSQL: major = the transaction's commit LSN, minor = the change's index within it.
// MariaDB/MySQL: major = (binlog file number << 32) | the XID event's end position, minor = index.
// Snapshot rows carry the position the snapshot was taken at with minor = 0.
// `resume` is the source's own restart point after this transaction ("0/16B3748",
// "mariadb-bin.000003:4567" or a GTID list), stored with the lake commit.
struct Position {
  uint64_t major = 0;
  uint64_t minor = 0;
  std::string resume;

  friend bool operator<(const Position& a, const Position& b) {
    return a.major < b.major || (a.major == b.major && a.minor < b.minor);
  }
  friend bool operator==(const Position& a, const Position& b) {
    return a.major == b.major && a.minor == b.minor;
  }
};

struct ChangeEvent {
  Op op = Op::kCreate;
  std::shared_ptr<const TableSchema> schema;
  std::optional<Row> before;  // updates and deletes: the old row (full or key only, per identity)
  std::optional<Row> after;   // inserts, updates, snapshot reads
  Position position;
  bool snapshot = false;  // Debezium's source.snapshot
  // Columns of `after` whose value the source did not send because it did not change (an
  // unchanged TOAST-ed value in PostgreSQL): their slot in `after` is empty and the pipeline
  // fills it from the last known row state before the event goes anywhere.
  std::vector<size_t> unchanged;
};

// One committed source transaction (or one chunk of snapshot rows).
struct Transaction {
  std::string txid;          // source transaction id / GTID, empty for snapshot chunks
  int64_t commit_ts_ms = 0;  // source commit time
  Position position;         // of the commit; every event's position.major equals its major
  std::vector<ChangeEvent> events;
  // Set on the bootstrap's last snapshot chunk (possibly with no events): the snapshot is
  // complete and streaming follows, so a restart resumes instead of bootstrapping again.
  bool snapshot_complete = false;
};

// A backfill's request for the next chunk of a table: rows matching `where` (SQL, optional) with
// a key greater than `after_key` (empty: from the first key), in key order, at most `limit`.
struct ChunkRequest {
  std::string table;
  std::string where;
  std::vector<Value> after_key;  // the key columns' values, in key order
  int64_t limit = 10000;
};

// A chunk of a table read while the stream runs: a watermark-based incremental snapshot (as in
// Netflix's DBLog). The chunk is exact at stream position `high`: it holds the effect of every
// transaction at or before `high` for which `visible` is true and of none after `high`. The
// pipeline emits its rows once the stream has handed out everything up to `high`
// (ChangeReader::caught_up), minus the keys that transactions invisible to it changed.
struct BackfillChunk {
  std::shared_ptr<const TableSchema> schema;
  std::vector<Row> rows;  // in key order
  uint64_t high = 0;
  // Where the chunk's rows go in the stream: major = high + 1 (after every transaction up to
  // `high`, before the next one), resume = the source's restart point at `high`.
  Position position;
  std::function<bool(const Transaction&)> visible;
};

// A reader of one source's change stream.
class ChangeReader {
 public:
  virtual ~ChangeReader() = default;
  // The next committed transaction, or nullopt when none arrived within `wait` (heartbeats and
  // keep-alives are handled inside). Errors name the source and what to do.
  virtual Result<std::optional<Transaction>> next(std::chrono::milliseconds wait) = 0;
  // Everything up to and including `position` is durable at every destination: the reader may
  // confirm it to the source.
  virtual Status confirm(const Position& position) = 0;
  // Every transaction whose position.major is at most this has been handed out by next().
  virtual uint64_t caught_up() const { return 0; }
  // Reads a backfill chunk (see BackfillChunk); between calls of next(), on the stream's thread.
  virtual Result<BackfillChunk> read_chunk(const ChunkRequest& request) {
    return unimplemented("this source kind cannot backfill: " + request.table);
  }
};

}  // namespace sluice::cdc

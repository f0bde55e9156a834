// Source readers: a consistent read view of one source database, and chunk reads into CSV pipes.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sources/sources_internal.h"

namespace sluice::sources::detail {

struct ChunkResult {
  int64_t rows = 0;
  int64_t bytes = 0;
};

class Reader {
 public:
  virtual ~Reader() = default;
  // Opens the read view every later call sees (one transaction snapshot for the whole source)
  // and up to `workers` parallel readers sharing it; returns how many there are.
  virtual Result<int> begin(int workers) = 0;
  // Where the snapshot is in the source's change log: "lsn:0/16B3748", "binlog:binlog.000003:4".
  virtual std::string position() const = 0;
  virtual Result<std::vector<SourceColumn>> columns(const std::string& table) = 0;
  virtual Result<std::vector<std::string>> primary_key(const std::string& table) = 0;
  virtual Result<MappedColumn> map(const SourceColumn& c) const = 0;
  virtual std::string ident(const std::string& name) const = 0;
  // Statistics' row estimate (no scan); -1 when unknown.
  virtual Result<int64_t> estimate_rows(const std::string& table) = 0;
  // min(col), max(col), count(*) over rows matching `where` ("" for all), as text.
  virtual Result<std::vector<std::optional<std::string>>> aggregate(const std::string& table,
                                                                    const std::string& select,
                                                                    const std::string& where) = 0;
  // The condition "cursor >= watermark - look_back" in the source's dialect.
  virtual std::string cursor_condition(const std::string& cursor, const SourceColumn& col,
                                       const MappedColumn& m, const std::string& watermark,
                                       int64_t look_back) const = 0;
  // Streams the rows of `select_list` FROM table WHERE where as CSV (every non-null value quoted)
  // into the FIFO `file` (make_chunk_pipe), waiting for its reader to open it; gives up with
  // kCancelled once `cancel` is set. Thread-safe for distinct `worker` indexes. The caller blocks
  // SIGPIPE in the calling thread (a reader that went away is then an error, not a signal).
  virtual Result<ChunkResult> read_chunk(int worker, const std::string& table,
                                         const std::string& select_list, const std::string& where,
                                         const std::filesystem::path& file,
                                         const std::atomic<bool>& cancel) = 0;
};

// Creates the FIFO a chunk travels through (mode 0600).
Status make_chunk_pipe(const std::filesystem::path& p);
// Opens the FIFO for writing and closes it at once: its reader sees an empty chunk instead of
// waiting forever (used after a failure, for chunks no read will fill).
Status release_chunk_pipe(const std::filesystem::path& p, const std::atomic<bool>& cancel);

std::unique_ptr<Reader> make_pg_reader(const Endpoint& ep, const std::string& schema);
std::unique_ptr<Reader> make_mysql_reader(const Endpoint& ep, const std::string& schema);

}  // namespace sluice::sources::detail

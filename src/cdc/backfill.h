// Backfills: a table (or a key range of it) copied again into the stream while it runs, with no
// duplicates and no regression of newer values: a watermark-based incremental snapshot (the
// algorithm of Netflix's DBLog). The readers read chunks (ChangeReader::read_chunk); the pipeline
// interleaves them with the stream; this file holds what both sides and the CLI share: the SQL
// of a chunk's key range and the request files under <stream dir>/backfills/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cdc/change.h"
#include "common/status.h"

namespace sluice::cdc {

// The key columns of a schema, in column order (the order chunks are read and compared in).
std::vector<size_t> key_indexes(const TableSchema& schema);

using IdentFn = std::function<std::string(const Column&)>;
using LiteralFn = std::function<std::string(const Column&, const std::string&)>;

// `key <op> values` in lexicographic order over the key columns, op one of > >= < <=:
// (k1 > v1 OR (k1 = v1 AND k2 > v2)). Errors on a NULL or a byte-string key value.
Result<std::string> key_compare(const TableSchema& schema, const std::vector<Value>& values,
                                const std::string& op, const IdentFn& ident,
                                const LiteralFn& literal);
// A chunk's condition: (where) AND key > after_key (either may be absent; "TRUE" if both are).
Result<std::string> chunk_condition(const TableSchema& schema, const ChunkRequest& request,
                                    const IdentFn& ident, const LiteralFn& literal);
// "k1, k2" for ORDER BY.
std::string key_order(const TableSchema& schema, const IdentFn& ident);

// A queued or running backfill: <stream dir>/backfills/<id>.json.
struct BackfillRequest {
  std::string id;
  std::string table;
  std::string where;
  int64_t chunk_rows = 10000;
  std::optional<std::vector<Value>> after_key;  // progress: the last key committed to the lake
  int64_t rows = 0;                             // rows re-read and committed
  int64_t deleted = 0;                          // lake rows removed (gone from the source)
  int64_t chunks = 0;
  std::string state = "queued";  // queued, running, done, failed
  std::string error;
  int64_t created_ms = 0;
  int64_t finished_ms = 0;
};

std::string backfill_to_json(const BackfillRequest& r);
Result<BackfillRequest> backfill_from_json(std::string_view json);
std::filesystem::path backfills_dir(const std::filesystem::path& stream_dir);
// Writes a new queued request and returns it.
Result<BackfillRequest> queue_backfill(const std::filesystem::path& stream_dir,
                                       const std::string& table, const std::string& where,
                                       int64_t chunk_rows);
Status save_backfill(const std::filesystem::path& stream_dir, const BackfillRequest& r);
Result<BackfillRequest> load_backfill(const std::filesystem::path& stream_dir,
                                      const std::string& id);
// Every request, oldest first.
Result<std::vector<BackfillRequest>> list_backfills(const std::filesystem::path& stream_dir);

// Writes `text` to `path` durably: a temporary file, fsync, rename, fsync of the folder.
Status write_file_atomic(const std::filesystem::path& path, const std::string& text);

}  // namespace sluice::cdc

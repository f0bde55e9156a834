// The PostgreSQL change reader: logical replication with the built-in `pgoutput` plugin.
//
// Bootstrap (empty resume position): CREATE_REPLICATION_SLOT ... LOGICAL pgoutput
// EXPORT_SNAPSHOT on a replication connection, then every configured table is copied on a second
// connection under SET TRANSACTION SNAPSHOT (snapshot chunks, op 'r'), then START_REPLICATION at
// the slot's consistent point: the copy and the stream meet exactly, no gap and no duplicate.
// Resume: START_REPLICATION at the resume LSN of an existing slot.
//
// Protocol version 2 with streaming on: a transaction larger than the server's
// logical_decoding_work_mem arrives in chunks before its commit. The chunks are buffered per xid
// (in memory up to the source's [cdc] stream_memory_mb, default 64, beyond it in spill files under
// <state_dir>/pg_stream), subtransaction aborts drop their changes, and at Stream Commit the
// transaction is handed out like one that arrived as Begin..Commit (docs/cdc.md).
//
// Feedback: the flush LSN sent in standby status updates is only ever a position given to
// confirm() (or, when everything returned was confirmed, the server's idle WAL end from a
// keep-alive, so an idle database's slot keeps moving; never while a streamed transaction is open).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cdc/change.h"
#include "sources/sources.h"

namespace sluice::cdc {

// "16/B374D848" <-> 0x16B374D848.
std::string format_lsn(uint64_t lsn);
Result<uint64_t> parse_lsn(std::string_view text);

// The slot and publication names a source uses (its [cdc] keys, or sluice_<source>).
std::string slot_name(const sources::SourceConfig& source);
std::string publication_name(const sources::SourceConfig& source);

struct PgReaderOptions {
  int64_t snapshot_chunk_rows = 20000;  // rows per bootstrap transaction
  int64_t status_interval_ms = 1000;    // standby status updates at least this often
};

Result<std::unique_ptr<ChangeReader>> open_pg_reader(const sources::SourceConfig& source,
                                                     const Position& resume,
                                                     const PgReaderOptions& options = {});

// Bytes of WAL the source's slot retains (current WAL LSN - restart_lsn), via a normal
// connection; nullopt if the slot does not exist.
Result<std::optional<int64_t>> pg_retained_wal_bytes(const sources::SourceConfig& source);

// Copies columns of a source table as CSV (PostgreSQL's CSV: NULL unquoted, text quoted) into
// `file`, optionally filtered by `where` (SQL); returns the rows (used by `cdc reconcile`).
Result<int64_t> pg_copy_csv(const sources::SourceConfig& source, const std::string& table,
                            const std::vector<std::string>& columns, const std::string& where,
                            const std::filesystem::path& file);

// The primary key columns of a source table, in key order.
Result<std::vector<std::string>> pg_primary_key(const sources::SourceConfig& source,
                                                const std::string& table);

// Drops the source's slot (if it exists); used by `sluice cdc reset`.
Status pg_drop_slot(const sources::SourceConfig& source);

}  // namespace sluice::cdc

// The MariaDB/MySQL change reader: the row-based binary log, read as a replica with MariaDB
// Connector/C's binlog API (mariadb_rpl.h).
//
// Bootstrap (empty resume position): one connection runs START TRANSACTION WITH CONSISTENT
// SNAPSHOT and reads binlog_snapshot_file/binlog_snapshot_position (MariaDB; no global lock), the
// configured tables are copied in that transaction (snapshot chunks, op 'r'), then the binlog is
// streamed from exactly that position: no gap, no duplicate. Resume: from Position::resume, a
// "binlog.000003:4567" file position or a MariaDB GTID list ("0-1-42,1-2-7").
//
// Schemas: column names and types come from information_schema at bootstrap and again when a
// QUERY event carries DDL touching a tracked table (a new TableSchema version when the columns
// changed). The schema history is kept with the confirmed position in a small JSON state file,
// `<state_dir>/<source>.mysql.json`, so a restart from an old position decodes its rows with the
// schema that was current there.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "cdc/change.h"
#include "sources/sources.h"

namespace sluice::cdc {

struct MysqlReaderOptions {
  // Folder of the reader's state file; empty: the source's [cdc] state_dir, else "var/cdc".
  std::filesystem::path state_dir;
  int64_t snapshot_chunk_rows = 20000;  // rows per bootstrap transaction
  int64_t heartbeat_ms = 100;           // server heartbeat while idle (bounds next()'s wait)
};

Result<std::unique_ptr<ChangeReader>> open_mysql_reader(const sources::SourceConfig& source,
                                                        const Position& resume);
Result<std::unique_ptr<ChangeReader>> open_mysql_reader(const sources::SourceConfig& source,
                                                        const Position& resume,
                                                        const MysqlReaderOptions& options);

// Where the reader keeps its state for `source` (see MysqlReaderOptions::state_dir).
std::filesystem::path mysql_state_file(const sources::SourceConfig& source,
                                       const std::filesystem::path& state_dir = {});

// Forgets the reader's state (schema history, confirmed position); used by `--reset`.
Status mysql_reset_state(const sources::SourceConfig& source,
                         const std::filesystem::path& state_dir = {});

// Bytes of binlog written after `resume` ("file:pos") up to the server's current position
// (SHOW BINARY LOGS; needs BINLOG MONITOR): how far the reader is behind.
Result<int64_t> mysql_binlog_behind_bytes(const sources::SourceConfig& source,
                                          const std::string& resume);

}  // namespace sluice::cdc

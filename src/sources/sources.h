// Sources: batch ingestion from PostgreSQL and MariaDB/MySQL into the lake's raw zone, and the
// example OLTP data generators. See docs/sources.md.
//
// A source is defined by a `sources/<name>.toml` file (connection, tables, cursor columns,
// chunking, parallelism). `ingest()` copies its tables into `raw.<source>_<table>`:
//   - snapshot: whole tables, consistent across the source's tables (one transaction snapshot),
//     read in primary-key-range chunks that stream through bounded CSV chunk files, converted to
//     Parquet by DuckDB, and committed as ONE lake commit per table (replacing its content);
//   - incremental: rows whose cursor column is at or past the stored watermark (minus a look-back
//     window), de-duplicated against rows already loaded, appended in one commit that also
//     records the new watermark in the snapshot summary (so a crash never skips or doubles rows).
// Rows the lake cannot hold (a value out of range, a bad encoding) go to
// `raw.<source>_<table>__quarantine` with the reason; they are counted, never dropped silently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/lake_session.h"

namespace sluice::sources {

enum class SourceKind { kPostgres, kMysql, kFiles, kRest };

struct TableConfig {
  std::string name;    // table name in the source (schema from SourceConfig)
  std::string cursor;  // incremental cursor column (`updated_at`, an id); empty: snapshot only
  // Incremental runs re-read rows with cursor >= watermark - look_back (seconds for timestamp
  // cursors, units for integer ones) so that rows committed late are not missed; rows already
  // loaded are recognised by (key, cursor) and skipped.
  int64_t look_back = 0;
  std::vector<std::string> key;  // overrides the primary key (chunking, de-duplication)
  int64_t chunk_rows = 0;        // 0: the source's chunk_rows
  // type = "files": a glob (relative to the folder, `*` `?` `[..]`) and the format.
  std::string pattern;
  std::string format;           // csv | jsonl | parquet
  std::string delimiter = ",";  // csv
  bool header = true;           // csv
  // type = "rest": the endpoint path (after base_url) and the JSON path of the records array
  // ("data", "result.items"; empty: the body is the array).
  std::string path;
  std::string records;
};

// The optional [cdc] table of a source file: change data capture (docs/cdc.md). Each reader
// uses the keys it needs; every key is also kept as text in `options` (generic access).
struct CdcConfig {
  bool enabled = false;                // `sluice up` streams this source
  std::string slot;                    // PostgreSQL replication slot; empty: sluice_<source>
  std::string publication;             // PostgreSQL publication; empty: sluice_<source>
  int64_t server_id = 0;               // MariaDB/MySQL replica server id; 0: the reader picks one
  int64_t heartbeat_ms = 10000;        // idle feedback / heartbeat period
  int64_t max_retained_wal_mb = 1024;  // retained WAL/binlog above this is an alert
  std::map<std::string, std::string> options;  // every key of [cdc], as text
};

struct SourceConfig {
  std::string name;  // from the file name: sources/<name>.toml
  SourceKind kind = SourceKind::kPostgres;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string database;
  std::string schema;  // PostgreSQL schema (default public); MariaDB: the database
  std::string user = "sluice";
  std::string password_env;  // environment variable holding the password
  int parallelism = 4;       // PostgreSQL reader connections sharing one exported snapshot
  int64_t chunk_rows = 500000;
  std::vector<TableConfig> tables;  // in file order
  CdcConfig cdc;                    // [cdc]
  // type = "files" (docs/sources.md#file-drops)
  std::string folder;        // relative paths are relative to the source file's folder
  int64_t settle_ms = 2000;  // a file is read once its size and mtime are this old
  // type = "rest" (docs/sources.md#rest-apis)
  std::string base_url;               // http://host:port[/prefix]
  std::string pagination = "offset";  // offset | cursor | link
  int64_t page_size = 100;
  std::string auth_header = "Authorization";
  std::string auth_prefix = "Bearer ";
  std::string token_env;        // environment variable holding the token
  double rate_limit_per_s = 0;  // 0: unlimited
  int64_t max_retries = 5;
  std::string cursor_field = "next_cursor";  // cursor pagination: where the next cursor is
  std::string file;                          // where it was read from, for messages
};

// Parses a source file's text; errors read "<file>:<line>:<column>: ...".
Result<SourceConfig> parse_source_config(std::string_view text, std::string_view file,
                                         std::string name);
Result<SourceConfig> load_source_config(const std::filesystem::path& file);

enum class LoadMode { kSnapshot, kIncremental };

struct IngestOptions {
  LoadMode mode = LoadMode::kSnapshot;
  std::vector<std::string> tables;  // empty: every table of the source
  int parallelism = 0;              // 0: the source's
  std::filesystem::path work_dir;   // chunk files; required
  // Test hook: fail the load of this table after this many chunks were written (crash tests).
  std::string fail_table;
  int fail_after_chunks = -1;  // files: files read; rest: pages read
};

struct TableReport {
  std::string source_table;
  std::string lake_table;
  int64_t rows = 0;         // rows committed
  int64_t bytes = 0;        // bytes read from the source (CSV)
  int64_t quarantined = 0;  // rows sent to the quarantine table
  int64_t skipped = 0;      // incremental rows already in the lake
  double seconds = 0;
  std::string watermark;  // after the load; empty without a cursor
  std::optional<int64_t> snapshot_id;
};

struct IngestReport {
  std::string source_position;  // WAL LSN / binlog file:pos of the snapshot
  std::vector<TableReport> tables;
};

Result<IngestReport> ingest(const SourceConfig& source, engine::LakeSession& lake,
                            const IngestOptions& options);

// ---------------------------------------------------------------------------------------------
// Example data (`sluice gen`).

struct Endpoint {
  std::string host;
  int port = 0;
  std::string user;
  std::string password;
  std::string database;
};

struct GenOptions {
  int scale = 1;
  uint64_t seed = 42;
  int days = 90;               // orders are spread over this many days before `anchor_epoch_s`
  int64_t anchor_epoch_s = 0;  // 0: the start of today (UTC)
  bool postgres = true;
  bool mysql = true;
};

// Row counts per table, in generation order.
using GenCounts = std::vector<std::pair<std::string, int64_t>>;

// (Re)creates the e-commerce schema in PostgreSQL (users, categories, products, orders,
// order_items, payments) and MariaDB (warehouses, suppliers, inventory) and fills it.
Result<GenCounts> gen_oltp(const Endpoint& pg, const Endpoint& mysql, const GenOptions& options);

struct ActivityOptions {
  double rate = 10;        // operations per second
  double duration_s = 10;  // 0: until stopped
  uint64_t seed = 7;
  bool postgres = true;
  bool mysql = true;
};
// Keeps inserting, updating and deleting rows (orders placed, payments settling or failing,
// orders shipped, cancelled orders purged, stock moved) at `rate`; returns counts per kind.
Result<GenCounts> gen_activity(const Endpoint& pg, const Endpoint& mysql,
                               const ActivityOptions& options);

// `sluice gen crm-api`: a small local CRM JSON API for the REST source's demo and tests
// (docs/sources.md#the-demo-crm-api). GET /customers and /interactions page with ?offset&limit,
// ?cursor&limit or the Link header (every answer carries all three: the body's `next_cursor` and
// `next_offset`, and Link rel="next"); ?updated_since filters on updated_at. A bearer token is
// required; `fail_rate` of the requests answer 429 or 503 (retry tests). GET /_stats counts.
struct CrmApiOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int customers = 200;  // interactions: 3 per customer
  uint64_t seed = 42;
  double fail_rate = 0;
  std::string token;    // required bearer token
  int api_version = 1;  // 2 adds a `segment` field to customers (schema evolution)
};
class CrmApi {
 public:
  virtual ~CrmApi() = default;
  virtual uint16_t port() const = 0;
  virtual void run_until_signal() = 0;
  virtual void stop() = 0;
};
Result<std::unique_ptr<CrmApi>> start_crm_api(const CrmApiOptions& options);

}  // namespace sluice::sources

// pgoutput (protocol version 2, streaming on) over a libpq replication connection. See
// pg_reader.h.
#include "cdc/pg_reader.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cdc/backfill.h"
#include "common/log.h"
#include "sources/db_client.h"
#include "sources/sources_internal.h"

namespace sluice::cdc {

namespace sd = sources::detail;

namespace {

constexpr int64_t kPgEpochUnixUs = 946684800LL * 1000000LL;  // 2000-01-01 in Unix µs

int64_t now_pg_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count() -
         kPgEpochUnixUs;
}

std::string conn_error(PGconn* c) {
  std::string m = c ? PQerrorMessage(c) : "out of memory";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
    m.pop_back();
  return m;
}

// Big-endian readers over one message.
struct Buf {
  const char* p;
  const char* end;
  bool ok = true;
  bool need(size_t n) {
    if (static_cast<size_t>(end - p) < n) ok = false;
    return ok;
  }
  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(*p++);
  }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v =
        static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
    p += 2;
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v = (v << 8) | static_cast<uint8_t>(p[i]);
    p += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | static_cast<uint8_t>(p[i]);
    p += 8;
    return v;
  }
  std::string str() {
    const char* z = static_cast<const char*>(std::memchr(p, 0, static_cast<size_t>(end - p)));
    if (z == nullptr) {
      ok = false;
      return {};
    }
    std::string s(p, z);
    p = z + 1;
    return s;
  }
  std::string bytes(size_t n) {
    if (!need(n)) return {};
    std::string s(p, n);
    p += n;
    return s;
  }
};

void put64(char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

ValueKind kind_of(uint32_t oid) {
  switch (oid) {
    case 16:
      return ValueKind::kBool;
    case 21:
      return ValueKind::kInt16;
    case 23:
      return ValueKind::kInt32;
    case 20:
    case 26:
      return ValueKind::kInt64;
    case 700:
      return ValueKind::kFloat32;
    case 701:
      return ValueKind::kFloat64;
    case 1700:
      return ValueKind::kDecimal;
    case 25:
    case 1043:
    case 1042:
    case 19:
    case 18:
      return ValueKind::kString;
    case 1082:
      return ValueKind::kDate;
    case 1083:
      return ValueKind::kTime;
    case 1114:
      return ValueKind::kTimestamp;
    case 1184:
      return ValueKind::kTimestampTz;
    case 2950:
      return ValueKind::kUuid;
    case 114:
    case 3802:
      return ValueKind::kJson;
    case 17:
      return ValueKind::kBytes;
    default:
      return ValueKind::kOther;
  }
}

Column make_column(std::string name, uint32_t oid, int32_t typmod, std::string source_type) {
  Column c;
  c.name = std::move(name);
  c.kind = kind_of(oid);
  c.source_type = std::move(source_type);
  if (c.kind == ValueKind::kDecimal && typmod >= 4) {
    c.precision = ((typmod - 4) >> 16) & 0xffff;
    c.scale = (typmod - 4) & 0xffff;
  }
  return c;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The server's text output of a value -> the form ValueKind documents.
std::string normalize(ValueKind k, std::string s) {
  if (k == ValueKind::kBool) return s == "t" ? "true" : (s == "f" ? "false" : s);
  if (k == ValueKind::kBytes && s.size() >= 2 && s[0] == '\\' && s[1] == 'x') {
    std::string out;
    out.reserve((s.size() - 2) / 2);
    for (size_t i = 2; i + 1 < s.size(); i += 2) {
      out.push_back(static_cast<char>(hexval(s[i]) * 16 + hexval(s[i + 1])));
    }
    return out;
  }
  return s;
}

// COPY text format: one row, fields separated by tabs, \N is NULL, backslash escapes.
std::vector<Value> parse_copy_row(std::string_view line) {
  std::vector<Value> out;
  std::string cur;
  bool null_field = false;
  size_t i = 0;
  auto finish = [&]() {
    if (null_field) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(std::move(cur));
    }
    cur.clear();
    null_field = false;
  };
  while (i < line.size()) {
    char c = line[i];
    if (c == '\t') {
      finish();
      ++i;
      continue;
    }
    if (c == '\n') break;
    if (c != '\\' || i + 1 >= line.size()) {
      cur.push_back(c);
      ++i;
      continue;
    }
    char e = line[i + 1];
    i += 2;
    switch (e) {
      case 'N':
        null_field = true;
        break;
      case 'b':
        cur.push_back('\b');
        break;
      case 'f':
        cur.push_back('\f');
        break;
      case 'n':
        cur.push_back('\n');
        break;
      case 'r':
        cur.push_back('\r');
        break;
      case 't':
        cur.push_back('\t');
        break;
      case 'v':
        cur.push_back('\v');
        break;
      case 'x': {
        int v = 0, n = 0;
        while (n < 2 && i < line.size() && hexval(line[i]) >= 0) {
          v = v * 16 + hexval(line[i++]);
          ++n;
        }
        cur.push_back(static_cast<char>(v));
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', n = 1;
          while (n < 3 && i < line.size() && line[i] >= '0' && line[i] <= '7') {
            v = v * 8 + (line[i++] - '0');
            ++n;
          }
          cur.push_back(static_cast<char>(v));
        } else {
          cur.push_back(e);
        }
    }
  }
  finish();
  return out;
}

std::string sanitize(std::string_view s) {
  std::string out;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      out.push_back(c);
    } else if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back('_');
    }
  }
  return out;
}

Result<std::string> password_of(const sources::SourceConfig& s) {
  const char* pw = std::getenv(s.password_env.c_str());
  if (pw == nullptr) {
    return invalid_argument(fmt::format(
        "source {}: the password environment variable {} is not set (named by password_env in {})",
        s.name, s.password_env, s.file));
  }
  return std::string(pw);
}

Result<sd::PgConn> sql_connect(const sources::SourceConfig& s) {
  SLUICE_ASSIGN_OR_RETURN(auto pw, password_of(s));
  sources::Endpoint ep{s.host, s.port, s.user, pw, s.database};
  auto c = sd::PgConn::connect(ep, "sluice-cdc");
  if (!c.is_ok()) return c.status().with_context("source " + s.name);
  return c;
}

class PgReader final : public ChangeReader {
 public:
  PgReader(sources::SourceConfig source, PgReaderOptions options, sd::PgConn sql)
      : source_(std::move(source)), options_(options), sql_(std::move(sql)) {
    for (const auto& t : source_.tables)
      configured_.insert(t.name);
  }
  ~PgReader() override {
    if (repl_) PQfinish(repl_);
    for (auto& [xid, st] : streams_) {
      if (st.file) std::fclose(st.file);
      std::error_code ec;
      if (!st.path.empty()) std::filesystem::remove(st.path, ec);
    }
  }

  Status open(const Position& resume);
  Result<std::optional<Transaction>> next(std::chrono::milliseconds wait) override;
  Status confirm(const Position& position) override {
    if (position.major > confirmed_ && !position.resume.empty() && position.major >= 1) {
      confirmed_ = position.major;
    }
    return Status::ok();
  }
  uint64_t caught_up() const override { return caught_up_; }
  Result<BackfillChunk> read_chunk(const ChunkRequest& request) override;

 private:
  Status error(const std::string& what) const {
    return unavailable(fmt::format("source {}: {}", source_.name, what));
  }
  Status connect_replication();
  Result<std::vector<std::string>> repl_command(const std::string& sql);
  Status check_publication();
  Result<std::shared_ptr<TableSchema>> catalog_schema(const std::string& table);
  Result<std::vector<std::string>> catalog_keys(const std::string& table);
  Status start_copy();
  Result<std::optional<Transaction>> next_snapshot_chunk();
  Status start_streaming(uint64_t lsn);
  Status send_status(bool reply_requested);
  Result<std::optional<Transaction>> handle_xlog(Buf b);
  Result<std::optional<Transaction>> finish_commit(uint64_t end, int64_t ts);
  // Streamed in-progress transactions (protocol version 2, see StreamTxn).
  Result<std::optional<Transaction>> handle_stream(char tag, Buf b);
  Status stream_append(uint32_t subxid, char tag, const Buf& rest);
  Status spill(uint32_t xid);
  Result<std::optional<Transaction>> stream_commit(uint32_t xid, uint64_t end, int64_t ts);
  void stream_drop(uint32_t xid);
  Status decode_relation(Buf& b);
  std::string watermark_prefix() const { return "sluice.backfill." + slot_name(source_); }
  Result<Row> decode_tuple(Buf& b, const TableSchema& schema, std::vector<size_t>* unchanged);

  sources::SourceConfig source_;
  PgReaderOptions options_;
  sd::PgConn sql_;
  PGconn* repl_ = nullptr;
  std::unordered_set<std::string> configured_;

  // Bootstrap.
  bool snapshotting_ = false;
  uint64_t snapshot_lsn_ = 0;
  size_t snapshot_table_ = 0;
  bool in_copy_ = false;
  std::shared_ptr<TableSchema> copy_schema_;
  uint64_t snapshot_rows_ = 0;

  // Streaming.
  bool streaming_ = false;
  struct Rel {
    std::shared_ptr<TableSchema> schema;
    bool configured = false;
  };
  std::unordered_map<uint32_t, Rel> rels_;
  std::unordered_map<std::string, std::shared_ptr<TableSchema>> last_schema_;  // by table
  std::optional<Transaction> txn_;
  uint64_t received_ = 0;   // highest WAL end seen
  uint64_t idle_end_ = 0;   // server WAL end while no transaction was open
  uint64_t returned_ = 0;   // highest commit position handed out
  uint64_t confirmed_ = 0;  // highest position confirmed by the pipeline
  uint64_t sent_flush_ = 0;
  std::chrono::steady_clock::time_point last_status_{};

  // Backfill watermarks: every commit and watermark message seen moves caught_up_.
  uint64_t caught_up_ = 0;
  std::map<std::string, uint64_t> watermarks_;  // message content -> its LSN (from the emit)
  std::deque<uint32_t> recent_xids_;            // of the transactions handed out last
  uint64_t chunk_seq_ = 0;

  // A transaction PostgreSQL streams while it is in progress (it outgrew the server's
  // logical_decoding_work_mem): between Stream Start and Stream Stop each message carries the xid
  // of the (sub)transaction that made it. Its messages are kept as records (subxid, the message
  // in protocol version 1 form: the tag then the fields after the xid) in arrival order, in memory
  // while every stream's memory together stays within stream_memory_limit_, else appended to a
  // spill file under <state_dir>/pg_stream (the oldest records are in the file, the newest in
  // `mem`). Stream Commit replays the records through the Begin..Commit decoder, skipping data
  // changes of aborted subtransactions; Stream Abort of the whole transaction drops it.
  struct StreamTxn {
    std::string mem;
    std::FILE* file = nullptr;
    std::filesystem::path path;
    uint64_t records = 0;
    uint64_t chunks = 0;
    uint64_t spilled_bytes = 0;
    std::unordered_set<uint32_t> aborted;  // subtransactions rolled back
  };
  std::map<uint32_t, StreamTxn> streams_;  // by top-level xid
  bool in_stream_ = false;
  uint32_t stream_xid_ = 0;  // of the open stream chunk
  uint64_t stream_memory_ = 0;
  uint64_t stream_memory_limit_ = 64ull << 20;
  std::filesystem::path spill_dir_;
};

Status PgReader::connect_replication() {
  SLUICE_ASSIGN_OR_RETURN(auto pw, password_of(source_));
  std::string port = std::to_string(source_.port);
  const char* keys[] = {"host",
                        "port",
                        "user",
                        "password",
                        "dbname",
                        "replication",
                        "options",
                        "application_name",
                        "connect_timeout",
                        nullptr};
  const char* vals[] = {source_.host.c_str(),
                        port.c_str(),
                        source_.user.c_str(),
                        pw.c_str(),
                        source_.database.c_str(),
                        "database",
                        "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3 "
                        "-c bytea_output=hex -c IntervalStyle=iso_8601",
                        "sluice-cdc",
                        "10",
                        nullptr};
  repl_ = PQconnectdbParams(keys, vals, 0);
  if (repl_ == nullptr || PQstatus(repl_) != CONNECTION_OK) {
    std::string m = conn_error(repl_);
    std::string hint;
    if (m.find("replication") != std::string::npos) {
      hint = fmt::format(
          " (the account needs the REPLICATION attribute: ALTER ROLE {} REPLICATION, and "
          "pg_hba.conf must allow it; scripts/pg.sh sets both)",
          source_.user);
    }
    return error(
        fmt::format("cannot open a replication connection to {}:{} database {} as {}: "
                    "{}{}",
                    source_.host, source_.port, source_.database, source_.user, m, hint));
  }
  return Status::ok();
}

Result<std::vector<std::string>> PgReader::repl_command(const std::string& sql) {
  PGresult* r = PQexec(repl_, sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string m = conn_error(repl_);
    PQclear(r);
    return error(fmt::format("{} failed: {}", sql, m));
  }
  std::vector<std::string> row;
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
    for (int i = 0; i < PQnfields(r); ++i) {
      row.emplace_back(PQgetisnull(r, 0, i) ? "" : PQgetvalue(r, 0, i));
    }
  }
  PQclear(r);
  return row;
}

Status PgReader::check_publication() {
  const std::string pub = publication_name(source_);
  SLUICE_ASSIGN_OR_RETURN(auto rows, sql_.query("SELECT 1 FROM pg_publication WHERE pubname = " +
                                                sd::sql_literal(pub)));
  std::string tables;
  for (const auto& t : source_.tables) {
    if (!tables.empty()) tables += ", ";
    tables += sd::pg_ident(source_.schema) + "." + sd::pg_ident(t.name);
  }
  if (rows.empty()) {
    Status st = sql_.exec("CREATE PUBLICATION " + sd::pg_ident(pub) + " FOR TABLE " + tables);
    if (!st.is_ok()) {
      return permission_denied(fmt::format(
          "source {}: publication '{}' does not exist and {} cannot create it ({}); as the "
          "tables' owner or a superuser run: CREATE PUBLICATION {} FOR TABLE {}",
          source_.name, pub, source_.user, st.message(), pub, tables));
    }
    log::info("cdc publication created",
              {log::kv("source", source_.name), log::kv("publication", pub)});
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto published,
      sql_.query("SELECT tablename FROM pg_publication_tables WHERE pubname = " +
                 sd::sql_literal(pub) + " AND schemaname = " + sd::sql_literal(source_.schema)));
  std::unordered_set<std::string> have;
  for (const auto& r : published)
    if (r[0]) have.insert(*r[0]);
  for (const auto& t : source_.tables) {
    if (!have.count(t.name)) {
      return not_found(fmt::format(
          "source {}: table {}.{} is not in publication '{}'; as its owner or a superuser run: "
          "ALTER PUBLICATION {} ADD TABLE {}.{}",
          source_.name, source_.schema, t.name, pub, pub, sd::pg_ident(source_.schema),
          sd::pg_ident(t.name)));
    }
  }
  return Status::ok();
}

Result<std::vector<std::string>> PgReader::catalog_keys(const std::string& table) {
  SLUICE_ASSIGN_OR_RETURN(
      auto rows,
      sql_.query(fmt::format(
          "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = "
          "c.oid AND a.attnum = ANY(i.indkey) WHERE i.indisprimary AND n.nspname = {} AND "
          "c.relname = {} ORDER BY array_position(i.indkey, a.attnum)",
          sd::sql_literal(source_.schema), sd::sql_literal(table))));
  std::vector<std::string> keys;
  for (const auto& r : rows)
    keys.push_back(r[0].value_or(""));
  for (const auto& t : source_.tables) {
    if (t.name == table && !t.key.empty()) keys = t.key;
  }
  return keys;
}

Result<std::shared_ptr<TableSchema>> PgReader::catalog_schema(const std::string& table) {
  SLUICE_ASSIGN_OR_RETURN(
      auto rows,
      sql_.query(fmt::format(
          "SELECT a.attname, a.atttypid::int8, a.atttypmod, format_type(a.atttypid, "
          "a.atttypmod), a.attnotnull FROM pg_attribute a JOIN pg_class c ON c.oid = "
          "a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {} AND "
          "c.relname = {} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
          sd::sql_literal(source_.schema), sd::sql_literal(table))));
  if (rows.empty()) {
    return not_found(fmt::format("source {}: table {}.{} not found in database {}", source_.name,
                                 source_.schema, table, source_.database));
  }
  SLUICE_ASSIGN_OR_RETURN(auto keys, catalog_keys(table));
  auto s = std::make_shared<TableSchema>();
  s->database = source_.database;
  s->schema = source_.schema;
  s->table = table;
  for (const auto& r : rows) {
    Column c =
        make_column(*r[0], static_cast<uint32_t>(std::stoll(*r[1])), std::stoi(*r[2]), *r[3]);
    c.nullable = *r[4] != "t";
    c.key = std::find(keys.begin(), keys.end(), c.name) != keys.end();
    s->columns.push_back(std::move(c));
  }
  return s;
}

Status PgReader::open(const Position& resume) {
  if (auto it = source_.cdc.options.find("stream_memory_mb"); it != source_.cdc.options.end()) {
    char* end = nullptr;
    long long mb = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || mb < 0 || mb > (1LL << 30)) {
      return invalid_argument(fmt::format(
          "source {}: key 'stream_memory_mb' in [cdc] of {} expects an integer from 0 to {} "
          "(megabytes of streamed in-progress transactions kept in memory), got '{}'",
          source_.name, source_.file, 1LL << 30, it->second));
    }
    stream_memory_limit_ = static_cast<uint64_t>(mb) << 20;
  }
  if (auto it = source_.cdc.options.find("state_dir"); it != source_.cdc.options.end()) {
    spill_dir_ = std::filesystem::path(it->second) / "pg_stream";
  } else {
    spill_dir_ = std::filesystem::temp_directory_path() / ("sluice-pg-stream-" + source_.name);
  }
  {
    // Spill files of an earlier run are useless: the server streams those transactions again
    // from their start (one stream per source runs at a time, under the pid file's lock).
    std::error_code ec;
    std::filesystem::remove_all(spill_dir_, ec);
  }
  SLUICE_RETURN_IF_ERROR(check_publication());
  const std::string slot = slot_name(source_);
  SLUICE_ASSIGN_OR_RETURN(
      auto slots,
      sql_.query("SELECT plugin, database, confirmed_flush_lsn::text FROM pg_replication_slots "
                 "WHERE slot_name = " +
                 sd::sql_literal(slot)));
  SLUICE_RETURN_IF_ERROR(connect_replication());
  if (!resume.resume.empty()) {
    if (slots.empty()) {
      return not_found(fmt::format(
          "source {}: replication slot '{}' does not exist (it was dropped), so the changes after "
          "position {} are gone; run `sluice cdc reset {}` and start again to bootstrap anew",
          source_.name, slot, resume.resume, source_.name));
    }
    SLUICE_ASSIGN_OR_RETURN(uint64_t lsn, parse_lsn(resume.resume));
    log::info("cdc resuming", {log::kv("source", source_.name), log::kv("slot", slot),
                               log::kv("position", resume.resume)});
    return start_streaming(lsn);
  }
  if (!slots.empty()) {
    log::warn("cdc bootstrap drops the existing slot",
              {log::kv("source", source_.name), log::kv("slot", slot)});
    SLUICE_RETURN_IF_ERROR(
        repl_command("DROP_REPLICATION_SLOT " + sd::pg_ident(slot) + " WAIT").status());
  }
  auto created = repl_command("CREATE_REPLICATION_SLOT " + sd::pg_ident(slot) +
                              " LOGICAL pgoutput EXPORT_SNAPSHOT");
  if (!created.is_ok()) {
    return conflict(
        fmt::format("{}; check max_replication_slots and wal_level = logical "
                    "on the server",
                    created.status().message()));
  }
  if (created->size() < 3) return error("CREATE_REPLICATION_SLOT returned no snapshot");
  SLUICE_ASSIGN_OR_RETURN(snapshot_lsn_, parse_lsn((*created)[1]));
  const std::string snapshot_name = (*created)[2];
  SLUICE_RETURN_IF_ERROR(sql_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  SLUICE_RETURN_IF_ERROR(sql_.exec("SET TRANSACTION SNAPSHOT " + sd::sql_literal(snapshot_name)));
  log::info("cdc bootstrap", {log::kv("source", source_.name), log::kv("slot", slot),
                              log::kv("position", format_lsn(snapshot_lsn_)),
                              log::kv("tables", source_.tables.size())});
  snapshotting_ = true;
  snapshot_table_ = 0;
  return Status::ok();
}

Status PgReader::start_copy() {
  const auto& t = source_.tables[snapshot_table_];
  SLUICE_ASSIGN_OR_RETURN(copy_schema_, catalog_schema(t.name));
  last_schema_[t.name] = copy_schema_;
  std::string cols;
  for (const auto& c : copy_schema_->columns) {
    if (!cols.empty()) cols += ", ";
    cols += sd::pg_ident(c.name);
  }
  std::string sql = fmt::format("COPY {}.{} ({}) TO STDOUT", sd::pg_ident(source_.schema),
                                sd::pg_ident(t.name), cols);
  PGresult* r = PQexec(sql_.native(), sql.c_str());
  if (PQresultStatus(r) != PGRES_COPY_OUT) {
    std::string m = conn_error(sql_.native());
    PQclear(r);
    return error(fmt::format("snapshot copy of {}.{} failed: {}", source_.schema, t.name, m));
  }
  PQclear(r);
  in_copy_ = true;
  return Status::ok();
}

Result<std::optional<Transaction>> PgReader::next_snapshot_chunk() {
  Transaction txn;
  txn.position.major = snapshot_lsn_;
  txn.position.resume = format_lsn(snapshot_lsn_);
  txn.commit_ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  while (snapshot_table_ < source_.tables.size()) {
    if (!in_copy_) SLUICE_RETURN_IF_ERROR(start_copy());
    while (static_cast<int64_t>(txn.events.size()) < options_.snapshot_chunk_rows) {
      char* buf = nullptr;
      int n = PQgetCopyData(sql_.native(), &buf, 0);
      if (n == -1) {
        PGresult* r = PQgetResult(sql_.native());
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        while ((r = PQgetResult(sql_.native())) != nullptr)
          PQclear(r);
        if (!ok) return error("snapshot copy failed: " + conn_error(sql_.native()));
        in_copy_ = false;
        ++snapshot_table_;
        break;
      }
      if (n < 0) return error("snapshot copy failed: " + conn_error(sql_.native()));
      auto vals = parse_copy_row(std::string_view(buf, static_cast<size_t>(n)));
      PQfreemem(buf);
      if (vals.size() != copy_schema_->columns.size()) {
        return error(fmt::format("snapshot copy of {}: a row has {} values for {} columns",
                                 copy_schema_->table, vals.size(), copy_schema_->columns.size()));
      }
      for (size_t i = 0; i < vals.size(); ++i) {
        if (vals[i]) vals[i] = normalize(copy_schema_->columns[i].kind, std::move(*vals[i]));
      }
      ChangeEvent e;
      e.op = Op::kRead;
      e.schema = copy_schema_;
      e.after = Row{std::move(vals)};
      e.snapshot = true;
      e.position.major = snapshot_lsn_;
      e.position.minor = ++snapshot_rows_;
      e.position.resume = txn.position.resume;
      txn.events.push_back(std::move(e));
    }
    if (static_cast<int64_t>(txn.events.size()) >= options_.snapshot_chunk_rows) break;
  }
  if (snapshot_table_ >= source_.tables.size() && !in_copy_) {
    SLUICE_RETURN_IF_ERROR(sql_.exec("COMMIT"));
    snapshotting_ = false;
    log::info("cdc bootstrap copied",
              {log::kv("source", source_.name), log::kv("rows", snapshot_rows_)});
    SLUICE_RETURN_IF_ERROR(start_streaming(snapshot_lsn_));
  }
  if (!snapshotting_) {
    txn.snapshot_complete = true;
  } else if (txn.events.empty()) {
    return std::optional<Transaction>();
  }
  txn.position.minor = txn.events.empty() ? snapshot_rows_ : txn.events.back().position.minor;
  return std::optional<Transaction>(std::move(txn));
}

Status PgReader::start_streaming(uint64_t lsn) {
  const std::string sql = fmt::format(
      "START_REPLICATION SLOT {} LOGICAL {} (proto_version '2', streaming 'on', publication_names "
      "{}, messages 'true')",
      sd::pg_ident(slot_name(source_)), format_lsn(lsn),
      sd::sql_literal(sd::pg_ident(publication_name(source_))));
  PGresult* r = PQexec(repl_, sql.c_str());
  if (PQresultStatus(r) != PGRES_COPY_BOTH) {
    std::string m = conn_error(repl_);
    PQclear(r);
    return error(fmt::format("START_REPLICATION failed: {}", m));
  }
  PQclear(r);
  streaming_ = true;
  confirmed_ = std::max(confirmed_, lsn);
  received_ = std::max(received_, lsn);
  return Status::ok();
}

Status PgReader::send_status(bool reply_requested) {
  uint64_t flush = confirmed_;
  // Idle WAL is confirmed only while nothing is open: no transaction being decoded, no streamed
  // transaction waiting for its commit, everything handed out durable.
  if (!txn_ && streams_.empty() && confirmed_ >= returned_) flush = std::max(flush, idle_end_);
  char msg[34];
  msg[0] = 'r';
  put64(msg + 1, std::max(received_, flush));
  put64(msg + 9, flush);
  put64(msg + 17, flush);
  put64(msg + 25, static_cast<uint64_t>(now_pg_us()));
  msg[33] = reply_requested ? 1 : 0;
  if (PQputCopyData(repl_, msg, sizeof msg) <= 0 || PQflush(repl_) != 0) {
    return error("cannot send feedback to the server: " + conn_error(repl_));
  }
  sent_flush_ = flush;
  last_status_ = std::chrono::steady_clock::now();
  return Status::ok();
}

Status PgReader::decode_relation(Buf& b) {
  uint32_t oid = b.u32();
  std::string nsp = b.str();
  std::string name = b.str();
  b.u8();  // replica identity
  uint16_t ncols = b.u16();
  auto s = std::make_shared<TableSchema>();
  s->database = source_.database;
  s->schema = nsp;
  s->table = name;
  bool configured = nsp == source_.schema && configured_.count(name) > 0;
  std::vector<std::string> keys;
  if (configured) {
    SLUICE_ASSIGN_OR_RETURN(keys, catalog_keys(name));
  }
  std::vector<bool> flagged;
  for (uint16_t i = 0; i < ncols && b.ok; ++i) {
    uint8_t flags = b.u8();
    std::string col = b.str();
    uint32_t type = b.u32();
    int32_t typmod = static_cast<int32_t>(b.u32());
    std::string source_type;
    if (configured) {
      SLUICE_ASSIGN_OR_RETURN(auto t,
                              sql_.query(fmt::format("SELECT format_type({}, {})", type, typmod)));
      source_type = t.empty() ? "" : t[0][0].value_or("");
    }
    Column c = make_column(col, type, typmod, source_type);
    flagged.push_back(flags & 1);
    c.key = std::find(keys.begin(), keys.end(), c.name) != keys.end();
    s->columns.push_back(std::move(c));
  }
  if (!b.ok) return error("malformed Relation message");
  if (keys.empty()) {
    for (size_t i = 0; i < s->columns.size(); ++i)
      s->columns[i].key = flagged[i];
  }
  if (configured) {
    auto prev = last_schema_.find(name);
    if (prev != last_schema_.end()) {
      const auto& p = *prev->second;
      bool same = p.columns.size() == s->columns.size();
      for (size_t i = 0; same && i < p.columns.size(); ++i) {
        same = p.columns[i].name == s->columns[i].name &&
               p.columns[i].source_type == s->columns[i].source_type &&
               p.columns[i].key == s->columns[i].key;
      }
      if (same) {
        s = prev->second;
      } else {
        s->version = p.version + 1;
        log::info("cdc schema change", {log::kv("source", source_.name), log::kv("table", name),
                                        log::kv("version", s->version)});
      }
    }
    last_schema_[name] = s;
  }
  rels_[oid] = Rel{s, configured};
  return Status::ok();
}

Result<Row> PgReader::decode_tuple(Buf& b, const TableSchema& schema,
                                   std::vector<size_t>* unchanged) {
  uint16_t n = b.u16();
  if (n != schema.columns.size()) {
    return error(fmt::format("a tuple of {} has {} columns; its Relation message had {}",
                             schema.table, n, schema.columns.size()));
  }
  Row row;
  row.values.resize(n);
  for (uint16_t i = 0; i < n && b.ok; ++i) {
    char kind = static_cast<char>(b.u8());
    if (kind == 'n') continue;
    if (kind == 'u') {
      if (unchanged) unchanged->push_back(i);
      continue;
    }
    uint32_t len = b.u32();
    std::string v = b.bytes(len);
    row.values[i] = normalize(schema.columns[i].kind, std::move(v));
  }
  if (!b.ok) return error("malformed tuple data");
  return row;
}

Result<std::optional<Transaction>> PgReader::finish_commit(uint64_t end, int64_t ts) {
  Transaction t = std::move(*txn_);
  txn_.reset();
  t.commit_ts_ms = (ts + kPgEpochUnixUs) / 1000;
  t.position.major = end;
  t.position.resume = format_lsn(end);
  t.position.minor = t.events.size();
  for (auto& e : t.events) {
    e.position.major = end;
    e.position.resume = t.position.resume;
  }
  caught_up_ = std::max(caught_up_, end);
  if (t.events.empty()) {
    // Nothing of ours: like idle WAL, confirmed once everything handed out is.
    idle_end_ = std::max(idle_end_, end);
    return std::optional<Transaction>();
  }
  returned_ = std::max(returned_, end);
  recent_xids_.push_back(static_cast<uint32_t>(std::strtoul(t.txid.c_str(), nullptr, 10)));
  if (recent_xids_.size() > 4096) recent_xids_.pop_front();
  return std::optional<Transaction>(std::move(t));
}

Status PgReader::stream_append(uint32_t subxid, char tag, const Buf& rest) {
  auto& st = streams_[stream_xid_];
  const auto len = static_cast<uint32_t>(1 + (rest.end - rest.p));
  char head[8];
  std::memcpy(head, &len, 4);
  std::memcpy(head + 4, &subxid, 4);
  const size_t before = st.mem.size();
  st.mem.append(head, sizeof head);
  st.mem.push_back(tag);
  st.mem.append(rest.p, static_cast<size_t>(rest.end - rest.p));
  stream_memory_ += st.mem.size() - before;
  ++st.records;
  // Over the bound: move the largest in-memory buffers to their spill files.
  while (stream_memory_ > stream_memory_limit_) {
    uint32_t largest = 0;
    size_t most = 0;
    for (const auto& [xid, s] : streams_) {
      if (s.mem.size() > most) {
        most = s.mem.size();
        largest = xid;
      }
    }
    if (most == 0) break;
    SLUICE_RETURN_IF_ERROR(spill(largest));
  }
  return Status::ok();
}

Status PgReader::spill(uint32_t xid) {
  auto& st = streams_[xid];
  if (st.file == nullptr) {
    std::error_code ec;
    std::filesystem::create_directories(spill_dir_, ec);
    st.path = spill_dir_ / fmt::format("{}-{}.spill", ::getpid(), xid);
    st.file = std::fopen(st.path.c_str(), "w+b");
    if (st.file == nullptr) {
      return io_error(
          fmt::format("source {}: cannot create the spill file {} of streamed "
                      "transaction {}: {}",
                      source_.name, st.path.string(), xid, std::strerror(errno)));
    }
  }
  if (std::fwrite(st.mem.data(), 1, st.mem.size(), st.file) != st.mem.size()) {
    return io_error(
        fmt::format("source {}: cannot write the spill file {} ({}); free disk space "
                    "or raise [cdc] stream_memory_mb",
                    source_.name, st.path.string(), std::strerror(errno)));
  }
  st.spilled_bytes += st.mem.size();
  stream_memory_ -= st.mem.size();
  if (st.mem.capacity() > (1u << 20)) {
    std::string().swap(st.mem);  // give a large buffer back
  } else {
    st.mem.clear();
  }
  return Status::ok();
}

void PgReader::stream_drop(uint32_t xid) {
  auto it = streams_.find(xid);
  if (it == streams_.end()) return;
  stream_memory_ -= it->second.mem.size();
  if (it->second.file) std::fclose(it->second.file);
  std::error_code ec;
  if (!it->second.path.empty()) std::filesystem::remove(it->second.path, ec);
  streams_.erase(it);
}

Result<std::optional<Transaction>> PgReader::stream_commit(uint32_t xid, uint64_t end, int64_t ts) {
  auto it = streams_.find(xid);
  if (it == streams_.end()) {
    return error(
        fmt::format("Stream Commit of transaction {} whose Stream Start was never received", xid));
  }
  StreamTxn& st = it->second;
  txn_.emplace();
  txn_->txid = std::to_string(xid);
  // Replays one record (see StreamTxn) through the Begin..Commit decoder.
  auto replay = [&](const char* p, size_t n, uint32_t subxid) -> Status {
    const char tag = n > 0 ? p[0] : '\0';
    const bool data = tag == 'I' || tag == 'U' || tag == 'D' || tag == 'T' || tag == 'M';
    if (data && st.aborted.count(subxid)) return Status::ok();
    auto r = handle_xlog(Buf{p, p + n});
    if (!r.is_ok()) return r.status();
    return Status::ok();
  };
  Status bad = Status::ok();
  if (st.file != nullptr) {
    if (std::fflush(st.file) != 0) {
      bad =
          io_error(fmt::format("source {}: cannot write the spill file {} ({}); free disk "
                               "space or raise [cdc] stream_memory_mb",
                               source_.name, st.path.string(), std::strerror(errno)));
    }
    std::rewind(st.file);
    std::string rec;
    while (bad.is_ok()) {
      char head[8];
      size_t got = std::fread(head, 1, sizeof head, st.file);
      if (got == 0) {
        if (std::ferror(st.file)) {
          bad = io_error(fmt::format("source {}: cannot read the spill file {}", source_.name,
                                     st.path.string()));
        }
        break;
      }
      uint32_t len = 0, subxid = 0;
      std::memcpy(&len, head, 4);
      std::memcpy(&subxid, head + 4, 4);
      rec.resize(len);
      if (got != sizeof head || std::fread(rec.data(), 1, len, st.file) != len) {
        bad = io_error(fmt::format("source {}: the spill file {} is truncated", source_.name,
                                   st.path.string()));
        break;
      }
      bad = replay(rec.data(), rec.size(), subxid);
    }
  }
  for (size_t off = 0; bad.is_ok() && off + 8 <= st.mem.size();) {
    uint32_t len = 0, subxid = 0;
    std::memcpy(&len, st.mem.data() + off, 4);
    std::memcpy(&subxid, st.mem.data() + off + 4, 4);
    bad = replay(st.mem.data() + off + 8, len, subxid);
    off += 8 + len;
  }
  const uint64_t records = st.records, chunks = st.chunks, spilled = st.spilled_bytes;
  stream_drop(xid);
  if (!bad.is_ok()) {
    txn_.reset();
    return bad;
  }
  log::info("cdc streamed transaction committed",
            {log::kv("source", source_.name), log::kv("xid", static_cast<int64_t>(xid)),
             log::kv("chunks", static_cast<int64_t>(chunks)),
             log::kv("messages", static_cast<int64_t>(records)),
             log::kv("changes", static_cast<int64_t>(txn_->events.size())),
             log::kv("spilled_bytes", static_cast<int64_t>(spilled))});
  return finish_commit(end, ts);
}

Result<std::optional<Transaction>> PgReader::handle_stream(char tag, Buf b) {
  switch (tag) {
    case 'S': {
      uint32_t xid = b.u32();
      bool first = b.u8() == 1;
      if (!b.ok) return error("malformed Stream Start message");
      if (in_stream_ || txn_) return error("Stream Start inside a transaction or stream");
      if (first) {
        stream_drop(xid);  // a first segment starts the transaction afresh
      } else if (!streams_.count(xid)) {
        return error(
            fmt::format("a stream chunk of transaction {} arrived without its first segment", xid));
      }
      in_stream_ = true;
      stream_xid_ = xid;
      ++streams_[xid].chunks;
      return std::optional<Transaction>();
    }
    case 'E':
      if (!in_stream_) return error("Stream Stop without Stream Start");
      in_stream_ = false;
      return std::optional<Transaction>();
    case 'c': {
      uint32_t xid = b.u32();
      b.u8();   // flags
      b.u64();  // commit LSN
      uint64_t end = b.u64();
      int64_t ts = static_cast<int64_t>(b.u64());
      if (!b.ok) return error("malformed Stream Commit message");
      if (in_stream_ || txn_) return error("Stream Commit inside a transaction or stream");
      return stream_commit(xid, end, ts);
    }
    default: {  // 'A'
      uint32_t xid = b.u32();
      uint32_t subxid = b.u32();
      if (!b.ok) return error("malformed Stream Abort message");
      if (subxid == xid) {
        stream_drop(xid);
      } else if (auto it = streams_.find(xid); it != streams_.end()) {
        it->second.aborted.insert(subxid);
      }
      return std::optional<Transaction>();
    }
  }
}

Result<std::optional<Transaction>> PgReader::handle_xlog(Buf b) {
  char tag = static_cast<char>(b.u8());
  if (in_stream_ && (tag == 'R' || tag == 'Y' || tag == 'I' || tag == 'U' || tag == 'D' ||
                     tag == 'T' || tag == 'M')) {
    // Inside a stream chunk: the (sub)transaction's xid follows the tag.
    uint32_t subxid = b.u32();
    if (!b.ok) return error(fmt::format("malformed streamed '{}' message", tag));
    if (tag == 'Y') return std::optional<Transaction>();
    if (tag == 'M' && b.p < b.end && b.p[0] == 0) {
      // A non-transactional message (a backfill watermark) is not part of the transaction.
      std::string rec(1, 'M');
      rec.append(b.p, static_cast<size_t>(b.end - b.p));
      in_stream_ = false;
      auto r = handle_xlog(Buf{rec.data(), rec.data() + rec.size()});
      in_stream_ = true;
      return r;
    }
    SLUICE_RETURN_IF_ERROR(stream_append(subxid, tag, b));
    return std::optional<Transaction>();
  }
  switch (tag) {
    case 'B': {
      b.u64();  // final LSN
      int64_t ts = static_cast<int64_t>(b.u64());
      uint32_t xid = b.u32();
      txn_.emplace();
      txn_->txid = std::to_string(xid);
      txn_->commit_ts_ms = (ts + kPgEpochUnixUs) / 1000;
      return std::optional<Transaction>();
    }
    case 'C': {
      b.u8();
      b.u64();  // commit LSN
      uint64_t end = b.u64();
      int64_t ts = static_cast<int64_t>(b.u64());
      if (!txn_) return error("Commit without Begin in the replication stream");
      return finish_commit(end, ts);
    }
    case 'S':
    case 'E':
    case 'c':
    case 'A':
      return handle_stream(tag, b);
    case 'R':
      SLUICE_RETURN_IF_ERROR(decode_relation(b));
      return std::optional<Transaction>();
    case 'M': {
      // A logical decoding message; non-transactional ones with our prefix are backfill
      // watermarks: every commit before them in the WAL has been handed out.
      uint8_t flags = b.u8();
      b.u64();
      std::string prefix = b.str();
      uint32_t n = b.u32();
      std::string content = b.bytes(n);
      if (flags == 0 && prefix == watermark_prefix()) {
        auto it = watermarks_.find(content);
        if (it != watermarks_.end()) {
          caught_up_ = std::max(caught_up_, it->second);
          watermarks_.erase(it);
        }
      }
      return std::optional<Transaction>();
    }
    case 'Y':
    case 'O':
      return std::optional<Transaction>();
    case 'I':
    case 'U':
    case 'D': {
      uint32_t oid = b.u32();
      auto it = rels_.find(oid);
      if (it == rels_.end()) return error(fmt::format("change for unknown relation {}", oid));
      if (!it->second.configured) return std::optional<Transaction>();
      if (!txn_) return error("change outside a transaction in the replication stream");
      const auto& schema = it->second.schema;
      ChangeEvent e;
      e.schema = schema;
      char sub = static_cast<char>(b.u8());
      if (tag == 'I') {
        e.op = Op::kCreate;
        SLUICE_ASSIGN_OR_RETURN(auto row, decode_tuple(b, *schema, nullptr));
        e.after = std::move(row);
      } else if (tag == 'U') {
        e.op = Op::kUpdate;
        if (sub == 'K' || sub == 'O') {
          SLUICE_ASSIGN_OR_RETURN(auto old, decode_tuple(b, *schema, nullptr));
          e.before = std::move(old);
          sub = static_cast<char>(b.u8());
        }
        if (sub != 'N') return error("malformed Update message");
        std::vector<size_t> unchanged;
        SLUICE_ASSIGN_OR_RETURN(auto row, decode_tuple(b, *schema, &unchanged));
        for (size_t i : unchanged) {
          if (e.before && e.before->values[i]) {
            row.values[i] = e.before->values[i];  // FULL identity: the old row has it
          } else {
            e.unchanged.push_back(i);
          }
        }
        e.after = std::move(row);
      } else {
        e.op = Op::kDelete;
        SLUICE_ASSIGN_OR_RETURN(auto old, decode_tuple(b, *schema, nullptr));
        e.before = std::move(old);
      }
      e.position.minor = txn_->events.size() + 1;
      txn_->events.push_back(std::move(e));
      return std::optional<Transaction>();
    }
    case 'T': {
      uint32_t n = b.u32();
      b.u8();
      if (!txn_) return error("Truncate outside a transaction in the replication stream");
      for (uint32_t i = 0; i < n && b.ok; ++i) {
        uint32_t oid = b.u32();
        auto it = rels_.find(oid);
        if (it == rels_.end() || !it->second.configured) continue;
        ChangeEvent e;
        e.op = Op::kTruncate;
        e.schema = it->second.schema;
        e.position.minor = txn_->events.size() + 1;
        txn_->events.push_back(std::move(e));
      }
      return std::optional<Transaction>();
    }
    default:
      return error(fmt::format("unsupported pgoutput message '{}'", tag));
  }
}

Result<std::optional<Transaction>> PgReader::next(std::chrono::milliseconds wait) {
  if (snapshotting_) return next_snapshot_chunk();
  if (!streaming_) return error("the reader is not streaming");
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_status_ >= std::chrono::milliseconds(options_.status_interval_ms) ||
        (confirmed_ > sent_flush_ && now - last_status_ >= std::chrono::milliseconds(100))) {
      SLUICE_RETURN_IF_ERROR(send_status(false));
    }
    char* buf = nullptr;
    int n = PQgetCopyData(repl_, &buf, 1);
    if (n == 0) {
      if (now >= deadline) return std::optional<Transaction>();
      int sock = PQsocket(repl_);
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(sock, &fds);
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
      left = std::min<std::chrono::microseconds>(left, std::chrono::milliseconds(100));
      timeval tv{static_cast<time_t>(left.count() / 1000000),
                 static_cast<suseconds_t>(left.count() % 1000000)};
      if (select(sock + 1, &fds, nullptr, nullptr, &tv) < 0 && errno != EINTR) {
        return error("select() on the replication connection failed");
      }
      if (PQconsumeInput(repl_) == 0) {
        return error("the replication connection broke: " + conn_error(repl_));
      }
      continue;
    }
    if (n == -1) {
      PGresult* r = PQgetResult(repl_);
      std::string m = conn_error(repl_);
      PQclear(r);
      return error("the server ended the replication stream: " + m);
    }
    if (n < 0) return error("the replication connection broke: " + conn_error(repl_));
    Buf b{buf, buf + n};
    char kind = static_cast<char>(b.u8());
    Result<std::optional<Transaction>> out = std::optional<Transaction>();
    if (kind == 'k') {
      uint64_t end = b.u64();
      b.u64();
      bool reply = b.u8() != 0;
      received_ = std::max(received_, end);
      if (!txn_) idle_end_ = std::max(idle_end_, end);
      PQfreemem(buf);
      SLUICE_RETURN_IF_ERROR(send_status(reply));
      continue;
    }
    if (kind == 'w') {
      b.u64();  // start
      uint64_t end = b.u64();
      b.u64();  // send time
      received_ = std::max(received_, end);
      out = handle_xlog(b);
    }
    PQfreemem(buf);
    if (!out.is_ok()) return out.status();
    if (out->has_value()) return out;
  }
}

Result<BackfillChunk> PgReader::read_chunk(const ChunkRequest& req) {
  if (!streaming_) return error("a backfill needs the stream running (bootstrap first)");
  std::shared_ptr<const TableSchema> schema;
  if (auto it = last_schema_.find(req.table); it != last_schema_.end()) {
    schema = it->second;
  } else {
    SLUICE_ASSIGN_OR_RETURN(auto s, catalog_schema(req.table));
    last_schema_[req.table] = s;
    schema = s;
  }
  std::string cols;
  for (const auto& c : schema->columns)
    cols += (cols.empty() ? "" : ", ") + sd::pg_ident(c.name);
  auto literal = [](const Column&, const std::string& v) { return sd::sql_literal(v); };
  auto ident = [](const Column& c) { return sd::pg_ident(c.name); };
  SLUICE_ASSIGN_OR_RETURN(std::string cond, chunk_condition(*schema, req, ident, literal));
  const std::string copy =
      fmt::format("COPY (SELECT {} FROM {}.{} WHERE {} ORDER BY {} LIMIT {}) TO STDOUT", cols,
                  sd::pg_ident(source_.schema), sd::pg_ident(req.table), cond,
                  key_order(*schema, ident), req.limit);
  for (int attempt = 0;; ++attempt) {
    BackfillChunk chunk;
    chunk.schema = schema;
    int64_t bytes = 0;
    SLUICE_RETURN_IF_ERROR(sql_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    // The first statement takes the snapshot; the watermark is written after it, so every
    // commit visible to the snapshot lies before the watermark in the WAL.
    auto snap = sql_.query("SELECT pg_current_snapshot()::text");
    Status bad = Status::ok();
    if (!snap.is_ok()) bad = snap.status();
    if (bad.is_ok()) {
      auto copied = sql_.copy_out(
          copy,
          [&](std::string_view line) -> Status {
            auto vals = parse_copy_row(line);
            if (vals.size() != schema->columns.size()) {
              return error(fmt::format("backfill of {}: a row has {} values for {} columns",
                                       req.table, vals.size(), schema->columns.size()));
            }
            for (size_t i = 0; i < vals.size(); ++i)
              if (vals[i]) vals[i] = normalize(schema->columns[i].kind, std::move(*vals[i]));
            chunk.rows.push_back(Row{std::move(vals)});
            return Status::ok();
          },
          &bytes);
      if (!copied.is_ok()) bad = copied.status();
    }
    const std::string id = fmt::format("{}-{}", ::getpid(), ++chunk_seq_);
    Result<std::vector<sd::Row>> mark = std::vector<sd::Row>();
    if (bad.is_ok()) {
      mark = sql_.query(fmt::format("SELECT pg_logical_emit_message(false, {}, {})::text",
                                    sd::sql_literal(watermark_prefix()), sd::sql_literal(id)));
      if (!mark.is_ok()) bad = mark.status();
    }
    Status end = sql_.exec(bad.is_ok() ? "COMMIT" : "ROLLBACK");
    if (!bad.is_ok()) {
      return bad.with_context(
          fmt::format("source {}: backfill chunk of {}", source_.name, req.table));
    }
    SLUICE_RETURN_IF_ERROR(end);
    SLUICE_ASSIGN_OR_RETURN(chunk.high, parse_lsn(mark->at(0)[0].value_or("")));
    // xmin:xmax:xip,... : a transaction is in the snapshot if it is below xmin, or below xmax
    // and not in progress. Compared modulo 2^32 like PostgreSQL's own xids.
    const std::string text = snap->at(0)[0].value_or("");
    auto c1 = text.find(':');
    auto c2 = text.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) {
      return error("unexpected pg_current_snapshot() value " + text);
    }
    auto xmin = static_cast<uint32_t>(std::strtoull(text.c_str(), nullptr, 10));
    auto xmax = static_cast<uint32_t>(std::strtoull(text.c_str() + c1 + 1, nullptr, 10));
    std::unordered_set<uint32_t> xip;
    for (size_t p = c2 + 1; p < text.size();) {
      size_t q = text.find(',', p);
      if (q == std::string::npos) q = text.size();
      xip.insert(static_cast<uint32_t>(std::strtoull(text.c_str() + p, nullptr, 10)));
      p = q + 1;
    }
    auto visible_xid = [xmin, xmax, xip](uint32_t x) {
      if (static_cast<int32_t>(x - xmin) < 0) return true;
      return static_cast<int32_t>(x - xmax) < 0 && xip.count(x) == 0;
    };
    // A transaction already handed out but not in the snapshot (its commit was decoded before it
    // became visible: a microseconds-wide race) would make the chunk older than the lake: read
    // the chunk again.
    bool race = false;
    for (uint32_t x : recent_xids_)
      race = race || !visible_xid(x);
    if (race && attempt < 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (race) return error("backfill: the snapshot keeps missing a committed transaction");
    watermarks_[id] = chunk.high;
    chunk.visible = [visible_xid, high = chunk.high](const Transaction& t) {
      if (t.position.major > high) return false;
      return visible_xid(static_cast<uint32_t>(std::strtoul(t.txid.c_str(), nullptr, 10)));
    };
    chunk.position.major = chunk.high + 1;
    chunk.position.resume = format_lsn(chunk.high);
    return chunk;
  }
}

}  // namespace

std::string format_lsn(uint64_t lsn) {
  return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xffffffffu);
}

Result<uint64_t> parse_lsn(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size()) {
    return invalid_argument(fmt::format("'{}' is not a PostgreSQL LSN (like 16/B374D848)", text));
  }
  uint64_t hi = 0, lo = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == slash) continue;
    int v = hexval(text[i]);
    if (v < 0) return invalid_argument(fmt::format("'{}' is not a PostgreSQL LSN", text));
    uint64_t& part = i < slash ? hi : lo;
    part = part * 16 + static_cast<uint64_t>(v);
  }
  return (hi << 32) | lo;
}

std::string slot_name(const sources::SourceConfig& source) {
  return source.cdc.slot.empty() ? "sluice_" + sanitize(source.name) : source.cdc.slot;
}
std::string publication_name(const sources::SourceConfig& source) {
  return source.cdc.publication.empty() ? "sluice_" + sanitize(source.name)
                                        : source.cdc.publication;
}

Result<std::unique_ptr<ChangeReader>> open_pg_reader(const sources::SourceConfig& source,
                                                     const Position& resume,
                                                     const PgReaderOptions& options) {
  SLUICE_ASSIGN_OR_RETURN(auto sql, sql_connect(source));
  PgReaderOptions o = options;
  o.status_interval_ms = std::min(o.status_interval_ms, source.cdc.heartbeat_ms);
  auto r = std::make_unique<PgReader>(source, o, std::move(sql));
  SLUICE_RETURN_IF_ERROR(r->open(resume));
  return std::unique_ptr<ChangeReader>(std::move(r));
}

Result<std::optional<int64_t>> pg_retained_wal_bytes(const sources::SourceConfig& source) {
  SLUICE_ASSIGN_OR_RETURN(auto sql, sql_connect(source));
  SLUICE_ASSIGN_OR_RETURN(
      auto rows, sql.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8 FROM "
                           "pg_replication_slots WHERE slot_name = " +
                           sd::sql_literal(slot_name(source))));
  if (rows.empty() || !rows[0][0]) return std::optional<int64_t>();
  return std::optional<int64_t>(std::stoll(*rows[0][0]));
}

Result<int64_t> pg_copy_csv(const sources::SourceConfig& source, const std::string& table,
                            const std::vector<std::string>& columns, const std::string& where,
                            const std::filesystem::path& file) {
  SLUICE_ASSIGN_OR_RETURN(auto sql, sql_connect(source));
  std::string cols;
  for (const auto& c : columns)
    cols += (cols.empty() ? "" : ", ") + sd::pg_ident(c);
  std::string q = fmt::format("COPY (SELECT {} FROM {}.{}{}) TO STDOUT WITH (FORMAT csv)", cols,
                              sd::pg_ident(source.schema), sd::pg_ident(table),
                              where.empty() ? "" : " WHERE " + where);
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr) return io_error("cannot write " + file.string());
  int64_t bytes = 0;
  auto rows = sql.copy_out(
      q,
      [&](std::string_view block) -> Status {
        if (std::fwrite(block.data(), 1, block.size(), f) != block.size()) {
          return io_error("cannot write " + file.string());
        }
        return Status::ok();
      },
      &bytes);
  std::fclose(f);
  if (!rows.is_ok()) return rows.status().with_context("source " + source.name + " table " + table);
  return rows;
}

Result<std::vector<std::string>> pg_primary_key(const sources::SourceConfig& source,
                                                const std::string& table) {
  SLUICE_ASSIGN_OR_RETURN(auto sql, sql_connect(source));
  SLUICE_ASSIGN_OR_RETURN(
      auto rows,
      sql.query(fmt::format(
          "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = "
          "c.oid AND a.attnum = ANY(i.indkey) WHERE i.indisprimary AND n.nspname = {} AND "
          "c.relname = {} ORDER BY array_position(i.indkey, a.attnum)",
          sd::sql_literal(source.schema), sd::sql_literal(table))));
  std::vector<std::string> keys;
  for (const auto& r : rows)
    keys.push_back(r[0].value_or(""));
  return keys;
}

Status pg_drop_slot(const sources::SourceConfig& source) {
  SLUICE_ASSIGN_OR_RETURN(auto sql, sql_connect(source));
  SLUICE_ASSIGN_OR_RETURN(auto rows, sql.query("SELECT active_pid FROM pg_replication_slots WHERE "
                                               "slot_name = " +
                                               sd::sql_literal(slot_name(source))));
  if (rows.empty()) return Status::ok();
  if (rows[0][0]) {
    return conflict(
        fmt::format("source {}: slot '{}' is in use by server process {}; stop the stream first "
                    "(`sluice cdc stop {}`)",
                    source.name, slot_name(source), *rows[0][0], source.name));
  }
  return sql.exec("SELECT pg_drop_replication_slot(" + sd::sql_literal(slot_name(source)) + ")");
}

}  // namespace sluice::cdc

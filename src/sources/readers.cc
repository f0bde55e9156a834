// PostgreSQL: a coordinator transaction (REPEATABLE READ) exports its snapshot with
// pg_export_snapshot(); every worker connection imports it with SET TRANSACTION SNAPSHOT, so all
// parallel chunk reads of all tables see one consistent state. Rows stream out with
// `COPY (SELECT ...) TO STDOUT (FORMAT csv)` straight into the chunk file.
//
// MariaDB: one connection in START TRANSACTION WITH CONSISTENT SNAPSHOT. A snapshot cannot be
// shared between connections without FLUSH TABLES WITH READ LOCK (the RELOAD privilege, which
// the sluice account does not get), so one connection reads every chunk in turn; conversion to
// Parquet runs in parallel with it. binlog_snapshot_file/position give the exact binlog position
// of that snapshot.
#include "sources/readers.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "sources/db_client.h"

namespace sluice::sources::detail {
namespace {

// Buffered writer into a chunk FIFO: the conversion (DuckDB read_csv) reads the other end while
// the rows are still arriving. Opening waits for the reader; both the wait and full-pipe writes
// give up when `cancel` is set (the conversion ended without reading everything).
class FifoWriter {
 public:
  static Result<FifoWriter> open(const std::filesystem::path& p, const std::atomic<bool>& cancel) {
    for (;;) {
      int fd = ::open(p.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) {
        (void)::fcntl(fd, F_SETPIPE_SZ, kBufferBytes);  // fewer wake-ups; best effort
        return FifoWriter(fd, p.string(), cancel);
      }
      if (errno == EINTR) continue;
      if (errno != ENXIO) {
        return io_error(
            fmt::format("cannot open chunk pipe {}: {}", p.string(), std::strerror(errno)));
      }
      if (cancel.load()) return cancelled_error(p.string());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  FifoWriter(FifoWriter&& o) noexcept
      : fd_(o.fd_), path_(std::move(o.path_)), buf_(std::move(o.buf_)), cancel_(o.cancel_) {
    o.fd_ = -1;
  }
  FifoWriter& operator=(FifoWriter&&) = delete;
  ~FifoWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status write(std::string_view data) {
    buf_.append(data);
    if (buf_.size() >= kBufferBytes) return flush();
    return Status::ok();
  }
  Status close() {
    SLUICE_RETURN_IF_ERROR(flush());
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return io_error(fmt::format("closing chunk pipe {}", path_));
    return Status::ok();
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  static Status cancelled_error(const std::string& path) {
    return cancelled(fmt::format("chunk {} abandoned: the conversion stopped", path));
  }
  FifoWriter(int fd, std::string p, const std::atomic<bool>& cancel)
      : fd_(fd), path_(std::move(p)), cancel_(cancel) {
    buf_.reserve(kBufferBytes + (64 << 10));
  }
  Status flush() {
    const char* p = buf_.data();
    size_t left = buf_.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n > 0) {
        p += n;
        left -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (cancel_.load()) return cancelled_error(path_);
        pollfd pfd{fd_, POLLOUT, 0};
        (void)::poll(&pfd, 1, 100);
        continue;
      }
      if (n < 0 && errno == EPIPE) return cancelled_error(path_);
      return io_error(fmt::format("writing chunk pipe {}: {}", path_, std::strerror(errno)));
    }
    buf_.clear();
    return Status::ok();
  }
  int fd_;
  std::string path_;
  std::string buf_;
  const std::atomic<bool>& cancel_;
};

class PgReader : public Reader {
 public:
  PgReader(Endpoint ep, std::string schema) : ep_(std::move(ep)), schema_(std::move(schema)) {}

  Result<int> begin(int workers) override {
    SLUICE_ASSIGN_OR_RETURN(auto c, PgConn::connect(ep_, "sluice-ingest"));
    coord_ = std::make_unique<PgConn>(std::move(c));
    SLUICE_RETURN_IF_ERROR(coord_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    SLUICE_ASSIGN_OR_RETURN(
        auto rows, coord_->query("SELECT pg_export_snapshot(), pg_current_wal_lsn()::text"));
    std::string snap = *rows.at(0).at(0);
    position_ = "lsn:" + rows.at(0).at(1).value_or("");
    for (int i = 0; i < workers; ++i) {
      SLUICE_ASSIGN_OR_RETURN(auto w, PgConn::connect(ep_, "sluice-ingest"));
      SLUICE_RETURN_IF_ERROR(w.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
      SLUICE_RETURN_IF_ERROR(w.exec("SET TRANSACTION SNAPSHOT " + sql_literal(snap)));
      workers_.push_back(std::make_unique<PgConn>(std::move(w)));
    }
    return workers;
  }

  std::string position() const override { return position_; }

  std::string qualified(const std::string& table) const {
    return pg_ident(schema_) + "." + pg_ident(table);
  }

  Result<std::vector<SourceColumn>> columns(const std::string& table) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows,
        coord_->query(fmt::format(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
            "(t.typtype = 'e' OR coalesce(et.typtype = 'e', false))::text "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
            "WHERE n.nspname = {} AND c.relname = {} AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            sql_literal(schema_), sql_literal(table))));
    if (rows.empty()) {
      return not_found(
          fmt::format("table {}.{} not found in PostgreSQL database {} (or the "
                      "account {} cannot see it)",
                      schema_, table, ep_.database, ep_.user));
    }
    std::vector<SourceColumn> out;
    for (auto& r : rows)
      out.push_back(SourceColumn{*r[0], *r[1], r[2].value_or("") == "true"});
    return out;
  }

  Result<std::vector<std::string>> primary_key(const std::string& table) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows, coord_->query(fmt::format(
                       "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                       "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = {}::regclass "
                       "AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                       sql_literal(qualified(table)))));
    std::vector<std::string> out;
    for (auto& r : rows)
      out.push_back(*r[0]);
    return out;
  }

  Result<MappedColumn> map(const SourceColumn& c) const override { return map_pg_column(c); }
  std::string ident(const std::string& name) const override { return pg_ident(name); }

  Result<int64_t> estimate_rows(const std::string& table) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows, coord_->query(fmt::format("SELECT reltuples::bigint FROM pg_class WHERE oid = "
                                             "{}::regclass",
                                             sql_literal(qualified(table)))));
    return std::stoll(rows.at(0).at(0).value_or("-1"));
  }

  Result<std::vector<std::optional<std::string>>> aggregate(const std::string& table,
                                                            const std::string& select,
                                                            const std::string& where) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows, coord_->query(fmt::format("SELECT {} FROM {}{}", select, qualified(table),
                                             where.empty() ? "" : " WHERE " + where)));
    return rows.at(0);
  }

  std::string cursor_condition(const std::string& cursor, const SourceColumn& col,
                               const MappedColumn& m, const std::string& watermark,
                               int64_t look_back) const override {
    if (m.temporal) {
      return fmt::format("{} >= CAST({} AS {}) - interval '{} seconds'", pg_ident(cursor),
                         sql_literal(watermark), col.type, look_back);
    }
    return fmt::format("{} >= CAST({} AS {}) - {}", pg_ident(cursor), sql_literal(watermark),
                       col.type, look_back);
  }

  Result<ChunkResult> read_chunk(int worker, const std::string& table,
                                 const std::string& select_list, const std::string& where,
                                 const std::filesystem::path& file,
                                 const std::atomic<bool>& cancel) override {
    SLUICE_ASSIGN_OR_RETURN(auto out, FifoWriter::open(file, cancel));
    std::string sql =
        fmt::format("COPY (SELECT {} FROM {}{}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)",
                    select_list, qualified(table), where.empty() ? "" : " WHERE " + where);
    ChunkResult res;
    SLUICE_ASSIGN_OR_RETURN(res.rows, workers_.at(static_cast<size_t>(worker))
                                          ->copy_out(
                                              sql,
                                              [&](std::string_view b) {
                                                if (cancel.load())
                                                  return cancelled("conversion stopped");
                                                return out.write(b);
                                              },
                                              &res.bytes));
    SLUICE_RETURN_IF_ERROR(out.close());
    return res;
  }

 private:
  Endpoint ep_;
  std::string schema_;
  std::unique_ptr<PgConn> coord_;
  std::vector<std::unique_ptr<PgConn>> workers_;
  std::string position_;
};

class MysqlReader : public Reader {
 public:
  MysqlReader(Endpoint ep, std::string schema) : ep_(std::move(ep)), schema_(std::move(schema)) {}

  Result<int> begin(int /*workers*/) override {
    SLUICE_ASSIGN_OR_RETURN(auto c, MyConn::connect(ep_));
    conn_ = std::make_unique<MyConn>(std::move(c));
    SLUICE_RETURN_IF_ERROR(conn_->exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
    SLUICE_RETURN_IF_ERROR(conn_->exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
    SLUICE_ASSIGN_OR_RETURN(auto rows, conn_->query("SHOW STATUS LIKE 'binlog_snapshot_%'"));
    std::string file, pos;
    for (auto& r : rows) {
      if (r.at(0) == "Binlog_snapshot_file") file = r.at(1).value_or("");
      if (r.at(0) == "Binlog_snapshot_position") pos = r.at(1).value_or("");
    }
    position_ = file.empty() ? "" : "binlog:" + file + ":" + pos;
    return 1;
  }

  std::string position() const override { return position_; }
  std::string qualified(const std::string& table) const {
    return mysql_ident(schema_) + "." + mysql_ident(table);
  }

  Result<std::vector<SourceColumn>> columns(const std::string& table) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows,
        conn_->query(fmt::format("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                                 "WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY "
                                 "ORDINAL_POSITION",
                                 sql_literal(schema_), sql_literal(table))));
    if (rows.empty()) {
      return not_found(
          fmt::format("table {}.{} not found in MariaDB (or the account {} cannot "
                      "see it)",
                      schema_, table, ep_.user));
    }
    std::vector<SourceColumn> out;
    for (auto& r : rows)
      out.push_back(SourceColumn{*r[0], *r[1], false});
    return out;
  }

  Result<std::vector<std::string>> primary_key(const std::string& table) override {
    SLUICE_ASSIGN_OR_RETURN(auto rows,
                            conn_->query(fmt::format("SELECT COLUMN_NAME FROM "
                                                     "information_schema.KEY_COLUMN_USAGE WHERE "
                                                     "TABLE_SCHEMA = {} AND TABLE_NAME = {} AND "
                                                     "CONSTRAINT_NAME = 'PRIMARY' ORDER BY "
                                                     "ORDINAL_POSITION",
                                                     sql_literal(schema_), sql_literal(table))));
    std::vector<std::string> out;
    for (auto& r : rows)
      out.push_back(*r[0]);
    return out;
  }

  Result<MappedColumn> map(const SourceColumn& c) const override { return map_mysql_column(c); }
  std::string ident(const std::string& name) const override { return mysql_ident(name); }

  Result<int64_t> estimate_rows(const std::string& table) override {
    SLUICE_ASSIGN_OR_RETURN(auto rows,
                            conn_->query(fmt::format("SELECT TABLE_ROWS FROM "
                                                     "information_schema.TABLES WHERE "
                                                     "TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                                                     sql_literal(schema_), sql_literal(table))));
    if (rows.empty() || !rows[0][0]) return int64_t{-1};
    return std::stoll(*rows[0][0]);
  }

  Result<std::vector<std::optional<std::string>>> aggregate(const std::string& table,
                                                            const std::string& select,
                                                            const std::string& where) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows, conn_->query(fmt::format("SELECT {} FROM {}{}", select, qualified(table),
                                            where.empty() ? "" : " WHERE " + where)));
    return rows.at(0);
  }

  std::string cursor_condition(const std::string& cursor, const SourceColumn&,
                               const MappedColumn& m, const std::string& watermark,
                               int64_t look_back) const override {
    if (m.temporal) {
      return fmt::format("{} >= CAST({} AS DATETIME(6)) - INTERVAL {} SECOND", mysql_ident(cursor),
                         sql_literal(watermark), look_back);
    }
    return fmt::format("{} >= {} - {}", mysql_ident(cursor), sql_literal(watermark), look_back);
  }

  Result<ChunkResult> read_chunk(int /*worker*/, const std::string& table,
                                 const std::string& select_list, const std::string& where,
                                 const std::filesystem::path& file,
                                 const std::atomic<bool>& cancel) override {
    SLUICE_ASSIGN_OR_RETURN(auto out, FifoWriter::open(file, cancel));
    std::string sql = fmt::format("SELECT {} FROM {}{}", select_list, qualified(table),
                                  where.empty() ? "" : " WHERE " + where);
    std::string buf;
    buf.reserve(1 << 20);
    ChunkResult res;
    SLUICE_ASSIGN_OR_RETURN(
        res.rows, conn_->stream(sql, [&](char** row, unsigned long* len, unsigned n) -> Status {
          for (unsigned i = 0; i < n; ++i) {
            if (i > 0) buf += ',';
            append_csv_field(buf, row[i], len[i]);
          }
          buf += '\n';
          if (buf.size() >= (1 << 20)) {
            if (cancel.load()) return cancelled("conversion stopped");
            res.bytes += static_cast<int64_t>(buf.size());
            SLUICE_RETURN_IF_ERROR(out.write(buf));
            buf.clear();
          }
          return Status::ok();
        }));
    res.bytes += static_cast<int64_t>(buf.size());
    SLUICE_RETURN_IF_ERROR(out.write(buf));
    SLUICE_RETURN_IF_ERROR(out.close());
    return res;
  }

 private:
  Endpoint ep_;
  std::string schema_;
  std::unique_ptr<MyConn> conn_;
  std::string position_;
};

}  // namespace

Status make_chunk_pipe(const std::filesystem::path& p) {
  if (::mkfifo(p.c_str(), 0600) != 0) {
    return io_error(
        fmt::format("cannot create chunk pipe {}: {}", p.string(), std::strerror(errno)));
  }
  return Status::ok();
}

Status release_chunk_pipe(const std::filesystem::path& p, const std::atomic<bool>& cancel) {
  SLUICE_ASSIGN_OR_RETURN(auto w, FifoWriter::open(p, cancel));
  return w.close();
}

std::unique_ptr<Reader> make_pg_reader(const Endpoint& ep, const std::string& schema) {
  return std::make_unique<PgReader>(ep, schema);
}
std::unique_ptr<Reader> make_mysql_reader(const Endpoint& ep, const std::string& schema) {
  return std::make_unique<MysqlReader>(ep, schema);
}

}  // namespace sluice::sources::detail

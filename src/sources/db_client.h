// Thin RAII wrappers over libpq and MariaDB Connector/C returning Status; internal to sources.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sources/sources.h"

struct pg_conn;
struct st_mysql;

namespace sluice::sources::detail {

using Row = std::vector<std::optional<std::string>>;

// Frees a block returned by PQgetCopyData.
void release_copy_block(char* buf);

// One PostgreSQL connection. Not thread-safe: one thread at a time.
class PgConn {
 public:
  static Result<PgConn> connect(const Endpoint& ep, std::string_view application_name);
  PgConn(PgConn&& o) noexcept : conn_(o.conn_) { o.conn_ = nullptr; }
  PgConn& operator=(PgConn&& o) noexcept;
  ~PgConn();

  Status exec(std::string_view sql);
  Result<std::vector<Row>> query(std::string_view sql);
  // Runs `COPY (...) TO STDOUT ...` and hands each data block to `sink`; returns the rows
  // copied (and adds the bytes to *bytes).
  template <typename Sink>
  Result<int64_t> copy_out(std::string_view copy_sql, Sink&& sink, int64_t* bytes);
  // Runs `COPY ... FROM STDIN` and sends `data` (may be called with chunks via copy_begin/put).
  Status copy_begin(std::string_view copy_sql);
  Status copy_put(std::string_view data);
  Status copy_end();

  pg_conn* native() { return conn_; }

 private:
  explicit PgConn(pg_conn* c) : conn_(c) {}
  Status copy_out_block(std::string_view copy_sql);
  Result<std::string_view> next_copy_block(char** buf, bool* done);
  Result<int64_t> finish_copy_out();
  pg_conn* conn_ = nullptr;
};

// One MariaDB/MySQL connection (utf8mb4, time_zone '+00:00'). Not thread-safe.
class MyConn {
 public:
  static Result<MyConn> connect(const Endpoint& ep, bool local_infile = false);
  MyConn(MyConn&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  MyConn& operator=(MyConn&& o) noexcept;
  ~MyConn();

  Status exec(std::string_view sql);
  Result<std::vector<Row>> query(std::string_view sql);
  // Streams a result row by row (mysql_use_result): `fn(row, lengths, ncols)`; returns rows.
  template <typename Fn>
  Result<int64_t> stream(std::string_view sql, Fn&& fn);

  st_mysql* native() { return m_; }
  Status error(std::string_view what);

 private:
  explicit MyConn(st_mysql* m) : m_(m) {}
  Status start_stream(std::string_view sql);
  // Next row or nullptr at the end; lengths/ncols set.
  Result<char**> next_row(unsigned long** lengths, unsigned* ncols);
  void end_stream();
  void* res_ = nullptr;
  st_mysql* m_ = nullptr;
};

template <typename Sink>
Result<int64_t> PgConn::copy_out(std::string_view copy_sql, Sink&& sink, int64_t* bytes) {
  SLUICE_RETURN_IF_ERROR(copy_out_block(copy_sql));
  for (;;) {
    char* buf = nullptr;
    bool done = false;
    SLUICE_ASSIGN_OR_RETURN(auto block, next_copy_block(&buf, &done));
    if (done) break;
    *bytes += static_cast<int64_t>(block.size());
    Status st = sink(block);
    release_copy_block(buf);
    if (!st.is_ok()) {
      // Drain so the connection stays usable, then report the sink's error.
      for (;;) {
        char* b2 = nullptr;
        bool d2 = false;
        auto r = next_copy_block(&b2, &d2);
        if (!r.is_ok() || d2) break;
        release_copy_block(b2);
      }
      (void)finish_copy_out();
      return st;
    }
  }
  return finish_copy_out();
}

template <typename Fn>
Result<int64_t> MyConn::stream(std::string_view sql, Fn&& fn) {
  SLUICE_RETURN_IF_ERROR(start_stream(sql));
  int64_t rows = 0;
  for (;;) {
    unsigned long* lengths = nullptr;
    unsigned ncols = 0;
    auto row = next_row(&lengths, &ncols);
    if (!row.is_ok()) {
      end_stream();
      return row.status();
    }
    if (*row == nullptr) break;
    Status st = fn(*row, lengths, ncols);
    if (!st.is_ok()) {
      end_stream();
      return st;
    }
    ++rows;
  }
  end_stream();
  return rows;
}

}  // namespace sluice::sources::detail

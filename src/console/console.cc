#include "console/console.h"

#include <duckdb.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <list>
#include <mutex>
#include <set>
#include <sstream>

#include "common/data_dir.h"
#include "common/log.h"
#include "console/dashboards.h"
#include "engine/configured_lake.h"
#include "engine/engine.h"
#include "engine/lake_session.h"
#include "gateway/gateway.h"
#include "governance/governance.h"
#include "lake/lake.h"

#ifndef SLUICE_SOURCE_DIR
#define SLUICE_SOURCE_DIR "."
#endif

namespace sluice::console {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kEditorRowLimit = 10000;
constexpr int64_t kMaxRowLimit = 100000;
constexpr int64_t kMaxStreamRowLimit = 10000000;  // streamed: the server never holds it whole
constexpr size_t kStreamBatchRows = 1000;         // rows per NDJSON line...
constexpr size_t kStreamBatchBytes = 256 << 10;   // ...or about this many bytes of values
constexpr int64_t kDashboardRowLimit = 5000;
constexpr int64_t kPreviewRows = 100;
constexpr auto kSessionIdle = std::chrono::hours(12);
constexpr size_t kCacheEntries = 512;

std::string hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string iso_now() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms);
}

int http_status(const Status& st) {
  switch (st.code()) {
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kCancelled:
      return 409;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kInternal:
      return 500;
    default:
      return 400;
  }
}

// "PermissionDenied" -> "permission_denied", for error lines.
std::string error_code(const Status& st) {
  std::string out;
  for (char c : status_code_name(st.code())) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty() && std::islower(static_cast<unsigned char>(out.back()))) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

http::Response fail(const Status& st) {
  return http::Response::json(http_status(st),
                              {{"error_code", http_status(st)}, {"message", st.message()}});
}

http::Response fail(int status, std::string_view message) {
  return http::Response::json(status, {{"error_code", status}, {"message", message}});
}

std::string cookie_value(const std::string& header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    size_t b = part.find_first_not_of(' ');
    if (b != std::string::npos) part = part.substr(b);
    if (part.size() > name.size() && part.compare(0, name.size(), name) == 0 &&
        part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
    pos = end + 1;
  }
  return "";
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string quote_ident(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Turns an engine error into a status whose message reads well in the UI.
Status query_error(const Status& st, bool cancelled) {
  if (cancelled || st.message().find("INTERRUPT") != std::string::npos) {
    return Status(StatusCode::kCancelled, "query cancelled");
  }
  return st;
}

}  // namespace

std::filesystem::path default_web_root() {
  return std::filesystem::path(SLUICE_SOURCE_DIR) / "web" / "dist";
}

Result<ConsoleOptions> ConsoleOptions::from_config(const common::Config& config) {
  ConsoleOptions o;
  std::string listen = config.get_string("console.listen");
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return invalid_argument(fmt::format("console.listen: expected HOST:PORT, got '{}' ({})", listen,
                                        config.origin("console.listen")));
  }
  o.host = listen.substr(0, colon);
  try {
    int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    o.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    return invalid_argument(fmt::format("console.listen: bad port in '{}' ({})", listen,
                                        config.origin("console.listen")));
  }
  std::string web = config.get_string("console.web_root");
  o.web_root = web.empty() ? default_web_root() : std::filesystem::path(web);
  o.dashboards_dir = config.get_string("console.dashboards_dir");
  o.max_parallel_queries = static_cast<int>(config.get_int("console.max_parallel_queries"));
  o.max_sessions = std::max(o.max_parallel_queries + 2, 4);
  o.project_dir = o.dashboards_dir.parent_path();
  if (o.project_dir.empty()) o.project_dir = std::filesystem::current_path();
  return o;
}

// ---------------------------------------------------------------------------------------------

struct Console::Impl {
  common::Config config;
  ConsoleOptions options;
  std::shared_ptr<lake::Catalog> catalog;
  engine::EngineOptions engine_options;
  engine::LakeSessionOptions lake_options;
  std::filesystem::path data_dir;
  std::unique_ptr<http::Server> server;

  // --- users and login sessions ---
  std::mutex users_mu;
  std::optional<governance::UserStore> users;
  Clock::time_point users_loaded{};

  struct WebSession {
    std::string user;
    std::string csrf;
    Clock::time_point last_seen;
  };
  std::mutex sessions_mu;
  std::map<std::string, WebSession> web_sessions;

  // --- SQL sessions: one DuckDB database + lake session per running query ---
  struct Slot {
    std::shared_ptr<engine::Database> db;
    std::optional<engine::LakeSession> lake;
    bool busy = false;
  };
  std::mutex slots_mu;
  std::condition_variable slots_cv;
  std::vector<std::unique_ptr<Slot>> slots;
  int creating = 0;

  struct Running {
    std::string id;
    std::string user;
    std::string sql;
    Clock::time_point started;
    std::atomic<bool> cancelled{false};
    std::mutex mu;
    engine::LakeSession* session = nullptr;
  };
  std::mutex running_mu;
  std::map<std::string, std::shared_ptr<Running>> running;

  // --- dashboard queries: a cap on how many run at once, and the result cache ---
  std::mutex dash_mu;
  std::condition_variable dash_cv;
  int dash_active = 0;

  struct CacheEntry {
    json result;
    std::string refreshed_at;
    uint64_t used = 0;
  };
  std::mutex cache_mu;
  std::map<std::string, CacheEntry> cache;
  uint64_t cache_clock = 0;
  std::atomic<int64_t> cache_hits{0}, cache_misses{0};

  // ------------------------------------------------------------------------------------------

  Result<governance::User> find_user(const std::string& name, bool fresh) {
    std::lock_guard lock(users_mu);
    if (!users) {
      SLUICE_ASSIGN_OR_RETURN(auto store, governance::UserStore::open(data_dir));
      users.emplace(std::move(store));
      users_loaded = Clock::now();
    } else if (fresh || Clock::now() - users_loaded > std::chrono::seconds(2)) {
      SLUICE_RETURN_IF_ERROR(users->reload());
      users_loaded = Clock::now();
    }
    auto u = users->find(name);
    if (!u) return not_found(fmt::format("no user {}", name));
    return *u;
  }

  Result<Slot*> acquire() {
    std::unique_lock lock(slots_mu);
    for (;;) {
      for (auto& s : slots) {
        if (!s->busy) {
          s->busy = true;
          return s.get();
        }
      }
      if (static_cast<int>(slots.size()) + creating < options.max_sessions) {
        ++creating;
        lock.unlock();
        auto slot = std::make_unique<Slot>();
        Status st = [&]() -> Status {
          SLUICE_ASSIGN_OR_RETURN(slot->db, engine::Database::open_in_memory(engine_options));
          SLUICE_ASSIGN_OR_RETURN(auto lake,
                                  engine::LakeSession::open(catalog, slot->db, lake_options));
          slot->lake.emplace(std::move(lake));
          return Status::ok();
        }();
        lock.lock();
        --creating;
        if (!st.is_ok()) {
          slots_cv.notify_all();
          return st;
        }
        slot->busy = true;
        slots.push_back(std::move(slot));
        return slots.back().get();
      }
      slots_cv.wait(lock);
    }
  }

  void release(Slot* s) {
    {
      std::lock_guard lock(slots_mu);
      s->busy = false;
    }
    slots_cv.notify_all();
  }

  // One statement run for the console, read batch by batch: start_query() checks grants, takes a
  // SQL session and starts the statement; next_batch() fetches rows as DuckDB produces them (a
  // query's result is streamed, never materialized whole). Destroying it ends the statement,
  // frees the session and unregisters the id.
  struct QueryExec {
    Impl* self = nullptr;
    std::shared_ptr<Running> run;
    Slot* slot = nullptr;
    int64_t limit = 0;
    Clock::time_point t0;
    json columns = json::array();
    // A query: its rows cast to text by DuckDB, streamed.
    std::optional<engine::PreparedStatement> prepared;
    std::optional<engine::StreamingResult> result;
    engine::DataChunk chunk;
    size_t chunk_row = 0;
    // Any other statement (DML, DDL, SHOW, ...): run by the lake session, result materialized
    // (small: a tag, or a few rows).
    std::optional<engine::StatementResult> other;
    size_t other_row = 0;
    int64_t row_count = 0;
    bool truncated = false;
    bool finished = false;
    bool unregistered = false;
    std::string tag;
    std::optional<int64_t> snapshot_id;

    QueryExec() = default;
    QueryExec(const QueryExec&) = delete;
    QueryExec& operator=(const QueryExec&) = delete;
    ~QueryExec() { close(); }

    // Ends the statement, gives the session back and frees the id (idempotent).
    void close() {
      chunk = engine::DataChunk();
      result.reset();
      prepared.reset();
      if (run) {
        std::lock_guard lock(run->mu);
        run->session = nullptr;
      }
      if (slot) self->release(slot);
      slot = nullptr;
      if (run && !unregistered) {
        std::lock_guard lock(self->running_mu);
        self->running.erase(run->id);
      }
      unregistered = true;
    }

    // Appends rows to `rows` until `max_rows` rows or about `max_bytes` of values, the row limit
    // or the end (then `finished`). An error (cancel included) ends the statement.
    Status next_batch(json& rows, size_t max_rows, size_t max_bytes) {
      size_t n = 0, bytes = 0;
      auto full = [&] { return n >= max_rows || bytes >= max_bytes; };
      if (other) {
        const auto& r = other->rows.rows;
        for (; other_row < r.size() && !full(); ++other_row) {
          if (row_count >= limit) {
            truncated = true;
            break;
          }
          json jr = json::array();
          for (const auto& v : r[other_row]) {
            if (v) {
              bytes += v->size() + 3;
              jr.push_back(*v);
            } else {
              jr.push_back(nullptr);
            }
          }
          rows.push_back(std::move(jr));
          ++row_count;
          ++n;
        }
        if (other_row >= r.size() || truncated) finished = true;
        return Status::ok();
      }
      while (!finished && !full()) {
        if (!chunk || chunk_row >= chunk.size()) {
          auto next = result->next();
          if (run->cancelled) return Status(StatusCode::kCancelled, "query cancelled");
          if (!next.is_ok()) return query_error(next.status(), run->cancelled);
          chunk = std::move(next).value();
          chunk_row = 0;
          if (!chunk || chunk.size() == 0) {
            finished = true;
            break;
          }
        }
        size_t ncols = columns.size();
        std::vector<duckdb_string_t*> data(ncols);
        std::vector<uint64_t*> validity(ncols);
        for (size_t c = 0; c < ncols; ++c) {
          duckdb_vector v = duckdb_data_chunk_get_vector(chunk.native(), c);
          data[c] = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v));
          validity[c] = duckdb_vector_get_validity(v);
        }
        size_t size = chunk.size();
        for (; chunk_row < size && !full(); ++chunk_row) {
          if (row_count >= limit) {
            truncated = true;  // the wrapper's LIMIT fetched one row more than the limit
            finished = true;
            break;
          }
          json jr = json::array();
          for (size_t c = 0; c < ncols; ++c) {
            if (validity[c] != nullptr && !duckdb_validity_row_is_valid(validity[c], chunk_row)) {
              jr.push_back(nullptr);
              continue;
            }
            duckdb_string_t* s = &data[c][chunk_row];
            uint32_t len = duckdb_string_t_length(*s);
            bytes += len + 3;
            jr.push_back(std::string(duckdb_string_t_data(s), len));
          }
          rows.push_back(std::move(jr));
          ++row_count;
          ++n;
        }
      }
      if (finished) {
        chunk = engine::DataChunk();
        result.reset();
      }
      return Status::ok();
    }

    // The summary once finished: id, tag, row count, limit, truncated, time, snapshot.
    json summary() const {
      json out;
      out["id"] = run->id;
      out["tag"] = other ? tag : fmt::format("SELECT {}", row_count);
      out["row_count"] = row_count;
      out["truncated"] = truncated;
      out["limit"] = limit;
      out["elapsed_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (snapshot_id) out["snapshot_id"] = *snapshot_id;
      return out;
    }

    // Writes the result as NDJSON lines (docs/console.md): the columns, batches of rows, then a
    // "done" line or an "error" line. False when the client went away (the statement ends).
    bool stream_to(http::ChunkSink& out) {
      auto line = [](const json& j) {
        return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
      };
      auto gone = [&] {
        log::info(
            "console query abandoned: the client went away",
            {log::kv("id", run->id), log::kv("user", run->user), log::kv("rows_sent", row_count)});
        return false;
      };
      if (!out.write(line({{"id", run->id}, {"columns", columns}}))) return gone();
      while (!finished) {
        json rows = json::array();
        Status st = next_batch(rows, kStreamBatchRows, kStreamBatchBytes);
        if (!rows.empty() && !out.write(line({{"rows", std::move(rows)}}))) return gone();
        if (!st.is_ok()) {
          // Free the session and the id before the last line: a client may reuse them at once.
          close();
          return out.write(line({{"error",
                                  {{"code", error_code(st)},
                                   {"status", http_status(st)},
                                   {"message", st.message()}}},
                                 {"row_count", row_count}}))
                     ? true
                     : gone();
        }
      }
      json done = summary();
      done["done"] = true;
      close();
      return out.write(line(done)) ? true : gone();
    }
  };

  // Checks and starts one statement for `user` with a row limit; `id` names it for cancel.
  // Errors here come before any row (grants, syntax, binding, a failed DML statement).
  Result<std::unique_ptr<QueryExec>> start_query(const governance::User& user,
                                                 const std::string& sql, int64_t limit,
                                                 const std::string& id) {
    auto statements = engine::split_statements(sql);
    std::vector<std::string> nonempty;
    for (auto& s : statements) {
      if (s.find_first_not_of(" \t\r\n;") != std::string::npos) nonempty.push_back(s);
    }
    if (nonempty.empty()) return invalid_argument("no SQL statement to run");
    if (nonempty.size() > 1) {
      return invalid_argument(fmt::format(
          "{} statements given: the console runs one statement at a time", nonempty.size()));
    }
    const std::string& stmt = nonempty[0];
    SLUICE_RETURN_IF_ERROR(gateway::authorize_statement(user, stmt, *catalog, {"main"}));

    auto run = std::make_shared<Running>();
    run->id = id.empty() ? hex(governance::random_bytes(8)) : id;
    run->user = user.name;
    run->sql = stmt;
    run->started = Clock::now();
    {
      std::lock_guard lock(running_mu);
      if (running.count(run->id)) return invalid_argument("a query with this id is running");
      running[run->id] = run;
    }
    auto q = std::make_unique<QueryExec>();
    q->self = this;
    q->run = run;
    q->limit = limit;
    SLUICE_ASSIGN_OR_RETURN(q->slot, acquire());
    {
      std::lock_guard lock(run->mu);
      if (run->cancelled) return Status(StatusCode::kCancelled, "query cancelled");
      run->session = &*q->slot->lake;
    }
    auto& lake = *q->slot->lake;
    std::string text = stmt;
    while (!text.empty() &&
           (text.back() == ';' || std::isspace(static_cast<unsigned char>(text.back())))) {
      text.pop_back();
    }
    q->t0 = Clock::now();
    if (!engine::is_relation_query(stmt)) {
      auto res = lake.run(text);
      if (!res.is_ok()) return query_error(res.status(), run->cancelled);
      q->tag = res->tag;
      q->snapshot_id = res->snapshot_id;
      if (res->has_rows) {
        const auto& r = res->rows;
        for (size_t i = 0; i < r.column_names.size(); ++i) {
          q->columns.push_back({{"name", r.column_names[i]},
                                {"type", i < r.column_types.size() ? r.column_types[i] : ""}});
        }
      }
      q->other.emplace(std::move(res).value());
      return q;
    }
    // A query: the lake tables it names are bound, then DuckDB streams it with every value cast
    // to text; LIMIT fetches one row more than the limit to tell whether it was truncated.
    auto bound = lake.prepare_query(text);
    if (!bound.is_ok()) return query_error(bound.status(), run->cancelled);
    // Errors point into the statement as written, not into the wrappers below.
    Status checked = lake.session().check(*bound);
    if (!checked.is_ok()) return query_error(checked, run->cancelled);
    std::string wrapped =
        fmt::format("SELECT * FROM ({}\n) AS sluice_q LIMIT {}", *bound, limit + 1);
    auto described = lake.session().query("DESCRIBE " + wrapped);
    if (!described.is_ok()) return query_error(described.status(), run->cancelled);
    for (const auto& row : described->rows) {
      q->columns.push_back({{"name", row.size() > 0 && row[0] ? *row[0] : ""},
                            {"type", row.size() > 1 && row[1] ? *row[1] : ""}});
    }
    auto prepared = lake.session().prepare(
        fmt::format("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({}) AS sluice_t", wrapped));
    if (!prepared.is_ok()) return query_error(prepared.status(), run->cancelled);
    q->prepared.emplace(std::move(prepared).value());
    auto result = q->prepared->execute();
    if (!result.is_ok()) return query_error(result.status(), run->cancelled);
    q->result.emplace(std::move(result).value());
    return q;
  }

  // Runs one statement and returns its whole result (at most `limit` rows) as one document:
  // id, tag, columns, rows, row_count, truncated, limit, elapsed_ms, snapshot_id.
  Result<json> run_sql(const governance::User& user, const std::string& sql, int64_t limit,
                       const std::string& id) {
    SLUICE_ASSIGN_OR_RETURN(auto q, start_query(user, sql, limit, id));
    json rows = json::array();
    while (!q->finished) {
      SLUICE_RETURN_IF_ERROR(q->next_batch(rows, SIZE_MAX, SIZE_MAX));
    }
    json out = q->summary();
    out["columns"] = q->columns;
    out["rows"] = std::move(rows);
    return out;
  }

  Status cancel(const governance::User& user, const std::string& id) {
    std::shared_ptr<Running> run;
    {
      std::lock_guard lock(running_mu);
      auto it = running.find(id);
      if (it == running.end()) return not_found(fmt::format("no running query {}", id));
      run = it->second;
    }
    if (run->user != user.name && !user.admin) {
      return permission_denied("permission denied: the query belongs to another user");
    }
    std::lock_guard lock(run->mu);
    run->cancelled = true;
    if (run->session) run->session->session().interrupt();
    log::info("console query cancelled", {log::kv("id", id), log::kv("user", user.name)});
    return Status::ok();
  }

  // The snapshot ids of the lake tables a query reads (views expanded), for the cache key.
  void snapshot_key(const std::string& sql, std::string& key, std::set<std::string>& seen,
                    int depth) {
    if (depth > 8) return;
    for (const auto& ident : engine::qualified_references(sql)) {
      std::string name = ident.to_string();
      if (!seen.insert(name).second) continue;
      if (catalog->table_exists(ident)) {
        auto t = catalog->load_table(ident);
        if (!t.is_ok()) {
          key += fmt::format("|{}=?{}", name, hex(governance::random_bytes(8)));
          continue;
        }
        auto snap = t->metadata().current_snapshot_id;
        key += fmt::format("|{}={}", name, snap ? std::to_string(*snap) : "empty");
      } else if (auto view = engine::load_lake_view(*catalog, ident)) {
        key += fmt::format("|{}=view", name);
        snapshot_key(*view, key, seen, depth + 1);
      }
    }
  }

  // Runs a dashboard query through the cache and the parallel cap.
  Result<json> cached_query(const governance::User& user, const std::string& sql) {
    SLUICE_RETURN_IF_ERROR(gateway::authorize_statement(user, sql, *catalog, {"main"}));
    std::string key = sql;
    std::set<std::string> seen;
    snapshot_key(sql, key, seen, 0);
    {
      std::lock_guard lock(cache_mu);
      auto it = cache.find(key);
      if (it != cache.end()) {
        it->second.used = ++cache_clock;
        ++cache_hits;
        json out = it->second.result;
        out["cached"] = true;
        out["refreshed_at"] = it->second.refreshed_at;
        return out;
      }
    }
    ++cache_misses;
    {
      std::unique_lock lock(dash_mu);
      dash_cv.wait(lock, [&] { return dash_active < options.max_parallel_queries; });
      ++dash_active;
    }
    auto res = run_sql(user, sql, kDashboardRowLimit, "");
    {
      std::lock_guard lock(dash_mu);
      --dash_active;
    }
    dash_cv.notify_one();
    if (!res.is_ok()) return res.status();
    json out = std::move(*res);
    out.erase("id");
    std::string refreshed = iso_now();
    {
      std::lock_guard lock(cache_mu);
      if (cache.size() >= kCacheEntries) {
        auto oldest = cache.begin();
        for (auto it = cache.begin(); it != cache.end(); ++it) {
          if (it->second.used < oldest->second.used) oldest = it;
        }
        cache.erase(oldest);
      }
      cache[key] = CacheEntry{out, refreshed, ++cache_clock};
    }
    out["cached"] = false;
    out["refreshed_at"] = refreshed;
    return out;
  }

  // --- dashboards ---

  json chart_json(const Chart& c) {
    return {{"id", c.id},     {"title", c.title}, {"type", c.type},
            {"x", c.x},       {"y", c.y},         {"series", c.series},
            {"note", c.note}, {"width", c.width}, {"query", c.query_file},
            {"sql", c.sql}};
  }

  // Filter values: the request's, else the defaults (resolved with the cache).
  Result<std::map<std::string, std::string>> filter_values(const governance::User& user,
                                                           const Dashboard& d,
                                                           const http::Request& req,
                                                           json* resolved) {
    std::map<std::string, std::string> params;
    for (const auto& f : d.filters) {
      if (f.type == "date_range") {
        std::string from = req.query_param("from"), to = req.query_param("to");
        if (from.empty() || to.empty()) {
          std::string dfrom = f.default_from, dto = f.default_to;
          if (dfrom.empty() || dto.empty()) {
            std::string anchor = f.anchor_sql.empty() ? "SELECT current_date" : f.anchor_sql;
            auto r = cached_query(
                user, fmt::format("SELECT CAST(CAST(a AS DATE) - INTERVAL {} DAY AS DATE) AS f, "
                                  "CAST(a AS DATE) AS t FROM ({}) AS anchor(a)",
                                  f.last_days - 1, anchor));
            if (!r.is_ok() || (*r)["rows"].empty() || (*r)["rows"][0][0].is_null()) {
              // No data (or no access): fall back to the last days up to today.
              auto q = run_sql(user,
                               fmt::format("SELECT CAST(current_date - INTERVAL {} DAY AS DATE), "
                                           "current_date",
                                           f.last_days - 1),
                               1, "");
              if (!q.is_ok()) return q.status();
              dfrom = (*q)["rows"][0][0];
              dto = (*q)["rows"][0][1];
            } else {
              dfrom = (*r)["rows"][0][0];
              dto = (*r)["rows"][0][1];
            }
          }
          if (from.empty()) from = dfrom;
          if (to.empty()) to = dto;
        }
        if (!is_date(from) || !is_date(to)) {
          return invalid_argument(fmt::format(
              "filter {}: dates must be YYYY-MM-DD (got '{}' .. '{}')", f.name, from, to));
        }
        params["from"] = from;
        params["to"] = to;
        if (resolved) (*resolved)[f.name] = {{"from", from}, {"to", to}};
      } else {
        std::string v = req.query_param(f.name, f.default_value);
        params[f.name] = v;
        if (resolved) (*resolved)[f.name] = v;
      }
    }
    return params;
  }

  Result<Dashboard> find_dashboard(const std::string& id) {
    if (!valid_name(id)) return not_found(fmt::format("no dashboard '{}'", id));
    for (const char* ext : {".yaml", ".yml"}) {
      auto file = options.dashboards_dir / (id + ext);
      if (std::filesystem::exists(file)) return load_dashboard(file, options.project_dir);
    }
    return not_found(fmt::format("no dashboard '{}' in {}", id, options.dashboards_dir.string()));
  }

  // --- tables ---

  Result<json> table_json(const governance::User& user, const lake::TableIdent& ident) {
    if (!user.allowed(governance::Access::kRead, ident.ns, ident.name)) {
      return permission_denied(fmt::format("permission denied for table {}", ident.to_string()));
    }
    SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(ident));
    const auto& m = table.metadata();
    json out;
    out["namespace"] = ident.ns;
    out["name"] = ident.name;
    out["location"] = m.location;
    out["format_version"] = m.format_version;
    out["last_updated_ms"] = m.last_updated_ms;
    out["properties"] = m.properties;
    out["current_snapshot_id"] =
        m.current_snapshot_id ? json(std::to_string(*m.current_snapshot_id)) : json(nullptr);
    json fields = json::array();
    const auto& schema = m.current_schema();
    for (const auto& f : schema.fields) {
      fields.push_back({{"id", f.id},
                        {"name", f.name},
                        {"type", f.type ? f.type->to_string() : ""},
                        {"required", f.required},
                        {"doc", f.doc}});
    }
    out["schema"] = fields;
    json spec = json::array();
    for (const auto& pf : m.default_spec().fields) {
      const auto* src = schema.find_field(pf.source_id);
      spec.push_back({{"name", pf.name},
                      {"transform", pf.transform},
                      {"source", src ? src->name : std::to_string(pf.source_id)}});
    }
    out["partition_spec"] = spec;
    json snaps = json::array();
    for (auto it = m.snapshots.rbegin(); it != m.snapshots.rend(); ++it) {
      snaps.push_back(
          {{"snapshot_id", std::to_string(it->snapshot_id)},
           {"parent_snapshot_id",
            it->parent_snapshot_id ? json(std::to_string(*it->parent_snapshot_id)) : json(nullptr)},
           {"sequence_number", it->sequence_number},
           {"timestamp_ms", it->timestamp_ms},
           {"summary", it->summary},
           {"current", m.current_snapshot_id && *m.current_snapshot_id == it->snapshot_id}});
    }
    out["snapshots"] = snaps;
    return out;
  }

  Result<json> files_json(const governance::User& user, const lake::TableIdent& ident,
                          std::optional<int64_t> snapshot) {
    if (!user.allowed(governance::Access::kRead, ident.ns, ident.name)) {
      return permission_denied(fmt::format("permission denied for table {}", ident.to_string()));
    }
    SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(ident));
    SLUICE_ASSIGN_OR_RETURN(auto files, table.list_files(snapshot));
    json arr = json::array();
    int64_t total = 0, records = 0;
    for (const auto& f : files) {
      total += f.file_size_in_bytes;
      records += f.record_count;
      arr.push_back({{"path", f.file_path},
                     {"format", f.file_format},
                     {"record_count", f.record_count},
                     {"size_bytes", f.file_size_in_bytes}});
    }
    return json{{"files", arr}, {"total_bytes", total}, {"record_count", records}};
  }

  // --- HTTP ---

  std::string session_user(const http::Request& req, std::string* csrf) {
    std::string token = cookie_value(req.header("Cookie"), "sluice_session");
    if (token.empty()) return "";
    std::lock_guard lock(sessions_mu);
    auto it = web_sessions.find(token);
    if (it == web_sessions.end()) return "";
    if (Clock::now() - it->second.last_seen > kSessionIdle) {
      web_sessions.erase(it);
      return "";
    }
    it->second.last_seen = Clock::now();
    if (csrf) *csrf = it->second.csrf;
    return it->second.user;
  }

  bool same_origin(const http::Request& req) {
    std::string origin = req.header("Origin");
    if (origin.empty() || origin == "null") return origin.empty();
    std::string host = req.header("Host");
    return origin == "http://" + host || origin == "https://" + host;
  }

  http::Response auth(http::Request& req, const http::Handler& next) {
    bool api = req.path.rfind("/api/", 0) == 0;
    if (!api) return next(req);
    bool safe = req.method == http::Method::kGet || req.method == http::Method::kHead ||
                req.method == http::Method::kOptions;
    if (!safe && !same_origin(req)) {
      return fail(403, "cross-origin request refused");
    }
    if (req.path == "/api/login") return next(req);
    std::string csrf;
    std::string user = session_user(req, &csrf);
    if (user.empty()) return fail(401, "not logged in");
    if (!safe && req.header("X-Sluice-CSRF") != csrf) {
      return fail(403, "missing or wrong X-Sluice-CSRF header");
    }
    req.context["user"] = user;
    return next(req);
  }

  Result<governance::User> request_user(const http::Request& req) {
    auto it = req.context.find("user");
    if (it == req.context.end()) return Status(StatusCode::kPermissionDenied, "not logged in");
    return find_user(it->second, false);
  }

  http::Response login(http::Request& req) {
    auto body = req.json();
    if (!body.is_ok()) return fail(body.status());
    std::string name = body->value("user", "");
    std::string password = body->value("password", "");
    auto user = find_user(name, true);
    if (!user.is_ok() || !governance::check_password(*user, password)) {
      log::warn("console login failed", {log::kv("user", name), log::kv("remote", req.remote)});
      return fail(401, "wrong user name or password");
    }
    std::string token = hex(governance::random_bytes(32));
    std::string csrf = hex(governance::random_bytes(16));
    {
      std::lock_guard lock(sessions_mu);
      web_sessions[token] = WebSession{user->name, csrf, Clock::now()};
    }
    log::info("console login", {log::kv("user", name), log::kv("remote", req.remote)});
    auto resp =
        http::Response::json(200, {{"user", user->name}, {"admin", user->admin}, {"csrf", csrf}});
    resp.set_header("Set-Cookie",
                    fmt::format("sluice_session={}; HttpOnly; SameSite=Strict; Path=/", token));
    resp.set_header("Cache-Control", "no-store");
    return resp;
  }

  http::Response logout(http::Request& req) {
    std::string token = cookie_value(req.header("Cookie"), "sluice_session");
    {
      std::lock_guard lock(sessions_mu);
      web_sessions.erase(token);
    }
    auto resp = http::Response::json(200, {{"ok", true}});
    resp.set_header("Set-Cookie", "sluice_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    return resp;
  }

  void routes(http::Router& r) {
    r.post("/api/login", [this](http::Request& q) { return login(q); });
    r.post("/api/logout", [this](http::Request& q) { return logout(q); });
    r.get("/api/session", [this](http::Request& q) {
      std::string csrf;
      session_user(q, &csrf);
      auto user = request_user(q);
      if (!user.is_ok()) return fail(401, "not logged in");
      return http::Response::json(200, {{"user", user->name},
                                        {"admin", user->admin},
                                        {"csrf", csrf},
                                        {"platform", config.get_string("platform.name")}});
    });

    // SQL
    // The body of both query endpoints: {"sql", "limit"?, "id"?}.
    struct QueryRequest {
      std::string sql, id;
      int64_t limit = 0;
    };
    auto query_request = [](http::Request& q, int64_t max_limit) -> Result<QueryRequest> {
      SLUICE_ASSIGN_OR_RETURN(auto body, q.json());
      QueryRequest out{body.value("sql", ""), body.value("id", ""),
                       body.value("limit", kEditorRowLimit)};
      if (out.limit <= 0 || out.limit > max_limit) {
        return invalid_argument(fmt::format("limit must be 1..{}", max_limit));
      }
      if (!out.id.empty() && !valid_name(out.id)) {
        return invalid_argument("id: letters, digits, _ or - only");
      }
      return out;
    };
    r.post("/api/queries", [this, query_request](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      auto req = query_request(q, kMaxRowLimit);
      if (!req.is_ok()) return fail(req.status());
      auto res = run_sql(*user, req->sql, req->limit, req->id);
      if (!res.is_ok()) return fail(res.status());
      return http::Response::json(200, *res);
    });
    // The same, streamed as NDJSON (docs/console.md): rows go out as DuckDB produces them.
    r.post("/api/queries/stream", [this, query_request](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      auto req = query_request(q, kMaxStreamRowLimit);
      if (!req.is_ok()) return fail(req.status());
      auto started = start_query(*user, req->sql, req->limit, req->id);
      if (!started.is_ok()) return fail(started.status());
      std::shared_ptr<QueryExec> exec = std::move(started).value();
      return http::Response::stream(200, "application/x-ndjson; charset=utf-8",
                                    [exec](http::ChunkSink& out) { return exec->stream_to(out); });
    });
    r.post("/api/queries/{id}/cancel", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      Status st = cancel(*user, q.param("id"));
      if (!st.is_ok()) return fail(st);
      return http::Response::json(202, {{"id", q.param("id")}, {"cancelled", true}});
    });
    r.get("/api/queries", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      json arr = json::array();
      std::lock_guard lock(running_mu);
      for (const auto& [id, run] : running) {
        if (run->user != user->name && !user->admin) continue;
        arr.push_back(
            {{"id", id},
             {"user", run->user},
             {"sql", run->sql},
             {"running_ms",
              std::chrono::duration<double, std::milli>(Clock::now() - run->started).count()}});
      }
      return http::Response::json(200, {{"queries", arr}});
    });

    // Saved queries: <project_dir>/sql/<name>.sql
    r.get("/api/saved-queries", [this](http::Request&) {
      json arr = json::array();
      std::error_code ec;
      auto dir = options.project_dir / "sql";
      std::vector<std::string> names;
      if (std::filesystem::is_directory(dir, ec)) {
        for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
          if (e.path().extension() == ".sql") names.push_back(e.path().stem().string());
        }
      }
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        std::ifstream in(dir / (n + ".sql"));
        std::stringstream ss;
        ss << in.rdbuf();
        arr.push_back({{"name", n}, {"sql", ss.str()}});
      }
      return http::Response::json(200, {{"queries", arr}});
    });
    r.post("/api/saved-queries", [this](http::Request& q) {
      auto body = q.json();
      if (!body.is_ok()) return fail(body.status());
      std::string name = body->value("name", "");
      std::string sql = body->value("sql", "");
      if (!valid_name(name)) {
        return fail(400, "name: 1-64 letters, digits, _ or - (saved as sql/<name>.sql)");
      }
      if (sql.find_first_not_of(" \t\r\n") == std::string::npos) {
        return fail(400, "nothing to save: the query is empty");
      }
      std::error_code ec;
      auto dir = options.project_dir / "sql";
      std::filesystem::create_directories(dir, ec);
      auto path = dir / (name + ".sql");
      auto tmp = dir / (name + ".sql.tmp");
      {
        std::ofstream out(tmp);
        out << sql;
        if (!sql.empty() && sql.back() != '\n') out << '\n';
        if (!out) return fail(500, fmt::format("cannot write {}", tmp.string()));
      }
      std::filesystem::rename(tmp, path, ec);
      if (ec) return fail(500, fmt::format("cannot write {}: {}", path.string(), ec.message()));
      return http::Response::json(201, {{"name", name}, {"file", path.string()}});
    });

    // Tables
    r.get("/api/tables", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      auto nss = catalog->list_namespaces();
      if (!nss.is_ok()) return fail(nss.status());
      json arr = json::array();
      for (const auto& ns : *nss) {
        auto tables = catalog->list_tables(ns);
        if (!tables.is_ok()) return fail(tables.status());
        json ts = json::array();
        for (const auto& t : *tables) {
          ts.push_back({{"name", t.name},
                        {"readable", user->allowed(governance::Access::kRead, t.ns, t.name)}});
        }
        arr.push_back({{"name", ns}, {"tables", ts}});
      }
      return http::Response::json(200, {{"namespaces", arr}});
    });
    r.get("/api/tables/{ns}/{name}", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      lake::TableIdent ident{q.param("ns"), q.param("name")};
      if (!catalog->table_exists(ident)) {
        return fail(404, fmt::format("table {} not found", ident.to_string()));
      }
      auto res = table_json(*user, ident);
      if (!res.is_ok()) return fail(res.status());
      return http::Response::json(200, *res);
    });
    r.get("/api/tables/{ns}/{name}/files", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      lake::TableIdent ident{q.param("ns"), q.param("name")};
      if (!catalog->table_exists(ident)) {
        return fail(404, fmt::format("table {} not found", ident.to_string()));
      }
      std::optional<int64_t> snap;
      std::string s = q.query_param("snapshot");
      if (!s.empty()) {
        try {
          snap = std::stoll(s);
        } catch (const std::exception&) {
          return fail(400, "snapshot: expected a snapshot id");
        }
      }
      auto res = files_json(*user, ident, snap);
      if (!res.is_ok()) return fail(res.status());
      return http::Response::json(200, *res);
    });
    r.get("/api/tables/{ns}/{name}/preview", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      lake::TableIdent ident{q.param("ns"), q.param("name")};
      if (!valid_name(ident.ns) || !catalog->table_exists(ident)) {
        return fail(404, fmt::format("table {} not found", ident.to_string()));
      }
      std::string sql =
          fmt::format("SELECT * FROM {}.{}", quote_ident(ident.ns), quote_ident(ident.name));
      std::string s = q.query_param("snapshot");
      if (!s.empty()) {
        if (s.find_first_not_of("0123456789-") != std::string::npos) {
          return fail(400, "snapshot: expected a snapshot id");
        }
        sql += fmt::format(" AT (VERSION => {})", s);
      }
      auto res = run_sql(*user, sql, kPreviewRows, "");
      if (!res.is_ok()) return fail(res.status());
      (*res)["sql"] = sql;
      return http::Response::json(200, *res);
    });

    // Dashboards
    r.get("/api/dashboards", [this](http::Request&) {
      auto set = load_dashboards(options.dashboards_dir, options.project_dir);
      json arr = json::array();
      for (const auto& d : set.dashboards) {
        arr.push_back({{"id", d.id},
                       {"title", d.title},
                       {"description", d.description},
                       {"charts", d.charts.size()}});
      }
      json errs = json::array();
      for (const auto& [file, msg] : set.errors)
        errs.push_back({{"file", file}, {"message", msg}});
      return http::Response::json(
          200, {{"dashboards", arr}, {"errors", errs}, {"dir", options.dashboards_dir.string()}});
    });
    r.get("/api/dashboards/{id}", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      auto d = find_dashboard(q.param("id"));
      if (!d.is_ok()) return fail(d.status());
      json filters = json::array();
      for (const auto& f : d->filters) {
        filters.push_back({{"name", f.name}, {"type", f.type}, {"label", f.label}});
      }
      json values = json::object();
      auto params = filter_values(*user, *d, q, &values);
      if (!params.is_ok()) return fail(params.status());
      json charts = json::array();
      for (const auto& c : d->charts)
        charts.push_back(chart_json(c));
      return http::Response::json(200, {{"id", d->id},
                                        {"title", d->title},
                                        {"description", d->description},
                                        {"filters", filters},
                                        {"values", values},
                                        {"charts", charts},
                                        {"max_parallel_queries", options.max_parallel_queries}});
    });
    r.get("/api/dashboards/{id}/charts/{chart}", [this](http::Request& q) {
      auto user = request_user(q);
      if (!user.is_ok()) return fail(user.status());
      auto d = find_dashboard(q.param("id"));
      if (!d.is_ok()) return fail(d.status());
      const Chart* chart = nullptr;
      for (const auto& c : d->charts) {
        if (c.id == q.param("chart")) chart = &c;
      }
      if (!chart) {
        return fail(404, fmt::format("dashboard {} has no chart '{}'", d->id, q.param("chart")));
      }
      auto params = filter_values(*user, *d, q, nullptr);
      if (!params.is_ok()) return fail(params.status());
      auto sql = substitute(chart->sql, *params);
      if (!sql.is_ok()) {
        return fail(sql.status().with_context(fmt::format("chart {}", chart->id)));
      }
      auto t0 = Clock::now();
      auto res = cached_query(*user, *sql);
      if (!res.is_ok()) return fail(res.status());
      (*res)["chart"] = chart->id;
      (*res)["sql"] = *sql;
      (*res)["served_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      return http::Response::json(200, *res);
    });
    r.get("/api/console/stats", [this](http::Request&) {
      std::lock_guard lock(cache_mu);
      return http::Response::json(200, {{"cache_entries", cache.size()},
                                        {"cache_hits", cache_hits.load()},
                                        {"cache_misses", cache_misses.load()}});
    });
  }
};

Result<std::unique_ptr<Console>> Console::start(const common::Config& config,
                                                ConsoleOptions options,
                                                std::function<void(http::Router&)> extra_routes) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  if (options.max_parallel_queries < 1) options.max_parallel_queries = 1;
  if (options.max_sessions < options.max_parallel_queries + 1) {
    options.max_sessions = options.max_parallel_queries + 2;
  }
  impl->options = options;
  SLUICE_ASSIGN_OR_RETURN(auto dir, common::DataDir::open(config.get_string("platform.data_dir")));
  impl->data_dir = dir.root();
  std::filesystem::path warehouse = config.get_string("lake.warehouse");
  if (warehouse.empty()) {
    SLUICE_ASSIGN_OR_RETURN(warehouse, dir.subdir("lake"));
  }
  SLUICE_ASSIGN_OR_RETURN(impl->catalog, lake::Catalog::open(warehouse));
  impl->engine_options.threads = static_cast<int>(config.get_int("engine.threads"));
  impl->engine_options.memory_limit = config.get_string("engine.memory_limit");
  impl->engine_options.temp_dir = config.get_string("engine.temp_dir");
  if (impl->engine_options.temp_dir.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto tmp, dir.subdir("tmp"));
    impl->engine_options.temp_dir = tmp.string();
  }
  impl->lake_options = engine::lake_session_options(config, /*hot_table_cache=*/true);
  {
    SLUICE_ASSIGN_OR_RETURN(auto store, governance::UserStore::open(impl->data_dir));
    impl->users.emplace(std::move(store));
    impl->users_loaded = Clock::now();
  }

  http::Router router;
  Impl* self = impl.get();
  router.use([self](http::Request& req, const http::Handler& next) {
    auto resp = self->auth(req, next);
    if (req.path.rfind("/api/", 0) == 0) resp.set_header("Cache-Control", "no-store");
    resp.set_header("X-Content-Type-Options", "nosniff");
    resp.set_header("X-Frame-Options", "DENY");
    return resp;
  });
  self->routes(router);
  if (extra_routes) extra_routes(router);
  router.get("/api/{rest...}",
             [](http::Request& q) { return fail(404, fmt::format("no API route {}", q.path)); });
  if (std::filesystem::exists(options.web_root / "index.html")) {
    router.static_files("/", options.web_root);
  } else {
    std::string root = options.web_root.string();
    log::warn("console front end not built", {log::kv("web_root", root)});
    router.get("/{file...}", [root](http::Request&) {
      http::Response r;
      r.status = 503;
      r.content_type = "text/html; charset=utf-8";
      r.body = fmt::format(
          "<!doctype html><title>Sluice console</title><h1>The console's web files are not "
          "built</h1><p>Expected <code>{}</code> (index.html). Run <code>scripts/setup.sh</code> "
          "(it runs <code>npm ci</code> and <code>vite build</code> in <code>web/</code>), or set "
          "<code>console.web_root</code>. The JSON API under <code>/api/</code> works.</p>",
          root);
      return r;
    });
  }

  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.workers = options.max_sessions + 4;
  so.name = "console";
  so.errors = [](int status, std::string_view message) { return fail(status, message); };
  SLUICE_ASSIGN_OR_RETURN(impl->server, http::Server::start(so, std::move(router)));
  log::info("console listening",
            {log::kv("host", options.host), log::kv("port", impl->server->port()),
             log::kv("web_root", options.web_root.string())});
  return std::unique_ptr<Console>(new Console(std::move(impl)));
}

Console::Console(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Console::~Console() {
  if (impl_ && impl_->server) impl_->server->stop();
}
uint16_t Console::port() const {
  return impl_->server->port();
}
const std::string& Console::host() const {
  return impl_->server->host();
}
void Console::stop() {
  impl_->server->stop();
}
void Console::wait() {
  impl_->server->wait();
}
void Console::run_until_signal() {
  impl_->server->run_until_signal();
}

}  // namespace sluice::console

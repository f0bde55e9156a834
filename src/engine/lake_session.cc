#include "engine/lake_session.h"

#include <duckdb.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/log.h"
#include "engine/filter_pushdown_internal.h"
#include "engine/lake_stats_internal.h"
#include "engine/lake_types_internal.h"
#include "engine/sql_text_internal.h"

namespace sluice::engine {

using detail::quote_ident;
using detail::quote_literal;
using detail::Token;

namespace {

constexpr const char* kFileColumn = "__sluice_file";

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  while (out.size() < n)
    out += fmt::format("{:016x}", rng());
  return out.substr(0, n);
}

// Data file paths may be URIs written by other engines; DuckDB reads local paths.
std::string local_path(const std::string& p) {
  if (p.rfind("file://", 0) == 0) return p.substr(7);
  if (p.rfind("file:", 0) == 0) return p.substr(5);
  return p;
}

std::string path_list(const std::vector<std::string>& paths) {
  std::string out = "[";
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote_literal(paths[i]);
  }
  return out + "]";
}

// read_parquet(..., schema = MAP {...}) maps Parquet columns by Iceberg field id to the table's
// current names and types; columns missing from old files read as NULL.
std::string field_id_schema(const lake::Schema& schema) {
  std::string out = "MAP {";
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    const auto& f = schema.fields[i];
    if (i > 0) out += ", ";
    out += fmt::format("{}: {{name: {}, type: {}, default_value: NULL}}", f.id,
                       quote_literal(f.name), quote_literal(detail::duckdb_type(*f.type)));
  }
  return out + "}";
}

std::string column_list(const lake::Schema& schema, const std::string& prefix = "") {
  std::string out;
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    if (i > 0) out += ", ";
    out += prefix + quote_ident(schema.fields[i].name);
  }
  return out;
}

// The SQL reading a scan plan as a relation with the table's columns (plus the data file path
// as __sluice_file when `with_file`), applying position and equality deletes.
std::string scan_sql(const lake::ScanPlan& plan, bool with_file) {
  const auto& schema = plan.schema;
  std::string cols = column_list(schema, "d.");
  if (plan.tasks.empty()) {
    std::string out = "SELECT ";
    for (size_t i = 0; i < schema.fields.size(); ++i) {
      if (i > 0) out += ", ";
      out += fmt::format("CAST(NULL AS {}) AS {}", detail::duckdb_type(*schema.fields[i].type),
                         quote_ident(schema.fields[i].name));
    }
    if (with_file) out += fmt::format(", CAST(NULL AS VARCHAR) AS {}", kFileColumn);
    return out + " LIMIT 0";
  }
  std::vector<std::string> data_paths;
  std::map<std::string, const lake::DataFile*> pos_deletes, eq_deletes;
  for (const auto& t : plan.tasks) {
    data_paths.push_back(local_path(t.data_file.file_path));
    for (const auto& d : t.position_deletes)
      pos_deletes[d.file_path] = &d;
    for (const auto& d : t.equality_deletes)
      eq_deletes[d.file_path] = &d;
  }
  // Only ask the reader for the file name and row number when something uses them: both cost
  // a column per row.
  bool need_file = with_file || !pos_deletes.empty() || !eq_deletes.empty();
  // By field id (`schema = ...`) unless the files are known to name their columns as the schema
  // does: DuckDB 1.4 scans one file on one thread when given a schema, so a table in a few large
  // files read by id is read on one core (a 4M-row file: 1.1-1.2 s against 0.7-0.8 s by name).
  std::string read = fmt::format(
      "read_parquet({}, {}{}{})", path_list(data_paths),
      plan.read_by_name ? "hive_partitioning = false" : "schema = " + field_id_schema(schema),
      need_file ? ", filename = true" : "", pos_deletes.empty() ? "" : ", file_row_number = true");
  if (plan.read_by_name) {
    cols.clear();
    for (size_t i = 0; i < schema.fields.size(); ++i) {
      const auto& f = schema.fields[i];
      cols += fmt::format("{}CAST(d.{} AS {}) AS {}", i > 0 ? ", " : "", quote_ident(f.name),
                          detail::duckdb_type(*f.type), quote_ident(f.name));
    }
  }
  std::string file_expr = with_file ? fmt::format(", d.filename AS {}", kFileColumn) : "";
  if (pos_deletes.empty() && eq_deletes.empty()) {
    return fmt::format("SELECT {}{} FROM {} AS d", cols, file_expr, read);
  }
  // Deletes: join each row to its file's Iceberg path and data sequence number.
  std::string files = "(VALUES ";
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    const auto& f = plan.tasks[i].data_file;
    files +=
        fmt::format("{}({}, {}, {})", i > 0 ? ", " : "", quote_literal(local_path(f.file_path)),
                    quote_literal(f.file_path), f.data_sequence_number);
  }
  files += ") AS f(read_path, ice_path, seq)";
  std::string where;
  if (!pos_deletes.empty()) {
    std::vector<std::string> paths;
    for (const auto& [p, _] : pos_deletes)
      paths.push_back(local_path(p));
    where += fmt::format(
        " AND NOT EXISTS (SELECT 1 FROM read_parquet({}) AS p WHERE p.file_path = f.ice_path AND "
        "p.pos = d.file_row_number)",
        path_list(paths));
  }
  // Equality deletes, grouped by their equality field ids.
  std::map<std::vector<int>, std::vector<const lake::DataFile*>> groups;
  for (const auto& [_, d] : eq_deletes)
    groups[d->equality_ids].push_back(d);
  for (const auto& [ids, deletes] : groups) {
    lake::Schema eq_schema;
    std::string cond;
    for (int id : ids) {
      const auto* field = schema.find_field(id);
      if (field == nullptr) continue;
      eq_schema.fields.push_back(*field);
      cond += fmt::format(" AND e.{0} IS NOT DISTINCT FROM d.{0}", quote_ident(field->name));
    }
    std::string seqs = "(VALUES ";
    std::vector<std::string> paths;
    for (size_t i = 0; i < deletes.size(); ++i) {
      paths.push_back(local_path(deletes[i]->file_path));
      seqs += fmt::format("{}({}, {})", i > 0 ? ", " : "", quote_literal(paths.back()),
                          deletes[i]->data_sequence_number);
    }
    seqs += ") AS s(path, seq)";
    where += fmt::format(
        " AND NOT EXISTS (SELECT 1 FROM read_parquet({}, schema = {}, filename = true) AS e JOIN "
        "{} ON e.filename = s.path WHERE s.seq > f.seq{})",
        path_list(paths), field_id_schema(eq_schema), seqs, cond);
  }
  return fmt::format("SELECT {}{} FROM {} AS d JOIN {} ON d.filename = f.read_path WHERE true{}",
                     cols, file_expr, read, files, where);
}

// The DuckDB expression computing a partition transform of a column, with Iceberg semantics.
Result<std::string> transform_sql(const std::string& transform, const lake::Type& type,
                                  const std::string& col) {
  const std::string& p = type.primitive;
  bool is_ts = p == "timestamp" || p == "timestamptz";
  if (transform == "identity") return col;
  if (transform == "void") return std::string("CAST(NULL AS INTEGER)");
  if (transform == "year") return fmt::format("CAST(year({}) - 1970 AS INTEGER)", col);
  if (transform == "month") {
    return fmt::format("CAST((year({0}) - 1970) * 12 + month({0}) - 1 AS INTEGER)", col);
  }
  if (transform == "day") {
    // On timestamps, arithmetic on the epoch: a cast to DATE of a timestamptz goes through ICU's
    // calendar, 15x slower (0.25 s against 0.015 s for 2M rows).
    if (is_ts) return fmt::format("CAST(floor(epoch_us({}) / 86400000000) AS INTEGER)", col);
    return fmt::format("CAST(CAST({} AS DATE) - DATE '1970-01-01' AS INTEGER)", col);
  }
  if (transform == "hour" && is_ts) {
    return fmt::format("CAST(floor(epoch_us({}) / 3600000000) AS INTEGER)", col);
  }
  int width = 0;
  if (std::sscanf(transform.c_str(), "bucket[%d]", &width) == 1) {
    if (p == "int" || p == "long")
      return fmt::format("sluice_bucket(CAST({} AS BIGINT), {})", col, width);
    if (p == "date") {
      return fmt::format("sluice_bucket(CAST({} - DATE '1970-01-01' AS BIGINT), {})", col, width);
    }
    if (is_ts || p == "time") {
      return fmt::format("sluice_bucket(epoch_us({}), {})", col, width);
    }
    if (p == "string") return fmt::format("sluice_bucket_str({}, {})", col, width);
  }
  if (std::sscanf(transform.c_str(), "truncate[%d]", &width) == 1) {
    if (p == "int" || p == "long") {
      return fmt::format("({0} - ((({0} % {1}) + {1}) % {1}))", col, width);
    }
    if (p == "string") return fmt::format("left({}, {})", col, width);
  }
  return unimplemented(
      fmt::format("writing with partition transform {} on a {} column is not supported yet",
                  transform, type.to_string()));
}

// FIELD_IDS option value for DuckDB's Parquet writer, nested types included.
std::string field_ids_option(const std::vector<lake::NestedField>& fields);

std::string field_ids_for(const lake::NestedField& f) {
  const auto& t = *f.type;
  if (t.is_primitive()) return std::to_string(f.id);
  std::string out = fmt::format("{{__duckdb_field_id: {}", f.id);
  for (const auto& child : t.fields) {
    out += fmt::format(", {}: {}", quote_ident(child.name), field_ids_for(child));
  }
  return out + "}";
}

std::string field_ids_option(const std::vector<lake::NestedField>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("{}: {}", quote_ident(fields[i].name), field_ids_for(fields[i]));
  }
  return out + "}";
}

bool is_query_keyword(const Token& t) {
  static const std::set<std::string> kRows = {"SELECT",  "WITH",     "FROM",      "VALUES",
                                              "SHOW",    "DESCRIBE", "SUMMARIZE", "PRAGMA",
                                              "EXPLAIN", "TABLE",    "CALL",      "("};
  return kRows.count(t.upper) > 0;
}

std::string text_between(std::string_view stmt, const std::vector<Token>& t, size_t from,
                         size_t to) {
  if (from >= t.size() || from >= to) return "";
  size_t b = t[from].begin;
  size_t e = to < t.size() ? t[to].begin : stmt.size();
  return std::string(stmt.substr(b, e - b));
}

// sluice_bucket(value, n): Iceberg's bucket[n] transform (Iceberg spec: Bucket Transform
// Details) for values hashed as a long (int, long, date days, time/timestamp micros) or as
// UTF-8 bytes (string), so partitioned writes compute the same buckets as every Iceberg engine.
template <bool kString>
void bucket_udf(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  idx_t n = duckdb_data_chunk_get_size(input);
  duckdb_vector values = duckdb_data_chunk_get_vector(input, 0);
  duckdb_vector buckets = duckdb_data_chunk_get_vector(input, 1);
  uint64_t* in_valid = duckdb_vector_get_validity(values);
  uint64_t* n_valid = duckdb_vector_get_validity(buckets);
  auto* nbuckets = static_cast<int32_t*>(duckdb_vector_get_data(buckets));
  auto* out = static_cast<int32_t*>(duckdb_vector_get_data(output));
  duckdb_vector_ensure_validity_writable(output);
  uint64_t* out_valid = duckdb_vector_get_validity(output);
  static const lake::TypePtr kLong = lake::Type::of("long");
  static const lake::TypePtr kStr = lake::Type::of("string");
  for (idx_t i = 0; i < n; ++i) {
    if (!duckdb_validity_row_is_valid(in_valid, i) || !duckdb_validity_row_is_valid(n_valid, i)) {
      duckdb_validity_set_row_invalid(out_valid, i);
      continue;
    }
    lake::Value v;
    if constexpr (kString) {
      auto* s = static_cast<duckdb_string_t*>(duckdb_vector_get_data(values)) + i;
      v = std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s));
    } else {
      v = static_cast<int64_t*>(duckdb_vector_get_data(values))[i];
    }
    auto r =
        lake::apply_transform(fmt::format("bucket[{}]", nbuckets[i]), kString ? *kStr : *kLong, v);
    if (!r.is_ok() || !std::holds_alternative<int32_t>(*r)) {
      duckdb_scalar_function_set_error(
          info, r.is_ok() ? "bucket transform returned a non-int" : r.status().message().c_str());
      return;
    }
    out[i] = std::get<int32_t>(*r);
  }
}

Status register_bucket_udf(duckdb_connection con, const char* name, duckdb_type input,
                           duckdb_scalar_function_t fn) {
  duckdb_scalar_function f = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(f, name);
  duckdb_logical_type in = duckdb_create_logical_type(input);
  duckdb_logical_type i32 = duckdb_create_logical_type(DUCKDB_TYPE_INTEGER);
  duckdb_scalar_function_add_parameter(f, in);
  duckdb_scalar_function_add_parameter(f, i32);
  duckdb_scalar_function_set_return_type(f, i32);
  duckdb_scalar_function_set_function(f, fn);
  auto rc = duckdb_register_scalar_function(con, f);
  duckdb_destroy_logical_type(&in);
  duckdb_destroy_logical_type(&i32);
  duckdb_destroy_scalar_function(&f);
  // A second session on the same database finds the function already there.
  (void)rc;
  return Status::ok();
}

// A DuckDB connection with the lake's functions (the bucket transform's UDFs).
Result<Session> open_engine_session(const std::shared_ptr<Database>& db) {
  SLUICE_ASSIGN_OR_RETURN(auto session, Session::open(db));
  SLUICE_RETURN_IF_ERROR(register_bucket_udf(session.native_connection(), "sluice_bucket",
                                             DUCKDB_TYPE_BIGINT, bucket_udf<false>));
  SLUICE_RETURN_IF_ERROR(register_bucket_udf(session.native_connection(), "sluice_bucket_str",
                                             DUCKDB_TYPE_VARCHAR, bucket_udf<true>));
  return session;
}

// The hot-table cache's process-wide accounting: every session's copies count against the
// budget of the session making a new copy.
struct TableCacheGlobals {
  std::mutex mu;
  int64_t bytes = 0;
  int64_t tables = 0;
  std::atomic<int64_t> hits{0};
  std::atomic<int64_t> loads{0};
};
TableCacheGlobals& table_cache_globals() {
  static TableCacheGlobals g;
  return g;
}

constexpr const char* kCacheSchema = "__sluice_cache";

// Split partitioned writes (WriteOptions::shareable_source): at least this many rows, over at
// most this many connections.
constexpr int64_t kSplitWriteMinRows = 200000;
constexpr int kMaxWriteSplits = 4;

}  // namespace

TableCacheStats table_cache_stats() {
  auto& g = table_cache_globals();
  std::lock_guard lock(g.mu);
  return {g.bytes, g.tables, g.hits.load(), g.loads.load()};
}

struct LakeSession::Impl {
  std::shared_ptr<lake::Catalog> catalog;
  std::shared_ptr<Database> db;
  Session session;
  LakeSessionOptions options;
  // Views bound in DuckDB: "ns.name" -> metadata location they were built from.
  std::map<std::string, std::string> bound;
  int view_depth = 0;  // nesting of saved views being expanded

  // Hot-table cache (LakeSessionOptions::cache_bytes): "ns.name" -> in-memory copy of one
  // snapshot, and the reads counted towards making one.
  struct CachedCopy {
    lake::TableIdent ident;
    std::string snapshot_key;  // table uuid : snapshot id : schema id
    int64_t bytes = 0;
    uint64_t last_use = 0;
  };
  std::map<std::string, CachedCopy> cache;
  std::map<std::string, std::pair<std::string, int>> reads;  // -1 reads: does not fit
  uint64_t use_clock = 0;
  // Copies the statement being bound reads: never evicted while it is bound and run.
  std::set<std::string> pinned;
  bool counting_reads = true;  // false while binding for catalog listings

  explicit Impl(Session s) : session(std::move(s)) {}
  ~Impl() {
    while (!cache.empty())
      drop_copy(cache.begin()->first);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  static std::string copy_ref(const std::string& key) {
    return fmt::format("{}.{}", kCacheSchema, quote_ident(key));
  }

  void drop_copy(const std::string& key) {
    auto it = cache.find(key);
    if (it == cache.end()) return;
    (void)session.execute(fmt::format("DROP TABLE IF EXISTS {}", copy_ref(key)));
    {
      auto& g = table_cache_globals();
      std::lock_guard lock(g.mu);
      g.bytes -= it->second.bytes;
      g.tables -= 1;
    }
    auto b = bound.find(key);
    if (b != bound.end() && b->second.rfind("cache:", 0) == 0) {
      // The view read the copy: gone with it, re-made by the next read.
      bound.erase(b);
      (void)session.execute(fmt::format("DROP VIEW IF EXISTS {}.{}",
                                        quote_ident(it->second.ident.ns),
                                        quote_ident(it->second.ident.name)));
    }
    cache.erase(it);
  }

  // Memory DuckDB holds in in-memory tables (the copies) right now.
  int64_t in_memory_table_bytes() {
    auto r = session.query(
        "SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'");
    if (!r.is_ok() || r->rows.empty() || !r->rows[0][0]) return 0;
    return std::stoll(*r->rows[0][0]);
  }

  // Makes room for `bytes` under the budget (dropping this session's least recently used
  // copies other than `keep`) and accounts for them; false when they cannot fit.
  bool reserve(int64_t bytes, const std::string& keep) {
    auto& g = table_cache_globals();
    for (;;) {
      {
        std::lock_guard lock(g.mu);
        if (g.bytes + bytes <= options.cache_bytes) {
          g.bytes += bytes;
          return true;
        }
      }
      std::string victim;
      uint64_t oldest = UINT64_MAX;
      for (const auto& [k, c] : cache) {
        if (k != keep && !pinned.count(k) && c.last_use < oldest) {
          oldest = c.last_use;
          victim = k;
        }
      }
      if (victim.empty()) return false;
      log::debug("table cache: evicted", {log::kv("table", victim)});
      drop_copy(victim);
    }
  }
  void unreserve(int64_t bytes) {
    auto& g = table_cache_globals();
    std::lock_guard lock(g.mu);
    g.bytes -= bytes;
  }

  // True when reads of `table`'s current snapshot go to an in-memory copy (made now if this is
  // the read that makes the table hot and it fits the budget).
  bool use_cache(const lake::TableIdent& id, const lake::Table& table) {
    const auto& md = table.metadata();
    if (options.cache_bytes <= 0 || !md.current_snapshot_id) return false;
    std::string key = id.to_string();
    std::string snap =
        fmt::format("{}:{}:{}", md.table_uuid, *md.current_snapshot_id, md.current_schema_id);
    auto c = cache.find(key);
    if (c != cache.end() && c->second.snapshot_key != snap) {
      drop_copy(key);  // stale: a commit, schema change or rollback since it was made
      c = cache.end();
    }
    if (c != cache.end()) {
      if (counting_reads) {
        pinned.insert(key);
        c->second.last_use = ++use_clock;
        table_cache_globals().hits.fetch_add(1);
      }
      return true;
    }
    if (!counting_reads) return false;
    auto& r = reads[key];
    if (r.first != snap) r = {snap, 0};
    if (r.second < 0 || ++r.second < std::max(1, options.cache_min_reads)) return false;
    auto plan = table.plan_scan({});
    if (!plan.is_ok()) return false;  // the normal read reports the error
    int64_t on_disk = 0;
    for (const auto& t : plan->tasks)
      on_disk += t.data_file.file_size_in_bytes;
    // The copy is at least as big as the compressed files: reserve that much first.
    if (!reserve(on_disk, key)) {
      r.second = -1;
      return false;
    }
    int64_t before = in_memory_table_bytes();
    Status st = session.execute(
        fmt::format("CREATE SCHEMA IF NOT EXISTS {}; CREATE OR REPLACE TABLE {} AS {}",
                    kCacheSchema, copy_ref(key), scan_sql(*plan, false)));
    unreserve(on_disk);
    if (!st.is_ok()) {
      log::debug("table cache: copy failed",
                 {log::kv("table", key), log::kv("error", st.to_string())});
      r.second = -1;
      return false;
    }
    int64_t bytes = std::max<int64_t>(in_memory_table_bytes() - before, 0);
    if (!reserve(bytes, key)) {
      (void)session.execute(fmt::format("DROP TABLE IF EXISTS {}", copy_ref(key)));
      r.second = -1;
      return false;
    }
    {
      auto& g = table_cache_globals();
      std::lock_guard lock(g.mu);
      g.tables += 1;
    }
    table_cache_globals().loads.fetch_add(1);
    cache[key] = CachedCopy{id, snap, bytes, ++use_clock};
    pinned.insert(key);
    log::debug("table cache: loaded",
               {log::kv("table", key), log::kv("snapshot", *md.current_snapshot_id),
                log::kv("bytes", bytes)});
    return true;
  }

  bool reads_cached_copy(const lake::TableIdent& id) const {
    auto b = bound.find(id.to_string());
    return b != bound.end() && b->second.rfind("cache:", 0) == 0;
  }

  Result<std::set<std::string>> namespaces() {
    SLUICE_ASSIGN_OR_RETURN(auto list, catalog->list_namespaces());
    return std::set<std::string>(list.begin(), list.end());
  }

  // (Re)creates the DuckDB view of a lake table's current snapshot if it changed.
  Status bind_current(const lake::TableIdent& id) {
    SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(id));
    auto key = id.to_string();
    bool cached = use_cache(id, table);
    std::string source =
        cached ? "cache:" + cache[key].snapshot_key : std::string(table.metadata_location());
    auto it = bound.find(key);
    if (it != bound.end() && it->second == source) return Status::ok();
    std::string body;
    if (cached) {
      body = "SELECT * FROM " + copy_ref(key);
    } else {
      SLUICE_ASSIGN_OR_RETURN(auto plan, table.plan_scan({}));
      body = scan_sql(plan, false);
    }
    SLUICE_RETURN_IF_ERROR(session.execute(
        fmt::format("CREATE SCHEMA IF NOT EXISTS {}; CREATE OR REPLACE VIEW {}.{} AS {}",
                    quote_ident(id.ns), quote_ident(id.ns), quote_ident(id.name), body)));
    bound[key] = source;
    return Status::ok();
  }

  Status unbind(const lake::TableIdent& id) {
    drop_copy(id.to_string());
    reads.erase(id.to_string());
    bound.erase(id.to_string());
    return session.execute(
        fmt::format("DROP VIEW IF EXISTS {}.{}", quote_ident(id.ns), quote_ident(id.name)));
  }

  // Binds every lake table the statement names and rewrites `AT (VERSION|TIMESTAMP => ...)`
  // into references to snapshot views. Returns the SQL to run.
  Result<std::string> bind(std::string_view stmt) {
    if (view_depth == 0) pinned.clear();
    auto tokens = detail::tokenize(stmt);
    SLUICE_ASSIGN_OR_RETURN(auto nss, namespaces());
    std::string out;
    size_t copied = 0;
    auto names = detail::qualified_names(tokens);
    std::map<std::string, int> uses;
    for (const auto& qn : names)
      ++uses[qn.ns + "." + qn.name];
    bool is_query = !tokens.empty() && (tokens[0].is("SELECT") || tokens[0].is("FROM"));
    for (const auto& qn : names) {
      if (nss.count(qn.ns) == 0) continue;
      lake::TableIdent id{qn.ns, qn.name};
      if (!catalog->table_exists(id)) {
        if (auto view = load_lake_view(*catalog, id)) {
          // A saved view: expanded (with its own lake tables bound) into a DuckDB view.
          if (view_depth > 16) {
            return invalid_argument(
                fmt::format("view {} expands into itself (views nested too deep)", id.to_string()));
          }
          ++view_depth;
          auto body = bind(*view);
          --view_depth;
          if (!body.is_ok()) return body.status().with_context("view " + id.to_string());
          bound.erase(id.to_string());
          SLUICE_RETURN_IF_ERROR(session.execute(
              fmt::format("CREATE SCHEMA IF NOT EXISTS {}; CREATE OR REPLACE VIEW {}.{} AS {}",
                          quote_ident(id.ns), quote_ident(id.ns), quote_ident(id.name), *body)));
          continue;
        }
        SLUICE_RETURN_IF_ERROR(unbind(id));
        SLUICE_ASSIGN_OR_RETURN(auto tables, catalog->list_tables(id.ns));
        std::vector<std::string> names;
        for (const auto& t : tables)
          names.push_back(t.name);
        return not_found(
            fmt::format("table {} does not exist (tables in {}: {})", id.to_string(), id.ns,
                        names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
      }
      SLUICE_RETURN_IF_ERROR(bind_current(id));
      // A time travel clause right after the name?
      size_t next = 0;
      while (next < tokens.size() && tokens[next].begin < qn.end)
        ++next;
      // The clause may follow an alias: `t AT (...)`, `t AS x AT (...)` or `t x AT (...)`.
      size_t alias_begin = next;
      if (next < tokens.size() && tokens[next].is("AS")) {
        next += 2;
      } else if (next + 1 < tokens.size() && tokens[next].ident() && !tokens[next].is("AT") &&
                 tokens[next + 1].is("AT")) {
        next += 1;
      }
      if (next + 1 >= tokens.size() || !tokens[next].is("AT") || !tokens[next + 1].sym("(")) {
        // A single-table query with simple filters: plan with them so that files whose
        // partition values or column bounds rule them out are never opened.
        // A table read from its in-memory copy needs no pruning (DuckDB skips by zone maps).
        if (!is_query || uses[id.to_string()] != 1 || reads_cached_copy(id)) continue;
        SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(id));
        auto preds =
            detail::extract_predicates(session, stmt, id, table.metadata().current_schema());
        if (preds.empty()) continue;
        lake::ScanOptions opts;
        opts.filter = std::move(preds);
        SLUICE_ASSIGN_OR_RETURN(auto plan, table.plan_scan(opts));
        if (plan.files_skipped == 0) continue;
        std::string view_name = id.name + "@pruned";
        SLUICE_RETURN_IF_ERROR(
            session.execute(fmt::format("CREATE OR REPLACE VIEW {}.{} AS {}", quote_ident(id.ns),
                                        quote_ident(view_name), scan_sql(plan, false))));
        out += std::string(stmt.substr(copied, qn.begin - copied));
        out += quote_ident(id.ns) + "." + quote_ident(view_name);
        copied = qn.end;
        continue;
      }
      size_t close = detail::matching_paren(tokens, next + 1);
      if (close >= tokens.size() || next + 3 >= close || !tokens[next + 3].sym("=>")) {
        return invalid_argument(fmt::format(
            "time travel on {}: write AT (VERSION => <snapshot id>) or AT (TIMESTAMP => "
            "<timestamp>)",
            id.to_string()));
      }
      const Token& unit = tokens[next + 2];
      std::string expr = text_between(stmt, tokens, next + 4, close);
      lake::ScanOptions opts;
      if (unit.is("VERSION")) {
        char* end = nullptr;
        long long v = std::strtoll(expr.c_str(), &end, 10);
        if (expr.empty() || *end != '\0') {
          return invalid_argument(fmt::format(
              "time travel on {}: VERSION must be a snapshot id, got '{}'", id.to_string(), expr));
        }
        opts.snapshot_id = v;
      } else if (unit.is("TIMESTAMP")) {
        auto r = session.query(fmt::format("SELECT epoch_ms(CAST(({}) AS TIMESTAMPTZ))", expr));
        if (!r.is_ok()) {
          return r.status().with_context(
              fmt::format("time travel on {}: TIMESTAMP '{}'", id.to_string(), expr));
        }
        opts.as_of_ms = std::stoll(r->rows.at(0).at(0).value_or("0"));
      } else {
        return invalid_argument(
            fmt::format("time travel on {}: unknown unit {} (use VERSION or TIMESTAMP)",
                        id.to_string(), unit.text));
      }
      SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(id));
      auto plan = table.plan_scan(opts);
      if (!plan.is_ok()) return plan.status().with_context(id.to_string());
      if (!plan->snapshot_id) {
        return not_found(fmt::format("{} has no snapshot at {}", id.to_string(), expr));
      }
      std::string view_name = fmt::format("{}@{}", id.name, *plan->snapshot_id);
      SLUICE_RETURN_IF_ERROR(
          session.execute(fmt::format("CREATE OR REPLACE VIEW {}.{} AS {}", quote_ident(id.ns),
                                      quote_ident(view_name), scan_sql(*plan, false))));
      out += std::string(stmt.substr(copied, qn.begin - copied));
      out += quote_ident(id.ns) + "." + quote_ident(view_name);
      if (alias_begin < next) {
        out += " " + std::string(stmt.substr(tokens[alias_begin].begin,
                                             tokens[next - 1].end - tokens[alias_begin].begin));
      }
      copied = tokens[close].end;
    }
    out += std::string(stmt.substr(copied));
    return out;
  }

  Result<lake::TableIdent> lake_target(const std::vector<Token>& t, size_t i,
                                       const std::set<std::string>& nss) {
    if (i + 2 >= t.size() || !t[i].ident() || !t[i + 1].sym(".") || !t[i + 2].ident()) {
      return invalid_argument("expected a table name zone.table");
    }
    if (nss.count(t[i].text) == 0) return not_found("not a lake namespace");
    return lake::TableIdent{t[i].text, t[i + 2].text};
  }

  Result<engine::QueryResult> describe(const std::string& select) {
    return session.query(fmt::format("DESCRIBE {}", select));
  }

  Result<std::vector<lake::DataFile>> write_files(const lake::Table& table,
                                                  std::string_view select_sql,
                                                  const WriteOptions& write = {});
  Result<StatementResult> create_table(std::string_view stmt, const std::vector<Token>& t);
  Result<StatementResult> insert(std::string_view stmt, const std::vector<Token>& t);
  Result<StatementResult> delete_or_update(std::string_view stmt, const std::vector<Token>& t,
                                           bool is_update);
  Result<StatementResult> merge(std::string_view stmt, const std::vector<Token>& t);
  Result<StatementResult> alter(std::string_view stmt, const std::vector<Token>& t);
  Result<StatementResult> run(std::string_view stmt);
};

// --- writing data files ------------------------------------------------------------------------

Result<std::vector<lake::DataFile>> LakeSession::Impl::write_files(const lake::Table& table,
                                                                   std::string_view select_sql,
                                                                   const WriteOptions& write) {
  const auto& md = table.metadata();
  const auto& schema = md.current_schema();
  const auto& spec = md.default_spec();

  std::string select = "SELECT ";
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    const auto& f = schema.fields[i];
    if (i > 0) select += ", ";
    select += fmt::format("CAST(__q.{0} AS {1}) AS {0}", quote_ident(f.name),
                          detail::duckdb_type(*f.type));
  }
  std::vector<std::string> part_cols;
  for (size_t k = 0; k < spec.fields.size(); ++k) {
    const auto& pf = spec.fields[k];
    const auto* src = schema.find_field(pf.source_id);
    if (src == nullptr) {
      return invalid_argument(fmt::format("{}: partition field {} has no source column",
                                          table.ident().to_string(), pf.name));
    }
    SLUICE_ASSIGN_OR_RETURN(auto expr, transform_sql(pf.transform, *src->type,
                                                     "CAST(__q." + quote_ident(src->name) + " AS " +
                                                         detail::duckdb_type(*src->type) + ")"));
    part_cols.push_back(fmt::format("__p{}", k));
    select += fmt::format(", {} AS __p{}", expr, k);
  }
  select += fmt::format(" FROM ({}) AS __q", select_sql);

  // The codec: the caller's override, else the table's property, else the session's setting.
  SLUICE_ASSIGN_OR_RETURN(auto props,
                          lake::write_properties(md.properties, table.ident().to_string()));
  // Clustering a partitioned write by partition (Iceberg's write.distribution-mode, `hash` by
  // default) makes one file per partition, and the write itself faster: with rows in any order,
  // DuckDB writes a file per partition per thread and starts new ones each time its open-file
  // limit makes it close some (a 2M-row day-partitioned write: 370 files sorted, 1,000-1,400
  // not, and 1.6 s instead of 2.4 s).
  std::string order_by;
  if (!part_cols.empty() && props.cluster_by_partition) {
    order_by = " ORDER BY ";
    for (size_t k = 0; k < part_cols.size(); ++k)
      order_by += (k > 0 ? ", " : "") + part_cols[k];
  }
  std::string_view codec = !write.compression.empty()   ? write.compression
                           : !props.compression.empty() ? std::string_view(props.compression)
                                                        : std::string_view(options.compression);
  const int64_t file_size = props.target_file_size_bytes > 0 ? props.target_file_size_bytes
                                                             : options.target_file_size_bytes;
  // A partitioned write from a shareable source is split by partition (a hash of the partition
  // values) over parallel connections: DuckDB's partitioned COPY keeps about one core busy (a
  // file per partition, written one at a time); a 2.1M-row, 367-file copy took 1.08-1.42 s split
  // over two connections on two cores, 1.47-1.56 s not. Each split has its own folder; no
  // partition is in two splits, so the files are as many as unsplit.
  int splits = 1;
  if (!part_cols.empty() && write.shareable_source && write.max_rows_per_file == 0) {
    SLUICE_ASSIGN_OR_RETURN(
        auto r, session.query(fmt::format("SELECT current_setting('threads'), (SELECT count(*) "
                                          "FROM ({}) AS __c)",
                                          select_sql)));
    int threads = std::stoi(r.rows.at(0).at(0).value_or("1"));
    int64_t rows = std::stoll(r.rows.at(0).at(1).value_or("0"));
    if (rows >= kSplitWriteMinRows) splits = std::clamp(threads, 1, kMaxWriteSplits);
  }
  auto t_copy = std::chrono::steady_clock::now();
  std::string write_id = random_hex(16);
  std::vector<std::filesystem::path> dirs;
  for (int i = 0; i < splits; ++i) {
    dirs.push_back(table.data_dir() /
                   ("w-" + write_id + (i == 0 ? std::string() : fmt::format("-{}", i))));
  }
  std::string opts = fmt::format("FORMAT parquet, COMPRESSION {}, FIELD_IDS {}", codec,
                                 field_ids_option(schema.fields));
  if (write.max_rows_per_file > 0) {
    opts += fmt::format(", ROW_GROUP_SIZE {}, ROW_GROUPS_PER_FILE 1", write.max_rows_per_file);
  }
  if (part_cols.empty()) {
    // DuckDB cannot rotate files within PARTITION_BY: a partitioned write makes one file per
    // partition (per thread), and compaction merges small ones.
    opts += fmt::format(", FILE_SIZE_BYTES {}", file_size);
  } else {
    opts += ", PARTITION_BY (";
    for (size_t k = 0; k < part_cols.size(); ++k)
      opts += (k > 0 ? ", " : "") + part_cols[k];
    opts += ")";
  }
  std::error_code ec;
  std::filesystem::create_directories(table.data_dir(), ec);
  auto remove_dirs = [&] {
    for (const auto& d : dirs)
      std::filesystem::remove_all(d, ec);
  };
  // Per-file statistics come with the write (RETURN_STATS: one row per file) when DuckDB's
  // give all the footer has for this schema; else, and for any file they miss, from a re-read
  // of the new files' footers.
  const bool returned = detail::return_stats_complete(schema);
  auto copy_sql = [&](int i) {
    std::string rows = select + order_by;
    if (splits > 1) {
      rows = fmt::format("SELECT * FROM ({}) AS __w WHERE hash({}) % {} = {}{}", select,
                         fmt::join(part_cols, ", "), splits, i, order_by);
    }
    return fmt::format("COPY ({}) TO {} ({}, FILENAME_PATTERN {}{})", rows,
                       quote_literal(dirs[i].string()), opts,
                       quote_literal(write_id + (i == 0 ? "" : fmt::format("-{}", i)) + "-{i}"),
                       returned ? ", RETURN_STATS" : "");
  };
  auto run_copy = [&](Session& on, int i) -> Result<std::map<std::string, detail::FileStats>> {
    if (returned) return detail::copy_returning_stats(on, schema, copy_sql(i));
    SLUICE_RETURN_IF_ERROR(on.execute(copy_sql(i)));
    return std::map<std::string, detail::FileStats>{};
  };
  std::map<std::string, detail::FileStats> stats;
  {
    std::vector<Result<std::map<std::string, detail::FileStats>>> results;
    std::vector<Result<Session>> others;
    for (int i = 1; i < splits; ++i)
      others.push_back(open_engine_session(db));
    std::vector<std::thread> threads;
    results.resize(splits, Result<std::map<std::string, detail::FileStats>>(
                               internal_error("the split write did not run")));
    for (int i = 1; i < splits; ++i) {
      if (!others[i - 1].is_ok()) {
        results[i] = others[i - 1].status();
        continue;
      }
      threads.emplace_back([&, i] { results[i] = run_copy(*others[i - 1], i); });
    }
    results[0] = run_copy(session, 0);
    for (auto& t : threads)
      t.join();
    for (auto& r : results) {
      if (!r.is_ok()) {
        remove_dirs();
        return r.status();
      }
      stats.merge(std::move(r).value());
    }
  }
  log::debug(
      "lake files written",
      {log::kv("table", table.ident().to_string()), log::kv("splits", splits),
       log::kv("seconds",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t_copy).count())});
  std::vector<std::string> paths;
  for (const auto& dir : dirs) {
    if (!std::filesystem::exists(dir, ec)) continue;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.is_regular_file() && e.path().extension() == ".parquet") {
        paths.push_back(e.path().string());
      }
    }
  }
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) {
    remove_dirs();
    return std::vector<lake::DataFile>{};
  }
  bool complete = returned && stats.size() == paths.size();
  for (size_t i = 0; complete && i < paths.size(); ++i)
    complete = stats.count(paths[i]) > 0;
  if (!complete) {
    SLUICE_ASSIGN_OR_RETURN(stats, detail::footer_stats(session, schema, paths));
  }

  std::vector<lake::DataFile> out;
  for (const auto& path : paths) {
    auto& fs = stats.at(path);
    lake::DataFile df = std::move(fs.file);
    df.file_path = path;
    df.spec_id = spec.spec_id;
    df.file_size_in_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
    if (df.record_count == 0) {
      std::filesystem::remove(path, ec);
      continue;
    }
    const std::map<int, lake::Value>& lower = fs.lower;
    for (const auto& f : schema.fields) {
      if (f.required && df.null_value_counts[f.id] > 0) {
        remove_dirs();
        return invalid_argument(fmt::format(
            "column '{}' of {} is NOT NULL but the statement produced {} NULL value(s); nothing "
            "was committed",
            f.name, table.ident().to_string(), df.null_value_counts[f.id]));
      }
    }
    // Partition values: from the source column's bounds (every transform but bucket is
    // monotonic, so all rows of a file share transform(min)), from the folder name for bucket,
    // and by reading the file when bounds are missing.
    for (size_t k = 0; k < spec.fields.size(); ++k) {
      const auto& pf = spec.fields[k];
      const auto* src = schema.find_field(pf.source_id);
      lake::Value v = lake::Null{};
      bool all_null = df.null_value_counts[pf.source_id] == df.record_count;
      if (pf.transform.rfind("bucket", 0) == 0 || pf.transform == "void" || !all_null) {
        auto lo = lower.find(pf.source_id);
        if (pf.transform.rfind("bucket", 0) == 0) {
          std::string marker = fmt::format("/__p{}=", k);
          auto pos = path.find(marker);
          if (pos != std::string::npos) {
            std::string text = path.substr(pos + marker.size());
            text = text.substr(0, text.find('/'));
            if (text != "NULL") v = static_cast<int32_t>(std::stol(text));
          }
        } else if (pf.transform == "void") {
          v = lake::Null{};
        } else if (lo != lower.end()) {
          SLUICE_ASSIGN_OR_RETURN(v, lake::apply_transform(pf.transform, *src->type, lo->second));
        } else {
          SLUICE_ASSIGN_OR_RETURN(
              auto r, session.query(fmt::format(
                          "SELECT CAST({} AS VARCHAR) FROM read_parquet({}, schema = {}) LIMIT 1",
                          transform_sql(pf.transform, *src->type, quote_ident(src->name)).value(),
                          quote_literal(path), field_id_schema(schema))));
          if (!r.rows.empty() && r.rows[0][0]) {
            SLUICE_ASSIGN_OR_RETURN(auto rt, lake::transform_result_type(pf.transform, *src->type));
            auto parsed = detail::parse_stat_value(*rt, *r.rows[0][0]);
            if (parsed) v = *parsed;
          }
        }
      }
      df.partition.push_back(v);
    }
    out.push_back(std::move(df));
  }
  return out;
}

// --- statements ----------------------------------------------------------------------------

namespace {

// "day(ts)", "bucket(16, id)", "truncate(4, name)", "ts", Spark's "days(ts)" -> (column,
// transform).
Result<std::vector<std::pair<std::string, std::string>>> parse_partition_by(
    const std::vector<Token>& t, size_t open, size_t close) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = open + 1;
  while (i < close) {
    if (!t[i].ident()) {
      return invalid_argument(fmt::format("PARTITIONED BY: unexpected '{}'", t[i].text));
    }
    if (i + 1 < close && t[i + 1].sym("(")) {
      std::string fn = t[i].upper;
      size_t c = detail::matching_paren(t, i + 1);
      std::vector<std::string> args;
      for (size_t j = i + 2; j < c; ++j) {
        if (!t[j].sym(",")) args.push_back(t[j].text);
      }
      static const std::map<std::string, std::string> kTime = {
          {"YEAR", "year"}, {"YEARS", "year"}, {"MONTH", "month"}, {"MONTHS", "month"},
          {"DAY", "day"},   {"DAYS", "day"},   {"HOUR", "hour"},   {"HOURS", "hour"}};
      if (kTime.count(fn) && args.size() == 1) {
        out.emplace_back(args[0], kTime.at(fn));
      } else if ((fn == "BUCKET" || fn == "TRUNCATE") && args.size() == 2) {
        // Both argument orders occur in the wild: bucket(16, id) (Spark) and bucket(id, 16).
        bool first_is_num =
            !args[0].empty() && std::isdigit(static_cast<unsigned char>(args[0][0]));
        const auto& n = first_is_num ? args[0] : args[1];
        const auto& col = first_is_num ? args[1] : args[0];
        out.emplace_back(col, fmt::format("{}[{}]", fn == "BUCKET" ? "bucket" : "truncate", n));
      } else if (fn == "IDENTITY" && args.size() == 1) {
        out.emplace_back(args[0], "identity");
      } else {
        return invalid_argument(fmt::format(
            "PARTITIONED BY: unknown transform {}(...); use identity, year, month, day, hour, "
            "bucket(N, col) or truncate(W, col)",
            t[i].text));
      }
      i = c + 1;
    } else {
      out.emplace_back(t[i].text, "identity");
      ++i;
    }
    if (i < close && t[i].sym(",")) ++i;
  }
  return out;
}

// WITH ('k' = 'v', ...) / TBLPROPERTIES (...)
std::map<std::string, std::string> parse_properties(const std::vector<Token>& t, size_t open,
                                                    size_t close) {
  std::map<std::string, std::string> out;
  for (size_t i = open + 1; i + 2 < close + 1; ++i) {
    if ((t[i].kind == Token::Kind::kString || t[i].ident()) && t[i + 1].sym("=")) {
      out[t[i].text] = t[i + 2].text;
      i += 2;
    }
  }
  return out;
}

}  // namespace

Result<StatementResult> LakeSession::Impl::create_table(std::string_view stmt,
                                                        const std::vector<Token>& t) {
  SLUICE_ASSIGN_OR_RETURN(auto nss, namespaces());
  size_t i = 1;
  if (t[i].is("OR")) {
    return unimplemented(
        "CREATE OR REPLACE TABLE on a lake table is not supported; DROP TABLE it first, or use "
        "INSERT/DELETE to change its rows");
  }
  ++i;  // TABLE
  bool if_not_exists = false;
  if (t[i].is("IF")) {
    if_not_exists = true;
    i += 3;
  }
  SLUICE_ASSIGN_OR_RETURN(auto id, lake_target(t, i, nss));
  i += 3;
  lake::CreateTableOptions copts;
  std::vector<detail::ColumnDef> columns;
  std::string as_select;
  while (i < t.size()) {
    if (t[i].sym("(") && columns.empty() && as_select.empty()) {
      size_t c = detail::matching_paren(t, i);
      std::string defs = text_between(stmt, t, i + 1, c);
      // DuckDB parses the column definitions for us, on a scratch table.
      std::string probe = "__sluice_probe_" + random_hex(8);
      SLUICE_RETURN_IF_ERROR(session.execute(fmt::format("CREATE TEMP TABLE {} ({})", probe, defs))
                                 .with_context(fmt::format("CREATE TABLE {}", id.to_string())));
      auto cols = session.query(fmt::format(
          "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE "
          "table_name = '{}' ORDER BY ordinal_position",
          probe));
      (void)session.execute(fmt::format("DROP TABLE IF EXISTS {}", probe));
      if (!cols.is_ok()) return cols.status();
      for (const auto& r : cols->rows) {
        columns.push_back({*r[0], *r[1], r[2].value_or("YES") == "NO"});
      }
      i = c + 1;
    } else if (t[i].is("PARTITIONED") && i + 2 < t.size() && t[i + 1].is("BY")) {
      size_t c = detail::matching_paren(t, i + 2);
      SLUICE_ASSIGN_OR_RETURN(copts.partition_by, parse_partition_by(t, i + 2, c));
      i = c + 1;
    } else if ((t[i].is("WITH") || t[i].is("TBLPROPERTIES")) && i + 1 < t.size() &&
               t[i + 1].sym("(")) {
      size_t c = detail::matching_paren(t, i + 1);
      copts.properties = parse_properties(t, i + 1, c);
      i = c + 1;
    } else if (t[i].is("AS")) {
      as_select = text_between(stmt, t, i + 1, t.size());
      break;
    } else {
      return invalid_argument(fmt::format("CREATE TABLE {}: unexpected '{}' at position {}",
                                          id.to_string(), t[i].text, t[i].begin + 1));
    }
  }
  if (catalog->table_exists(id)) {
    if (if_not_exists) return StatementResult{.tag = "CREATE TABLE"};
    return already_exists(fmt::format("table {} already exists", id.to_string()));
  }
  std::string bound_select;
  if (!as_select.empty()) {
    SLUICE_ASSIGN_OR_RETURN(bound_select, bind(as_select));
    auto desc = describe(bound_select);
    if (!desc.is_ok())
      return desc.status().with_context(fmt::format("CREATE TABLE {}", id.to_string()));
    if (!columns.empty()) {
      return invalid_argument(
          fmt::format("CREATE TABLE {}: give either column definitions or AS SELECT, not both",
                      id.to_string()));
    }
    for (const auto& r : desc->rows)
      columns.push_back({*r[0], *r[1], false});
  }
  if (columns.empty()) {
    return invalid_argument(fmt::format(
        "CREATE TABLE {}: no columns (give (col type, ...) or AS SELECT)", id.to_string()));
  }
  auto schema = detail::schema_from_columns(columns);
  if (!schema.is_ok()) {
    return schema.status().with_context(fmt::format("CREATE TABLE {}", id.to_string()));
  }
  SLUICE_ASSIGN_OR_RETURN(auto table, catalog->create_table(id, *schema, copts));
  StatementResult res{.tag = "CREATE TABLE"};
  if (!bound_select.empty()) {
    auto files = write_files(table, bound_select);
    if (files.is_ok() && !files->empty()) {
      Status st = table.append(*files);
      if (!st.is_ok()) files = st;
    }
    if (!files.is_ok()) {
      // CREATE TABLE AS is all or nothing: the empty table goes too.
      (void)catalog->drop_table(id, true);
      return files.status().with_context(fmt::format("CREATE TABLE {} AS", id.to_string()));
    }
    int64_t n = 0;
    for (const auto& f : *files)
      n += f.record_count;
    res.rows_affected = n;
    res.tag = fmt::format("SELECT {}", n);
    SLUICE_RETURN_IF_ERROR(table.refresh());
    res.snapshot_id = table.metadata().current_snapshot_id;
  }
  return res;
}

Result<StatementResult> LakeSession::Impl::insert(std::string_view stmt,
                                                  const std::vector<Token>& t) {
  SLUICE_ASSIGN_OR_RETURN(auto nss, namespaces());
  // INSERT INTO ns.t [(c1, c2)] <query>
  size_t i = 2;
  SLUICE_ASSIGN_OR_RETURN(auto id, lake_target(t, i, nss));
  i += 3;
  auto table = catalog->load_table(id);
  if (!table.is_ok()) return table.status();
  const auto& schema = table->metadata().current_schema();
  std::vector<std::string> target;
  if (i < t.size() && t[i].sym("(")) {
    size_t c = detail::matching_paren(t, i);
    // A parenthesis right after the name is a column list unless it starts a query.
    if (i + 1 < t.size() && !t[i + 1].is("SELECT") && !t[i + 1].is("WITH")) {
      for (size_t j = i + 1; j < c; ++j) {
        if (t[j].ident()) {
          if (schema.find_field(t[j].text) == nullptr) {
            return invalid_argument(fmt::format("INSERT INTO {}: no column '{}' (columns: {})",
                                                id.to_string(), t[j].text, column_list(schema)));
          }
          target.push_back(t[j].text);
        }
      }
      i = c + 1;
    }
  }
  if (target.empty()) {
    for (const auto& f : schema.fields)
      target.push_back(f.name);
  }
  std::string query = text_between(stmt, t, i, t.size());
  if (query.empty())
    return invalid_argument(fmt::format("INSERT INTO {}: no query", id.to_string()));
  SLUICE_ASSIGN_OR_RETURN(auto bound_query, bind(query));
  auto desc = describe(bound_query);
  if (!desc.is_ok())
    return desc.status().with_context(fmt::format("INSERT INTO {}", id.to_string()));
  if (desc->rows.size() != target.size()) {
    return invalid_argument(
        fmt::format("INSERT INTO {}: the query returns {} column(s) but {} are expected ({})",
                    id.to_string(), desc->rows.size(), target.size(), fmt::join(target, ", ")));
  }
  std::string aliases;
  for (size_t k = 0; k < target.size(); ++k)
    aliases += (k ? ", " : "") + fmt::format("__c{}", k);
  std::string select = "SELECT ";
  for (size_t k = 0; k < schema.fields.size(); ++k) {
    const auto& f = schema.fields[k];
    auto pos = std::find(target.begin(), target.end(), f.name) - target.begin();
    select += (k ? ", " : "");
    if (static_cast<size_t>(pos) < target.size()) {
      select += fmt::format("__src.__c{} AS {}", pos, quote_ident(f.name));
    } else {
      select += fmt::format("NULL AS {}", quote_ident(f.name));
    }
  }
  select += fmt::format(" FROM ({}) AS __src({})", bound_query, aliases);
  auto files = write_files(*table, select);
  if (!files.is_ok())
    return files.status().with_context(fmt::format("INSERT INTO {}", id.to_string()));
  int64_t n = 0;
  for (const auto& f : *files)
    n += f.record_count;
  StatementResult res{.tag = fmt::format("INSERT 0 {}", n), .rows_affected = n};
  if (!files->empty()) {
    SLUICE_RETURN_IF_ERROR(table->append(*files).with_context(id.to_string()));
    SLUICE_RETURN_IF_ERROR(table->refresh());
    res.snapshot_id = table->metadata().current_snapshot_id;
  }
  return res;
}

Result<StatementResult> LakeSession::Impl::delete_or_update(std::string_view stmt,
                                                            const std::vector<Token>& t,
                                                            bool is_update) {
  SLUICE_ASSIGN_OR_RETURN(auto nss, namespaces());
  size_t i = is_update ? 1 : 2;  // UPDATE ns.t / DELETE FROM ns.t
  SLUICE_ASSIGN_OR_RETURN(auto id, lake_target(t, i, nss));
  const char* verb = is_update ? "UPDATE" : "DELETE";
  i += 3;
  std::string alias = id.name;
  if (i < t.size() && t[i].is("AS")) ++i;
  if (i < t.size() && t[i].ident() && !t[i].is("WHERE") && !t[i].is("SET")) {
    alias = t[i].text;
    ++i;
  }
  std::vector<std::pair<std::string, std::string>> sets;
  if (is_update) {
    if (i >= t.size() || !t[i].is("SET")) {
      return invalid_argument(fmt::format("UPDATE {}: expected SET", id.to_string()));
    }
    ++i;
    while (i < t.size() && !t[i].is("WHERE")) {
      if (t[i].is("FROM")) {
        return unimplemented(fmt::format(
            "UPDATE {} ... FROM is not supported on lake tables; use MERGE INTO", id.to_string()));
      }
      if (!t[i].ident() || i + 1 >= t.size() || !t[i + 1].sym("=")) {
        return invalid_argument(fmt::format("UPDATE {}: expected column = expression near '{}'",
                                            id.to_string(), t[i].text));
      }
      std::string col = t[i].text;
      size_t e = i + 2;
      int depth = 0;
      while (e < t.size()) {
        if (t[e].sym("(")) ++depth;
        if (t[e].sym(")")) --depth;
        if (depth == 0 && (t[e].sym(",") || t[e].is("WHERE"))) break;
        ++e;
      }
      sets.emplace_back(col, text_between(stmt, t, i + 2, e));
      i = (e < t.size() && t[e].sym(",")) ? e + 1 : e;
    }
  }
  std::string cond;
  if (i < t.size() && t[i].is("WHERE")) cond = text_between(stmt, t, i + 1, t.size());
  if (!cond.empty()) {
    SLUICE_ASSIGN_OR_RETURN(cond, bind(cond));
  }

  SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(id));
  const auto& schema = table.metadata().current_schema();
  for (const auto& [col, _] : sets) {
    if (schema.find_field(col) == nullptr) {
      return invalid_argument(fmt::format("UPDATE {}: no column '{}' (columns: {})", id.to_string(),
                                          col, column_list(schema)));
    }
  }
  SLUICE_ASSIGN_OR_RETURN(auto plan, table.plan_scan({}));
  std::string rel = fmt::format("({}) AS {}", scan_sql(plan, true), quote_ident(alias));
  // Which files hold matching rows, and how many rows match.
  std::map<std::string, int64_t> affected;
  std::string match = cond.empty() ? "true" : "(" + cond + ")";
  auto counts = session.query(fmt::format("SELECT {}, count(*) FROM {} WHERE {} IS TRUE GROUP BY 1",
                                          kFileColumn, rel, match));
  if (!counts.is_ok())
    return counts.status().with_context(fmt::format("{} {}", verb, id.to_string()));
  int64_t n = 0;
  for (const auto& r : counts->rows) {
    affected[*r[0]] = std::stoll(*r[1]);
    n += std::stoll(*r[1]);
  }
  StatementResult res{.tag = fmt::format("{} {}", verb, n), .rows_affected = n};
  if (affected.empty()) return res;

  std::vector<lake::DataFile> removed;
  std::vector<std::string> read_paths;
  for (const auto& task : plan.tasks) {
    if (affected.count(local_path(task.data_file.file_path))) {
      removed.push_back(task.data_file);
      read_paths.push_back(local_path(task.data_file.file_path));
    }
  }
  std::string keep;
  if (is_update) {
    keep = "SELECT ";
    for (size_t k = 0; k < schema.fields.size(); ++k) {
      const auto& f = schema.fields[k];
      auto s = std::find_if(sets.begin(), sets.end(), [&](auto& p) { return p.first == f.name; });
      keep += k ? ", " : "";
      if (s == sets.end()) {
        keep += quote_ident(alias) + "." + quote_ident(f.name);
      } else {
        keep += fmt::format("CASE WHEN {} IS TRUE THEN ({}) ELSE {}.{} END AS {}", match, s->second,
                            quote_ident(alias), quote_ident(f.name), quote_ident(f.name));
      }
    }
    keep += fmt::format(" FROM {} WHERE list_contains({}, {})", rel, path_list(read_paths),
                        kFileColumn);
  } else {
    keep = fmt::format("SELECT {} FROM {} WHERE list_contains({}, {}) AND {} IS NOT TRUE",
                       column_list(schema, quote_ident(alias) + "."), rel, path_list(read_paths),
                       kFileColumn, match);
  }
  auto added = write_files(table, keep);
  if (!added.is_ok())
    return added.status().with_context(fmt::format("{} {}", verb, id.to_string()));
  Status st = table.overwrite(removed, *added, {});
  if (!st.is_ok()) {
    for (const auto& f : *added) {
      std::error_code ec;
      std::filesystem::remove(f.file_path, ec);
    }
    return st.with_context(fmt::format("{} {}", verb, id.to_string()));
  }
  SLUICE_RETURN_IF_ERROR(table.refresh());
  res.snapshot_id = table.metadata().current_snapshot_id;
  return res;
}

Result<StatementResult> LakeSession::Impl::merge(std::string_view stmt,
                                                 const std::vector<Token>& t) {
  SLUICE_ASSIGN_OR_RETURN(auto nss, namespaces());
  SLUICE_ASSIGN_OR_RETURN(auto id, lake_target(t, 2, nss));
  SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(id));
  SLUICE_ASSIGN_OR_RETURN(auto plan, table.plan_scan({}));
  const auto& schema = table.metadata().current_schema();
  // Copy-on-write of the whole table: DuckDB runs the MERGE on a scratch copy, and the result
  // replaces every file in one commit.
  std::string scratch = "__sluice_merge_" + random_hex(8);
  SLUICE_RETURN_IF_ERROR(
      session.execute(fmt::format("CREATE TEMP TABLE {} AS {}", scratch, scan_sql(plan, false))));
  auto drop = [&] { (void)session.execute("DROP TABLE IF EXISTS " + scratch); };
  bool has_alias = t.size() > 5 && (t[5].is("AS") || (t[5].ident() && !t[5].is("USING")));
  std::string rest = std::string(stmt.substr(t[4].end));
  SLUICE_ASSIGN_OR_RETURN(rest, bind(rest));
  std::string rewritten = std::string(stmt.substr(0, t[2].begin)) + scratch +
                          (has_alias ? "" : " AS " + quote_ident(id.name)) + rest;
  auto r = session.query(rewritten);
  if (!r.is_ok()) {
    drop();
    return r.status().with_context(fmt::format("MERGE INTO {}", id.to_string()));
  }
  int64_t n = r->rows.empty() || r->rows[0].empty() ? 0 : std::stoll(r->rows[0][0].value_or("0"));
  auto added = write_files(table, fmt::format("SELECT {} FROM {}", column_list(schema), scratch));
  drop();
  if (!added.is_ok())
    return added.status().with_context(fmt::format("MERGE INTO {}", id.to_string()));
  std::vector<lake::DataFile> removed;
  for (const auto& task : plan.tasks)
    removed.push_back(task.data_file);
  SLUICE_RETURN_IF_ERROR(table.overwrite(removed, *added, {}).with_context(id.to_string()));
  SLUICE_RETURN_IF_ERROR(table.refresh());
  return StatementResult{.tag = fmt::format("MERGE {}", n),
                         .rows_affected = n,
                         .snapshot_id = table.metadata().current_snapshot_id};
}

Result<StatementResult> LakeSession::Impl::alter(std::string_view stmt,
                                                 const std::vector<Token>& t) {
  SLUICE_ASSIGN_OR_RETURN(auto nss, namespaces());
  SLUICE_ASSIGN_OR_RETURN(auto id, lake_target(t, 2, nss));
  SLUICE_ASSIGN_OR_RETURN(auto table, catalog->load_table(id));
  size_t i = 5;
  auto at = [&](size_t k) -> const Token& {
    static const Token kEnd{Token::Kind::kSymbol, "", "", 0, 0};
    return k < t.size() ? t[k] : kEnd;
  };
  std::string what = fmt::format("ALTER TABLE {}", id.to_string());
  std::vector<lake::SchemaChange> changes;
  using K = lake::SchemaChange::Kind;
  if (at(i).is("ADD")) {
    ++i;
    if (at(i).is("COLUMN")) ++i;
    if (at(i).is("IF")) i += 3;
    std::string name = at(i).text;
    std::string type_text = text_between(stmt, t, i + 1, t.size());
    int next_id = table.metadata().last_column_id + 2;
    auto type = detail::iceberg_type(type_text, next_id);
    if (!type.is_ok())
      return type.status().with_context(fmt::format("{}: column '{}'", what, name));
    changes.push_back({.kind = K::kAddColumn, .column = name, .type = *type});
  } else if (at(i).is("DROP")) {
    ++i;
    if (at(i).is("COLUMN")) ++i;
    changes.push_back({.kind = K::kDropColumn, .column = at(i).text});
  } else if (at(i).is("RENAME")) {
    ++i;
    if (at(i).is("TO")) {
      return unimplemented(fmt::format("{}: renaming a table is not supported yet", what));
    }
    if (at(i).is("COLUMN")) ++i;
    if (!at(i + 1).is("TO")) return invalid_argument(what + ": expected RENAME COLUMN a TO b");
    changes.push_back({.kind = K::kRenameColumn, .column = at(i).text, .new_name = at(i + 2).text});
  } else if (at(i).is("ALTER")) {
    ++i;
    if (at(i).is("COLUMN")) ++i;
    std::string col = at(i).text;
    ++i;
    if (at(i).is("SET") && at(i + 1).is("DATA")) i += 2;
    if (at(i).is("TYPE")) {
      int next_id = table.metadata().last_column_id + 1;
      auto type = detail::iceberg_type(text_between(stmt, t, i + 1, t.size()), next_id);
      if (!type.is_ok())
        return type.status().with_context(fmt::format("{}: column '{}'", what, col));
      changes.push_back({.kind = K::kWidenType, .column = col, .type = *type});
    } else if (at(i).is("SET") && at(i + 1).is("NOT")) {
      changes.push_back({.kind = K::kSetRequired, .column = col});
    } else if (at(i).is("DROP") && at(i + 1).is("NOT")) {
      changes.push_back({.kind = K::kSetOptional, .column = col});
    } else if (at(i).is("FIRST")) {
      changes.push_back({.kind = K::kMoveFirst, .column = col});
    } else if (at(i).is("AFTER")) {
      changes.push_back({.kind = K::kMoveAfter, .column = col, .other = at(i + 1).text});
    } else if (at(i).is("COMMENT") || (at(i).is("SET") && at(i + 1).is("COMMENT"))) {
      size_t k = at(i).is("SET") ? i + 2 : i + 1;
      changes.push_back({.kind = K::kSetDoc, .column = col, .doc = at(k).text});
    } else {
      return invalid_argument(fmt::format(
          "{}: ALTER COLUMN {} supports TYPE t, SET/DROP NOT NULL, FIRST, AFTER c, COMMENT 'x'",
          what, col));
    }
  } else if (at(i).is("SET") && at(i + 1).is("PARTITIONED") && at(i + 2).is("BY")) {
    size_t c = detail::matching_paren(t, i + 3);
    SLUICE_ASSIGN_OR_RETURN(auto fields, parse_partition_by(t, i + 3, c));
    SLUICE_RETURN_IF_ERROR(table.update_spec(fields).with_context(what));
    return StatementResult{.tag = "ALTER TABLE"};
  } else if (at(i).is("SET") && (at(i + 1).is("PROPERTIES") || at(i + 1).is("TBLPROPERTIES"))) {
    size_t c = detail::matching_paren(t, i + 2);
    SLUICE_RETURN_IF_ERROR(table.set_properties(parse_properties(t, i + 2, c)).with_context(what));
    return StatementResult{.tag = "ALTER TABLE"};
  } else {
    return invalid_argument(fmt::format(
        "{}: supported forms are ADD COLUMN, DROP COLUMN, RENAME COLUMN, ALTER COLUMN, SET "
        "PARTITIONED BY (...), SET PROPERTIES (...)",
        what));
  }
  SLUICE_RETURN_IF_ERROR(table.update_schema(changes).with_context(what));
  return StatementResult{.tag = "ALTER TABLE"};
}

Result<StatementResult> LakeSession::Impl::run(std::string_view stmt) {
  auto t = detail::tokenize(stmt);
  if (t.empty()) return invalid_argument("empty statement");
  SLUICE_ASSIGN_OR_RETURN(auto nss, namespaces());
  auto targets_lake = [&](size_t i) {
    return i + 2 < t.size() && t[i].ident() && t[i + 1].sym(".") && nss.count(t[i].text) > 0;
  };
  const auto& w = t[0];
  if (w.is("CREATE")) {
    size_t i = 1;
    if (i < t.size() && t[i].is("OR")) i += 2;
    if (i < t.size() && (t[i].is("SCHEMA") || t[i].is("NAMESPACE"))) {
      size_t k = i + 1;
      bool if_not = k < t.size() && t[k].is("IF");
      if (if_not) k += 3;
      if (k >= t.size()) return invalid_argument("CREATE SCHEMA: missing name");
      Status st = catalog->create_namespace(t[k].text);
      if (!st.is_ok() && !(if_not && st.code() == StatusCode::kAlreadyExists)) return st;
      return StatementResult{.tag = "CREATE SCHEMA"};
    }
    if (i < t.size() && t[i].is("TABLE")) {
      size_t k = i + 1;
      if (k < t.size() && t[k].is("IF")) k += 3;
      if (targets_lake(k)) return create_table(stmt, t);
    }
  } else if (w.is("DROP") && t.size() > 1) {
    if (t[1].is("TABLE")) {
      size_t k = 2;
      bool if_exists = k < t.size() && t[k].is("IF");
      if (if_exists) k += 2;
      if (targets_lake(k)) {
        lake::TableIdent id{t[k].text, t[k + 2].text};
        bool purge = t.back().is("PURGE");
        Status st = catalog->drop_table(id, purge);
        if (!st.is_ok() && !(if_exists && st.code() == StatusCode::kNotFound)) return st;
        SLUICE_RETURN_IF_ERROR(unbind(id));
        return StatementResult{.tag = "DROP TABLE"};
      }
    }
    if (t[1].is("SCHEMA") || t[1].is("NAMESPACE")) {
      size_t k = 2;
      bool if_exists = k < t.size() && t[k].is("IF");
      if (if_exists) k += 2;
      if (k < t.size() && nss.count(t[k].text)) {
        SLUICE_RETURN_IF_ERROR(catalog->drop_namespace(t[k].text));
        return StatementResult{.tag = "DROP SCHEMA"};
      }
    }
  } else if (w.is("INSERT") && t.size() > 1 && t[1].is("INTO") && targets_lake(2)) {
    return insert(stmt, t);
  } else if (w.is("DELETE") && t.size() > 1 && t[1].is("FROM") && targets_lake(2)) {
    return delete_or_update(stmt, t, false);
  } else if (w.is("UPDATE") && targets_lake(1)) {
    return delete_or_update(stmt, t, true);
  } else if (w.is("MERGE") && t.size() > 1 && t[1].is("INTO") && targets_lake(2)) {
    return merge(stmt, t);
  } else if (w.is("ALTER") && t.size() > 1 && t[1].is("TABLE") && targets_lake(2)) {
    return alter(stmt, t);
  } else if (w.is("TRUNCATE")) {
    size_t k = t.size() > 1 && t[1].is("TABLE") ? 2 : 1;
    if (targets_lake(k)) {
      std::string del =
          fmt::format("DELETE FROM {}.{}", quote_ident(t[k].text), quote_ident(t[k + 2].text));
      auto r = delete_or_update(del, detail::tokenize(del), false);
      if (r.is_ok()) r->tag = "TRUNCATE TABLE";
      return r;
    }
  }
  // Everything else runs on DuckDB with lake tables bound.
  SLUICE_ASSIGN_OR_RETURN(auto sql, bind(stmt));
  SLUICE_ASSIGN_OR_RETURN(auto rows, session.query(sql));
  StatementResult res;
  if (is_query_keyword(w) || w.sym("(")) {
    res.has_rows = true;
    res.tag = fmt::format("SELECT {}", rows.rows.size());
    res.rows_affected = static_cast<int64_t>(rows.rows.size());
  } else {
    res.tag = w.upper;
    if (rows.column_names.size() == 1 && rows.column_names[0] == "Count" && rows.rows.size() == 1) {
      res.rows_affected = std::stoll(rows.rows[0][0].value_or("0"));
    }
  }
  res.rows = std::move(rows);
  return res;
}

// --- public -----------------------------------------------------------------------------------

std::string scan_plan_sql(const lake::ScanPlan& plan, bool with_file) {
  return scan_sql(plan, with_file);
}

std::vector<lake::TableIdent> qualified_references(std::string_view sql) {
  std::vector<lake::TableIdent> out;
  for (const auto& qn : detail::qualified_names(detail::tokenize(sql)))
    out.push_back({qn.ns, qn.name});
  return out;
}

namespace {
std::filesystem::path view_file(const lake::Catalog& catalog, const lake::TableIdent& ident) {
  return catalog.warehouse() / ident.ns / ident.name / ".sluice-view.sql";
}
}  // namespace

Status save_lake_view(const lake::Catalog& catalog, const lake::TableIdent& ident,
                      std::string_view select_sql) {
  if (catalog.table_exists(ident)) {
    return already_exists(
        fmt::format("{} is a table; drop it before saving a view of that name", ident.to_string()));
  }
  std::error_code ec;
  auto file = view_file(catalog, ident);
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) return io_error(fmt::format("view {}: {}", ident.to_string(), ec.message()));
  // Written beside, then renamed: readers see the old or the new definition, never half.
  auto tmp = file.string() + ".tmp-" + random_hex(8);
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr)
      return io_error(fmt::format("view {}: cannot write {}", ident.to_string(), tmp));
    bool ok = std::fwrite(select_sql.data(), 1, select_sql.size(), f) == select_sql.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok) return io_error(fmt::format("view {}: cannot write {}", ident.to_string(), tmp));
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) return io_error(fmt::format("view {}: {}", ident.to_string(), ec.message()));
  return Status::ok();
}

std::optional<std::string> load_lake_view(const lake::Catalog& catalog,
                                          const lake::TableIdent& ident) {
  auto file = view_file(catalog, ident);
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, n);
  std::fclose(f);
  return text;
}

Status drop_lake_view(const lake::Catalog& catalog, const lake::TableIdent& ident) {
  std::error_code ec;
  auto file = view_file(catalog, ident);
  std::filesystem::remove(file, ec);
  if (ec) return io_error(fmt::format("view {}: {}", ident.to_string(), ec.message()));
  // The folder goes too unless a table lives there.
  if (!catalog.table_exists(ident)) std::filesystem::remove(file.parent_path(), ec);
  return Status::ok();
}

std::vector<std::string> split_statements(std::string_view script) {
  return detail::split_statements(script);
}

bool is_relation_query(std::string_view statement) {
  auto t = detail::tokenize(statement);
  if (t.empty()) return false;
  return t[0].is("SELECT") || t[0].is("WITH") || t[0].is("FROM") || t[0].is("VALUES") ||
         t[0].is("TABLE") || t[0].sym("(");
}

LakeSession::LakeSession(LakeSession&&) noexcept = default;
LakeSession& LakeSession::operator=(LakeSession&&) noexcept = default;
LakeSession::~LakeSession() = default;

Result<LakeSession> LakeSession::open(std::shared_ptr<lake::Catalog> catalog,
                                      std::shared_ptr<Database> db, LakeSessionOptions options) {
  SLUICE_ASSIGN_OR_RETURN(auto session, open_engine_session(db));
  LakeSession s;
  s.impl_ = std::make_unique<Impl>(std::move(session));
  s.impl_->catalog = std::move(catalog);
  s.impl_->db = std::move(db);
  s.impl_->options = std::move(options);
  return s;
}

Result<StatementResult> LakeSession::run(std::string_view statement) {
  return impl_->run(statement);
}

Result<std::vector<StatementResult>> LakeSession::run_script(std::string_view script) {
  std::vector<StatementResult> out;
  auto stmts = detail::split_statements(script);
  for (size_t i = 0; i < stmts.size(); ++i) {
    auto r = impl_->run(stmts[i]);
    if (!r.is_ok()) {
      if (stmts.size() == 1) return r.status();
      return r.status().with_context(fmt::format("statement {} of {}", i + 1, stmts.size()));
    }
    out.push_back(std::move(r).value());
  }
  return out;
}

Result<std::string> LakeSession::prepare_query(std::string_view statement) {
  return impl_->bind(statement);
}

Status LakeSession::bind_for_catalog(const lake::TableIdent& table) {
  impl_->counting_reads = false;
  Status st = impl_->bind_current(table);
  impl_->counting_reads = true;
  return st;
}

Result<std::vector<lake::DataFile>> LakeSession::write_data_files(const lake::Table& table,
                                                                  std::string_view select_sql,
                                                                  const WriteOptions& write) {
  return impl_->write_files(table, select_sql, write);
}

Result<LakeSession::CompactResult> LakeSession::compact(const lake::TableIdent& ident,
                                                        int64_t small_file_bytes) {
  SLUICE_ASSIGN_OR_RETURN(auto table, impl_->catalog->load_table(ident));
  SLUICE_ASSIGN_OR_RETURN(auto plan, table.plan_scan({}));
  // Groups of small files that share a partition (and spec) are rewritten together; files with
  // delete files attached are rewritten too, so the deletes fold into the data.
  std::map<std::string, std::vector<const lake::ScanTask*>> groups;
  for (const auto& task : plan.tasks) {
    const auto& f = task.data_file;
    bool has_deletes = !task.position_deletes.empty() || !task.equality_deletes.empty();
    if (f.file_size_in_bytes >= small_file_bytes && !has_deletes) continue;
    std::string key = std::to_string(f.spec_id);
    for (const auto& v : f.partition) {
      key += "|" + std::visit(
                       [](const auto& x) -> std::string {
                         using T = std::decay_t<decltype(x)>;
                         if constexpr (std::is_same_v<T, lake::Null>)
                           return "null";
                         else if constexpr (std::is_same_v<T, std::vector<uint8_t>>)
                           return std::string(x.begin(), x.end());
                         else if constexpr (std::is_same_v<T, std::string>)
                           return x;
                         else
                           return fmt::format("{}", x);
                       },
                       v);
    }
    groups[key].push_back(&task);
  }
  CompactResult res;
  std::vector<lake::DataFile> removed, added;
  for (const auto& [key, tasks] : groups) {
    bool any_deletes = std::any_of(tasks.begin(), tasks.end(), [](const auto* t) {
      return !t->position_deletes.empty() || !t->equality_deletes.empty();
    });
    if (tasks.size() < 2 && !any_deletes) continue;
    lake::ScanPlan sub;
    sub.schema = plan.schema;
    sub.snapshot_id = plan.snapshot_id;
    for (const auto* t : tasks) {
      sub.tasks.push_back(*t);
      removed.push_back(t->data_file);
    }
    auto files = impl_->write_files(table, scan_sql(sub, false));
    if (!files.is_ok()) {
      for (const auto& f : added) {
        std::error_code ec;
        std::filesystem::remove(f.file_path, ec);
      }
      return files.status().with_context(fmt::format("compacting {}", ident.to_string()));
    }
    added.insert(added.end(), files->begin(), files->end());
  }
  if (removed.empty()) return res;
  SLUICE_RETURN_IF_ERROR(table.overwrite(removed, added, {}, /*is_compaction=*/true)
                             .with_context(fmt::format("compacting {}", ident.to_string())));
  SLUICE_RETURN_IF_ERROR(table.refresh());
  res.files_removed = static_cast<int64_t>(removed.size());
  res.files_added = static_cast<int64_t>(added.size());
  res.snapshot_id = table.metadata().current_snapshot_id;
  return res;
}

Session& LakeSession::session() {
  return impl_->session;
}
lake::Catalog& LakeSession::catalog() {
  return *impl_->catalog;
}

}  // namespace sluice::engine

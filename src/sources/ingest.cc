// `sluice ingest`: source tables -> raw.<source>_<table>, one lake commit per table.
//
// Per table: the key-range chunks are converted in batches (up to kRowsPerStatement rows each).
// For a batch, this thread runs one LakeSession::write_data_files statement whose DuckDB
// read_csv (explicit column types; rows it cannot convert land in a rejects table and then in
// the quarantine table) reads the batch's chunk FIFOs in order, as many at once as DuckDB has
// threads, while `parallelism` reader threads stream the chunks into them: reading and
// converting overlap, and no chunk is staged on disk or held in memory (the pipes and buffers
// are bounded). When every batch is written the files are committed at once: a snapshot
// replaces the table's files, an incremental load appends and records its watermark in the
// snapshot summary. Any failure deletes the files written so far and leaves the table as it
// was.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "common/log.h"
#include "sources/readers.h"
#include "sources/sources.h"

namespace sluice::sources {

std::string detail::now_utc_text() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:06d}+00", buf, us % 1000000);
}

Status detail::write_quarantine(engine::LakeSession& lake, const lake::TableIdent& quarantine,
                                const std::string& source, const std::string& qtable) {
  auto& cat = lake.catalog();
  if (!cat.table_exists(quarantine)) {
    SLUICE_RETURN_IF_ERROR(
        lake.run("CREATE TABLE " + quarantine.to_string() +
                 " (_source VARCHAR, source_table VARCHAR, reason VARCHAR, column_name VARCHAR, "
                 "raw_row VARCHAR, source_position VARCHAR, _ingested_at TIMESTAMPTZ) "
                 "PARTITIONED BY (day(_ingested_at))")
            .status());
  }
  SLUICE_ASSIGN_OR_RETURN(auto qt, cat.load_table(quarantine));
  SLUICE_ASSIGN_OR_RETURN(auto qfiles, lake.write_data_files(qt, "SELECT * FROM " + qtable));
  return qt.append(qfiles, {{"sluice.source", source}});
}

namespace {

using detail::KeyRange;
using detail::MappedColumn;
using detail::SourceColumn;

constexpr const char* kWatermarkKey = "sluice.watermark";
constexpr const char* kWatermarkSnapshotKey = "sluice.watermark-snapshot";
// Rows one conversion statement reads (several chunks): bounds a data file's size.
constexpr int64_t kRowsPerStatement = 8'000'000;

bool simple_ident(std::string_view s) {
  if (s.empty() || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}
// Identifiers in statements for LakeSession::run (lake DDL): plain when possible.
std::string lake_ident(std::string_view s) {
  return simple_ident(s) ? std::string(s) : detail::duck_ident(s);
}

struct Metadata {
  std::string source, load_type, ingested_at, position;
};

struct TablePlan {
  TableConfig cfg;
  std::vector<SourceColumn> source_columns;
  std::vector<MappedColumn> columns;
  std::vector<std::string> key;
  std::string chunk_column;
  std::vector<KeyRange> chunks;
  std::string where;  // incremental condition, source dialect
  const MappedColumn* cursor = nullptr;
  std::optional<std::string> old_watermark;
  std::optional<std::string> new_watermark;
  lake::TableIdent ident;
  lake::TableIdent quarantine;
  std::vector<std::string> lake_only_columns;  // dropped in the source: written as NULL
  // Lake DDL the table needs (create, or schema drift: add and widen columns), with a log line
  // each; applied only once every table of the run has been planned.
  std::vector<std::pair<std::string, std::string>> ddl;
};

// Whether the lake can widen a column of DuckDB type `from` to `to` (Iceberg's promotions:
// int -> long, float -> double, decimal(P,S) -> decimal(P2,S) with P2 >= P).
bool can_widen(const std::string& from, const std::string& to) {
  if (from == to) return true;
  if (from == "INTEGER" && to == "BIGINT") return true;
  if (from == "FLOAT" && to == "DOUBLE") return true;
  int p1 = 0, s1 = 0, p2 = 0, s2 = 0;
  return std::sscanf(from.c_str(), "DECIMAL(%d,%d)", &p1, &s1) == 2 &&
         std::sscanf(to.c_str(), "DECIMAL(%d,%d)", &p2, &s2) == 2 && s1 == s2 && p2 >= p1;
}

// The newest watermark recorded for a table: the first ancestor of the current snapshot whose
// summary carries one (written atomically with that commit), or the property written after a
// commit that could not carry it (snapshot loads replace files through `overwrite`).
std::optional<std::string> stored_watermark(const lake::Table& t) {
  const auto& md = t.metadata();
  auto prop = md.properties.find(kWatermarkKey);
  auto prop_snap = md.properties.find(kWatermarkSnapshotKey);
  const lake::Snapshot* s = md.current_snapshot();
  while (s != nullptr) {
    auto it = s->summary.find(kWatermarkKey);
    if (it != s->summary.end()) return it->second;
    if (prop != md.properties.end() && prop_snap != md.properties.end() &&
        prop_snap->second == std::to_string(s->snapshot_id)) {
      return prop->second;
    }
    if (!s->parent_snapshot_id) break;
    s = md.snapshot_by_id(*s->parent_snapshot_id);
  }
  return std::nullopt;
}

class Ingester {
 public:
  Ingester(const SourceConfig& src, engine::LakeSession& lake, const IngestOptions& opts)
      : src_(src), lake_(lake), opts_(opts) {}

  Result<IngestReport> run() {
    std::string pw;
    if (const char* v = std::getenv(src_.password_env.c_str())) pw = v;
    Endpoint ep{src_.host, src_.port, src_.user, pw, src_.database};
    reader_ = src_.kind == SourceKind::kPostgres ? detail::make_pg_reader(ep, src_.schema)
                                                 : detail::make_mysql_reader(ep, src_.schema);
    std::vector<TableConfig> tables;
    for (const auto& name : opts_.tables) {
      auto it = std::find_if(src_.tables.begin(), src_.tables.end(),
                             [&](const TableConfig& t) { return t.name == name; });
      if (it == src_.tables.end()) {
        return not_found(fmt::format("source {} has no table '{}' (tables in {}: {})", src_.name,
                                     name, src_.file, table_names()));
      }
      tables.push_back(*it);
    }
    if (tables.empty()) tables = src_.tables;

    int parallelism = opts_.parallelism > 0 ? opts_.parallelism : src_.parallelism;
    SLUICE_ASSIGN_OR_RETURN(workers_, reader_->begin(parallelism));
    meta_.source = src_.name;
    meta_.load_type = opts_.mode == LoadMode::kSnapshot ? "snapshot" : "incremental";
    meta_.ingested_at = detail::now_utc_text();
    meta_.position = reader_->position();
    std::error_code ec;
    std::filesystem::create_directories(opts_.work_dir, ec);

    // Plan every table first: an unmappable column or a missing table stops the run before any
    // data moves.
    // Schema changes are checked for every table before any is applied: a type that cannot
    // widen commits nothing, not even another table's new column.
    std::vector<TablePlan> plans;
    for (const auto& t : tables) {
      auto plan = plan_table(t);
      if (!plan.is_ok()) {
        return plan.status().with_context(fmt::format("source {} table {}", src_.name, t.name));
      }
      plans.push_back(std::move(plan).value());
    }
    for (auto& p : plans) {
      auto st = prepare_table(p);
      if (!st.is_ok()) {
        return st.with_context(fmt::format("source {} table {}", src_.name, p.cfg.name));
      }
    }
    IngestReport report;
    report.source_position = meta_.position;
    for (auto& p : plans) {
      auto r = load_table(p);
      if (!r.is_ok()) {
        return r.status().with_context(fmt::format("loading {}.{} into {} (the table is unchanged)",
                                                   src_.name, p.cfg.name, p.ident.to_string()));
      }
      report.tables.push_back(std::move(r).value());
    }
    return report;
  }

 private:
  std::string table_names() const {
    std::string out;
    for (const auto& t : src_.tables)
      out += (out.empty() ? "" : ", ") + t.name;
    return out;
  }

  Result<TablePlan> plan_table(const TableConfig& cfg) {
    TablePlan p;
    p.cfg = cfg;
    p.ident = lake::TableIdent{"raw", src_.name + "_" + cfg.name};
    p.quarantine = lake::TableIdent{"raw", src_.name + "_" + cfg.name + "__quarantine"};
    SLUICE_ASSIGN_OR_RETURN(p.source_columns, reader_->columns(cfg.name));
    for (const auto& c : p.source_columns) {
      SLUICE_ASSIGN_OR_RETURN(auto m, reader_->map(c));
      if (!m.name.empty() && m.name[0] == '_' &&
          (m.name == "_source" || m.name == "_load_type" || m.name == "_ingested_at" ||
           m.name == "_source_position")) {
        return invalid_argument(
            fmt::format("column '{}' clashes with Sluice's lineage column of that name", m.name));
      }
      p.columns.push_back(std::move(m));
    }
    auto find_col = [&](const std::string& n) -> int {
      for (size_t i = 0; i < p.columns.size(); ++i)
        if (p.columns[i].name == n) return static_cast<int>(i);
      return -1;
    };
    if (!cfg.key.empty()) {
      p.key = cfg.key;
    } else {
      SLUICE_ASSIGN_OR_RETURN(p.key, reader_->primary_key(cfg.name));
    }
    for (const auto& k : p.key) {
      if (find_col(k) < 0) return invalid_argument(fmt::format("key column '{}' not found", k));
    }
    if (!p.key.empty() && p.columns[static_cast<size_t>(find_col(p.key[0]))].integer_key) {
      p.chunk_column = p.key[0];
    }

    bool incremental = opts_.mode == LoadMode::kIncremental;
    if (!cfg.cursor.empty()) {
      int ci = find_col(cfg.cursor);
      if (ci < 0) {
        return invalid_argument(fmt::format("cursor column '{}' not found", cfg.cursor));
      }
      p.cursor = &p.columns[static_cast<size_t>(ci)];
      if (!p.cursor->temporal && !p.cursor->integer_key) {
        return invalid_argument(fmt::format(
            "cursor column '{}' must be a timestamp, a date or an integer", cfg.cursor));
      }
    } else if (incremental) {
      return invalid_argument(
          fmt::format("no cursor column: set 'cursor' in [tables.{}] of {} for incremental loads",
                      cfg.name, src_.file));
    }
    if (incremental && p.key.empty()) {
      return invalid_argument(
          "incremental loads need a primary key (or 'key' in the table's section) to recognise "
          "rows already loaded");
    }

    SLUICE_RETURN_IF_ERROR(check_lake_schema(p));
    return p;
  }

  // Applies the plan's lake DDL, then reads the watermark, the key range and the chunks.
  Status prepare_table(TablePlan& p) {
    for (const auto& [stmt, what] : p.ddl) {
      SLUICE_RETURN_IF_ERROR(lake_.run(stmt));
      log::info(what, {log::kv("table", p.ident.to_string())});
    }
    const TableConfig& cfg = p.cfg;
    bool incremental = opts_.mode == LoadMode::kIncremental;
    if (incremental) {
      SLUICE_ASSIGN_OR_RETURN(auto t, lake_.catalog().load_table(p.ident));
      p.old_watermark = stored_watermark(t);
      if (p.old_watermark) {
        const auto& sc = p.source_columns[static_cast<size_t>(p.cursor - p.columns.data())];
        p.where =
            reader_->cursor_condition(cfg.cursor, sc, *p.cursor, *p.old_watermark, cfg.look_back);
      }
    }
    // Key range chunks and the new watermark, both in the read view.
    std::string select;
    if (!p.chunk_column.empty()) {
      std::string k = reader_->ident(p.chunk_column);
      select = fmt::format("min({0}), max({0})", k);
    } else {
      select = "NULL, NULL";
    }
    if (p.cursor) {
      select += src_.kind == SourceKind::kPostgres
                    ? fmt::format(", max({})::text", reader_->ident(cfg.cursor))
                    : fmt::format(", CAST(max({}) AS CHAR)", reader_->ident(cfg.cursor));
    }
    if (incremental) select += ", count(*)";
    SLUICE_ASSIGN_OR_RETURN(auto agg, reader_->aggregate(cfg.name, select, p.where));
    if (p.cursor) {
      p.new_watermark = agg.at(2);
      if (!p.new_watermark) p.new_watermark = p.old_watermark;
    }
    int64_t chunk_rows = cfg.chunk_rows > 0 ? cfg.chunk_rows : src_.chunk_rows;
    if (!p.chunk_column.empty() && agg[0] && agg[1]) {
      int64_t est = 0;
      if (incremental) {
        est = std::stoll(agg.back().value_or("0"));
      } else {
        SLUICE_ASSIGN_OR_RETURN(est, reader_->estimate_rows(cfg.name));
        if (est < 0) est = std::stoll(*agg[1]) - std::stoll(*agg[0]) + 1;
      }
      p.chunks = detail::plan_chunks(std::stoll(*agg[0]), std::stoll(*agg[1]), est, chunk_rows);
    } else {
      p.chunks = {KeyRange{}};
    }
    return Status::ok();
  }

  std::string lineage_columns_ddl() const {
    return "_source VARCHAR, _load_type VARCHAR, _ingested_at TIMESTAMPTZ, _source_position "
           "VARCHAR";
  }

  // The DDL that creates raw.<source>_<table> or brings its schema in line with the source
  // (schema drift): new columns are added, columns gone from the source stay (NULL in new rows),
  // a changed type is widened when the lake allows it and is an error naming the column
  // otherwise. Runs nothing: prepare_table applies p.ddl.
  Status check_lake_schema(TablePlan& p) {
    auto& cat = lake_.catalog();
    if (!cat.table_exists(p.ident)) {
      std::string ddl = "CREATE TABLE " + p.ident.to_string() + " (";
      for (const auto& c : p.columns)
        ddl += lake_ident(c.name) + " " + c.lake_type + ", ";
      ddl += lineage_columns_ddl() + ") PARTITIONED BY (day(_ingested_at))";
      ddl += fmt::format(" WITH ('sluice.source' = {}, 'sluice.source-table' = {})",
                         detail::sql_literal(src_.name), detail::sql_literal(p.cfg.name));
      p.ddl.emplace_back(std::move(ddl), "created lake table");
      return Status::ok();
    }
    // Compare DuckDB's canonical spelling of both sides.
    SLUICE_ASSIGN_OR_RETURN(auto bound,
                            lake_.prepare_query("SELECT * FROM " + p.ident.to_string()));
    SLUICE_ASSIGN_OR_RETURN(
        auto have, lake_.session().query("DESCRIBE SELECT * FROM (" + bound + ") LIMIT 0"));
    std::string probe = "DESCRIBE SELECT ";
    for (size_t i = 0; i < p.columns.size(); ++i) {
      probe += fmt::format("{}CAST(NULL AS {}) AS c{}", i ? ", " : "", p.columns[i].lake_type, i);
    }
    SLUICE_ASSIGN_OR_RETURN(auto want, lake_.session().query(probe));
    std::map<std::string, std::string> lake_types;
    for (const auto& r : have.rows)
      lake_types[r[0].value_or("")] = r[1].value_or("");
    std::set<std::string> source_names;
    for (size_t i = 0; i < p.columns.size(); ++i) {
      const auto& c = p.columns[i];
      source_names.insert(c.name);
      std::string type = want.rows.at(i)[1].value_or("");
      auto it = lake_types.find(c.name);
      if (it == lake_types.end()) {
        p.ddl.emplace_back(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", p.ident.to_string(),
                                       lake_ident(c.name), c.lake_type),
                           "schema drift: added column " + c.name);
      } else if (it->second != type) {
        if (!can_widen(it->second, type)) {
          return invalid_argument(fmt::format(
              "column '{}' changed type in the source (now {}): {} has {}, which cannot widen "
              "to {} (the lake widens int -> long, float -> double, decimal(P,S) -> "
              "decimal(P2,S) with P2 >= P); nothing was loaded",
              c.name, p.source_columns[i].type, p.ident.to_string(), it->second, type));
        }
        p.ddl.emplace_back(fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {}",
                                       p.ident.to_string(), lake_ident(c.name), c.lake_type),
                           "schema drift: widened column " + c.name);
      }
    }
    for (const auto& [name, type] : lake_types) {
      if (!source_names.count(name) && name != "_source" && name != "_load_type" &&
          name != "_ingested_at" && name != "_source_position") {
        p.lake_only_columns.push_back(name);
      }
    }
    return Status::ok();
  }

  std::string chunk_select(const TablePlan& p, const std::vector<std::filesystem::path>& files,
                           const std::string& rejects) const {
    std::string file_list = "[";
    for (size_t i = 0; i < files.size(); ++i)
      file_list += (i ? ", " : "") + detail::sql_literal(files[i].string());
    file_list += "]";
    std::string cols = "{";
    std::string exprs;
    for (size_t i = 0; i < p.columns.size(); ++i) {
      const auto& c = p.columns[i];
      cols += fmt::format("{}'c{}': '{}'", i ? ", " : "", i, c.csv_type);
      exprs +=
          fmt::format("{} AS {}, ", fmt::format(fmt::runtime(c.convert), fmt::format("c{}", i)),
                      detail::duck_ident(c.name));
    }
    cols += "}";
    for (const auto& n : p.lake_only_columns)
      exprs += "NULL AS " + detail::duck_ident(n) + ", ";
    exprs += fmt::format(
        "{} AS _source, {} AS _load_type, TIMESTAMPTZ {} AS _ingested_at, {} AS "
        "_source_position",
        detail::sql_literal(meta_.source), detail::sql_literal(meta_.load_type),
        detail::sql_literal(meta_.ingested_at), detail::sql_literal(meta_.position));
    return fmt::format(
        "SELECT {} FROM read_csv({}, columns = {}, header = false, auto_detect = false, "
        "delim = ',', quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = false, "
        "store_rejects = true, rejects_table = '{}', rejects_scan = '{}_scan')",
        exprs, file_list, cols, rejects, rejects);
  }

  // Incremental: drop rows already in the lake (same key and cursor value), which the look-back
  // window and `>=` on the watermark read again.
  Result<std::string> dedup(const TablePlan& p, const std::string& select) {
    std::string cond;
    for (const auto& k : p.key) {
      cond += fmt::format(" AND o.{0} IS NOT DISTINCT FROM n.{0}", detail::duck_ident(k));
    }
    std::string cur = detail::duck_ident(p.cfg.cursor);
    std::string low;
    if (p.old_watermark) {
      std::string type = p.cursor->lake_type;
      low = p.cursor->temporal
                ? fmt::format(" AND o.{} >= CAST({} AS {}) - INTERVAL ({}) SECOND", cur,
                              detail::sql_literal(*p.old_watermark), type, p.cfg.look_back)
                : fmt::format(" AND o.{} >= CAST({} AS {}) - {}", cur,
                              detail::sql_literal(*p.old_watermark), type, p.cfg.look_back);
    }
    std::string sql = fmt::format(
        "SELECT n.* FROM ({}) AS n WHERE NOT EXISTS (SELECT 1 FROM {} AS o WHERE o.{} = n.{}{}{})",
        select, p.ident.to_string(), cur, cur, low, cond);
    return lake_.prepare_query(sql);
  }

  Result<TableReport> load_table(TablePlan& p) {
    auto started = std::chrono::steady_clock::now();
    TableReport rep;
    rep.source_table = p.cfg.name;
    rep.lake_table = p.ident.to_string();
    SLUICE_ASSIGN_OR_RETURN(auto table, lake_.catalog().load_table(p.ident));

    std::string select_list;
    for (size_t i = 0; i < p.columns.size(); ++i) {
      select_list += (i ? ", " : "") + p.columns[i].source_expr;
    }
    const size_t n = p.chunks.size();
    const int nthreads = std::max(1, std::min<int>(workers_, static_cast<int>(n)));
    std::string key_col = p.chunk_column.empty() ? "" : reader_->ident(p.chunk_column);
    auto chunk_path = [&](size_t i) {
      return opts_.work_dir / fmt::format("{}-{}-{}.csv", p.ident.name, getpid(), i);
    };
    // Chunks are converted in batches: one DuckDB statement reads a batch's chunk pipes (in
    // order, as many at once as it has threads) while the reader threads fill them, so reading
    // and converting overlap and no chunk is ever staged on disk or held in memory.
    const int64_t chunk_rows =
        std::max<int64_t>(1, p.cfg.chunk_rows > 0 ? p.cfg.chunk_rows : src_.chunk_rows);
    const size_t per_batch = static_cast<size_t>(
        std::clamp<int64_t>(kRowsPerStatement / chunk_rows, std::max(2, nthreads), 256));

    std::vector<lake::DataFile> files;
    Status failure;
    bool have_quarantine = false;
    std::string qtable = "__sluice_quarantine";
    (void)lake_.session().execute("DROP TABLE IF EXISTS " + qtable);
    for (size_t first = 0, batch = 0; first < n && failure.is_ok(); first += per_batch, ++batch) {
      const size_t last = std::min(n, first + per_batch);
      std::vector<std::filesystem::path> paths;
      for (size_t i = first; i < last && failure.is_ok(); ++i) {
        paths.push_back(chunk_path(i));
        std::error_code ec;
        std::filesystem::remove(paths.back(), ec);
        failure = detail::make_chunk_pipe(paths.back());
      }
      auto remove_pipes = [&] {
        for (const auto& path : paths) {
          std::error_code ec;
          std::filesystem::remove(path, ec);
        }
      };
      if (!failure.is_ok()) {
        remove_pipes();
        break;
      }

      std::mutex mu;
      size_t next = first;
      std::atomic<bool> stop{false};     // the conversion statement returned
      std::atomic<bool> abandon{false};  // a read failed: the batch will not be committed
      std::vector<std::optional<Result<detail::ChunkResult>>> results(last - first);
      auto worker = [&](int w) {
        // A pipe whose reader went away must fail the write (EPIPE), not kill the process.
        sigset_t pipe_sig;
        sigemptyset(&pipe_sig);
        sigaddset(&pipe_sig, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_sig, nullptr);
        for (;;) {
          size_t i;
          {
            std::lock_guard lock(mu);
            if (next >= last) return;
            i = next++;
          }
          if (abandon.load()) {
            // Nothing will be committed: hand the statement an empty chunk so it ends soon.
            (void)detail::release_chunk_pipe(chunk_path(i), stop);
            std::lock_guard lock(mu);
            results[i - first] = Result<detail::ChunkResult>(cancelled("not read"));
            continue;
          }
          std::string where = detail::range_condition(p.chunks[i], key_col);
          if (!p.where.empty()) where = where.empty() ? p.where : where + " AND (" + p.where + ")";
          auto r = reader_->read_chunk(w, p.cfg.name, select_list, where, chunk_path(i), stop);
          if (!r.is_ok()) abandon = true;
          std::lock_guard lock(mu);
          results[i - first] = std::move(r);
        }
      };
      std::vector<std::thread> threads;
      for (int w = 0; w < nthreads; ++w)
        threads.emplace_back(worker, w);

      std::string rejects = fmt::format("__sluice_rejects_{}", batch);
      std::string select = chunk_select(p, paths, rejects);
      Result<std::vector<lake::DataFile>> written = std::vector<lake::DataFile>{};
      if (opts_.mode == LoadMode::kIncremental && table.metadata().current_snapshot_id) {
        auto d = dedup(p, select);
        if (d.is_ok()) {
          select = *d;
        } else {
          written = d.status();
        }
      }
      if (written.is_ok()) written = lake_.write_data_files(table, select);
      stop = true;
      for (auto& t : threads)
        t.join();
      remove_pipes();
      if (written.is_ok()) files.insert(files.end(), written->begin(), written->end());

      // A failed read first (the statement's error is then only its consequence), then the
      // statement's error; kCancelled reads only follow one of those.
      int64_t read_rows = 0;
      Status cancelled_read;
      for (auto& r : results) {
        if (!r) {
          cancelled_read = internal_error("a chunk was neither read nor released");
        } else if (!r->is_ok()) {
          if (r->status().code() != StatusCode::kCancelled) {
            if (failure.is_ok()) failure = r->status();
          } else if (cancelled_read.is_ok()) {
            cancelled_read = r->status();
          }
        } else {
          read_rows += (*r)->rows;
          rep.bytes += (*r)->bytes;
        }
      }
      if (failure.is_ok() && !written.is_ok()) failure = written.status();
      if (failure.is_ok()) failure = cancelled_read;
      if (!failure.is_ok()) {
        (void)lake_.session().execute(
            fmt::format("DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {}_scan", rejects, rejects));
        break;
      }
      int64_t rows = 0;
      for (const auto& f : *written)
        rows += f.record_count;
      // Rows DuckDB could not convert: kept with the reason and where they came from.
      int64_t rejected = 0;
      std::string chunk_of = "CASE s.file_path";
      for (size_t i = first; i < last; ++i) {
        std::string range = detail::range_condition(p.chunks[i], p.chunk_column);
        chunk_of += fmt::format(" WHEN {} THEN {}", detail::sql_literal(chunk_path(i).string()),
                                detail::sql_literal(range.empty() ? "all" : range));
      }
      chunk_of += " END";
      std::string qsel = fmt::format(
          "SELECT {} AS _source, {} AS source_table, e.error_message AS reason, e.column_name "
          "AS column_name, e.csv_line AS raw_row, {} || ' chunk ' || {} || ' line ' || "
          "e.line AS source_position, TIMESTAMPTZ {} AS _ingested_at FROM {} AS e JOIN {}_scan "
          "AS s ON s.scan_id = e.scan_id AND s.file_id = e.file_id",
          detail::sql_literal(src_.name), detail::sql_literal(p.cfg.name),
          detail::sql_literal(meta_.position), chunk_of, detail::sql_literal(meta_.ingested_at),
          rejects, rejects);
      auto st = lake_.session().execute(
          have_quarantine ? fmt::format("INSERT INTO {} {}", qtable, qsel)
                          : fmt::format("CREATE TEMP TABLE {} AS {}", qtable, qsel));
      if (st.is_ok()) {
        have_quarantine = true;
        auto cnt = lake_.session().query(fmt::format("SELECT count(*) FROM {}", rejects));
        if (cnt.is_ok()) rejected = std::stoll(cnt->rows.at(0).at(0).value_or("0"));
      }
      (void)lake_.session().execute(
          fmt::format("DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {}_scan", rejects, rejects));
      rep.rows += rows;
      rep.quarantined += rejected;
      rep.skipped += read_rows - rows - rejected;
      if (p.cfg.name == opts_.fail_table && opts_.fail_after_chunks >= 0 &&
          static_cast<int>(last) >= opts_.fail_after_chunks) {
        failure = internal_error("injected failure (test hook) after " + std::to_string(last) +
                                 " chunks");
      }
    }
    auto discard = [&] {
      for (const auto& f : files) {
        std::error_code ec;
        std::filesystem::remove(f.file_path, ec);
      }
    };
    if (!failure.is_ok()) {
      discard();
      return failure;
    }

    // Quarantine first: if the main commit fails afterwards a rerun may quarantine a row twice,
    // but a bad row is never lost.
    if (rep.quarantined > 0) {
      auto st = write_quarantine(p, qtable);
      if (!st.is_ok()) {
        discard();
        return st;
      }
      log::warn("rows quarantined",
                {log::kv("table", p.quarantine.to_string()), log::kv("rows", rep.quarantined)});
    }
    std::map<std::string, std::string> summary = {
        {"sluice.source", src_.name},
        {"sluice.load-type", meta_.load_type},
        {"sluice.source-position", meta_.position},
        {"sluice.rows", std::to_string(rep.rows)},
        {"sluice.quarantined", std::to_string(rep.quarantined)}};
    if (p.new_watermark) summary[kWatermarkKey] = *p.new_watermark;
    Status st;
    if (opts_.mode == LoadMode::kSnapshot) {
      // The table becomes exactly the source's snapshot: its files are replaced in one commit.
      SLUICE_RETURN_IF_ERROR(table.refresh());
      auto old = table.list_files(std::nullopt);
      if (!old.is_ok()) {
        discard();
        return old.status();
      }
      std::vector<lake::DataFile> removed;
      for (auto& f : *old)
        if (f.content == lake::FileContent::kData) removed.push_back(f);
      if (removed.empty()) {
        st = table.append(files, summary);
      } else {
        st = table.overwrite(removed, files, {});
      }
    } else if (!files.empty() || p.new_watermark != p.old_watermark) {
      st = table.append(files, summary);
    }
    if (!st.is_ok()) {
      discard();
      return st;
    }
    SLUICE_RETURN_IF_ERROR(table.refresh());
    rep.snapshot_id = table.metadata().current_snapshot_id;
    if (p.new_watermark && rep.snapshot_id) {
      // Also recorded as properties: an overwrite commit carries no summary of ours.
      auto pst = table.set_properties({{kWatermarkKey, *p.new_watermark},
                                       {kWatermarkSnapshotKey, std::to_string(*rep.snapshot_id)},
                                       {"sluice.source-position", meta_.position}});
      if (!pst.is_ok())
        log::warn("could not record watermark property", {log::kv("error", pst.message())});
      rep.watermark = *p.new_watermark;
    }
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::info("table loaded", {log::kv("table", rep.lake_table), log::kv("rows", rep.rows),
                               log::kv("bytes", rep.bytes), log::kv("seconds", rep.seconds)});
    return rep;
  }

  Status write_quarantine(const TablePlan& p, const std::string& qtable) {
    return detail::write_quarantine(lake_, p.quarantine, src_.name, qtable);
  }

  const SourceConfig& src_;
  engine::LakeSession& lake_;
  const IngestOptions& opts_;
  std::unique_ptr<detail::Reader> reader_;
  int workers_ = 1;
  Metadata meta_;
};

}  // namespace

namespace {
// Work folders `ingest-<source>-<pid>` left next to this run's by runs that were killed (their
// chunk pipes): removed once their process is gone.
void remove_stale_work_dirs(const std::filesystem::path& work_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(work_dir.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    auto dash = name.rfind('-');
    if (name.rfind("ingest-", 0) != 0 || dash == std::string::npos || dash + 1 == name.size() ||
        e.path() == work_dir) {
      continue;
    }
    std::string pid = name.substr(dash + 1);
    if (!std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) {
      std::filesystem::remove_all(e.path(), ec);
    }
  }
}
}  // namespace

Result<IngestReport> ingest(const SourceConfig& source, engine::LakeSession& lake,
                            const IngestOptions& options) {
  if (options.work_dir.empty()) return invalid_argument("ingest: work_dir is required");
  remove_stale_work_dirs(options.work_dir);
  if (source.kind == SourceKind::kFiles) return detail::ingest_files(source, lake, options);
  if (source.kind == SourceKind::kRest) return detail::ingest_rest(source, lake, options);
  Ingester ing(source, lake, options);
  return ing.run();
}

}  // namespace sluice::sources

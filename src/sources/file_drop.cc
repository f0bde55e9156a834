// type = "files": a watched folder of CSV, JSON lines and Parquet files loaded into
// raw.<source>_<table> exactly once.
//
// Exactly once: each table's commit records, in its snapshot summary, the ledger of every file
// loaded so far (relative path, size, mtime in ns) — written atomically with the data, like the
// DB sources' watermark — so a crash before the commit loads the files again and a crash after
// it never does. A half-written file is never read: names starting with '.' or ending in .tmp or
// .part are ignored, a file is read only once its mtime is `settle_ms` old, and a file whose size
// or mtime changed while it was read is left for the next run.
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/log.h"
#include "sources/file_rest_internal.h"
#include "sources/sources_internal.h"

namespace sluice::sources {
namespace fs = std::filesystem;

namespace detail {
namespace {

constexpr const char* kLedgerKey = "sluice.files";

bool is_lineage(const std::string& n) {
  return n == "_source" || n == "_load_type" || n == "_ingested_at" || n == "_source_position";
}

std::string ident_sql(const std::string& s) {
  return duck_ident(s);
}

}  // namespace

Result<std::vector<TableConfig>> select_tables(const SourceConfig& src,
                                               const std::vector<std::string>& names) {
  std::vector<TableConfig> tables;
  for (const auto& name : names) {
    auto it = std::find_if(src.tables.begin(), src.tables.end(),
                           [&](const TableConfig& t) { return t.name == name; });
    if (it == src.tables.end()) {
      return not_found(fmt::format("source {} has no table '{}' ({})", src.name, name, src.file));
    }
    tables.push_back(*it);
  }
  if (tables.empty()) tables = src.tables;
  return tables;
}

std::pair<std::string, std::string> lake_type_for(const std::string& t) {
  static const std::set<std::string> kept = {"BOOLEAN",
                                             "INTEGER",
                                             "BIGINT",
                                             "FLOAT",
                                             "DOUBLE",
                                             "DATE",
                                             "TIME",
                                             "TIMESTAMP",
                                             "VARCHAR",
                                             "BLOB",
                                             "TIMESTAMP WITH TIME ZONE"};
  if (kept.count(t) || t.rfind("DECIMAL", 0) == 0) return {t, "{}"};
  if (t == "TINYINT" || t == "SMALLINT" || t == "UTINYINT" || t == "USMALLINT") {
    return {"INTEGER", "CAST({} AS INTEGER)"};
  }
  if (t == "UINTEGER") return {"BIGINT", "CAST({} AS BIGINT)"};
  if (t == "UBIGINT" || t == "HUGEINT" || t == "UHUGEINT") {
    return {"DECIMAL(38,0)", "CAST({} AS DECIMAL(38,0))"};
  }
  if (t.rfind("TIMESTAMP", 0) == 0) return {"TIMESTAMP", "CAST({} AS TIMESTAMP)"};
  if (t.find("STRUCT") != std::string::npos || t.find("[]") != std::string::npos ||
      t.find("MAP") != std::string::npos || t == "JSON") {
    return {"VARCHAR", "CAST(to_json({}) AS VARCHAR)"};
  }
  return {"VARCHAR", "CAST({} AS VARCHAR)"};
}

std::optional<std::string> summary_value(engine::LakeSession& lake, const lake::TableIdent& ident,
                                         const std::string& key) {
  if (!lake.catalog().table_exists(ident)) return std::nullopt;
  auto t = lake.catalog().load_table(ident);
  if (!t.is_ok()) return std::nullopt;
  const auto& md = t->metadata();
  const lake::Snapshot* s = md.current_snapshot();
  while (s != nullptr) {
    auto it = s->summary.find(key);
    if (it != s->summary.end()) return it->second;
    if (!s->parent_snapshot_id) break;
    s = md.snapshot_by_id(*s->parent_snapshot_id);
  }
  return std::nullopt;
}

TableWriter::TableWriter(engine::LakeSession& lake, std::string source, lake::TableIdent ident,
                         std::string load_type, std::string ingested_at)
    : lake_(lake),
      source_(std::move(source)),
      ident_(std::move(ident)),
      quarantine_ident_{ident_.ns, ident_.name + "__quarantine"},
      load_type_(std::move(load_type)),
      ingested_at_(std::move(ingested_at)),
      qtable_(fmt::format("__sluice_q_{}", ident_.name)) {}

TableWriter::~TableWriter() {
  discard();
  if (have_quarantine_) (void)lake_.session().execute("DROP TABLE IF EXISTS " + qtable_);
}

void TableWriter::discard() {
  for (const auto& f : files_) {
    std::error_code ec;
    fs::remove(f.file_path, ec);
  }
  files_.clear();
}

Result<engine::QueryResult> TableWriter::lake_columns() {
  SLUICE_ASSIGN_OR_RETURN(auto bound, lake_.prepare_query("SELECT * FROM " + ident_.to_string()));
  return lake_.session().query("DESCRIBE SELECT * FROM (" + bound + ") LIMIT 0");
}

Status TableWriter::evolve(const std::vector<std::pair<std::string, std::string>>& cols) {
  auto& cat = lake_.catalog();
  if (!cat.table_exists(ident_)) {
    std::string ddl = "CREATE TABLE " + ident_.to_string() + " (";
    for (const auto& [name, type] : cols)
      ddl += fmt::format("{} {}, ", ident_sql(name), lake_type_for(type).first);
    ddl +=
        "_source VARCHAR, _load_type VARCHAR, _ingested_at TIMESTAMPTZ, _source_position "
        "VARCHAR) PARTITIONED BY (day(_ingested_at))";
    SLUICE_RETURN_IF_ERROR(lake_.run(ddl));
    log::info("created lake table", {log::kv("table", ident_.to_string())});
    return Status::ok();
  }
  SLUICE_ASSIGN_OR_RETURN(auto have, lake_columns());
  std::map<std::string, std::string> lake_types;
  for (const auto& r : have.rows)
    lake_types[r.at(0).value_or("")] = r.at(1).value_or("");
  for (const auto& [name, type] : cols) {
    auto want = lake_type_for(type).first;
    auto it = lake_types.find(name);
    if (it == lake_types.end()) {
      SLUICE_RETURN_IF_ERROR(lake_
                                 .run(fmt::format("ALTER TABLE {} ADD COLUMN {} {}",
                                                  ident_.to_string(), ident_sql(name), want))
                                 .status());
      log::info("schema evolution: added column",
                {log::kv("table", ident_.to_string()), log::kv("column", name)});
    } else if ((it->second == "INTEGER" && want == "BIGINT") ||
               (it->second == "FLOAT" && want == "DOUBLE")) {
      // Widen when the lake allows it (INTEGER -> BIGINT, FLOAT -> DOUBLE); otherwise the batch
      // is cast to the lake's type below.
      auto st = lake_.run(fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {}", ident_.to_string(),
                                      ident_sql(name), want));
      if (st.is_ok()) {
        log::info("schema evolution: widened column",
                  {log::kv("table", ident_.to_string()), log::kv("column", name)});
      }
    }
  }
  return Status::ok();
}

Status TableWriter::write(const std::string& source_table, const std::string& select,
                          const std::map<std::string, std::string>& hints) {
  std::string batch = "__sluice_batch";
  SLUICE_RETURN_IF_ERROR(
      lake_.session().execute(fmt::format("CREATE OR REPLACE TEMP TABLE {} AS {}", batch, select)));
  SLUICE_ASSIGN_OR_RETURN(auto desc, lake_.session().query("DESCRIBE " + batch));
  std::vector<std::pair<std::string, std::string>> cols;
  std::map<std::string, std::string> batch_types;
  for (const auto& r : desc.rows) {
    std::string name = r.at(0).value_or("");
    if (name == "_source_position") continue;
    if (is_lineage(name)) {
      return invalid_argument(
          fmt::format("column '{}' clashes with Sluice's lineage column of that name", name));
    }
    std::string type = r.at(1).value_or("");
    auto h = hints.find(name);
    cols.emplace_back(name, h != hints.end() ? h->second : type);
    batch_types[name] = type;
  }
  SLUICE_RETURN_IF_ERROR(evolve(cols));
  SLUICE_ASSIGN_OR_RETURN(auto table, lake_.catalog().load_table(ident_));
  SLUICE_ASSIGN_OR_RETURN(auto have, lake_columns());
  // A value that does not convert to its lake column's type (a bad number, out of range) sends
  // its row to quarantine with the column and the source position.
  std::string exprs, bad_any, why;
  for (const auto& r : have.rows) {
    std::string name = r.at(0).value_or("");
    std::string lake_type = r.at(1).value_or("");
    std::string e;
    if (name == "_source") {
      e = sql_literal(source_);
    } else if (name == "_load_type") {
      e = sql_literal(load_type_);
    } else if (name == "_ingested_at") {
      e = "TIMESTAMPTZ " + sql_literal(ingested_at_);
    } else if (name == "_source_position") {
      e = "b._source_position";
    } else if (auto it = batch_types.find(name); it != batch_types.end()) {
      std::string col = "b." + ident_sql(name);
      std::string natural = fmt::format(fmt::runtime(lake_type_for(it->second).second), col);
      e = fmt::format("TRY_CAST({} AS {})", natural, lake_type);
      if (lake_type != "VARCHAR") {
        std::string bad = fmt::format("({} IS NOT NULL AND {} IS NULL)", col, e);
        bad_any += (bad_any.empty() ? "" : " OR ") + bad;
        why += fmt::format(
            "WHEN {} THEN {} ", bad,
            sql_literal(fmt::format("{}|value does not convert to {}", name, lake_type)));
      }
    } else {
      e = fmt::format("CAST(NULL AS {})", lake_type);
    }
    exprs += (exprs.empty() ? "" : ", ") + e + " AS " + ident_sql(name);
  }
  if (bad_any.empty()) bad_any = "false";
  if (bad_any != "false") {
    SLUICE_RETURN_IF_ERROR(quarantine(
        source_table,
        fmt::format("SELECT split_part(x.why, '|', 2) AS reason, split_part(x.why, '|', 1) AS "
                    "column_name, x.raw_row, x.source_position FROM (SELECT CASE {} END AS why, "
                    "CAST(to_json(b) AS VARCHAR) AS raw_row, b._source_position AS "
                    "source_position FROM {} AS b WHERE {}) AS x",
                    why, batch, bad_any)));
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto written,
      lake_.write_data_files(
          table, fmt::format("SELECT {} FROM {} AS b WHERE NOT ({})", exprs, batch, bad_any)));
  (void)lake_.session().execute("DROP TABLE IF EXISTS " + batch);
  for (const auto& f : written)
    rows_ += f.record_count;
  files_.insert(files_.end(), written.begin(), written.end());
  return Status::ok();
}

Status TableWriter::quarantine(const std::string& source_table, const std::string& select) {
  std::string q = fmt::format(
      "SELECT {} AS _source, {} AS source_table, CAST(q.reason AS VARCHAR) AS reason, "
      "CAST(q.column_name AS VARCHAR) AS column_name, CAST(q.raw_row AS VARCHAR) AS raw_row, "
      "CAST(q.source_position AS VARCHAR) AS source_position, TIMESTAMPTZ {} AS _ingested_at "
      "FROM ({}) AS q",
      sql_literal(source_), sql_literal(source_table), sql_literal(ingested_at_), select);
  std::string before = fmt::format("SELECT count(*) FROM {}", qtable_);
  int64_t n0 = 0;
  if (have_quarantine_) {
    SLUICE_ASSIGN_OR_RETURN(auto c, lake_.session().query(before));
    n0 = std::stoll(c.rows.at(0).at(0).value_or("0"));
  }
  SLUICE_RETURN_IF_ERROR(lake_.session().execute(
      have_quarantine_ ? fmt::format("INSERT INTO {} {}", qtable_, q)
                       : fmt::format("CREATE OR REPLACE TEMP TABLE {} AS {}", qtable_, q)));
  have_quarantine_ = true;
  SLUICE_ASSIGN_OR_RETURN(auto c, lake_.session().query(before));
  quarantined_ += std::stoll(c.rows.at(0).at(0).value_or("0")) - n0;
  return Status::ok();
}

Result<TableReport> TableWriter::commit(const std::map<std::string, std::string>& summary,
                                        bool replace) {
  TableReport rep;
  rep.lake_table = ident_.to_string();
  rep.rows = rows_;
  rep.quarantined = quarantined_;
  // Quarantine first (as the DB sources do): a bad row is never lost.
  if (quarantined_ > 0) {
    SLUICE_RETURN_IF_ERROR(write_quarantine(lake_, quarantine_ident_, source_, qtable_));
    log::warn("rows quarantined",
              {log::kv("table", quarantine_ident_.to_string()), log::kv("rows", quarantined_)});
  }
  if (!lake_.catalog().table_exists(ident_)) return rep;  // nothing was ever read
  SLUICE_ASSIGN_OR_RETURN(auto table, lake_.catalog().load_table(ident_));
  std::map<std::string, std::string> s = summary;
  s["sluice.source"] = source_;
  s["sluice.load-type"] = load_type_;
  s["sluice.rows"] = std::to_string(rows_);
  s["sluice.quarantined"] = std::to_string(quarantined_);
  Status st;
  if (replace) {
    SLUICE_ASSIGN_OR_RETURN(auto old, table.list_files(std::nullopt));
    std::vector<lake::DataFile> removed;
    for (auto& f : old)
      if (f.content == lake::FileContent::kData) removed.push_back(f);
    st = removed.empty() ? table.append(files_, s) : table.overwrite(removed, files_, {}, false, s);
  } else {
    st = table.append(files_, s);
  }
  if (!st.is_ok()) return st;
  files_.clear();  // committed: no longer ours to delete
  SLUICE_RETURN_IF_ERROR(table.refresh());
  rep.snapshot_id = table.metadata().current_snapshot_id;
  return rep;
}

namespace {

struct Candidate {
  std::string rel;  // relative to the folder, '/'-separated
  fs::path path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

Result<Candidate> stat_file(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return io_error(fmt::format("cannot stat {}", p.string()));
  Candidate c;
  c.path = p;
  c.size = static_cast<int64_t>(st.st_size);
  c.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return c;
}

bool ignored_name(const std::string& name) {
  auto ends = [&](std::string_view suf) {
    return name.size() >= suf.size() &&
           name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  return name.empty() || name[0] == '.' || ends(".tmp") || ends(".part");
}

std::string format_of(const TableConfig& t) {
  if (!t.format.empty()) return t.format;
  auto ext = fs::path(t.pattern).extension().string();
  if (ext == ".csv") return "csv";
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return "jsonl";
  if (ext == ".parquet") return "parquet";
  return "";
}

class FileIngester {
 public:
  FileIngester(const SourceConfig& src, engine::LakeSession& lake, const IngestOptions& opts)
      : src_(src), lake_(lake), opts_(opts) {}

  Result<IngestReport> run() {
    folder_ = src_.folder;
    if (!fs::is_directory(folder_)) {
      return not_found(fmt::format("source {}: folder {} does not exist (set 'folder' in {})",
                                   src_.name, folder_.string(), src_.file));
    }
    SLUICE_ASSIGN_OR_RETURN(auto tables, select_tables(src_, opts_.tables));
    ingested_at_ = now_utc_text();
    IngestReport report;
    report.source_position = folder_.string();
    for (const auto& t : tables) {
      auto r = load_table(t);
      if (!r.is_ok()) {
        return r.status().with_context(
            fmt::format("loading {}.{} into raw.{}_{} (the table is unchanged)", src_.name, t.name,
                        src_.name, t.name));
      }
      report.tables.push_back(std::move(r).value());
    }
    return report;
  }

 private:
  // Files matching the table's pattern, not yet loaded, settled.
  Result<std::vector<Candidate>> candidates(const TableConfig& t, const nlohmann::json& ledger,
                                            int64_t* unsettled) {
    std::vector<Candidate> out;
    auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(folder_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      std::error_code ec2;  // a file removed meanwhile is just not a candidate
      if (it->is_directory(ec2)) {
        if (!name.empty() && name[0] == '.') it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec2) || ignored_name(name)) continue;
      std::string rel = it->path().lexically_relative(folder_).generic_string();
      if (::fnmatch(t.pattern.c_str(), rel.c_str(), FNM_PATHNAME) != 0) continue;
      auto st = stat_file(it->path());
      if (!st.is_ok()) continue;
      Candidate c = std::move(st).value();
      c.rel = rel;
      if (ledger.contains(rel) && ledger[rel].value("size", int64_t{-1}) == c.size &&
          ledger[rel].value("mtime_ns", int64_t{-1}) == c.mtime_ns) {
        continue;  // loaded before
      }
      if (now_ns - c.mtime_ns < src_.settle_ms * 1000000LL) {
        ++*unsettled;
        log::info("file not settled yet; left for the next run",
                  {log::kv("file", rel), log::kv("settle_ms", src_.settle_ms)});
        continue;
      }
      out.push_back(std::move(c));
    }
    if (ec) return io_error(fmt::format("listing {}: {}", folder_.string(), ec.message()));
    std::sort(out.begin(), out.end(),
              [](const Candidate& a, const Candidate& b) { return a.rel < b.rel; });
    return out;
  }

  // A SELECT over one file: its columns plus _source_position "<file>:<line>"; bad rows are
  // sent to the writer's quarantine with the file and line.
  Result<std::string> stage_file(const TableConfig& t, const std::string& format,
                                 const Candidate& c, TableWriter& w, int n,
                                 std::map<std::string, std::string>* hints) {
    std::string file = sql_literal(c.path.string());
    std::string rel = c.rel;
    if (format == "parquet") {
      return fmt::format(
          "SELECT * EXCLUDE (file_row_number), {} || ':row ' || (file_row_number + 1) AS "
          "_source_position FROM read_parquet({}, file_row_number = true)",
          sql_literal(rel), file);
    }
    std::string stage = fmt::format("__sluice_stage_{}", n);
    if (format == "jsonl") {
      // Parsed here so that a bad line is quarantined with its number; good lines go to a
      // work file that DuckDB reads (types inferred over every line).
      std::ifstream in(c.path);
      if (!in) return io_error(fmt::format("cannot read {}", c.path.string()));
      fs::path work = opts_.work_dir / fmt::format("{}-{}.jsonl", t.name, n);
      std::ofstream out(work);
      std::string line;
      std::string bad;
      int64_t lineno = 0, good = 0;
      while (std::getline(in, line)) {
        ++lineno;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::string reason;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) {
          reason = "not valid JSON";
        } else if (!j.is_object()) {
          reason = "not a JSON object";
        }
        if (!reason.empty()) {
          bad += fmt::format("{}({}, {}, {})", bad.empty() ? "" : ", ", sql_literal(reason),
                             sql_literal(line), sql_literal(fmt::format("{}:{}", rel, lineno)));
          continue;
        }
        if (j.contains("_source_position")) {
          return invalid_argument(fmt::format(
              "{}:{}: field '_source_position' clashes with Sluice's lineage column", rel, lineno));
        }
        j["_source_position"] = fmt::format("{}:{}", rel, lineno);
        out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        ++good;
      }
      out.close();
      if (!bad.empty()) {
        SLUICE_RETURN_IF_ERROR(w.quarantine(
            t.name, fmt::format("SELECT reason, NULL AS column_name, raw_row, source_position "
                                "FROM (VALUES {}) AS v(reason, raw_row, source_position)",
                                bad)));
      }
      if (good == 0) return std::string();
      SLUICE_RETURN_IF_ERROR(lake_.session().execute(
          fmt::format("CREATE OR REPLACE TEMP TABLE {} AS SELECT * FROM read_json({}, format = "
                      "'newline_delimited', sample_size = -1)",
                      stage, sql_literal(work.string()))));
      return "SELECT * FROM " + stage;
    }
    // CSV: DuckDB sniffs the types (hints for new columns); the file is read as text with its
    // line numbers so that TableWriter quarantines a value that does not convert, by line.
    std::string opts = fmt::format("header = {}, delim = {}", t.header ? "true" : "false",
                                   sql_literal(t.delimiter));
    SLUICE_ASSIGN_OR_RETURN(
        auto sniff,
        lake_.session().query(fmt::format("DESCRIBE SELECT * FROM read_csv({}, {})", file, opts)));
    for (const auto& r : sniff.rows)
      (*hints)[r.at(0).value_or("")] = r.at(1).value_or("VARCHAR");
    std::string rejects = stage + "_rejects";
    SLUICE_RETURN_IF_ERROR(lake_.session().execute(fmt::format(
        "CREATE OR REPLACE TEMP TABLE {0} AS SELECT *, row_number() OVER () + {1} AS __line FROM "
        "read_csv({2}, {3}, all_varchar = true, store_rejects = true, rejects_table = "
        "'{4}', rejects_scan = '{4}_scan')",
        stage, t.header ? 1 : 0, file, opts, rejects)));
    // Lines DuckDB could not split into the header's columns.
    SLUICE_ASSIGN_OR_RETURN(
        auto has_rejects,
        lake_.session().query(fmt::format(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = {}", sql_literal(rejects))));
    if (has_rejects.rows.at(0).at(0).value_or("0") != "0") {
      SLUICE_RETURN_IF_ERROR(w.quarantine(
          t.name, fmt::format("SELECT e.error_message AS reason, e.column_name, e.csv_line AS "
                              "raw_row, {} || ':' || e.line AS source_position FROM {} AS e",
                              sql_literal(rel), rejects)));
    }
    (void)lake_.session().execute(
        fmt::format("DROP TABLE IF EXISTS {0}; DROP TABLE IF EXISTS {0}_scan", rejects));
    return fmt::format("SELECT * EXCLUDE (__line), {} || ':' || __line AS _source_position FROM {}",
                       sql_literal(rel), stage);
  }

  Result<TableReport> load_table(const TableConfig& t) {
    auto started = std::chrono::steady_clock::now();
    lake::TableIdent ident{"raw", src_.name + "_" + t.name};
    std::string format = format_of(t);
    nlohmann::json ledger = nlohmann::json::object();
    if (auto v = summary_value(lake_, ident, kLedgerKey)) {
      ledger = nlohmann::json::parse(*v, nullptr, false);
      if (ledger.is_discarded() || !ledger.is_object()) {
        return internal_error(
            fmt::format("the file ledger ({}) in {}'s snapshot summary is not "
                        "a JSON object",
                        kLedgerKey, ident.to_string()));
      }
    }
    int64_t unsettled = 0;
    SLUICE_ASSIGN_OR_RETURN(auto files, candidates(t, ledger, &unsettled));
    TableReport rep;
    rep.source_table = t.name;
    rep.lake_table = ident.to_string();
    rep.skipped = unsettled;
    if (files.empty()) return rep;
    std::error_code ec;
    fs::create_directories(opts_.work_dir, ec);
    TableWriter w(lake_, src_.name, ident, "file", ingested_at_);
    int n = 0;
    int loaded = 0;
    for (const auto& c : files) {
      std::map<std::string, std::string> hints;
      auto sel = stage_file(t, format, c, w, n, &hints);
      if (!sel.is_ok()) return sel.status().with_context(c.rel);
      if (!sel->empty()) {
        auto st = w.write(t.name, *sel, hints);
        if (!st.is_ok()) return st.with_context(c.rel);
      }
      (void)lake_.session().execute(fmt::format("DROP TABLE IF EXISTS __sluice_stage_{0}", n));
      ++n;
      // Changed while read (still being written): not recorded, so the next run reads it whole.
      auto after = stat_file(c.path);
      if (!after.is_ok() || after->size != c.size || after->mtime_ns != c.mtime_ns) {
        return conflict(
            fmt::format("{} changed while it was read; it is loaded by a later run", c.rel));
      }
      ledger[c.rel] = {{"size", c.size}, {"mtime_ns", c.mtime_ns}};
      rep.bytes += c.size;
      ++loaded;
      if (t.name == opts_.fail_table && opts_.fail_after_chunks >= 0 &&
          loaded >= opts_.fail_after_chunks) {
        return internal_error(fmt::format("injected failure (test hook) after {} files", loaded));
      }
    }
    SLUICE_ASSIGN_OR_RETURN(
        auto committed,
        w.commit({{kLedgerKey, ledger.dump()}, {"sluice.files-loaded", std::to_string(loaded)}},
                 false));
    committed.source_table = t.name;
    committed.bytes = rep.bytes;
    committed.skipped = unsettled;
    committed.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::info("files loaded",
              {log::kv("table", committed.lake_table), log::kv("files", loaded),
               log::kv("rows", committed.rows), log::kv("quarantined", committed.quarantined)});
    return committed;
  }

  const SourceConfig& src_;
  engine::LakeSession& lake_;
  const IngestOptions& opts_;
  fs::path folder_;
  std::string ingested_at_;
};

Status validate_files(SourceConfig& c) {
  if (c.folder.empty()) {
    return invalid_argument(fmt::format("{}: missing 'folder' (the drop folder)", c.file));
  }
  if (fs::path(c.folder).is_relative()) {
    c.folder = (fs::path(c.file).parent_path() / c.folder).lexically_normal().string();
  }
  for (auto& t : c.tables) {
    if (t.pattern.empty()) {
      return invalid_argument(fmt::format(
          "{}: [tables.{}] needs 'pattern', a glob of file names in the folder", c.file, t.name));
    }
    if (format_of(t).empty()) {
      return invalid_argument(fmt::format(
          "{}: [tables.{}] needs 'format' (csv, jsonl or parquet): the pattern '{}' does not "
          "tell",
          c.file, t.name, t.pattern));
    }
    t.format = format_of(t);
    if (!t.path.empty() || !t.records.empty() || !t.cursor.empty()) {
      return invalid_argument(fmt::format(
          "{}: [tables.{}]: 'path', 'records' and 'cursor' do not apply to a files source", c.file,
          t.name));
    }
  }
  return Status::ok();
}

}  // namespace

Status validate_rest(SourceConfig& c);  // rest_source.cc

Status validate_file_rest_source(SourceConfig& c) {
  if (c.tables.empty()) {
    return invalid_argument(fmt::format("{}: no tables; add [tables.<name>] sections", c.file));
  }
  return c.kind == SourceKind::kFiles ? validate_files(c) : validate_rest(c);
}

Result<IngestReport> ingest_files(const SourceConfig& source, engine::LakeSession& lake,
                                  const IngestOptions& options) {
  FileIngester ing(source, lake, options);
  return ing.run();
}

}  // namespace detail
}  // namespace sluice::sources

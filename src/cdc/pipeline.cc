// The CDC pipeline. See pipeline.h.
//
// Exactly once in the lake: every lake commit of a table records the position of the last
// change it holds ("sluice.cdc.position" in its snapshot summary); after all tables of a batch
// committed, checkpoint.json records the batch's position and only then is it confirmed to the
// source. A restart resumes from the checkpoint and skips, per table, the changes that table
// already committed, so a crash between two table commits neither loses nor doubles a change.
#include "cdc/pipeline.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "cdc/backfill.h"
#include "cdc/envelope.h"
#include "cdc/pg_reader.h"
#include "common/log.h"
#include "sources/sources_internal.h"

namespace sluice::cdc {

namespace sd = sources::detail;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kPositionKey = "sluice.cdc.position";
constexpr const char* kResumeKey = "sluice.cdc.resume";
constexpr const char* kSchemaVersionKey = "sluice.cdc.schema_version";

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// CPU time of the whole process (every thread), for the debug log of a batch.
int64_t cpu_ms() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
}

// Parquet codec of the files a CDC commit writes: cheap to write (they are small and rewritten
// soon: refined copy-on-write, compaction by the housekeeping DAG, which uses lake.compression).
constexpr std::string_view kHotCompression = "snappy";
// Rows per refined data file (one Parquet row group: DuckDB's default row group size).
constexpr int64_t kRefinedRowsPerFile = 122880;

// The refined files that may hold one of the keys of `keys_table` (a temp table with column
// `key`): with a single integer key, a file whose key bounds (manifest statistics) enclose none
// of the batch's keys is not read at all, so appending new keys costs nothing per existing file.
// Other keys: every file.
Result<std::vector<const lake::ScanTask*>> files_maybe_holding(engine::Session& session,
                                                               const lake::ScanPlan& plan,
                                                               const std::string& key_col,
                                                               const std::string& keys_sql) {
  std::vector<const lake::ScanTask*> all;
  for (const auto& t : plan.tasks)
    all.push_back(&t);
  const lake::NestedField* field = nullptr;
  for (const auto& f : plan.schema.fields)
    if (f.name == key_col) field = &f;
  if (!field || !field->type->is_primitive() ||
      (field->type->primitive != "long" && field->type->primitive != "int")) {
    return all;
  }
  SLUICE_ASSIGN_OR_RETURN(auto res, session.query(keys_sql));
  std::vector<int64_t> keys;
  keys.reserve(res.rows.size());
  for (const auto& r : res.rows)
    if (r[0]) keys.push_back(std::stoll(*r[0]));
  std::sort(keys.begin(), keys.end());
  auto bound = [&](const std::map<int, std::string>& m) -> std::optional<int64_t> {
    auto it = m.find(field->id);
    if (it == m.end()) return std::nullopt;
    auto v = lake::decode_single_value(*field->type, it->second);
    if (!v.is_ok()) return std::nullopt;
    if (const auto* i = std::get_if<int64_t>(&*v)) return *i;
    if (const auto* i = std::get_if<int32_t>(&*v)) return *i;
    return std::nullopt;
  };
  std::vector<const lake::ScanTask*> out;
  for (const auto* t : all) {
    auto lo = bound(t->data_file.lower_bounds);
    auto hi = bound(t->data_file.upper_bounds);
    if (lo && hi) {
      auto it = std::lower_bound(keys.begin(), keys.end(), *lo);
      if (it == keys.end() || *it > *hi) continue;  // no key of the batch in [lo, hi]
    }
    out.push_back(t);
  }
  return out;
}

const std::set<std::string>& meta_columns() {
  static const std::set<std::string> m = {"_op",        "_load_type", "_lsn",
                                          "_seq",       "_position",  "_txid",
                                          "_commit_ts", "_snapshot",  "_ingested_at"};
  return m;
}

// A column's lake type: (DuckDB spelling, Iceberg primitive name).
std::pair<std::string, std::string> lake_type(const Column& c) {
  switch (c.kind) {
    case ValueKind::kBool:
      return {"BOOLEAN", "boolean"};
    case ValueKind::kInt16:
    case ValueKind::kInt32:
      return {"INTEGER", "int"};
    case ValueKind::kInt64:
      return {"BIGINT", "long"};
    case ValueKind::kFloat32:
      return {"FLOAT", "float"};
    case ValueKind::kFloat64:
      return {"DOUBLE", "double"};
    case ValueKind::kDecimal:
      if (c.precision >= 1 && c.precision <= 38) {
        return {fmt::format("DECIMAL({},{})", c.precision, c.scale),
                fmt::format("decimal({}, {})", c.precision, c.scale)};
      }
      return {"VARCHAR", "string"};  // unconstrained numeric: exact as text
    case ValueKind::kDate:
      return {"DATE", "date"};
    case ValueKind::kTime:
      return {"TIME", "time"};
    case ValueKind::kTimestamp:
      return {"TIMESTAMP", "timestamp"};
    case ValueKind::kTimestampTz:
      return {"TIMESTAMPTZ", "timestamptz"};
    case ValueKind::kBytes:
      return {"BLOB", "binary"};
    default:
      return {"VARCHAR", "string"};
  }
}

std::pair<int, int> decimal_ps(const std::string& p) {
  int a = 0, b = 0;
  if (std::sscanf(p.c_str(), "decimal(%d, %d)", &a, &b) != 2)
    std::sscanf(p.c_str(), "decimal(%d,%d)", &a, &b);
  return {a, b};
}

// How an existing lake column of type `have` takes values of type `want`: "" (as is), "widen"
// (ALTER COLUMN TYPE), or an error text.
std::string evolution(const std::string& have, const std::string& want) {
  if (have == want || have == "string") return "";
  if ((have == "long" && want == "int") || (have == "double" && want == "float")) return "";
  if ((have == "int" && want == "long") || (have == "float" && want == "double")) return "widen";
  if (have.rfind("decimal", 0) == 0 && want.rfind("decimal", 0) == 0) {
    auto [hp, hs] = decimal_ps(have);
    auto [wp, ws] = decimal_ps(want);
    if (hs == ws && wp >= hp) return wp == hp ? "" : "widen";
    if (hs == ws) return "";
  }
  return fmt::format("type {} cannot hold {} values", have, want);
}

std::string key_text(const TableSchema& s, const Row& r) {
  std::string k;
  for (size_t i = 0; i < s.columns.size(); ++i) {
    if (!s.columns[i].key) continue;
    k += r.values[i] ? *r.values[i] : std::string("\x01NULL");
    k.push_back('\x1f');
  }
  return k;
}

bool pos_after(uint64_t major, uint64_t minor, const Position& p) {
  return major > p.major || (major == p.major && minor > p.minor);
}

Result<Position> parse_position(const std::string& text) {
  Position p;
  auto colon = text.find(':');
  if (colon == std::string::npos) return invalid_argument("bad CDC position '" + text + "'");
  p.major = std::stoull(text.substr(0, colon));
  p.minor = std::stoull(text.substr(colon + 1));
  return p;
}

// The position the latest CDC commit of a table recorded (walking back over commits that did
// not record one, such as compactions).
Position committed_position(const lake::Table& t) {
  const auto& md = t.metadata();
  const lake::Snapshot* s = md.current_snapshot();
  while (s != nullptr) {
    auto it = s->summary.find(kPositionKey);
    if (it != s->summary.end()) {
      auto p = parse_position(it->second);
      if (p.is_ok()) {
        auto r = s->summary.find(kResumeKey);
        if (r != s->summary.end()) p->resume = r->second;
        return *p;
      }
    }
    s = s->parent_snapshot_id ? md.snapshot_by_id(*s->parent_snapshot_id) : nullptr;
  }
  return Position{};
}

// librdkafka idempotent producer; delivery failures are counted and reported by flush().
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> open(const std::string& bootstrap) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const char* k, const char* v) -> Status {
      if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        return invalid_argument(fmt::format("bus producer setting {}={}: {}", k, v, err));
      }
      return Status::ok();
    };
    auto p = std::unique_ptr<Producer>(new Producer());
    Status st = set("bootstrap.servers", bootstrap.c_str());
    if (st.is_ok()) st = set("enable.idempotence", "true");
    if (st.is_ok()) st = set("acks", "all");
    if (st.is_ok()) st = set("linger.ms", "5");
    if (st.is_ok()) st = set("message.timeout.ms", "60000");
    if (!st.is_ok()) {
      rd_kafka_conf_destroy(conf);
      return st;
    }
    rd_kafka_conf_set_opaque(conf, p.get());
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<Producer*>(opaque);
      if (m->err) {
        ++self->failed_;
        self->last_error_ = rd_kafka_err2str(m->err);
      }
    });
    p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (p->rk_ == nullptr) return unavailable(std::string("bus producer: ") + err);
    return p;
  }
  ~Producer() {
    if (rk_) {
      rd_kafka_flush(rk_, 5000);
      rd_kafka_destroy(rk_);
    }
  }
  Status produce(const std::string& topic, const std::string& key,
                 const std::optional<std::string>& value) {
    void* vdata = value ? const_cast<char*>(value->data()) : nullptr;
    size_t vlen = value ? value->size() : 0;
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()), RD_KAFKA_V_VALUE(vdata, vlen),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk_, 50);
        continue;
      }
      if (e)
        return unavailable(
            fmt::format("bus: cannot produce to {}: {}", topic, rd_kafka_err2str(e)));
      return Status::ok();
    }
  }
  Status flush(int timeout_ms) {
    rd_kafka_resp_err_t e = rd_kafka_flush(rk_, timeout_ms);
    if (e)
      return unavailable(fmt::format("bus: delivery not confirmed within {} ms ({})", timeout_ms,
                                     rd_kafka_err2str(e)));
    if (failed_ > 0) {
      int64_t n = failed_;
      failed_ = 0;
      return unavailable(
          fmt::format("bus: {} change events were not delivered: {}", n, last_error_));
    }
    return Status::ok();
  }

 private:
  Producer() = default;
  rd_kafka_t* rk_ = nullptr;
  int64_t failed_ = 0;
  std::string last_error_;
};

}  // namespace

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string duck_of_iceberg(const std::string& p) {
  static const std::map<std::string, std::string> m = {
      {"boolean", "BOOLEAN"}, {"int", "INTEGER"},         {"long", "BIGINT"},
      {"float", "FLOAT"},     {"double", "DOUBLE"},       {"date", "DATE"},
      {"time", "TIME"},       {"timestamp", "TIMESTAMP"}, {"timestamptz", "TIMESTAMPTZ"},
      {"string", "VARCHAR"},  {"uuid", "UUID"},           {"binary", "BLOB"}};
  auto it = m.find(p);
  if (it != m.end()) return it->second;
  if (p.rfind("decimal(", 0) == 0) {
    std::string inner = p.substr(8, p.size() - 9);
    inner.erase(std::remove(inner.begin(), inner.end(), ' '), inner.end());
    return "DECIMAL(" + inner + ")";
  }
  return "VARCHAR";
}

std::string raw_table_name(const std::string& source, const std::string& table) {
  return "raw." + source + "_" + table + "_changes";
}
std::string refined_table_name(const std::string& source, const std::string& table) {
  return "refined." + source + "_" + table;
}

Result<std::optional<Checkpoint>> read_checkpoint(const std::filesystem::path& state_dir) {
  std::ifstream in(state_dir / "checkpoint.json");
  if (!in) return std::optional<Checkpoint>();
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    auto j = nlohmann::json::parse(ss.str());
    Checkpoint c;
    c.position.major = j.at("major").get<uint64_t>();
    c.position.minor = j.at("minor").get<uint64_t>();
    c.position.resume = j.at("resume").get<std::string>();
    c.snapshot_complete = j.at("snapshot_complete").get<bool>();
    return std::optional<Checkpoint>(c);
  } catch (const std::exception& e) {
    return corruption(fmt::format("{}: {}", (state_dir / "checkpoint.json").string(), e.what()));
  }
}

// ---------------------------------------------------------------------------------------------

struct Pipeline::Impl {
  sources::SourceConfig source;
  PipelineOptions options;
  engine::LakeSession* lake;
  std::unique_ptr<Producer> producer;
  std::unique_ptr<EventEncoder> encoder;  // the bus messages' format (envelope.h)
  bool snapshot_complete = false;

  struct LakeCols {
    std::vector<std::pair<std::string, std::string>> columns;  // (name, iceberg type)
  };
  struct TableState {
    std::string name;
    lake::TableIdent raw, refined;
    bool loaded = false;
    Position raw_pos, refined_pos;
    LakeCols cols;  // source columns of the lake tables (raw and refined agree)
    int schema_version = 0;
  };
  std::map<std::string, TableState> tables;

  StreamStatus status;
  std::deque<std::pair<int64_t, int64_t>> rate_samples;  // (ms, events)
  std::ofstream lag_log;

  // The running backfill (one at a time, oldest request first) and its chunk waiting for the
  // stream to reach its watermark.
  struct ActiveBackfill {
    BackfillRequest req;      // as last saved
    BackfillRequest mem;      // including chunks emitted but not yet committed
    bool range_done = false;  // the last chunk was emitted
    bool dirty = false;       // mem differs from req
  };
  struct PendingChunk {
    BackfillChunk chunk;
    std::unordered_set<std::string> touched;  // keys changed by transactions it does not see
    bool truncated = false;
  };
  std::optional<ActiveBackfill> backfill;
  std::optional<PendingChunk> pending;
  std::chrono::steady_clock::time_point last_backfill_poll{};

  Status backfill_step(ChangeReader& reader, std::vector<Transaction>& batch);
  Status backfill_observe(const Transaction& txn, ChangeReader& reader,
                          std::vector<Transaction>& batch);
  Status backfill_emit(std::vector<Transaction>& batch);
  Status backfill_persist(bool batch_empty);
  void backfill_fail(const Status& st);
  Result<std::vector<Row>> refined_keys(TableState& ts, const TableSchema& s,
                                        const std::optional<std::vector<Value>>& lower,
                                        const std::optional<std::vector<Value>>& upper,
                                        const std::string& where);

  Status ensure_tables(TableState& ts, const std::vector<const TableSchema*>& schemas);
  Status commit_table(TableState& ts,
                      const std::vector<std::pair<const ChangeEvent*, const Transaction*>>& evs,
                      const Position& batch_end);
  Status fill_unchanged(std::vector<Transaction>& batch);
  // A batch's commit runs in two halves: commit_to_lake (bus, lake tables, checkpoint file) may
  // run on the committer thread while the next batch is read; finish_commit (confirm to the
  // source, status) runs on the reading thread afterwards.
  struct CommitOutcome {
    Position end;
    int64_t events = 0, transactions = 0, newest_commit = 0;
    bool complete = false;
    int64_t bus_ms = 0, lake_ms = 0;
    std::vector<std::pair<int64_t, int64_t>> commits;  // (source commit ms, events) for lag
  };
  Result<CommitOutcome> commit_to_lake(std::vector<Transaction>& batch);
  Status finish_commit(const CommitOutcome& c, ChangeReader& reader);
  Result<std::optional<Row>> lookup_refined(TableState& ts, const TableSchema& s,
                                            const Row& key_row);
};

Pipeline::Pipeline(sources::SourceConfig source, PipelineOptions options, engine::LakeSession* lake)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = std::move(source);
  impl_->options = std::move(options);
  impl_->lake = lake;
  impl_->status.source = impl_->source.name;
  for (const auto& t : impl_->source.tables) {
    Impl::TableState ts;
    ts.name = t.name;
    ts.raw = *lake::TableIdent::parse(raw_table_name(impl_->source.name, t.name));
    ts.refined = *lake::TableIdent::parse(refined_table_name(impl_->source.name, t.name));
    impl_->tables[t.name] = std::move(ts);
  }
  if (const char* p = std::getenv("SLUICE_CDC_LAG_LOG")) impl_->lag_log.open(p, std::ios::app);
}

Pipeline::~Pipeline() = default;

Result<Position> Pipeline::prepare() {
  std::error_code ec;
  std::filesystem::create_directories(impl_->options.state_dir, ec);
  SLUICE_ASSIGN_OR_RETURN(auto cp, read_checkpoint(impl_->options.state_dir));
  if (cp && cp->snapshot_complete) {
    impl_->snapshot_complete = true;
    impl_->status.position = cp->position.resume;
    return cp->position;
  }
  // A bootstrap starts over: drop what a half-done one left.
  auto& catalog = impl_->lake->catalog();
  for (auto& [name, ts] : impl_->tables) {
    for (const auto& id : {ts.raw, ts.refined}) {
      if (catalog.table_exists(id)) {
        log::info("cdc bootstrap resets a lake table", {log::kv("table", id.to_string())});
        SLUICE_RETURN_IF_ERROR(catalog.drop_table(id, true));
      }
    }
  }
  std::filesystem::remove(impl_->options.state_dir / "checkpoint.json", ec);
  if (!impl_->options.bootstrap.empty() && !impl_->producer) {
    SLUICE_ASSIGN_OR_RETURN(impl_->producer, Producer::open(impl_->options.bootstrap));
  }
  return Position{};
}

Status Pipeline::Impl::ensure_tables(TableState& ts,
                                     const std::vector<const TableSchema*>& schemas) {
  auto& catalog = lake->catalog();
  if (!ts.loaded) {
    if (catalog.table_exists(ts.raw) && catalog.table_exists(ts.refined)) {
      SLUICE_ASSIGN_OR_RETURN(auto raw, catalog.load_table(ts.raw));
      SLUICE_ASSIGN_OR_RETURN(auto refined, catalog.load_table(ts.refined));
      ts.raw_pos = committed_position(raw);
      ts.refined_pos = committed_position(refined);
      for (const auto& f : refined.metadata().current_schema().fields) {
        if (meta_columns().count(f.name)) continue;
        ts.cols.columns.emplace_back(f.name, f.type->is_primitive() ? f.type->primitive : "string");
      }
      if (const auto* s = refined.metadata().current_snapshot()) {
        auto it = s->summary.find(kSchemaVersionKey);
        if (it != s->summary.end()) ts.schema_version = std::atoi(it->second.c_str());
      }
    } else {
      // Create both from the first schema.
      const TableSchema& s = *schemas.front();
      std::string cols;
      for (const auto& c : s.columns) {
        cols += fmt::format("{} {}, ", sd::duck_ident(c.name), lake_type(c).first);
        ts.cols.columns.emplace_back(c.name, lake_type(c).second);
      }
      if (!catalog.table_exists(ts.raw)) {
        SLUICE_RETURN_IF_ERROR(
            lake
                ->run(fmt::format(
                    "CREATE TABLE {} ({}_op VARCHAR, _load_type VARCHAR, _lsn BIGINT, _seq BIGINT, "
                    "_position VARCHAR, _txid VARCHAR, _commit_ts TIMESTAMPTZ, _snapshot BOOLEAN, "
                    "_ingested_at TIMESTAMPTZ)",
                    ts.raw.to_string(), cols))
                .status());
      }
      if (!catalog.table_exists(ts.refined)) {
        SLUICE_RETURN_IF_ERROR(
            lake->run(fmt::format(
                          "CREATE TABLE {} ({}_lsn BIGINT, _seq BIGINT, _commit_ts TIMESTAMPTZ)",
                          ts.refined.to_string(), cols))
                .status());
      }
      ts.schema_version = s.version;
    }
    ts.loaded = true;
  }
  // Evolve: add new columns, widen types; a change the lake cannot take stops the stream.
  for (const TableSchema* s : schemas) {
    for (const auto& c : s->columns) {
      auto want = lake_type(c);
      auto it = std::find_if(ts.cols.columns.begin(), ts.cols.columns.end(),
                             [&](const auto& p) { return p.first == c.name; });
      if (it == ts.cols.columns.end()) {
        for (const auto& id : {ts.raw, ts.refined}) {
          SLUICE_RETURN_IF_ERROR(
              lake->run(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", id.to_string(),
                                    sd::duck_ident(c.name), want.first))
                  .status());
        }
        log::info("cdc schema evolved", {log::kv("source", source.name), log::kv("table", ts.name),
                                         log::kv("added", c.name), log::kv("type", want.second)});
        ts.cols.columns.emplace_back(c.name, want.second);
        continue;
      }
      std::string how = evolution(it->second, want.second);
      if (how == "widen") {
        for (const auto& id : {ts.raw, ts.refined}) {
          SLUICE_RETURN_IF_ERROR(
              lake->run(fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {}", id.to_string(),
                                    sd::duck_ident(c.name), want.first))
                  .status());
        }
        log::info("cdc schema evolved", {log::kv("source", source.name), log::kv("table", ts.name),
                                         log::kv("widened", c.name), log::kv("type", want.second)});
        it->second = want.second;
      } else if (!how.empty()) {
        // Iceberg cannot change such a type in place (only int->long, float->double, wider
        // decimals). A string column holds every type's values, those before the change (met
        // again on the restart) and those after, so that is the way out the error names.
        const std::string raw = ts.raw.to_string(), refined = ts.refined.to_string();
        const std::string& col = c.name;
        const std::string old = c.name + "_old";
        return invalid_argument(fmt::format(
            "source {}: table {}: column '{}' changed to {} in the source, but lake column {}.{} "
            "has {}: {}. The stream stopped before this change; nothing is lost (the source keeps "
            "it). Either make the lake column a string in both tables, keeping the old values "
            "in {}_old (`sluice sql -e \"ALTER TABLE {} RENAME COLUMN {} TO {}; ALTER TABLE {} "
            "ADD COLUMN {} VARCHAR; ALTER TABLE {} RENAME COLUMN {} TO {}; ALTER TABLE {} ADD "
            "COLUMN {} VARCHAR\"`), or reset the stream (`sluice cdc reset {}`) to bootstrap both "
            "tables again; then start again",
            source.name, ts.name, c.name, c.source_type, refined, c.name, it->second, how, c.name,
            raw, col, old, raw, col, refined, col, old, refined, col, source.name));
      }
    }
    ts.schema_version = std::max(ts.schema_version, s->version);
  }
  return Status::ok();
}

Result<std::optional<Row>> Pipeline::Impl::lookup_refined(TableState& ts, const TableSchema& s,
                                                          const Row& key_row) {
  auto& catalog = lake->catalog();
  if (!catalog.table_exists(ts.refined)) return std::optional<Row>();
  SLUICE_ASSIGN_OR_RETURN(auto t, catalog.load_table(ts.refined));
  SLUICE_ASSIGN_OR_RETURN(auto plan, t.plan_scan({}));
  if (plan.tasks.empty()) return std::optional<Row>();
  std::string select, where;
  for (size_t i = 0; i < s.columns.size(); ++i) {
    const auto& c = s.columns[i];
    bool in_lake = std::any_of(ts.cols.columns.begin(), ts.cols.columns.end(),
                               [&](const auto& p) { return p.first == c.name; });
    select += (i ? ", " : "") + (in_lake ? (c.kind == ValueKind::kBytes
                                                ? "hex(" + sd::duck_ident(c.name) + ")"
                                                : "CAST(" + sd::duck_ident(c.name) + " AS VARCHAR)")
                                         : std::string("NULL"));
    if (c.key) {
      if (!key_row.values[i]) return std::optional<Row>();
      where += fmt::format("{}CAST({} AS VARCHAR) = {}", where.empty() ? "" : " AND ",
                           sd::duck_ident(c.name), sd::sql_literal(*key_row.values[i]));
    }
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto res, lake->session().query(fmt::format("SELECT {} FROM ({}) t WHERE {}", select,
                                                  engine::scan_plan_sql(plan), where)));
  if (res.rows.empty()) return std::optional<Row>();
  Row r;
  r.values = res.rows[0];
  for (size_t i = 0; i < s.columns.size(); ++i) {
    if (s.columns[i].kind == ValueKind::kBytes && r.values[i]) {
      std::string out;
      const std::string& h = *r.values[i];
      for (size_t j = 0; j + 1 < h.size(); j += 2)
        out.push_back(static_cast<char>(std::stoi(h.substr(j, 2), nullptr, 16)));
      r.values[i] = out;
    } else if (s.columns[i].kind == ValueKind::kBool && r.values[i]) {
      r.values[i] = (*r.values[i] == "true" || *r.values[i] == "t") ? "true" : "false";
    }
  }
  return std::optional<Row>(std::move(r));
}

Status Pipeline::Impl::fill_unchanged(std::vector<Transaction>& batch) {
  bool any = false;
  for (const auto& t : batch)
    for (const auto& e : t.events)
      any = any || !e.unchanged.empty();
  if (!any) return Status::ok();
  // The last known state of rows changed in this batch, by table and key.
  std::map<std::string, std::unordered_map<std::string, Row>> state;
  for (auto& t : batch) {
    for (auto& e : t.events) {
      if (!e.unchanged.empty() && e.after) {
        auto& known = state[e.schema->table];
        Row key_row = *e.after;
        auto it = known.find(key_text(*e.schema, key_row));
        std::optional<Row> prev;
        if (it != known.end()) {
          prev = it->second;
        } else {
          auto ts = tables.find(e.schema->table);
          if (ts != tables.end()) {
            SLUICE_ASSIGN_OR_RETURN(prev, lookup_refined(ts->second, *e.schema, key_row));
          }
        }
        if (!prev) {
          return internal_error(fmt::format(
              "source {}: table {}: an update left a TOAST-ed value unchanged but Sluice has no "
              "earlier state of the row (key {}); set REPLICA IDENTITY FULL on the table or reset "
              "the stream",
              source.name, e.schema->table, key_text(*e.schema, key_row)));
        }
        for (size_t i : e.unchanged) {
          if (i < prev->values.size()) e.after->values[i] = prev->values[i];
        }
        e.unchanged.clear();
      }
      if (e.after) {
        state[e.schema->table][key_text(*e.schema, *e.after)] = *e.after;
      } else if (e.op == Op::kDelete && e.before) {
        state[e.schema->table].erase(key_text(*e.schema, *e.before));
      } else if (e.op == Op::kTruncate) {
        state[e.schema->table].clear();
      }
    }
  }
  return Status::ok();
}

Status Pipeline::Impl::commit_table(
    TableState& ts, const std::vector<std::pair<const ChangeEvent*, const Transaction*>>& evs,
    const Position& batch_end) {
  std::vector<const TableSchema*> schemas;
  for (const auto& [e, t] : evs) {
    if (std::find(schemas.begin(), schemas.end(), e->schema.get()) == schemas.end()) {
      schemas.push_back(e->schema.get());
    }
  }
  SLUICE_RETURN_IF_ERROR(ensure_tables(ts, schemas));
  const auto& lcols = ts.cols.columns;
  std::vector<std::string> key_cols;
  for (const auto& c : evs.back().first->schema->columns)
    if (c.key) key_cols.push_back(c.name);
  if (key_cols.empty()) {
    return invalid_argument(fmt::format(
        "source {}: table {} has no primary key; add one in the source or name the key columns "
        "with `key = [...]` in [tables.{}] of {}",
        source.name, ts.name, ts.name, source.file));
  }

  // Stage the events as CSV: meta columns, then the lake's source columns.
  std::string csv;
  std::map<const TableSchema*, std::vector<int>> maps;  // lake column -> event column
  bool any_raw = false, any_refined = false;
  for (const auto& [e, t] : evs) {
    bool for_raw = pos_after(e->position.major, e->position.minor, ts.raw_pos);
    bool for_refined = pos_after(e->position.major, e->position.minor, ts.refined_pos);
    if (!for_raw && !for_refined) continue;
    any_raw |= for_raw;
    any_refined |= for_refined;
    auto& m = maps[e->schema.get()];
    if (m.empty()) {
      for (const auto& [name, type] : lcols) {
        int idx = -1;
        for (size_t i = 0; i < e->schema->columns.size(); ++i)
          if (e->schema->columns[i].name == name) idx = static_cast<int>(i);
        m.push_back(idx);
      }
    }
    auto emit = [&](char op, const std::optional<Row>& row, uint64_t ord, bool raw) {
      std::string line;
      auto field = [&](const std::string& v) {
        sd::append_csv_field(line, v.data(), v.size());
        line.push_back(',');
      };
      field(std::string(1, op));
      field(std::to_string(e->position.major));
      field(std::to_string(e->position.minor));
      field(std::to_string(ord));
      field(raw ? "true" : "false");
      field(e->position.resume);
      field(t->txid);
      field(std::to_string(t->commit_ts_ms));
      field(e->snapshot ? "true" : "false");
      for (size_t j = 0; j < m.size(); ++j) {
        int i = m[j];
        if (row && i >= 0 && row->values[static_cast<size_t>(i)]) {
          const std::string& v = *row->values[static_cast<size_t>(i)];
          if (e->schema->columns[static_cast<size_t>(i)].kind == ValueKind::kBytes) {
            std::string h = hex(v);
            sd::append_csv_field(line, h.data(), h.size());
          } else {
            sd::append_csv_field(line, v.data(), v.size());
          }
        }
        if (j + 1 < m.size()) line.push_back(',');
      }
      if (m.empty()) line.pop_back();
      line.push_back('\n');
      csv += line;
    };
    uint64_t ord = e->position.minor * 2;
    if (e->op == Op::kUpdate && e->before && e->after &&
        key_text(*e->schema, *e->before) != key_text(*e->schema, *e->after)) {
      emit('d', e->before, ord - 1, false);  // the key moved: the old key goes away
    }
    const auto& row = e->op == Op::kDelete ? e->before : e->after;
    emit(static_cast<char>(e->op), row, ord, true);
  }
  if (!any_raw && !any_refined) return Status::ok();
  const int64_t t0 = now_ms();
  int64_t t_stage = 0, t_raw_write = 0, t_raw_commit = 0, t_ref_prep = 0, t_ref_write = 0;
  std::filesystem::path file = options.state_dir / fmt::format("stage-{}.csv", ts.name);
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << csv;
    if (!out) return io_error("cannot write " + file.string());
  }
  std::string columns =
      "{'_op': 'VARCHAR', '_lsn': 'BIGINT', '_seq': 'BIGINT', '_ord': 'BIGINT', "
      "'_raw': 'BOOLEAN', '_position': 'VARCHAR', '_txid': 'VARCHAR', "
      "'_commit_ms': 'BIGINT', '_snapshot': 'BOOLEAN'";
  std::string conv = "_op, _lsn, _seq, _ord, _raw, _position, _txid, _commit_ms, _snapshot";
  std::string src_cols;
  for (size_t j = 0; j < lcols.size(); ++j) {
    columns += fmt::format(", 'c{}': 'VARCHAR'", j);
    std::string duck = duck_of_iceberg(lcols[j].second);
    std::string expr =
        duck == "BLOB" ? fmt::format("from_hex(c{})", j) : fmt::format("CAST(c{} AS {})", j, duck);
    conv += fmt::format(", {} AS {}", expr, sd::duck_ident(lcols[j].first));
    src_cols += sd::duck_ident(lcols[j].first) + ", ";
  }
  columns += "}";
  auto& session = lake->session();
  SLUICE_RETURN_IF_ERROR(session.execute(fmt::format(
      "CREATE OR REPLACE TEMP TABLE __cdc_stage AS SELECT {} FROM read_csv({}, columns = {}, "
      "header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr = "
      "'', allow_quoted_nulls = false)",
      conv, sd::sql_literal(file.string()), columns)));
  t_stage = now_ms();
  auto after = [](const Position& p) {
    return fmt::format("(_lsn > {0} OR (_lsn = {0} AND _seq > {1}))", p.major, p.minor);
  };
  std::map<std::string, std::string> summary = {
      {kPositionKey, fmt::format("{}:{}", batch_end.major, batch_end.minor)},
      {kResumeKey, batch_end.resume},
      {kSchemaVersionKey, std::to_string(ts.schema_version)},
      {"sluice.cdc.source", source.name}};
  // Raw: every change, appended.
  if (any_raw) {
    SLUICE_ASSIGN_OR_RETURN(auto raw, lake->catalog().load_table(ts.raw));
    SLUICE_ASSIGN_OR_RETURN(
        auto files,
        lake->write_data_files(
            raw,
            fmt::format("SELECT {}_op, 'cdc' AS _load_type, _lsn, _seq, _position, _txid, "
                        "to_timestamp(_commit_ms / 1000.0) AS _commit_ts, _snapshot, "
                        "get_current_timestamp() "
                        "AS _ingested_at FROM __cdc_stage WHERE _raw AND {} ORDER BY _lsn, _seq",
                        src_cols, after(ts.raw_pos)),
            {.compression = kHotCompression}));
    t_raw_write = now_ms();
    SLUICE_RETURN_IF_ERROR(raw.append(files, summary));
    t_raw_commit = now_ms();
    ts.raw_pos = batch_end;
  }
  // Refined: the last change per key merged into the current state (copy-on-write of the files
  // holding changed keys).
  if (any_refined) {
    std::string keys, join;
    for (const auto& k : key_cols) {
      keys += (keys.empty() ? "" : ", ") + sd::duck_ident(k);
      join += fmt::format("{0}f.{1} = t.{1}", join.empty() ? "" : " AND ", sd::duck_ident(k));
    }
    std::string base = after(ts.refined_pos);
    SLUICE_ASSIGN_OR_RETURN(
        auto trunc,
        session.query(fmt::format("SELECT _lsn, _ord FROM __cdc_stage WHERE _op = 't' AND "
                                  "{} ORDER BY _lsn DESC, _ord DESC LIMIT 1",
                                  base)));
    bool truncated = !trunc.rows.empty();
    if (truncated) {
      base += fmt::format(" AND (_lsn > {0} OR (_lsn = {0} AND _ord > {1}))", *trunc.rows[0][0],
                          *trunc.rows[0][1]);
    }
    SLUICE_RETURN_IF_ERROR(session.execute(fmt::format(
        "CREATE OR REPLACE TEMP TABLE __cdc_final AS SELECT * FROM __cdc_stage WHERE {} AND _op <> "
        "'t' QUALIFY row_number() OVER (PARTITION BY {} ORDER BY _lsn DESC, _ord DESC) = 1",
        base, keys)));
    for (int attempt = 0;; ++attempt) {
      SLUICE_ASSIGN_OR_RETURN(auto refined, lake->catalog().load_table(ts.refined));
      SLUICE_ASSIGN_OR_RETURN(auto plan, refined.plan_scan({}));
      std::vector<lake::DataFile> removed;
      lake::ScanPlan kept = plan;
      kept.tasks.clear();
      if (!plan.tasks.empty()) {
        std::set<std::string> affected;
        if (truncated) {
          for (const auto& t : plan.tasks)
            affected.insert(t.data_file.file_path);
        } else {
          lake::ScanPlan candidates = plan;
          candidates.tasks.clear();
          SLUICE_ASSIGN_OR_RETURN(
              auto maybe,
              files_maybe_holding(session, plan, key_cols.size() == 1 ? key_cols[0] : std::string(),
                                  fmt::format("SELECT {} FROM __cdc_final", keys)));
          for (const auto* t : maybe)
            candidates.tasks.push_back(*t);
          if (!candidates.tasks.empty()) {
            SLUICE_ASSIGN_OR_RETURN(
                auto res,
                session.query(fmt::format(
                    "SELECT DISTINCT {} FROM ({}) t WHERE EXISTS (SELECT 1 FROM "
                    "__cdc_final f WHERE {})",
                    engine::kScanFileColumn, engine::scan_plan_sql(candidates, true), join)));
            for (const auto& r : res.rows)
              if (r[0]) affected.insert(*r[0]);
          }
        }
        for (const auto& t : plan.tasks) {
          if (affected.count(t.data_file.file_path)) {
            removed.push_back(t.data_file);
            if (!truncated) kept.tasks.push_back(t);
          }
        }
      }
      std::string select = fmt::format(
          "SELECT {}_lsn, _seq, to_timestamp(_commit_ms / 1000.0) AS _commit_ts FROM __cdc_final "
          "WHERE _op <> 'd'",
          src_cols);
      if (!kept.tasks.empty()) {
        select = fmt::format(
            "SELECT {0}_lsn, _seq, _commit_ts FROM ({1}) t WHERE NOT EXISTS (SELECT 1 FROM "
            "__cdc_final f WHERE {2}) UNION ALL {3}",
            src_cols, engine::scan_plan_sql(kept), join, select);
      }
      t_ref_prep = now_ms();
      // In key order, one row group per file: each file covers a narrow key range, so a later
      // batch rewrites only the files whose range holds one of its keys (files_maybe_holding).
      SLUICE_ASSIGN_OR_RETURN(
          auto added,
          lake->write_data_files(
              refined, fmt::format("SELECT * FROM ({}) ORDER BY {}", select, keys),
              {.compression = kHotCompression, .max_rows_per_file = kRefinedRowsPerFile}));
      t_ref_write = now_ms();
      Status st = refined.overwrite(removed, added, {}, false, summary);
      if (st.is_ok()) break;
      std::error_code ec;
      for (const auto& f : added)
        std::filesystem::remove(f.file_path, ec);
      if (st.code() != StatusCode::kConflict || attempt >= 3) return st;
    }
    ts.refined_pos = batch_end;
  }
  const int64_t t_end = now_ms();
  log::debug("cdc table committed",
             {log::kv("table", ts.name), log::kv("events", static_cast<int64_t>(evs.size())),
              log::kv("stage_ms", t_stage - t0), log::kv("raw_write_ms", t_raw_write - t_stage),
              log::kv("raw_commit_ms", t_raw_commit - t_raw_write),
              log::kv("refined_prep_ms", t_ref_prep - t_raw_commit),
              log::kv("refined_write_ms", t_ref_write - t_ref_prep),
              log::kv("refined_commit_ms", t_end - t_ref_write)});
  std::error_code ec;
  std::filesystem::remove(file, ec);
  return Status::ok();
}

Result<Pipeline::Impl::CommitOutcome> Pipeline::Impl::commit_to_lake(
    std::vector<Transaction>& batch) {
  if (batch.empty()) return internal_error("cdc: an empty batch to commit");
  const int64_t t_start = now_ms();
  const int64_t cpu_start = cpu_ms();
  SLUICE_RETURN_IF_ERROR(fill_unchanged(batch));
  const Position end = batch.back().position;
  int64_t events = 0;
  int64_t newest_commit = 0;
  bool complete = snapshot_complete;
  for (const auto& t : batch) {
    events += static_cast<int64_t>(t.events.size());
    complete = complete || t.snapshot_complete || t.events.empty() ||
               (!t.events.empty() && !t.events.front().snapshot);
    if (!t.events.empty() && !t.events.front().snapshot)
      newest_commit = std::max(newest_commit, t.commit_ts_ms);
  }
  // 1. The bus (at least once): every event, tombstones after deletes.
  if (producer) {
    for (const auto& t : batch) {
      for (const auto& e : t.events) {
        if (e.op == Op::kTruncate) continue;  // Debezium skips truncates by default
        if (!encoder) {
          EventEncoder::Options eo;
          eo.format = options.format;
          eo.topic_prefix = options.topic_prefix;
          eo.registry_url = options.registry_url;
          SLUICE_ASSIGN_OR_RETURN(encoder, EventEncoder::open(eo, source));
        }
        SLUICE_ASSIGN_OR_RETURN(EncodedEvent m, encoder->encode(e, t));
        SLUICE_RETURN_IF_ERROR(producer->produce(m.topic, m.key, m.value));
        if (e.op == Op::kDelete)
          SLUICE_RETURN_IF_ERROR(producer->produce(m.topic, m.key, std::nullopt));
      }
    }
    SLUICE_RETURN_IF_ERROR(producer->flush(60000));
  }
  const int64_t bus_ms = now_ms();
  // 2. The lake, per table.
  std::map<std::string, std::vector<std::pair<const ChangeEvent*, const Transaction*>>> by_table;
  for (const auto& t : batch)
    for (const auto& e : t.events)
      by_table[e.schema->table].emplace_back(&e, &t);
  for (auto& [name, evs] : by_table) {
    auto it = tables.find(name);
    if (it == tables.end()) continue;
    Status st = commit_table(it->second, evs, end);
    if (!st.is_ok()) {
      // Errors that already name the source and table are returned as they are.
      if (st.message().rfind(fmt::format("source {}: table {}:", source.name, name), 0) == 0) {
        return st;
      }
      return st.with_context(fmt::format("source {} table {}", source.name, name));
    }
  }
  const int64_t lake_ms = now_ms();
  log::debug("cdc batch committed",
             {log::kv("events", events), log::kv("bus_ms", bus_ms - t_start),
              log::kv("lake_ms", lake_ms - bus_ms), log::kv("cpu_ms", cpu_ms() - cpu_start)});
  // 3. The checkpoint (the source lets go once finish_commit confirms it).
  Json cp = {{"major", end.major},
             {"minor", end.minor},
             {"resume", end.resume},
             {"snapshot_complete", complete}};
  SLUICE_RETURN_IF_ERROR(write_file_atomic(options.state_dir / "checkpoint.json", cp.dump()));
  CommitOutcome out;
  out.end = end;
  out.events = events;
  out.transactions = static_cast<int64_t>(batch.size());
  out.newest_commit = newest_commit;
  out.complete = complete;
  out.bus_ms = bus_ms;
  out.lake_ms = lake_ms;
  for (const auto& t : batch) {
    if (!t.events.empty() && !t.events.front().snapshot)
      out.commits.emplace_back(t.commit_ts_ms, static_cast<int64_t>(t.events.size()));
  }
  return out;
}

Status Pipeline::Impl::finish_commit(const CommitOutcome& c, ChangeReader& reader) {
  snapshot_complete = c.complete;
  SLUICE_RETURN_IF_ERROR(reader.confirm(c.end));
  if (lag_log.is_open()) {
    for (const auto& [commit_ms, n] : c.commits)
      lag_log << commit_ms << ' ' << c.lake_ms << ' ' << c.bus_ms << ' ' << n << '\n';
    lag_log.flush();
  }
  status.transactions += c.transactions;
  status.events += c.events;
  status.position = c.end.resume;
  if (c.newest_commit > 0) {
    status.lake_lag_ms = c.lake_ms - c.newest_commit;
    if (producer) status.bus_lag_ms = c.bus_ms - c.newest_commit;
  }
  status.state = c.complete ? "streaming" : "bootstrapping";
  return Status::ok();
}

// --- Backfills (docs/cdc.md "Backfill") -----------------------------------------------------

Result<std::vector<Row>> Pipeline::Impl::refined_keys(
    TableState& ts, const TableSchema& s, const std::optional<std::vector<Value>>& lower,
    const std::optional<std::vector<Value>>& upper, const std::string& where) {
  std::vector<Row> out;
  if (!lake->catalog().table_exists(ts.refined)) return out;
  SLUICE_ASSIGN_OR_RETURN(auto t, lake->catalog().load_table(ts.refined));
  SLUICE_ASSIGN_OR_RETURN(auto plan, t.plan_scan({}));
  if (plan.tasks.empty()) return out;
  auto ident = [](const Column& c) { return sd::duck_ident(c.name); };
  auto literal = [&](const Column& c, const std::string& v) {
    std::string type = "VARCHAR";
    for (const auto& f : plan.schema.fields)
      if (f.name == c.name && f.type->is_primitive()) type = duck_of_iceberg(f.type->primitive);
    return fmt::format("CAST({} AS {})", sd::sql_literal(v), type);
  };
  std::string cond = where.empty() ? "TRUE" : "(" + where + ")";
  if (lower) {
    SLUICE_ASSIGN_OR_RETURN(auto c, key_compare(s, *lower, ">", ident, literal));
    cond += " AND " + c;
  }
  if (upper) {
    SLUICE_ASSIGN_OR_RETURN(auto c, key_compare(s, *upper, "<=", ident, literal));
    cond += " AND " + c;
  }
  const auto keys = key_indexes(s);
  std::string select;
  for (size_t i : keys)
    select += (select.empty() ? "" : ", ") +
              fmt::format("CAST({} AS VARCHAR)", sd::duck_ident(s.columns[i].name));
  SLUICE_ASSIGN_OR_RETURN(
      auto res, lake->session().query(fmt::format("SELECT {} FROM ({}) t WHERE {}", select,
                                                  engine::scan_plan_sql(plan), cond)));
  for (auto& r : res.rows) {
    Row row;
    row.values.resize(s.columns.size());
    for (size_t j = 0; j < keys.size(); ++j)
      row.values[keys[j]] = std::move(r[j]);
    out.push_back(std::move(row));
  }
  return out;
}

void Pipeline::Impl::backfill_fail(const Status& st) {
  log::error("cdc backfill failed",
             {log::kv("source", source.name), log::kv("table", backfill->req.table),
              log::kv("error", st.message())});
  auto r = backfill->req;
  r.state = "failed";
  r.error = st.message();
  r.finished_ms = now_ms();
  (void)save_backfill(options.state_dir, r);
  backfill.reset();
  pending.reset();
  status.backfill.clear();
}

Status Pipeline::Impl::backfill_persist(bool batch_empty) {
  if (!backfill || !backfill->dirty || !batch_empty) return Status::ok();
  // Everything emitted is committed to the lake now.
  backfill->req = backfill->mem;
  backfill->dirty = false;
  if (backfill->range_done && !pending) {
    backfill->req.state = "done";
    backfill->req.finished_ms = now_ms();
    log::info("cdc backfill done",
              {log::kv("source", source.name), log::kv("table", backfill->req.table),
               log::kv("rows", backfill->req.rows), log::kv("deleted", backfill->req.deleted)});
  }
  SLUICE_RETURN_IF_ERROR(save_backfill(options.state_dir, backfill->req));
  if (backfill->req.state == "done") {
    backfill.reset();
    status.backfill.clear();
  }
  return Status::ok();
}

Status Pipeline::Impl::backfill_step(ChangeReader& reader, std::vector<Transaction>& batch) {
  if (!snapshot_complete) return Status::ok();
  if (!backfill) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_backfill_poll < std::chrono::milliseconds(500)) return Status::ok();
    last_backfill_poll = now;
    SLUICE_ASSIGN_OR_RETURN(auto all, list_backfills(options.state_dir));
    for (auto& r : all) {
      if (r.state != "queued" && r.state != "running") continue;
      backfill.emplace();
      if (tables.find(r.table) == tables.end()) {
        backfill->req = r;
        backfill_fail(invalid_argument(
            fmt::format("source {} has no table {} to backfill", source.name, r.table)));
        return Status::ok();
      }
      r.state = "running";
      SLUICE_RETURN_IF_ERROR(save_backfill(options.state_dir, r));
      backfill->req = r;
      backfill->mem = r;
      log::info("cdc backfill starts", {log::kv("source", source.name), log::kv("table", r.table),
                                        log::kv("where", r.where)});
      break;
    }
    // Started (or not): the next round goes on, once the batch in flight has committed.
    return Status::ok();
  }
  if (!pending && !backfill->range_done) {
    ChunkRequest req;
    req.table = backfill->mem.table;
    req.where = backfill->mem.where;
    if (backfill->mem.after_key) req.after_key = *backfill->mem.after_key;
    req.limit = backfill->mem.chunk_rows;
    auto chunk = reader.read_chunk(req);
    if (!chunk.is_ok()) {
      backfill_fail(chunk.status());
      return Status::ok();
    }
    pending.emplace();
    pending->chunk = std::move(*chunk);
  }
  if (pending && reader.caught_up() >= pending->chunk.high) return backfill_emit(batch);
  return backfill_persist(batch.empty());
}

Status Pipeline::Impl::backfill_observe(const Transaction& txn, ChangeReader& reader,
                                        std::vector<Transaction>& batch) {
  (void)reader;
  if (!pending) return Status::ok();
  if (txn.position.major > pending->chunk.high) return backfill_emit(batch);
  if (pending->chunk.visible(txn)) return Status::ok();
  // Committed after the chunk's snapshot: its changes to the chunk's keys are newer.
  for (const auto& e : txn.events) {
    if (e.schema->table != pending->chunk.schema->table) continue;
    if (e.op == Op::kTruncate) pending->truncated = true;
    if (e.before) pending->touched.insert(key_text(*e.schema, *e.before));
    if (e.after) pending->touched.insert(key_text(*e.schema, *e.after));
  }
  return Status::ok();
}

Status Pipeline::Impl::backfill_emit(std::vector<Transaction>& batch) {
  PendingChunk p = std::move(*pending);
  pending.reset();
  auto& mem = backfill->mem;
  const TableSchema& s = *p.chunk.schema;
  const auto keys = key_indexes(s);
  auto key_of = [&](const Row& r) {
    std::vector<Value> k;
    for (size_t i : keys)
      k.push_back(r.values[i]);
    return k;
  };
  const bool last = static_cast<int64_t>(p.chunk.rows.size()) < mem.chunk_rows;
  std::optional<std::vector<Value>> upper;
  if (!last) upper = key_of(p.chunk.rows.back());
  Transaction t;
  t.txid = "backfill " + mem.id;
  t.commit_ts_ms = now_ms();
  t.position = p.chunk.position;
  if (!p.truncated) {
    auto& ts = tables.at(s.table);
    // Rows the lake holds in the chunk's range that the source no longer has: deletes, first
    // (a key whose text differs between the lake and the source is then re-read right after).
    std::unordered_set<std::string> in_chunk;
    for (const auto& r : p.chunk.rows)
      in_chunk.insert(key_text(s, r));
    auto lake_keys = refined_keys(ts, s, mem.after_key, upper, mem.where);
    if (!lake_keys.is_ok()) {
      backfill_fail(lake_keys.status());
      return Status::ok();
    }
    auto schema = p.chunk.schema;
    for (auto& k : *lake_keys) {
      std::string kt = key_text(s, k);
      if (in_chunk.count(kt) || p.touched.count(kt)) continue;
      ChangeEvent e;
      e.op = Op::kDelete;
      e.schema = schema;
      e.before = std::move(k);
      e.snapshot = true;
      t.events.push_back(std::move(e));
      ++mem.deleted;
    }
    for (auto& r : p.chunk.rows) {
      if (p.touched.count(key_text(s, r))) continue;
      ChangeEvent e;
      e.op = Op::kRead;
      e.schema = schema;
      e.after = std::move(r);
      e.snapshot = true;
      t.events.push_back(std::move(e));
      ++mem.rows;
    }
  }
  uint64_t minor = 0;
  for (auto& e : t.events) {
    e.position = t.position;
    e.position.minor = ++minor;
  }
  t.position.minor = minor;
  if (upper) mem.after_key = upper;
  ++mem.chunks;
  backfill->range_done = last;
  backfill->dirty = true;
  status.backfill = fmt::format("{} ({} rows, {} deleted, {} chunks)", mem.table, mem.rows,
                                mem.deleted, mem.chunks);
  if (!t.events.empty()) batch.push_back(std::move(t));
  return backfill_persist(batch.empty());
}

Status Pipeline::run(ChangeReader& reader, const std::atomic<bool>& stop,
                     const std::function<void(const StreamStatus&)>& on_status) {
  auto& im = *impl_;
  if (!im.options.bootstrap.empty() && !im.producer) {
    SLUICE_ASSIGN_OR_RETURN(im.producer, Producer::open(im.options.bootstrap));
  }
  im.status.state = im.snapshot_complete ? "streaming" : "bootstrapping";
  im.status.error.clear();
  std::vector<Transaction> batch;
  int64_t batch_events = 0;
  auto batch_start = std::chrono::steady_clock::now();
  auto last_status = std::chrono::steady_clock::time_point{};
  const auto interval = std::chrono::milliseconds(im.options.commit_interval_ms);
  // The batch being committed on the committer thread while this thread reads the next one (at
  // most one: batches commit in order). Backfills run without overlap: they read the lake.
  std::vector<Transaction> inflight_batch;
  std::future<Result<Impl::CommitOutcome>> inflight;
  auto finish_inflight = [&]() -> Status {
    if (!inflight.valid()) return Status::ok();
    auto outcome = inflight.get();
    inflight_batch.clear();
    if (!outcome.is_ok()) return outcome.status();
    SLUICE_RETURN_IF_ERROR(im.finish_commit(*outcome, reader));
    return im.backfill_persist(true);
  };
  for (;;) {
    if (inflight.valid() &&
        (im.backfill || im.pending ||
         inflight.wait_for(std::chrono::seconds(0)) == std::future_status::ready)) {
      SLUICE_RETURN_IF_ERROR(finish_inflight());
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_status >= std::chrono::seconds(1)) {
      int64_t t = now_ms();
      im.rate_samples.emplace_back(t, im.status.events);
      while (im.rate_samples.size() > 1 && t - im.rate_samples.front().first > 5000)
        im.rate_samples.pop_front();
      const auto& [t0, e0] = im.rate_samples.front();
      im.status.events_per_second =
          t > t0 ? static_cast<double>(im.status.events - e0) * 1000.0 / static_cast<double>(t - t0)
                 : 0;
      im.status.updated_ms = t;
      on_status(im.status);
      last_status = now;
    }
    const bool stopping = stop.load();
    if (!batch.empty() && (stopping || batch_events >= im.options.max_batch_events ||
                           now - batch_start >= interval)) {
      SLUICE_RETURN_IF_ERROR(finish_inflight());
      inflight_batch = std::move(batch);
      batch.clear();
      batch_events = 0;
      inflight = std::async(std::launch::async,
                            [&im, &inflight_batch] { return im.commit_to_lake(inflight_batch); });
      if (stopping || im.backfill || im.pending) SLUICE_RETURN_IF_ERROR(finish_inflight());
      continue;
    }
    if (stopping) {
      SLUICE_RETURN_IF_ERROR(finish_inflight());
      im.status.state = "stopped";
      im.status.updated_ms = now_ms();
      on_status(im.status);
      return Status::ok();
    }
    {
      const size_t before = batch.size();
      SLUICE_RETURN_IF_ERROR(im.backfill_step(reader, batch));
      if (batch.size() > before) {
        if (before == 0) batch_start = std::chrono::steady_clock::now();
        batch_events += static_cast<int64_t>(batch.back().events.size());
      }
    }
    auto wait =
        batch.empty()
            ? std::chrono::milliseconds(200)
            : std::chrono::duration_cast<std::chrono::milliseconds>(batch_start + interval - now);
    wait = std::clamp(wait, std::chrono::milliseconds(1), std::chrono::milliseconds(200));
    if (im.pending) wait = std::min(wait, std::chrono::milliseconds(20));
    SLUICE_ASSIGN_OR_RETURN(auto txn, reader.next(wait));
    if (!txn) continue;
    {
      const size_t before = batch.size();
      SLUICE_RETURN_IF_ERROR(im.backfill_observe(*txn, reader, batch));
      if (batch.size() > before) {
        if (before == 0) batch_start = std::chrono::steady_clock::now();
        batch_events += static_cast<int64_t>(batch.back().events.size());
      }
    }
    if (batch.empty()) batch_start = std::chrono::steady_clock::now();
    batch_events += static_cast<int64_t>(txn->events.size());
    batch.push_back(std::move(*txn));
  }
}

}  // namespace sluice::cdc

#include "cdc/mysql_reader.h"

#include <fmt/format.h>
#include <mysql.h>
// mariadb_rpl.h needs mysql.h first.
#include <mariadb_rpl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "cdc/backfill.h"
#include "cdc/mysql_binlog.h"
#include "common/log.h"

namespace sluice::cdc {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using mysql::ColumnCodec;
using mysql::TableMap;

constexpr unsigned kErrDbAccess = 1044;
constexpr unsigned kErrAccessDenied = 1045;
constexpr unsigned kErrTableAccess = 1142;
constexpr unsigned kErrColumnAccess = 1143;
constexpr unsigned kErrSpecificAccess = 1227;
constexpr unsigned kErrMasterFatalReadingBinlog = 1236;

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string quote_ident(std::string_view s) {
  std::string o = "`";
  for (char c : s) {
    o += c;
    if (c == '`') o += '`';
  }
  return o + "`";
}

std::string quote_str(MYSQL* m, std::string_view s) {
  std::string out(s.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(m, out.data(), s.data(), s.size());
  out.resize(n);
  return "'" + out + "'";
}

// The privilege a MariaDB "access denied" message asks for, with what to do.
std::string grant_hint(const sources::SourceConfig& src, std::string_view privilege) {
  return fmt::format("grant it with `GRANT {} ON {} TO '{}'@'<host>'` (see scripts/mariadb.sh)",
                     privilege, privilege == "SELECT" ? src.database + ".*" : "*.*", src.user);
}

// One client connection (utf8mb4, UTC session time zone).
class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { close(); }

  Status connect(const sources::SourceConfig& src, const std::string& password, bool with_db,
                 unsigned read_timeout_s) {
    close();
    m_ = mysql_init(nullptr);
    if (m_ == nullptr) return internal_error("mysql_init failed");
    unsigned timeout = 10;
    mysql_optionsv(m_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (read_timeout_s > 0) mysql_optionsv(m_, MYSQL_OPT_READ_TIMEOUT, &read_timeout_s);
    unsigned long max_packet = 1024UL * 1024 * 1024;
    mysql_optionsv(m_, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
    mysql_optionsv(m_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m_, src.host.c_str(), src.user.c_str(), password.c_str(),
                           with_db ? src.database.c_str() : nullptr,
                           static_cast<unsigned>(src.port), nullptr, 0) == nullptr) {
      unsigned code = mysql_errno(m_);
      std::string msg = mysql_error(m_);
      close();
      if (code == kErrAccessDenied || code == kErrDbAccess) {
        return permission_denied(fmt::format(
            "source {}: MariaDB at {}:{} refused user '{}' ({}); check the password in ${} and "
            "that the account exists with SELECT on {}.* (scripts/mariadb.sh)",
            src.name, src.host, src.port, src.user, msg, src.password_env, src.database));
      }
      return unavailable(fmt::format(
          "source {}: cannot connect to MariaDB at {}:{} as '{}': {}; check that the server is "
          "running and reachable (host/port in {})",
          src.name, src.host, src.port, src.user, msg,
          src.file.empty() ? "the source file" : src.file));
    }
    src_ = &src;
    return exec("SET time_zone = '+00:00'");
  }

  void close() {
    end_stream();
    if (m_ != nullptr) mysql_close(m_);
    m_ = nullptr;
  }

  MYSQL* native() { return m_; }

  Status error(std::string_view what) {
    unsigned code = mysql_errno(m_);
    std::string msg = mysql_error(m_);
    std::string name = src_ ? src_->name : "?";
    if (code == kErrTableAccess || code == kErrColumnAccess || code == kErrDbAccess) {
      return permission_denied(fmt::format("source {}: missing privilege SELECT ({}); {}", name,
                                           msg, grant_hint(*src_, "SELECT")));
    }
    if (code == kErrSpecificAccess) {
      return permission_denied(
          fmt::format("source {}: missing privilege ({}) for {}", name, msg, what.substr(0, 120)));
    }
    if (code >= 2000 && code < 3000) {
      return unavailable(fmt::format("source {}: lost the MariaDB connection ({}) during {}", name,
                                     msg, what.substr(0, 120)));
    }
    return internal_error(fmt::format("source {}: MariaDB error {} ({}) in: {}", name, code, msg,
                                      what.substr(0, 200)));
  }

  Status exec(std::string_view sql) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) return error(sql);
    MYSQL_RES* r = mysql_store_result(m_);
    if (r != nullptr) mysql_free_result(r);
    return Status::ok();
  }

  Result<std::vector<std::vector<std::optional<std::string>>>> query(std::string_view sql) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) return error(sql);
    MYSQL_RES* r = mysql_store_result(m_);
    std::vector<std::vector<std::optional<std::string>>> rows;
    if (r == nullptr) {
      if (mysql_field_count(m_) != 0) return error(sql);
      return rows;
    }
    unsigned n = mysql_num_fields(r);
    while (MYSQL_ROW row = mysql_fetch_row(r)) {
      unsigned long* len = mysql_fetch_lengths(r);
      std::vector<std::optional<std::string>> out;
      for (unsigned i = 0; i < n; ++i) {
        if (row[i] == nullptr) {
          out.emplace_back(std::nullopt);
        } else {
          out.emplace_back(std::string(row[i], len[i]));
        }
      }
      rows.push_back(std::move(out));
    }
    mysql_free_result(r);
    return rows;
  }

  // Row-by-row result (mysql_use_result): start, then next_row until nullptr.
  Status start_stream(std::string_view sql) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) return error(sql);
    res_ = mysql_use_result(m_);
    if (res_ == nullptr) return error(sql);
    return Status::ok();
  }
  Result<MYSQL_ROW> next_row(unsigned long** lengths) {
    MYSQL_ROW row = mysql_fetch_row(res_);
    if (row == nullptr) {
      if (mysql_errno(m_) != 0) return error("reading a snapshot row");
      end_stream();
      return MYSQL_ROW{nullptr};
    }
    *lengths = mysql_fetch_lengths(res_);
    return row;
  }
  bool streaming() const { return res_ != nullptr; }
  void end_stream() {
    if (res_ != nullptr) mysql_free_result(res_);
    res_ = nullptr;
  }

 private:
  MYSQL* m_ = nullptr;
  MYSQL_RES* res_ = nullptr;
  const sources::SourceConfig* src_ = nullptr;
};

// The binlog position a `START TRANSACTION WITH CONSISTENT SNAPSHOT` on `c` matches (MariaDB's
// binlog_snapshot_file / _position status).
Result<std::pair<std::string, uint64_t>> snapshot_position(Conn& c, const std::string& source) {
  SLUICE_ASSIGN_OR_RETURN(auto st, c.query("SHOW STATUS LIKE 'binlog_snapshot_%'"));
  std::string file;
  uint64_t pos = 0;
  for (const auto& r : st) {
    if (r[0] == "Binlog_snapshot_file") file = r[1].value_or("");
    if (r[0] == "Binlog_snapshot_position")
      pos = std::strtoull(r[1].value_or("0").c_str(), nullptr, 10);
  }
  if (file.empty()) {
    return unimplemented(fmt::format(
        "source {}: the server reports no binlog_snapshot_file (a MariaDB feature); CDC "
        "bootstrap needs MariaDB with log_bin on",
        source));
  }
  return std::make_pair(file, pos);
}

// ---------------------------------------------------------------------------------------------
// Schema history (persisted).

struct Version {
  uint64_t from_major = 0;  // valid for changes at or after this position
  std::shared_ptr<const TableSchema> schema;
};

struct Tracked {
  std::vector<Version> versions;  // ascending from_major
  std::shared_ptr<const TableSchema> current;
};

json column_json(const Column& c) {
  return json{{"name", c.name},
              {"source_type", c.source_type},
              {"kind", static_cast<int>(c.kind)},
              {"precision", c.precision},
              {"scale", c.scale},
              {"key", c.key},
              {"nullable", c.nullable}};
}

Column column_from_json(const json& j) {
  Column c;
  c.name = j.at("name").get<std::string>();
  c.source_type = j.at("source_type").get<std::string>();
  c.kind = static_cast<ValueKind>(j.at("kind").get<int>());
  c.precision = j.value("precision", 0);
  c.scale = j.value("scale", 0);
  c.key = j.value("key", false);
  c.nullable = j.value("nullable", true);
  return c;
}

bool same_columns(const TableSchema& a, const TableSchema& b) {
  if (a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const auto& x = a.columns[i];
    const auto& y = b.columns[i];
    if (x.name != y.name || x.source_type != y.source_type || x.key != y.key ||
        x.nullable != y.nullable)
      return false;
  }
  return true;
}

// "binlog.000003:4567" -> (file, pos); nullopt if not that form.
std::optional<std::pair<std::string, uint64_t>> parse_file_pos(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  uint64_t pos = 0;
  auto tail = s.substr(colon + 1);
  auto r = std::from_chars(tail.data(), tail.data() + tail.size(), pos);
  if (r.ec != std::errc() || r.ptr != tail.data() + tail.size()) return std::nullopt;
  return std::make_pair(std::string(s.substr(0, colon)), pos);
}

bool is_gtid_list(std::string_view s) {
  if (s.empty()) return false;
  int dashes = 0;
  bool digit = false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else if (c == '-') {
      if (!digit) return false;
      ++dashes;
      digit = false;
    } else if (c == ',') {
      if (dashes != 2 || !digit) return false;
      dashes = 0;
      digit = false;
    } else if (c != ' ') {
      return false;
    }
  }
  return dashes == 2 && digit;
}

uint64_t make_major(uint64_t file_number, uint64_t pos) {
  return (file_number << 32) | (pos & 0xffffffffULL);
}

// Word-boundary, case-insensitive search for an identifier in a statement.
bool mentions(std::string_view stmt_lower, std::string_view ident_lower) {
  size_t at = 0;
  auto is_id = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
  };
  while ((at = stmt_lower.find(ident_lower, at)) != std::string_view::npos) {
    bool left = at == 0 || !is_id(stmt_lower[at - 1]);
    size_t end = at + ident_lower.size();
    bool right = end >= stmt_lower.size() || !is_id(stmt_lower[end]);
    if (left && right) return true;
    at = end;
  }
  return false;
}

std::string first_word(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  size_t j = i;
  while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j])))
    ++j;
  return lower(s.substr(i, j - i));
}

class MysqlReader final : public ChangeReader {
 public:
  MysqlReader(sources::SourceConfig source, MysqlReaderOptions options)
      : src_(std::move(source)), opt_(std::move(options)) {
    if (const char* pw = std::getenv(src_.password_env.c_str())) password_ = pw;
    state_file_ = mysql_state_file(src_, opt_.state_dir);
    for (const auto& t : src_.tables)
      tracked_[t.name];
  }
  ~MysqlReader() override { close_stream(); }

  Status open(const Position& resume);
  Result<std::optional<Transaction>> next(std::chrono::milliseconds wait) override;
  Status confirm(const Position& position) override;
  uint64_t caught_up() const override { return caught_; }
  Result<BackfillChunk> read_chunk(const ChunkRequest& request) override;

 private:
  // Setup.
  Status check_server(Conn& c);
  Result<std::map<std::string, std::shared_ptr<const TableSchema>>> read_schemas(
      const std::vector<std::string>& tables);
  Status load_state(uint64_t at_major);
  Status save_state();
  Status meta_conn();

  // Snapshot.
  Status start_snapshot();
  Result<std::optional<Transaction>> next_snapshot_chunk();

  // Stream.
  Status open_stream(const std::string& file, uint64_t pos, const std::string& gtid);
  void close_stream();
  Status stream_error(std::string_view during);
  Result<std::optional<Transaction>> handle_raw_event();
  Result<std::optional<Transaction>> handle_event(const uint8_t* ev, size_t len);
  Status on_table_map(std::string_view body);
  Status on_rows(uint8_t type, std::string_view body);
  Result<std::optional<Transaction>> on_query(const uint8_t* hdr, std::string_view body);
  Result<std::optional<Transaction>> commit(uint32_t timestamp, uint64_t end_pos);
  Status on_ddl(std::string_view statement, std::string_view db, uint64_t major);
  Status add_version(const std::string& table, std::shared_ptr<const TableSchema> schema,
                     uint64_t from_major);
  std::string gtid_text() const;
  void set_gtid_state(std::string_view list);

  sources::SourceConfig src_;
  MysqlReaderOptions opt_;
  std::string password_;
  fs::path state_file_;
  std::map<std::string, Tracked> tracked_;
  Conn meta_;
  bool meta_open_ = false;

  // Snapshot state.
  bool snapshotting_ = false;
  Conn snap_;
  size_t snap_table_ = 0;
  bool snap_table_open_ = false;
  uint64_t snap_rows_ = 0;
  std::string snap_file_;
  uint64_t snap_pos_ = 0;
  std::string snap_gtid_;

  // Stream state.
  MYSQL* repl_ = nullptr;
  MARIADB_RPL* rpl_ = nullptr;
  MARIADB_RPL_EVENT* ev_ = nullptr;
  std::string file_;
  uint64_t file_num_ = 0;
  bool checksum_ = false;
  uint8_t table_id_len_ = 6;
  uint64_t event_end_ = 0;  // end position of the event being handled
  struct Mapped {
    std::string table;  // empty: not tracked
    std::shared_ptr<const TableSchema> schema;
    std::vector<ColumnCodec> codecs;
  };
  std::unordered_map<uint64_t, Mapped> maps_;
  Transaction cur_;
  bool in_group_ = false;
  bool standalone_ = false;
  uint32_t gtid_domain_ = 0;
  std::map<uint32_t, std::string> gtid_state_;
  std::string resume_;  // after the last complete event group
  Position confirmed_;
  uint64_t caught_ = 0;  // every transaction up to here handed out (commits, heartbeats)
  Conn chunk_;           // backfill chunks
  bool chunk_open_ = false;
};

Status MysqlReader::meta_conn() {
  if (meta_open_ && mysql_ping(meta_.native()) == 0) return Status::ok();
  SLUICE_RETURN_IF_ERROR(meta_.connect(src_, password_, true, 60));
  meta_open_ = true;
  return Status::ok();
}

Status MysqlReader::check_server(Conn& c) {
  SLUICE_ASSIGN_OR_RETURN(
      auto rows, c.query("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@version"));
  if (rows.empty()) return internal_error("SELECT @@log_bin returned nothing");
  const auto& r = rows[0];
  if (r[0].value_or("0") != "1") {
    return invalid_argument(
        fmt::format("source {}: the binary log is off on {}:{}; start the server with log_bin, "
                    "binlog_format=ROW, binlog_row_image=FULL and a server_id (scripts/mariadb.sh)",
                    src_.name, src_.host, src_.port));
  }
  if (lower(r[1].value_or("")) != "row") {
    return invalid_argument(fmt::format(
        "source {}: binlog_format is {} on {}:{}; CDC needs binlog_format=ROW (set it in the "
        "server configuration and restart, or SET GLOBAL binlog_format=ROW)",
        src_.name, r[1].value_or("?"), src_.host, src_.port));
  }
  if (lower(r[2].value_or("")) != "full") {
    return invalid_argument(
        fmt::format("source {}: binlog_row_image is {} on {}:{}; CDC needs binlog_row_image=FULL",
                    src_.name, r[2].value_or("?"), src_.host, src_.port));
  }
  return Status::ok();
}

Result<std::map<std::string, std::shared_ptr<const TableSchema>>> MysqlReader::read_schemas(
    const std::vector<std::string>& tables) {
  SLUICE_RETURN_IF_ERROR(meta_conn());
  MYSQL* m = meta_.native();
  std::string in;
  for (const auto& t : tables)
    in += (in.empty() ? "" : ",") + quote_str(m, t);
  SLUICE_ASSIGN_OR_RETURN(
      auto json_checks,
      meta_.query(fmt::format("SELECT TABLE_NAME, CHECK_CLAUSE FROM "
                              "information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {} "
                              "AND TABLE_NAME IN ({})",
                              quote_str(m, src_.database), in)));
  std::set<std::pair<std::string, std::string>> json_cols;
  for (const auto& r : json_checks) {
    std::string clause = r[1].value_or("");
    auto at = clause.find("json_valid(`");
    if (at == std::string::npos) continue;
    auto end = clause.find('`', at + 12);
    if (end == std::string::npos) continue;
    json_cols.emplace(r[0].value_or(""), clause.substr(at + 12, end - at - 12));
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto rows,
      meta_.query(fmt::format("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, "
                              "COLUMN_KEY, IS_NULLABLE FROM information_schema.COLUMNS WHERE "
                              "TABLE_SCHEMA = {} AND TABLE_NAME IN ({}) ORDER BY TABLE_NAME, "
                              "ORDINAL_POSITION",
                              quote_str(m, src_.database), in)));
  std::map<std::string, std::shared_ptr<TableSchema>> out;
  for (const auto& r : rows) {
    std::string table = r[0].value_or("");
    auto& s = out[table];
    if (!s) {
      s = std::make_shared<TableSchema>();
      s->database = src_.database;
      s->schema = src_.database;
      s->table = table;
    }
    Column c;
    c.name = r[1].value_or("");
    mysql::classify_column(r[2].value_or(""), r[3].value_or(""),
                           json_cols.count({table, c.name}) > 0, &c);
    c.key = r[4].value_or("") == "PRI";
    c.nullable = r[5].value_or("YES") == "YES";
    s->columns.push_back(std::move(c));
  }
  std::map<std::string, std::shared_ptr<const TableSchema>> result;
  for (auto& [k, v] : out)
    result[k] = std::move(v);
  return result;
}

Status MysqlReader::add_version(const std::string& table, std::shared_ptr<const TableSchema> schema,
                                uint64_t from_major) {
  auto& t = tracked_[table];
  auto s = std::make_shared<TableSchema>(*schema);
  s->version = t.current ? t.current->version + 1 : 1;
  t.current = s;
  t.versions.push_back({from_major, s});
  for (auto it = maps_.begin(); it != maps_.end();) {
    it = it->second.table == table ? maps_.erase(it) : std::next(it);
  }
  log::info("cdc: MariaDB table schema version",
            {log::kv("source", src_.name), log::kv("table", table), log::kv("version", s->version),
             log::kv("columns", s->columns.size())});
  return save_state();
}

Status MysqlReader::save_state() {
  json j;
  j["source"] = src_.name;
  j["database"] = src_.database;
  j["confirmed"] = {
      {"major", confirmed_.major}, {"minor", confirmed_.minor}, {"resume", confirmed_.resume}};
  j["position"] = resume_;
  j["gtid"] = gtid_text();
  json tables = json::object();
  for (const auto& [name, t] : tracked_) {
    json vs = json::array();
    for (const auto& v : t.versions) {
      json cols = json::array();
      for (const auto& c : v.schema->columns)
        cols.push_back(column_json(c));
      vs.push_back(
          {{"from_major", v.from_major}, {"version", v.schema->version}, {"columns", cols}});
    }
    tables[name] = vs;
  }
  j["tables"] = tables;
  std::error_code ec;
  fs::create_directories(state_file_.parent_path(), ec);
  fs::path tmp = state_file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(1) << "\n";
    out.flush();
    if (!out) {
      return io_error(
          fmt::format("source {}: cannot write the CDC state file {}", src_.name, tmp.string()));
    }
  }
  fs::rename(tmp, state_file_, ec);
  if (ec) {
    return io_error(fmt::format("source {}: cannot write the CDC state file {}: {}", src_.name,
                                state_file_.string(), ec.message()));
  }
  return Status::ok();
}

// Loads the schema history; the current version of each table is the one valid at `at_major`.
Status MysqlReader::load_state(uint64_t at_major) {
  std::ifstream in(state_file_);
  if (!in) return not_found("no state file");
  json j;
  try {
    in >> j;
    for (auto& [name, vs] : j.at("tables").items()) {
      auto it = tracked_.find(name);
      if (it == tracked_.end()) continue;
      for (const auto& v : vs) {
        auto s = std::make_shared<TableSchema>();
        s->database = src_.database;
        s->schema = src_.database;
        s->table = name;
        s->version = v.at("version").get<int>();
        for (const auto& c : v.at("columns"))
          s->columns.push_back(column_from_json(c));
        it->second.versions.push_back({v.at("from_major").get<uint64_t>(), s});
      }
      for (const auto& v : it->second.versions) {
        if (v.from_major <= at_major || !it->second.current) it->second.current = v.schema;
      }
    }
    if (j.contains("confirmed")) {
      confirmed_.major = j["confirmed"].value("major", uint64_t{0});
      confirmed_.minor = j["confirmed"].value("minor", uint64_t{0});
      confirmed_.resume = j["confirmed"].value("resume", std::string());
    }
  } catch (const std::exception& e) {
    return corruption(
        fmt::format("source {}: the CDC state file {} is damaged ({}); re-bootstrap "
                    "with `sluice cdc start {} --reset`",
                    src_.name, state_file_.string(), e.what(), src_.name));
  }
  return Status::ok();
}

void MysqlReader::set_gtid_state(std::string_view list) {
  gtid_state_.clear();
  for (std::string_view rest = list; !rest.empty();) {
    auto comma = rest.find(',');
    std::string one(rest.substr(0, comma));
    one.erase(std::remove(one.begin(), one.end(), ' '), one.end());
    uint32_t domain = static_cast<uint32_t>(std::strtoul(one.c_str(), nullptr, 10));
    if (!one.empty()) gtid_state_[domain] = one;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
}

std::string MysqlReader::gtid_text() const {
  std::string s;
  for (const auto& [d, g] : gtid_state_)
    s += (s.empty() ? "" : ",") + g;
  return s;
}

Status MysqlReader::open(const Position& resume) {
  SLUICE_RETURN_IF_ERROR(meta_conn());
  SLUICE_RETURN_IF_ERROR(check_server(meta_));
  if (resume.resume.empty()) {
    std::error_code ec;
    fs::remove(state_file_, ec);
    return start_snapshot();
  }

  // Resume.
  std::string file, gtid;
  uint64_t pos = 0;
  uint64_t major = resume.major;
  if (auto fp = parse_file_pos(resume.resume)) {
    file = fp->first;
    pos = fp->second;
    if (major == 0) major = make_major(mysql::binlog_file_number(file), pos);
    resume_ = resume.resume;
  } else if (is_gtid_list(resume.resume)) {
    gtid = resume.resume;
    if (major == 0) major = UINT64_MAX;
  } else {
    return invalid_argument(
        fmt::format("source {}: cannot resume from '{}': expected a binlog position like "
                    "'binlog.000003:4567' or a GTID list like '0-1-42'",
                    src_.name, resume.resume));
  }
  Status st = load_state(major);
  if (!st.is_ok() && st.code() != StatusCode::kNotFound) return st;
  std::vector<std::string> missing;
  for (auto& [name, t] : tracked_) {
    if (!t.current) missing.push_back(name);
  }
  if (!missing.empty()) {
    log::warn(
        "cdc: no schema history for tables at the resume position; using the current "
        "schema from information_schema",
        {log::kv("source", src_.name), log::kv("state", state_file_.string())});
    SLUICE_ASSIGN_OR_RETURN(auto schemas, read_schemas(missing));
    for (const auto& name : missing) {
      auto it = schemas.find(name);
      if (it == schemas.end()) {
        return not_found(
            fmt::format("source {}: table {}.{} does not exist or '{}' cannot read it; {}",
                        src_.name, src_.database, name, src_.user, grant_hint(src_, "SELECT")));
      }
      auto s = std::make_shared<TableSchema>(*it->second);
      tracked_[name].current = s;
      tracked_[name].versions.push_back({0, s});
    }
  }
  if (gtid.empty()) {
    // The GTID position matching the file position (recorded in the state; NULL if purged).
    SLUICE_ASSIGN_OR_RETURN(auto rows,
                            meta_.query(fmt::format("SELECT BINLOG_GTID_POS({}, {})",
                                                    quote_str(meta_.native(), file), pos)));
    if (!rows.empty() && rows[0][0]) set_gtid_state(*rows[0][0]);
  } else {
    set_gtid_state(gtid);
  }
  SLUICE_RETURN_IF_ERROR(open_stream(file, pos, gtid));
  return save_state();
}

Status MysqlReader::start_snapshot() {
  std::vector<std::string> names;
  for (const auto& t : src_.tables)
    names.push_back(t.name);
  SLUICE_RETURN_IF_ERROR(snap_.connect(src_, password_, true, 600));
  SLUICE_RETURN_IF_ERROR(snap_.exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  SLUICE_RETURN_IF_ERROR(snap_.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
  SLUICE_ASSIGN_OR_RETURN(auto at, snapshot_position(snap_, src_.name));
  snap_file_ = at.first;
  snap_pos_ = at.second;
  SLUICE_ASSIGN_OR_RETURN(auto schemas, read_schemas(names));
  uint64_t major = make_major(mysql::binlog_file_number(snap_file_), snap_pos_);
  for (const auto& name : names) {
    auto it = schemas.find(name);
    if (it == schemas.end()) {
      return not_found(
          fmt::format("source {}: table {}.{} does not exist or '{}' cannot read it; {}", src_.name,
                      src_.database, name, src_.user, grant_hint(src_, "SELECT")));
    }
    tracked_[name].versions.clear();
    tracked_[name].current.reset();
    auto s = std::make_shared<TableSchema>(*it->second);
    s->version = 1;
    tracked_[name].current = s;
    tracked_[name].versions.push_back({major, s});
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto g, meta_.query(fmt::format("SELECT BINLOG_GTID_POS({}, {})",
                                      quote_str(meta_.native(), snap_file_), snap_pos_)));
  snap_gtid_ = (!g.empty() && g[0][0]) ? *g[0][0] : "";
  set_gtid_state(snap_gtid_);
  resume_ = snap_file_ + ":" + std::to_string(snap_pos_);
  // Check the binlog can be read from the snapshot's position (REPLICATION SLAVE), before copying.
  SLUICE_RETURN_IF_ERROR(open_stream(snap_file_, snap_pos_, ""));
  close_stream();
  snapshotting_ = true;
  snap_table_ = 0;
  log::info(
      "cdc: MariaDB bootstrap snapshot",
      {log::kv("source", src_.name), log::kv("binlog", resume_), log::kv("gtid", snap_gtid_)});
  return save_state();
}

Result<std::optional<Transaction>> MysqlReader::next_snapshot_chunk() {
  uint64_t major = make_major(mysql::binlog_file_number(snap_file_), snap_pos_);
  Transaction txn;
  txn.position.major = major;
  txn.position.resume = snap_file_ + ":" + std::to_string(snap_pos_);
  txn.commit_ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  while (snap_table_ < src_.tables.size() &&
         static_cast<int64_t>(txn.events.size()) < opt_.snapshot_chunk_rows) {
    const std::string& name = src_.tables[snap_table_].name;
    auto schema = tracked_[name].current;
    if (!snap_table_open_) {
      std::string cols;
      for (const auto& c : schema->columns)
        cols += (cols.empty() ? "" : ", ") + mysql::snapshot_select_expr(c);
      SLUICE_RETURN_IF_ERROR(snap_.start_stream(fmt::format(
          "SELECT {} FROM {}.{}", cols, quote_ident(src_.database), quote_ident(name))));
      snap_table_open_ = true;
    }
    unsigned long* len = nullptr;
    SLUICE_ASSIGN_OR_RETURN(MYSQL_ROW row, snap_.next_row(&len));
    if (row == nullptr) {
      snap_table_open_ = false;
      ++snap_table_;
      continue;
    }
    ChangeEvent e;
    e.op = Op::kRead;
    e.schema = schema;
    e.snapshot = true;
    e.position.major = major;
    e.position.minor = ++snap_rows_;
    e.position.resume = txn.position.resume;
    Row r;
    r.values.reserve(schema->columns.size());
    for (size_t i = 0; i < schema->columns.size(); ++i) {
      if (row[i] == nullptr) {
        r.values.emplace_back(std::nullopt);
      } else {
        r.values.emplace_back(
            mysql::normalize_snapshot_value(schema->columns[i], std::string(row[i], len[i])));
      }
    }
    e.after = std::move(r);
    txn.events.push_back(std::move(e));
  }
  txn.position.minor = txn.events.empty() ? snap_rows_ : txn.events.back().position.minor;
  if (snap_table_ >= src_.tables.size()) {
    SLUICE_RETURN_IF_ERROR(snap_.exec("COMMIT"));
    snap_.close();
    snapshotting_ = false;
    log::info("cdc: MariaDB bootstrap snapshot copied",
              {log::kv("source", src_.name), log::kv("rows", snap_rows_)});
    SLUICE_RETURN_IF_ERROR(open_stream(snap_file_, snap_pos_, ""));
    txn.snapshot_complete = true;  // returned even when empty: streaming follows
  } else if (txn.events.empty()) {
    return std::optional<Transaction>();
  }
  return std::optional<Transaction>(std::move(txn));
}

Result<BackfillChunk> MysqlReader::read_chunk(const ChunkRequest& req) {
  if (snapshotting_) return unavailable("a backfill needs the stream running (bootstrap first)");
  auto it = tracked_.find(req.table);
  if (it == tracked_.end() || !it->second.current) {
    return not_found(fmt::format("source {}: table {} is not streamed", src_.name, req.table));
  }
  auto schema = it->second.current;
  if (!chunk_open_ || mysql_ping(chunk_.native()) != 0) {
    SLUICE_RETURN_IF_ERROR(chunk_.connect(src_, password_, true, 600));
    SLUICE_RETURN_IF_ERROR(chunk_.exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
    chunk_open_ = true;
  }
  MYSQL* m = chunk_.native();
  auto ident = [](const Column& c) { return quote_ident(c.name); };
  auto literal = [m](const Column& c, const std::string& v) -> std::string {
    switch (c.kind) {
      case ValueKind::kInt16:
      case ValueKind::kInt32:
      case ValueKind::kInt64:
      case ValueKind::kDecimal:
        if (!v.empty() && v.find_first_not_of("0123456789-.") == std::string::npos) return v;
        break;
      default:
        break;
    }
    return quote_str(m, v);
  };
  SLUICE_ASSIGN_OR_RETURN(std::string cond, chunk_condition(*schema, req, ident, literal));
  std::string cols;
  for (const auto& c : schema->columns)
    cols += (cols.empty() ? "" : ", ") + mysql::snapshot_select_expr(c);
  const std::string sql = fmt::format("SELECT {} FROM {}.{} WHERE {} ORDER BY {} LIMIT {}", cols,
                                      quote_ident(src_.database), quote_ident(req.table), cond,
                                      key_order(*schema, ident), req.limit);
  BackfillChunk chunk;
  chunk.schema = schema;
  // The snapshot and the binlog position it matches exactly (as the bootstrap takes them).
  SLUICE_RETURN_IF_ERROR(chunk_.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
  auto read = [&]() -> Result<std::pair<std::string, uint64_t>> {
    SLUICE_ASSIGN_OR_RETURN(auto at, snapshot_position(chunk_, src_.name));
    const std::string file = at.first;
    const uint64_t pos = at.second;
    SLUICE_RETURN_IF_ERROR(chunk_.start_stream(sql));
    for (;;) {
      unsigned long* len = nullptr;
      SLUICE_ASSIGN_OR_RETURN(MYSQL_ROW row, chunk_.next_row(&len));
      if (row == nullptr) break;
      Row r;
      r.values.reserve(schema->columns.size());
      for (size_t i = 0; i < schema->columns.size(); ++i) {
        if (row[i] == nullptr) {
          r.values.emplace_back(std::nullopt);
        } else {
          r.values.emplace_back(
              mysql::normalize_snapshot_value(schema->columns[i], std::string(row[i], len[i])));
        }
      }
      chunk.rows.push_back(std::move(r));
    }
    return std::make_pair(file, pos);
  };
  auto at = read();
  chunk_.end_stream();
  Status end = chunk_.exec("COMMIT");
  if (!at.is_ok()) {
    return at.status().with_context(
        fmt::format("source {}: backfill chunk of {}", src_.name, req.table));
  }
  SLUICE_RETURN_IF_ERROR(end);
  chunk.high = make_major(mysql::binlog_file_number(at->first), at->second);
  chunk.visible = [high = chunk.high](const Transaction& t) { return t.position.major <= high; };
  chunk.position.major = chunk.high + 1;
  chunk.position.resume = at->first + ":" + std::to_string(at->second);
  return chunk;
}

void MysqlReader::close_stream() {
  if (ev_ != nullptr) mariadb_free_rpl_event(ev_);
  ev_ = nullptr;
  if (rpl_ != nullptr) mariadb_rpl_close(rpl_);
  rpl_ = nullptr;
  if (repl_ != nullptr) mysql_close(repl_);
  repl_ = nullptr;
}

Status MysqlReader::stream_error(std::string_view during) {
  unsigned code = repl_ ? mysql_errno(repl_) : 0;
  std::string msg = repl_ ? mysql_error(repl_) : "no connection";
  if (rpl_ != nullptr && code == 0 && mariadb_rpl_errno(rpl_) != 0) {
    code = mariadb_rpl_errno(rpl_);
    msg = mariadb_rpl_error(rpl_);
  }
  std::string at = resume_.empty() ? "the requested position" : resume_;
  if (code == kErrMasterFatalReadingBinlog) {
    std::string lmsg = lower(msg);
    if (lmsg.find("could not find") != std::string::npos ||
        lmsg.find("purged") != std::string::npos || lmsg.find("not found") != std::string::npos ||
        lmsg.find("not in") != std::string::npos || lmsg.find("gtid") != std::string::npos) {
      return not_found(fmt::format(
          "source {}: binlog position {} is no longer on the server (the binlog was purged: {}); "
          "re-bootstrap with `sluice cdc start {} --reset`",
          src_.name, at, msg, src_.name));
    }
    return internal_error(fmt::format("source {}: the server cannot send the binlog from {}: {}",
                                      src_.name, at, msg));
  }
  if (code == kErrSpecificAccess || code == kErrAccessDenied ||
      lower(msg).find("replication slave") != std::string::npos) {
    return permission_denied(
        fmt::format("source {}: missing privilege REPLICATION SLAVE to read the binlog ({}); {}",
                    src_.name, msg, grant_hint(src_, "REPLICATION SLAVE")));
  }
  return unavailable(
      fmt::format("source {}: binlog stream from {}:{} failed during {} ({} {}); "
                  "check that the server is running and reachable",
                  src_.name, src_.host, src_.port, during, code, msg));
}

Status MysqlReader::open_stream(const std::string& file, uint64_t pos, const std::string& gtid) {
  close_stream();
  repl_ = mysql_init(nullptr);
  if (repl_ == nullptr) return internal_error("mysql_init failed");
  unsigned timeout = 10;
  mysql_optionsv(repl_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  unsigned read_timeout =
      static_cast<unsigned>(std::max<int64_t>(30, opt_.heartbeat_ms * 20 / 1000));
  mysql_optionsv(repl_, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  unsigned long max_packet = 1024UL * 1024 * 1024;
  mysql_optionsv(repl_, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
  if (mysql_real_connect(repl_, src_.host.c_str(), src_.user.c_str(), password_.c_str(), nullptr,
                         static_cast<unsigned>(src_.port), nullptr, 0) == nullptr) {
    std::string msg = mysql_error(repl_);
    close_stream();
    return unavailable(fmt::format(
        "source {}: cannot connect to MariaDB at {}:{} for the binlog: {}; check that the "
        "server is running and reachable",
        src_.name, src_.host, src_.port, msg));
  }
  auto q = [&](const std::string& sql) -> Status {
    if (mysql_real_query(repl_, sql.data(), sql.size()) != 0) return stream_error(sql);
    if (MYSQL_RES* r = mysql_store_result(repl_)) mysql_free_result(r);
    return Status::ok();
  };
  SLUICE_RETURN_IF_ERROR(q("SET @master_binlog_checksum = @@global.binlog_checksum"));
  {
    const char* sql = "SELECT @@global.binlog_checksum";
    if (mysql_query(repl_, sql) != 0) return stream_error(sql);
    MYSQL_RES* r = mysql_store_result(repl_);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : nullptr;
    checksum_ = row != nullptr && row[0] != nullptr && lower(row[0]) == "crc32";
    if (r) mysql_free_result(r);
  }
  SLUICE_RETURN_IF_ERROR(q("SET @mariadb_slave_capability = 4"));
  SLUICE_RETURN_IF_ERROR(
      q(fmt::format("SET @master_heartbeat_period = {}", opt_.heartbeat_ms * 1000000)));
  if (!gtid.empty()) {
    SLUICE_RETURN_IF_ERROR(q("SET @slave_connect_state = " + quote_str(repl_, gtid)));
    SLUICE_RETURN_IF_ERROR(q("SET @slave_gtid_strict_mode = 0"));
    SLUICE_RETURN_IF_ERROR(q("SET @slave_gtid_ignore_duplicates = 0"));
  }
  rpl_ = mariadb_rpl_init(repl_);
  if (rpl_ == nullptr) return stream_error("mariadb_rpl_init");
  uint32_t server_id = static_cast<uint32_t>(src_.cdc.server_id);
  if (server_id == 0) {
    static uint32_t counter = 0;
    size_t h = std::hash<std::string>{}(src_.name + "/" + std::to_string(::getpid()) + "/" +
                                        std::to_string(++counter));
    server_id = 0x40000000u | static_cast<uint32_t>(h & 0x3fffffffu);
  }
  if (gtid.empty()) {
    mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, file.c_str(), file.size());
    mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, static_cast<unsigned long>(pos));
  } else {
    mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, "", size_t{0});
    mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, 4UL);
  }
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_SERVER_ID, server_id);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FLAGS, 0U);
  if (mariadb_rpl_open(rpl_) != 0) return stream_error("COM_BINLOG_DUMP");
  file_ = file;
  file_num_ = mysql::binlog_file_number(file);
  maps_.clear();
  in_group_ = false;
  cur_ = Transaction();
  // Read up to the FORMAT_DESCRIPTION event, so that a purged binlog or a missing grant shows
  // here, at open.
  for (int i = 0; i < 16; ++i) {
    ev_ = mariadb_rpl_fetch(rpl_, ev_);
    if (ev_ == nullptr) return stream_error("the start of the binlog stream");
    SLUICE_ASSIGN_OR_RETURN(auto t, handle_raw_event());
    (void)t;
    if (ev_->event_type == FORMAT_DESCRIPTION_EVENT) break;
  }
  return Status::ok();
}

Result<std::optional<Transaction>> MysqlReader::next(std::chrono::milliseconds wait) {
  if (snapshotting_) return next_snapshot_chunk();
  if (rpl_ == nullptr) {
    auto fp = parse_file_pos(resume_);
    if (!fp) return internal_error("binlog stream closed with no position to reopen");
    SLUICE_RETURN_IF_ERROR(open_stream(fp->first, fp->second, ""));
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    ev_ = mariadb_rpl_fetch(rpl_, ev_);
    if (ev_ == nullptr) {
      Status st = stream_error("reading the binlog");
      close_stream();  // the next call reconnects from the last complete transaction
      return st;
    }
    SLUICE_ASSIGN_OR_RETURN(auto txn, handle_raw_event());
    if (txn) return txn;
    if (std::chrono::steady_clock::now() >= deadline) return std::optional<Transaction>();
  }
}

// The event as the server sent it: Connector/C keeps the packet (a leading OK byte, then the
// event with its 19-byte header) in raw_data.
Result<std::optional<Transaction>> MysqlReader::handle_raw_event() {
  if (ev_->raw_data == nullptr || ev_->raw_data_size < 19 ||
      ev_->raw_data_size < ev_->event_length) {
    return corruption(fmt::format("source {}: empty or short binlog event", src_.name));
  }
  size_t skip = ev_->raw_data_size - ev_->event_length;
  return handle_event(ev_->raw_data + skip, ev_->event_length);
}

Result<std::optional<Transaction>> MysqlReader::handle_event(const uint8_t* ev, size_t len) {
  if (len < 19) return corruption(fmt::format("source {}: short binlog event", src_.name));
  uint32_t timestamp =
      static_cast<uint32_t>(ev[0] | ev[1] << 8 | ev[2] << 16 | static_cast<uint32_t>(ev[3]) << 24);
  uint8_t type = ev[4];
  uint32_t server_id =
      static_cast<uint32_t>(ev[5] | ev[6] << 8 | ev[7] << 16 | static_cast<uint32_t>(ev[8]) << 24);
  uint32_t event_len = static_cast<uint32_t>(ev[9] | ev[10] << 8 | ev[11] << 16 |
                                             static_cast<uint32_t>(ev[12]) << 24);
  uint32_t next_pos = static_cast<uint32_t>(ev[13] | ev[14] << 8 | ev[15] << 16 |
                                            static_cast<uint32_t>(ev[16]) << 24);
  if (event_len > len) {
    return corruption(fmt::format("source {}: binlog event truncated ({} of {} bytes)", src_.name,
                                  len, event_len));
  }
  size_t body_len = event_len - 19;
  event_end_ = next_pos;
  if (type == FORMAT_DESCRIPTION_EVENT) {
    // binlog version(2) server version(50) created(4) header length(1) post-header lengths...
    // checksum algorithm(1) checksum(4).
    if (body_len < 57 + 5) return corruption("FORMAT_DESCRIPTION event too short");
    const uint8_t* body = ev + 19;
    checksum_ = body[body_len - 5] == 1;
    size_t n_post = body_len - 57 - 5;
    if (n_post >= TABLE_MAP_EVENT) table_id_len_ = body[57 + TABLE_MAP_EVENT - 1] == 6 ? 4 : 6;
    return std::optional<Transaction>();
  }
  if (checksum_ && type != HEARTBEAT_LOG_EVENT) {
    if (body_len < 4) return corruption("binlog event shorter than its checksum");
    body_len -= 4;
  }
  std::string_view body(reinterpret_cast<const char*>(ev) + 19, body_len);
  switch (type) {
    case ROTATE_EVENT: {
      if (body.size() < 8) return corruption("ROTATE event too short");
      file_ = std::string(body.substr(8));
      file_num_ = mysql::binlog_file_number(file_);
      uint64_t pos = 0;
      for (int i = 7; i >= 0; --i)
        pos = (pos << 8) | static_cast<uint8_t>(body[static_cast<size_t>(i)]);
      if (!in_group_) resume_ = file_ + ":" + std::to_string(pos);
      return std::optional<Transaction>();
    }
    case GTID_EVENT: {
      if (body.size() < 13) return corruption("GTID event too short");
      const uint8_t* b = reinterpret_cast<const uint8_t*>(body.data());
      uint64_t seq = 0;
      for (int i = 7; i >= 0; --i)
        seq = (seq << 8) | b[i];
      gtid_domain_ = static_cast<uint32_t>(b[8] | b[9] << 8 | b[10] << 16 |
                                           static_cast<uint32_t>(b[11]) << 24);
      uint8_t flags = b[12];
      cur_ = Transaction();
      cur_.txid = fmt::format("{}-{}-{}", gtid_domain_, server_id, seq);
      in_group_ = true;
      standalone_ = (flags & FL_STANDALONE) != 0;
      return std::optional<Transaction>();
    }
    case HEARTBEAT_LOG_EVENT:
      // Sent while the server has nothing newer: its position is the binlog's end.
      if (!in_group_ && next_pos > 0 && !file_.empty() && body.substr(0, file_.size()) == file_) {
        caught_ = std::max(caught_, make_major(file_num_, next_pos));
      }
      return std::optional<Transaction>();
    case TABLE_MAP_EVENT:
      SLUICE_RETURN_IF_ERROR(on_table_map(body));
      return std::optional<Transaction>();
    case WRITE_ROWS_EVENT_V1:
    case UPDATE_ROWS_EVENT_V1:
    case DELETE_ROWS_EVENT_V1:
    case WRITE_ROWS_EVENT:
    case UPDATE_ROWS_EVENT:
    case DELETE_ROWS_EVENT:
      SLUICE_RETURN_IF_ERROR(on_rows(type, body));
      return std::optional<Transaction>();
    case XID_EVENT:
      return commit(timestamp, next_pos);
    case XA_PREPARE_LOG_EVENT:
      if (!cur_.events.empty()) {
        return unimplemented(fmt::format(
            "source {}: an XA transaction ({}) changed table {}.{} at {}:{}; Sluice does not "
            "read XA transactions from the binlog yet",
            src_.name, cur_.txid, src_.database, cur_.events.front().schema->table, file_,
            next_pos));
      }
      return std::optional<Transaction>();
    case QUERY_EVENT:
      return on_query(ev, body);
    case QUERY_COMPRESSED_EVENT:
    case WRITE_ROWS_COMPRESSED_EVENT_V1:
    case UPDATE_ROWS_COMPRESSED_EVENT_V1:
    case DELETE_ROWS_COMPRESSED_EVENT_V1:
    case WRITE_ROWS_COMPRESSED_EVENT:
    case UPDATE_ROWS_COMPRESSED_EVENT:
    case DELETE_ROWS_COMPRESSED_EVENT:
      return unimplemented(fmt::format(
          "source {}: the server writes compressed binlog events (log_bin_compress=ON), which "
          "Sluice does not read; set log_bin_compress=OFF",
          src_.name));
    default:
      return std::optional<Transaction>();
  }
}

Status MysqlReader::on_table_map(std::string_view body) {
  SLUICE_ASSIGN_OR_RETURN(TableMap tm, mysql::parse_table_map(body, table_id_len_ == 4 ? 6 : 8));
  Mapped m;
  if (tm.database == src_.database) {
    auto it = tracked_.find(tm.table);
    if (it != tracked_.end()) {
      if (!it->second.current || it->second.current->columns.size() != tm.types.size()) {
        // A change we did not see as DDL (or a schema history that is behind): re-read.
        SLUICE_ASSIGN_OR_RETURN(auto schemas, read_schemas({tm.table}));
        auto s = schemas.find(tm.table);
        if (s == schemas.end() || s->second->columns.size() != tm.types.size()) {
          return corruption(fmt::format(
              "source {}: table {}.{} has {} columns in the binlog at {} but the tracked schema "
              "has {}; re-bootstrap with `sluice cdc start {} --reset`",
              src_.name, src_.database, tm.table, tm.types.size(), resume_,
              it->second.current ? it->second.current->columns.size() : 0, src_.name));
        }
        SLUICE_RETURN_IF_ERROR(add_version(tm.table, s->second, make_major(file_num_, event_end_)));
      }
      m.table = tm.table;
      m.schema = it->second.current;
      for (size_t i = 0; i < tm.types.size(); ++i)
        m.codecs.push_back(mysql::make_codec(m.schema->columns[i], tm.real_types[i], tm.meta[i]));
    }
  }
  maps_[tm.table_id] = std::move(m);
  return Status::ok();
}

Status MysqlReader::on_rows(uint8_t type, std::string_view body) {
  SLUICE_ASSIGN_OR_RETURN(auto rows,
                          mysql::parse_rows_header(body, type, table_id_len_ == 4 ? 6 : 8));
  auto it = maps_.find(rows.table_id);
  if (it == maps_.end()) {
    return corruption(fmt::format("source {}: rows event for unknown table id {} at {}", src_.name,
                                  rows.table_id, resume_));
  }
  const Mapped& m = it->second;
  if (m.table.empty()) return Status::ok();
  size_t pos = 0;
  while (pos < rows.data.size()) {
    ChangeEvent e;
    e.schema = m.schema;
    std::vector<Value> a, b;
    Status st = mysql::decode_row_image(rows.data, &pos, rows.present, m.codecs, &a);
    if (st.is_ok() && rows.kind == mysql::RowsKind::kUpdate)
      st = mysql::decode_row_image(rows.data, &pos, rows.present_update, m.codecs, &b);
    if (!st.is_ok()) {
      return st.with_context(
          fmt::format("source {}: table {}.{} at {}", src_.name, src_.database, m.table, resume_));
    }
    switch (rows.kind) {
      case mysql::RowsKind::kWrite:
        e.op = Op::kCreate;
        e.after = Row{std::move(a)};
        break;
      case mysql::RowsKind::kUpdate:
        e.op = Op::kUpdate;
        e.before = Row{std::move(a)};
        e.after = Row{std::move(b)};
        break;
      case mysql::RowsKind::kDelete:
        e.op = Op::kDelete;
        e.before = Row{std::move(a)};
        break;
    }
    cur_.events.push_back(std::move(e));
  }
  return Status::ok();
}

Result<std::optional<Transaction>> MysqlReader::commit(uint32_t timestamp, uint64_t end_pos) {
  in_group_ = false;
  caught_ = std::max(caught_, make_major(file_num_, end_pos));
  resume_ = file_ + ":" + std::to_string(end_pos);
  if (!cur_.txid.empty()) {
    gtid_state_[gtid_domain_] = cur_.txid;
  }
  if (cur_.events.empty()) {
    cur_ = Transaction();
    return std::optional<Transaction>();
  }
  Transaction t = std::move(cur_);
  cur_ = Transaction();
  t.commit_ts_ms = static_cast<int64_t>(timestamp) * 1000;
  t.position.major = make_major(file_num_, end_pos);
  t.position.resume = resume_;
  t.position.minor = t.events.size();
  uint64_t i = 0;
  for (auto& e : t.events) {
    e.position.major = t.position.major;
    e.position.minor = ++i;
    e.position.resume = t.position.resume;
  }
  return std::optional<Transaction>(std::move(t));
}

Result<std::optional<Transaction>> MysqlReader::on_query(const uint8_t* hdr,
                                                         std::string_view body) {
  // thread id(4) exec time(4) db length(1) error code(2) status vars length(2) status vars db \0
  // statement.
  if (body.size() < 13) return corruption("QUERY event too short");
  const uint8_t* b = reinterpret_cast<const uint8_t*>(body.data());
  size_t db_len = b[8];
  size_t status_len = static_cast<size_t>(b[11] | b[12] << 8);
  size_t off = 13 + status_len;
  if (off + db_len + 1 > body.size()) return corruption("QUERY event truncated");
  std::string_view db = body.substr(off, db_len);
  std::string_view stmt = body.substr(off + db_len + 1);
  uint32_t timestamp = static_cast<uint32_t>(hdr[0] | hdr[1] << 8 | hdr[2] << 16 |
                                             static_cast<uint32_t>(hdr[3]) << 24);
  uint32_t next_pos = static_cast<uint32_t>(hdr[13] | hdr[14] << 8 | hdr[15] << 16 |
                                            static_cast<uint32_t>(hdr[16]) << 24);
  std::string w = first_word(stmt);
  if (w == "begin" || w == "savepoint" || w == "xa") return std::optional<Transaction>();
  if (w == "commit") return commit(timestamp, next_pos);
  if (w == "rollback") {
    if (stmt.size() > 8 && lower(stmt).find(" to ") != std::string::npos)
      return std::optional<Transaction>();
    cur_ = Transaction();
    in_group_ = false;
    resume_ = file_ + ":" + std::to_string(next_pos);
    return std::optional<Transaction>();
  }
  // DDL (or another statement logged as a statement): its own event group.
  uint64_t major = make_major(file_num_, next_pos);
  std::optional<Transaction> out;
  if (w == "truncate") {
    std::string ls = lower(stmt);
    for (auto& [name, t] : tracked_) {
      if (!t.current || !mentions(ls, lower(name))) continue;
      if (!(lower(db) == lower(src_.database) || mentions(ls, lower(src_.database)))) continue;
      ChangeEvent e;
      e.op = Op::kTruncate;
      e.schema = t.current;
      if (!out) {
        out.emplace();
        out->txid = cur_.txid;
        out->commit_ts_ms = static_cast<int64_t>(timestamp) * 1000;
        out->position.major = major;
        out->position.resume = file_ + ":" + std::to_string(next_pos);
      }
      e.position = out->position;
      e.position.minor = out->events.size() + 1;
      out->events.push_back(std::move(e));
      out->position.minor = out->events.size();
    }
  } else {
    SLUICE_RETURN_IF_ERROR(on_ddl(stmt, db, major));
  }
  if (standalone_ || !in_group_) {
    in_group_ = false;
    if (!cur_.txid.empty()) gtid_state_[gtid_domain_] = cur_.txid;
    cur_ = Transaction();
    resume_ = file_ + ":" + std::to_string(next_pos);
  }
  return out;
}

Status MysqlReader::on_ddl(std::string_view statement, std::string_view db, uint64_t major) {
  std::string ls = lower(statement);
  std::vector<std::string> touched;
  for (const auto& [name, t] : tracked_) {
    if (!mentions(ls, lower(name))) continue;
    if (!(lower(db) == lower(src_.database) || mentions(ls, lower(src_.database)))) continue;
    touched.push_back(name);
  }
  if (touched.empty()) return Status::ok();
  for (const auto& name : touched) {
    auto& t = tracked_[name];
    // Replaying a DDL already in the history (a restart from before it): reuse that version.
    bool known = false;
    for (const auto& v : t.versions) {
      if (v.from_major == major) {
        t.current = v.schema;
        known = true;
      }
    }
    if (known) {
      for (auto it = maps_.begin(); it != maps_.end();)
        it = it->second.table == name ? maps_.erase(it) : std::next(it);
      continue;
    }
    SLUICE_ASSIGN_OR_RETURN(auto schemas, read_schemas({name}));
    auto s = schemas.find(name);
    if (s == schemas.end()) {
      log::warn("cdc: a tracked MariaDB table is gone after DDL",
                {log::kv("source", src_.name), log::kv("table", name)});
      continue;
    }
    if (t.current && same_columns(*t.current, *s->second)) continue;
    SLUICE_RETURN_IF_ERROR(add_version(name, s->second, major));
  }
  return Status::ok();
}

Status MysqlReader::confirm(const Position& position) {
  if (position < confirmed_ || position == confirmed_) return Status::ok();
  confirmed_ = position;
  // Schema versions older than the one current at the confirmed position are no longer needed.
  for (auto& [name, t] : tracked_) {
    size_t keep_from = 0;
    for (size_t i = 0; i < t.versions.size(); ++i) {
      if (t.versions[i].from_major <= position.major) keep_from = i;
    }
    if (keep_from > 0) t.versions.erase(t.versions.begin(), t.versions.begin() + keep_from);
  }
  return save_state();
}

}  // namespace

fs::path mysql_state_file(const sources::SourceConfig& source, const fs::path& state_dir) {
  fs::path dir = state_dir;
  if (dir.empty()) {
    auto it = source.cdc.options.find("state_dir");
    dir = it != source.cdc.options.end() ? fs::path(it->second) : fs::path("var/cdc");
  }
  return dir / (source.name + ".mysql.json");
}

Status mysql_reset_state(const sources::SourceConfig& source, const fs::path& state_dir) {
  std::error_code ec;
  fs::remove(mysql_state_file(source, state_dir), ec);
  if (ec)
    return io_error(fmt::format("cannot remove {}: {}",
                                mysql_state_file(source, state_dir).string(), ec.message()));
  return Status::ok();
}

Result<int64_t> mysql_binlog_behind_bytes(const sources::SourceConfig& source,
                                          const std::string& resume) {
  auto fp = parse_file_pos(resume);
  if (!fp) return invalid_argument(fmt::format("not a binlog position: '{}'", resume));
  std::string pw;
  if (const char* v = std::getenv(source.password_env.c_str())) pw = v;
  Conn c;
  SLUICE_RETURN_IF_ERROR(c.connect(source, pw, false, 30));
  SLUICE_ASSIGN_OR_RETURN(auto rows, c.query("SHOW BINARY LOGS"));
  int64_t behind = 0;
  bool found = false;
  for (const auto& r : rows) {
    std::string name = r[0].value_or("");
    int64_t size = std::strtoll(r[1].value_or("0").c_str(), nullptr, 10);
    if (name == fp->first) {
      found = true;
      behind += std::max<int64_t>(0, size - static_cast<int64_t>(fp->second));
    } else if (found) {
      behind += size;
    }
  }
  if (!found) {
    return not_found(fmt::format(
        "source {}: binlog file {} is no longer on the server (purged); re-bootstrap with "
        "`sluice cdc start {} --reset`",
        source.name, fp->first, source.name));
  }
  return behind;
}

Result<std::unique_ptr<ChangeReader>> open_mysql_reader(const sources::SourceConfig& source,
                                                        const Position& resume,
                                                        const MysqlReaderOptions& options) {
  if (source.kind != sources::SourceKind::kMysql) {
    return invalid_argument(fmt::format("source {} is not a MariaDB/MySQL source", source.name));
  }
  auto r = std::make_unique<MysqlReader>(source, options);
  SLUICE_RETURN_IF_ERROR(r->open(resume));
  return std::unique_ptr<ChangeReader>(std::move(r));
}

Result<std::unique_ptr<ChangeReader>> open_mysql_reader(const sources::SourceConfig& source,
                                                        const Position& resume) {
  return open_mysql_reader(source, resume, MysqlReaderOptions{});
}

}  // namespace sluice::cdc

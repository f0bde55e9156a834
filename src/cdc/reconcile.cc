// `sluice cdc reconcile`: a source's tables against the lake's current state (see cdc.h).
//
// The source's rows (the refined table's columns, optionally filtered by `where`) are copied as
// CSV into the work folder and read into the engine with the lake's types, then compared with
// refined.<source>_<table> by key. PostgreSQL: COPY ... TO STDOUT (pg_copy_csv). MariaDB/MySQL:
// one consistent-snapshot transaction for all tables, each value rendered the way the CDC
// pipeline renders it for the lake (mysql::snapshot_select_expr / normalize_snapshot_value, as
// the bootstrap snapshot and backfill chunks do), so an unchanged row compares equal.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cdc/cdc.h"
#include "cdc/mysql_binlog.h"
#include "cdc/pg_reader.h"
#include "cdc/pipeline.h"
#include "sources/db_client.h"
#include "sources/sources_internal.h"

namespace sluice::cdc {

namespace sd = sources::detail;

namespace {

std::string my_ident(const std::string& s) {
  std::string out = "`";
  for (char ch : s) {
    out += ch;
    if (ch == '`') out += '`';
  }
  return out + "`";
}

// The MariaDB/MySQL side of a reconcile: one connection, one consistent snapshot for every
// table read through it.
class MysqlSide {
 public:
  static Result<MysqlSide> open(const sources::SourceConfig& source) {
    const char* pw = std::getenv(source.password_env.c_str());
    if (pw == nullptr) {
      return invalid_argument(fmt::format(
          "source {}: the password environment variable {} is not set (named by password_env in "
          "{})",
          source.name, source.password_env, source.file));
    }
    sources::Endpoint ep{source.host, source.port, source.user, pw, source.database};
    auto c = sd::MyConn::connect(ep);
    if (!c.is_ok()) return c.status().with_context("source " + source.name);
    MysqlSide side(source, std::move(*c));
    SLUICE_RETURN_IF_ERROR(
        side.conn_.exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
    SLUICE_RETURN_IF_ERROR(
        side.conn_.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
    return side;
  }

  // The table's primary key columns in key order (empty: none).
  Result<std::vector<std::string>> primary_key(const std::string& table) {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows, conn_.query(fmt::format(
                       "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
                       "TABLE_SCHEMA = {} AND TABLE_NAME = {} AND CONSTRAINT_NAME = 'PRIMARY' "
                       "ORDER BY ORDINAL_POSITION",
                       sd::sql_literal(source_.database), sd::sql_literal(table))));
    std::vector<std::string> keys;
    for (const auto& r : rows)
      keys.push_back(r[0].value_or(""));
    return keys;
  }

  // Writes `columns` of `table` (rows matching `where`) as CSV to `file`, rendered as the CDC
  // pipeline stages them for the lake (binary as "\x<hex>"); returns the rows.
  Result<int64_t> copy_csv(const std::string& table, const std::vector<std::string>& columns,
                           const std::string& where, const std::filesystem::path& file) {
    SLUICE_ASSIGN_OR_RETURN(
        auto rows, conn_.query(fmt::format(
                       "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
                       sd::sql_literal(source_.database), sd::sql_literal(table))));
    if (rows.empty()) {
      return not_found(fmt::format("source {}: table {}.{} does not exist or '{}' cannot read it",
                                   source_.name, source_.database, table, source_.user));
    }
    std::map<std::string, Column> by_name;
    for (const auto& r : rows) {
      Column c;
      c.name = r[0].value_or("");
      mysql::classify_column(r[1].value_or(""), r[2].value_or(""), false, &c);
      by_name[c.name] = std::move(c);
    }
    std::vector<Column> cols;
    std::string select;
    for (const auto& name : columns) {
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        return invalid_argument(fmt::format(
            "source {}: table {}.{} has no column '{}', which the lake's {} has; reconcile "
            "compares the lake's columns (drop the column from the lake or reset the stream)",
            source_.name, source_.database, table, name, refined_table_name(source_.name, table)));
      }
      cols.push_back(it->second);
      select += (select.empty() ? "" : ", ") + mysql::snapshot_select_expr(it->second);
    }
    std::FILE* f = std::fopen(file.c_str(), "wb");
    if (f == nullptr) return io_error("cannot write " + file.string());
    std::string line;
    bool write_failed = false;
    auto n = conn_.stream(fmt::format("SELECT {} FROM {}.{}{}", select, my_ident(source_.database),
                                      my_ident(table), where.empty() ? "" : " WHERE " + where),
                          [&](char** row, unsigned long* len, unsigned ncols) -> Status {
                            line.clear();
                            for (size_t i = 0; i < cols.size() && i < ncols; ++i) {
                              if (i) line.push_back(',');
                              if (row[i] == nullptr) continue;  // unquoted empty: NULL
                              std::string v = mysql::normalize_snapshot_value(
                                  cols[i], std::string(row[i], len[i]));
                              if (cols[i].kind == ValueKind::kBytes) v = "\\x" + hex(v);
                              sd::append_csv_field(line, v.data(), v.size());
                            }
                            line.push_back('\n');
                            if (std::fwrite(line.data(), 1, line.size(), f) != line.size()) {
                              write_failed = true;
                              return io_error("cannot write " + file.string());
                            }
                            return Status::ok();
                          });
    std::fclose(f);
    if (!n.is_ok()) {
      return write_failed
                 ? n.status()
                 : n.status().with_context(fmt::format("source {} table {}", source_.name, table));
    }
    return n;
  }

  Status finish() { return conn_.exec("COMMIT"); }

 private:
  MysqlSide(const sources::SourceConfig& source, sd::MyConn conn)
      : source_(source), conn_(std::move(conn)) {}
  const sources::SourceConfig& source_;
  sd::MyConn conn_;
};

}  // namespace

Result<std::vector<ReconcileTable>> reconcile(const sources::SourceConfig& source,
                                              engine::LakeSession& lake,
                                              const std::vector<std::string>& tables,
                                              const std::string& where,
                                              const std::filesystem::path& work_dir) {
  const bool mysql = source.kind == sources::SourceKind::kMysql;
  if (source.kind != sources::SourceKind::kPostgres && !mysql) {
    return unimplemented(fmt::format(
        "source {}: reconcile supports PostgreSQL and MariaDB/MySQL sources only", source.name));
  }
  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);
  std::optional<MysqlSide> my;
  if (mysql) {
    SLUICE_ASSIGN_OR_RETURN(auto side, MysqlSide::open(source));
    my.emplace(std::move(side));
  }
  std::vector<ReconcileTable> out;
  for (const auto& tc : source.tables) {
    if (!tables.empty() && std::find(tables.begin(), tables.end(), tc.name) == tables.end()) {
      continue;
    }
    ReconcileTable rt;
    rt.table = tc.name;
    auto ident = lake::TableIdent::parse(refined_table_name(source.name, tc.name));
    if (!ident.is_ok()) return ident.status();
    SLUICE_ASSIGN_OR_RETURN(auto table, lake.catalog().load_table(*ident));
    SLUICE_ASSIGN_OR_RETURN(auto plan, table.plan_scan({}));
    const auto& schema = plan.schema;
    std::vector<std::string> cols;
    std::string conv, csv_cols;
    for (const auto& f : schema.fields) {
      if (f.name == "_lsn" || f.name == "_seq" || f.name == "_commit_ts") continue;
      const size_t j = cols.size();
      cols.push_back(f.name);
      std::string duck = duck_of_iceberg(f.type->is_primitive() ? f.type->primitive : "string");
      csv_cols += fmt::format("{}'c{}': 'VARCHAR'", j ? ", " : "", j);
      std::string expr = duck == "BLOB" ? fmt::format("from_hex(substr(c{}, 3))", j)
                                        : fmt::format("CAST(c{} AS {})", j, duck);
      conv += fmt::format("{}{} AS {}", j ? ", " : "", expr, sd::duck_ident(f.name));
    }
    // Keys: the table's `key` override, else the source's primary key.
    std::vector<std::string> keys = tc.key;
    if (keys.empty()) {
      if (my) {
        SLUICE_ASSIGN_OR_RETURN(keys, my->primary_key(tc.name));
      } else {
        SLUICE_ASSIGN_OR_RETURN(keys, pg_primary_key(source, tc.name));
      }
    }
    if (keys.empty()) {
      return invalid_argument(
          fmt::format("source {}: table {} has no primary key to reconcile "
                      "by; name one with `key = [...]` in [tables.{}]",
                      source.name, tc.name, tc.name));
    }
    std::filesystem::path file = work_dir / (tc.name + ".csv");
    if (my) {
      SLUICE_ASSIGN_OR_RETURN(rt.source_rows, my->copy_csv(tc.name, cols, where, file));
    } else {
      SLUICE_ASSIGN_OR_RETURN(rt.source_rows, pg_copy_csv(source, tc.name, cols, where, file));
    }
    auto& s = lake.session();
    SLUICE_RETURN_IF_ERROR(s.execute(fmt::format(
        "CREATE OR REPLACE TEMP TABLE __rec_src AS SELECT {} FROM read_csv({}, columns = {{{}}}, "
        "header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr "
        "= '', allow_quoted_nulls = false)",
        conv, sd::sql_literal(file.string()), csv_cols)));
    std::filesystem::remove(file, ec);
    std::string lake_sql = plan.tasks.empty() ? fmt::format("SELECT * FROM __rec_src WHERE false")
                                              : engine::scan_plan_sql(plan);
    std::string sel;
    for (const auto& c : cols)
      sel += (sel.empty() ? "" : ", ") + sd::duck_ident(c);
    SLUICE_RETURN_IF_ERROR(
        s.execute(fmt::format("CREATE OR REPLACE TEMP TABLE __rec_lake AS SELECT {} FROM ({}) t{}",
                              sel, lake_sql, where.empty() ? "" : " WHERE " + where)));
    std::string join, diff, key_text;
    for (const auto& k : keys) {
      join += fmt::format("{0}s.{1} = l.{1}", join.empty() ? "" : " AND ", sd::duck_ident(k));
      key_text += fmt::format("{}'{}=' || CAST({}.{} AS VARCHAR)",
                              key_text.empty() ? "" : " || ',' || ", k, "{0}", sd::duck_ident(k));
    }
    for (const auto& c : cols) {
      diff += fmt::format("{0}s.{1} IS DISTINCT FROM l.{1}", diff.empty() ? "" : " OR ",
                          sd::duck_ident(c));
    }
    auto ktext = [&](const char* alias) {
      std::string t = key_text;
      size_t p;
      while ((p = t.find("{0}")) != std::string::npos)
        t.replace(p, 3, alias);
      return t;
    };
    SLUICE_ASSIGN_OR_RETURN(
        auto res,
        s.query(fmt::format(
            "SELECT (SELECT count(*) FROM __rec_lake), "
            "(SELECT count(*) FROM __rec_src s WHERE NOT EXISTS (SELECT 1 FROM __rec_lake l WHERE "
            "{0})), (SELECT count(*) FROM __rec_lake l WHERE NOT EXISTS (SELECT 1 FROM __rec_src "
            "s WHERE {0})), (SELECT count(*) FROM __rec_src s JOIN __rec_lake l ON {0} WHERE {1})",
            join, diff)));
    rt.lake_rows = std::stoll(res.rows[0][0].value_or("0"));
    rt.missing = std::stoll(res.rows[0][1].value_or("0"));
    rt.extra = std::stoll(res.rows[0][2].value_or("0"));
    rt.different = std::stoll(res.rows[0][3].value_or("0"));
    if (rt.missing + rt.extra + rt.different > 0) {
      SLUICE_ASSIGN_OR_RETURN(
          auto sample,
          s.query(fmt::format(
              "SELECT * FROM (SELECT 'missing ' || {2} FROM __rec_src s WHERE NOT EXISTS (SELECT "
              "1 FROM __rec_lake l WHERE {0}) LIMIT 5) UNION ALL SELECT * FROM (SELECT 'extra ' || "
              "{3} FROM __rec_lake l WHERE NOT EXISTS (SELECT 1 FROM __rec_src s WHERE {0}) LIMIT "
              "5) UNION ALL SELECT * FROM (SELECT 'different ' || {2} FROM __rec_src s JOIN "
              "__rec_lake l ON {0} WHERE {1} LIMIT 5)",
              join, diff, ktext("s"), ktext("l"))));
      for (const auto& r : sample.rows)
        rt.sample.push_back(r[0].value_or(""));
    }
    out.push_back(std::move(rt));
  }
  if (my) {
    SLUICE_RETURN_IF_ERROR(my->finish());
  }
  return out;
}

}  // namespace sluice::cdc

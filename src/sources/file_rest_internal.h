// Internals shared by the file-drop and REST sources (file_drop.cc, rest_source.cc): the lake
// writer that turns DuckDB batches of inferred schema into one commit per table.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/lake_session.h"
#include "sources/sources.h"

namespace sluice::sources::detail {

// Writes batches into raw.<source>_<table> the way the DB sources do: the table is created from
// the first batch's columns (plus the lineage columns, partitioned by day(_ingested_at)), a new
// column in a later batch is added (schema evolution), a column the lake has but the batch lacks
// is NULL, a wider type widens the lake column when the lake allows it. Data files are written
// per batch and committed at once by commit(); nothing is visible before it.
class TableWriter {
 public:
  TableWriter(engine::LakeSession& lake, std::string source, lake::TableIdent ident,
              std::string load_type, std::string ingested_at);
  ~TableWriter();  // discards the data files not committed

  // `select` yields the batch's columns plus `_source_position` (VARCHAR). Types DuckDB infers
  // that the lake cannot hold become the nearest lake type (unsigned -> wider signed or decimal,
  // nested values -> JSON text); `hints` overrides the type of a column new to the table (CSV:
  // read as text, typed by the sniffer). A value that does not convert to its lake column's type
  // sends the row to quarantine (reason, column, the row as JSON, the source position).
  Status write(const std::string& source_table, const std::string& select,
               const std::map<std::string, std::string>& hints = {});
  // `select` yields rows in the quarantine shape: reason, column_name, raw_row, source_position.
  Status quarantine(const std::string& source_table, const std::string& select);

  // One lake commit of every batch: append, or (replace) the table's files are replaced.
  // `summary` goes into the snapshot summary.
  Result<TableReport> commit(const std::map<std::string, std::string>& summary, bool replace);

  int64_t rows() const { return rows_; }
  int64_t quarantined() const { return quarantined_; }
  const lake::TableIdent& ident() const { return ident_; }

 private:
  Result<engine::QueryResult> lake_columns();
  Status evolve(const std::vector<std::pair<std::string, std::string>>& batch_columns);
  void discard();

  engine::LakeSession& lake_;
  std::string source_;
  lake::TableIdent ident_;
  lake::TableIdent quarantine_ident_;
  std::string load_type_;
  std::string ingested_at_;
  std::vector<lake::DataFile> files_;
  std::string qtable_;
  bool have_quarantine_ = false;
  int64_t rows_ = 0;
  int64_t quarantined_ = 0;
};

// The source's tables named in `names` (all when empty); NotFound names an unknown one.
Result<std::vector<TableConfig>> select_tables(const SourceConfig& src,
                                               const std::vector<std::string>& names);

// The lake type for a DuckDB type an inferring reader produced, and the expression (`{}` is the
// column) that converts it.
std::pair<std::string, std::string> lake_type_for(const std::string& duck_type);

// The newest value of `key` in the snapshot summaries of the table's current snapshot and its
// ancestors; nullopt when no snapshot carries it (or the table does not exist).
std::optional<std::string> summary_value(engine::LakeSession& lake, const lake::TableIdent& ident,
                                         const std::string& key);

}  // namespace sluice::sources::detail

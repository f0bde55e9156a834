// Mapping between Iceberg types (lake::Type) and DuckDB types, both ways.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "lake/lake.h"

namespace sluice::engine::detail {

// DuckDB's name for an Iceberg type ("long" -> "BIGINT", list<int> -> "INTEGER[]").
std::string duckdb_type(const lake::Type& type);

struct ColumnDef {
  std::string name;
  std::string duckdb_type;  // as DESCRIBE prints it
  bool not_null = false;
};

// Builds an Iceberg schema from DuckDB column definitions; top-level ids are 1..n, nested ids
// follow. The message names the column whose type Iceberg cannot hold (e.g. INTERVAL).
Result<lake::Schema> schema_from_columns(const std::vector<ColumnDef>& columns);

// One DuckDB type -> Iceberg; nested field ids are taken from `next_id` (incremented).
Result<lake::TypePtr> iceberg_type(std::string_view duckdb_type, int& next_id);

}  // namespace sluice::engine::detail

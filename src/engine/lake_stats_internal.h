// Per-file statistics of written data files for the Iceberg manifests, and converting DuckDB's
// Parquet statistics text to Iceberg values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "lake/lake.h"

namespace sluice::engine::detail {

// Parses a stats_min_value/stats_max_value text for a column of Iceberg type `type`; nullopt
// when the text is absent, NaN or not meaningful as a bound (bounds are then omitted, which
// only makes pruning less effective, never wrong).
std::optional<lake::Value> parse_stat_value(const lake::Type& type, const std::string& text);

// Orders two values of the same Iceberg type (decimals compared numerically).
bool value_less(const lake::Value& a, const lake::Value& b);

// What a manifest records of one written file: `file` has record_count, column_sizes,
// value_counts, null_value_counts and the serialized lower/upper bounds of the top-level
// primitive columns (nested columns get none); `lower` holds the lower bounds as values, from
// which partition values are derived.
struct FileStats {
  lake::DataFile file;
  std::map<int, lake::Value> lower;
};

// The statistics of `paths` read back from their Parquet footers (parquet_metadata()), for
// columns of `schema` matched by name. Works for every type; costs a footer read per file.
Result<std::map<std::string, FileStats>> footer_stats(Session& session, const lake::Schema& schema,
                                                      const std::vector<std::string>& paths);

// Whether COPY ... (RETURN_STATS) gives every statistic footer_stats() gives for `schema`:
// DuckDB 1.4.4 returns no min/max for BOOLEAN columns nor for decimals of more than 18 digits
// (stored as fixed-length byte arrays), whose footers have them.
bool return_stats_complete(const lake::Schema& schema);

// Runs `copy_sql`, a COPY ... TO ... (FORMAT parquet, ..., RETURN_STATS), and turns the row
// DuckDB returns for each written file into the statistics footer_stats() would read from it
// (same values, same bound serialization), keyed by file path.
Result<std::map<std::string, FileStats>> copy_returning_stats(Session& session,
                                                              const lake::Schema& schema,
                                                              const std::string& copy_sql);

}  // namespace sluice::engine::detail

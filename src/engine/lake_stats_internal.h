// Converting DuckDB's Parquet statistics (parquet_metadata() text) to Iceberg values.
#pragma once

#include <optional>
#include <string>

#include "lake/lake.h"

namespace sluice::engine::detail {

// Parses a stats_min_value/stats_max_value text for a column of Iceberg type `type`; nullopt
// when the text is absent, NaN or not meaningful as a bound (bounds are then omitted, which
// only makes pruning less effective, never wrong).
std::optional<lake::Value> parse_stat_value(const lake::Type& type, const std::string& text);

// Orders two values of the same Iceberg type (decimals compared numerically).
bool value_less(const lake::Value& a, const lake::Value& b);

}  // namespace sluice::engine::detail

// Pruning predicates from SQL: DuckDB parses the statement (json_serialize_sql), and the
// top-level AND-ed comparisons of a single-table SELECT between a column and a constant become
// lake::Predicates for scan planning. Anything else is left to DuckDB; pruning is only ever an
// optimisation, never a filter.
#pragma once

#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "lake/lake.h"

namespace sluice::engine::detail {

std::vector<lake::Predicate> extract_predicates(Session& session, std::string_view select_sql,
                                                const lake::TableIdent& table,
                                                const lake::Schema& schema);

}  // namespace sluice::engine::detail

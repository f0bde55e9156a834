// The lake and a SQL session over it, opened as a configuration says: the warehouse
// (lake.warehouse or <data_dir>/lake), DuckDB's threads, memory and spill folder ([engine]) and
// the write options ([lake]). Every command or service that works on the lake opens it this way.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/status.h"
#include "engine/engine.h"
#include "engine/lake_session.h"
#include "lake/lake.h"

namespace sluice::engine {

struct ConfiguredLake {
  std::shared_ptr<lake::Catalog> catalog;
  std::shared_ptr<Database> db;
  LakeSession session;
};

// `hot_table_cache`: the session keeps hot tables in memory (engine.table_cache_mb); for
// interactive sessions, not for writers such as CDC.
Result<ConfiguredLake> open_configured_lake(const common::Config& config,
                                            bool hot_table_cache = false);

// The lake session options of a configuration: [lake] write options and the [engine] hot-table
// cache.
LakeSessionOptions lake_session_options(const common::Config& config, bool hot_table_cache);

}  // namespace sluice::engine

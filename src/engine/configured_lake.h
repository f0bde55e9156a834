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

Result<ConfiguredLake> open_configured_lake(const common::Config& config);

}  // namespace sluice::engine

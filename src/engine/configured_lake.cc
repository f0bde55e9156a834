#include "engine/configured_lake.h"

#include <filesystem>

#include "common/data_dir.h"

namespace sluice::engine {

Result<ConfiguredLake> open_configured_lake(const common::Config& config, bool hot_table_cache) {
  SLUICE_ASSIGN_OR_RETURN(auto dir, common::DataDir::open(config.get_string("platform.data_dir")));
  std::filesystem::path warehouse = config.get_string("lake.warehouse");
  if (warehouse.empty()) {
    SLUICE_ASSIGN_OR_RETURN(warehouse, dir.subdir("lake"));
  }
  SLUICE_ASSIGN_OR_RETURN(auto catalog, lake::Catalog::open(warehouse));
  EngineOptions opts;
  opts.threads = static_cast<int>(config.get_int("engine.threads"));
  opts.memory_limit = config.get_string("engine.memory_limit");
  opts.temp_dir = config.get_string("engine.temp_dir");
  if (opts.temp_dir.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto tmp, dir.subdir("tmp"));
    opts.temp_dir = tmp.string();
  }
  SLUICE_ASSIGN_OR_RETURN(auto db, Database::open_in_memory(opts));
  SLUICE_ASSIGN_OR_RETURN(
      auto session, LakeSession::open(catalog, db, lake_session_options(config, hot_table_cache)));
  return ConfiguredLake{std::move(catalog), std::move(db), std::move(session)};
}

LakeSessionOptions lake_session_options(const common::Config& config, bool hot_table_cache) {
  LakeSessionOptions o;
  o.compression = config.get_string("lake.compression");
  o.target_file_size_bytes = config.get_int("lake.target_file_size_mb") << 20;
  o.cache_bytes = hot_table_cache ? config.get_int("engine.table_cache_mb") << 20 : 0;
  o.cache_min_reads = static_cast<int>(config.get_int("engine.table_cache_min_reads"));
  return o;
}

}  // namespace sluice::engine

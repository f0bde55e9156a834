// Opening the lake and a SQL session over it, shared by `sluice sql` and `sluice table`.
#include <filesystem>

#include "cli/cli.h"

namespace sluice::cli {

Result<LakeContext> open_lake(const common::Config& config) {
  SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
  std::filesystem::path warehouse = config.get_string("lake.warehouse");
  if (warehouse.empty()) {
    SLUICE_ASSIGN_OR_RETURN(warehouse, dir.subdir("lake"));
  }
  SLUICE_ASSIGN_OR_RETURN(auto catalog, lake::Catalog::open(warehouse));
  engine::EngineOptions opts;
  opts.threads = static_cast<int>(config.get_int("engine.threads"));
  opts.memory_limit = config.get_string("engine.memory_limit");
  opts.temp_dir = config.get_string("engine.temp_dir");
  if (opts.temp_dir.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto tmp, dir.subdir("tmp"));
    opts.temp_dir = tmp.string();
  }
  SLUICE_ASSIGN_OR_RETURN(auto db, engine::Database::open_in_memory(opts));
  engine::LakeSessionOptions lopts;
  lopts.compression = config.get_string("lake.compression");
  lopts.target_file_size_bytes = config.get_int("lake.target_file_size_mb") << 20;
  SLUICE_ASSIGN_OR_RETURN(auto session, engine::LakeSession::open(catalog, db, lopts));
  return LakeContext{config, std::move(catalog), std::move(db), std::move(session)};
}

}  // namespace sluice::cli

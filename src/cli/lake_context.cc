// Opening the lake and a SQL session over it, shared by `sluice sql` and `sluice table`.
#include <filesystem>

#include "cli/cli.h"
#include "engine/configured_lake.h"

namespace sluice::cli {

Result<LakeContext> open_lake(const common::Config& config) {
  SLUICE_ASSIGN_OR_RETURN(auto lake,
                          engine::open_configured_lake(config, /*hot_table_cache=*/true));
  return LakeContext{config, std::move(lake.catalog), std::move(lake.db), std::move(lake.session)};
}

}  // namespace sluice::cli

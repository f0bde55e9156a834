// Config load cost against its anchor: toml++ parsing the same text with no validation. Sluice
// reads its config once per command, so the goal is only that validation stays a small multiple.
#include <benchmark/benchmark.h>
#include <toml++/toml.h>

#include "common/config.h"

namespace {

const char* kText = R"([platform]
name = "shop"
data_dir = "var"

[log]
level = "debug"
format = "json"

[engine]
threads = 2
memory_limit = "4GB"

[lake]
compression = "zstd"
target_file_size_mb = 128

[postgres]
host = "127.0.0.1"
port = 5432
database = "shop"
)";

void BM_AnchorTomlParseOnly(benchmark::State& state) {
  for (auto _ : state) {
    auto t = toml::parse(kText);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_AnchorTomlParseOnly);

void BM_SluiceConfigParseAndValidate(benchmark::State& state) {
  for (auto _ : state) {
    auto c = sluice::common::Config::parse(kText, "sluice.toml");
    if (!c.is_ok()) state.SkipWithError(c.status().message().c_str());
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_SluiceConfigParseAndValidate);

}  // namespace

BENCHMARK_MAIN();

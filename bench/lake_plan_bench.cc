// Scan planning for a 10,000-file Iceberg table against its anchor measured in the same run:
// reading and decoding the same manifest list and manifests with avro-c, without planning
// (file read + inflate + avro_value_read of every record). The goal is "well under 100 ms" for
// a cold plan; a warm plan (parsed manifests cached by path) should be a small fraction of it.
#include <avro.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "common/log.h"
#include "lake/lake.h"
#include "lake/lake_internal.h"

namespace {

using namespace sluice::lake;  // NOLINT
namespace fs = std::filesystem;

constexpr int kFiles = 10000;
constexpr int kAppends = 10;
constexpr int64_t kDayMicros = 86400LL * 1000000;

struct Fixture {
  fs::path dir;
  std::shared_ptr<Catalog> catalog;
  std::optional<Table> table;
  std::vector<std::string> avro_files;  // the manifest list and manifests
  double anchor_ms = 0;

  Fixture() {
    sluice::log::init(sluice::log::Level::kWarn, sluice::log::Format::kText);
    dir = fs::temp_directory_path() / ("sluice-lake-bench-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    catalog = *Catalog::open(dir);
    Schema s;
    s.fields = {{1, "id", true, Type::of("long"), ""},
                {2, "ts", false, Type::of("timestamptz"), ""},
                {3, "region", false, Type::of("string"), ""},
                {4, "amount", false, Type::of("double"), ""}};
    CreateTableOptions opts;
    opts.partition_by = {{"ts", "day"}, {"region", "identity"}};
    table = std::move(catalog->create_table({"raw", "bench"}, s, opts)).value();
    for (int a = 0; a < kAppends; ++a) {
      std::vector<DataFile> files;
      for (int i = 0; i < kFiles / kAppends; ++i) {
        int n = a * (kFiles / kAppends) + i;
        int32_t day = 19000 + n % 100;
        DataFile f;
        f.file_path = (table->data_dir() / ("f" + std::to_string(n) + ".parquet")).string();
        f.record_count = 1000;
        f.file_size_in_bytes = 65536;
        f.partition = {day, std::string(n % 2 ? "eu" : "us")};
        for (int c = 1; c <= 4; ++c) {
          f.value_counts[c] = 1000;
          f.null_value_counts[c] = 0;
          f.column_sizes[c] = 16000;
        }
        f.lower_bounds[1] = *encode_single_value(*Type::of("long"), int64_t{n * 1000});
        f.upper_bounds[1] = *encode_single_value(*Type::of("long"), int64_t{n * 1000 + 999});
        f.lower_bounds[2] =
            *encode_single_value(*Type::of("timestamptz"), int64_t{day * kDayMicros});
        f.upper_bounds[2] =
            *encode_single_value(*Type::of("timestamptz"), int64_t{(day + 1) * kDayMicros - 1});
        f.lower_bounds[3] = std::string(n % 2 ? "eu" : "us");
        f.upper_bounds[3] = f.lower_bounds[3];
        files.push_back(std::move(f));
      }
      auto st = table->append(files);
      if (!st.is_ok()) std::abort();
    }
    const Snapshot* snap = table->metadata().current_snapshot();
    avro_files.push_back(snap->manifest_list);
    auto list = detail::read_manifest_list(snap->manifest_list);
    for (const auto& m : list->manifests)
      avro_files.push_back(m.manifest_path);
    // The anchor: median of 7 runs.
    std::vector<double> runs;
    for (int i = 0; i < 7; ++i)
      runs.push_back(decode_all());
    std::sort(runs.begin(), runs.end());
    anchor_ms = runs[runs.size() / 2];
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Reads and decodes every record of every Avro file with avro-c; returns milliseconds.
  double decode_all() const {
    auto start = std::chrono::steady_clock::now();
    int64_t records = 0;
    for (const auto& path : avro_files) {
      auto bytes = detail::read_file(path);
      auto c = detail::read_avro_container(*bytes, path);
      const std::string& schema_json = c->metadata.at("avro.schema");
      avro_schema_t schema;
      avro_schema_from_json_length(schema_json.data(), schema_json.size(), &schema);
      avro_value_iface_t* iface = avro_generic_class_from_schema(schema);
      avro_value_t value;
      avro_generic_value_new(iface, &value);
      for (size_t b = 0; b < c->blocks.size(); ++b) {
        avro_reader_t r =
            avro_reader_memory(c->blocks[b].data(), static_cast<int64_t>(c->blocks[b].size()));
        for (int64_t i = 0; i < c->block_counts[b]; ++i) {
          avro_value_reset(&value);
          if (avro_value_read(r, &value) != 0) std::abort();
          ++records;
        }
        avro_reader_free(r);
      }
      avro_value_decref(&value);
      avro_value_iface_decref(iface);
      avro_schema_decref(schema);
    }
    benchmark::DoNotOptimize(records);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void report(benchmark::State& state, double total_ms, int64_t n) {
  double per = total_ms / static_cast<double>(n);
  state.counters["plan_ms"] = per;
  state.counters["anchor_ms"] = fixture().anchor_ms;
  state.counters["ratio"] = per / fixture().anchor_ms;
}

void BM_AnchorAvroDecodeManifests(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state)
    benchmark::DoNotOptimize(f.decode_all());
  state.counters["anchor_ms"] = f.anchor_ms;
}
BENCHMARK(BM_AnchorAvroDecodeManifests)->Unit(benchmark::kMillisecond);

void BM_PlanScanCold10kFiles(benchmark::State& state) {
  Fixture& f = fixture();
  double total = 0;
  int64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    detail::clear_manifest_cache();
    state.ResumeTiming();
    auto start = std::chrono::steady_clock::now();
    auto plan = f.table->plan_scan({});
    total +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++n;
    if (!plan.is_ok() || plan->tasks.size() != kFiles) state.SkipWithError("bad plan");
  }
  report(state, total, n);
}
BENCHMARK(BM_PlanScanCold10kFiles)->Unit(benchmark::kMillisecond);

void BM_PlanScanWarm10kFiles(benchmark::State& state) {
  Fixture& f = fixture();
  (void)f.table->plan_scan({});
  double total = 0;
  int64_t n = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto plan = f.table->plan_scan({});
    total +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++n;
    if (!plan.is_ok() || plan->tasks.size() != kFiles) state.SkipWithError("bad plan");
  }
  report(state, total, n);
}
BENCHMARK(BM_PlanScanWarm10kFiles)->Unit(benchmark::kMillisecond);

void BM_PlanScanWarmFiltered10kFiles(benchmark::State& state) {
  Fixture& f = fixture();
  ScanOptions o;
  o.filter = {{2, Predicate::Op::kEq, {int64_t{19042 * kDayMicros + 5}}},
              {1, Predicate::Op::kLt, {int64_t{5000000}}}};
  (void)f.table->plan_scan(o);
  double total = 0;
  int64_t n = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto plan = f.table->plan_scan(o);
    total +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++n;
    if (!plan.is_ok() || plan->tasks.size() != 50) state.SkipWithError("bad plan");
  }
  report(state, total, n);
}
BENCHMARK(BM_PlanScanWarmFiltered10kFiles)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

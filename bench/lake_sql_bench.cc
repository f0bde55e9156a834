// Lake write and read figures, each next to its anchor measured in the same run:
//   1. append 10M narrow rows (partitioned by day) vs DuckDB's own COPY ... TO parquet of the
//      same rows with the same partitioning (goal: >= 0.9 of the anchor's rows/s);
//   2. append 1M wide rows (40 columns) vs the same COPY;
//   3. one-row append latency p50/p99 (goal: p50 < 10 ms), anchor: a DuckDB one-row COPY;
//   4. a scan-heavy aggregate on the lake table vs the same query on a native DuckDB table
//      (goal: <= 1.2x): cold (Parquet files) and hot (the session's in-memory copy).
// Usage: bench_lake_sql [--rows N] [--wide-rows N] [--commits N] [--dir DIR]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "common/log.h"
#include "engine/lake_session.h"

using namespace sluice;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void check(const Status& st, const char* what) {
  if (!st.is_ok()) {
    std::cerr << what << ": " << st.to_string() << "\n";
    std::exit(1);
  }
}
template <typename T>
T check(Result<T> r, const char* what) {
  check(r.status(), what);
  return std::move(r).value();
}

std::string wide_select(int64_t rows) {
  std::string cols = "i AS id, TIMESTAMP '2026-11-01' + to_seconds(i % 864000) AS ts";
  for (int c = 0; c < 19; ++c)
    cols += fmt::format(", i * {} + {} AS n{}", c + 1, c, c);
  for (int c = 0; c < 19; ++c)
    cols += fmt::format(", 'v' || ((i + {}) % 1000) AS s{}", c, c);
  return fmt::format("SELECT {} FROM range({}) t(i)", cols, rows);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 10'000'000, wide_rows = 1'000'000, commits = 200;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "sluice_lake_bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows")) rows = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--wide-rows")) wide_rows = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--commits")) commits = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  sluice::log::init(sluice::log::Level::kWarn, sluice::log::Format::kText);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto catalog = check(lake::Catalog::open(dir / "lake"), "open catalog");
  auto db = check(engine::Database::open_in_memory({}), "open engine");
  auto lake = check(engine::LakeSession::open(catalog, db), "open session");
  auto& duck = lake.session();

  std::cout << fmt::format("lake benchmarks (DuckDB {}), data in {}\n\n", engine::duckdb_version(),
                           dir.string());

  // 1. Narrow rows, partitioned by day.
  std::string narrow = fmt::format(
      "SELECT i AS id, (i * 7919) % 100000 AS customer_id, (i % 10000) / 100.0 AS amount, "
      "TIMESTAMP '2026-11-01' + to_seconds(i % 2592000) AS ts FROM range({}) t(i)",
      rows);
  auto t0 = Clock::now();
  check(duck.execute(
            fmt::format("COPY (SELECT *, CAST(ts AS DATE) AS d FROM ({})) TO '{}' (FORMAT parquet, "
                        "COMPRESSION zstd, PARTITION_BY (d))",
                        narrow, (dir / "anchor_narrow").string())),
        "anchor copy");
  double anchor_narrow = seconds_since(t0);
  check(lake.run("CREATE TABLE raw.narrow (id BIGINT, customer_id BIGINT, amount DOUBLE, ts "
                 "TIMESTAMP) PARTITIONED BY (day(ts))")
            .status(),
        "create");
  t0 = Clock::now();
  check(lake.run("INSERT INTO raw.narrow " + narrow).status(), "insert narrow");
  double lake_narrow = seconds_since(t0);
  std::cout << fmt::format(
      "append {:>10} narrow rows, partitioned by day: lake {:8.0f} rows/s  anchor DuckDB COPY "
      "{:8.0f} rows/s  ratio {:.2f} (goal >= 0.90)\n",
      rows, rows / lake_narrow, rows / anchor_narrow, anchor_narrow / lake_narrow);

  // 2. Wide rows, unpartitioned.
  std::string wide = wide_select(wide_rows);
  t0 = Clock::now();
  check(duck.execute(fmt::format("COPY ({}) TO '{}' (FORMAT parquet, COMPRESSION zstd)", wide,
                                 (dir / "anchor_wide.parquet").string())),
        "anchor wide");
  double anchor_wide = seconds_since(t0);
  check(lake.run("CREATE TABLE raw.wide AS " + wide_select(0)).status(), "create wide");
  t0 = Clock::now();
  check(lake.run("INSERT INTO raw.wide " + wide).status(), "insert wide");
  double lake_wide = seconds_since(t0);
  std::cout << fmt::format(
      "append {:>10} wide rows (40 columns):          lake {:8.0f} rows/s  anchor DuckDB COPY "
      "{:8.0f} rows/s  ratio {:.2f} (goal >= 0.90)\n",
      wide_rows, wide_rows / lake_wide, wide_rows / anchor_wide, anchor_wide / lake_wide);

  // 3. One-row commits.
  check(lake.run("CREATE TABLE raw.small (id BIGINT, v VARCHAR)").status(), "create small");
  std::vector<double> lat, anchor_lat;
  for (int64_t i = 0; i < commits; ++i) {
    t0 = Clock::now();
    check(lake.run(fmt::format("INSERT INTO raw.small VALUES ({}, 'x')", i)).status(), "small");
    lat.push_back(seconds_since(t0) * 1000);
    t0 = Clock::now();
    check(duck.execute(fmt::format("COPY (SELECT {} AS id, 'x' AS v) TO '{}/one-{}.parquet' "
                                   "(FORMAT parquet)",
                                   i, dir.string(), i)),
          "anchor small");
    anchor_lat.push_back(seconds_since(t0) * 1000);
  }
  std::sort(lat.begin(), lat.end());
  std::sort(anchor_lat.begin(), anchor_lat.end());
  auto pct = [](const std::vector<double>& v, double p) {
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
  };
  std::cout << fmt::format(
      "one-row append, {} commits: p50 {:.2f} ms  p99 {:.2f} ms (goal p50 < 10 ms)  anchor "
      "one-row DuckDB COPY p50 {:.2f} ms  ratio {:.1f}x\n",
      commits, pct(lat, 0.5), pct(lat, 0.99), pct(anchor_lat, 0.5),
      pct(lat, 0.5) / pct(anchor_lat, 0.5));

  // 4. Scan-heavy query: lake table vs a native DuckDB table with the same rows.
  check(duck.execute("CREATE TABLE native_narrow AS " + narrow), "native table");
  std::string q =
      "SELECT customer_id % 100 AS k, count(*), sum(amount), max(ts) FROM {} GROUP BY "
      "1 ORDER BY 1";
  auto time_one = [&](auto&& fn) {
    auto t = Clock::now();
    fn();
    return seconds_since(t);
  };
  auto best_native = [&](const std::string& table) {
    double b = 1e9;
    for (int r = 0; r < 3; ++r) {
      b = std::min(b, time_one([&] {
                     check(duck.query(fmt::format(fmt::runtime(q), table)).status(), "native scan");
                   }));
    }
    return b;
  };
  // The lake side runs in a long-lived session with the hot-table cache at its defaults
  // (engine.table_cache_min_reads = 3): reads 1-2 scan the Parquet files, read 3 also makes the
  // in-memory copy, later reads scan the copy.
  auto hot_db = check(engine::Database::open_in_memory({}), "open engine");
  engine::LakeSessionOptions hot_opts;
  hot_opts.cache_bytes = 8LL << 30;
  hot_opts.cache_min_reads = 3;
  auto hot = check(engine::LakeSession::open(catalog, hot_db, hot_opts), "open session");
  auto lake_read = [&] {
    check(hot.run(fmt::format(fmt::runtime(q), "raw.narrow")).status(), "lake scan");
  };
  double cold = std::min(time_one(lake_read), time_one(lake_read));
  double loading = time_one(lake_read);
  double warm = 1e9;
  for (int r = 0; r < 3; ++r)
    warm = std::min(warm, time_one(lake_read));
  auto cache = engine::table_cache_stats();
  double native_scan = best_native("native_narrow");
  // A second anchor: DuckDB reading the very same Parquet files with read_parquet (no lake).
  auto narrow_table = check(catalog->load_table({"raw", "narrow"}), "load");
  auto files = check(narrow_table.list_files(std::nullopt), "files");
  std::string list = "[";
  for (const auto& f : files)
    list += (list.size() > 1 ? ", '" : "'") + f.file_path + "'";
  list += "]";
  double parquet_scan = best_native("read_parquet(" + list + ")");
  std::cout << fmt::format(
      "scan + aggregate over {} rows ({} files), anchor native DuckDB table {:.3f} s:\n"
      "  lake, hot table (in-memory copy) {:.3f} s  ratio {:.2f}x (goal <= 1.20x)\n"
      "  lake, cold (Parquet files)       {:.3f} s  ratio {:.2f}x; DuckDB read_parquet of the "
      "same files {:.3f} s, ratio {:.2f}x\n"
      "  the read that makes the copy     {:.3f} s; copy {:.0f} MiB in memory\n",
      rows, files.size(), native_scan, warm, warm / native_scan, cold, cold / native_scan,
      parquet_scan, cold / parquet_scan, loading, static_cast<double>(cache.bytes) / (1 << 20));
  std::filesystem::remove_all(dir);
  return 0;
}

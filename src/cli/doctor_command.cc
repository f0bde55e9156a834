// `sluice doctor`: checks that this machine can run Sluice: the configuration loads, the data
// directory is writable, and DuckDB writes and reads back a Parquet file carrying Iceberg field
// ids (the lake's file format).
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "common/log.h"
#include "engine/engine.h"

namespace sluice::cli {
namespace {

Status parquet_round_trip(const common::Config& config, const common::DataDir& dir) {
  SLUICE_ASSIGN_OR_RETURN(auto tmp, dir.subdir("tmp"));
  engine::EngineOptions opts;
  opts.threads = static_cast<int>(config.get_int("engine.threads"));
  opts.memory_limit = config.get_string("engine.memory_limit");
  opts.temp_dir = config.get_string("engine.temp_dir").empty()
                      ? tmp.string()
                      : config.get_string("engine.temp_dir");
  SLUICE_ASSIGN_OR_RETURN(auto db, engine::Database::open_in_memory(opts));
  SLUICE_ASSIGN_OR_RETURN(auto session, engine::Session::open(db));

  auto file = tmp / fmt::format("doctor-{}.parquet", ::getpid());
  const std::string codec = config.get_string("lake.compression");
  SLUICE_RETURN_IF_ERROR(session.execute(fmt::format(
      "COPY (SELECT i AS id, 'user-' || i AS name, i * 0.5 AS amount FROM range(100000) t(i)) "
      "TO '{}' (FORMAT parquet, COMPRESSION {}, FIELD_IDS {{id: 1, name: 2, amount: 3}})",
      file.string(), codec)));
  auto cleanup = [&] {
    std::error_code ec;
    std::filesystem::remove(file, ec);
  };
  auto agg = session.query(fmt::format(
      "SELECT count(*), sum(id), max(name), sum(amount) FROM read_parquet('{}')", file.string()));
  auto ids = session.query(fmt::format(
      "SELECT name, field_id FROM parquet_schema('{}') WHERE field_id IS NOT NULL ORDER BY "
      "field_id",
      file.string()));
  auto size = std::filesystem::file_size(file);
  cleanup();
  if (!agg.is_ok()) return agg.status().with_context("reading back the Parquet file");
  if (!ids.is_ok()) return ids.status().with_context("reading the Parquet schema");

  const auto& row = agg->rows.at(0);
  if (row[0] != "100000" || row[1] != "4999950000" || row[3] != "2499975000.0") {
    return internal_error(fmt::format("Parquet round trip returned count={} sum={} amount={}",
                                      row[0].value_or("NULL"), row[1].value_or("NULL"),
                                      row[3].value_or("NULL")));
  }
  std::string field_ids;
  for (const auto& r : ids->rows)
    field_ids += fmt::format(" {}={}", *r[0], *r[1]);
  if (field_ids != " id=1 name=2 amount=3") {
    return internal_error(fmt::format("Parquet field ids were not kept:{}", field_ids));
  }
  std::cout << fmt::format(
      "ok   duckdb {}: wrote {} rows to Parquet ({} bytes, {}), read back "
      "count={} sum(id)={} max(name)={}\n",
      engine::duckdb_version(), *row[0], size, codec, *row[0], *row[1], *row[2]);
  std::cout << fmt::format("ok   Iceberg field ids kept in the Parquet schema:{}\n", field_ids);
  return Status::ok();
}

}  // namespace

void add_doctor_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand(
      "doctor", "Check this machine: config, data directory, DuckDB and Parquet round trip");
  cmd->callback([&state] {
    auto config = load_config(state.global);
    if (!config.is_ok()) {
      state.exit_code = report(config.status());
      return;
    }
    std::cout << fmt::format("ok   config: {}\n", config->source_name().empty()
                                                      ? "built-in defaults"
                                                      : config->source_name());
    auto dir = open_data_dir(*config);
    if (!dir.is_ok()) {
      state.exit_code = report(dir.status());
      return;
    }
    std::cout << fmt::format("ok   data directory: {}\n", dir->root().string());
    Status st = parquet_round_trip(*config, *dir);
    if (!st.is_ok()) {
      state.exit_code = report(st);
      return;
    }
    log::info("doctor passed", {log::kv("data_dir", dir->root().string())});
  });
}

}  // namespace sluice::cli

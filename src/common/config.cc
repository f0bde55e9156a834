#include "common/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice::common {
namespace {

constexpr std::array<std::string_view, 6> kLogLevels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};
constexpr std::array<std::string_view, 2> kLogFormats = {"text", "json"};
constexpr std::array<std::string_view, 4> kCompressions = {"zstd", "snappy", "gzip",
                                                           "uncompressed"};
constexpr std::array<std::string_view, 3> kBusFsync = {"batch", "interval", "none"};
constexpr std::array<std::string_view, 2> kCdcFormats = {"json", "avro"};

// The one declaration of every setting. Keep sections in module order; keep docs to one line.
const SettingSpec kSettings[] = {
    {.key = "platform.name",
     .type = SettingType::kString,
     .default_value = "sluice",
     .doc = "Name of this platform instance, shown in logs, metrics and the console."},
    {.key = "platform.data_dir",
     .type = SettingType::kString,
     .default_value = "var",
     .doc = "Folder holding all runtime state (lake, catalog, broker logs, scheduler state). "
            "`--data-dir` overrides it.",
     .env = "SLUICE_DATA_DIR",
     .is_path = true},

    {.key = "log.level",
     .type = SettingType::kString,
     .default_value = "info",
     .doc = "Minimum level written: trace, debug, info, warn, error or off. `--log-level` "
            "overrides it.",
     .env = "SLUICE_LOG_LEVEL",
     .allowed = kLogLevels},
    {.key = "log.format",
     .type = SettingType::kString,
     .default_value = "text",
     .doc = "`text` (`time level message key=value ...`) or `json` (one object per line).",
     .allowed = kLogFormats},

    {.key = "engine.threads",
     .type = SettingType::kInt,
     .default_value = "0",
     .doc = "DuckDB worker threads; 0 uses every core.",
     .min = 0,
     .max = 1024},
    {.key = "engine.memory_limit",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "DuckDB memory limit such as `4GB`; empty keeps DuckDB's default (80% of RAM)."},
    {.key = "engine.temp_dir",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Where DuckDB spills when a query outgrows memory; empty means `<data_dir>/tmp`.",
     .is_path = true},
    {.key = "engine.table_cache_mb",
     .type = SettingType::kInt,
     .default_value = "1024",
     .doc = "Hot-table cache of long-lived sessions (`sluice sql` shell, gateway, console): a "
            "lake table read `engine.table_cache_min_reads` times at one snapshot is copied into "
            "memory and later reads of that snapshot scan the copy; a commit makes it stale. "
            "Budget in MiB for the whole process; 0 turns the cache off.",
     .min = 0},
    {.key = "engine.table_cache_min_reads",
     .type = SettingType::kInt,
     .default_value = "3",
     .doc = "Reads of a table at one snapshot that make it hot (copied into the cache).",
     .min = 1,
     .max = 1000000},

    {.key = "lake.warehouse",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Root of the lake's table files; empty means `<data_dir>/lake`.",
     .is_path = true},
    {.key = "lake.compression",
     .type = SettingType::kString,
     .default_value = "zstd",
     .doc = "Parquet codec for new data files: zstd, snappy, gzip or uncompressed.",
     .allowed = kCompressions},
    {.key = "lake.target_file_size_mb",
     .type = SettingType::kInt,
     .default_value = "256",
     .doc = "Target size of a data file written by appends and compaction, in MiB.",
     .min = 1,
     .max = 16384},

    {.key = "bus.listen",
     .type = SettingType::kString,
     .default_value = "127.0.0.1:9092",
     .doc = "HOST:PORT the embedded Kafka-wire broker (`sluice broker`) listens on; `--listen` "
            "overrides it."},
    {.key = "bus.advertised_host",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Host the broker tells clients to connect to; empty means the listen host (the "
            "machine's name when listening on 0.0.0.0)."},
    {.key = "bus.bootstrap",
     .type = SettingType::kString,
     .default_value = "127.0.0.1:9092",
     .doc = "Kafka bootstrap servers Sluice's clients use (`sluice topic ...`); point it at any "
            "Kafka or Redpanda cluster.",
     .env = "SLUICE_BUS_BOOTSTRAP"},
    {.key = "bus.auto_create_topics",
     .type = SettingType::kBool,
     .default_value = "true",
     .doc = "Create a topic when a client asks for metadata of one that does not exist."},
    {.key = "bus.default_partitions",
     .type = SettingType::kInt,
     .default_value = "1",
     .doc = "Partitions of an auto-created topic, or of one created without a count.",
     .min = 1,
     .max = 10000},
    {.key = "bus.fsync",
     .type = SettingType::kString,
     .default_value = "batch",
     .doc = "When produced data is fsynced: `batch` (before each produce response), `interval` "
            "(every fsync_interval_ms) or `none` (left to the OS).",
     .allowed = kBusFsync},
    {.key = "bus.fsync_interval_ms",
     .type = SettingType::kInt,
     .default_value = "1000",
     .doc = "Period of the background fsync when `bus.fsync = \"interval\"`.",
     .min = 1,
     .max = 3600000},
    {.key = "bus.writeback_bytes",
     .type = SettingType::kInt,
     .default_value = "1048576",
     .doc = "With `bus.fsync` = `interval` or `none`: each time a partition's log grew by this "
            "many bytes, their write to disk is started in the background (sync_file_range), so "
            "the periodic fsync or the OS's flush finds little left to write. 0: left to the OS.",
     .min = 0},
    {.key = "bus.retention_ms",
     .type = SettingType::kInt,
     .default_value = "604800000",
     .doc = "Default topic retention by age (retention.ms); -1 keeps data forever.",
     .min = -1},
    {.key = "bus.retention_bytes",
     .type = SettingType::kInt,
     .default_value = "-1",
     .doc = "Default topic retention by size per partition (retention.bytes); -1 is unlimited.",
     .min = -1},
    {.key = "bus.segment_bytes",
     .type = SettingType::kInt,
     .default_value = "134217728",
     .doc = "Size at which a partition's log rolls to a new segment file (segment.bytes).",
     .min = 1024,
     .max = 1073741824},
    {.key = "bus.cleanup_interval_ms",
     .type = SettingType::kInt,
     .default_value = "30000",
     .doc = "How often the broker applies retention and compacts `cleanup.policy=compact` "
            "topics.",
     .min = 10,
     .max = 86400000},

    {.key = "registry.listen",
     .type = SettingType::kString,
     .default_value = "127.0.0.1:8081",
     .doc = "HOST:PORT the schema registry (`sluice registry`) listens on; `--listen` overrides "
            "it."},

    {.key = "gateway.listen",
     .type = SettingType::kString,
     .default_value = "127.0.0.1:5433",
     .doc = "HOST:PORT the PostgreSQL-wire SQL gateway (`sluice gateway`) listens on; `--listen` "
            "overrides it."},
    {.key = "gateway.max_connections",
     .type = SettingType::kInt,
     .default_value = "64",
     .doc = "Client sessions served at once; one more is refused with SQLSTATE 53300.",
     .min = 1,
     .max = 10000},
    {.key = "gateway.statement_timeout_ms",
     .type = SettingType::kInt,
     .default_value = "0",
     .doc = "Default statement timeout of a session (`SET statement_timeout` overrides); 0 means "
            "none.",
     .min = 0},
    {.key = "gateway.session_threads",
     .type = SettingType::kInt,
     .default_value = "0",
     .doc = "DuckDB threads of each gateway session; 0 uses `engine.threads`.",
     .min = 0,
     .max = 1024},
    {.key = "gateway.session_memory_limit",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "DuckDB memory limit of each gateway session such as `2GB`; empty uses "
            "`engine.memory_limit`."},
    {.key = "gateway.tls_cert",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "PEM certificate (chain) for TLS; with `tls_key` set, clients may use sslmode=require.",
     .is_path = true},
    {.key = "gateway.tls_key",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "PEM private key matching `gateway.tls_cert`.",
     .is_path = true},

    {.key = "postgres.host",
     .type = SettingType::kString,
     .default_value = "127.0.0.1",
     .doc = "Host of the example PostgreSQL source (`scripts/pg.sh` starts one on loopback)."},
    {.key = "postgres.port",
     .type = SettingType::kInt,
     .default_value = "55432",
     .doc = "Port of the example PostgreSQL source.",
     .min = 1,
     .max = 65535},
    {.key = "postgres.user",
     .type = SettingType::kString,
     .default_value = "sluice",
     .doc = "Account Sluice connects as."},
    {.key = "postgres.password",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Password of `postgres.user`; prefer the environment variable.",
     .env = "SLUICE_PG_PASSWORD",
     .secret = true},
    {.key = "postgres.database",
     .type = SettingType::kString,
     .default_value = "shop",
     .doc = "Database of the example PostgreSQL source."},
    {.key = "postgres.owner_user",
     .type = SettingType::kString,
     .default_value = "shop_owner",
     .doc = "Account `sluice gen` creates and fills the example tables with."},
    {.key = "postgres.owner_password",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Password of `postgres.owner_user`; prefer the environment variable.",
     .env = "SLUICE_PG_OWNER_PASSWORD",
     .secret = true},

    {.key = "mysql.host",
     .type = SettingType::kString,
     .default_value = "127.0.0.1",
     .doc = "Host of the example MariaDB/MySQL source (`scripts/mariadb.sh` starts one)."},
    {.key = "mysql.port",
     .type = SettingType::kInt,
     .default_value = "53306",
     .doc = "Port of the example MariaDB/MySQL source.",
     .min = 1,
     .max = 65535},
    {.key = "mysql.user",
     .type = SettingType::kString,
     .default_value = "sluice",
     .doc = "Account Sluice connects as."},
    {.key = "mysql.password",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Password of `mysql.user`; prefer the environment variable.",
     .env = "SLUICE_MYSQL_PASSWORD",
     .secret = true},
    {.key = "mysql.database",
     .type = SettingType::kString,
     .default_value = "inventory",
     .doc = "Database of the example MariaDB/MySQL source."},
    {.key = "mysql.owner_user",
     .type = SettingType::kString,
     .default_value = "shop_owner",
     .doc = "Account `sluice gen` creates and fills the example tables with."},
    {.key = "mysql.owner_password",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Password of `mysql.owner_user`; prefer the environment variable.",
     .env = "SLUICE_MYSQL_OWNER_PASSWORD",
     .secret = true},

    {.key = "sources.dir",
     .type = SettingType::kString,
     .default_value = "sources",
     .doc = "Folder of source definitions (`<name>.toml`) that `sluice ingest <name>` reads.",
     .is_path = true},

    {.key = "transform.project",
     .type = SettingType::kString,
     .default_value = ".",
     .doc = "Project folder holding `jobs/batch/<zone>/*.sql` models and `quality/*.yaml` "
            "checks; `--project` overrides it.",
     .is_path = true},
    {.key = "transform.threads",
     .type = SettingType::kInt,
     .default_value = "2",
     .doc = "Models `sluice model run` runs at once (each on its own DuckDB database).",
     .min = 1,
     .max = 64},
    {.key = "transform.pii_salt",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Salt of PII hashes (`pii=col:hash`); required when a model hashes a column.",
     .env = "SLUICE_PII_SALT",
     .secret = true},

    {.key = "scheduler.dags_dir",
     .type = SettingType::kString,
     .default_value = "dags",
     .doc = "Folder of DAG definitions (`<name>.yaml`) the scheduler loads.",
     .is_path = true},
    {.key = "scheduler.max_active_tasks",
     .type = SettingType::kInt,
     .default_value = "4",
     .doc = "Task instances the scheduler runs at once across all DAGs (the default pool).",
     .min = 1,
     .max = 1024},
    {.key = "scheduler.listen",
     .type = SettingType::kString,
     .default_value = "127.0.0.1:8082",
     .doc = "HOST:PORT of the JSON API of `sluice scheduler` (under `sluice up`, the console's "
            "address serves it); `--listen` overrides it."},
    {.key = "scheduler.pools",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Pools shared across DAGs, `name=slots,...` (e.g. `postgres=2,lake_writes=1`); a "
            "task names one with `pool:`."},

    {.key = "cdc.topic_prefix",
     .type = SettingType::kString,
     .default_value = "sluice",
     .doc = "Change events go to topics `<topic_prefix>.<schema>.<table>`."},
    {.key = "cdc.commit_interval_ms",
     .type = SettingType::kInt,
     .default_value = "1000",
     .doc = "Longest time change events wait before they are committed to the lake.",
     .min = 10,
     .max = 3600000},
    {.key = "cdc.publish",
     .type = SettingType::kBool,
     .default_value = "true",
     .doc = "Publish change events to the bus (`bus.bootstrap`) as well as to the lake."},
    {.key = "cdc.format",
     .type = SettingType::kString,
     .default_value = "json",
     .doc = "Format of the change events on the bus: `json` (Debezium's envelope with its "
            "Connect schema in every message) or `avro` (Confluent wire format, schemas in the "
            "registry under `<topic>-key` / `<topic>-value`); docs/cdc.md.",
     .allowed = kCdcFormats},
    {.key = "cdc.registry_url",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Schema registry the `avro` format registers its schemas with, `http://HOST:PORT`; "
            "empty: the address `registry.listen` names."},

    {.key = "console.listen",
     .type = SettingType::kString,
     .default_value = "127.0.0.1:8080",
     .doc = "HOST:PORT the web console and its JSON API listen on; `--listen` overrides it."},
    {.key = "console.dashboards_dir",
     .type = SettingType::kString,
     .default_value = "dashboards",
     .doc = "Folder of dashboard definitions (`<name>.yaml`) the console serves.",
     .is_path = true},
    {.key = "console.web_root",
     .type = SettingType::kString,
     .default_value = "",
     .doc = "Folder of the built console front end (`web/dist`); empty: the source tree's.",
     .is_path = true},
    {.key = "console.max_parallel_queries",
     .type = SettingType::kInt,
     .default_value = "2",
     .doc = "Dashboard queries the console runs at once (others wait; results are cached).",
     .min = 1,
     .max = 64},
};

std::string_view type_name(SettingType t) {
  switch (t) {
    case SettingType::kString:
      return "a string";
    case SettingType::kInt:
      return "an integer";
    case SettingType::kBool:
      return "a boolean";
    case SettingType::kDouble:
      return "a number";
  }
  return "?";
}

std::string_view toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean 'x'?)" when a known name is within two edits of `name`.
std::string suggestion(std::string_view name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = 3;
  for (const auto& k : known) {
    size_t d = edit_distance(name, k);
    if (d < best_d) best_d = d, best = k;
  }
  return best.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", best);
}

std::vector<std::string> known_sections() {
  std::vector<std::string> out;
  for (const auto& s : kSettings) {
    std::string sec(s.key.substr(0, s.key.find('.')));
    if (std::find(out.begin(), out.end(), sec) == out.end()) out.push_back(sec);
  }
  return out;
}

std::vector<std::string> known_keys_in(std::string_view section) {
  std::vector<std::string> out;
  for (const auto& s : kSettings) {
    auto dot = s.key.find('.');
    if (s.key.substr(0, dot) == section) out.emplace_back(s.key.substr(dot + 1));
  }
  return out;
}

std::string location(std::string_view file, const toml::source_region& r) {
  return fmt::format("{}:{}:{}", file, r.begin.line, r.begin.column);
}

std::string resolve_path(const std::string& v, const std::filesystem::path& base) {
  if (v.empty()) return v;
  std::filesystem::path p(v);
  if (p.is_absolute()) return v;
  return (base / p).lexically_normal().string();
}

// Parses a setting from text (defaults, environment, flags) by its declared type.
Result<SettingValue> parse_text(const SettingSpec& spec, std::string_view text) {
  switch (spec.type) {
    case SettingType::kString:
      return SettingValue(std::string(text));
    case SettingType::kInt: {
      std::string s(text);
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno == ERANGE) {
        return invalid_argument(fmt::format("expects an integer, got '{}'", text));
      }
      return SettingValue(int64_t{v});
    }
    case SettingType::kBool:
      if (text == "true") return SettingValue(true);
      if (text == "false") return SettingValue(false);
      return invalid_argument(fmt::format("expects true or false, got '{}'", text));
    case SettingType::kDouble: {
      std::string s(text);
      char* end = nullptr;
      double v = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0') {
        return invalid_argument(fmt::format("expects a number, got '{}'", text));
      }
      return SettingValue(v);
    }
  }
  return internal_error("unknown setting type");
}

// Range and enumeration checks shared by every way a value arrives.
Status check_constraints(const SettingSpec& spec, const SettingValue& v) {
  if (spec.type == SettingType::kInt) {
    int64_t i = std::get<int64_t>(v);
    if (i < spec.min || i > spec.max) {
      return invalid_argument(
          fmt::format("must be between {} and {}, got {}", spec.min, spec.max, i));
    }
  }
  if (!spec.allowed.empty()) {
    const auto& s = std::get<std::string>(v);
    if (std::find(spec.allowed.begin(), spec.allowed.end(), s) == spec.allowed.end()) {
      return invalid_argument(
          fmt::format("must be one of {}, got '{}'", fmt::join(spec.allowed, ", "), s));
    }
  }
  return Status::ok();
}

std::string format_value(const SettingValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          // TOML basic strings share JSON's escapes.
          return nlohmann::json(x).dump();
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else {
          return fmt::format("{}", x);
        }
      },
      v);
}

}  // namespace

std::span<const SettingSpec> all_settings() {
  return kSettings;
}

const SettingSpec* find_setting(std::string_view key) {
  for (const auto& s : kSettings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

Result<Config> Config::from_defaults() {
  Config c;
  for (const auto& s : kSettings) {
    auto v = parse_text(s, s.default_value);
    if (!v.is_ok()) return internal_error(fmt::format("bad default for {}", s.key));
    c.values_[std::string(s.key)] = Entry{std::move(v).value(), "default"};
  }
  SLUICE_RETURN_IF_ERROR(c.apply_env());
  return c;
}

Status Config::apply_env() {
  for (const auto& s : kSettings) {
    if (s.env.empty()) continue;
    const char* raw = std::getenv(std::string(s.env).c_str());
    if (raw == nullptr) continue;
    auto v = parse_text(s, raw);
    if (!v.is_ok()) {
      return invalid_argument(fmt::format("environment variable {} (setting '{}') {}", s.env, s.key,
                                          s.secret ? "has the wrong type" : v.status().message()));
    }
    Status st = check_constraints(s, *v);
    if (!st.is_ok()) {
      return invalid_argument(fmt::format("environment variable {} (setting '{}') {}", s.env, s.key,
                                          s.secret ? "is out of range" : st.message()));
    }
    values_[std::string(s.key)] = Entry{std::move(v).value(), fmt::format("env {}", s.env)};
  }
  return Status::ok();
}

Result<Config> Config::parse(std::string_view text, std::string_view source_name,
                             const std::filesystem::path& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    return invalid_argument(
        fmt::format("{}: invalid TOML: {}", location(source_name, e.source()), e.description()));
  }

  Config c;
  c.source_name_ = std::string(source_name);
  for (const auto& s : kSettings) {
    c.values_[std::string(s.key)] =
        Entry{std::move(parse_text(s, s.default_value)).value(), "default"};
  }

  const auto sections = known_sections();
  for (auto&& [sec_key, sec_node] : root) {
    std::string sec(sec_key.str());
    if (!sec_node.is_table()) {
      return invalid_argument(
          fmt::format("{}: key '{}' is outside any section; settings belong in a section such as "
                      "[platform]",
                      location(source_name, sec_key.source()), sec));
    }
    if (std::find(sections.begin(), sections.end(), sec) == sections.end()) {
      return invalid_argument(fmt::format("{}: unknown section [{}]{}; known sections: {}",
                                          location(source_name, sec_key.source()), sec,
                                          suggestion(sec, sections), fmt::join(sections, ", ")));
    }
    const auto keys = known_keys_in(sec);
    for (auto&& [k, node] : *sec_node.as_table()) {
      std::string name(k.str());
      std::string full = sec + "." + name;
      const SettingSpec* spec = find_setting(full);
      if (spec == nullptr) {
        return invalid_argument(fmt::format("{}: unknown key '{}'{}; known keys in [{}]: {}",
                                            location(source_name, k.source()), full,
                                            suggestion(name, keys), sec, fmt::join(keys, ", ")));
      }
      std::string where = location(source_name, node.source());
      SettingValue v;
      switch (spec->type) {
        case SettingType::kString:
          if (auto* p = node.as_string()) v = p->get();
          break;
        case SettingType::kInt:
          if (auto* p = node.as_integer()) v = p->get();
          break;
        case SettingType::kBool:
          if (auto* p = node.as_boolean()) v = p->get();
          break;
        case SettingType::kDouble:
          if (auto* p = node.as_floating_point())
            v = p->get();
          else if (auto* q = node.as_integer())
            v = static_cast<double>(q->get());
          break;
      }
      bool matched = (spec->type == SettingType::kString && node.is_string()) ||
                     (spec->type == SettingType::kInt && node.is_integer()) ||
                     (spec->type == SettingType::kBool && node.is_boolean()) ||
                     (spec->type == SettingType::kDouble && (node.is_number()));
      if (!matched) {
        return invalid_argument(fmt::format("{}: key '{}' expects {}, got {}", where, full,
                                            type_name(spec->type), toml_type_name(node)));
      }
      Status st = check_constraints(*spec, v);
      if (!st.is_ok()) {
        return invalid_argument(fmt::format("{}: key '{}' {}", where, full, st.message()));
      }
      if (spec->is_path) v = resolve_path(std::get<std::string>(v), base_dir);
      c.values_[full] =
          Entry{std::move(v), fmt::format("{}:{}", source_name, node.source().begin.line)};
    }
  }
  SLUICE_RETURN_IF_ERROR(c.apply_env());
  return c;
}

Result<Config> Config::load_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return not_found(
        fmt::format("cannot read config file '{}': {}", file.string(), std::strerror(errno)));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  auto base = file.parent_path();
  if (base.empty()) base = ".";
  return parse(buf.str(), file.string(), base);
}

Result<Config> Config::discover(const std::filesystem::path& explicit_file) {
  if (!explicit_file.empty()) return load_file(explicit_file);
  std::error_code ec;
  if (std::filesystem::exists("sluice.toml", ec)) return load_file("sluice.toml");
  return from_defaults();
}

const Config::Entry& Config::entry(std::string_view key, SettingType type) const {
  auto it = values_.find(key);
  const SettingSpec* spec = find_setting(key);
  // Asking for an undeclared key or the wrong type is a programmer error.
  if (it == values_.end() || spec == nullptr || spec->type != type) {
    throw std::logic_error(fmt::format("config: no {} setting '{}'", type_name(type), key));
  }
  return it->second;
}

std::string Config::get_string(std::string_view key) const {
  return std::get<std::string>(entry(key, SettingType::kString).value);
}
int64_t Config::get_int(std::string_view key) const {
  return std::get<int64_t>(entry(key, SettingType::kInt).value);
}
bool Config::get_bool(std::string_view key) const {
  return std::get<bool>(entry(key, SettingType::kBool).value);
}
double Config::get_double(std::string_view key) const {
  return std::get<double>(entry(key, SettingType::kDouble).value);
}
Secret Config::get_secret(std::string_view key) const {
  return Secret(get_string(key));
}

std::string Config::origin(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second.origin;
}

Status Config::set_from_flag(std::string_view key, std::string_view value) {
  const SettingSpec* spec = find_setting(key);
  if (spec == nullptr) return internal_error(fmt::format("no setting '{}'", key));
  auto v = parse_text(*spec, value);
  if (!v.is_ok()) return v.status().with_context(fmt::format("setting '{}'", key));
  SLUICE_RETURN_IF_ERROR(
      check_constraints(*spec, *v).with_context(fmt::format("setting '{}'", key)));
  values_[std::string(key)] = Entry{std::move(v).value(), "command line"};
  return Status::ok();
}

std::string Config::render() const {
  std::string out;
  std::string_view current;
  for (const auto& s : kSettings) {
    auto dot = s.key.find('.');
    auto sec = s.key.substr(0, dot);
    if (sec != current) {
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", sec);
      current = sec;
    }
    const auto& e = values_.at(std::string(s.key));
    bool redact = s.secret && !std::get<std::string>(e.value).empty();
    out += fmt::format("{} = {}  # {}\n", s.key.substr(dot + 1),
                       redact ? "\"********\"" : format_value(e.value), e.origin);
  }
  return out;
}

std::string settings_reference_markdown() {
  std::string out =
      "# Configuration reference\n\n"
      "Generated by `sluice config docs`; do not edit by hand. Every setting is optional: "
      "with no `sluice.toml` at all, the defaults below apply. Relative paths in a file "
      "resolve against the file's folder. Unknown sections or keys, wrong types and "
      "out-of-range values are errors naming the file, line and key.\n";
  std::string_view current;
  for (const auto& s : kSettings) {
    auto dot = s.key.find('.');
    auto sec = s.key.substr(0, dot);
    if (sec != current) {
      out += fmt::format(
          "\n## [{}]\n\n| key | type | default | environment | meaning |\n"
          "|---|---|---|---|---|\n",
          sec);
      current = sec;
    }
    std::string def = s.default_value.empty() ? "(empty)" : fmt::format("`{}`", s.default_value);
    std::string env = s.env.empty() ? "" : fmt::format("`{}`", s.env);
    std::string tname(type_name(s.type));
    out += fmt::format("| `{}` | {} | {} | {} | {}{} |\n", s.key.substr(dot + 1),
                       tname.substr(tname.find(' ') + 1), def, env, s.doc,
                       s.secret ? " Secret: never logged or printed." : "");
  }
  return out;
}

}  // namespace sluice::common

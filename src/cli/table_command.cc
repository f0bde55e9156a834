// `sluice table ...`: inspect and maintain lake tables.
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "cli/cli.h"
#include "cli/output.h"

namespace sluice::cli {
namespace {

std::string iso_time(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string value_text(const lake::Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, lake::Null>) {
          return "null";
        } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
          std::string hex;
          for (uint8_t b : x)
            hex += fmt::format("{:02x}", b);
          return "0x" + hex;
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else {
          return fmt::format("{}", x);
        }
      },
      v);
}

std::string summary(const std::map<std::string, std::string>& s, const char* key) {
  auto it = s.find(key);
  return it == s.end() ? "" : it->second;
}

Result<lake::Table> load(LakeContext& lake, const std::string& name) {
  SLUICE_ASSIGN_OR_RETURN(auto id, lake::TableIdent::parse(name));
  return lake.catalog->load_table(id);
}

// A timestamp or a duration ago: "7d" or "2026-11-21 10:00:00".
Result<int64_t> parse_cutoff(LakeContext& lake, const std::string& text) {
  auto d = parse_duration_ms(text);
  if (d.is_ok()) return now_ms() - *d;
  auto r =
      lake.session.session().query(fmt::format("SELECT epoch_ms(CAST('{}' AS TIMESTAMPTZ))",
                                               text.find('\'') == std::string::npos ? text : ""));
  if (!r.is_ok()) {
    return invalid_argument(fmt::format(
        "'{}' is neither a duration (7d, 12h) nor a timestamp (2026-11-21 10:00:00)", text));
  }
  return std::stoll(r->rows.at(0).at(0).value_or("0"));
}

}  // namespace

void add_table_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("table", "Inspect and maintain lake tables (Iceberg v2)");
  cmd->require_subcommand(1);
  auto format_name = std::make_shared<std::string>("table");
  cmd->add_option("--format", *format_name, "table, csv or json")->capture_default_str();
  auto fmt_of = [format_name]() { return parse_output_format(*format_name); };
  auto print = [fmt_of](const engine::QueryResult& r) -> Status {
    SLUICE_ASSIGN_OR_RETURN(auto f, fmt_of());
    print_result(std::cout, r, f);
    return Status::ok();
  };

  // list [namespace]
  auto ns = std::make_shared<std::string>();
  auto* list = cmd->add_subcommand("list", "List tables with their size and last change");
  list->add_option("namespace", *ns, "Only this namespace");
  list->callback([&state, ns, print] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      std::vector<std::string> namespaces;
      if (ns->empty()) {
        SLUICE_ASSIGN_OR_RETURN(namespaces, lake.catalog->list_namespaces());
      } else {
        namespaces.push_back(*ns);
      }
      std::vector<std::vector<std::optional<std::string>>> rows;
      for (const auto& n : namespaces) {
        SLUICE_ASSIGN_OR_RETURN(auto tables, lake.catalog->list_tables(n));
        for (const auto& id : tables) {
          SLUICE_ASSIGN_OR_RETURN(auto t, lake.catalog->load_table(id));
          const auto* snap = t.metadata().current_snapshot();
          rows.push_back({id.to_string(), snap ? summary(snap->summary, "total-records") : "0",
                          snap ? summary(snap->summary, "total-data-files") : "0",
                          std::to_string(t.metadata().snapshots.size()),
                          iso_time(t.metadata().last_updated_ms)});
        }
      }
      return print(make_result({"table", "records", "data_files", "snapshots", "last_updated"},
                               std::move(rows)));
    });
  });

  auto name = std::make_shared<std::string>();
  auto* describe = cmd->add_subcommand("describe", "Schema, partitioning, properties, location");
  describe->add_option("table", *name, "zone.table")->required();
  describe->callback([&state, name, print] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto t, load(lake, *name));
      const auto& md = t.metadata();
      const auto& schema = md.current_schema();
      std::vector<std::vector<std::optional<std::string>>> rows;
      for (const auto& f : schema.fields) {
        rows.push_back({std::to_string(f.id), f.name, f.type->to_string(),
                        f.required ? "NOT NULL" : "", f.doc});
      }
      SLUICE_RETURN_IF_ERROR(
          print(make_result({"field_id", "column", "type", "null", "doc"}, std::move(rows))));
      std::cout << fmt::format("\ntable      {}\nlocation   {}\nformat     iceberg v{}\n",
                               t.ident().to_string(), md.location, md.format_version);
      std::string spec;
      for (const auto& pf : md.default_spec().fields) {
        const auto* src = schema.find_field(pf.source_id);
        spec += fmt::format("{}{}({})", spec.empty() ? "" : ", ", pf.transform,
                            src ? src->name : std::to_string(pf.source_id));
      }
      std::cout << fmt::format("partition  {}\n", spec.empty() ? "(unpartitioned)" : spec);
      std::cout << fmt::format(
          "snapshot   {}\nmetadata   {}\n",
          md.current_snapshot_id ? std::to_string(*md.current_snapshot_id) : "(none)",
          t.metadata_location());
      for (const auto& [k, v] : md.properties)
        std::cout << fmt::format("property   {}={}\n", k, v);
      return Status::ok();
    });
  });

  auto* history = cmd->add_subcommand("history", "When each snapshot became current");
  history->add_option("table", *name, "zone.table")->required();
  history->callback([&state, name, print] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto t, load(lake, *name));
      const auto& md = t.metadata();
      // Ancestors of the current snapshot are marked: a rollback leaves others in the log.
      std::set<int64_t> ancestors;
      for (const auto* s = md.current_snapshot(); s != nullptr;
           s = s->parent_snapshot_id ? md.snapshot_by_id(*s->parent_snapshot_id) : nullptr) {
        ancestors.insert(s->snapshot_id);
      }
      std::vector<std::vector<std::optional<std::string>>> rows;
      for (const auto& e : md.snapshot_log) {
        const auto* s = md.snapshot_by_id(e.snapshot_id);
        rows.push_back({iso_time(e.timestamp_ms), std::to_string(e.snapshot_id),
                        s && s->parent_snapshot_id ? std::to_string(*s->parent_snapshot_id) : "",
                        s ? summary(s->summary, "operation") : "(expired)",
                        ancestors.count(e.snapshot_id) ? "true" : "false"});
      }
      return print(make_result(
          {"made_current_at", "snapshot_id", "parent_id", "operation", "is_current_ancestor"},
          std::move(rows)));
    });
  });

  auto* snapshots = cmd->add_subcommand("snapshots", "Every snapshot with its summary");
  snapshots->add_option("table", *name, "zone.table")->required();
  snapshots->callback([&state, name, print] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto t, load(lake, *name));
      std::vector<std::vector<std::optional<std::string>>> rows;
      for (const auto& s : t.metadata().snapshots) {
        rows.push_back({std::to_string(s.snapshot_id), std::to_string(s.sequence_number),
                        iso_time(s.timestamp_ms), summary(s.summary, "operation"),
                        summary(s.summary, "added-records"), summary(s.summary, "deleted-records"),
                        summary(s.summary, "total-records"),
                        summary(s.summary, "total-data-files")});
      }
      return print(
          make_result({"snapshot_id", "sequence", "committed_at", "operation", "added_records",
                       "deleted_records", "total_records", "total_data_files"},
                      std::move(rows)));
    });
  });

  auto snapshot = std::make_shared<int64_t>(-1);
  auto* files = cmd->add_subcommand("files", "Live data and delete files of a snapshot");
  files->add_option("table", *name, "zone.table")->required();
  files->add_option("--snapshot", *snapshot, "Snapshot id (default: current)");
  files->callback([&state, name, snapshot, print] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto t, load(lake, *name));
      std::optional<int64_t> snap;
      if (*snapshot >= 0) snap = *snapshot;
      SLUICE_ASSIGN_OR_RETURN(auto list, t.list_files(snap));
      std::vector<std::vector<std::optional<std::string>>> rows;
      static const char* kContent[] = {"data", "position_deletes", "equality_deletes"};
      for (const auto& f : list) {
        std::string part;
        for (const auto& v : f.partition)
          part += (part.empty() ? "" : ", ") + value_text(v);
        rows.push_back({kContent[static_cast<int>(f.content)], f.file_path, "{" + part + "}",
                        std::to_string(f.record_count), std::to_string(f.file_size_in_bytes)});
      }
      return print(
          make_result({"content", "path", "partition", "records", "bytes"}, std::move(rows)));
    });
  });

  auto small_mb = std::make_shared<int64_t>(0);
  auto* compact = cmd->add_subcommand("compact", "Rewrite small files into target-size files");
  compact->add_option("table", *name, "zone.table")->required();
  compact->add_option("--small-file-mb", *small_mb,
                      "Files under this size are rewritten (default: lake.target_file_size_mb/2)");
  compact->callback([&state, name, small_mb] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto id, lake::TableIdent::parse(*name));
      int64_t limit = *small_mb > 0 ? (*small_mb << 20)
                                    : (lake.config.get_int("lake.target_file_size_mb") << 19);
      SLUICE_ASSIGN_OR_RETURN(auto r, lake.session.compact(id, limit));
      if (!r.snapshot_id) {
        std::cout << fmt::format("{}: nothing to compact\n", id.to_string());
      } else {
        std::cout << fmt::format("{}: rewrote {} files into {} (snapshot {})\n", id.to_string(),
                                 r.files_removed, r.files_added, *r.snapshot_id);
      }
      return Status::ok();
    });
  });

  auto older = std::make_shared<std::string>("5d");
  auto retain = std::make_shared<int>(1);
  auto* expire = cmd->add_subcommand("expire", "Expire old snapshots and delete their files");
  expire->add_option("table", *name, "zone.table")->required();
  expire->add_option("--older-than", *older, "Duration (7d, 12h) or timestamp")
      ->capture_default_str();
  expire->add_option("--retain-last", *retain, "Snapshots always kept")->capture_default_str();
  expire->callback([&state, name, older, retain] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto t, load(lake, *name));
      SLUICE_ASSIGN_OR_RETURN(auto cutoff, parse_cutoff(lake, *older));
      SLUICE_ASSIGN_OR_RETURN(auto r, t.expire_snapshots(cutoff, *retain));
      std::cout << fmt::format("{}: expired {} snapshots, deleted {} files\n",
                               t.ident().to_string(), r.snapshots_expired, r.files_deleted);
      return Status::ok();
    });
  });

  auto orphan_age = std::make_shared<std::string>("3d");
  auto dry_run = std::make_shared<bool>(false);
  auto* orphans =
      cmd->add_subcommand("remove-orphans", "Delete files under the table no snapshot references");
  orphans->add_option("table", *name, "zone.table")->required();
  orphans
      ->add_option("--older-than", *orphan_age,
                   "Only files older than this (protects in-flight writes)")
      ->capture_default_str();
  orphans->add_flag("--dry-run", *dry_run, "List, do not delete");
  orphans->callback([&state, name, orphan_age, dry_run] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto t, load(lake, *name));
      SLUICE_ASSIGN_OR_RETURN(auto cutoff, parse_cutoff(lake, *orphan_age));
      SLUICE_ASSIGN_OR_RETURN(auto removed, t.remove_orphan_files(cutoff, *dry_run));
      for (const auto& p : removed)
        std::cout << p << "\n";
      std::cout << fmt::format("{}: {} {} orphan file(s)\n", t.ident().to_string(),
                               *dry_run ? "found" : "removed", removed.size());
      return Status::ok();
    });
  });

  auto target = std::make_shared<int64_t>(0);
  auto* rollback = cmd->add_subcommand("rollback", "Make an earlier snapshot current again");
  rollback->add_option("table", *name, "zone.table")->required();
  rollback->add_option("snapshot_id", *target, "Snapshot to roll back to")->required();
  rollback->callback([&state, name, target] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto t, load(lake, *name));
      SLUICE_RETURN_IF_ERROR(t.rollback_to(*target));
      std::cout << fmt::format("{}: current snapshot is now {}\n", t.ident().to_string(), *target);
      return Status::ok();
    });
  });

  auto metadata = std::make_shared<std::string>();
  auto* reg = cmd->add_subcommand(
      "register", "Adopt a table another engine wrote, from its metadata JSON file");
  reg->add_option("table", *name, "zone.table to register it as")->required();
  reg->add_option("metadata", *metadata, "Path to its vN.metadata.json")->required();
  reg->callback([&state, name, metadata] {
    with_lake(state, [&](LakeContext& lake) -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto id, lake::TableIdent::parse(*name));
      SLUICE_ASSIGN_OR_RETURN(auto t, lake.catalog->register_table(id, *metadata));
      std::cout << fmt::format("registered {} (format v{}, {} snapshots)\n", id.to_string(),
                               t.metadata().format_version, t.metadata().snapshots.size());
      return Status::ok();
    });
  });
}

}  // namespace sluice::cli

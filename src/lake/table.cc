// Table operations and the optimistic commit loop (Iceberg spec: Optimistic Concurrency,
// Snapshots, Sequence Number Inheritance, Schema Evolution, Partition Evolution).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <future>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "lake/lake_internal.h"

namespace sluice::lake {

namespace fs = std::filesystem;

namespace detail {
Result<PartitionSpec> build_spec(const std::vector<std::pair<std::string, std::string>>& fields,
                                 const Schema& schema, TableMetadata* md, int spec_id,
                                 const std::string& table);
}  // namespace detail

namespace {

constexpr int kReservedIdFloor = 2147483000;  // metadata/delete columns (_file, pos, ...)

int64_t prop_int(const TableMetadata& md, const std::string& key, int64_t dflt, int64_t lo,
                 int64_t hi) {
  auto it = md.properties.find(key);
  if (it == md.properties.end()) return dflt;
  try {
    return std::clamp<int64_t>(std::stoll(it->second), lo, hi);
  } catch (const std::exception&) {
    return dflt;
  }
}

int metadata_version(const std::string& location) {
  std::string name = fs::path(location).filename().string();
  size_t i = (!name.empty() && name[0] == 'v') ? 1 : 0;
  int v = 0;
  bool any = false;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
    v = v * 10 + (name[i] - '0');
    any = true;
    if (v > 100000000) break;
  }
  return any ? v : 0;
}

std::string metadata_dir(const TableMetadata& md) {
  return (fs::path(detail::local_path(md.location)) / "metadata").string();
}

// The current schema plus any column an old spec partitions by that the current schema dropped.
Schema schema_for_spec(const TableMetadata& md, const PartitionSpec& spec) {
  Schema s = md.current_schema();
  for (const auto& pf : spec.fields) {
    if (s.find_field(pf.source_id)) continue;
    for (auto it = md.schemas.rbegin(); it != md.schemas.rend(); ++it) {
      if (const auto* f = it->find_field(pf.source_id)) {
        s.fields.push_back(*f);
        break;
      }
    }
  }
  return s;
}

bool field_in_any_schema(const TableMetadata& md, int id) {
  for (const auto& s : md.schemas) {
    if (s.find_field(id)) return true;
  }
  return false;
}

// Makes a commit's new files durable (see sync_new_files) while the commit writes its manifests;
// the caller waits for it before publishing. (A future from std::async also waits when it is
// dropped on an early return, so nothing outlives the call.)
std::future<Status> sync_added_async(const std::vector<DataFile>& files,
                                     const std::string& location) {
  std::vector<std::string> paths;
  paths.reserve(files.size());
  for (const auto& f : files)
    paths.push_back(f.file_path);
  return std::async(std::launch::async, [paths = std::move(paths), location] {
    return detail::sync_new_files(paths, location);
  });
}

// Checks caller-supplied files and returns them normalized (upper-case format, coerced
// partition values). `want` is the allowed content: data only, or deletes only.
Result<std::vector<DataFile>> validate_files(const TableMetadata& md,
                                             const std::vector<DataFile>& files,
                                             const std::string& table, bool deletes) {
  std::vector<DataFile> out;
  std::unordered_set<std::string> seen;
  for (const auto& in : files) {
    DataFile f = in;
    std::string where = "table " + table + ": file '" + f.file_path + "'";
    if (f.file_path.empty()) return invalid_argument("table " + table + ": a file has no path");
    if (!seen.insert(f.file_path).second) return invalid_argument(where + " is given twice");
    bool is_delete = f.content != FileContent::kData;
    if (is_delete != deletes) {
      return invalid_argument(where + ": field 'content' is " +
                              std::to_string(static_cast<int>(f.content)) +
                              (deletes ? "; add_deletes takes position (1) or equality (2) delete "
                                         "files"
                                       : "; use add_deletes for delete files"));
    }
    std::transform(f.file_format.begin(), f.file_format.end(), f.file_format.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (f.file_format != "PARQUET" && f.file_format != "AVRO" && f.file_format != "ORC") {
      return invalid_argument(where + ": field 'file_format' must be PARQUET, AVRO or ORC, not '" +
                              in.file_format + "'");
    }
    if (f.record_count < 0) return invalid_argument(where + ": field 'record_count' is negative");
    if (f.file_size_in_bytes < 0) {
      return invalid_argument(where + ": field 'file_size_in_bytes' is negative");
    }
    const PartitionSpec* spec = md.spec_by_id(f.spec_id);
    if (!spec) {
      return invalid_argument(where + ": field 'spec_id' names partition spec " +
                              std::to_string(f.spec_id) + ", which the table does not have");
    }
    if (f.partition.size() != spec->fields.size()) {
      return invalid_argument(where + ": field 'partition' has " +
                              std::to_string(f.partition.size()) + " values; spec " +
                              std::to_string(spec->spec_id) + " has " +
                              std::to_string(spec->fields.size()) + " fields");
    }
    Schema src = schema_for_spec(md, *spec);
    for (size_t i = 0; i < spec->fields.size(); ++i) {
      const auto& pf = spec->fields[i];
      const NestedField* col = src.find_field(pf.source_id);
      if (!col) return corruption(where + ": partition source column is missing");
      SLUICE_ASSIGN_OR_RETURN(TypePtr rt, transform_result_type(pf.transform, *col->type));
      SLUICE_ASSIGN_OR_RETURN(
          f.partition[i],
          detail::coerce_value(*rt, f.partition[i], where + ": partition field '" + pf.name + "'"));
    }
    auto check_ids = [&](const auto& m, const char* field) -> Status {
      for (const auto& kv : m) {
        if (kv.first < kReservedIdFloor && !field_in_any_schema(md, kv.first)) {
          return invalid_argument(where + ": field '" + field + "' names column id " +
                                  std::to_string(kv.first) + ", which the table does not have");
        }
      }
      return Status::ok();
    };
    SLUICE_RETURN_IF_ERROR(check_ids(f.column_sizes, "column_sizes"));
    SLUICE_RETURN_IF_ERROR(check_ids(f.value_counts, "value_counts"));
    SLUICE_RETURN_IF_ERROR(check_ids(f.null_value_counts, "null_value_counts"));
    SLUICE_RETURN_IF_ERROR(check_ids(f.nan_value_counts, "nan_value_counts"));
    SLUICE_RETURN_IF_ERROR(check_ids(f.lower_bounds, "lower_bounds"));
    SLUICE_RETURN_IF_ERROR(check_ids(f.upper_bounds, "upper_bounds"));
    if (f.content == FileContent::kEqualityDeletes) {
      if (f.equality_ids.empty()) {
        return invalid_argument(where + ": an equality delete file needs 'equality_ids'");
      }
      for (int id : f.equality_ids) {
        if (!md.current_schema().find_field(id)) {
          return invalid_argument(where + ": field 'equality_ids' names column id " +
                                  std::to_string(id) + ", which the table does not have");
        }
      }
    } else if (!f.equality_ids.empty()) {
      return invalid_argument(where + ": 'equality_ids' is only for equality delete files");
    }
    f.data_sequence_number = 0;
    f.file_sequence_number = 0;
    out.push_back(std::move(f));
  }
  return out;
}

// Writes the manifests for newly added files, one per (spec, content kind). Their entries have
// null sequence numbers, inherited from the manifest list at commit (so a retried commit can
// reuse them). The caller fills sequence_number and min_sequence_number.
Result<std::vector<detail::ManifestFile>> write_added_manifests(const TableMetadata& md,
                                                                int64_t snapshot_id,
                                                                const std::vector<DataFile>& files,
                                                                const std::string& commit_uuid,
                                                                int* manifest_counter) {
  std::map<std::pair<int, int>, std::vector<detail::ManifestEntry>> groups;
  for (const auto& f : files) {
    detail::ManifestEntry e;
    e.status = detail::EntryStatus::kAdded;
    e.snapshot_id = snapshot_id;
    e.file = f;
    groups[{f.spec_id, f.content == FileContent::kData ? 0 : 1}].push_back(std::move(e));
  }
  std::vector<detail::ManifestFile> out;
  for (const auto& [key, entries] : groups) {
    const PartitionSpec& spec = *md.spec_by_id(key.first);
    std::string path = metadata_dir(md) + "/" + commit_uuid + "-m" +
                       std::to_string((*manifest_counter)++) + ".avro";
    SLUICE_ASSIGN_OR_RETURN(auto mf, detail::write_manifest(path, schema_for_spec(md, spec), spec,
                                                            key.second, snapshot_id, entries));
    out.push_back(std::move(mf));
  }
  return out;
}

struct Totals {
  int64_t records = 0, files_size = 0, data_files = 0, delete_files = 0, position_deletes = 0,
          equality_deletes = 0;
};

void add_to_totals(Totals* t, const DataFile& f, int sign) {
  t->files_size += sign * f.file_size_in_bytes;
  switch (f.content) {
    case FileContent::kData:
      t->records += sign * f.record_count;
      t->data_files += sign;
      break;
    case FileContent::kPositionDeletes:
      t->delete_files += sign;
      t->position_deletes += sign * f.record_count;
      break;
    case FileContent::kEqualityDeletes:
      t->delete_files += sign;
      t->equality_deletes += sign * f.record_count;
      break;
  }
}

// Snapshot summary as Iceberg writes it (SnapshotSummary): added-*/deleted-*/removed-* when
// non-zero, total-* always.
Result<std::map<std::string, std::string>> make_summary(
    const std::string& operation, const TableMetadata& base, const std::vector<DataFile>& added,
    const std::vector<DataFile>& removed, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> s = extra;
  s["operation"] = operation;
  Totals add, rem;
  int64_t add_pos_files = 0, add_eq_files = 0, rem_pos_files = 0, rem_eq_files = 0;
  std::set<std::string> partitions;
  for (const auto& f : added) {
    add_to_totals(&add, f, 1);
    add_pos_files += f.content == FileContent::kPositionDeletes;
    add_eq_files += f.content == FileContent::kEqualityDeletes;
    partitions.insert(detail::partition_key(f.spec_id, f.partition));
  }
  for (const auto& f : removed) {
    add_to_totals(&rem, f, 1);
    rem_pos_files += f.content == FileContent::kPositionDeletes;
    rem_eq_files += f.content == FileContent::kEqualityDeletes;
    partitions.insert(detail::partition_key(f.spec_id, f.partition));
  }
  auto put = [&](const char* k, int64_t v) {
    if (v != 0) s[k] = std::to_string(v);
  };
  put("added-data-files", add.data_files);
  put("deleted-data-files", rem.data_files);
  put("added-delete-files", add.delete_files);
  put("added-position-delete-files", add_pos_files);
  put("added-equality-delete-files", add_eq_files);
  put("removed-delete-files", rem.delete_files);
  put("removed-position-delete-files", rem_pos_files);
  put("removed-equality-delete-files", rem_eq_files);
  put("added-records", add.records);
  put("deleted-records", rem.records);
  put("added-files-size", add.files_size);
  put("removed-files-size", rem.files_size);
  put("added-position-deletes", add.position_deletes);
  put("removed-position-deletes", rem.position_deletes);
  put("added-equality-deletes", add.equality_deletes);
  put("removed-equality-deletes", rem.equality_deletes);
  s["changed-partition-count"] = std::to_string(partitions.size());

  Totals total;
  const Snapshot* prev = base.current_snapshot();
  static const char* kTotalKeys[] = {"total-records",          "total-files-size",
                                     "total-data-files",       "total-delete-files",
                                     "total-position-deletes", "total-equality-deletes"};
  bool have_prev_totals = prev != nullptr;
  if (prev) {
    for (const char* k : kTotalKeys)
      have_prev_totals = have_prev_totals && prev->summary.count(k);
  }
  if (have_prev_totals) {
    try {
      total.records = std::stoll(prev->summary.at("total-records"));
      total.files_size = std::stoll(prev->summary.at("total-files-size"));
      total.data_files = std::stoll(prev->summary.at("total-data-files"));
      total.delete_files = std::stoll(prev->summary.at("total-delete-files"));
      total.position_deletes = std::stoll(prev->summary.at("total-position-deletes"));
      total.equality_deletes = std::stoll(prev->summary.at("total-equality-deletes"));
    } catch (const std::exception&) {
      have_prev_totals = false;
      total = Totals{};
    }
  }
  if (prev && !have_prev_totals) {
    // The previous writer left no totals: count the live files.
    SLUICE_ASSIGN_OR_RETURN(auto live, detail::live_files(base, *prev));
    for (const auto& lf : live)
      add_to_totals(&total, lf.file, 1);
  }
  for (const auto& f : added)
    add_to_totals(&total, f, 1);
  for (const auto& f : removed)
    add_to_totals(&total, f, -1);
  s["total-records"] = std::to_string(total.records);
  s["total-files-size"] = std::to_string(total.files_size);
  s["total-data-files"] = std::to_string(total.data_files);
  s["total-delete-files"] = std::to_string(total.delete_files);
  s["total-position-deletes"] = std::to_string(total.position_deletes);
  s["total-equality-deletes"] = std::to_string(total.equality_deletes);
  return s;
}

// Adds a new snapshot with `manifests` (new ones first) to a copy of `base`.
Result<TableMetadata> add_snapshot(const TableMetadata& base, int64_t snapshot_id,
                                   std::vector<detail::ManifestFile> new_manifests,
                                   std::vector<detail::ManifestFile> kept,
                                   std::map<std::string, std::string> summary,
                                   const std::string& commit_uuid, int attempt,
                                   std::vector<std::string>* attempt_files) {
  TableMetadata md = base;
  int64_t seq = base.last_sequence_number + 1;
  for (auto& m : new_manifests) {
    m.sequence_number = seq;
    m.min_sequence_number = std::min(m.min_sequence_number, seq);
  }
  new_manifests.insert(new_manifests.end(), kept.begin(), kept.end());
  std::string list = metadata_dir(base) + "/snap-" + std::to_string(snapshot_id) + "-" +
                     std::to_string(attempt + 1) + "-" + commit_uuid + ".avro";
  SLUICE_RETURN_IF_ERROR(
      detail::write_manifest_list(list, snapshot_id, base.current_snapshot_id, seq, new_manifests));
  attempt_files->push_back(list);
  Snapshot s;
  s.snapshot_id = snapshot_id;
  s.parent_snapshot_id = base.current_snapshot_id;
  s.sequence_number = seq;
  s.timestamp_ms =
      std::max(detail::now_ms(),
               base.snapshot_log.empty() ? int64_t{0} : base.snapshot_log.back().timestamp_ms);
  s.manifest_list = list;
  s.summary = std::move(summary);
  s.schema_id = base.current_schema_id;
  md.snapshots.push_back(s);
  md.current_snapshot_id = snapshot_id;
  md.last_sequence_number = seq;
  md.refs["main"] = SnapshotRef{snapshot_id, "branch"};
  md.snapshot_log.push_back({s.timestamp_ms, snapshot_id});
  return md;
}

// Snapshots committed after `start_id` on the lineage of `base`'s current snapshot, newest
// first. kConflict if `start_id` is no longer an ancestor (e.g. a concurrent rollback).
Result<std::vector<const Snapshot*>> snapshots_since(const TableMetadata& base,
                                                     std::optional<int64_t> start_id,
                                                     const std::string& table) {
  std::vector<const Snapshot*> out;
  const Snapshot* s = base.current_snapshot();
  while (s && (!start_id || s->snapshot_id != *start_id)) {
    out.push_back(s);
    s = s->parent_snapshot_id ? base.snapshot_by_id(*s->parent_snapshot_id) : nullptr;
  }
  if (start_id && !s) {
    return conflict("table " + table + ": snapshot " + std::to_string(*start_id) +
                    " this change started from is no longer in the table's history (rolled back "
                    "or expired concurrently); reload and retry");
  }
  return out;
}

// Files a snapshot added or deleted itself (entries it wrote), with inherited numbers.
struct SnapshotChanges {
  std::vector<DataFile> added;
  std::vector<DataFile> deleted;
};
Result<SnapshotChanges> snapshot_changes(const TableMetadata& md, const Snapshot& snap) {
  SnapshotChanges out;
  SLUICE_ASSIGN_OR_RETURN(auto list, detail::cached_manifest_list(snap.manifest_list));
  for (const auto& mf : list->manifests) {
    if (mf.added_snapshot_id != snap.snapshot_id) continue;
    SLUICE_ASSIGN_OR_RETURN(auto m,
                            detail::cached_manifest(mf.manifest_path, md, mf.partition_spec_id));
    for (const auto& e : m->entries) {
      if (e.snapshot_id.value_or(mf.added_snapshot_id) != snap.snapshot_id) continue;
      if (e.status == detail::EntryStatus::kAdded) out.added.push_back(detail::inherit(e, mf));
      if (e.status == detail::EntryStatus::kDeleted) out.deleted.push_back(detail::inherit(e, mf));
    }
  }
  return out;
}

bool delete_may_apply(const DataFile& del, const DataFile& data, const TableMetadata& md) {
  if (del.content == FileContent::kPositionDeletes) {
    if (del.referenced_data_file) return *del.referenced_data_file == data.file_path;
    return del.spec_id == data.spec_id && detail::partition_key(del.spec_id, del.partition) ==
                                              detail::partition_key(data.spec_id, data.partition);
  }
  const PartitionSpec* spec = md.spec_by_id(del.spec_id);
  if (spec && spec->is_unpartitioned()) return true;
  return del.spec_id == data.spec_id && detail::partition_key(del.spec_id, del.partition) ==
                                            detail::partition_key(data.spec_id, data.partition);
}

// Iceberg's merge-append: once a spec has `commit.manifest.min-count-to-merge` (default 100)
// data manifests, the small ones (< `commit.manifest.target-size-bytes`, default 8 MB) are merged
// into one manifest of EXISTING entries. Below the threshold manifests are carried over as they
// are. Returns the manifests to keep; merged ones are written to `written`.
Result<std::vector<detail::ManifestFile>> maybe_merge_manifests(
    const TableMetadata& base, std::vector<detail::ManifestFile> kept, int64_t snapshot_id,
    const std::string& commit_uuid, int attempt, std::vector<std::string>* written) {
  const int64_t min_count = prop_int(base, "commit.manifest.min-count-to-merge", 100, 2, 1000000);
  const int64_t target = prop_int(base, "commit.manifest.target-size-bytes", 8 << 20, 1, INT64_MAX);
  std::map<int, std::vector<size_t>> small_by_spec;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i].content == 0 && kept[i].manifest_length < target) {
      small_by_spec[kept[i].partition_spec_id].push_back(i);
    }
  }
  std::vector<bool> drop(kept.size(), false);
  std::vector<detail::ManifestFile> merged;
  for (const auto& [spec_id, idx] : small_by_spec) {
    if (static_cast<int64_t>(idx.size()) < min_count) continue;
    const PartitionSpec* spec = base.spec_by_id(spec_id);
    if (!spec) continue;
    std::vector<detail::ManifestEntry> entries;
    for (size_t i : idx) {
      const auto& mf = kept[i];
      SLUICE_ASSIGN_OR_RETURN(
          auto m, detail::cached_manifest(mf.manifest_path, base, mf.partition_spec_id));
      for (const auto& e : m->entries) {
        if (e.status == detail::EntryStatus::kDeleted) continue;
        DataFile f = detail::inherit(e, mf);
        detail::ManifestEntry ne;
        ne.status = detail::EntryStatus::kExisting;
        ne.snapshot_id = e.snapshot_id.value_or(mf.added_snapshot_id);
        ne.sequence_number = f.data_sequence_number;
        ne.file_sequence_number = f.file_sequence_number;
        ne.file = e.file;
        entries.push_back(std::move(ne));
      }
      drop[i] = true;
    }
    std::string path = metadata_dir(base) + "/" + commit_uuid + "-merged" +
                       std::to_string(attempt) + "-" + std::to_string(spec_id) + ".avro";
    SLUICE_ASSIGN_OR_RETURN(auto mf, detail::write_manifest(path, schema_for_spec(base, *spec),
                                                            *spec, 0, snapshot_id, entries));
    written->push_back(path);
    mf.sequence_number = base.last_sequence_number + 1;
    if (mf.min_sequence_number == INT64_MAX) mf.min_sequence_number = mf.sequence_number;
    merged.push_back(std::move(mf));
  }
  if (merged.empty()) return kept;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (!drop[i]) merged.push_back(kept[i]);
  }
  return merged;
}

}  // namespace

Table::Table(Catalog* catalog, TableIdent ident, TableMetadata metadata, std::string location)
    : catalog_(catalog),
      ident_(std::move(ident)),
      metadata_(std::move(metadata)),
      metadata_location_(std::move(location)) {}

fs::path Table::data_dir() const {
  return fs::path(detail::local_path(metadata_.location)) / "data";
}

Status Table::refresh() {
  SLUICE_ASSIGN_OR_RETURN(Table t, catalog_->load_table(ident_));
  metadata_ = std::move(t.metadata_);
  metadata_location_ = std::move(t.metadata_location_);
  return Status::ok();
}

Status Table::commit(const std::string& operation, const ApplyFn& apply) {
  const std::string name = ident_.to_string();
  TableMetadata base = metadata_;
  std::string base_location = metadata_location_;
  const int retries = static_cast<int>(prop_int(base, "commit.retry.num-retries", 10, 0, 100));
  const int64_t min_wait = prop_int(base, "commit.retry.min-wait-ms", 5, 0, 60000);
  const int64_t max_wait = prop_int(base, "commit.retry.max-wait-ms", 1000, 0, 600000);
  thread_local std::mt19937 jitter(std::random_device{}());
  int64_t wait = min_wait;
  for (int attempt = 0; attempt <= retries; ++attempt) {
    std::vector<std::string> attempt_files;
    auto next = apply(base, &attempt_files);
    auto discard = [&] {
      std::error_code ec;
      for (const auto& f : attempt_files)
        fs::remove(f, ec);
    };
    if (!next.is_ok()) {
      discard();
      if (next.status().message().find(name) != std::string::npos) return next.status();
      return next.status().with_context(operation + " on table " + name);
    }
    if (!next->has_value()) return Status::ok();  // nothing to commit
    if (Status fault = detail::fault_point("commit.after-manifest-list"); !fault.is_ok()) {
      discard();
      return fault.with_context(operation + " on table " + name);
    }
    TableMetadata md = std::move(**next);
    md.format_version = 2;
    md.last_updated_ms = std::max(detail::now_ms(), base.last_updated_ms);
    md.metadata_log.push_back({base.last_updated_ms, base_location});
    size_t keep = static_cast<size_t>(
        prop_int(base, "write.metadata.previous-versions-max", 100, 1, 1000000));
    if (md.metadata_log.size() > keep) {
      md.metadata_log.erase(md.metadata_log.begin(),
                            md.metadata_log.end() - static_cast<long>(keep));
    }
    std::error_code ec;
    fs::create_directories(metadata_dir(md), ec);
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "%05d-", metadata_version(base_location) + 1);
    std::string file = metadata_dir(md) + "/" + prefix + detail::new_uuid() + ".metadata.json";
    Status st = detail::write_new_file(file, serialize_table_metadata(md), /*sync=*/false);
    if (st.is_ok()) st = detail::fault_point("commit.after-metadata");
    // Make the attempt's files (manifest list, merged manifests), the metadata file and their
    // folder entries durable before the pointer swap publishes them: one parallel round of
    // fsyncs instead of one after another.
    if (st.is_ok()) {
      std::vector<std::string> paths = attempt_files;
      paths.push_back(file);
      paths.push_back(metadata_dir(md) + "/");
      st = detail::sync_paths(paths);
    }
    if (st.is_ok()) st = catalog_->swap_pointer(ident_, base_location, file);
    if (st.is_ok()) {
      metadata_ = std::move(md);
      metadata_location_ = file;
      log::debug("lake commit", {log::kv("table", name), log::kv("operation", operation),
                                 log::kv("metadata", file), log::kv("attempt", attempt + 1)});
      return Status::ok();
    }
    if (st.code() != StatusCode::kConflict) {
      // A failure before the swap leaves the previous metadata current; the written files are
      // unreferenced (remove_orphan_files collects them).
      return st.with_context(operation + " on table " + name);
    }
    // Lost the race: discard this attempt, reload, and re-apply on the new base.
    fs::remove(file, ec);
    discard();
    if (attempt == retries) break;
    std::uniform_int_distribution<int64_t> dist(0, wait);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait / 2 + dist(jitter) / 2));
    wait = std::min(max_wait, std::max<int64_t>(1, wait * 2));
    SLUICE_ASSIGN_OR_RETURN(base_location, catalog_->read_pointer(ident_));
    SLUICE_ASSIGN_OR_RETURN(Table fresh, catalog_->load_from(ident_, base_location));
    base = std::move(fresh.metadata_);
  }
  return conflict("table " + name + ": " + operation + " gave up after " +
                  std::to_string(retries + 1) +
                  " attempts: concurrent commits kept changing the table; retry later");
}

Status Table::append(const std::vector<DataFile>& files_in,
                     const std::map<std::string, std::string>& extra_summary) {
  const std::string name = ident_.to_string();
  if (files_in.empty()) return Status::ok();
  SLUICE_ASSIGN_OR_RETURN(auto files, validate_files(metadata_, files_in, name, false));
  auto synced = sync_added_async(files, metadata_.location);
  const int64_t snapshot_id = detail::new_snapshot_id();
  const std::string commit_uuid = detail::new_uuid();
  int counter = 0;
  // The new manifest is written once; each attempt only writes a new manifest list.
  SLUICE_ASSIGN_OR_RETURN(
      auto added, write_added_manifests(metadata_, snapshot_id, files, commit_uuid, &counter));
  SLUICE_RETURN_IF_ERROR(synced.get());
  int attempt = 0;
  Status st = commit(
      "append",
      [&](const TableMetadata& base,
          std::vector<std::string>* written) -> Result<std::optional<TableMetadata>> {
        const int this_attempt = attempt++;
        std::vector<detail::ManifestFile> kept;
        if (const Snapshot* cur = base.current_snapshot()) {
          SLUICE_ASSIGN_OR_RETURN(auto list, detail::cached_manifest_list(cur->manifest_list));
          SLUICE_ASSIGN_OR_RETURN(kept, maybe_merge_manifests(base, list->manifests, snapshot_id,
                                                              commit_uuid, this_attempt, written));
        }
        SLUICE_ASSIGN_OR_RETURN(auto summary,
                                make_summary("append", base, files, {}, extra_summary));
        SLUICE_ASSIGN_OR_RETURN(auto md, add_snapshot(base, snapshot_id, added, kept, summary,
                                                      commit_uuid, this_attempt, written));
        return std::optional<TableMetadata>(std::move(md));
      });
  if (!st.is_ok()) {
    std::error_code ec;
    if (st.code() != StatusCode::kIOError) {
      for (const auto& m : added)
        fs::remove(m.manifest_path, ec);
    }
    return st;
  }
  log::info("lake append", {log::kv("table", name), log::kv("snapshot", snapshot_id),
                            log::kv("files", files.size())});
  return Status::ok();
}

Status Table::overwrite(const std::vector<DataFile>& removed_in,
                        const std::vector<DataFile>& added_in,
                        const std::vector<Predicate>& conflict_filter, bool is_compaction,
                        const std::map<std::string, std::string>& extra_summary) {
  const std::string name = ident_.to_string();
  if (removed_in.empty() && added_in.empty()) return Status::ok();
  std::vector<DataFile> added_data, added_deletes;
  for (const auto& f : added_in) {
    (f.content == FileContent::kData ? added_data : added_deletes).push_back(f);
  }
  SLUICE_ASSIGN_OR_RETURN(auto added, validate_files(metadata_, added_data, name, false));
  SLUICE_ASSIGN_OR_RETURN(auto added_d, validate_files(metadata_, added_deletes, name, true));
  added.insert(added.end(), added_d.begin(), added_d.end());
  auto synced = sync_added_async(added, metadata_.location);
  std::unordered_set<std::string> removed_paths;
  for (const auto& f : removed_in)
    removed_paths.insert(f.file_path);
  const Schema& schema = metadata_.current_schema();
  SLUICE_ASSIGN_OR_RETURN(auto filter,
                          detail::FileFilter::make(metadata_, schema, conflict_filter));

  // Removed files must be live in the snapshot this overwrite started from.
  const TableMetadata start = metadata_;
  const std::optional<int64_t> start_id = start.current_snapshot_id;
  std::vector<DataFile> removed_start;  // the removed files as the start snapshot has them
  if (!removed_paths.empty()) {
    std::unordered_set<std::string> live;
    if (const Snapshot* s = start.current_snapshot()) {
      SLUICE_ASSIGN_OR_RETURN(auto files, detail::live_files(start, *s));
      for (const auto& lf : files) {
        live.insert(lf.file.file_path);
        if (removed_paths.count(lf.file.file_path)) removed_start.push_back(lf.file);
      }
    }
    for (const auto& p : removed_paths) {
      if (!live.count(p)) {
        return invalid_argument("table " + name + ": cannot remove '" + p +
                                "': it is not a live file of snapshot " +
                                (start_id ? std::to_string(*start_id) : std::string("(none)")));
      }
    }
  }
  const int64_t snapshot_id = detail::new_snapshot_id();
  const std::string commit_uuid = detail::new_uuid();
  int counter = 0;
  SLUICE_ASSIGN_OR_RETURN(auto new_manifests, write_added_manifests(metadata_, snapshot_id, added,
                                                                    commit_uuid, &counter));
  SLUICE_RETURN_IF_ERROR(synced.get());
  const std::string operation =
      is_compaction ? "replace" : (added.empty() ? "delete" : "overwrite");

  int attempt = 0;
  Status st = commit(
      operation,
      [&](const TableMetadata& base,
          std::vector<std::string>* written) -> Result<std::optional<TableMetadata>> {
        const int this_attempt = attempt++;
        // Iceberg spec: Optimistic Concurrency - re-validate against what committed meanwhile.
        SLUICE_ASSIGN_OR_RETURN(auto since, snapshots_since(base, start_id, name));
        for (const Snapshot* s : since) {
          SLUICE_ASSIGN_OR_RETURN(auto ch, snapshot_changes(base, *s));
          for (const auto& f : ch.deleted) {
            if (removed_paths.count(f.file_path)) {
              return conflict("table " + name + ": " + operation + " conflicts with snapshot " +
                              std::to_string(s->snapshot_id) + ", which already removed file '" +
                              f.file_path + "'; reload the table and retry");
            }
          }
          for (const auto& f : ch.added) {
            if (f.content == FileContent::kData) {
              if (!is_compaction && filter.file_might_match(f)) {
                return conflict("table " + name + ": " + operation + " conflicts with snapshot " +
                                std::to_string(s->snapshot_id) + ", which added file '" +
                                f.file_path + "' matching this change's filter; reload the table " +
                                "and retry");
              }
            } else {
              for (const auto& r : removed_start) {
                if (r.content == FileContent::kData && delete_may_apply(f, r, base)) {
                  return conflict("table " + name + ": " + operation + " conflicts with snapshot " +
                                  std::to_string(s->snapshot_id) + ", which added delete file '" +
                                  f.file_path + "' for data this change rewrites; reload the " +
                                  "table and retry");
                }
              }
            }
          }
        }
        // Rewrite the manifests that hold removed files; keep the others as they are.
        std::vector<detail::ManifestFile> rewritten, kept;
        std::vector<DataFile> removed_files;
        const Snapshot* cur = base.current_snapshot();
        int64_t seq = base.last_sequence_number + 1;
        if (cur) {
          SLUICE_ASSIGN_OR_RETURN(auto list, detail::cached_manifest_list(cur->manifest_list));
          int rewrite_counter = 0;
          for (const auto& mf : list->manifests) {
            SLUICE_ASSIGN_OR_RETURN(
                auto m, detail::cached_manifest(mf.manifest_path, base, mf.partition_spec_id));
            bool touches = false;
            for (const auto& e : m->entries) {
              if (e.status != detail::EntryStatus::kDeleted &&
                  removed_paths.count(e.file.file_path)) {
                touches = true;
                break;
              }
            }
            if (!touches) {
              kept.push_back(mf);
              continue;
            }
            std::vector<detail::ManifestEntry> entries;
            for (const auto& e : m->entries) {
              if (e.status == detail::EntryStatus::kDeleted) continue;
              detail::ManifestEntry ne;
              DataFile f = detail::inherit(e, mf);
              ne.sequence_number = f.data_sequence_number;
              ne.file_sequence_number = f.file_sequence_number;
              ne.file = e.file;
              if (removed_paths.count(e.file.file_path)) {
                ne.status = detail::EntryStatus::kDeleted;
                ne.snapshot_id = snapshot_id;
                removed_files.push_back(f);
              } else {
                ne.status = detail::EntryStatus::kExisting;
                ne.snapshot_id = e.snapshot_id.value_or(mf.added_snapshot_id);
              }
              entries.push_back(std::move(ne));
            }
            const PartitionSpec* spec = base.spec_by_id(mf.partition_spec_id);
            if (!spec)
              return corruption("manifest " + mf.manifest_path + ": unknown partition spec");
            std::string path = metadata_dir(base) + "/" + commit_uuid + "-r" +
                               std::to_string(this_attempt) + "-" +
                               std::to_string(rewrite_counter++) + ".avro";
            SLUICE_ASSIGN_OR_RETURN(
                auto nmf, detail::write_manifest(path, schema_for_spec(base, *spec), *spec,
                                                 mf.content, snapshot_id, entries));
            written->push_back(path);
            nmf.sequence_number = seq;
            if (nmf.min_sequence_number == INT64_MAX) nmf.min_sequence_number = seq;
            rewritten.push_back(std::move(nmf));
          }
        }
        std::unordered_set<std::string> found;
        for (const auto& f : removed_files)
          found.insert(f.file_path);
        for (const auto& p : removed_paths) {
          if (!found.count(p)) {
            return conflict("table " + name + ": " + operation + ": file '" + p +
                            "' is no longer in the table (removed concurrently); reload and retry");
          }
        }
        SLUICE_ASSIGN_OR_RETURN(auto summary,
                                make_summary(operation, base, added, removed_files, extra_summary));
        std::vector<detail::ManifestFile> fresh = new_manifests;
        fresh.insert(fresh.end(), rewritten.begin(), rewritten.end());
        SLUICE_ASSIGN_OR_RETURN(auto md, add_snapshot(base, snapshot_id, fresh, kept, summary,
                                                      commit_uuid, this_attempt, written));
        return std::optional<TableMetadata>(std::move(md));
      });
  if (!st.is_ok()) {
    std::error_code ec;
    if (st.code() != StatusCode::kIOError) {
      for (const auto& m : new_manifests)
        fs::remove(m.manifest_path, ec);
    }
    return st;
  }
  log::info("lake " + operation,
            {log::kv("table", name), log::kv("snapshot", snapshot_id),
             log::kv("added", added.size()), log::kv("removed", removed_paths.size())});
  return Status::ok();
}

Status Table::add_deletes(const std::vector<DataFile>& delete_files) {
  const std::string name = ident_.to_string();
  if (delete_files.empty()) return Status::ok();
  SLUICE_ASSIGN_OR_RETURN(auto files, validate_files(metadata_, delete_files, name, true));
  auto synced = sync_added_async(files, metadata_.location);
  const std::optional<int64_t> start_id = metadata_.current_snapshot_id;
  const int64_t snapshot_id = detail::new_snapshot_id();
  const std::string commit_uuid = detail::new_uuid();
  int counter = 0;
  SLUICE_ASSIGN_OR_RETURN(
      auto added, write_added_manifests(metadata_, snapshot_id, files, commit_uuid, &counter));
  SLUICE_RETURN_IF_ERROR(synced.get());
  int attempt = 0;
  Status st = commit(
      "delete",
      [&](const TableMetadata& base,
          std::vector<std::string>* written) -> Result<std::optional<TableMetadata>> {
        // Position deletes must still find their data files: fail if data they may reference was
        // removed concurrently (its rows would come back).
        SLUICE_ASSIGN_OR_RETURN(auto since, snapshots_since(base, start_id, name));
        for (const Snapshot* s : since) {
          SLUICE_ASSIGN_OR_RETURN(auto ch, snapshot_changes(base, *s));
          for (const auto& gone : ch.deleted) {
            if (gone.content != FileContent::kData) continue;
            for (const auto& d : files) {
              if (d.content == FileContent::kPositionDeletes && delete_may_apply(d, gone, base)) {
                return conflict("table " + name + ": delete conflicts with snapshot " +
                                std::to_string(s->snapshot_id) + ", which removed data file '" +
                                gone.file_path + "' that position delete file '" + d.file_path +
                                "' may reference; reload the table and retry");
              }
            }
          }
        }
        std::vector<detail::ManifestFile> kept;
        if (const Snapshot* cur = base.current_snapshot()) {
          SLUICE_ASSIGN_OR_RETURN(auto list, detail::cached_manifest_list(cur->manifest_list));
          kept = list->manifests;
        }
        SLUICE_ASSIGN_OR_RETURN(auto summary, make_summary("delete", base, files, {}, {}));
        SLUICE_ASSIGN_OR_RETURN(auto md, add_snapshot(base, snapshot_id, added, kept, summary,
                                                      commit_uuid, attempt++, written));
        return std::optional<TableMetadata>(std::move(md));
      });
  if (!st.is_ok()) {
    std::error_code ec;
    if (st.code() != StatusCode::kIOError) {
      for (const auto& m : added)
        fs::remove(m.manifest_path, ec);
    }
    return st;
  }
  log::info("lake delete files added", {log::kv("table", name), log::kv("snapshot", snapshot_id),
                                        log::kv("files", files.size())});
  return Status::ok();
}

namespace {

// Assigns fresh ids (from *last_id) to every field of a nested type.
TypePtr assign_ids(const TypePtr& t, int* last_id) {
  if (t->is_primitive()) return t;
  auto copy = std::make_shared<Type>(*t);
  for (auto& f : copy->fields)
    f.id = ++*last_id;
  for (auto& f : copy->fields)
    f.type = assign_ids(f.type, last_id);
  return copy;
}

Status widen_allowed(const Type& from, const Type& to, const std::string& where) {
  if (!from.is_primitive() || !to.is_primitive()) {
    return invalid_argument(where + ": only primitive types can be widened");
  }
  const std::string &a = from.primitive, &b = to.primitive;
  if (a == b) return Status::ok();
  if (a == "int" && b == "long") return Status::ok();
  if (a == "float" && b == "double") return Status::ok();
  int p1 = 0, s1 = 0, p2 = 0, s2 = 0;
  if (detail::decimal_params(a, &p1, &s1) && detail::decimal_params(b, &p2, &s2) && s1 == s2 &&
      p2 >= p1) {
    return Status::ok();
  }
  return invalid_argument(where + ": cannot change type " + a + " to " + b +
                          " (allowed: int->long, float->double, decimal(P,S)->decimal(P2,S) with "
                          "P2 >= P)");
}

}  // namespace

Status Table::update_schema(const std::vector<SchemaChange>& changes) {
  const std::string name = ident_.to_string();
  const int start_schema_id = metadata_.current_schema_id;
  // Columns made required must have no nulls in any live file (checked on the base below).
  return commit(
      "update schema",
      [&](const TableMetadata& base,
          std::vector<std::string>*) -> Result<std::optional<TableMetadata>> {
        if (base.current_schema_id != start_schema_id) {
          return conflict("table " + name + ": the schema changed concurrently (schema " +
                          std::to_string(start_schema_id) + " -> " +
                          std::to_string(base.current_schema_id) + "); reload and retry");
        }
        TableMetadata md = base;
        Schema s = base.current_schema();
        int last_id = base.last_column_id;
        auto index_of = [&](const std::string& col) -> int {
          for (size_t i = 0; i < s.fields.size(); ++i) {
            if (s.fields[i].name == col) return static_cast<int>(i);
          }
          return -1;
        };
        auto unknown = [&](const std::string& col) {
          std::string cols;
          for (const auto& f : s.fields)
            cols += (cols.empty() ? "" : ", ") + f.name;
          return invalid_argument("table " + name + ": unknown column '" + col +
                                  "' (columns: " + cols + ")");
        };
        for (const auto& c : changes) {
          std::string where = "table " + name + ": column '" + c.column + "'";
          int i = c.kind == SchemaChange::Kind::kAddColumn ? -1 : index_of(c.column);
          if (c.kind != SchemaChange::Kind::kAddColumn && i < 0) return unknown(c.column);
          switch (c.kind) {
            case SchemaChange::Kind::kAddColumn: {
              if (c.column.empty())
                return invalid_argument("table " + name + ": a new column needs a name");
              if (index_of(c.column) >= 0) return invalid_argument(where + " already exists");
              if (!c.type) return invalid_argument(where + ": a new column needs a type");
              SLUICE_RETURN_IF_ERROR(detail::validate_type(*c.type, where));
              NestedField f;
              f.id = ++last_id;
              f.name = c.column;
              f.required =
                  false;  // existing rows have no value (Iceberg: new columns are optional)
              f.type = assign_ids(c.type, &last_id);
              f.doc = c.doc;
              s.fields.push_back(std::move(f));
              break;
            }
            case SchemaChange::Kind::kDropColumn: {
              int id = s.fields[static_cast<size_t>(i)].id;
              if (std::find(s.identifier_field_ids.begin(), s.identifier_field_ids.end(), id) !=
                  s.identifier_field_ids.end()) {
                return invalid_argument(where + " is an identifier field and cannot be dropped");
              }
              for (const auto& pf : base.default_spec().fields) {
                if (pf.source_id == id) {
                  return invalid_argument(where + " is used by partition field '" + pf.name +
                                          "' of the current spec; change the partitioning first");
                }
              }
              s.fields.erase(s.fields.begin() + i);
              break;
            }
            case SchemaChange::Kind::kRenameColumn:
              if (c.new_name.empty()) return invalid_argument(where + ": rename needs a new name");
              if (index_of(c.new_name) >= 0) {
                return invalid_argument(where + ": cannot rename to '" + c.new_name +
                                        "', which already exists");
              }
              s.fields[static_cast<size_t>(i)].name = c.new_name;
              break;
            case SchemaChange::Kind::kWidenType: {
              if (!c.type) return invalid_argument(where + ": widen needs a type");
              auto& f = s.fields[static_cast<size_t>(i)];
              SLUICE_RETURN_IF_ERROR(detail::validate_type(*c.type, where));
              SLUICE_RETURN_IF_ERROR(widen_allowed(*f.type, *c.type, where));
              f.type = c.type;
              break;
            }
            case SchemaChange::Kind::kMoveFirst: {
              NestedField f = s.fields[static_cast<size_t>(i)];
              s.fields.erase(s.fields.begin() + i);
              s.fields.insert(s.fields.begin(), std::move(f));
              break;
            }
            case SchemaChange::Kind::kMoveAfter: {
              if (c.other == c.column)
                return invalid_argument(where + ": cannot move after itself");
              if (index_of(c.other) < 0) return unknown(c.other);
              NestedField f = s.fields[static_cast<size_t>(i)];
              s.fields.erase(s.fields.begin() + i);
              int j = index_of(c.other);
              s.fields.insert(s.fields.begin() + j + 1, std::move(f));
              break;
            }
            case SchemaChange::Kind::kSetRequired: {
              auto& f = s.fields[static_cast<size_t>(i)];
              if (f.required) break;
              // Only safe when no live file can hold a null in the column.
              if (const Snapshot* cur = base.current_snapshot()) {
                SLUICE_ASSIGN_OR_RETURN(auto live, detail::live_files(base, *cur));
                for (const auto& lf : live) {
                  if (lf.file.content != FileContent::kData) continue;
                  auto it = lf.file.null_value_counts.find(f.id);
                  if (it == lf.file.null_value_counts.end() || it->second != 0) {
                    return invalid_argument(
                        where + ": cannot make it required: file '" + lf.file.file_path + "' " +
                        (it == lf.file.null_value_counts.end() ? "has no null count for it"
                                                               : "has nulls in it"));
                  }
                }
              }
              f.required = true;
              break;
            }
            case SchemaChange::Kind::kSetOptional: {
              int id = s.fields[static_cast<size_t>(i)].id;
              if (std::find(s.identifier_field_ids.begin(), s.identifier_field_ids.end(), id) !=
                  s.identifier_field_ids.end()) {
                return invalid_argument(where + " is an identifier field and must stay required");
              }
              s.fields[static_cast<size_t>(i)].required = false;
              break;
            }
            case SchemaChange::Kind::kSetDoc:
              s.fields[static_cast<size_t>(i)].doc = c.doc;
              break;
          }
        }
        if (s.fields.empty())
          return invalid_argument("table " + name + ": cannot drop every column");
        md.last_column_id = std::max(base.last_column_id, last_id);
        // Reuse an identical earlier schema (Iceberg does), else add a new one.
        for (const auto& old : base.schemas) {
          Schema probe = s;
          probe.schema_id = old.schema_id;
          if (detail::schemas_equal(probe, old)) {
            if (old.schema_id == base.current_schema_id) return std::optional<TableMetadata>();
            md.current_schema_id = old.schema_id;
            return std::optional<TableMetadata>(std::move(md));
          }
        }
        int next_id = 0;
        for (const auto& old : base.schemas)
          next_id = std::max(next_id, old.schema_id + 1);
        s.schema_id = next_id;
        md.schemas.push_back(s);
        md.current_schema_id = next_id;
        return std::optional<TableMetadata>(std::move(md));
      });
}

Status Table::update_spec(const std::vector<std::pair<std::string, std::string>>& fields) {
  const std::string name = ident_.to_string();
  const int start_spec_id = metadata_.default_spec_id;
  return commit(
      "update partition spec",
      [&](const TableMetadata& base,
          std::vector<std::string>*) -> Result<std::optional<TableMetadata>> {
        if (base.default_spec_id != start_spec_id) {
          return conflict("table " + name + ": the partition spec changed concurrently (spec " +
                          std::to_string(start_spec_id) + " -> " +
                          std::to_string(base.default_spec_id) + "); reload and retry");
        }
        TableMetadata md = base;
        int next_id = 0;
        for (const auto& s : base.partition_specs)
          next_id = std::max(next_id, s.spec_id + 1);
        SLUICE_ASSIGN_OR_RETURN(
            auto spec, detail::build_spec(fields, base.current_schema(), &md, next_id, name));
        for (const auto& old : base.partition_specs) {
          bool same = old.fields.size() == spec.fields.size();
          for (size_t i = 0; same && i < old.fields.size(); ++i) {
            same = old.fields[i].source_id == spec.fields[i].source_id &&
                   old.fields[i].transform == spec.fields[i].transform &&
                   old.fields[i].field_id == spec.fields[i].field_id &&
                   old.fields[i].name == spec.fields[i].name;
          }
          if (same) {
            if (old.spec_id == base.default_spec_id) return std::optional<TableMetadata>();
            md.last_partition_id = base.last_partition_id;
            md.default_spec_id = old.spec_id;
            return std::optional<TableMetadata>(std::move(md));
          }
        }
        md.partition_specs.push_back(spec);
        md.default_spec_id = spec.spec_id;
        return std::optional<TableMetadata>(std::move(md));
      });
}

Result<WriteProperties> write_properties(const std::map<std::string, std::string>& properties,
                                         const std::string& table) {
  WriteProperties w;
  if (auto it = properties.find("write.parquet.compression-codec"); it != properties.end()) {
    std::string codec = it->second;
    std::transform(codec.begin(), codec.end(), codec.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    static const std::set<std::string> kCodecs = {"zstd", "snappy", "gzip",
                                                  "lz4",  "brotli", "uncompressed"};
    if (!kCodecs.contains(codec)) {
      return invalid_argument(fmt::format(
          "table {}: property write.parquet.compression-codec = '{}' is not a Parquet codec "
          "Sluice writes (zstd, snappy, gzip, lz4, brotli or uncompressed)",
          table, it->second));
    }
    w.compression = codec;
  }
  if (auto it = properties.find("write.target-file-size-bytes"); it != properties.end()) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (ec != std::errc() || end != it->second.data() + it->second.size() || n <= 0) {
      return invalid_argument(fmt::format(
          "table {}: property write.target-file-size-bytes = '{}' is not a positive byte count",
          table, it->second));
    }
    w.target_file_size_bytes = n;
  }
  if (auto it = properties.find("write.distribution-mode"); it != properties.end()) {
    if (it->second != "none" && it->second != "hash" && it->second != "range") {
      return invalid_argument(fmt::format(
          "table {}: property write.distribution-mode = '{}' is not none, hash or range", table,
          it->second));
    }
    w.cluster_by_partition = it->second != "none";
  }
  return w;
}

Status Table::set_properties(const std::map<std::string, std::string>& set,
                             const std::vector<std::string>& remove) {
  for (const auto& [k, v] : set) {
    if (k.empty()) return invalid_argument("table " + ident_.to_string() + ": empty property key");
  }
  SLUICE_RETURN_IF_ERROR(write_properties(set, ident_.to_string()));
  return commit("set properties",
                [&](const TableMetadata& base,
                    std::vector<std::string>*) -> Result<std::optional<TableMetadata>> {
                  TableMetadata md = base;
                  for (const auto& k : remove)
                    md.properties.erase(k);
                  for (const auto& [k, v] : set)
                    md.properties[k] = v;
                  if (md.properties == base.properties) return std::optional<TableMetadata>();
                  return std::optional<TableMetadata>(std::move(md));
                });
}

Status Table::rollback_to(int64_t snapshot_id) {
  const std::string name = ident_.to_string();
  if (!metadata_.snapshot_by_id(snapshot_id)) {
    return not_found("table " + name + ": snapshot " + std::to_string(snapshot_id) +
                     " does not exist (see `sluice table snapshots " + name + "`)");
  }
  const std::optional<int64_t> start_id = metadata_.current_snapshot_id;
  return commit("rollback",
                [&](const TableMetadata& base,
                    std::vector<std::string>*) -> Result<std::optional<TableMetadata>> {
                  if (base.current_snapshot_id != start_id) {
                    return conflict(
                        "table " + name + ": rollback to snapshot " + std::to_string(snapshot_id) +
                        " conflicts with a concurrent commit (current snapshot is now " +
                        (base.current_snapshot_id ? std::to_string(*base.current_snapshot_id)
                                                  : std::string("none")) +
                        "); reload and retry");
                  }
                  if (!base.snapshot_by_id(snapshot_id)) {
                    return conflict("table " + name + ": snapshot " + std::to_string(snapshot_id) +
                                    " was expired concurrently");
                  }
                  if (base.current_snapshot_id == snapshot_id)
                    return std::optional<TableMetadata>();
                  TableMetadata md = base;
                  md.current_snapshot_id = snapshot_id;
                  md.refs["main"] = SnapshotRef{snapshot_id, "branch"};
                  int64_t ts = detail::now_ms();
                  if (!md.snapshot_log.empty())
                    ts = std::max(ts, md.snapshot_log.back().timestamp_ms);
                  md.snapshot_log.push_back({ts, snapshot_id});
                  return std::optional<TableMetadata>(std::move(md));
                });
}

}  // namespace sluice::lake

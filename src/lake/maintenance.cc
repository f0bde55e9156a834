// Table maintenance: snapshot expiry and orphan-file removal. Both are safe while writers are
// active: expiry commits first and then deletes only files no retained snapshot reaches, and
// orphan removal spares anything newer than `older_than_ms` (in-flight writes).
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <unordered_set>

#include "common/log.h"
#include "lake/lake_internal.h"

namespace sluice::lake {

namespace fs = std::filesystem;

namespace detail {

std::string normal_path(const std::string& p) {
  return fs::path(local_path(p)).lexically_normal().string();
}

// Every file the metadata references: metadata files (current and logged), manifest lists,
// manifests, and data/delete files of any entry of any snapshot.
Result<std::set<std::string>> all_reachable_files(const TableMetadata& md,
                                                  const std::string& metadata_location) {
  std::set<std::string> out;
  out.insert(normal_path(metadata_location));
  for (const auto& e : md.metadata_log)
    out.insert(normal_path(e.metadata_file));
  std::set<std::string> seen_manifests;
  for (const auto& s : md.snapshots) {
    out.insert(normal_path(s.manifest_list));
    SLUICE_ASSIGN_OR_RETURN(auto list, cached_manifest_list(s.manifest_list));
    for (const auto& mf : list->manifests) {
      if (!seen_manifests.insert(mf.manifest_path).second) continue;
      out.insert(normal_path(mf.manifest_path));
      SLUICE_ASSIGN_OR_RETURN(auto m, cached_manifest(mf.manifest_path, md, mf.partition_spec_id));
      for (const auto& e : m->entries)
        out.insert(normal_path(e.file.file_path));
    }
  }
  return out;
}

}  // namespace detail

Result<Table::ExpireResult> Table::expire_snapshots(int64_t older_than_ms, int retain_last) {
  const std::string name = ident_.to_string();
  retain_last = std::max(retain_last, 1);
  std::vector<Snapshot> expired;  // from the attempt that committed
  Status st = commit(
      "expire snapshots",
      [&](const TableMetadata& base,
          std::vector<std::string>*) -> Result<std::optional<TableMetadata>> {
        expired.clear();
        std::set<int64_t> keep;
        int n = 0;
        for (const Snapshot* s = base.current_snapshot(); s && n < retain_last;
             s = s->parent_snapshot_id ? base.snapshot_by_id(*s->parent_snapshot_id) : nullptr) {
          keep.insert(s->snapshot_id);
          ++n;
        }
        for (const auto& [ref, r] : base.refs)
          keep.insert(r.snapshot_id);
        for (const auto& s : base.snapshots) {
          if (s.timestamp_ms >= older_than_ms) keep.insert(s.snapshot_id);
        }
        TableMetadata md = base;
        md.snapshots.clear();
        for (const auto& s : base.snapshots) {
          if (keep.count(s.snapshot_id)) {
            md.snapshots.push_back(s);
          } else {
            expired.push_back(s);
          }
        }
        if (expired.empty()) return std::optional<TableMetadata>();
        md.snapshot_log.erase(
            std::remove_if(md.snapshot_log.begin(), md.snapshot_log.end(),
                           [&](const SnapshotLogEntry& e) { return !keep.count(e.snapshot_id); }),
            md.snapshot_log.end());
        return std::optional<TableMetadata>(std::move(md));
      });
  if (!st.is_ok()) return st;
  ExpireResult result;
  result.snapshots_expired = static_cast<int64_t>(expired.size());
  if (expired.empty()) return result;

  // What the retained snapshots still reach (metadata_ is the committed metadata).
  std::unordered_set<std::string> retained_lists, retained_manifests, retained_files;
  for (const auto& s : metadata_.snapshots) {
    retained_lists.insert(s.manifest_list);
    auto list = detail::cached_manifest_list(s.manifest_list);
    if (!list.is_ok()) return list.status().with_context("expire on table " + name);
    for (const auto& mf : (*list)->manifests) {
      if (!retained_manifests.insert(mf.manifest_path).second) continue;
      auto m = detail::cached_manifest(mf.manifest_path, metadata_, mf.partition_spec_id);
      if (!m.is_ok()) return m.status().with_context("expire on table " + name);
      for (const auto& e : (*m)->entries) {
        if (e.status != detail::EntryStatus::kDeleted) retained_files.insert(e.file.file_path);
      }
    }
  }
  std::set<std::string> to_delete;
  std::unordered_set<std::string> visited;
  for (const auto& s : expired) {
    if (!retained_lists.count(s.manifest_list)) to_delete.insert(s.manifest_list);
    auto list = detail::cached_manifest_list(s.manifest_list);
    if (!list.is_ok()) {
      log::warn("expire: cannot read manifest list",
                {log::kv("table", name), log::kv("error", list.status().message())});
      continue;
    }
    for (const auto& mf : (*list)->manifests) {
      if (retained_manifests.count(mf.manifest_path) || !visited.insert(mf.manifest_path).second) {
        continue;
      }
      to_delete.insert(mf.manifest_path);
      auto m = detail::cached_manifest(mf.manifest_path, metadata_, mf.partition_spec_id);
      if (!m.is_ok()) continue;
      for (const auto& e : (*m)->entries) {
        if (!retained_files.count(e.file.file_path)) to_delete.insert(e.file.file_path);
      }
    }
  }
  for (const auto& f : to_delete) {
    std::error_code ec;
    if (fs::remove(detail::local_path(f), ec)) ++result.files_deleted;
  }
  log::info("lake snapshots expired",
            {log::kv("table", name), log::kv("snapshots", result.snapshots_expired),
             log::kv("files_deleted", result.files_deleted)});
  return result;
}

Result<std::vector<std::string>> Table::remove_orphan_files(int64_t older_than_ms, bool dry_run) {
  const std::string name = ident_.to_string();
  // Work from the latest metadata, never a stale handle.
  SLUICE_RETURN_IF_ERROR(refresh());
  auto reachable = detail::all_reachable_files(metadata_, metadata_location_);
  if (!reachable.is_ok()) return reachable.status().with_context("remove orphans on table " + name);
  fs::path root = detail::local_path(metadata_.location);
  std::vector<std::string> out;
  std::error_code ec;
  auto it =
      fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
  if (ec)
    return io_error("remove orphans on table " + name + ": " + root.string() + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string fname = it->path().filename().string();
    // Hidden names (catalog pointer and lock, temp files) are not table files.
    bool hidden = !fname.empty() && (fname[0] == '.' || fname[0] == '_') &&
                  fname.find('=') == std::string::npos;
    if (hidden) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::string p = it->path().lexically_normal().string();
    if (reachable->count(p)) continue;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;
    int64_t mtime_ms =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (mtime_ms >= older_than_ms) continue;
    out.push_back(p);
  }
  if (ec) return io_error("remove orphans on table " + name + ": " + ec.message());
  std::sort(out.begin(), out.end());
  if (!dry_run) {
    for (const auto& p : out)
      fs::remove(p, ec);
  }
  log::info("lake orphan files",
            {log::kv("table", name), log::kv("files", out.size()), log::kv("dry_run", dry_run)});
  return out;
}

}  // namespace sluice::lake

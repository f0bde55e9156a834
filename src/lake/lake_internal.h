// Internals of the lake module shared by its .cc files. Not part of the public contract: engine/
// and cli/ use lake.h only (tests may use this header).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lake/lake.h"

namespace sluice::lake::detail {

// ---------------------------------------------------------------------------------------------
// Types

// Parses a primitive type name ("decimal(10, 2)", "fixed[16]", "long"); nullopt if unknown.
// The canonical form is the spec's: "decimal(10,2)", "fixed[16]".
std::optional<std::string> canonical_primitive(std::string_view name);
// decimal(P,S): precision and scale; false if `primitive` is not a decimal.
bool decimal_params(const std::string& primitive, int* precision, int* scale);
// fixed[L]: length; false if not a fixed.
bool fixed_length(const std::string& primitive, int* length);
// Minimum bytes to hold a decimal of `precision` digits (Iceberg spec: Avro type mapping).
int decimal_required_bytes(int precision);
// Validates a type tree (known primitive names, unique ids); `where` names the column.
Status validate_type(const Type& type, const std::string& where);
bool types_equal(const Type& a, const Type& b);
bool schemas_equal(const Schema& a, const Schema& b);

// Converts a Value to the representation lake.h documents for `type` (int32 -> int64 for long,
// float -> double for double, ...). `what` names the value in messages.
Result<Value> coerce_value(const Type& type, const Value& v, const std::string& what);
// Total order within one type's values (nulls first). Both must already be coerced to `type`.
int compare_values(const Type& type, const Value& a, const Value& b);
std::string value_to_string(const Value& v);
bool is_valid_identifier(std::string_view s);
Result<std::vector<uint8_t>> uuid_to_bytes(const std::string& text);
std::string uuid_from_bytes(std::string_view sixteen_bytes);
std::vector<uint8_t> minimal_decimal_bytes(const std::vector<uint8_t>& unscaled);
// A byte string that identifies a partition tuple (for grouping delete files).
std::string partition_key(int spec_id, const std::vector<Value>& values);

// ---------------------------------------------------------------------------------------------
// Transforms (Iceberg spec: Partition Transforms, Appendix B)

int32_t murmur3_x86_32(const void* data, size_t len, uint32_t seed = 0);
// The 32-bit hash the bucket transform uses for a value of `type` (Appendix B).
Result<int32_t> bucket_hash(const Type& type, const Value& v);
// "col_day", "col_bucket", ... (the names Iceberg gives partition fields by default).
std::string default_partition_name(const std::string& column, const std::string& transform);
// Normalizes a transform name ("BUCKET[16]" -> "bucket[16]"); error if unknown.
Result<std::string> canonical_transform(const std::string& transform);
// True if x < v implies t(x) <= t(v) (year, month, day, hour, truncate, identity).
bool transform_preserves_order(const std::string& transform);

// ---------------------------------------------------------------------------------------------
// JSON (schema and table metadata)

std::string schema_to_json(const Schema& schema);
Result<Schema> schema_from_json(std::string_view json, const std::string& file);
std::string partition_spec_fields_to_json(const PartitionSpec& spec);

// ---------------------------------------------------------------------------------------------
// Manifests and manifest lists (Iceberg spec: Manifests, Manifest Lists)

enum class EntryStatus { kExisting = 0, kAdded = 1, kDeleted = 2 };

struct ManifestEntry {
  EntryStatus status = EntryStatus::kAdded;
  std::optional<int64_t> snapshot_id;
  std::optional<int64_t> sequence_number;       // null: inherited (ADDED in this manifest)
  std::optional<int64_t> file_sequence_number;  // null: inherited
  DataFile file;
};

struct FieldSummary {
  bool contains_null = false;
  std::optional<bool> contains_nan;
  std::optional<std::string> lower_bound;
  std::optional<std::string> upper_bound;
};

// One entry of a manifest list (Iceberg spec: manifest_file).
struct ManifestFile {
  std::string manifest_path;
  int64_t manifest_length = 0;
  int partition_spec_id = 0;
  int content = 0;  // 0 data, 1 deletes
  int64_t sequence_number = 0;
  int64_t min_sequence_number = 0;
  int64_t added_snapshot_id = 0;
  int32_t added_files_count = 0;
  int32_t existing_files_count = 0;
  int32_t deleted_files_count = 0;
  int64_t added_rows_count = 0;
  int64_t existing_rows_count = 0;
  int64_t deleted_rows_count = 0;
  std::optional<std::vector<FieldSummary>> partitions;
  std::optional<std::string> key_metadata;
};

struct Manifest {
  std::map<std::string, std::string> metadata;  // Avro header metadata
  int format_version = 1;
  int spec_id = 0;
  int content = 0;
  std::vector<ManifestEntry> entries;  // sequence numbers as stored (not inherited)
};

struct ManifestList {
  std::map<std::string, std::string> metadata;
  std::vector<ManifestFile> manifests;
};

// Avro schemas (JSON text with field-id attributes) as the spec gives them.
std::string manifest_entry_avro_schema(const Schema& schema, const PartitionSpec& spec);
std::string manifest_list_avro_schema();

struct ManifestWriteOptions {
  std::string codec = "deflate";  // null | deflate
};

// Writes a manifest (format v2) and returns its manifest-list entry, with sequence numbers left
// for the caller: min_sequence_number covers explicit entry numbers only (INT64_MAX if none).
Result<ManifestFile> write_manifest(const std::string& path, const Schema& schema,
                                    const PartitionSpec& spec, int content,
                                    int64_t added_snapshot_id,
                                    const std::vector<ManifestEntry>& entries,
                                    const ManifestWriteOptions& options = {});
// Not fsynced: Table::commit syncs it with the metadata file before the pointer swap.
Status write_manifest_list(const std::string& path, int64_t snapshot_id,
                           std::optional<int64_t> parent_id, int64_t sequence_number,
                           const std::vector<ManifestFile>& manifests,
                           const ManifestWriteOptions& options = {});

// Readers accept v1 and v2 files from any writer (fields found by field id). `spec` and
// `schema` give the partition tuple's types.
Result<Manifest> read_manifest(const std::string& path, const PartitionSpec& spec,
                               const Schema& schema);
Result<ManifestList> read_manifest_list(const std::string& path);

// Cached readers: manifests and manifest lists are immutable, so parsed ones are kept by path.
Result<std::shared_ptr<const Manifest>> cached_manifest(const std::string& path,
                                                        const TableMetadata& md, int spec_id);
Result<std::shared_ptr<const ManifestList>> cached_manifest_list(const std::string& path);
void clear_manifest_cache();

// Sequence number and snapshot id inheritance (Iceberg spec: Sequence Number Inheritance).
DataFile inherit(const ManifestEntry& e, const ManifestFile& mf);

// Avro object container framing (Avro spec: Object Container Files).
struct AvroContainer {
  std::map<std::string, std::string> metadata;  // includes avro.schema, avro.codec
  std::vector<std::string> blocks;              // decompressed block bytes
  std::vector<int64_t> block_counts;            // objects per block
};
Result<AvroContainer> read_avro_container(std::string_view bytes, const std::string& file);
Result<std::string> frame_avro_container(const std::map<std::string, std::string>& metadata,
                                         const std::string& schema_json, std::string_view codec,
                                         const std::vector<std::string>& blocks,
                                         const std::vector<int64_t>& counts);

// ---------------------------------------------------------------------------------------------
// Files and misc

std::string new_uuid();
int64_t now_ms();
int64_t new_snapshot_id();
// "file:///a/b" and "file:/a/b" -> "/a/b"; other paths unchanged.
std::string local_path(const std::string& path_or_uri);
Result<std::string> read_file(const std::string& path);
// Writes `bytes` to `path` (must not exist), fsyncs the file unless `sync` is false (the caller
// then syncs it, with others, before anything refers to it durably).
Status write_new_file(const std::string& path, std::string_view bytes, bool sync = true);
// fdatasyncs files and fsyncs folders (a folder's path ends in '/') in one parallel round.
Status sync_paths(const std::vector<std::string>& paths);
Status fsync_dir(const std::filesystem::path& dir);
// Makes files a commit is about to publish durable: their contents, and the folder entries that
// name them, from each file's folder up to `root` (the table's location) for files under it.
// Up to kSyncEachMax local files are synced one by one (in parallel); a larger write (a
// partitioned one makes a file per partition) syncs the whole filesystem once with syncfs(2),
// one device cache flush instead of one per file and folder. Non-local paths, and paths that do
// not exist, are skipped.
inline constexpr size_t kSyncEachMax = 32;
Status sync_new_files(const std::vector<std::string>& paths, const std::string& root);

// Failure points a test can switch on (ENGINEERING.md: fault tests). The hook returns a non-OK
// Status to fail at the named point; without a hook, the environment variable
// SLUICE_TEST_CRASH_AT=<point> kills the process there with SIGKILL. Points, in commit order:
// "commit.after-manifest-list" (data files, manifests and the manifest list written),
// "commit.after-metadata" (the new metadata file written, its folder not yet synced),
// "commit.before-swap" (the new pointer written to a temporary file, not yet renamed),
// "commit.after-swap" (renamed over the pointer, its folder not yet synced).
using FaultHook = std::function<Status(std::string_view point)>;
void set_fault_hook(FaultHook hook);
Status fault_point(std::string_view point);

// Live (ADDED or EXISTING) files of a snapshot with inherited sequence numbers.
struct LiveFile {
  DataFile file;
  int64_t snapshot_id = 0;  // the snapshot that added it
};
Result<std::vector<LiveFile>> live_files(const TableMetadata& md, const Snapshot& snap);

// Predicate evaluation against file statistics / partition values (scan_planner.cc); also used
// by overwrite conflict checks. `schema` gives column types.
class FileFilter {
 public:
  static Result<FileFilter> make(const TableMetadata& md, const Schema& schema,
                                 const std::vector<Predicate>& filter);
  bool empty() const { return preds_.empty(); }
  // False only if the manifest's partition summaries prove no file matches.
  bool manifest_might_match(const ManifestFile& mf) const;
  // False only if the file's partition values or column stats prove no row matches.
  bool file_might_match(const DataFile& f) const;

  struct PartPred;
  struct ColPred;

 private:
  std::vector<Predicate> preds_;
  std::vector<TypePtr> types_;  // per predicate, the column type
  std::map<int, std::vector<std::shared_ptr<PartPred>>> by_spec_;
};

}  // namespace sluice::lake::detail

// The lake: Apache Iceberg (format v2, reads v1) tables in an embedded catalog.
//
// This header is the module's public contract, used by engine/ (SQL over tables, writing data
// files) and cli/ (`sluice table`). The lake module never runs SQL and never writes data files
// itself: callers write Parquet files (with Iceberg field ids) and hand their DataFile
// descriptions to an operation; the lake writes manifests (Avro), manifest lists, table metadata
// JSON, and commits by compare-and-swap of the table's current-metadata pointer.
//
// Spec references are to the Apache Iceberg table spec ("Iceberg spec: <section>").
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace sluice::lake {

// ---------------------------------------------------------------------------------------------
// Types and schemas (Iceberg spec: Schemas and Data Types)

struct Type;
using TypePtr = std::shared_ptr<const Type>;

struct NestedField {
  int id = 0;
  std::string name;
  bool required = false;
  TypePtr type;
  std::string doc;
};

struct Type {
  enum class Kind { kPrimitive, kStruct, kList, kMap };
  Kind kind = Kind::kPrimitive;
  // For primitives, the spec's name: boolean, int, long, float, double, decimal(P,S), date, time,
  // timestamp, timestamptz, string, uuid, fixed[L], binary.
  std::string primitive;
  // kStruct: the fields. kList: one field, the element. kMap: two fields, key then value.
  std::vector<NestedField> fields;

  static TypePtr of(std::string primitive_name);  // e.g. Type::of("long")
  bool is_primitive() const { return kind == Kind::kPrimitive; }
  // The spec's JSON rendering ("long", or {"type":"struct",...}).
  std::string to_string() const;
};

struct Schema {
  int schema_id = 0;
  std::vector<NestedField> fields;
  std::vector<int> identifier_field_ids;

  // Top-level or nested field by id; nullptr if absent.
  const NestedField* find_field(int id) const;
  // Top-level field by name (case-sensitive); nullptr if absent.
  const NestedField* find_field(std::string_view name) const;
  // Highest field id used anywhere in the schema.
  int highest_field_id() const;
};

// ---------------------------------------------------------------------------------------------
// Values: partition values, bounds, filter literals.

struct Null {
  bool operator==(const Null&) const = default;  // so that Values compare with ==
};
// int32 also carries date (days), and the year/month/day/hour/bucket transform results; int64
// carries time, timestamp and timestamptz (microseconds); std::string carries string and uuid
// (canonical text) ; std::vector<uint8_t> carries binary, fixed and decimal (unscaled two's
// complement big-endian, as the spec's single-value serialization).
using Value =
    std::variant<Null, bool, int32_t, int64_t, float, double, std::string, std::vector<uint8_t>>;

// Iceberg spec: Appendix D, single-value serialization (bounds in manifests).
Result<std::string> encode_single_value(const Type& type, const Value& v);
Result<Value> decode_single_value(const Type& type, std::string_view bytes);

// ---------------------------------------------------------------------------------------------
// Partitioning and sort orders (Iceberg spec: Partitioning, Sorting)

struct PartitionField {
  int source_id = 0;
  int field_id = 0;  // 1000+
  std::string name;
  // identity, year, month, day, hour, bucket[N], truncate[W], void
  std::string transform;
};

struct PartitionSpec {
  int spec_id = 0;
  std::vector<PartitionField> fields;
  bool is_unpartitioned() const { return fields.empty(); }
};

// Validates a transform name against a source type ("bucket[16]" on a string is fine, "day" on
// a string is not); the message names the column and the transform.
Status validate_transform(const std::string& transform, const Type& source,
                          const std::string& column);
// The type of a transform's result (Iceberg spec: Partition Transforms).
Result<TypePtr> transform_result_type(const std::string& transform, const Type& source);
// Applies a transform to one value (used for pruning and tests; writers compute partition
// values in SQL with the same semantics). Iceberg spec: bucket uses 32-bit murmur3 x86.
Result<Value> apply_transform(const std::string& transform, const Type& source, const Value& v);

struct SortField {
  int source_id = 0;
  std::string transform = "identity";
  bool ascending = true;
  bool nulls_first = true;
};
struct SortOrder {
  int order_id = 0;
  std::vector<SortField> fields;
};

// ---------------------------------------------------------------------------------------------
// Files and snapshots (Iceberg spec: Manifests, Snapshots)

enum class FileContent { kData = 0, kPositionDeletes = 1, kEqualityDeletes = 2 };

struct DataFile {
  FileContent content = FileContent::kData;
  std::string file_path;  // absolute path or URI
  std::string file_format = "PARQUET";
  int spec_id = 0;
  std::vector<Value> partition;  // one per field of spec `spec_id`
  int64_t record_count = 0;
  int64_t file_size_in_bytes = 0;
  std::map<int, int64_t> column_sizes;
  std::map<int, int64_t> value_counts;
  std::map<int, int64_t> null_value_counts;
  std::map<int, int64_t> nan_value_counts;
  std::map<int, std::string> lower_bounds;  // single-value serialization
  std::map<int, std::string> upper_bounds;
  std::vector<int> equality_ids;  // equality delete files
  std::optional<int> sort_order_id;
  // Position delete files whose deletes all reference one data file (field 143, optional in v2).
  std::optional<std::string> referenced_data_file;
  // Filled when read from a manifest (Iceberg spec: sequence number inheritance).
  int64_t data_sequence_number = 0;
  int64_t file_sequence_number = 0;
};

struct Snapshot {
  int64_t snapshot_id = 0;
  std::optional<int64_t> parent_snapshot_id;
  int64_t sequence_number = 0;
  int64_t timestamp_ms = 0;
  std::string manifest_list;
  std::map<std::string, std::string> summary;  // includes "operation"
  std::optional<int> schema_id;
};

struct SnapshotLogEntry {
  int64_t timestamp_ms = 0;
  int64_t snapshot_id = 0;
};
struct MetadataLogEntry {
  int64_t timestamp_ms = 0;
  std::string metadata_file;
};
struct SnapshotRef {
  int64_t snapshot_id = 0;
  std::string type = "branch";  // branch | tag
};

// Iceberg spec: Table Metadata. Read from v1 or v2 JSON; always written as v2.
struct TableMetadata {
  int format_version = 2;
  std::string table_uuid;
  std::string location;
  int64_t last_sequence_number = 0;
  int64_t last_updated_ms = 0;
  int last_column_id = 0;
  std::vector<Schema> schemas;
  int current_schema_id = 0;
  std::vector<PartitionSpec> partition_specs;
  int default_spec_id = 0;
  int last_partition_id = 999;
  std::vector<SortOrder> sort_orders;
  int default_sort_order_id = 0;
  std::map<std::string, std::string> properties;
  std::optional<int64_t> current_snapshot_id;
  std::vector<Snapshot> snapshots;
  std::vector<SnapshotLogEntry> snapshot_log;
  std::vector<MetadataLogEntry> metadata_log;
  std::map<std::string, SnapshotRef> refs;

  const Schema& current_schema() const;
  const Schema* schema_by_id(int id) const;
  const PartitionSpec& default_spec() const;
  const PartitionSpec* spec_by_id(int id) const;
  const Snapshot* current_snapshot() const;
  const Snapshot* snapshot_by_id(int64_t id) const;
  // The snapshot that was current at `timestamp_ms` (from the snapshot log); nullptr if none.
  const Snapshot* snapshot_as_of(int64_t timestamp_ms) const;
};

Result<TableMetadata> parse_table_metadata(std::string_view json, const std::string& file);
std::string serialize_table_metadata(const TableMetadata& m);

// ---------------------------------------------------------------------------------------------
// Scan planning

// A predicate for pruning: conjunction of simple comparisons on top-level columns. Pruning is
// conservative: a file is skipped only when its partition values or column bounds prove that
// no row can match. The engine still applies the full filter to the rows it reads.
struct Predicate {
  enum class Op { kEq, kNotEq, kLt, kLtEq, kGt, kGtEq, kIsNull, kNotNull, kIn };
  int field_id = 0;
  Op op = Op::kEq;
  std::vector<Value> values;  // one for comparisons, several for kIn, none for null checks
};

struct ScanOptions {
  std::optional<int64_t> snapshot_id;  // time travel by id
  std::optional<int64_t> as_of_ms;     // time travel by timestamp
  std::vector<Predicate> filter;       // AND of predicates
};

struct ScanTask {
  DataFile data_file;
  std::vector<DataFile> position_deletes;  // that may apply to this file
  std::vector<DataFile> equality_deletes;  // that apply (data sequence number rule)
};

struct ScanPlan {
  std::optional<int64_t> snapshot_id;  // nullopt: the table has no snapshot (empty)
  Schema schema;                       // the schema to read with (current, or the snapshot's)
  std::vector<ScanTask> tasks;
  // Every data file names its columns as `schema` does, with the same types: the table has had
  // one schema all its life and is one this catalog created at its default location (not a
  // registered table whose files another engine wrote). A reader may then match columns by name
  // instead of by field id.
  bool read_by_name = false;
  int64_t manifests_total = 0, manifests_skipped = 0;
  int64_t files_total = 0, files_skipped = 0;
};

// ---------------------------------------------------------------------------------------------
// Tables and operations

struct TableIdent {
  std::string ns;  // "raw", "refined", "curated", or any created namespace
  std::string name;
  std::string to_string() const { return ns + "." + name; }
  // Parses "ns.name"; the message says what is wrong with `text`.
  static Result<TableIdent> parse(std::string_view text);
};

class Catalog;

// Changes to a table's schema, applied in order and committed as one metadata update.
struct SchemaChange {
  enum class Kind {
    kAddColumn,
    kDropColumn,
    kRenameColumn,
    kWidenType,
    kMoveFirst,
    kMoveAfter,
    kSetRequired,
    kSetOptional,
    kSetDoc
  };
  Kind kind;
  std::string column;    // existing column name (top level), or the new column's name
  TypePtr type;          // kAddColumn, kWidenType
  std::string new_name;  // kRenameColumn
  std::string other;     // kMoveAfter: the column to move after
  std::string doc;       // kAddColumn, kSetDoc
};

// A table handle: a snapshot of its metadata at load time plus the operations on it. Each
// operation commits optimistically against the metadata it started from and retries on a
// concurrent change when the change does not conflict (Iceberg spec: Optimistic Concurrency).
// The data-file settings a table's Iceberg properties choose, for writers:
// `write.parquet.compression-codec` (zstd, snappy, gzip, lz4, brotli, uncompressed) and
// `write.target-file-size-bytes` (a positive byte count). Empty / 0: the engine's default.
struct WriteProperties {
  std::string compression;
  int64_t target_file_size_bytes = 0;
  // write.distribution-mode: `hash` (the default) or `range` clusters a partitioned write's rows
  // by partition before writing (about one file per partition instead of one per partition,
  // thread and flush of DuckDB's open-file limit); `none` writes rows in the order they come.
  bool cluster_by_partition = true;
};
// A clear error naming `table`, the property and the allowed values for a bad value.
Result<WriteProperties> write_properties(const std::map<std::string, std::string>& properties,
                                         const std::string& table);

class Table {
 public:
  const TableIdent& ident() const { return ident_; }
  const TableMetadata& metadata() const { return metadata_; }
  const std::string& metadata_location() const { return metadata_location_; }
  // <location>/data: where callers write new data files.
  std::filesystem::path data_dir() const;

  Status refresh();
  Result<ScanPlan> plan_scan(const ScanOptions& options) const;

  // Appends files (Iceberg operation "append"). Never conflicts with concurrent appends.
  Status append(const std::vector<DataFile>& files,
                const std::map<std::string, std::string>& extra_summary = {});
  // Replaces `removed` with `added` (operation "overwrite", or "replace" when rows are kept, as
  // in compaction). Fails with kConflict if a concurrent commit removed any of `removed`, or
  // added files matching `conflict_filter` (the rows this overwrite decided about; an empty
  // filter means the whole table). Files in `removed` are matched by file_path. A compaction
  // ignores concurrent appends (its rows are unchanged) but fails if one of its files was
  // removed or received new delete files concurrently.
  // `extra_summary` is recorded in the new snapshot's summary (e.g. a CDC source position).
  Status overwrite(const std::vector<DataFile>& removed, const std::vector<DataFile>& added,
                   const std::vector<Predicate>& conflict_filter, bool is_compaction = false,
                   const std::map<std::string, std::string>& extra_summary = {});
  // Adds row-level delete files (operation "delete"/"overwrite" in merge-on-read).
  Status add_deletes(const std::vector<DataFile>& delete_files);

  Status update_schema(const std::vector<SchemaChange>& changes);
  // New default spec from fields (source column name + transform), keeping old specs for old
  // files (Iceberg spec: Partition Evolution).
  Status update_spec(const std::vector<std::pair<std::string, std::string>>& fields);
  // Known write properties are checked (see write_properties); others are stored as given.
  Status set_properties(const std::map<std::string, std::string>& set,
                        const std::vector<std::string>& remove = {});
  Status rollback_to(int64_t snapshot_id);

  // Maintenance. Each is safe while writers are active.
  struct ExpireResult {
    int64_t snapshots_expired = 0;
    int64_t files_deleted = 0;
  };
  Result<ExpireResult> expire_snapshots(int64_t older_than_ms, int retain_last);
  // Removes files under the table location that no metadata references and that are older
  // than `older_than_ms` (so in-flight writes survive). Returns the paths removed.
  Result<std::vector<std::string>> remove_orphan_files(int64_t older_than_ms, bool dry_run);

  // All live data and delete files of a snapshot (current if nullopt), for `sluice table files`.
  Result<std::vector<DataFile>> list_files(std::optional<int64_t> snapshot_id) const;

 private:
  friend class Catalog;
  Table(Catalog* catalog, TableIdent ident, TableMetadata metadata, std::string location);
  // Optimistic commit: `apply` builds new metadata from `base` (the table's latest metadata on
  // each attempt; files it writes go to `attempt_files` and are removed if the attempt loses
  // the race). nullopt means there is nothing to commit. Retries with backoff on a lost race.
  using ApplyFn = std::function<Result<std::optional<TableMetadata>>(
      const TableMetadata& base, std::vector<std::string>* attempt_files)>;
  Status commit(const std::string& operation, const ApplyFn& apply);
  Catalog* catalog_;
  TableIdent ident_;
  TableMetadata metadata_;
  std::string metadata_location_;
};

struct CreateTableOptions {
  // (source column name, transform) pairs, e.g. {"order_ts", "day"}, {"user_id", "bucket[16]"}.
  std::vector<std::pair<std::string, std::string>> partition_by;
  std::map<std::string, std::string> properties;
  std::optional<std::string> location;  // default: <warehouse>/<ns>/<name>
};

// The embedded catalog: namespaces and tables under one warehouse folder. A table's current
// metadata is named by a pointer that changes only by an atomic compare-and-swap, so a crash
// at any point leaves the previous metadata current and nothing half-visible.
class Catalog {
 public:
  static Result<std::shared_ptr<Catalog>> open(const std::filesystem::path& warehouse);

  const std::filesystem::path& warehouse() const { return warehouse_; }

  // raw, refined and curated always exist.
  Result<std::vector<std::string>> list_namespaces() const;
  Status create_namespace(const std::string& ns);
  Status drop_namespace(const std::string& ns);  // must be empty

  Result<std::vector<TableIdent>> list_tables(const std::string& ns) const;
  Result<Table> create_table(const TableIdent& ident, const Schema& schema,
                             const CreateTableOptions& options = {});
  Result<Table> load_table(const TableIdent& ident) const;
  bool table_exists(const TableIdent& ident) const;
  Status drop_table(const TableIdent& ident, bool purge);
  // Adopts a table another engine wrote (Iceberg catalog "register"): its files stay where they
  // are.
  Result<Table> register_table(const TableIdent& ident, const std::string& metadata_file);

 private:
  friend class Table;
  explicit Catalog(std::filesystem::path warehouse) : warehouse_(std::move(warehouse)) {}
  // <warehouse>/<ns>/<name>: holds the table's pointer (.sluice-pointer, naming the current
  // metadata file) and lock file (.sluice-lock); also the default table location.
  std::filesystem::path entry_dir(const TableIdent& ident) const;
  Status check_namespace(const TableIdent& ident) const;
  Result<std::string> read_pointer(const TableIdent& ident) const;
  Result<Table> load_from(const TableIdent& ident, const std::string& metadata_file) const;
  // Compare-and-swap of the pointer under the table's lock: kConflict if it no longer names
  // `expected` (empty: the table must not exist yet).
  Status swap_pointer(const TableIdent& ident, const std::string& expected,
                      const std::string& next);
  std::filesystem::path warehouse_;
};

}  // namespace sluice::lake

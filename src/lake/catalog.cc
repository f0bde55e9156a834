// The embedded catalog: namespaces are folders of the warehouse, a table is a folder with a
// pointer file naming its current metadata JSON. Commits swap the pointer atomically under a
// per-table flock (see README.md, "Commit protocol").
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "common/log.h"
#include "lake/lake_internal.h"

namespace sluice::lake {

namespace fs = std::filesystem;

namespace {

const char* kPointerFile = ".sluice-pointer";
const char* kLockFile = ".sluice-lock";
const std::set<std::string> kBuiltinNamespaces = {"raw", "refined", "curated"};

// Exclusive flock on a table's lock file for the lifetime of the object.
class TableLock {
 public:
  explicit TableLock(const fs::path& path) : path_(path) {}
  ~TableLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }
  Status acquire() {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      return io_error(path_.string() + ": cannot open lock file: " + std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR)
        return io_error(path_.string() + ": flock failed: " + std::strerror(errno));
    }
    return Status::ok();
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

}  // namespace

Result<std::shared_ptr<Catalog>> Catalog::open(const fs::path& warehouse) {
  std::error_code ec;
  fs::path abs = fs::absolute(warehouse, ec);
  if (ec) return io_error(warehouse.string() + ": " + ec.message());
  for (const auto& ns : kBuiltinNamespaces) {
    fs::create_directories(abs / ns, ec);
    if (ec) {
      return io_error("lake warehouse " + abs.string() + ": cannot create namespace folder '" + ns +
                      "': " + ec.message());
    }
  }
  return std::shared_ptr<Catalog>(new Catalog(abs.lexically_normal()));
}

Result<std::vector<std::string>> Catalog::list_namespaces() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(warehouse_, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && detail::is_valid_identifier(name)) out.push_back(name);
  }
  if (ec) return io_error("lake warehouse " + warehouse_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Status Catalog::create_namespace(const std::string& ns) {
  if (!detail::is_valid_identifier(ns)) {
    return invalid_argument("namespace '" + ns +
                            "' must be letters, digits and '_' (not starting with a digit)");
  }
  std::error_code ec;
  if (fs::exists(warehouse_ / ns, ec)) return already_exists("namespace '" + ns + "' exists");
  fs::create_directories(warehouse_ / ns, ec);
  if (ec) return io_error("namespace '" + ns + "': " + ec.message());
  return Status::ok();
}

Status Catalog::drop_namespace(const std::string& ns) {
  if (kBuiltinNamespaces.count(ns)) {
    return invalid_argument("namespace '" + ns +
                            "' is built in (raw, refined, curated always exist)");
  }
  std::error_code ec;
  if (!detail::is_valid_identifier(ns) || !fs::is_directory(warehouse_ / ns, ec)) {
    return not_found("namespace '" + ns + "' does not exist");
  }
  SLUICE_ASSIGN_OR_RETURN(auto tables, list_tables(ns));
  if (!tables.empty()) {
    return invalid_argument("namespace '" + ns + "' is not empty: it has " +
                            std::to_string(tables.size()) + " table(s), e.g. " +
                            tables[0].to_string() + "; drop them first");
  }
  fs::remove_all(warehouse_ / ns, ec);
  if (ec) return io_error("namespace '" + ns + "': " + ec.message());
  return Status::ok();
}

fs::path Catalog::entry_dir(const TableIdent& ident) const {
  return warehouse_ / ident.ns / ident.name;
}

Status Catalog::check_namespace(const TableIdent& ident) const {
  if (!detail::is_valid_identifier(ident.ns) || !detail::is_valid_identifier(ident.name)) {
    return TableIdent::parse(ident.to_string()).status();
  }
  std::error_code ec;
  if (!fs::is_directory(warehouse_ / ident.ns, ec)) {
    std::string known;
    if (auto nss = list_namespaces(); nss.is_ok()) {
      for (const auto& n : *nss)
        known += (known.empty() ? "" : ", ") + n;
    }
    return not_found("table " + ident.to_string() + ": namespace '" + ident.ns +
                     "' does not exist (namespaces: " + known + ")");
  }
  return Status::ok();
}

Result<std::vector<TableIdent>> Catalog::list_tables(const std::string& ns) const {
  TableIdent probe{ns, "x"};
  SLUICE_RETURN_IF_ERROR(check_namespace(probe));
  std::vector<TableIdent> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(warehouse_ / ns, ec)) {
    if (e.is_directory() && fs::exists(e.path() / kPointerFile)) {
      out.push_back({ns, e.path().filename().string()});
    }
  }
  if (ec) return io_error("namespace '" + ns + "': " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const TableIdent& a, const TableIdent& b) { return a.name < b.name; });
  return out;
}

bool Catalog::table_exists(const TableIdent& ident) const {
  if (!check_namespace(ident).is_ok()) return false;
  std::error_code ec;
  return fs::exists(entry_dir(ident) / kPointerFile, ec);
}

Result<std::string> Catalog::read_pointer(const TableIdent& ident) const {
  SLUICE_RETURN_IF_ERROR(check_namespace(ident));
  fs::path p = entry_dir(ident) / kPointerFile;
  auto text = detail::read_file(p.string());
  if (!text.is_ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      std::string known;
      if (auto ts = list_tables(ident.ns); ts.is_ok()) {
        for (const auto& t : *ts)
          known += (known.empty() ? "" : ", ") + t.name;
      }
      return not_found("table " + ident.to_string() + " does not exist (namespace '" + ident.ns +
                       "' has: " + (known.empty() ? "no tables" : known) + ")");
    }
    return text.status().with_context("table " + ident.to_string());
  }
  std::string loc = trim(*text);
  if (loc.empty()) {
    return corruption("table " + ident.to_string() + ": pointer file " + p.string() + " is empty");
  }
  return loc;
}

namespace {

// Parsed metadata files by path. A metadata file is written once and never changed (a commit
// writes a new one), so a parse can be reused; size and modification time guard against a file
// replaced behind the catalog's back. Small: a table's metadata grows with its snapshots, and a
// parse of a few hundred snapshots costs milliseconds on every statement and commit.
class MetadataCache {
 public:
  std::optional<TableMetadata> get(const std::string& path, const struct stat& st) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(path);
    if (it == entries_.end() || it->second.size != st.st_size ||
        it->second.mtime_ns != mtime_ns(st)) {
      return std::nullopt;
    }
    it->second.last_use = ++clock_;
    return it->second.md;
  }
  void put(const std::string& path, const struct stat& st, const TableMetadata& md) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= kCapacity && !entries_.count(path)) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(), [](auto& a, auto& b) {
        return a.second.last_use < b.second.last_use;
      });
      entries_.erase(oldest);
    }
    entries_[path] = Entry{md, st.st_size, mtime_ns(st), ++clock_};
  }

 private:
  static constexpr size_t kCapacity = 64;
  static int64_t mtime_ns(const struct stat& st) {
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  struct Entry {
    TableMetadata md;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t last_use = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
  uint64_t clock_ = 0;
};

MetadataCache& metadata_cache() {
  static MetadataCache cache;
  return cache;
}

}  // namespace

Result<Table> Catalog::load_from(const TableIdent& ident, const std::string& metadata_file) const {
  struct stat st {};
  bool stated = ::stat(metadata_file.c_str(), &st) == 0;
  if (stated) {
    if (auto md = metadata_cache().get(metadata_file, st)) {
      return Table(const_cast<Catalog*>(this), ident, std::move(*md), metadata_file);
    }
  }
  auto text = detail::read_file(metadata_file);
  if (!text.is_ok()) {
    return text.status().with_context("table " + ident.to_string() + ": metadata file");
  }
  auto md = parse_table_metadata(*text, metadata_file);
  if (!md.is_ok()) return md.status().with_context("table " + ident.to_string());
  if (stated) metadata_cache().put(metadata_file, st, *md);
  return Table(const_cast<Catalog*>(this), ident, std::move(md).value(), metadata_file);
}

Result<Table> Catalog::load_table(const TableIdent& ident) const {
  SLUICE_ASSIGN_OR_RETURN(std::string loc, read_pointer(ident));
  return load_from(ident, loc);
}

Status Catalog::swap_pointer(const TableIdent& ident, const std::string& expected,
                             const std::string& next) {
  fs::path dir = entry_dir(ident);
  TableLock lock(dir / kLockFile);
  SLUICE_RETURN_IF_ERROR(lock.acquire());
  fs::path pointer = dir / kPointerFile;
  std::error_code ec;
  // A commit killed between writing its temporary pointer and renaming it left that file; only
  // the lock holder writes one, so any found now is dead.
  const std::string tmp_prefix = std::string(kPointerFile) + ".tmp-";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with(tmp_prefix)) {
      std::error_code rm;
      fs::remove(it->path(), rm);
    }
  }
  bool exists = fs::exists(pointer, ec);
  if (expected.empty()) {
    if (exists) return already_exists("table " + ident.to_string() + " already exists");
  } else {
    if (!exists) return not_found("table " + ident.to_string() + " was dropped");
    SLUICE_ASSIGN_OR_RETURN(std::string current, read_pointer(ident));
    if (current != expected) {
      return conflict("table " + ident.to_string() + ": metadata changed from " + expected +
                      " to " + current);
    }
  }
  std::string tmp = (dir / (std::string(kPointerFile) + ".tmp-" + detail::new_uuid())).string();
  SLUICE_RETURN_IF_ERROR(detail::write_new_file(tmp, next + "\n"));
  if (Status st = detail::fault_point("commit.before-swap"); !st.is_ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), pointer.c_str()) != 0) {
    Status st = io_error("table " + ident.to_string() + ": cannot rename " + tmp + " over " +
                         pointer.string() + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return st;
  }
  SLUICE_RETURN_IF_ERROR(detail::fault_point("commit.after-swap"));
  return detail::fsync_dir(dir);
}

namespace {
Status validate_and_number_schema(Schema* s, const std::string& table) {
  if (s->fields.empty()) return invalid_argument("table " + table + ": the schema has no columns");
  std::set<std::string> names;
  for (const auto& f : s->fields) {
    if (f.name.empty()) return invalid_argument("table " + table + ": a column has no name");
    if (!names.insert(f.name).second) {
      return invalid_argument("table " + table + ": column '" + f.name + "' appears twice");
    }
    if (!f.type)
      return invalid_argument("table " + table + ": column '" + f.name + "' has no type");
    SLUICE_RETURN_IF_ERROR(
        detail::validate_type(*f.type, "table " + table + ": column '" + f.name + "'"));
  }
  // Assign fresh ids when the caller left any at 0: top-level fields first, then nested ones
  // (as Iceberg's own writers do).
  bool assign = false;
  std::function<void(const std::vector<NestedField>&)> scan =
      [&](const std::vector<NestedField>& fs) {
        for (const auto& f : fs) {
          if (f.id <= 0) assign = true;
          if (f.type && !f.type->is_primitive()) scan(f.type->fields);
        }
      };
  scan(s->fields);
  if (assign) {
    int next = 0;
    std::function<std::vector<NestedField>(std::vector<NestedField>)> renumber =
        [&](std::vector<NestedField> fs) {
          for (auto& f : fs)
            f.id = ++next;
          for (auto& f : fs) {
            if (!f.type->is_primitive()) {
              auto t = std::make_shared<Type>(*f.type);
              t->fields = renumber(t->fields);
              f.type = t;
            }
          }
          return fs;
        };
    std::map<std::string, int> old_ids;
    for (const auto& f : s->fields)
      old_ids[f.name] = f.id;
    s->fields = renumber(s->fields);
    std::vector<int> new_ident;
    for (int id : s->identifier_field_ids) {
      for (const auto& [name, old] : old_ids) {
        if (old == id) new_ident.push_back(s->find_field(std::string_view(name))->id);
      }
    }
    s->identifier_field_ids = new_ident;
  } else {
    std::set<int> ids;
    std::function<Status(const std::vector<NestedField>&)> check =
        [&](const std::vector<NestedField>& fs) -> Status {
      for (const auto& f : fs) {
        if (!ids.insert(f.id).second) {
          return invalid_argument("table " + table + ": field id " + std::to_string(f.id) +
                                  " is used twice (column '" + f.name + "')");
        }
        if (!f.type->is_primitive()) SLUICE_RETURN_IF_ERROR(check(f.type->fields));
      }
      return Status::ok();
    };
    SLUICE_RETURN_IF_ERROR(check(s->fields));
  }
  for (int id : s->identifier_field_ids) {
    const NestedField* f = s->find_field(id);
    if (!f) {
      return invalid_argument("table " + table + ": identifier field id " + std::to_string(id) +
                              " is not a column");
    }
    if (!f->required || !f->type->is_primitive() || f->type->primitive == "float" ||
        f->type->primitive == "double") {
      return invalid_argument("table " + table + ": identifier column '" + f->name +
                              "' must be a required primitive (not float or double)");
    }
  }
  return Status::ok();
}
}  // namespace

namespace detail {
// Builds a partition spec from (column, transform) pairs against `schema`. Field ids are reused
// from `md`'s specs for the same (source, transform), else taken from last_partition_id.
Result<PartitionSpec> build_spec(const std::vector<std::pair<std::string, std::string>>& fields,
                                 const Schema& schema, TableMetadata* md, int spec_id,
                                 const std::string& table) {
  PartitionSpec spec;
  spec.spec_id = spec_id;
  std::set<std::string> names;
  for (const auto& [column, transform] : fields) {
    const NestedField* src = schema.find_field(std::string_view(column));
    if (!src) {
      std::string cols;
      for (const auto& f : schema.fields)
        cols += (cols.empty() ? "" : ", ") + f.name;
      return invalid_argument("table " + table + ": cannot partition by unknown column '" + column +
                              "' (columns: " + cols + ")");
    }
    SLUICE_RETURN_IF_ERROR(
        validate_transform(transform, *src->type, column).with_context("table " + table));
    SLUICE_ASSIGN_OR_RETURN(std::string t, canonical_transform(transform));
    PartitionField pf;
    pf.source_id = src->id;
    pf.transform = t;
    pf.name = default_partition_name(column, t);
    if (!names.insert(pf.name).second) {
      return invalid_argument("table " + table + ": partition field '" + pf.name +
                              "' is given twice");
    }
    if (t != "identity" && schema.find_field(std::string_view(pf.name))) {
      return invalid_argument("table " + table + ": partition field name '" + pf.name +
                              "' collides with a column");
    }
    pf.field_id = 0;
    for (const auto& old : md->partition_specs) {
      for (const auto& of : old.fields) {
        if (of.source_id == pf.source_id && of.transform == pf.transform) pf.field_id = of.field_id;
      }
    }
    if (pf.field_id == 0) pf.field_id = ++md->last_partition_id;
    spec.fields.push_back(pf);
  }
  return spec;
}
}  // namespace detail

Result<Table> Catalog::create_table(const TableIdent& ident, const Schema& schema_in,
                                    const CreateTableOptions& options) {
  SLUICE_RETURN_IF_ERROR(check_namespace(ident));
  const std::string name = ident.to_string();
  if (table_exists(ident)) return already_exists("table " + name + " already exists");
  Schema schema = schema_in;
  schema.schema_id = 0;
  SLUICE_RETURN_IF_ERROR(validate_and_number_schema(&schema, name));

  TableMetadata md;
  md.format_version = 2;
  md.table_uuid = detail::new_uuid();
  fs::path location =
      options.location ? fs::absolute(detail::local_path(*options.location)) : entry_dir(ident);
  md.location = location.lexically_normal().string();
  while (md.location.size() > 1 && md.location.back() == '/')
    md.location.pop_back();
  md.last_sequence_number = 0;
  md.last_updated_ms = detail::now_ms();
  md.last_column_id = schema.highest_field_id();
  md.schemas = {schema};
  md.current_schema_id = 0;
  md.last_partition_id = 999;
  SLUICE_ASSIGN_OR_RETURN(auto spec,
                          detail::build_spec(options.partition_by, schema, &md, 0, name));
  md.partition_specs = {spec};
  md.default_spec_id = 0;
  md.sort_orders = {SortOrder{0, {}}};
  md.default_sort_order_id = 0;
  md.properties = options.properties;

  std::error_code ec;
  fs::create_directories(entry_dir(ident), ec);
  fs::create_directories(location / "metadata", ec);
  fs::create_directories(location / "data", ec);
  if (ec) return io_error("table " + name + ": cannot create folders: " + ec.message());
  std::string file =
      (location / "metadata" / ("00000-" + detail::new_uuid() + ".metadata.json")).string();
  SLUICE_RETURN_IF_ERROR(detail::write_new_file(file, serialize_table_metadata(md)));
  SLUICE_RETURN_IF_ERROR(detail::fsync_dir(location / "metadata"));
  Status st = swap_pointer(ident, "", file);
  if (!st.is_ok()) {
    fs::remove(file, ec);
    return st;
  }
  log::info("lake table created", {log::kv("table", name), log::kv("location", md.location)});
  return Table(this, ident, std::move(md), file);
}

Result<Table> Catalog::register_table(const TableIdent& ident, const std::string& metadata_file) {
  SLUICE_RETURN_IF_ERROR(check_namespace(ident));
  const std::string name = ident.to_string();
  if (table_exists(ident)) return already_exists("table " + name + " already exists");
  std::string path = detail::local_path(metadata_file);
  std::error_code ec;
  if (path.find("://") != std::string::npos) {
    return unimplemented("register " + name + ": " + metadata_file +
                         ": only local metadata files can be registered");
  }
  path = fs::absolute(path, ec).lexically_normal().string();
  SLUICE_ASSIGN_OR_RETURN(Table t, load_from(ident, path));
  std::string loc = detail::local_path(t.metadata().location);
  if (loc.find("://") != std::string::npos) {
    return unimplemented("register " + name + ": table location " + t.metadata().location +
                         " is not on the local filesystem");
  }
  fs::create_directories(entry_dir(ident), ec);
  if (ec) return io_error("register " + name + ": " + ec.message());
  SLUICE_RETURN_IF_ERROR(swap_pointer(ident, "", path));
  log::info("lake table registered", {log::kv("table", name), log::kv("metadata", path)});
  return t;
}

namespace detail {
Result<std::set<std::string>> all_reachable_files(const TableMetadata& md,
                                                  const std::string& metadata_location);
}

Status Catalog::drop_table(const TableIdent& ident, bool purge) {
  SLUICE_ASSIGN_OR_RETURN(Table t, load_table(ident));
  fs::path dir = entry_dir(ident);
  std::error_code ec;
  if (purge) {
    SLUICE_ASSIGN_OR_RETURN(auto files,
                            detail::all_reachable_files(t.metadata(), t.metadata_location()));
    for (const auto& f : files)
      fs::remove(f, ec);
  }
  {
    TableLock lock(dir / kLockFile);
    SLUICE_RETURN_IF_ERROR(lock.acquire());
    fs::remove(dir / kPointerFile, ec);
    if (ec) return io_error("drop " + ident.to_string() + ": " + ec.message());
  }
  fs::remove(dir / kLockFile, ec);
  if (purge && fs::path(detail::local_path(t.metadata().location)) == dir) {
    fs::remove_all(dir, ec);
  } else if (fs::is_empty(dir, ec)) {
    fs::remove(dir, ec);
  }
  log::info("lake table dropped", {log::kv("table", ident.to_string()), log::kv("purge", purge)});
  return Status::ok();
}

}  // namespace sluice::lake

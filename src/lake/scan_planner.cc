// Scan planning (Iceberg spec: Scan Planning): manifests pruned by partition summaries, files
// by partition values and column bounds/null counts, deletes assigned by the sequence number
// rules. Parsed manifests are cached by path, so repeated plans do not re-read them.
#include <cmath>
#include <filesystem>
#include <unordered_map>

#include "lake/lake_internal.h"

namespace sluice::lake {

namespace detail {

using Op = Predicate::Op;

struct FileFilter::PartPred {
  size_t pos = 0;  // index in the spec's fields
  Op op = Op::kEq;
  std::vector<Value> values;
  TypePtr type;  // the partition field's type
};

namespace {

bool is_nan(const Value& v) {
  if (auto* d = std::get_if<double>(&v)) return std::isnan(*d);
  if (auto* f = std::get_if<float>(&v)) return std::isnan(*f);
  return false;
}

// Inclusive projection of a column predicate through a partition transform: a file whose
// partition value fails the projected predicate cannot hold a matching row.
std::optional<FileFilter::PartPred> project(const PartitionField& pf, const Type& source,
                                            const Predicate& p) {
  FileFilter::PartPred out;
  auto rt = transform_result_type(pf.transform, source);
  if (!rt.is_ok()) return std::nullopt;
  out.type = *rt;
  const std::string& t = pf.transform;
  if (t == "void") return std::nullopt;
  if (p.op == Op::kIsNull || p.op == Op::kNotNull) {
    out.op = p.op;
    return out;
  }
  for (const auto& v : p.values) {
    if (is_nan(v) || std::holds_alternative<Null>(v)) return std::nullopt;
  }
  auto apply_all = [&]() -> bool {
    for (const auto& v : p.values) {
      auto r = apply_transform(t, source, v);
      if (!r.is_ok()) return false;
      out.values.push_back(*r);
    }
    return true;
  };
  if (t == "identity") {
    out.op = p.op;
    out.values = p.values;
    return out;
  }
  bool bucket = t.rfind("bucket[", 0) == 0;
  switch (p.op) {
    case Op::kEq:
    case Op::kIn:
      out.op = p.op;
      if (!apply_all()) return std::nullopt;
      return out;
    case Op::kLt:
    case Op::kLtEq:
      if (bucket || !transform_preserves_order(t)) return std::nullopt;
      out.op = Op::kLtEq;
      if (!apply_all()) return std::nullopt;
      return out;
    case Op::kGt:
    case Op::kGtEq:
      if (bucket || !transform_preserves_order(t)) return std::nullopt;
      out.op = Op::kGtEq;
      if (!apply_all()) return std::nullopt;
      return out;
    default:
      return std::nullopt;
  }
}

// What is known about a column (or partition field) in a file or manifest.
struct Range {
  std::optional<Value> lower, upper;
  bool may_have_null = true;  // false only if proven
  bool all_null = false;      // true only if proven (no non-null, non-NaN value)
};

bool might_match(Op op, const std::vector<Value>& values, const Type& type, const Range& r) {
  switch (op) {
    case Op::kIsNull:
      return r.may_have_null;
    case Op::kNotNull:
      return !r.all_null;
    case Op::kNotEq:
      // No row matches only if every non-null value equals the literal.
      if (r.all_null) return false;
      if (values.size() == 1 && !is_nan(values[0]) && r.lower && r.upper &&
          compare_values(type, *r.lower, values[0]) == 0 &&
          compare_values(type, *r.upper, values[0]) == 0) {
        return false;
      }
      return true;
    default:
      break;
  }
  if (r.all_null) return false;
  auto below_lower = [&](const Value& v) {  // v < lower
    return r.lower && compare_values(type, v, *r.lower) < 0;
  };
  auto above_upper = [&](const Value& v) {  // v > upper
    return r.upper && compare_values(type, v, *r.upper) > 0;
  };
  if (values.empty()) return true;
  for (const auto& v : values) {
    if (is_nan(v)) return true;
  }
  const Value& v = values[0];
  switch (op) {
    case Op::kEq:
      return !below_lower(v) && !above_upper(v);
    case Op::kIn:
      for (const auto& x : values) {
        if (!below_lower(x) && !above_upper(x)) return true;
      }
      return false;
    case Op::kLt:  // some x < v needs lower < v
      return !r.lower || compare_values(type, *r.lower, v) < 0;
    case Op::kLtEq:
      return !r.lower || compare_values(type, *r.lower, v) <= 0;
    case Op::kGt:
      return !r.upper || compare_values(type, *r.upper, v) > 0;
    case Op::kGtEq:
      return !r.upper || compare_values(type, *r.upper, v) >= 0;
    default:
      return true;
  }
}

}  // namespace

Result<FileFilter> FileFilter::make(const TableMetadata& md, const Schema& schema,
                                    const std::vector<Predicate>& filter) {
  FileFilter out;
  for (const auto& p : filter) {
    const NestedField* f = schema.find_field(p.field_id);
    if (!f) {
      return invalid_argument("filter: column id " + std::to_string(p.field_id) +
                              " is not in schema " + std::to_string(schema.schema_id));
    }
    if (!f->type->is_primitive()) {
      return invalid_argument("filter: column '" + f->name + "' is not a primitive column");
    }
    Predicate c = p;
    size_t want_min = 1, want_max = 1;
    if (p.op == Op::kIsNull || p.op == Op::kNotNull) want_min = want_max = 0;
    if (p.op == Op::kIn) want_max = SIZE_MAX;
    if (p.values.size() < want_min || p.values.size() > want_max) {
      return invalid_argument("filter on column '" + f->name + "': wrong number of values (" +
                              std::to_string(p.values.size()) + ")");
    }
    for (auto& v : c.values) {
      SLUICE_ASSIGN_OR_RETURN(v, coerce_value(*f->type, v, "filter on column '" + f->name + "'"));
    }
    out.preds_.push_back(c);
    out.types_.push_back(f->type);
    for (const auto& spec : md.partition_specs) {
      for (size_t i = 0; i < spec.fields.size(); ++i) {
        if (spec.fields[i].source_id != p.field_id) continue;
        auto pp = project(spec.fields[i], *f->type, c);
        if (!pp) continue;
        pp->pos = i;
        out.by_spec_[spec.spec_id].push_back(std::make_shared<PartPred>(std::move(*pp)));
      }
    }
  }
  return out;
}

bool FileFilter::manifest_might_match(const ManifestFile& mf) const {
  auto it = by_spec_.find(mf.partition_spec_id);
  if (it == by_spec_.end() || !mf.partitions) return true;
  for (const auto& pp : it->second) {
    if (pp->pos >= mf.partitions->size()) continue;
    const FieldSummary& s = (*mf.partitions)[pp->pos];
    Range r;
    r.may_have_null = s.contains_null;
    if (s.lower_bound) {
      auto v = decode_single_value(*pp->type, *s.lower_bound);
      if (!v.is_ok()) continue;
      r.lower = *v;
    }
    if (s.upper_bound) {
      auto v = decode_single_value(*pp->type, *s.upper_bound);
      if (!v.is_ok()) continue;
      r.upper = *v;
    }
    r.all_null = !s.lower_bound && !s.upper_bound && !s.contains_nan.value_or(false);
    if (!might_match(pp->op, pp->values, *pp->type, r)) return false;
  }
  return true;
}

bool FileFilter::file_might_match(const DataFile& f) const {
  if (auto it = by_spec_.find(f.spec_id); it != by_spec_.end()) {
    for (const auto& pp : it->second) {
      if (pp->pos >= f.partition.size()) continue;
      const Value& v = f.partition[pp->pos];
      Range r;
      bool null = std::holds_alternative<Null>(v);
      r.may_have_null = null;
      r.all_null = null;
      if (!null) {
        auto c = coerce_value(*pp->type, v, "partition");
        if (!c.is_ok()) continue;
        r.lower = *c;
        r.upper = *c;
      }
      if (!might_match(pp->op, pp->values, *pp->type, r)) return false;
    }
  }
  for (size_t i = 0; i < preds_.size(); ++i) {
    const Predicate& p = preds_[i];
    const Type& type = *types_[i];
    Range r;
    auto nulls = f.null_value_counts.find(p.field_id);
    auto values = f.value_counts.find(p.field_id);
    auto nans = f.nan_value_counts.find(p.field_id);
    if (nulls != f.null_value_counts.end()) r.may_have_null = nulls->second > 0;
    if (nulls != f.null_value_counts.end() && values != f.value_counts.end()) {
      int64_t nan = nans != f.nan_value_counts.end() ? nans->second : 0;
      r.all_null = values->second - nulls->second - nan <= 0 && nan == 0;
    }
    if (auto lb = f.lower_bounds.find(p.field_id); lb != f.lower_bounds.end()) {
      if (auto v = decode_single_value(type, lb->second); v.is_ok()) r.lower = *v;
    }
    if (auto ub = f.upper_bounds.find(p.field_id); ub != f.upper_bounds.end()) {
      if (auto v = decode_single_value(type, ub->second); v.is_ok()) r.upper = *v;
    }
    if (!might_match(p.op, p.values, type, r)) return false;
  }
  return true;
}

}  // namespace detail

namespace {

constexpr int kDeleteFilePathId = 2147483546;  // Iceberg spec: position delete file_path column

// Chooses the snapshot a scan reads (current, by id, or as of a time).
Result<const Snapshot*> choose_snapshot(const TableMetadata& md, const ScanOptions& o,
                                        const std::string& table) {
  if (o.snapshot_id && o.as_of_ms) {
    return invalid_argument("table " + table +
                            ": give a snapshot id or a timestamp to travel to, not both");
  }
  if (o.snapshot_id) {
    const Snapshot* s = md.snapshot_by_id(*o.snapshot_id);
    if (!s) {
      return not_found("table " + table + ": snapshot " + std::to_string(*o.snapshot_id) +
                       " does not exist (expired, or never was)");
    }
    return s;
  }
  if (o.as_of_ms) {
    const Snapshot* s = md.snapshot_as_of(*o.as_of_ms);
    if (!s) {
      return not_found("table " + table + ": no snapshot was current at " +
                       std::to_string(*o.as_of_ms) + " ms (the table's first snapshot is later)");
    }
    return s;
  }
  return md.current_snapshot();
}

}  // namespace

Result<ScanPlan> Table::plan_scan(const ScanOptions& options) const {
  const std::string name = ident_.to_string();
  const TableMetadata& md = metadata_;
  SLUICE_ASSIGN_OR_RETURN(const Snapshot* snap, choose_snapshot(md, options, name));
  ScanPlan plan;
  plan.schema = md.current_schema();
  bool travelling = options.snapshot_id || options.as_of_ms;
  if (travelling && snap && snap->schema_id) {
    if (const Schema* s = md.schema_by_id(*snap->schema_id)) plan.schema = *s;
  }
  auto filter = detail::FileFilter::make(md, plan.schema, options.filter);
  if (!filter.is_ok()) return filter.status().with_context("table " + name);
  if (!snap) return plan;
  plan.read_by_name = md.schemas.size() == 1 && catalog_ != nullptr &&
                      std::filesystem::path(detail::local_path(md.location)).lexically_normal() ==
                          catalog_->entry_dir(ident_).lexically_normal();
  plan.snapshot_id = snap->snapshot_id;

  auto list = detail::cached_manifest_list(snap->manifest_list);
  if (!list.is_ok()) return list.status().with_context("table " + name);
  std::vector<DataFile> deletes;
  for (const auto& mf : (*list)->manifests) {
    ++plan.manifests_total;
    if (mf.content == 0 && !filter->manifest_might_match(mf)) {
      ++plan.manifests_skipped;
      int64_t n = mf.added_files_count + mf.existing_files_count;
      plan.files_total += n;
      plan.files_skipped += n;
      continue;
    }
    auto m = detail::cached_manifest(mf.manifest_path, md, mf.partition_spec_id);
    if (!m.is_ok()) return m.status().with_context("table " + name);
    for (const auto& e : (*m)->entries) {
      if (e.status == detail::EntryStatus::kDeleted) continue;
      if (e.file.content != FileContent::kData) {
        deletes.push_back(detail::inherit(e, mf));
        continue;
      }
      ++plan.files_total;
      if (!filter->file_might_match(e.file)) {
        ++plan.files_skipped;
        continue;
      }
      ScanTask t;
      t.data_file = detail::inherit(e, mf);
      plan.tasks.push_back(std::move(t));
    }
  }
  if (deletes.empty()) return plan;

  // Iceberg spec: Scan Planning - position deletes apply to data files of the same partition
  // with data seq <= the delete's; equality deletes to data files with data seq < the delete's,
  // in the same partition or anywhere when the delete's spec is unpartitioned.
  std::unordered_map<std::string, std::vector<const DataFile*>> pos_by_part, eq_by_part;
  std::vector<const DataFile*> eq_global;
  for (const auto& d : deletes) {
    std::string key = detail::partition_key(d.spec_id, d.partition);
    if (d.content == FileContent::kPositionDeletes) {
      pos_by_part[key].push_back(&d);
    } else {
      const PartitionSpec* spec = md.spec_by_id(d.spec_id);
      if (spec && spec->is_unpartitioned()) {
        eq_global.push_back(&d);
      } else {
        eq_by_part[key].push_back(&d);
      }
    }
  }
  for (auto& t : plan.tasks) {
    const DataFile& f = t.data_file;
    std::string key = detail::partition_key(f.spec_id, f.partition);
    if (auto it = pos_by_part.find(key); it != pos_by_part.end()) {
      for (const DataFile* d : it->second) {
        if (d->data_sequence_number < f.data_sequence_number) continue;
        if (d->referenced_data_file && *d->referenced_data_file != f.file_path) continue;
        auto lb = d->lower_bounds.find(kDeleteFilePathId);
        auto ub = d->upper_bounds.find(kDeleteFilePathId);
        if (lb != d->lower_bounds.end() && f.file_path < lb->second) continue;
        if (ub != d->upper_bounds.end() && f.file_path > ub->second) continue;
        t.position_deletes.push_back(*d);
      }
    }
    auto add_eq = [&](const DataFile* d) {
      if (d->data_sequence_number > f.data_sequence_number) t.equality_deletes.push_back(*d);
    };
    if (auto it = eq_by_part.find(key); it != eq_by_part.end()) {
      for (const DataFile* d : it->second)
        add_eq(d);
    }
    for (const DataFile* d : eq_global)
      add_eq(d);
  }
  return plan;
}

Result<std::vector<DataFile>> Table::list_files(std::optional<int64_t> snapshot_id) const {
  ScanOptions o;
  o.snapshot_id = snapshot_id;
  const std::string name = ident_.to_string();
  SLUICE_ASSIGN_OR_RETURN(const Snapshot* snap, choose_snapshot(metadata_, o, name));
  std::vector<DataFile> out;
  if (!snap) return out;
  auto live = detail::live_files(metadata_, *snap);
  if (!live.is_ok()) return live.status().with_context("table " + name);
  out.reserve(live->size());
  for (auto& lf : *live)
    out.push_back(std::move(lf.file));
  return out;
}

}  // namespace sluice::lake

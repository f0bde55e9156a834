#include "cdc/backfill.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice::cdc {

namespace {

using Json = nlohmann::json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<size_t> key_indexes(const TableSchema& schema) {
  std::vector<size_t> out;
  for (size_t i = 0; i < schema.columns.size(); ++i)
    if (schema.columns[i].key) out.push_back(i);
  return out;
}

Result<std::string> key_compare(const TableSchema& schema, const std::vector<Value>& values,
                                const std::string& op, const IdentFn& ident,
                                const LiteralFn& literal) {
  const auto keys = key_indexes(schema);
  if (keys.empty()) {
    return invalid_argument(fmt::format("table {} has no key to backfill by", schema.table));
  }
  if (values.size() != keys.size()) {
    return invalid_argument(fmt::format("table {}: a key of {} values for {} key columns",
                                        schema.table, values.size(), keys.size()));
  }
  const std::string strict = op.substr(0, 1);  // > or <
  std::string out;
  // Lexicographic: k1 s v1 OR (k1 = v1 AND (k2 s v2 OR ...)), the last column with `op`.
  for (size_t j = keys.size(); j-- > 0;) {
    const Column& c = schema.columns[keys[j]];
    if (!values[j]) {
      return invalid_argument(fmt::format("table {}: key column {} is NULL", schema.table, c.name));
    }
    if (c.kind == ValueKind::kBytes) {
      return unimplemented(fmt::format(
          "table {}: key column {} holds bytes; backfill needs keys of number, text, uuid, date "
          "or time types",
          schema.table, c.name));
    }
    const std::string id = ident(c);
    const std::string lit = literal(c, *values[j]);
    if (out.empty()) {
      out = fmt::format("{} {} {}", id, op, lit);
    } else {
      out = fmt::format("({0} {1} {2} OR ({0} = {2} AND {3}))", id, strict, lit, out);
    }
  }
  return "(" + out + ")";
}

Result<std::string> chunk_condition(const TableSchema& schema, const ChunkRequest& request,
                                    const IdentFn& ident, const LiteralFn& literal) {
  std::string out;
  if (!request.where.empty()) out = "(" + request.where + ")";
  if (!request.after_key.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto after,
                            key_compare(schema, request.after_key, ">", ident, literal));
    out += (out.empty() ? "" : " AND ") + after;
  }
  if (key_indexes(schema).empty()) {
    return invalid_argument(fmt::format(
        "table {} has no primary key to backfill by; name one with `key = [...]`", schema.table));
  }
  return out.empty() ? std::string("TRUE") : out;
}

std::string key_order(const TableSchema& schema, const IdentFn& ident) {
  std::string out;
  for (size_t i : key_indexes(schema))
    out += (out.empty() ? "" : ", ") + ident(schema.columns[i]);
  return out;
}

std::string backfill_to_json(const BackfillRequest& r) {
  Json j = {{"id", r.id},
            {"table", r.table},
            {"where", r.where},
            {"chunk_rows", r.chunk_rows},
            {"rows", r.rows},
            {"deleted", r.deleted},
            {"chunks", r.chunks},
            {"state", r.state},
            {"error", r.error},
            {"created_ms", r.created_ms},
            {"finished_ms", r.finished_ms}};
  if (r.after_key) {
    Json k = Json::array();
    for (const auto& v : *r.after_key)
      k.push_back(v ? Json(*v) : Json(nullptr));
    j["after_key"] = k;
  } else {
    j["after_key"] = nullptr;
  }
  return j.dump(2) + "\n";
}

Result<BackfillRequest> backfill_from_json(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("not a backfill request");
  BackfillRequest r;
  r.id = j.value("id", "");
  r.table = j.value("table", "");
  r.where = j.value("where", "");
  r.chunk_rows = j.value("chunk_rows", int64_t{10000});
  r.rows = j.value("rows", int64_t{0});
  r.deleted = j.value("deleted", int64_t{0});
  r.chunks = j.value("chunks", int64_t{0});
  r.state = j.value("state", "queued");
  r.error = j.value("error", "");
  r.created_ms = j.value("created_ms", int64_t{0});
  r.finished_ms = j.value("finished_ms", int64_t{0});
  if (j.contains("after_key") && j["after_key"].is_array()) {
    std::vector<Value> k;
    for (const auto& v : j["after_key"])
      k.push_back(v.is_string() ? Value(v.get<std::string>()) : Value());
    r.after_key = std::move(k);
  }
  if (r.id.empty() || r.table.empty())
    return invalid_argument("a backfill request needs id, table");
  return r;
}

std::filesystem::path backfills_dir(const std::filesystem::path& stream_dir) {
  return stream_dir / "backfills";
}

Status write_file_atomic(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return io_error("cannot write " + tmp.string());
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n <= 0) {
      ::close(fd);
      return io_error("cannot write " + tmp.string());
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return io_error("cannot rename " + tmp.string() + ": " + ec.message());
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

Status save_backfill(const std::filesystem::path& stream_dir, const BackfillRequest& r) {
  std::error_code ec;
  std::filesystem::create_directories(backfills_dir(stream_dir), ec);
  return write_file_atomic(backfills_dir(stream_dir) / (r.id + ".json"), backfill_to_json(r));
}

Result<BackfillRequest> queue_backfill(const std::filesystem::path& stream_dir,
                                       const std::string& table, const std::string& where,
                                       int64_t chunk_rows) {
  if (chunk_rows < 1) return invalid_argument("--chunk-rows must be at least 1");
  BackfillRequest r;
  r.created_ms = now_ms();
  r.id = fmt::format("{}-{}-{}", r.created_ms, ::getpid(), table);
  r.table = table;
  r.where = where;
  r.chunk_rows = chunk_rows;
  SLUICE_RETURN_IF_ERROR(save_backfill(stream_dir, r));
  return r;
}

Result<BackfillRequest> load_backfill(const std::filesystem::path& stream_dir,
                                      const std::string& id) {
  auto path = backfills_dir(stream_dir) / (id + ".json");
  std::ifstream in(path);
  if (!in) return not_found("no backfill " + id + " (" + path.string() + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = backfill_from_json(ss.str());
  if (!r.is_ok()) return r.status().with_context(path.string());
  return r;
}

Result<std::vector<BackfillRequest>> list_backfills(const std::filesystem::path& stream_dir) {
  std::vector<BackfillRequest> out;
  std::error_code ec;
  auto dir = backfills_dir(stream_dir);
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    auto r = load_backfill(stream_dir, e.path().stem().string());
    if (r.is_ok()) out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(), [](const BackfillRequest& a, const BackfillRequest& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
  });
  return out;
}

}  // namespace sluice::cdc

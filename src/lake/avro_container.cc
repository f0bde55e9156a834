// Avro spec: Object Container Files. avro-c's file writer cannot set custom header metadata
// (Iceberg needs schema, partition-spec, format-version, ... there), so the framing is written
// and read here; avro-c encodes and decodes the datums (avro_manifest.cc).
//   header: "Obj" 0x01, metadata map<bytes>, 16-byte sync marker
//   blocks: object count (long), byte size (long), data (codec-compressed), sync marker
#include <zlib.h>

#include <random>

#include "lake/lake_internal.h"

namespace sluice::lake::detail {

namespace {

void put_long(std::string* out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z & ~0x7fULL) {
    out->push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out->push_back(static_cast<char>(z));
}

void put_bytes(std::string* out, std::string_view b) {
  put_long(out, static_cast<int64_t>(b.size()));
  out->append(b);
}

class Cursor {
 public:
  Cursor(std::string_view b, const std::string& file) : b_(b), file_(file) {}
  Result<int64_t> long_value(const char* what) {
    uint64_t z = 0;
    int shift = 0;
    while (true) {
      if (pos_ >= b_.size()) return truncated(what);
      auto c = static_cast<uint8_t>(b_[pos_++]);
      if (shift > 63) return corrupt(std::string("bad varint in ") + what);
      z |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) break;
      shift += 7;
    }
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  Result<std::string_view> bytes(size_t n, const char* what) {
    if (b_.size() - pos_ < n) return truncated(what);
    auto r = b_.substr(pos_, n);
    pos_ += n;
    return r;
  }
  Result<std::string_view> length_prefixed(const char* what) {
    SLUICE_ASSIGN_OR_RETURN(int64_t n, long_value(what));
    if (n < 0) return corrupt(std::string("negative length in ") + what);
    return bytes(static_cast<size_t>(n), what);
  }
  bool at_end() const { return pos_ >= b_.size(); }
  Status truncated(const char* what) const {
    return corruption("Avro file " + file_ + ": truncated in " + what + " at byte " +
                      std::to_string(pos_));
  }
  Status corrupt(const std::string& what) const {
    return corruption("Avro file " + file_ + ": " + what + " at byte " + std::to_string(pos_));
  }

 private:
  std::string_view b_;
  const std::string& file_;
  size_t pos_ = 0;
};

Result<std::string> deflate_raw(std::string_view in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return internal_error("zlib deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return internal_error("zlib deflate failed");
  out.resize(zs.total_out);
  return out;
}

Result<std::string> inflate_raw(std::string_view in, const std::string& file) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) return internal_error("zlib inflateInit2 failed");
  std::string out;
  char buf[65536];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return corruption("Avro file " + file + ": a deflate block does not decompress");
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return corruption("Avro file " + file + ": a deflate block is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace

Result<std::string> frame_avro_container(const std::map<std::string, std::string>& metadata,
                                         const std::string& schema_json, std::string_view codec,
                                         const std::vector<std::string>& blocks,
                                         const std::vector<int64_t>& counts) {
  if (codec != "null" && codec != "deflate") {
    return invalid_argument("Avro codec '" + std::string(codec) + "' is not supported for writing");
  }
  std::string out = std::string("Obj\x01", 4);
  std::map<std::string, std::string> meta = metadata;
  meta["avro.schema"] = schema_json;
  meta["avro.codec"] = std::string(codec);
  put_long(&out, static_cast<int64_t>(meta.size()));
  for (const auto& [k, v] : meta) {
    put_bytes(&out, k);
    put_bytes(&out, v);
  }
  put_long(&out, 0);
  std::string sync(16, '\0');
  std::random_device rd;
  for (auto& c : sync)
    c = static_cast<char>(rd() & 0xff);
  out += sync;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (counts[i] == 0) continue;
    put_long(&out, counts[i]);
    if (codec == "deflate") {
      SLUICE_ASSIGN_OR_RETURN(std::string z, deflate_raw(blocks[i]));
      put_bytes(&out, z);
    } else {
      put_bytes(&out, blocks[i]);
    }
    out += sync;
  }
  return out;
}

Result<AvroContainer> read_avro_container(std::string_view bytes, const std::string& file) {
  if (bytes.size() < 4 || bytes.substr(0, 4) != std::string_view("Obj\x01", 4)) {
    return corruption("Avro file " + file + ": not an Avro object container file (bad magic)");
  }
  Cursor c(bytes.substr(4), file);
  AvroContainer out;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(int64_t n, c.long_value("header metadata"));
    if (n == 0) break;
    if (n < 0) {
      n = -n;
      SLUICE_RETURN_IF_ERROR(c.long_value("header metadata"));
    }
    for (int64_t i = 0; i < n; ++i) {
      SLUICE_ASSIGN_OR_RETURN(auto k, c.length_prefixed("header metadata key"));
      SLUICE_ASSIGN_OR_RETURN(auto v, c.length_prefixed("header metadata value"));
      out.metadata[std::string(k)] = std::string(v);
    }
  }
  SLUICE_ASSIGN_OR_RETURN(auto sync, c.bytes(16, "header sync marker"));
  std::string codec = "null";
  if (auto it = out.metadata.find("avro.codec"); it != out.metadata.end()) codec = it->second;
  if (codec != "null" && codec != "deflate") {
    return unimplemented("Avro file " + file + ": codec '" + codec +
                         "' is not supported (Sluice reads null and deflate)");
  }
  if (!out.metadata.count("avro.schema")) {
    return corruption("Avro file " + file + ": header has no avro.schema");
  }
  while (!c.at_end()) {
    SLUICE_ASSIGN_OR_RETURN(int64_t count, c.long_value("block object count"));
    SLUICE_ASSIGN_OR_RETURN(auto data, c.length_prefixed("block data"));
    SLUICE_ASSIGN_OR_RETURN(auto marker, c.bytes(16, "block sync marker"));
    if (marker != sync) return c.corrupt("block sync marker does not match the header's");
    if (count < 0) return c.corrupt("negative block object count");
    if (codec == "deflate") {
      SLUICE_ASSIGN_OR_RETURN(std::string raw, inflate_raw(data, file));
      out.blocks.push_back(std::move(raw));
    } else {
      out.blocks.emplace_back(data);
    }
    out.block_counts.push_back(count);
  }
  return out;
}

}  // namespace sluice::lake::detail

#include "bus/record_batch.h"

#include <fmt/format.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "bus/crc32c.h"
#include "bus/wire.h"

namespace sluice::bus {

Result<BatchHeader> parse_batch_header(std::string_view d) {
  if (d.size() < kBatchHeaderSize) {
    return corruption(
        fmt::format("record batch header needs {} bytes, have {}", kBatchHeaderSize, d.size()));
  }
  const char* p = d.data();
  BatchHeader h;
  h.base_offset = load_be64(p);
  h.length = load_be32(p + 8);
  h.leader_epoch = load_be32(p + 12);
  h.magic = static_cast<int8_t>(p[16]);
  h.crc = static_cast<uint32_t>(load_be32(p + 17));
  h.attributes = load_be16(p + 21);
  h.last_offset_delta = load_be32(p + 23);
  h.base_timestamp = load_be64(p + 27);
  h.max_timestamp = load_be64(p + 35);
  h.producer_id = load_be64(p + 43);
  h.producer_epoch = load_be16(p + 51);
  h.base_sequence = load_be32(p + 53);
  h.records_count = load_be32(p + 57);
  if (h.magic != 2) {
    return corruption(fmt::format("record batch magic {} (only v2 batches are supported)",
                                  static_cast<int>(h.magic)));
  }
  if (h.length < static_cast<int32_t>(kBatchHeaderSize - kBatchLogOverhead)) {
    return corruption(fmt::format("record batch length {} is shorter than its header", h.length));
  }
  return h;
}

Status validate_batch(std::string_view batch, const BatchHeader& h) {
  if (batch.size() != h.total_size()) {
    return corruption(fmt::format("record batch length {} does not match the {} bytes sent",
                                  h.total_size(), batch.size()));
  }
  uint32_t crc = crc32c(batch.data() + kBatchAttributesPos, batch.size() - kBatchAttributesPos);
  if (crc != h.crc) {
    return corruption(
        fmt::format("record batch CRC-32C mismatch (stored {:08x}, computed {:08x})", h.crc, crc));
  }
  if (h.records_count < 0 || h.last_offset_delta < 0) {
    return corruption(fmt::format("record batch has {} records and last offset delta {}",
                                  h.records_count, h.last_offset_delta));
  }
  if (static_cast<int>(h.compression()) > 4) {
    return corruption(fmt::format("record batch compression codec {} is unknown",
                                  static_cast<int>(h.compression())));
  }
  return Status::ok();
}

namespace {

Result<std::string> gunzip(std::string_view in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return internal_error("zlib inflateInit2 failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  char buf[65536];
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return corruption(fmt::format("gzip record set does not inflate (zlib {})", rc));
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;
  }
  inflateEnd(&zs);
  return out;
}

Result<std::string> unsnappy_raw(std::string_view in) {
  std::string out;
  if (!snappy::Uncompress(in.data(), in.size(), &out)) {
    return corruption("snappy record set does not decompress");
  }
  return out;
}

Result<std::string> unsnappy(std::string_view in) {
  // snappy-java's xerial framing: magic, two int32 versions, then (int32 length, block)*.
  static constexpr char kXerial[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
  if (in.size() < 16 || std::memcmp(in.data(), kXerial, 8) != 0) return unsnappy_raw(in);
  std::string out;
  size_t pos = 16;
  while (pos < in.size()) {
    if (in.size() - pos < 4) return corruption("xerial snappy block length is truncated");
    auto n = static_cast<uint32_t>(load_be32(in.data() + pos));
    pos += 4;
    if (in.size() - pos < n) return corruption("xerial snappy block is truncated");
    SLUICE_ASSIGN_OR_RETURN(auto block, unsnappy_raw(in.substr(pos, n)));
    out += block;
    pos += n;
  }
  return out;
}

Result<std::string> unlz4(std::string_view in) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
    return internal_error("LZ4F_createDecompressionContext failed");
  }
  std::string out;
  char buf[65536];
  const char* src = in.data();
  size_t left = in.size();
  while (left > 0) {
    size_t dst_size = sizeof(buf), src_size = left;
    size_t rc = LZ4F_decompress(ctx, buf, &dst_size, src, &src_size, nullptr);
    if (LZ4F_isError(rc)) {
      LZ4F_freeDecompressionContext(ctx);
      return corruption(
          fmt::format("lz4 record set does not decompress: {}", LZ4F_getErrorName(rc)));
    }
    out.append(buf, dst_size);
    src += src_size;
    left -= src_size;
    if (rc == 0 && left == 0) break;
    if (src_size == 0 && dst_size == 0) break;
  }
  LZ4F_freeDecompressionContext(ctx);
  return out;
}

Result<std::string> unzstd(std::string_view in) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  ZSTD_initDStream(ds);
  std::string out;
  char buf[65536];
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{buf, sizeof(buf), 0};
    size_t rc = ZSTD_decompressStream(ds, &ob, &ib);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(ds);
      return corruption(
          fmt::format("zstd record set does not decompress: {}", ZSTD_getErrorName(rc)));
    }
    out.append(buf, ob.pos);
    if (ob.pos == 0 && rc == 0) break;
  }
  // Drain output still buffered in the stream.
  for (;;) {
    ZSTD_outBuffer ob{buf, sizeof(buf), 0};
    size_t rc = ZSTD_decompressStream(ds, &ob, &ib);
    if (ZSTD_isError(rc) || ob.pos == 0) break;
    out.append(buf, ob.pos);
  }
  ZSTD_freeDStream(ds);
  return out;
}

}  // namespace

Result<std::string> decompress(Compression codec, std::string_view in) {
  switch (codec) {
    case Compression::kNone:
      return std::string(in);
    case Compression::kGzip:
      return gunzip(in);
    case Compression::kSnappy:
      return unsnappy(in);
    case Compression::kLz4:
      return unlz4(in);
    case Compression::kZstd:
      return unzstd(in);
  }
  return corruption(fmt::format("unknown compression codec {}", static_cast<int>(codec)));
}

Result<std::vector<Record>> decode_records(std::string_view batch, const BatchHeader& h) {
  std::string_view body = batch.substr(kBatchHeaderSize);
  std::string inflated;
  if (h.compression() != Compression::kNone) {
    SLUICE_ASSIGN_OR_RETURN(inflated, decompress(h.compression(), body));
    body = inflated;
  }
  std::vector<Record> out;
  out.reserve(static_cast<size_t>(std::max(0, h.records_count)));
  WireReader r(body);
  for (int32_t i = 0; i < h.records_count; ++i) {
    int64_t len = r.varint();
    if (!r.ok() || len < 0 || static_cast<size_t>(len) > r.remaining()) {
      return corruption(
          fmt::format("record {} of batch at offset {} is truncated", i, h.base_offset));
    }
    WireReader rr(r.raw(static_cast<size_t>(len)));
    Record rec;
    rr.i8();  // attributes (unused)
    rec.timestamp = h.base_timestamp + rr.varint();
    rec.offset = h.base_offset + rr.varint();
    int64_t klen = rr.varint();
    if (klen >= 0) rec.key = std::string(rr.raw(static_cast<size_t>(klen)));
    int64_t vlen = rr.varint();
    if (vlen >= 0) rec.value = std::string(rr.raw(static_cast<size_t>(vlen)));
    int64_t nh = rr.varint();
    for (int64_t k = 0; rr.ok() && k < nh; ++k) {
      int64_t hk = rr.varint();
      std::string hkey(rr.raw(static_cast<size_t>(std::max<int64_t>(0, hk))));
      int64_t hv = rr.varint();
      std::optional<std::string> hval;
      if (hv >= 0) hval = std::string(rr.raw(static_cast<size_t>(hv)));
      rec.headers.emplace_back(std::move(hkey), std::move(hval));
    }
    if (!rr.ok()) {
      return corruption(
          fmt::format("record {} of batch at offset {} is malformed", i, h.base_offset));
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::string encode_batch(const BatchHeader& like, const std::vector<Record>& records) {
  std::string out(kBatchHeaderSize, '\0');
  int64_t base_ts = records.empty() ? like.base_timestamp : records.front().timestamp;
  int64_t max_ts = base_ts;
  std::string rec;
  WireWriter w(&out);
  for (const auto& r : records) {
    rec.clear();
    WireWriter rw(&rec);
    rw.i8(0);
    rw.varint(r.timestamp - base_ts);
    rw.varint(r.offset - like.base_offset);
    if (r.key) {
      rw.varint(static_cast<int64_t>(r.key->size()));
      rw.raw(*r.key);
    } else {
      rw.varint(-1);
    }
    if (r.value) {
      rw.varint(static_cast<int64_t>(r.value->size()));
      rw.raw(*r.value);
    } else {
      rw.varint(-1);
    }
    rw.varint(static_cast<int64_t>(r.headers.size()));
    for (const auto& [k, v] : r.headers) {
      rw.varint(static_cast<int64_t>(k.size()));
      rw.raw(k);
      if (v) {
        rw.varint(static_cast<int64_t>(v->size()));
        rw.raw(*v);
      } else {
        rw.varint(-1);
      }
    }
    w.varint(static_cast<int64_t>(rec.size()));
    w.raw(rec);
    max_ts = std::max(max_ts, r.timestamp);
  }
  char* p = out.data();
  store_be64(p, like.base_offset);
  store_be32(p + 8, static_cast<int32_t>(out.size() - kBatchLogOverhead));
  store_be32(p + 12, like.leader_epoch);
  p[16] = 2;
  // Attributes: keep timestamp type and transactional/control bits, clear the codec.
  int16_t attrs = static_cast<int16_t>(like.attributes & ~0x7);
  p[21] = static_cast<char>((attrs >> 8) & 0xff);
  p[22] = static_cast<char>(attrs & 0xff);
  store_be32(p + 23, like.last_offset_delta);
  store_be64(p + 27, base_ts);
  store_be64(p + 35, max_ts);
  store_be64(p + 43, like.producer_id);
  p[51] = static_cast<char>((like.producer_epoch >> 8) & 0xff);
  p[52] = static_cast<char>(like.producer_epoch & 0xff);
  store_be32(p + 53, like.base_sequence);
  store_be32(p + 57, static_cast<int32_t>(records.size()));
  uint32_t crc = crc32c(p + kBatchAttributesPos, out.size() - kBatchAttributesPos);
  store_be32(p + 17, static_cast<int32_t>(crc));
  return out;
}

}  // namespace sluice::bus

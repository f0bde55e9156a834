// Kafka record batches, magic v2 (protocol guide, "Record Batch"). The broker stores batches as
// the producer sent them (any codec), rewriting only the base offset and leader epoch, which
// the CRC does not cover. Records are decoded (and decompressed) only where the broker must look
// inside: timestamp lookups and log compaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::bus {

// Byte offsets of the v2 batch header fields.
inline constexpr size_t kBatchBaseOffsetPos = 0;
inline constexpr size_t kBatchLengthPos = 8;
inline constexpr size_t kBatchLeaderEpochPos = 12;
inline constexpr size_t kBatchMagicPos = 16;
inline constexpr size_t kBatchCrcPos = 17;
inline constexpr size_t kBatchAttributesPos = 21;
inline constexpr size_t kBatchHeaderSize = 61;
// baseOffset + batchLength: the part not counted by batchLength.
inline constexpr size_t kBatchLogOverhead = 12;

enum class Compression : int { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t length = 0;  // bytes after the length field
  int32_t leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t records_count = 0;

  int64_t last_offset() const { return base_offset + last_offset_delta; }
  size_t total_size() const { return kBatchLogOverhead + static_cast<size_t>(length); }
  Compression compression() const { return static_cast<Compression>(attributes & 0x7); }
  bool is_transactional() const { return (attributes & 0x10) != 0; }
  bool is_control() const { return (attributes & 0x20) != 0; }
};

// Parses the 61-byte header at the start of `data` (no CRC check).
Result<BatchHeader> parse_batch_header(std::string_view data);

// Checks a whole batch as a producer sent it: magic 2, length, CRC-32C, record count.
Status validate_batch(std::string_view batch, const BatchHeader& h);

struct Record {
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// Decodes every record of a batch, decompressing it if needed.
Result<std::vector<Record>> decode_records(std::string_view batch, const BatchHeader& h);

// Builds an uncompressed v2 batch holding `records` (offsets and timestamps absolute) with the
// header fields (base offset, last offset delta, producer fields) of `like`, CRC computed.
std::string encode_batch(const BatchHeader& like, const std::vector<Record>& records);

// Decompresses a record set compressed with `codec` (Kafka's framing: gzip, raw or xerial
// snappy, LZ4 frame, zstd frame).
Result<std::string> decompress(Compression codec, std::string_view in);

}  // namespace sluice::bus

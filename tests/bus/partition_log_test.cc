#include "bus/partition_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "bus/wire.h"
#include "bus_test_util.h"

namespace sluice::bus {
namespace {

using testing::make_batch;
using testing::TempDir;

std::unique_ptr<PartitionLog> open_log(const std::filesystem::path& dir, LogConfig c = {}) {
  auto log = PartitionLog::open(dir, c);
  EXPECT_TRUE(log.is_ok()) << log.status().message();
  return log.is_ok() ? std::move(log).value() : nullptr;
}

// Offsets of every batch read from `from` to the end.
std::vector<int64_t> batch_offsets(const PartitionLog& log, int64_t from) {
  std::string data;
  auto n = log.read(from, 1 << 30, &data);
  EXPECT_TRUE(n.is_ok());
  std::vector<int64_t> out;
  for (size_t pos = 0; pos < data.size();) {
    auto h = parse_batch_header(std::string_view(data).substr(pos));
    EXPECT_TRUE(h.is_ok());
    if (!h.is_ok()) break;
    out.push_back(h->base_offset);
    pos += h->total_size();
  }
  return out;
}

TEST(PartitionLog, AppendsWithDenseOffsetsAndReadsBack) {
  TempDir dir("plog_append");
  auto log = open_log(dir.path());
  auto a = log->append(make_batch({{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  ASSERT_EQ(a.error, KafkaError::kNone) << a.message;
  EXPECT_EQ(a.base_offset, 0);
  auto b = log->append(make_batch({{"d", "4"}}));
  EXPECT_EQ(b.base_offset, 3);
  EXPECT_EQ(log->log_end_offset(), 4);
  EXPECT_EQ(batch_offsets(*log, 0), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(batch_offsets(*log, 1), (std::vector<int64_t>{0, 3}));  // the batch holding 1
  EXPECT_EQ(batch_offsets(*log, 3), (std::vector<int64_t>{3}));
  EXPECT_TRUE(batch_offsets(*log, 4).empty());
  std::string out;
  EXPECT_FALSE(log->read(5, 100, &out).is_ok());
}

// fsync=interval hands the flush to another thread: take_dirty_fd writes the pending index
// entries and returns a descriptor of the active segment once per batch of appends, -1 when
// nothing was appended since.
TEST(PartitionLog, TakeDirtyFdOncePerAppendsForABackgroundFlush) {
  TempDir dir("plog_dirty");
  LogConfig c;
  c.index_interval_bytes = 1;  // an index entry per batch
  auto log = open_log(dir.path(), c);
  auto clean = log->take_dirty_fd();
  ASSERT_TRUE(clean.is_ok());
  EXPECT_EQ(*clean, -1);
  ASSERT_EQ(log->append(make_batch({{"a", "1"}})).error, KafkaError::kNone);
  ASSERT_EQ(log->append(make_batch({{"b", "2"}})).error, KafkaError::kNone);
  EXPECT_TRUE(log->dirty());
  auto fd = log->take_dirty_fd();
  ASSERT_TRUE(fd.is_ok());
  ASSERT_GE(*fd, 0);
  EXPECT_FALSE(log->dirty());
  EXPECT_EQ(::fdatasync(*fd), 0);  // what the sync thread does with it
  ::close(*fd);
  EXPECT_EQ(*log->take_dirty_fd(), -1);
  // The index entries were written: two 8-byte entries.
  EXPECT_EQ(std::filesystem::file_size(dir.path() / "00000000000000000000.index"), 16u);
  ASSERT_EQ(log->append(make_batch({{"c", "3"}})).error, KafkaError::kNone);
  auto again = log->take_dirty_fd();
  ASSERT_TRUE(again.is_ok());
  EXPECT_GE(*again, 0);
  ::close(*again);
}

TEST(PartitionLog, RejectsCorruptBatches) {
  TempDir dir("plog_corrupt");
  auto log = open_log(dir.path());
  std::string b = make_batch({{"a", "1"}});
  b[b.size() - 1] ^= 1;
  EXPECT_EQ(log->append(b).error, KafkaError::kCorruptMessage);
  EXPECT_EQ(log->append(b.substr(0, 20)).error, KafkaError::kCorruptMessage);
  EXPECT_EQ(log->log_end_offset(), 0);
}

TEST(PartitionLog, RollsSegmentsAndRecoversAfterReopen) {
  TempDir dir("plog_roll");
  LogConfig c;
  c.segment_bytes = 1024;
  c.index_interval_bytes = 200;
  {
    auto log = open_log(dir.path(), c);
    for (int i = 0; i < 100; ++i)
      ASSERT_EQ(log->append(make_batch({{"k" + std::to_string(i), std::string(40, 'v')}})).error,
                KafkaError::kNone);
    EXPECT_GT(log->segment_count(), 3u);
  }
  auto log = open_log(dir.path(), c);
  EXPECT_EQ(log->log_end_offset(), 100);
  auto offs = batch_offsets(*log, 37);
  ASSERT_EQ(offs.size(), 63u);
  EXPECT_EQ(offs.front(), 37);
  EXPECT_EQ(offs.back(), 99);
  EXPECT_EQ(log->append(make_batch({{"x", "y"}})).base_offset, 100);
}

TEST(PartitionLog, TruncatesTornTailOnRecovery) {
  TempDir dir("plog_torn");
  {
    auto log = open_log(dir.path());
    for (int i = 0; i < 5; ++i)
      ASSERT_EQ(log->append(make_batch({{"k", "v" + std::to_string(i)}})).error, KafkaError::kNone);
  }
  auto seg = dir.path() / "00000000000000000000.log";
  auto size = std::filesystem::file_size(seg);
  {
    // A half-written sixth batch, then flip a byte inside the fifth one.
    std::string next = make_batch({{"k", "torn"}});
    store_be64(next.data(), 5);
    std::ofstream(seg, std::ios::app | std::ios::binary) << next.substr(0, next.size() / 2);
  }
  auto log = open_log(dir.path());
  EXPECT_EQ(log->log_end_offset(), 5);
  EXPECT_EQ(std::filesystem::file_size(seg), size);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 2));
    f.put('Z');
  }
  log.reset();
  log = open_log(dir.path());
  EXPECT_EQ(log->log_end_offset(), 4);  // the damaged last batch is dropped, offsets stay dense
  EXPECT_EQ(log->append(make_batch({{"k", "again"}})).base_offset, 4);
}

TEST(PartitionLog, IdempotentProducerDeduplicatesAndOrders) {
  TempDir dir("plog_idem");
  auto log = open_log(dir.path());
  auto b0 = make_batch({{"a", "1"}, {"b", "2"}}, -1, 7, 0, 0);
  auto b1 = make_batch({{"c", "3"}}, -1, 7, 0, 2);
  EXPECT_EQ(log->append(b0).base_offset, 0);
  EXPECT_EQ(log->append(b1).base_offset, 2);
  auto dup = log->append(b0);  // a retry of the first batch
  EXPECT_EQ(dup.error, KafkaError::kNone);
  EXPECT_EQ(dup.base_offset, 0);
  EXPECT_EQ(log->log_end_offset(), 3);
  auto gap = log->append(make_batch({{"d", "4"}}, -1, 7, 0, 9));
  EXPECT_EQ(gap.error, KafkaError::kOutOfOrderSequenceNumber);
  auto fenced = log->append(make_batch({{"d", "4"}}, -1, 7, -1 + 0, 3));
  EXPECT_EQ(fenced.error, KafkaError::kInvalidProducerEpoch);
  log.reset();
  log = open_log(dir.path());  // producer state is rebuilt from the log
  EXPECT_EQ(log->append(b1).base_offset, 2);
  EXPECT_EQ(log->log_end_offset(), 3);
}

TEST(PartitionLog, RetentionBySizeAndTime) {
  TempDir dir("plog_retention");
  LogConfig c;
  c.segment_bytes = 1024;
  c.retention_bytes = 3000;
  c.retention_ms = -1;
  auto log = open_log(dir.path(), c);
  int64_t old_ts = testing::now_ms() - 3600 * 1000;
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(log->append(make_batch({{"k", std::string(60, 'v')}}, old_ts)).error,
              KafkaError::kNone);
  int64_t before = log->size_bytes();
  ASSERT_TRUE(log->apply_retention(testing::now_ms()).is_ok());
  EXPECT_LT(log->size_bytes(), before);
  EXPECT_LE(log->size_bytes(), 3000 + 1024);
  EXPECT_GT(log->log_start_offset(), 0);
  EXPECT_EQ(batch_offsets(*log, log->log_start_offset()).front(), log->log_start_offset());
  // Time: everything is an hour old.
  LogConfig t = c;
  t.retention_bytes = -1;
  t.retention_ms = 60 * 1000;
  log->set_config(t);
  ASSERT_TRUE(log->apply_retention(testing::now_ms()).is_ok());
  EXPECT_EQ(log->log_start_offset(), 100);
  EXPECT_EQ(log->log_end_offset(), 100);
  EXPECT_EQ(log->append(make_batch({{"k", "new"}})).base_offset, 100);
}

TEST(PartitionLog, CompactionKeepsNewestPerKeyAndDropsTombstones) {
  TempDir dir("plog_compact");
  LogConfig c;
  c.segment_bytes = 1024;
  c.cleanup_compact = true;
  c.cleanup_delete = false;
  c.delete_retention_ms = 0;
  auto log = open_log(dir.path(), c);
  int64_t ts = testing::now_ms() - 10000;
  for (int round = 0; round < 10; ++round)
    for (int k = 0; k < 5; ++k)
      ASSERT_EQ(log->append(make_batch({{"key" + std::to_string(k),
                                         "r" + std::to_string(round) + std::string(30, '.')}},
                                       ts))
                    .error,
                KafkaError::kNone);
  ASSERT_EQ(log->append(make_batch({{"key0", std::nullopt}}, ts)).error, KafkaError::kNone);
  for (int i = 0; i < 30; ++i)  // push the tombstone into a sealed segment
    ASSERT_EQ(log->append(make_batch({{"filler", std::string(40, 'f')}}, ts)).error,
              KafkaError::kNone);
  ASSERT_TRUE(log->compact(testing::now_ms()).is_ok());
  std::string data;
  ASSERT_TRUE(log->read(0, 1 << 30, &data).is_ok());
  std::map<std::string, std::vector<std::optional<std::string>>> seen;
  int64_t last_offset = -1;
  for (size_t pos = 0; pos < data.size();) {
    auto h = parse_batch_header(std::string_view(data).substr(pos));
    ASSERT_TRUE(h.is_ok());
    auto recs = decode_records(std::string_view(data).substr(pos, h->total_size()), *h);
    ASSERT_TRUE(recs.is_ok());
    for (auto& r : *recs) {
      EXPECT_GT(r.offset, last_offset);
      last_offset = r.offset;
      seen[*r.key].push_back(r.value);
    }
    pos += h->total_size();
  }
  EXPECT_EQ(seen.count("key0"), 0u) << "key0 was deleted by a tombstone";
  for (int k = 1; k < 5; ++k) {
    auto& v = seen["key" + std::to_string(k)];
    ASSERT_EQ(v.size(), 1u) << k;
    EXPECT_EQ(v[0]->substr(0, 2), "r9");
  }
  EXPECT_EQ(log->log_end_offset(), 81);  // offsets are never reused
}

TEST(PartitionLog, FindsOffsetsByTimestamp) {
  TempDir dir("plog_time");
  LogConfig c;
  c.segment_bytes = 1024;
  auto log = open_log(dir.path(), c);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(
        log->append(make_batch({{"k", std::string(50, 'x')}, {"k", "y"}}, 1000 + i * 10)).error,
        KafkaError::kNone);
  auto r = log->offset_for_timestamp(1000 + 20 * 10 + 1);  // second record of batch 20
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->first, 41);
  EXPECT_EQ(r->second, 1201);
  EXPECT_EQ(log->offset_for_timestamp(0)->first, 0);
  EXPECT_EQ(log->offset_for_timestamp(999999)->first, -1);
}

// The zero-copy append validates the whole record set (CRC-32C of every batch) before writing
// anything: a bad batch anywhere rejects the request with CORRUPT_MESSAGE and stores nothing.
TEST(PartitionLog, InPlaceAppendRejectsBadCrcAndStoresNothing) {
  TempDir dir("plog_inplace_crc");
  auto log = open_log(dir.path());
  std::string good = make_batch({{"a", "1"}, {"b", "2"}});
  std::string bad = make_batch({{"c", "3"}});
  bad[bad.size() - 3] ^= 0x40;  // a record byte: covered by the CRC
  std::string set = good + bad;
  auto out = log->append_in_place(set.data(), set.size());
  EXPECT_EQ(out.error, KafkaError::kCorruptMessage);
  EXPECT_NE(out.message.find("CRC-32C mismatch"), std::string::npos) << out.message;
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(log->size_bytes(), 0);
  EXPECT_EQ(std::filesystem::file_size(dir.path() / "00000000000000000000.log"), 0u);
  // A damaged base offset is not covered by the CRC and is rewritten anyway; the batch is
  // stored with the broker's offsets, patched in the caller's buffer.
  std::string twice = good + make_batch({{"d", "4"}});
  store_be64(twice.data(), 12345);
  out = log->append_in_place(twice.data(), twice.size());
  ASSERT_EQ(out.error, KafkaError::kNone) << out.message;
  EXPECT_EQ(out.base_offset, 0);
  EXPECT_EQ(load_be64(twice.data()), 0);
  EXPECT_EQ(load_be64(twice.data() + good.size()), 2);
  EXPECT_EQ(batch_offsets(*log, 0), (std::vector<int64_t>{0, 2}));
  // What was stored is byte for byte what was sent (offsets patched), CRCs still valid.
  std::string stored;
  ASSERT_TRUE(log->read(0, 1 << 20, &stored).is_ok());
  EXPECT_EQ(stored, twice);
  auto h = parse_batch_header(stored);
  ASSERT_TRUE(h.is_ok());
  EXPECT_TRUE(validate_batch(std::string_view(stored).substr(0, h->total_size()), *h).is_ok());
}

// Fetch reads one chunk per segment and keeps whole batches: within the byte budget (but
// always at least one), stopping before `limit_offset`, continuing into the next segment.
TEST(PartitionLog, ReadsWholeBatchesWithinBudgetAndLimit) {
  TempDir dir("plog_read_budget");
  LogConfig c;
  c.segment_bytes = 700;
  c.index_interval_bytes = 1;  // an index entry per batch
  auto log = open_log(dir.path(), c);
  std::vector<size_t> sizes;
  for (int i = 0; i < 12; ++i) {
    std::string b = make_batch({{"k" + std::to_string(i), std::string(100, 'v')}});
    sizes.push_back(b.size());
    ASSERT_EQ(log->append(b).error, KafkaError::kNone);
  }
  ASSERT_GT(log->segment_count(), 2u);
  std::string out;
  // Budget for two and a half batches: two come back.
  auto n = log->read(3, sizes[0] * 5 / 2, &out);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, sizes[0] * 2);
  EXPECT_EQ(out.size(), *n);
  EXPECT_EQ(load_be64(out.data()), 3);
  EXPECT_EQ(load_be64(out.data() + sizes[0]), 4);
  // A budget smaller than one batch still returns that batch.
  out.clear();
  n = log->read(7, 10, &out);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, sizes[7]);
  // The limit (the high watermark) cuts before offset 9, across segment boundaries.
  out.clear();
  n = log->read(2, 1 << 20, &out, 9);
  ASSERT_TRUE(n.is_ok());
  std::vector<int64_t> offsets;
  for (size_t pos = 0; pos < out.size();) {
    auto h = parse_batch_header(std::string_view(out).substr(pos));
    ASSERT_TRUE(h.is_ok());
    offsets.push_back(h->base_offset);
    pos += h->total_size();
  }
  EXPECT_EQ(offsets, (std::vector<int64_t>{2, 3, 4, 5, 6, 7, 8}));
  // Reading appends to what the caller already has (the fetch response being built).
  std::string body = "head";
  n = log->read(11, 1 << 20, &body);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(body.size(), 4 + sizes[11]);
  EXPECT_EQ(body.substr(0, 4), "head");
}

// Index entries are buffered; a segment's are on disk once it is sealed (rolled), and a log
// reopened without its active segment's index entries recovers them by its full scan.
TEST(PartitionLog, BufferedIndexEntriesReachDiskOnRollAndRecover) {
  TempDir dir("plog_index_flush");
  LogConfig c;
  c.segment_bytes = 2000;
  c.index_interval_bytes = 1;
  auto log = open_log(dir.path(), c);
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(log->append(make_batch({{"k", std::string(100, 'a' + i % 26)}})).error,
              KafkaError::kNone);
  ASSERT_GE(log->segment_count(), 2u);
  auto sealed_index = dir.path() / "00000000000000000000.index";
  auto sealed_entries = std::filesystem::file_size(sealed_index) / 8;
  EXPECT_GT(sealed_entries, 5u);  // one per batch of the sealed segment, written at the roll
  // Drop the active segment's index files as a crash before their flush would; reopen.
  log.reset();
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    auto name = e.path().filename().string();
    if (!name.starts_with("00000000000000000000") && !name.ends_with(".log"))
      std::filesystem::resize_file(e.path(), 0);
  }
  log = open_log(dir.path(), c);
  EXPECT_EQ(log->log_end_offset(), 30);
  std::vector<int64_t> all;
  for (int64_t i = 0; i < 30; ++i)
    all.push_back(i);
  EXPECT_EQ(batch_offsets(*log, 0), all);
  EXPECT_EQ(batch_offsets(*log, 29), (std::vector<int64_t>{29}));
}

}  // namespace
}  // namespace sluice::bus

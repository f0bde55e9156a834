#include "bus/partition_log.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sluice::bus

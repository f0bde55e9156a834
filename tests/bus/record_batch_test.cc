#include "bus/record_batch.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "bus/wire.h"
#include "bus_test_util.h"

namespace sluice::bus {
namespace {

using testing::make_batch;

TEST(RecordBatch, EncodeParseValidateDecode) {
  std::string b = make_batch({{"k1", "v1"}, {"k2", std::nullopt}}, 1000);
  auto h = parse_batch_header(b);
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  EXPECT_EQ(h->magic, 2);
  EXPECT_EQ(h->records_count, 2);
  EXPECT_EQ(h->last_offset_delta, 1);
  EXPECT_EQ(h->total_size(), b.size());
  EXPECT_EQ(h->max_timestamp, 1001);
  ASSERT_TRUE(validate_batch(b, *h).is_ok());
  auto recs = decode_records(b, *h);
  ASSERT_TRUE(recs.is_ok());
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ(*(*recs)[0].key, "k1");
  EXPECT_EQ(*(*recs)[0].value, "v1");
  EXPECT_EQ((*recs)[1].offset, 1);
  EXPECT_FALSE((*recs)[1].value.has_value());
}

TEST(RecordBatch, CrcDetectsCorruption) {
  std::string b = make_batch({{"k", "value"}});
  b[b.size() - 3] ^= 0x40;
  auto h = parse_batch_header(b);
  ASSERT_TRUE(h.is_ok());
  Status st = validate_batch(b, *h);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("CRC-32C mismatch"), std::string::npos) << st.message();
}

TEST(RecordBatch, BaseOffsetIsOutsideTheCrc) {
  std::string b = make_batch({{"k", "value"}});
  store_be64(b.data(), 12345);
  auto h = parse_batch_header(b);
  ASSERT_TRUE(h.is_ok());
  EXPECT_TRUE(validate_batch(b, *h).is_ok());
  EXPECT_EQ(h->base_offset, 12345);
}

TEST(RecordBatch, RejectsOldMagicAndShortHeaders) {
  std::string b = make_batch({{"k", "v"}});
  b[kBatchMagicPos] = 1;
  EXPECT_FALSE(parse_batch_header(b).is_ok());
  EXPECT_FALSE(parse_batch_header(b.substr(0, 30)).is_ok());
}

TEST(RecordBatch, DecompressesGzip) {
  std::string plain(5000, 'x');
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(10000, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(plain.data());
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  auto got = decompress(Compression::kGzip, out);
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  EXPECT_EQ(*got, plain);
  EXPECT_FALSE(decompress(Compression::kZstd, "garbage").is_ok());
}

}  // namespace
}  // namespace sluice::bus

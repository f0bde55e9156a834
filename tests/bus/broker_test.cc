// The broker against real peers: kcat, kafka-python, librdkafka (C), the `sluice topic` CLI,
// plus raw protocol checks and kill -9 recovery. Each test starts its own `sluice broker`.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <boost/asio.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "bus/wire.h"
#include "bus_test_util.h"

namespace sluice::bus {
namespace {

using testing::BrokerProcess;
using testing::CommandResult;
using testing::run_command;
using testing::TempDir;

// Settings that make cleanup observable within a test.
constexpr const char* kFastCleanup = "[bus]\ncleanup_interval_ms = 200\n";

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::make_unique<TempDir>(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void start(const std::string& config = kFastCleanup) {
    broker_ = std::make_unique<BrokerProcess>(dir_->path(), config);
    ASSERT_TRUE(broker_->start()) << broker_->log();
  }
  void TearDown() override {
    if (broker_) {
      broker_->stop();
      // Our own log must not show protocol trouble.
      std::string log = broker_->log();
      if (!expect_unsupported_) {
        EXPECT_EQ(log.find("unsupported request"), std::string::npos) << log;
      }
      EXPECT_EQ(log.find("malformed"), std::string::npos) << log;
    }
  }
  CommandResult sh(const std::string& cmd, int timeout_s = 30, const std::string& in = "") {
    return run_command(cmd, dir_->path(), timeout_s, in);
  }
  std::string sluice(const std::string& args) {
    return std::string("'") + SLUICE_BINARY + "' " + args + " --bootstrap " + broker_->bootstrap();
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<BrokerProcess> broker_;
  bool expect_unsupported_ = false;
};

// --- a small librdkafka harness ---

struct Delivered {
  std::mutex mu;
  std::map<int64_t, std::string> acked;  // offset -> value (partition 0)
  std::atomic<int> errors{0};
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivered*>(opaque);
  if (m->err) {
    ++d->errors;
    return;
  }
  std::lock_guard<std::mutex> lock(d->mu);
  d->acked[m->offset] = std::string(static_cast<const char*>(m->payload), m->len);
}

rd_kafka_t* make_client(rd_kafka_type_t type, const std::map<std::string, std::string>& settings,
                        Delivered* d = nullptr) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << k << ": " << err;
    }
  }
  if (d) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, d);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  return rk;
}

// Reads partition 0 of `topic` from the beginning until `want` messages or 20 s.
std::vector<std::pair<int64_t, std::string>> read_all(const std::string& bootstrap,
                                                      const std::string& topic, size_t want,
                                                      std::vector<std::string>* headers = nullptr) {
  rd_kafka_t* rk = make_client(
      RD_KAFKA_CONSUMER,
      {{"bootstrap.servers", bootstrap}, {"group.id", "reader"}, {"enable.auto.commit", "false"}});
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  EXPECT_EQ(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<std::pair<int64_t, std::string>> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      out.emplace_back(m->offset, std::string(static_cast<const char*>(m->payload), m->len));
      rd_kafka_headers_t* hdrs = nullptr;
      if (headers && rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void* val = nullptr;
        size_t size = 0;
        if (rd_kafka_header_get_last(hdrs, "h", &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          headers->emplace_back(static_cast<const char*>(val), size);
        }
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

std::pair<int64_t, int64_t> watermarks(const std::string& bootstrap, const std::string& topic) {
  rd_kafka_t* rk = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}});
  int64_t lo = -1, hi = -1;
  EXPECT_EQ(rd_kafka_query_watermark_offsets(rk, topic.c_str(), 0, &lo, &hi, 10000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
  return {lo, hi};
}

TEST_F(BrokerTest, KcatMetadataProduceConsume) {
  start();
  std::string lines;
  for (int i = 0; i < 100; ++i)
    lines += "line-" + std::to_string(i) + "\n";
  auto p =
      sh("kcat -b " + broker_->bootstrap() + " -P -t kc -X enable.idempotence=true", 30, lines);
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.err, "");
  auto l = sh("kcat -b " + broker_->bootstrap() + " -L");
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_NE(l.out.find("broker 0 at 127.0.0.1:" + std::to_string(broker_->port())),
            std::string::npos)
      << l.out;
  EXPECT_NE(l.out.find("topic \"kc\" with 1 partitions"), std::string::npos) << l.out;
  auto c = sh("kcat -b " + broker_->bootstrap() + " -C -t kc -e -q -f '%o %s\\n'");
  ASSERT_EQ(c.code, 0) << c.err;
  std::string want;
  for (int i = 0; i < 100; ++i)
    want += std::to_string(i) + " line-" + std::to_string(i) + "\n";
  EXPECT_EQ(c.out, want);
  EXPECT_EQ(c.err, "");
}

TEST_F(BrokerTest, KcatConsumerGroupLagAndRestart) {
  start();
  auto cr = sh(sluice("topic create grp --partitions 2"));
  ASSERT_EQ(cr.code, 0) << cr.err;
  std::string lines;
  for (int i = 0; i < 50; ++i)
    lines += "k" + std::to_string(i) + ":v" + std::to_string(i) + "\n";
  ASSERT_EQ(sh("kcat -b " + broker_->bootstrap() + " -P -t grp -K:", 30, lines).code, 0);
  auto g = sh("kcat -b " + broker_->bootstrap() +
                  " -G kgroup grp -e -q -X auto.offset.reset=earliest -X enable.auto.commit=true "
                  "-X auto.commit.interval.ms=100",
              40);
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_EQ(std::count(g.out.begin(), g.out.end(), '\n'), 50) << g.out;
  EXPECT_EQ(g.err.find("ERROR"), std::string::npos) << g.err;
  auto lag = sh(sluice("topic lag kgroup"));
  ASSERT_EQ(lag.code, 0) << lag.err;
  EXPECT_NE(lag.out.find("total lag 0"), std::string::npos) << lag.out;
  ASSERT_EQ(sh("kcat -b " + broker_->bootstrap() + " -P -t grp -p 1", 30, "a\nb\nc\n").code, 0);
  // Committed offsets survive a restart.
  broker_->stop();
  ASSERT_TRUE(broker_->start()) << broker_->log();
  lag = sh(sluice("topic lag kgroup"));
  ASSERT_EQ(lag.code, 0) << lag.err;
  EXPECT_NE(lag.out.find("total lag 3"), std::string::npos) << lag.out;
}

TEST_F(BrokerTest, KafkaPythonGroupRebalanceCommitResume) {
  start();
  auto r = sh("/usr/bin/python3 '" SLUICE_SOURCE_DIR "/tests/bus/kafka_python_group.py' " +
                  broker_->bootstrap(),
              90);
  EXPECT_EQ(r.code, 0) << r.out << r.err << broker_->log();
  EXPECT_NE(r.out.find("OK consumed=200 resumed=50"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("Unable to decode"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Traceback"), std::string::npos) << r.err;
}

TEST_F(BrokerTest, SluiceTopicCommands) {
  start();
  auto c = sh(sluice("topic create cli --partitions 3 --config retention.ms=60000"));
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out, "created topic cli\n");
  auto dup = sh(sluice("topic create cli"));
  EXPECT_EQ(dup.code, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;
  auto bad = sh(sluice("topic create bad --config nonsense=1"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("unknown topic config 'nonsense'"), std::string::npos) << bad.err;
  ASSERT_EQ(sh(sluice("topic produce cli --key-separator ="), 30, "a=1\nb=2\nc=3\n").code, 0);
  auto l = sh(sluice("topic list"));
  EXPECT_EQ(l.out, "cli\n");
  auto d = sh(sluice("topic describe cli"));
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.out.find("partitions 3"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("config retention.ms = 60000"), std::string::npos) << d.out;
  auto con = sh(sluice("topic consume cli --print-keys --idle-timeout-ms 1500"));
  ASSERT_EQ(con.code, 0) << con.err;
  std::vector<std::string> got;
  std::stringstream ss(con.out);
  for (std::string line; std::getline(ss, line);)
    got.push_back(line);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a\t1", "b\t2", "c\t3"}));
  ASSERT_EQ(sh(sluice("topic delete cli")).code, 0);
  EXPECT_EQ(sh(sluice("topic list")).out, "");
  auto missing = sh(sluice("topic describe cli"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("topic 'cli' does not exist"), std::string::npos) << missing.err;
}

TEST_F(BrokerTest, LibrdkafkaIdempotentProducerAllCodecs) {
  start();
  for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    SCOPED_TRACE(codec);
    std::string topic = std::string("codec-") + codec;
    Delivered d;
    rd_kafka_t* p = make_client(RD_KAFKA_PRODUCER,
                                {{"bootstrap.servers", broker_->bootstrap()},
                                 {"enable.idempotence", "true"},
                                 {"compression.codec", codec},
                                 {"linger.ms", "20"}},
                                &d);
    for (int i = 0; i < 2000; ++i) {
      std::string v = "value-" + std::to_string(i) + std::string(i % 50, 'x');
      std::string hv = "h" + std::to_string(i);
      ASSERT_EQ(
          rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_VALUE(v.data(), v.size()),
                            RD_KAFKA_V_HEADER("h", hv.data(), static_cast<ssize_t>(hv.size())),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
          RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    EXPECT_EQ(rd_kafka_flush(p, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
    EXPECT_EQ(d.errors, 0);
    ASSERT_EQ(d.acked.size(), 2000u);
    EXPECT_EQ(d.acked.begin()->first, 0);
    EXPECT_EQ(d.acked.rbegin()->first, 1999);
    std::vector<std::string> headers;
    auto got = read_all(broker_->bootstrap(), topic, 2000, &headers);
    ASSERT_EQ(got.size(), 2000u);
    for (int i = 0; i < 2000; ++i) {
      EXPECT_EQ(got[static_cast<size_t>(i)].first, i);
      EXPECT_EQ(got[static_cast<size_t>(i)].second,
                "value-" + std::to_string(i) + std::string(i % 50, 'x'));
    }
    ASSERT_EQ(headers.size(), 2000u);
    EXPECT_EQ(headers[1234], "h1234");
  }
}

TEST_F(BrokerTest, ListOffsetsByTimestampWithKcat) {
  start();
  rd_kafka_t* p = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", broker_->bootstrap()},
                                                  {"compression.codec", "lz4"}});
  for (int i = 0; i < 100; ++i) {
    std::string v = "m" + std::to_string(i);
    ASSERT_EQ(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("times"), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(v.data(), v.size()),
                                RD_KAFKA_V_TIMESTAMP(1600000000000 + i * 1000),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(p, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(p);
  auto q = sh("kcat -b " + broker_->bootstrap() + " -Q -t times:0:1600000042500");
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_NE(q.out.find("times [0] offset 43"), std::string::npos) << q.out;
  auto w = watermarks(broker_->bootstrap(), "times");
  EXPECT_EQ(w, (std::pair<int64_t, int64_t>(0, 100)));
}

TEST_F(BrokerTest, CompactionAndRetention) {
  start(std::string(kFastCleanup) + "segment_bytes = 1024\n");
  ASSERT_EQ(sh(sluice("topic create compacted --config cleanup.policy=compact --config "
                      "delete.retention.ms=0"))
                .code,
            0);
  ASSERT_EQ(sh(sluice("topic create retained --config retention.bytes=2048")).code, 0);
  std::string lines;
  for (int round = 0; round < 20; ++round)
    for (int k = 0; k < 5; ++k)
      lines += "key" + std::to_string(k) + "=round" + std::to_string(round) + "-" +
               std::string(20, 'p') + "\n";
  ASSERT_EQ(sh(sluice("topic produce compacted --key-separator ="), 30, lines).code, 0);
  // A tombstone for key0, then filler so that it lands in a sealed segment.
  ASSERT_EQ(sh("kcat -b " + broker_->bootstrap() + " -P -t compacted -K= -Z", 30, "key0=\n").code,
            0);
  std::string filler;
  for (int i = 0; i < 40; ++i)
    filler += "fill=" + std::string(40, 'f') + "\n";
  ASSERT_EQ(sh(sluice("topic produce compacted --key-separator ="), 30, filler).code, 0);
  ASSERT_EQ(
      sh("kcat -b " + broker_->bootstrap() + " -P -t retained -X batch.num.messages=5", 30, lines)
          .code,
      0);

  // Wait (bounded) for the cleaner.
  std::string out;
  bool compacted = false;
  for (int i = 0; i < 50 && !compacted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto c = sh("kcat -b " + broker_->bootstrap() + " -C -t compacted -e -q -f '%k=%s\\n'");
    out = c.out;
    compacted = out.find("round0-") == std::string::npos;
  }
  ASSERT_TRUE(compacted) << out;
  for (int k = 1; k < 5; ++k) {
    std::string key = "key" + std::to_string(k) + "=";
    size_t n = 0;
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 1))
      ++n;
    EXPECT_EQ(n, 1u) << key << "\n" << out;
    EXPECT_NE(out.find(key + "round19-"), std::string::npos) << out;
  }
  EXPECT_EQ(out.find("key0="), std::string::npos) << "tombstoned key0 is gone:\n" << out;

  auto w = watermarks(broker_->bootstrap(), "retained");
  for (int i = 0; i < 50 && w.first == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    w = watermarks(broker_->bootstrap(), "retained");
  }
  EXPECT_GT(w.first, 0);
  EXPECT_EQ(w.second, 100);
  auto c = sh("kcat -b " + broker_->bootstrap() + " -C -t retained -o beginning -e -q -f '%o\\n'");
  EXPECT_EQ(c.out.substr(0, c.out.find('\n')), std::to_string(w.first)) << c.out;
}

// kill -9 while a producer with acks=all streams: every acknowledged message is on disk after
// a restart, and offsets are dense.
// fsync=interval: the periodic flush runs on the sync thread while kcat produces and consumes;
// every message is there, and still there after a restart, and no flush failed.
TEST_F(BrokerTest, IntervalFsyncFlushesInTheBackground) {
  start("[bus]\nfsync = \"interval\"\nfsync_interval_ms = 20\n");
  std::string want;
  for (int part = 0; part < 3; ++part) {  // three produce runs, flushes in between
    std::string lines;
    for (int i = part * 1000; i < (part + 1) * 1000; ++i) {
      lines += "iv-" + std::to_string(i) + "\n";
      want += std::to_string(i) + " iv-" + std::to_string(i) + "\n";
    }
    auto p = sh("kcat -b " + broker_->bootstrap() + " -P -t iv", 30, lines);
    ASSERT_EQ(p.code, 0) << p.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  auto consume = [&] {
    return sh("kcat -b " + broker_->bootstrap() + " -C -t iv -e -q -f '%o %s\\n'");
  };
  auto c = consume();
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(c.out == want) << "consumed " << c.out.size() << " bytes, want " << want.size();
  broker_->stop();
  EXPECT_EQ(broker_->log().find("fsync failed"), std::string::npos) << broker_->log();
  ASSERT_TRUE(broker_->start()) << broker_->log();
  c = consume();
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(c.out == want) << "after restart: consumed " << c.out.size() << " bytes";
}

TEST_F(BrokerTest, CrashRecoveryKeepsAcknowledgedMessages) {
  start("[bus]\nfsync = \"batch\"\n");
  Delivered d;
  rd_kafka_t* p = make_client(RD_KAFKA_PRODUCER,
                              {{"bootstrap.servers", broker_->bootstrap()},
                               {"acks", "all"},
                               {"linger.ms", "2"},
                               {"message.timeout.ms", "3000"},
                               {"enable.idempotence", "true"},
                               {"log_level", "0"}},
                              &d);
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (int i = 0; !stop && i < 5000000; ++i) {
      std::string v = "crash-" + std::to_string(i);
      if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("crash"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_VALUE(v.data(), v.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) != 0) {
        rd_kafka_poll(p, 10);
      }
      if (i % 100 == 0) rd_kafka_poll(p, 1);
    }
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(d.mu);
      if (d.acked.size() > 5000) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  broker_->kill(SIGKILL);
  stop = true;
  producer.join();
  rd_kafka_flush(p, 4000);  // the rest fail: the broker is gone
  rd_kafka_destroy(p);
  std::map<int64_t, std::string> acked;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    acked = d.acked;
  }
  ASSERT_GT(acked.size(), 5000u);

  ASSERT_TRUE(broker_->start()) << broker_->log();
  auto w = watermarks(broker_->bootstrap(), "crash");
  EXPECT_GE(w.second, acked.rbegin()->first + 1);
  auto got = read_all(broker_->bootstrap(), "crash", static_cast<size_t>(w.second));
  ASSERT_EQ(got.size(), static_cast<size_t>(w.second));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i].first, static_cast<int64_t>(i)) << "offsets must be dense";
  for (const auto& [offset, value] : acked)
    ASSERT_EQ(got[static_cast<size_t>(offset)].second, value) << "acknowledged offset " << offset;
}

// --- raw protocol checks ---

class RawClient {
 public:
  explicit RawClient(int port) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  }
  // Sends a request (header v1) and returns the response body after the correlation id.
  std::string call(int16_t key, int16_t version, const std::string& body) {
    int32_t id = send(key, version, body);
    auto [got, resp] = receive();
    EXPECT_EQ(got, id);
    return resp;
  }
  // Sends a request without waiting; returns its correlation id.
  int32_t send(int16_t key, int16_t version, const std::string& body) {
    std::string req = frame(key, version, body);
    boost::asio::write(socket_, boost::asio::buffer(req));
    return correlation_;
  }
  std::string frame(int16_t key, int16_t version, const std::string& body) {
    std::string req;
    WireWriter w(&req);
    w.i32(0);
    w.i16(key);
    w.i16(version);
    w.i32(++correlation_);
    w.string("raw");
    w.raw(body);
    w.patch_i32(0, static_cast<int32_t>(req.size() - 4));
    return req;
  }
  int32_t last_id() const { return correlation_; }
  void write(const std::string& bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes)); }
  // The next response: its correlation id and body.
  std::pair<int32_t, std::string> receive() {
    char size_buf[4];
    boost::asio::read(socket_, boost::asio::buffer(size_buf));
    std::string resp(static_cast<size_t>(load_be32(size_buf)), '\0');
    boost::asio::read(socket_, boost::asio::buffer(resp));
    return {load_be32(resp.data()), resp.substr(4)};
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  int32_t correlation_ = 0;
};

std::string produce_body(const std::string& topic, const std::string& batch) {
  std::string b;
  WireWriter w(&b);
  w.i16(-1);  // transactional_id null
  w.i16(-1);  // acks=all
  w.i32(5000);
  w.i32(1);
  w.string(topic);
  w.i32(1);
  w.i32(0);
  w.bytes(batch);
  return b;
}

// Produce v7 response for one partition: error code and base offset.
std::pair<int16_t, int64_t> produce_result(const std::string& resp) {
  WireReader r(resp);
  r.i32();
  r.string();
  r.i32();
  r.i32();
  int16_t err = r.i16();
  int64_t base = r.i64();
  EXPECT_TRUE(r.ok());
  return {err, base};
}

TEST_F(BrokerTest, RawProtocolUnsupportedVersionsAndDuplicates) {
  start();
  expect_unsupported_ = true;
  RawClient c(broker_->port());
  // An API we do not offer gets UNSUPPORTED_VERSION and the connection stays usable.
  std::string r = c.call(/*DescribeAcls*/ 29, 1, "");
  EXPECT_EQ(load_be16(r.data()), 35);
  r = c.call(/*Produce*/ 0, 2, "");
  EXPECT_EQ(load_be16(r.data()), 35);
  // ApiVersions v9 (newer than ours): v0 answer with error 35 and our ranges.
  r = c.call(18, 9, "");
  WireReader av(r);
  EXPECT_EQ(av.i16(), 35);
  EXPECT_GT(av.i32(), 10);
  r = c.call(18, 0, "");
  EXPECT_EQ(load_be16(r.data()), 0);

  // Create the topic through Metadata auto-creation (v1, one topic).
  std::string md;
  WireWriter mw(&md);
  mw.i32(1);
  mw.string("raw");
  c.call(3, 1, md);
  // Idempotent producer: the same sequence twice is stored once.
  std::string b0 = testing::make_batch({{"k", "a"}, {"k", "b"}}, -1, 4242, 0, 0);
  auto first = produce_result(c.call(0, 7, produce_body("raw", b0)));
  EXPECT_EQ(first, (std::pair<int16_t, int64_t>(0, 0)));
  auto again = produce_result(c.call(0, 7, produce_body("raw", b0)));
  EXPECT_EQ(again, (std::pair<int16_t, int64_t>(0, 0)));
  auto skip = produce_result(
      c.call(0, 7, produce_body("raw", testing::make_batch({{"k", "c"}}, -1, 4242, 0, 5))));
  EXPECT_EQ(skip.first, 45);  // OUT_OF_ORDER_SEQUENCE_NUMBER
  std::string corrupt = testing::make_batch({{"k", "c"}});
  corrupt.back() ^= 1;
  EXPECT_EQ(produce_result(c.call(0, 7, produce_body("raw", corrupt))).first, 2);
  EXPECT_EQ(produce_result(c.call(0, 7, produce_body("missing", b0))).first, 3);
  EXPECT_EQ(watermarks(broker_->bootstrap(), "raw").second, 2);
}

// Pipelined requests on one connection (as librdkafka sends them): Produce requests waiting for
// their group commit let the next ones be appended, yet every response comes back in request
// order, a corrupt batch among them is refused with CORRUPT_MESSAGE and never stored, and a
// Fetch (read straight from the segment) sees exactly the acknowledged batches.
TEST_F(BrokerTest, PipelinedRequestsAnswerInOrderAndRejectCorruptBatches) {
  start();
  RawClient c(broker_->port());
  std::string md;
  WireWriter mw(&md);
  mw.i32(1);
  mw.string("pipe");
  c.call(3, 1, md);
  // 20 produces (every 7th corrupt) and a metadata request, written in one go.
  std::string burst;
  std::vector<std::pair<int32_t, bool>> sent;  // correlation id, corrupt
  for (int i = 0; i < 20; ++i) {
    std::string b = testing::make_batch({{"k", "v" + std::to_string(i)}, {"k", "w"}});
    bool corrupt = i % 7 == 3;
    if (corrupt) b[b.size() - 2] ^= 1;
    burst += c.frame(0, 7, produce_body("pipe", b));
    sent.emplace_back(c.last_id(), corrupt);
  }
  burst += c.frame(3, 1, md);
  int32_t metadata_id = c.last_id();
  c.write(burst);
  int64_t next_offset = 0;
  for (const auto& [id, corrupt] : sent) {
    auto [got, resp] = c.receive();
    ASSERT_EQ(got, id) << "responses must come back in request order";
    auto [err, base] = produce_result(resp);
    if (corrupt) {
      EXPECT_EQ(err, 2) << "CORRUPT_MESSAGE";
    } else {
      EXPECT_EQ(err, 0);
      EXPECT_EQ(base, next_offset);
      next_offset += 2;
    }
  }
  EXPECT_EQ(c.receive().first, metadata_id);
  EXPECT_EQ(next_offset, 34);  // 17 good batches of 2 records
  // Fetch v4 from offset 0: the good batches, in order, with dense offsets.
  std::string fb;
  WireWriter fw(&fb);
  fw.i32(-1);       // replica_id
  fw.i32(100);      // max_wait_ms
  fw.i32(1);        // min_bytes
  fw.i32(1 << 20);  // max_bytes
  fw.i8(0);         // isolation
  fw.i32(1);
  fw.string("pipe");
  fw.i32(1);
  fw.i32(0);        // partition
  fw.i64(0);        // fetch_offset
  fw.i32(1 << 20);  // partition max_bytes
  std::string resp = c.call(1, 4, fb);
  WireReader r(resp);
  r.i32();  // throttle
  ASSERT_EQ(r.array_length(4), 1);
  EXPECT_EQ(r.string(), "pipe");
  ASSERT_EQ(r.array_length(4), 1);
  EXPECT_EQ(r.i32(), 0);
  EXPECT_EQ(r.i16(), 0);
  EXPECT_EQ(r.i64(), 34);  // high watermark
  r.i64();
  r.array_length(4);
  auto records = r.nullable_bytes();
  ASSERT_TRUE(r.ok() && records);
  std::vector<int64_t> bases;
  for (size_t pos = 0; pos < records->size();) {
    auto h = parse_batch_header(records->substr(pos));
    ASSERT_TRUE(h.is_ok());
    ASSERT_TRUE(validate_batch(records->substr(pos, h->total_size()), *h).is_ok());
    bases.push_back(h->base_offset);
    pos += h->total_size();
  }
  ASSERT_EQ(bases.size(), 17u);
  for (size_t i = 0; i < bases.size(); ++i)
    EXPECT_EQ(bases[i], static_cast<int64_t>(2 * i));
  EXPECT_EQ(watermarks(broker_->bootstrap(), "pipe").second, 34);
}

}  // namespace
}  // namespace sluice::bus

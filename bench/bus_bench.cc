// Broker throughput with librdkafka: produce (acks=1 and acks=all) and consume, 100-byte and
// 1-KiB messages, against an in-process `sluice broker`. Anchors measured in the same run:
// loopback TCP throughput for the same bytes, and the disk's sequential write speed with the
// same fsync policy (one fdatasync per produce-sized chunk for fsync=batch). Prints the ratio to
// the lesser anchor. Bounded: each phase stops after its message count or 15 s.
//
//   build-bus/bench/bench_bus [fsync: batch|interval|none] [messages-per-run] [partitions]
//   build-bus/bench/bench_bus batch 0 [partitions] [rate]   (latency only, at `rate` and 1,000/s)
//
// Client settings follow what Kafka benchmarks use (printed with the figures): producer
// linger.ms=10, batch.num.messages=100000, batch.size=1000000, large queue.buffering.max.*,
// compression none; consumer fetch.max.bytes=52428800, max.partition.fetch.bytes=10485760;
// messages spread round-robin over `partitions` (default 4) so broker and client pipeline.
#include <fcntl.h>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bus/broker.h"
#include "common/log.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// MB/s of copying `total` bytes over a loopback TCP connection in `chunk`-sized writes.
double loopback_mbps(size_t total, size_t chunk) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::listen(ls, 1);
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  std::thread reader([ls, total] {
    int s = ::accept(ls, nullptr, nullptr);
    std::vector<char> buf(1 << 20);
    size_t got = 0;
    while (got < total) {
      ssize_t n = ::read(s, buf.data(), buf.size());
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(s);
  });
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  std::vector<char> buf(chunk, 'x');
  auto t0 = Clock::now();
  for (size_t sent = 0; sent < total;) {
    ssize_t n = ::write(c, buf.data(), std::min(chunk, total - sent));
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(c, SHUT_WR);
  reader.join();
  double s = seconds_since(t0);
  ::close(c);
  ::close(ls);
  return static_cast<double>(total) / 1e6 / s;
}

// MB/s of sequential writes of `chunk` bytes, fdatasync after each when `sync_each`.
double disk_mbps(const std::filesystem::path& file, size_t total, size_t chunk, bool sync_each) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char> buf(chunk, 'x');
  auto t0 = Clock::now();
  for (size_t done = 0; done < total && seconds_since(t0) < 15; done += chunk) {
    if (::write(fd, buf.data(), chunk) != static_cast<ssize_t>(chunk)) break;
    if (sync_each) ::fdatasync(fd);
  }
  ::fdatasync(fd);
  double s = seconds_since(t0);
  auto size = static_cast<double>(::lseek(fd, 0, SEEK_END));
  ::close(fd);
  std::filesystem::remove(file);
  return size / 1e6 / s;
}

void set(rd_kafka_conf_t* conf, const char* k, const std::string& v) {
  char err[256];
  if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    fmt::print(stderr, "{}: {}\n", k, err);
    std::exit(2);
  }
}

std::atomic<int64_t> g_acked{0}, g_failed{0};
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  (m->err ? g_failed : g_acked)++;
}

struct Rate {
  double msgs_per_s, mb_per_s;
};

// The producer settings of a Kafka throughput benchmark, printed with the figures.
const std::vector<std::pair<const char*, const char*>> kProducerSettings = {
    {"linger.ms", "10"},
    {"batch.num.messages", "100000"},
    {"batch.size", "1000000"},
    {"queue.buffering.max.messages", "2000000"},
    {"queue.buffering.max.kbytes", "2097151"},
    {"compression.type", "none"},
};
const std::vector<std::pair<const char*, const char*>> kConsumerSettings = {
    {"fetch.max.bytes", "52428800"},
    {"max.partition.fetch.bytes", "10485760"},
    {"queued.max.messages.kbytes", "1048576"},
    {"fetch.wait.max.ms", "100"},
};

int32_t g_partitions = 4;

Rate produce(const std::string& bootstrap, const std::string& topic, int64_t count, size_t size,
             const char* acks) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "acks", acks);
  for (const auto& [k, v] : kProducerSettings)
    set(conf, k, v);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  std::string payload(size, 'p');
  g_acked = g_failed = 0;
  auto t0 = Clock::now();
  int64_t sent = 0;
  for (; sent < count && seconds_since(t0) < 15; ++sent) {
    auto part = static_cast<int32_t>(sent % g_partitions);
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(part),
                             RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 1);
    if (sent % 1000 == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 30000);
  double s = seconds_since(t0);
  rd_kafka_destroy(rk);
  if (g_failed > 0) fmt::print(stderr, "warning: {} messages failed\n", g_failed.load());
  return {static_cast<double>(g_acked) / s, static_cast<double>(g_acked) * size / 1e6 / s};
}

Rate consume(const std::string& bootstrap, const std::string& topic, int64_t count, size_t size) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "group.id", "bench");
  set(conf, "enable.auto.commit", "false");
  for (const auto& [k, v] : kConsumerSettings)
    set(conf, k, v);
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(g_partitions);
  for (int32_t p = 0; p < g_partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  // Timed from the first message: the client's start-up (connections, metadata, offsets) is a
  // fixed cost of ~0.1-0.5 s that would otherwise dominate a run of a few hundred ms.
  int64_t got = 0;
  auto start = Clock::now();
  std::optional<Clock::time_point> t0;
  while (got < count && seconds_since(start) < 15) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      if (!t0) t0 = Clock::now();
      ++got;
    }
    rd_kafka_message_destroy(m);
  }
  double s = t0 ? seconds_since(*t0) : 1e9;
  if (got > 0) --got;  // the first message started the clock
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return {static_cast<double>(got) / s, static_cast<double>(got) * size / 1e6 / s};
}

// The disk's own latency floor for a durable acknowledgement: microseconds of an append of
// `chunk` bytes plus fdatasync, back to back for `seconds` (what one group commit costs at best).
std::vector<double> fdatasync_latency(const std::filesystem::path& path, size_t chunk,
                                      double seconds) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<double> out;
  if (fd < 0) return out;
  std::string buf(chunk, 'd');
  auto t0 = Clock::now();
  while (seconds_since(t0) < seconds) {
    auto s = Clock::now();
    if (::write(fd, buf.data(), buf.size()) < 0 || ::fdatasync(fd) != 0) break;
    out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
  }
  ::close(fd);
  std::filesystem::remove(path);
  std::sort(out.begin(), out.end());
  return out;
}

// End-to-end latency: a producer sends 100-byte messages stamped with the send time at `rate`
// msgs/s for `seconds`; a consumer (assigned at the log end, long polling) records receive time
// minus send time. Returns the sorted latencies in microseconds.
std::vector<double> latency(const std::string& bootstrap, const std::string& topic, double rate,
                            double seconds) {
  rd_kafka_conf_t* pconf = rd_kafka_conf_new();
  set(pconf, "bootstrap.servers", bootstrap);
  set(pconf, "acks", "all");
  set(pconf, "linger.ms", "1");
  rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
  rd_kafka_conf_t* cconf = rd_kafka_conf_new();
  set(cconf, "bootstrap.servers", bootstrap);
  set(cconf, "group.id", "bench-latency");
  set(cconf, "enable.auto.commit", "false");
  set(cconf, "fetch.wait.max.ms", "100");
  set(cconf, "fetch.min.bytes", "1");
  char err[256];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err));
  // Create the topic and wait until the consumer sits at its end.
  std::string warm(100, 'w');
  rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                    RD_KAFKA_V_VALUE(warm.data(), warm.size()),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  rd_kafka_flush(producer, 10000);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(g_partitions);
  for (int32_t p = 0; p < g_partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_assign(consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  for (int i = 0; i < 10; ++i) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100)) rd_kafka_message_destroy(m);
  }

  std::atomic<bool> done{false};
  std::vector<double> lat;
  std::thread reader([&] {
    while (!done.load() || lat.empty()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
      if (m == nullptr) {
        if (done.load()) break;
        continue;
      }
      if (!m->err && m->len >= sizeof(int64_t)) {
        int64_t sent_ns;
        std::memcpy(&sent_ns, m->payload, sizeof sent_ns);
        int64_t now_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
                .count();
        lat.push_back(static_cast<double>(now_ns - sent_ns) / 1000.0);
      }
      rd_kafka_message_destroy(m);
    }
  });
  std::string payload(100, 'l');
  auto t0 = Clock::now();
  int64_t sent = 0;
  while (seconds_since(t0) < seconds) {
    auto due = static_cast<int64_t>(seconds_since(t0) * rate);
    for (; sent < due; ++sent) {
      int64_t ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
              .count();
      std::memcpy(payload.data(), &ns, sizeof ns);
      auto part = static_cast<int32_t>(sent % g_partitions);
      while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                               RD_KAFKA_V_PARTITION(part),
                               RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 1);
    }
    rd_kafka_poll(producer, 0);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  rd_kafka_flush(producer, 10000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  done = true;
  reader.join();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  std::sort(lat.begin(), lat.end());
  return lat;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  std::string fsync = argc > 1 ? argv[1] : "batch";
  int64_t messages = argc > 2 ? std::stoll(argv[2]) : 300000;
  if (argc > 3) g_partitions = std::max(1, std::stoi(argv[3]));
  log::init(log::Level::kWarn, log::Format::kText);
  auto dir =
      std::filesystem::temp_directory_path() / fmt::format("sluice_bus_bench_{}", ::getpid());
  std::filesystem::create_directories(dir);
  bus::BrokerOptions o;
  o.data_dir = dir;
  o.listen_port = 0;
  o.default_partitions = g_partitions;  // auto-created bench topics
  o.fsync = fsync == "batch"      ? bus::FsyncPolicy::kBatch
            : fsync == "interval" ? bus::FsyncPolicy::kInterval
                                  : bus::FsyncPolicy::kNone;
  // For A/B runs of the early writeback (fsync=interval|none): BUS_BENCH_WRITEBACK_BYTES=0 off.
  if (const char* wb = std::getenv("BUS_BENCH_WRITEBACK_BYTES")) o.writeback_bytes = std::stoll(wb);
  auto broker = bus::Broker::open(o);
  if (!broker.is_ok()) {
    fmt::print(stderr, "{}\n", broker.status().message());
    return 1;
  }
  std::thread server([&] { (void)(*broker)->run(false); });
  pthread_setname_np(server.native_handle(), "broker-io");  // for perf/top
  std::string bootstrap = fmt::format("127.0.0.1:{}", (*broker)->port());

  fmt::print(
      "bus_bench: fsync={}, {} partitions per topic, one producer and one consumer "
      "(librdkafka {}); anchors measured now, same bytes\n",
      fsync, g_partitions, rd_kafka_version_str());
  {
    std::ifstream load("/proc/loadavg");
    std::string l1, l5;
    load >> l1 >> l5;
    fmt::print("  machine load average at start: {} (1 min), {} (5 min); {} cores\n", l1, l5,
               std::thread::hardware_concurrency());
  }
  fmt::print("  producer:");
  for (const auto& [k, v] : kProducerSettings)
    fmt::print(" {}={}", k, v);
  fmt::print("\n  consumer:");
  for (const auto& [k, v] : kConsumerSettings)
    fmt::print(" {}={}", k, v);
  fmt::print("\n");
  fmt::print("{:<26} {:>12} {:>10} {:>12} {:>12} {:>8}\n", "case", "msgs/s", "MB/s", "tcp MB/s",
             "disk MB/s", "ratio");
  double peak_100b = 0, peak_consume_100b = 0;
  for (size_t size : {size_t{100}, size_t{1024}}) {
    if (messages <= 0) break;  // latency only
    int64_t n = size == 100 ? messages : messages / 4;
    size_t total = static_cast<size_t>(n) * size;
    double tcp = loopback_mbps(total, 1 << 20);
    double disk = disk_mbps(dir / "anchor.dat", total, 1 << 20, fsync == "batch");
    double anchor = std::min(tcp, disk);
    for (const char* acks : {"1", "all"}) {
      std::string topic = fmt::format("bench-{}-{}", size, acks);
      Rate p = produce(bootstrap, topic, n, size, acks);
      if (size == 100) peak_100b = std::max(peak_100b, p.msgs_per_s);
      fmt::print("{:<26} {:>12.0f} {:>10.1f} {:>12.1f} {:>12.1f} {:>8.2f}\n",
                 fmt::format("produce {}B acks={}", size, acks), p.msgs_per_s, p.mb_per_s, tcp,
                 disk, p.mb_per_s / anchor);
      Rate c = consume(bootstrap, topic, n, size);
      if (size == 100) peak_consume_100b = std::max(peak_consume_100b, c.msgs_per_s);
      fmt::print("{:<26} {:>12.0f} {:>10.1f} {:>12.1f} {:>12} {:>8.2f}\n",
                 fmt::format("consume {}B", size), c.msgs_per_s, c.mb_per_s, tcp, "-",
                 c.mb_per_s / tcp);
    }
  }
  // End-to-end latency at half the peak 100-byte rate just measured (the lesser of produce and
  // consume: past the consumer's peak a backlog grows without bound), and at a light 1,000/s.
  double half = std::min(peak_100b, peak_consume_100b) / 2;
  if (messages <= 0) half = argc > 4 ? std::stod(argv[4]) : 50000;  // a given rate instead
  // Anchor: a group commit's worth of bytes (1 ms of messages at the half rate) appended and
  // fdatasynced back to back; with fsync=batch no acknowledged message can beat it.
  std::vector<double> floor;
  if (fsync == "batch") {
    auto chunk = std::max<size_t>(4096, static_cast<size_t>(half * 100 / 1000));
    floor = fdatasync_latency(dir / "anchor-sync.dat", chunk, 3.0);
    fmt::print(
        "\nanchor: {}-byte append + fdatasync, back to back: p50 {:.2f} ms  p99 {:.2f} ms "
        "(the floor of a durable acknowledgement on this disk)\n",
        chunk, percentile(floor, 0.50) / 1000, percentile(floor, 0.99) / 1000);
  }
  for (double rate : {half, 1000.0}) {
    auto lat = latency(bootstrap, fmt::format("bench-latency-{:.0f}", rate), rate, 5.0);
    fmt::print(
        "\nend-to-end latency, 100B acks=all at {:.0f} msgs/s{} over {} partitions (producer "
        "linger.ms=1, consumer fetch.wait.max.ms=100): {} messages\n",
        rate, rate == half ? " (half of peak)" : "", g_partitions, lat.size());
    fmt::print("  p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms  (goal: p99 < 5 ms at half load)\n",
               percentile(lat, 0.50) / 1000, percentile(lat, 0.99) / 1000,
               lat.empty() ? 0.0 : lat.back() / 1000);
    if (!floor.empty()) {
      fmt::print("  p99 ratio to the disk's append + fdatasync p99: {:.2f}\n",
                 percentile(lat, 0.99) / std::max(1.0, percentile(floor, 0.99)));
    }
  }
  (*broker)->stop();
  server.join();
  std::filesystem::remove_all(dir);
  return 0;
}

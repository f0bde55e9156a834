// Internals of the broker shared by broker.cc (server, connections, timers) and
// kafka_handlers.cc (one function per Kafka API). Not part of the module's public surface.
#pragma once

#include <boost/asio.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/broker.h"
#include "bus/group_coordinator.h"
#include "bus/topic_store.h"
#include "bus/wire.h"

namespace sluice::bus {

namespace asio = boost::asio;
using asio::ip::tcp;

// Kafka API keys the broker serves, with the versions it advertises (protocol guide, "The
// Messages"). `first_flexible` is where the API switches to compact encodings + tagged fields.
struct ApiSupport {
  int16_t key;
  const char* name;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible;
};
const std::vector<ApiSupport>& supported_apis();
const ApiSupport* find_api(int16_t key);

namespace api {
inline constexpr int16_t kProduce = 0, kFetch = 1, kListOffsets = 2, kMetadata = 3,
                         kOffsetCommit = 8, kOffsetFetch = 9, kFindCoordinator = 10,
                         kJoinGroup = 11, kHeartbeat = 12, kLeaveGroup = 13, kSyncGroup = 14,
                         kDescribeGroups = 15, kListGroups = 16, kApiVersions = 18,
                         kCreateTopics = 19, kDeleteTopics = 20, kInitProducerId = 22,
                         kDescribeConfigs = 32, kCreatePartitions = 37;
}

class BrokerImpl;

// One client connection. Requests are parsed in arrival order and answered in that order. A
// request is handled alone (as Kafka does: a long-polling Fetch holds back the connection's next
// request) unless its handler `release`s the connection early: a Produce waiting for its group
// commit does, so the next request's batches are appended (and ride the same fdatasync) while
// the first waits; its response still goes out first.
//
// Buffers: requests are read straight into one growing buffer and handed to the handler as a
// mutable view of it (no copy per request; Produce patches base offsets in place); responses
// are written with one gather write per burst (header and body never joined).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, BrokerImpl& broker);
  void start();
  // Queues the response for request `slot` (the 4-byte size and header are added here); it is
  // written once every earlier request's response is. Moves on to the next request if `slot`
  // is the one being handled.
  void respond(uint64_t slot, int32_t correlation_id, bool flexible_header, std::string body);
  // Request `slot` gets no response (Produce with acks=0).
  void finish_without_response(uint64_t slot);
  // Lets the next request be handled while `slot` is still unanswered.
  void release(uint64_t slot);
  void close();
  const std::string& peer() const { return peer_; }
  bool closed() const { return closed_; }

 private:
  struct Outgoing {
    bool ready = false;
    bool empty = false;  // no response (acks=0)
    char header[9];
    size_t header_size = 0;
    std::string body;
  };
  void do_read();
  void process();
  void do_write();
  void done_with(uint64_t slot);

  tcp::socket socket_;
  BrokerImpl& broker_;
  std::string peer_;
  std::vector<char> in_;  // [in_begin_, in_end_) holds unparsed bytes
  size_t in_begin_ = 0, in_end_ = 0;
  bool busy_ = false, reading_ = false, writing_ = false, closed_ = false;
  uint64_t next_slot_ = 0;        // slot of the next request parsed
  uint64_t current_slot_ = 0;     // the request being handled while busy_
  uint64_t first_pending_ = 0;    // slot of pending_.front()
  std::deque<Outgoing> pending_;  // responses by slot, written in order
  std::vector<Outgoing> writing_batch_;
};

// What a handler needs about the request it answers.
struct RequestContext {
  std::shared_ptr<Connection> conn;
  uint64_t slot = 0;  // the request's place in its connection's response order
  // The request frame (the handler may modify it in place, e.g. Produce patches base offsets).
  char* frame = nullptr;
  size_t frame_size = 0;
  int16_t api_key = 0;
  int16_t version = 0;
  int32_t correlation_id = 0;
  std::string client_id;
  bool flexible = false;
  bool too_new = false;  // an ApiVersions version above ours, answered in v0 (KIP-511)
};

struct PendingFetch;

class BrokerImpl {
 public:
  explicit BrokerImpl(BrokerOptions options) : options_(std::move(options)) {}

  Status open();
  Status run(bool handle_signals);
  void stop();
  uint16_t port() const { return port_; }

  // Parses the request header and dispatches to a handler.
  // `frame` stays valid (and the handler may modify it) until the handler returns.
  void handle(const std::shared_ptr<Connection>& conn, uint64_t slot, char* frame, size_t size);

  asio::io_context& io() { return io_; }

 private:
  friend struct Handlers;
  void accept();
  void schedule_tick();
  void schedule_fsync();
  void schedule_cleanup();
  void flush_all();
  void flush_interval();
  void sync_offsets_if_dirty();  // committed group offsets not yet fsynced
  int64_t now_ms() const;
  void reply(const RequestContext& ctx, std::string body);
  void reply_unsupported(const RequestContext& ctx);
  void notify_fetchers();
  Result<int64_t> allocate_producer_id();
  std::string advertised_host() const;

  // Kafka APIs (kafka_handlers.cc).
  void api_versions(const RequestContext& ctx, WireReader& r);
  void metadata(const RequestContext& ctx, WireReader& r);
  void produce(const RequestContext& ctx, WireReader& r);
  void fetch(const RequestContext& ctx, WireReader& r);
  void list_offsets(const RequestContext& ctx, WireReader& r);
  void create_topics(const RequestContext& ctx, WireReader& r);
  void delete_topics(const RequestContext& ctx, WireReader& r);
  void create_partitions(const RequestContext& ctx, WireReader& r);
  void find_coordinator(const RequestContext& ctx, WireReader& r);
  void join_group(const RequestContext& ctx, WireReader& r);
  void sync_group(const RequestContext& ctx, WireReader& r);
  void heartbeat(const RequestContext& ctx, WireReader& r);
  void leave_group(const RequestContext& ctx, WireReader& r);
  void offset_commit(const RequestContext& ctx, WireReader& r);
  void offset_fetch(const RequestContext& ctx, WireReader& r);
  void list_groups(const RequestContext& ctx, WireReader& r);
  void describe_groups(const RequestContext& ctx, WireReader& r);
  void describe_configs(const RequestContext& ctx, WireReader& r);
  void init_producer_id(const RequestContext& ctx, WireReader& r);

  // Group commit (fsync=batch): `fds` (dups, closed by the syncer) are fdatasynced on the sync
  // thread together with every other request's waiting at that moment, then `done` runs on the
  // I/O thread with the outcome. The I/O thread never blocks on the disk.
  void submit_sync(std::vector<int> fds, std::function<void(Status)> done);
  void sync_loop();
  struct SyncJob {
    std::vector<int> fds;
    std::function<void(Status)> done;
  };

  // Fetch: builds the response; returns the bytes of records it holds.
  size_t build_fetch_response(const PendingFetch& f, std::string* body);
  void complete_fetch(const std::shared_ptr<PendingFetch>& f);

  BrokerOptions options_;
  std::filesystem::path root_;
  asio::io_context io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> tick_timer_, fsync_timer_, cleanup_timer_;
  uint16_t port_ = 0;
  std::unique_ptr<TopicStore> topics_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::vector<std::shared_ptr<PendingFetch>> waiting_fetches_;
  std::string cluster_id_;
  int64_t next_producer_id_ = 0, producer_id_limit_ = 0;
  bool offsets_dirty_ = false;
  bool interval_flush_running_ = false;  // I/O thread only
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<SyncJob> sync_queue_;
  bool sync_stop_ = false;
  std::thread sync_thread_;
  // Helpers of the sync thread: the fdatasyncs of one round's other files run on them in
  // parallel (started once; a thread per file per round cost ~10% of a core at 1000 rounds/s).
  struct SyncHelpers {
    std::mutex mu;
    std::condition_variable work_cv, done_cv;
    std::vector<std::function<void()>> work;
    int pending = 0;
    bool stop = false;
    std::vector<std::thread> threads;
    void start(int n);
    void finish();
    // Runs every task, `self` on the calling thread meanwhile; returns when all are done.
    void run(std::vector<std::function<void()>> tasks, const std::function<void()>& self);
  };
  SyncHelpers sync_helpers_;
};

}  // namespace sluice::bus

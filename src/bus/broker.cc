#include "bus/broker.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "bus/broker_internal.h"
#include "common/log.h"

namespace sluice::bus {

namespace fs = std::filesystem;

// --- options ---

Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s) {
  std::string_view host, port;
  if (s.starts_with('[')) {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return invalid_argument(fmt::format("'{}' is not HOST:PORT", s));
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return invalid_argument(fmt::format("'{}' is not HOST:PORT (e.g. 127.0.0.1:9092)", s));
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p > 65535 || host.empty()) {
    return invalid_argument(fmt::format("'{}' is not HOST:PORT with a port in 0..65535", s));
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(p));
}

Result<BrokerOptions> BrokerOptions::from_config(const common::Config& config,
                                                 const fs::path& data_dir) {
  BrokerOptions o;
  o.data_dir = data_dir;
  SLUICE_ASSIGN_OR_RETURN(auto hp, parse_host_port(config.get_string("bus.listen")));
  o.listen_host = hp.first;
  o.listen_port = hp.second;
  o.advertised_host = config.get_string("bus.advertised_host");
  o.auto_create_topics = config.get_bool("bus.auto_create_topics");
  o.default_partitions = static_cast<int32_t>(config.get_int("bus.default_partitions"));
  std::string fsync = config.get_string("bus.fsync");
  o.fsync = fsync == "batch"      ? FsyncPolicy::kBatch
            : fsync == "interval" ? FsyncPolicy::kInterval
                                  : FsyncPolicy::kNone;
  o.fsync_interval_ms = config.get_int("bus.fsync_interval_ms");
  o.writeback_bytes = config.get_int("bus.writeback_bytes");
  o.cleanup_interval_ms = config.get_int("bus.cleanup_interval_ms");
  o.log.retention_ms = config.get_int("bus.retention_ms");
  o.log.retention_bytes = config.get_int("bus.retention_bytes");
  o.log.segment_bytes = config.get_int("bus.segment_bytes");
  return o;
}

// --- connection ---

namespace {
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxBufferedRequestBytes = 64u << 20;  // stop reading past this (back-pressure)
constexpr size_t kMaxUnansweredRequests = 64;           // pipelined, awaiting their response
}  // namespace

Connection::Connection(tcp::socket socket, BrokerImpl& broker)
    : socket_(std::move(socket)), broker_(broker), in_(kReadChunk) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown" : fmt::format("{}:{}", ep.address().to_string(), ep.port());
  socket_.set_option(tcp::no_delay(true), ec);
}

void Connection::start() {
  do_read();
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

void Connection::do_read() {
  if (reading_ || closed_) return;
  if (in_end_ - in_begin_ > kMaxBufferedRequestBytes) return;
  // Room for the next read: move the unparsed tail to the front, grow for a large request. Only
  // here (no read in flight, no handler running) may the buffer move.
  if (in_.size() - in_end_ < kReadChunk / 4) {
    if (in_begin_ > 0) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    size_t want = in_end_ + kReadChunk;
    if (in_end_ >= 4) {
      int32_t size = load_be32(in_.data());
      if (size > 0) want = std::max(want, 4 + static_cast<size_t>(size));
    }
    if (in_.size() < want) in_.resize(std::max(want, in_.size() * 2));
  }
  reading_ = true;
  socket_.async_read_some(asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
                          [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                            self->reading_ = false;
                            if (ec) {
                              if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                                log::debug("connection closed", {log::kv("peer", self->peer_),
                                                                 log::kv("error", ec.message())});
                              }
                              self->close();
                              return;
                            }
                            self->in_end_ += n;
                            self->process();
                          });
}

void Connection::process() {
  while (!busy_ && !closed_ && pending_.size() < kMaxUnansweredRequests) {
    size_t avail = in_end_ - in_begin_;
    if (avail < 4) break;
    int32_t size = load_be32(in_.data() + in_begin_);
    if (size < 8 || size > (100 << 20)) {
      log::warn("closing connection: bad request size",
                {log::kv("peer", peer_), log::kv("size", size)});
      close();
      return;
    }
    if (avail < 4 + static_cast<size_t>(size)) break;
    char* frame = in_.data() + in_begin_ + 4;
    in_begin_ += 4 + static_cast<size_t>(size);
    busy_ = true;
    current_slot_ = next_slot_++;
    pending_.emplace_back();
    broker_.handle(shared_from_this(), current_slot_, frame, static_cast<size_t>(size));
  }
  // The buffer's layout may change only while no read is in flight (it targets in_end_).
  if (in_begin_ == in_end_ && !reading_) in_begin_ = in_end_ = 0;
  do_read();
}

void Connection::respond(uint64_t slot, int32_t correlation_id, bool flexible_header,
                         std::string body) {
  if (closed_ || slot < first_pending_ || slot - first_pending_ >= pending_.size()) return;
  Outgoing& o = pending_[slot - first_pending_];
  store_be32(o.header, static_cast<int32_t>(body.size() + 4 + (flexible_header ? 1 : 0)));
  store_be32(o.header + 4, correlation_id);
  o.header_size = 8;
  if (flexible_header) o.header[o.header_size++] = 0;  // empty tagged fields
  o.body = std::move(body);
  o.ready = true;
  do_write();
  done_with(slot);
}

void Connection::finish_without_response(uint64_t slot) {
  if (closed_ || slot < first_pending_ || slot - first_pending_ >= pending_.size()) return;
  Outgoing& o = pending_[slot - first_pending_];
  o.ready = true;
  o.empty = true;
  do_write();
  done_with(slot);
}

void Connection::release(uint64_t slot) {
  done_with(slot);
}

void Connection::done_with(uint64_t slot) {
  if (busy_ && slot == current_slot_) busy_ = false;
  if (busy_) return;
  // Next request from a fresh stack frame: no re-entry into the handler that answered.
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->process(); });
}

void Connection::do_write() {
  if (writing_ || closed_) return;
  // Every response ready at the front, in request order, in one gather write.
  writing_batch_.clear();
  bool was_full = pending_.size() >= kMaxUnansweredRequests;
  while (!pending_.empty() && pending_.front().ready) {
    if (!pending_.front().empty) writing_batch_.push_back(std::move(pending_.front()));
    pending_.pop_front();
    ++first_pending_;
  }
  if (was_full && !busy_) {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->process(); });
  }
  if (writing_batch_.empty()) return;
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(writing_batch_.size() * 2);
  for (const auto& o : writing_batch_) {
    bufs.emplace_back(o.header, o.header_size);
    if (!o.body.empty()) bufs.emplace_back(o.body.data(), o.body.size());
  }
  writing_ = true;
  asio::async_write(socket_, bufs,
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      self->writing_ = false;
                      self->writing_batch_.clear();
                      if (ec) {
                        self->close();
                        return;
                      }
                      self->do_write();
                    });
}

// --- broker ---

int64_t BrokerImpl::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string BrokerImpl::advertised_host() const {
  if (!options_.advertised_host.empty()) return options_.advertised_host;
  if (options_.listen_host == "0.0.0.0" || options_.listen_host == "::") {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) == 0) return name;
    return "localhost";
  }
  return options_.listen_host;
}

Status BrokerImpl::open() {
  root_ = options_.data_dir / "broker";
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return io_error(fmt::format("creating {}: {}", root_.string(), ec.message()));
  // The cluster id is made once and kept, so clients see the same cluster after a restart.
  auto id_file = root_ / "cluster_id";
  {
    std::ifstream in(id_file);
    std::getline(in, cluster_id_);
  }
  if (cluster_id_.empty()) {
    std::mt19937_64 rng{std::random_device{}()};
    cluster_id_ = fmt::format("sluice-{:016x}", rng());
    std::ofstream out(id_file);
    out << cluster_id_ << "\n";
    if (!out) return io_error(fmt::format("writing {}", id_file.string()));
  }
  // With fsync per batch every append is fdatasynced at once: no early writeback to start.
  options_.log.writeback_bytes =
      options_.fsync == FsyncPolicy::kBatch ? 0 : std::max<int64_t>(0, options_.writeback_bytes);
  SLUICE_ASSIGN_OR_RETURN(topics_, TopicStore::open(root_, options_.log));
  SLUICE_ASSIGN_OR_RETURN(groups_, GroupCoordinator::open(root_));

  boost::system::error_code bec;
  auto addr = asio::ip::make_address(options_.listen_host, bec);
  if (bec) {
    // A name: resolve it.
    tcp::resolver resolver(io_);
    auto results =
        resolver.resolve(options_.listen_host, std::to_string(options_.listen_port), bec);
    if (bec || results.empty()) {
      return invalid_argument(fmt::format("bus.listen host '{}' does not resolve: {}",
                                          options_.listen_host, bec.message()));
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, options_.listen_port);
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  acceptor_->open(ep.protocol(), bec);
  if (!bec) acceptor_->set_option(tcp::acceptor::reuse_address(true), bec);
  if (!bec) acceptor_->bind(ep, bec);
  if (!bec) acceptor_->listen(asio::socket_base::max_listen_connections, bec);
  if (bec) {
    return unavailable(fmt::format("cannot listen on {}:{}: {} (is another broker running?)",
                                   options_.listen_host, options_.listen_port, bec.message()));
  }
  port_ = acceptor_->local_endpoint().port();
  return Status::ok();
}

void BrokerImpl::accept() {
  acceptor_->async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        log::warn("accept failed", {log::kv("error", ec.message())});
        accept();
      }
      return;
    }
    std::make_shared<Connection>(std::move(socket), *this)->start();
    accept();
  });
}

void BrokerImpl::schedule_tick() {
  tick_timer_->expires_after(std::chrono::milliseconds(100));
  tick_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    groups_->tick(now_ms());
    schedule_tick();
  });
}

void BrokerImpl::schedule_fsync() {
  if (options_.fsync != FsyncPolicy::kInterval) return;
  fsync_timer_->expires_after(
      std::chrono::milliseconds(std::max<int64_t>(1, options_.fsync_interval_ms)));
  fsync_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    flush_interval();
    schedule_fsync();
  });
}

void BrokerImpl::schedule_cleanup() {
  cleanup_timer_->expires_after(
      std::chrono::milliseconds(std::max<int64_t>(10, options_.cleanup_interval_ms)));
  cleanup_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    int64_t now = now_ms();
    for (Topic* t : topics_->all()) {
      for (auto& p : t->partitions) {
        Status st = p->apply_retention(now);
        if (st.is_ok()) st = p->compact(now);
        if (!st.is_ok()) {
          log::error("log cleanup failed",
                     {log::kv("topic", t->name), log::kv("error", st.message())});
        }
      }
    }
    schedule_cleanup();
  });
}

// fsync=interval: the dirty partitions' files are fdatasynced on the sync thread, like a group
// commit whose outcome nobody waits for. On the I/O thread, a flush of a few hundred MB of dirty
// pages stalled every produce and fetch for up to a second (p99 922 ms at 1,000 msgs/s). A
// flush still running when the next interval comes is not doubled.
void BrokerImpl::flush_interval() {
  if (interval_flush_running_) return;
  std::vector<int> fds;
  for (Topic* t : topics_->all()) {
    for (auto& p : t->partitions) {
      auto fd = p->take_dirty_fd();
      if (!fd.is_ok()) {
        log::error("fsync failed",
                   {log::kv("topic", t->name), log::kv("error", fd.status().message())});
      } else if (*fd >= 0) {
        fds.push_back(*fd);
      }
    }
  }
  if (!fds.empty()) {
    interval_flush_running_ = true;
    submit_sync(std::move(fds), [this](Status st) {
      interval_flush_running_ = false;
      if (!st.is_ok()) log::error("fsync failed", {log::kv("error", st.message())});
    });
  }
  sync_offsets_if_dirty();
}

void BrokerImpl::sync_offsets_if_dirty() {
  if (!offsets_dirty_) return;
  offsets_dirty_ = false;
  if (Status st = groups_->sync_offsets(); !st.is_ok()) {
    log::error("fsync failed", {log::kv("file", "offsets"), log::kv("error", st.message())});
  }
}

void BrokerImpl::flush_all() {
  for (Topic* t : topics_->all()) {
    for (auto& p : t->partitions) {
      if (Status st = p->sync(); !st.is_ok()) {
        log::error("fsync failed", {log::kv("topic", t->name), log::kv("error", st.message())});
      }
    }
  }
  sync_offsets_if_dirty();
}

Status BrokerImpl::run(bool handle_signals) {
  tick_timer_ = std::make_unique<asio::steady_timer>(io_);
  fsync_timer_ = std::make_unique<asio::steady_timer>(io_);
  cleanup_timer_ = std::make_unique<asio::steady_timer>(io_);
  std::unique_ptr<asio::signal_set> signals;
  if (handle_signals) {
    signals = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM);
    signals->async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      log::info("broker stopping", {log::kv("signal", sig)});
      io_.stop();
    });
  }
  sync_stop_ = false;
  sync_helpers_.start(3);
  sync_thread_ = std::thread([this] { sync_loop(); });
  pthread_setname_np(sync_thread_.native_handle(), "bus-sync");
  accept();
  schedule_tick();
  schedule_fsync();
  schedule_cleanup();
  log::info("broker listening",
            {log::kv("listen", fmt::format("{}:{}", options_.listen_host, port_)),
             log::kv("advertised", fmt::format("{}:{}", advertised_host(), port_)),
             log::kv("data_dir", root_.string()), log::kv("topics", topics_->all().size())});
  io_.run();
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  sync_thread_.join();
  sync_helpers_.finish();
  flush_all();
  log::info("broker stopped");
  return Status::ok();
}

void BrokerImpl::submit_sync(std::vector<int> fds, std::function<void(Status)> done) {
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_queue_.push_back({std::move(fds), std::move(done)});
  }
  sync_cv_.notify_one();
}

void BrokerImpl::SyncHelpers::start(int n) {
  stop = false;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([this] {
      for (;;) {
        std::function<void()> task;
        {
          std::unique_lock<std::mutex> lock(mu);
          work_cv.wait(lock, [this] { return stop || !work.empty(); });
          if (work.empty()) return;
          task = std::move(work.back());
          work.pop_back();
        }
        task();
        std::lock_guard<std::mutex> lock(mu);
        if (--pending == 0) done_cv.notify_all();
      }
    });
    pthread_setname_np(threads.back().native_handle(), "bus-sync-helper");
  }
}

void BrokerImpl::SyncHelpers::finish() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  work_cv.notify_all();
  for (auto& t : threads)
    t.join();
  threads.clear();
}

void BrokerImpl::SyncHelpers::run(std::vector<std::function<void()>> tasks,
                                  const std::function<void()>& self) {
  if (!tasks.empty()) {
    std::lock_guard<std::mutex> lock(mu);
    pending += static_cast<int>(tasks.size());
    for (auto& t : tasks)
      work.push_back(std::move(t));
  }
  if (!tasks.empty()) work_cv.notify_all();
  self();
  std::unique_lock<std::mutex> lock(mu);
  done_cv.wait(lock, [this] { return pending == 0; });
}

void BrokerImpl::sync_loop() {
  for (;;) {
    std::vector<SyncJob> jobs;
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [this] { return sync_stop_ || !sync_queue_.empty(); });
      if (sync_queue_.empty()) return;  // stopping, nothing left
      jobs.swap(sync_queue_);
    }
    // One fdatasync per file for everything that queued up while the previous round ran, the
    // files' fdatasyncs in parallel (the filesystem folds them into one journal commit), so a
    // round costs about one fsync however many partitions were written.
    struct File {
      int fd;
      Status result;
    };
    std::map<std::pair<dev_t, ino_t>, File> files;
    std::vector<std::vector<const File*>> job_files(jobs.size());
    auto outcomes = std::make_shared<std::vector<Status>>(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      for (int fd : jobs[i].fds) {
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
          if ((*outcomes)[i].is_ok()) {
            (*outcomes)[i] = io_error(fmt::format("fstat: {}", std::strerror(errno)));
          }
          continue;
        }
        auto it = files.try_emplace(std::make_pair(st.st_dev, st.st_ino), File{fd, {}}).first;
        job_files[i].push_back(&it->second);
      }
    }
    auto sync_one = [](File* f) {
      if (::fdatasync(f->fd) != 0) {
        f->result = io_error(fmt::format("fdatasync: {}", std::strerror(errno)));
      }
    };
    std::vector<std::function<void()>> others;
    File* first = nullptr;
    for (auto& [key, f] : files) {
      if (!first) {
        first = &f;
      } else {
        others.emplace_back([&sync_one, file = &f] { sync_one(file); });
      }
    }
    sync_helpers_.run(std::move(others), [&] {
      if (first) sync_one(first);
    });
    for (size_t i = 0; i < jobs.size(); ++i) {
      for (const File* f : job_files[i])
        if (!f->result.is_ok() && (*outcomes)[i].is_ok()) (*outcomes)[i] = f->result;
      for (int fd : jobs[i].fds)
        ::close(fd);
    }
    auto shared = std::make_shared<std::vector<SyncJob>>(std::move(jobs));
    asio::post(io_, [this, shared, outcomes] {
      for (size_t i = 0; i < shared->size(); ++i)
        (*shared)[i].done((*outcomes)[i]);
      notify_fetchers();  // once for the whole group: high watermarks have all moved
    });
  }
}

void BrokerImpl::stop() {
  asio::post(io_, [this] { io_.stop(); });
}

Result<int64_t> BrokerImpl::allocate_producer_id() {
  // Ids come in persisted blocks of 1000 so that no id is handed out twice across restarts.
  if (next_producer_id_ >= producer_id_limit_) {
    auto file = root_ / "producer_id_block";
    int64_t start = 1000;
    {
      std::ifstream in(file);
      in >> start;
    }
    if (start < 1000) start = 1000;
    auto tmp = file;
    tmp += ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << start + 1000 << "\n";
      if (!out) return io_error(fmt::format("writing {}", tmp.string()));
    }
    int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
    std::error_code ec;
    fs::rename(tmp, file, ec);
    if (ec) return io_error(fmt::format("renaming {}: {}", tmp.string(), ec.message()));
    next_producer_id_ = start;
    producer_id_limit_ = start + 1000;
  }
  return next_producer_id_++;
}

const std::vector<ApiSupport>& supported_apis() {
  // Versions chosen so librdkafka 2.0 and kafka-python 2.0 both find their preferred ones, all
  // non-flexible except ApiVersions v3 (whose compact encoding is implemented).
  static const std::vector<ApiSupport> kApis = {
      {api::kProduce, "Produce", 3, 7, 9},
      {api::kFetch, "Fetch", 4, 10, 12},
      {api::kListOffsets, "ListOffsets", 1, 5, 6},
      {api::kMetadata, "Metadata", 0, 8, 9},
      {api::kOffsetCommit, "OffsetCommit", 2, 7, 8},
      {api::kOffsetFetch, "OffsetFetch", 1, 5, 6},
      {api::kFindCoordinator, "FindCoordinator", 0, 2, 3},
      {api::kJoinGroup, "JoinGroup", 0, 5, 6},
      {api::kHeartbeat, "Heartbeat", 0, 3, 4},
      {api::kLeaveGroup, "LeaveGroup", 0, 2, 4},
      {api::kSyncGroup, "SyncGroup", 0, 3, 4},
      {api::kDescribeGroups, "DescribeGroups", 0, 4, 5},
      {api::kListGroups, "ListGroups", 0, 2, 3},
      {api::kApiVersions, "ApiVersions", 0, 3, 3},
      {api::kCreateTopics, "CreateTopics", 0, 4, 5},
      {api::kDeleteTopics, "DeleteTopics", 0, 3, 4},
      {api::kInitProducerId, "InitProducerId", 0, 1, 2},
      {api::kDescribeConfigs, "DescribeConfigs", 0, 2, 4},
      {api::kCreatePartitions, "CreatePartitions", 0, 1, 2},
  };
  return kApis;
}

const ApiSupport* find_api(int16_t key) {
  for (const auto& a : supported_apis())
    if (a.key == key) return &a;
  return nullptr;
}

void BrokerImpl::reply(const RequestContext& ctx, std::string body) {
  // Response header v1 (tagged fields) for flexible versions; ApiVersions always uses v0.
  bool flexible_header = ctx.flexible && ctx.api_key != api::kApiVersions;
  ctx.conn->respond(ctx.slot, ctx.correlation_id, flexible_header, std::move(body));
}

void BrokerImpl::reply_unsupported(const RequestContext& ctx) {
  // The client asked for an API or version not advertised in ApiVersions: answer with
  // UNSUPPORTED_VERSION instead of dropping the connection. Most responses of a failed request
  // start with throttle_time_ms and/or an error code; clients that negotiated versions never
  // get here.
  log::warn("unsupported request",
            {log::kv("api_key", ctx.api_key), log::kv("version", ctx.version),
             log::kv("client", ctx.client_id)});
  std::string body;
  WireWriter w(&body);
  w.i16(code(KafkaError::kUnsupportedVersion));
  if (ctx.flexible) w.empty_tagged_fields();
  reply(ctx, std::move(body));
}

void BrokerImpl::handle(const std::shared_ptr<Connection>& conn, uint64_t slot, char* frame,
                        size_t size) {
  WireReader r(std::string_view(frame, size));
  RequestContext ctx;
  ctx.conn = conn;
  ctx.slot = slot;
  ctx.frame = frame;
  ctx.frame_size = size;
  ctx.api_key = r.i16();
  ctx.version = r.i16();
  ctx.correlation_id = r.i32();
  ctx.client_id = r.nullable_string().value_or("");
  if (!r.ok()) {
    log::warn("closing connection: malformed request header", {log::kv("peer", conn->peer())});
    conn->close();
    return;
  }
  const ApiSupport* api = find_api(ctx.api_key);
  ctx.flexible = api && ctx.version >= api->first_flexible;
  if (ctx.flexible) r.skip_tagged_fields();
  if (ctx.api_key == api::kApiVersions) {
    // KIP-511: an ApiVersions version we do not know is answered in v0 with our versions.
    if (ctx.version > api->max_version) {
      ctx.version = 0;
      ctx.flexible = false;
      ctx.too_new = true;
      WireReader empty({});
      return api_versions(ctx, empty);
    }
  }
  if (!api || ctx.version < api->min_version || ctx.version > api->max_version) {
    return reply_unsupported(ctx);
  }
  log::trace("request", {log::kv("api", api->name), log::kv("version", ctx.version),
                         log::kv("client", ctx.client_id)});
  switch (ctx.api_key) {
    case api::kApiVersions:
      return api_versions(ctx, r);
    case api::kMetadata:
      return metadata(ctx, r);
    case api::kProduce:
      return produce(ctx, r);
    case api::kFetch:
      return fetch(ctx, r);
    case api::kListOffsets:
      return list_offsets(ctx, r);
    case api::kCreateTopics:
      return create_topics(ctx, r);
    case api::kDeleteTopics:
      return delete_topics(ctx, r);
    case api::kCreatePartitions:
      return create_partitions(ctx, r);
    case api::kFindCoordinator:
      return find_coordinator(ctx, r);
    case api::kJoinGroup:
      return join_group(ctx, r);
    case api::kSyncGroup:
      return sync_group(ctx, r);
    case api::kHeartbeat:
      return heartbeat(ctx, r);
    case api::kLeaveGroup:
      return leave_group(ctx, r);
    case api::kOffsetCommit:
      return offset_commit(ctx, r);
    case api::kOffsetFetch:
      return offset_fetch(ctx, r);
    case api::kListGroups:
      return list_groups(ctx, r);
    case api::kDescribeGroups:
      return describe_groups(ctx, r);
    case api::kDescribeConfigs:
      return describe_configs(ctx, r);
    case api::kInitProducerId:
      return init_producer_id(ctx, r);
    default:
      return reply_unsupported(ctx);
  }
}

// --- public facade ---

Broker::Broker(std::unique_ptr<BrokerImpl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() = default;

Result<std::unique_ptr<Broker>> Broker::open(const BrokerOptions& options) {
  auto impl = std::make_unique<BrokerImpl>(options);
  SLUICE_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

uint16_t Broker::port() const {
  return impl_->port();
}

Status Broker::run(bool handle_signals) {
  return impl_->run(handle_signals);
}

void Broker::stop() {
  impl_->stop();
}

}  // namespace sluice::bus

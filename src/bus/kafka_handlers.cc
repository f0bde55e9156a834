// One function per Kafka API. Field order and per-version presence follow the Kafka protocol
// guide's request/response schemas (kafka.apache.org/protocol, "The Messages"); each `v >= N`
// below is where that field entered the schema.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "bus/broker_internal.h"
#include "common/log.h"

namespace sluice::bus {

namespace {

constexpr int32_t kNodeId = 0;
constexpr int32_t kOmittedAuthorizedOperations = INT32_MIN;

bool malformed(const RequestContext& ctx, const WireReader& r) {
  if (r.ok()) return false;
  const ApiSupport* api = find_api(ctx.api_key);
  log::warn("closing connection: malformed request",
            {log::kv("api", api ? api->name : "?"), log::kv("version", ctx.version),
             log::kv("peer", ctx.conn->peer())});
  ctx.conn->close();
  return true;
}

}  // namespace

struct FetchPartitionRequest {
  int32_t partition;
  int64_t offset;
  int32_t max_bytes;
};
struct FetchTopicRequest {
  std::string name;
  std::vector<FetchPartitionRequest> partitions;
};
struct PendingFetch {
  RequestContext ctx;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0;
  int8_t isolation = 0;
  std::vector<FetchTopicRequest> topics;
  std::unique_ptr<asio::steady_timer> timer;
  bool done = false;
};

// ApiVersions v0-v3. v3 is flexible: compact array, tagged fields (header stays v0).
void BrokerImpl::api_versions(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  if (v >= 3) {
    r.compact_nullable_string();  // client_software_name
    r.compact_nullable_string();  // client_software_version
    r.skip_tagged_fields();
  }
  std::string body;
  WireWriter w(&body);
  const auto& apis = supported_apis();
  w.i16(code(ctx.too_new ? KafkaError::kUnsupportedVersion : KafkaError::kNone));
  if (v >= 3) {
    w.compact_array_length(static_cast<int32_t>(apis.size()));
  } else {
    w.array_length(static_cast<int32_t>(apis.size()));
  }
  for (const auto& a : apis) {
    w.i16(a.key);
    w.i16(a.min_version);
    w.i16(a.max_version);
    if (v >= 3) w.empty_tagged_fields();
  }
  if (v >= 1) w.i32(0);  // throttle_time_ms
  if (v >= 3) w.empty_tagged_fields();
  reply(ctx, std::move(body));
}

// Metadata v0-v8.
void BrokerImpl::metadata(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  int32_t n = r.array_length(2);
  std::optional<std::vector<std::string>> requested;
  if (n > 0 || (n == 0 && v >= 1)) {  // v0: an empty list means every topic
    requested.emplace();
    for (int32_t i = 0; i < n && r.ok(); ++i)
      requested->push_back(r.string());
  }
  bool allow_auto_create = true;
  if (v >= 4) allow_auto_create = r.boolean();
  if (v >= 8) {
    r.boolean();  // include_cluster_authorized_operations
    r.boolean();  // include_topic_authorized_operations
  }
  if (malformed(ctx, r)) return;

  struct TopicAnswer {
    KafkaError error;
    std::string name;
    const Topic* topic;
  };
  std::vector<TopicAnswer> answers;
  if (!requested) {
    for (Topic* t : topics_->all())
      answers.push_back({KafkaError::kNone, t->name, t});
  } else {
    for (const auto& name : *requested) {
      Topic* t = topics_->find(name);
      if (!t && allow_auto_create && options_.auto_create_topics) {
        auto st = topics_->create(name, options_.default_partitions, {}, false);
        if (!st.ok()) {
          answers.push_back({st.error, name, nullptr});
          continue;
        }
        t = topics_->find(name);
      }
      if (!t) {
        auto valid = TopicStore::validate_name(name);
        answers.push_back(
            {valid.ok() ? KafkaError::kUnknownTopicOrPartition : valid.error, name, nullptr});
      } else {
        answers.push_back({KafkaError::kNone, name, t});
      }
    }
  }

  std::string body;
  WireWriter w(&body);
  if (v >= 3) w.i32(0);  // throttle_time_ms
  w.array_length(1);     // brokers
  w.i32(kNodeId);
  w.string(advertised_host());
  w.i32(port_);
  if (v >= 1) w.nullable_string(std::nullopt);  // rack
  if (v >= 2) w.nullable_string(cluster_id_);
  if (v >= 1) w.i32(kNodeId);  // controller_id
  w.array_length(static_cast<int32_t>(answers.size()));
  for (const auto& a : answers) {
    w.i16(code(a.error));
    w.string(a.name);
    if (v >= 1) w.boolean(false);  // is_internal
    int32_t parts = a.topic ? static_cast<int32_t>(a.topic->partitions.size()) : 0;
    w.array_length(parts);
    for (int32_t p = 0; p < parts; ++p) {
      w.i16(0);
      w.i32(p);
      w.i32(kNodeId);        // leader
      if (v >= 7) w.i32(0);  // leader_epoch
      w.array_length(1);
      w.i32(kNodeId);  // replicas
      w.array_length(1);
      w.i32(kNodeId);                 // isr
      if (v >= 5) w.array_length(0);  // offline_replicas
    }
    if (v >= 8) w.i32(kOmittedAuthorizedOperations);
  }
  if (v >= 8) w.i32(kOmittedAuthorizedOperations);
  reply(ctx, std::move(body));
}

namespace {
// One partition's outcome of a produce request.
struct ProducePartitionResult {
  int32_t index = 0;
  AppendOutcome outcome;
  PartitionLog* log = nullptr;
  int64_t log_start = -1;
  int64_t end = -1;  // log end offset right after the append
};
using TopicResults = std::pair<std::string, std::vector<ProducePartitionResult>>;
}  // namespace

// Produce v3-v7 (record batch v2 only).
void BrokerImpl::produce(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  auto transactional_id = r.nullable_string();
  int16_t acks = r.i16();
  r.i32();  // timeout_ms
  std::vector<TopicResults> results;
  int32_t ntopics = r.array_length(6);
  for (int32_t i = 0; i < ntopics && r.ok(); ++i) {
    auto& [name, parts] = results.emplace_back(r.string(), std::vector<ProducePartitionResult>{});
    int32_t nparts = r.array_length(8);
    for (int32_t j = 0; j < nparts && r.ok(); ++j) {
      int32_t index = r.i32();
      auto records = r.nullable_bytes();
      if (!r.ok()) break;
      ProducePartitionResult pr;
      pr.index = index;
      Topic* t = topics_->find(name);
      if (acks != 0 && acks != 1 && acks != -1) {
        pr.outcome.error = KafkaError::kInvalidRequiredAcks;
      } else if (transactional_id) {
        pr.outcome.error = KafkaError::kUnsupportedForMessageFormat;
      } else if (!t || index < 0 || index >= static_cast<int32_t>(t->partitions.size())) {
        pr.outcome.error = KafkaError::kUnknownTopicOrPartition;
      } else if (!records) {
        pr.outcome.error = KafkaError::kCorruptMessage;
      } else {
        pr.log = t->partitions[static_cast<size_t>(index)].get();
        // The record set is a view of the connection's request buffer: appended in place.
        char* data = ctx.frame + (records->data() - ctx.frame);
        pr.outcome = pr.log->append_in_place(data, records->size());
        if (!pr.outcome.message.empty() && pr.outcome.error != KafkaError::kNone) {
          log::warn("produce rejected", {log::kv("topic", name), log::kv("partition", index),
                                         log::kv("error", kafka_error_name(pr.outcome.error)),
                                         log::kv("reason", pr.outcome.message)});
        }
      }
      parts.push_back(std::move(pr));
    }
  }
  if (malformed(ctx, r)) return;

  // The answer (and the offsets consumers may see) once the batches are durable.
  auto finish = [this, ctx, acks, v](const std::vector<TopicResults>& results) {
    if (acks == 0) {
      ctx.conn->finish_without_response(ctx.slot);
      return;
    }
    std::string body;
    WireWriter w(&body);
    w.array_length(static_cast<int32_t>(results.size()));
    for (const auto& [name, parts] : results) {
      w.string(name);
      w.array_length(static_cast<int32_t>(parts.size()));
      for (const auto& pr : parts) {
        w.i32(pr.index);
        w.i16(code(pr.outcome.error));
        w.i64(pr.outcome.error == KafkaError::kNone ? pr.outcome.base_offset : -1);
        w.i64(-1);  // log_append_time_ms (v2+): CreateTime topics
        if (v >= 5) w.i64(pr.log_start);
      }
    }
    w.i32(0);  // throttle_time_ms
    reply(ctx, std::move(body));
  };
  for (auto& [name, parts] : results) {
    for (auto& pr : parts) {
      if (!pr.log) continue;
      pr.log_start = pr.log->log_start_offset();
      pr.end = pr.log->log_end_offset();
    }
  }
  if (options_.fsync != FsyncPolicy::kBatch) {
    for (auto& [name, parts] : results) {
      for (auto& pr : parts) {
        if (pr.log && pr.outcome.error == KafkaError::kNone) pr.log->advance_high_watermark(pr.end);
      }
    }
    notify_fetchers();
    finish(results);
    return;
  }
  // Durability with fsync=batch: group commit. The written segments are fdatasynced on the sync
  // thread together with other requests'; the I/O thread goes on serving meanwhile. The answer
  // and the high watermark wait for the sync.
  std::vector<int> fds;
  for (auto& [name, parts] : results) {
    for (auto& pr : parts) {
      if (!pr.log || pr.outcome.error != KafkaError::kNone) continue;
      auto fd = pr.log->dup_active_fd();
      if (!fd.is_ok()) {
        log::error("fsync failed",
                   {log::kv("topic", name), log::kv("error", fd.status().message())});
        pr.outcome.error = KafkaError::kKafkaStorageError;
        continue;
      }
      fds.push_back(*fd);
    }
  }
  if (fds.empty()) {
    finish(results);
    return;
  }
  auto pending = std::make_shared<std::vector<TopicResults>>(std::move(results));
  // The sync thread calls back for every request of one group commit, then notifies waiting
  // fetches once (they see the whole group's records in one response).
  submit_sync(std::move(fds), [this, pending, finish](Status st) {
    for (auto& [name, parts] : *pending) {
      Topic* t = topics_->find(name);
      for (auto& pr : parts) {
        if (!pr.log || pr.outcome.error != KafkaError::kNone) continue;
        if (!st.is_ok()) {
          log::error("fsync failed", {log::kv("topic", name), log::kv("error", st.message())});
          pr.outcome.error = KafkaError::kKafkaStorageError;
          continue;
        }
        // The topic may have been deleted while the sync ran.
        if (t && pr.index < static_cast<int32_t>(t->partitions.size()) &&
            t->partitions[static_cast<size_t>(pr.index)].get() == pr.log) {
          pr.log->advance_high_watermark(pr.end);
        }
      }
    }
    finish(*pending);
  });
  // Handle the connection's next request meanwhile: its batches join this group commit or the
  // next; the responses still go out in request order.
  ctx.conn->release(ctx.slot);
}

size_t BrokerImpl::build_fetch_response(const PendingFetch& f, std::string* body) {
  const int16_t v = f.ctx.version;
  WireWriter w(body);
  w.i32(0);  // throttle_time_ms
  if (v >= 7) {
    w.i16(0);  // error_code
    w.i32(0);  // session_id: fetch sessions are declined, every fetch is a full fetch
  }
  size_t budget = f.max_bytes > 0 ? static_cast<size_t>(f.max_bytes) : (64u << 20);
  size_t total = 0;
  w.array_length(static_cast<int32_t>(f.topics.size()));
  for (const auto& tr : f.topics) {
    w.string(tr.name);
    w.array_length(static_cast<int32_t>(tr.partitions.size()));
    Topic* t = topics_->find(tr.name);
    for (const auto& pr : tr.partitions) {
      KafkaError err = KafkaError::kNone;
      int64_t hw = -1, start = -1;
      PartitionLog* log =
          (t && pr.partition >= 0 && pr.partition < static_cast<int32_t>(t->partitions.size()))
              ? t->partitions[static_cast<size_t>(pr.partition)].get()
              : nullptr;
      if (!log) {
        err = KafkaError::kUnknownTopicOrPartition;
      } else {
        hw = log->high_watermark();
        start = log->log_start_offset();
        if (pr.offset < start || pr.offset > log->log_end_offset()) {
          err = KafkaError::kOffsetOutOfRange;
        }
      }
      size_t error_pos = body->size() + 4;
      w.i32(pr.partition);
      w.i16(code(err));
      w.i64(hw);
      w.i64(hw);  // last_stable_offset: no transactions, so the high watermark
      if (v >= 5) w.i64(start);
      if (f.isolation == 1) {
        w.array_length(0);  // aborted_transactions
      } else {
        w.array_length(-1);
      }
      // The record set is read from the segment straight into the response, its length
      // patched in after.
      size_t length_pos = body->size();
      w.i32(0);
      if (err == KafkaError::kNone && pr.offset < hw && (total < budget || total == 0)) {
        size_t limit = std::min<size_t>(static_cast<size_t>(std::max(pr.max_bytes, 1)),
                                        budget > total ? budget - total : 1);
        auto got = log->read(pr.offset, limit, body, hw);
        if (!got.is_ok()) {
          log::error("fetch read failed",
                     {log::kv("topic", tr.name), log::kv("error", got.status().message())});
          body->resize(length_pos + 4);
          store_be16(body->data() + error_pos, code(KafkaError::kKafkaStorageError));
        } else {
          total += *got;
        }
      }
      store_be32(body->data() + length_pos, static_cast<int32_t>(body->size() - length_pos - 4));
    }
  }
  return total;
}

void BrokerImpl::complete_fetch(const std::shared_ptr<PendingFetch>& f) {
  if (f->done) return;
  f->done = true;
  if (f->timer) f->timer->cancel();
  if (f->ctx.conn->closed()) return;
  std::string body;
  build_fetch_response(*f, &body);
  reply(f->ctx, std::move(body));
}

void BrokerImpl::notify_fetchers() {
  if (waiting_fetches_.empty()) return;
  auto waiting = std::move(waiting_fetches_);
  waiting_fetches_.clear();
  for (auto& f : waiting) {
    if (f->done || f->ctx.conn->closed()) continue;
    std::string body;
    size_t bytes = build_fetch_response(*f, &body);
    if (bytes >= static_cast<size_t>(std::max(f->min_bytes, 1))) {
      f->done = true;
      f->timer->cancel();
      reply(f->ctx, std::move(body));
    } else {
      waiting_fetches_.push_back(f);
    }
  }
}

// Fetch v4-v10, with long polling (max_wait_ms / min_bytes) and max_bytes.
void BrokerImpl::fetch(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  auto f = std::make_shared<PendingFetch>();
  f->ctx = ctx;
  r.i32();  // replica_id
  f->max_wait_ms = r.i32();
  f->min_bytes = r.i32();
  f->max_bytes = r.i32();
  f->isolation = r.i8();
  if (v >= 7) {
    r.i32();  // session_id
    r.i32();  // session_epoch
  }
  int32_t ntopics = r.array_length(6);
  for (int32_t i = 0; i < ntopics && r.ok(); ++i) {
    auto& tr = f->topics.emplace_back();
    tr.name = r.string();
    int32_t nparts = r.array_length(16);
    for (int32_t j = 0; j < nparts && r.ok(); ++j) {
      FetchPartitionRequest pr{};
      pr.partition = r.i32();
      if (v >= 9) r.i32();  // current_leader_epoch
      pr.offset = r.i64();
      if (v >= 5) r.i64();  // log_start_offset (followers only)
      pr.max_bytes = r.i32();
      tr.partitions.push_back(pr);
    }
  }
  if (v >= 7) {
    int32_t forgotten = r.array_length(6);
    for (int32_t i = 0; i < forgotten && r.ok(); ++i) {
      r.string();
      int32_t n = r.array_length(4);
      for (int32_t j = 0; j < n && r.ok(); ++j)
        r.i32();
    }
  }
  if (malformed(ctx, r)) return;
  std::string body;
  size_t bytes = build_fetch_response(*f, &body);
  if (f->max_wait_ms <= 0 || bytes >= static_cast<size_t>(std::max(f->min_bytes, 1))) {
    f->done = true;
    reply(ctx, std::move(body));
    return;
  }
  f->timer = std::make_unique<asio::steady_timer>(io_);
  f->timer->expires_after(std::chrono::milliseconds(f->max_wait_ms));
  f->timer->async_wait([this, f](boost::system::error_code ec) {
    if (ec) return;
    waiting_fetches_.erase(std::remove(waiting_fetches_.begin(), waiting_fetches_.end(), f),
                           waiting_fetches_.end());
    complete_fetch(f);
  });
  waiting_fetches_.push_back(f);
}

// ListOffsets v1-v5: -1 latest, -2 earliest, else the first offset at or after a timestamp.
void BrokerImpl::list_offsets(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  r.i32();             // replica_id
  if (v >= 2) r.i8();  // isolation_level
  std::string body;
  WireWriter w(&body);
  if (v >= 2) w.i32(0);  // throttle_time_ms
  int32_t ntopics = r.array_length(6);
  w.array_length(std::max(ntopics, 0));
  for (int32_t i = 0; i < ntopics && r.ok(); ++i) {
    std::string name = r.string();
    Topic* t = topics_->find(name);
    w.string(name);
    int32_t nparts = r.array_length(12);
    w.array_length(std::max(nparts, 0));
    for (int32_t j = 0; j < nparts && r.ok(); ++j) {
      int32_t p = r.i32();
      if (v >= 4) r.i32();  // current_leader_epoch
      int64_t ts = r.i64();
      KafkaError err = KafkaError::kNone;
      int64_t offset = -1, found_ts = -1;
      if (!t || p < 0 || p >= static_cast<int32_t>(t->partitions.size())) {
        err = KafkaError::kUnknownTopicOrPartition;
      } else {
        const auto& log = t->partitions[static_cast<size_t>(p)];
        if (ts == -1) {
          offset = log->high_watermark();
        } else if (ts == -2) {
          offset = log->log_start_offset();
        } else {
          auto found = log->offset_for_timestamp(ts);
          if (!found.is_ok()) {
            err = to_kafka_error(found.status());
          } else {
            offset = found->first;
            found_ts = found->second;
          }
        }
      }
      w.i32(p);
      w.i16(code(err));
      w.i64(found_ts);
      w.i64(offset);
      if (v >= 4) w.i32(0);  // leader_epoch
    }
  }
  if (malformed(ctx, r)) return;
  reply(ctx, std::move(body));
}

// CreateTopics v0-v4.
void BrokerImpl::create_topics(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  struct Req {
    std::string name;
    int32_t partitions;
    int16_t replication;
    int32_t assignments;
    bool bad_assignment = false;
    std::map<std::string, std::string> configs;
  };
  std::vector<Req> reqs;
  int32_t n = r.array_length(12);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    Req q;
    q.name = r.string();
    q.partitions = r.i32();
    q.replication = r.i16();
    q.assignments = std::max(r.array_length(8), 0);
    for (int32_t a = 0; a < q.assignments && r.ok(); ++a) {
      r.i32();  // partition_index
      int32_t nb = r.array_length(4);
      for (int32_t b = 0; b < nb && r.ok(); ++b)
        q.bad_assignment = q.bad_assignment || r.i32() != kNodeId;
      q.bad_assignment = q.bad_assignment || nb != 1;
    }
    int32_t nc = r.array_length(4);
    for (int32_t c = 0; c < nc && r.ok(); ++c) {
      std::string key = r.string();
      auto value = r.nullable_string();
      if (value) q.configs[key] = *value;
    }
    reqs.push_back(std::move(q));
  }
  r.i32();  // timeout_ms
  bool validate_only = v >= 1 ? r.boolean() : false;
  if (malformed(ctx, r)) return;
  std::string body;
  WireWriter w(&body);
  if (v >= 2) w.i32(0);
  w.array_length(static_cast<int32_t>(reqs.size()));
  for (const auto& q : reqs) {
    KafkaStatus st;
    int32_t partitions = q.assignments > 0 ? q.assignments : q.partitions;
    if (partitions == -1) partitions = options_.default_partitions;
    if (q.replication != -1 && q.replication != 1 && q.assignments == 0) {
      st = {
          KafkaError::kInvalidReplicationFactor,
          fmt::format("replication factor {} is more than the 1 broker available", q.replication)};
    } else if (q.bad_assignment) {
      st = {KafkaError::kInvalidReplicaAssignment,
            "replica assignments may only name broker 0, once per partition"};
    } else {
      st = topics_->create(q.name, partitions, q.configs, validate_only);
    }
    w.string(q.name);
    w.i16(code(st.error));
    if (v >= 1) w.nullable_string(st.ok() ? std::nullopt : std::optional(st.message));
  }
  reply(ctx, std::move(body));
}

// DeleteTopics v0-v3.
void BrokerImpl::delete_topics(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  std::vector<std::string> names;
  int32_t n = r.array_length(2);
  for (int32_t i = 0; i < n && r.ok(); ++i)
    names.push_back(r.string());
  r.i32();  // timeout_ms
  if (malformed(ctx, r)) return;
  std::string body;
  WireWriter w(&body);
  if (v >= 1) w.i32(0);
  w.array_length(static_cast<int32_t>(names.size()));
  for (const auto& name : names) {
    // Long-polling fetches on the topic see it gone when they complete.
    auto st = topics_->remove(name);
    if (st.ok()) groups_->forget_topic(name);
    w.string(name);
    w.i16(code(st.error));
  }
  reply(ctx, std::move(body));
}

// CreatePartitions v0-v1.
void BrokerImpl::create_partitions(const RequestContext& ctx, WireReader& r) {
  struct Req {
    std::string name;
    int32_t count;
  };
  std::vector<Req> reqs;
  int32_t n = r.array_length(6);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    Req q{r.string(), r.i32()};
    int32_t na = r.array_length(4);
    for (int32_t a = 0; a < na && r.ok(); ++a) {
      int32_t nb = r.array_length(4);
      for (int32_t b = 0; b < nb && r.ok(); ++b)
        r.i32();
    }
    reqs.push_back(std::move(q));
  }
  r.i32();  // timeout_ms
  bool validate_only = r.boolean();
  if (malformed(ctx, r)) return;
  std::string body;
  WireWriter w(&body);
  w.i32(0);
  w.array_length(static_cast<int32_t>(reqs.size()));
  for (const auto& q : reqs) {
    auto st = topics_->add_partitions(q.name, q.count, validate_only);
    w.string(q.name);
    w.i16(code(st.error));
    w.nullable_string(st.ok() ? std::nullopt : std::optional(st.message));
  }
  reply(ctx, std::move(body));
}

// FindCoordinator v0-v2: this node coordinates every group; transactions are not offered.
void BrokerImpl::find_coordinator(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  r.string();  // key
  int8_t key_type = v >= 1 ? r.i8() : 0;
  if (malformed(ctx, r)) return;
  std::string body;
  WireWriter w(&body);
  bool ok = key_type == 0;
  if (v >= 1) w.i32(0);
  w.i16(code(ok ? KafkaError::kNone : KafkaError::kCoordinatorNotAvailable));
  if (v >= 1) {
    w.nullable_string(ok ? std::nullopt
                         : std::optional<std::string>("transactions are not supported"));
  }
  w.i32(ok ? kNodeId : -1);
  w.string(ok ? advertised_host() : "");
  w.i32(ok ? port_ : -1);
  reply(ctx, std::move(body));
}

// JoinGroup v0-v5. The answer may come later, when the rebalance completes.
void BrokerImpl::join_group(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  JoinRequest q;
  q.group_id = r.string();
  q.session_timeout_ms = r.i32();
  q.rebalance_timeout_ms = v >= 1 ? r.i32() : q.session_timeout_ms;
  q.member_id = r.string();
  if (v >= 5) r.nullable_string();  // group_instance_id: static membership is not offered
  q.protocol_type = r.string();
  int32_t n = r.array_length(6);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    std::string name = r.string();
    q.protocols.emplace_back(std::move(name), std::string(r.bytes()));
  }
  if (malformed(ctx, r)) return;
  q.client_id = ctx.client_id;
  auto colon = ctx.conn->peer().rfind(':');
  q.client_host = "/" + ctx.conn->peer().substr(0, colon);
  groups_->join(q, now_ms(), [this, ctx](const JoinResponse& jr) {
    const int16_t v = ctx.version;
    std::string body;
    WireWriter w(&body);
    if (v >= 2) w.i32(0);
    w.i16(code(jr.error));
    w.i32(jr.generation);
    w.string(jr.protocol);
    w.string(jr.leader);
    w.string(jr.member_id);
    w.array_length(static_cast<int32_t>(jr.members.size()));
    for (const auto& [id, meta] : jr.members) {
      w.string(id);
      if (v >= 5) w.nullable_string(std::nullopt);
      w.bytes(meta);
    }
    reply(ctx, std::move(body));
  });
}

// SyncGroup v0-v3. Followers wait for the leader's assignment.
void BrokerImpl::sync_group(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  std::string group = r.string();
  int32_t generation = r.i32();
  std::string member = r.string();
  if (v >= 3) r.nullable_string();  // group_instance_id
  std::map<std::string, std::string> assignments;
  int32_t n = r.array_length(6);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    std::string id = r.string();
    assignments[id] = std::string(r.bytes());
  }
  if (malformed(ctx, r)) return;
  groups_->sync(group, generation, member, assignments, now_ms(),
                [this, ctx](KafkaError err, const std::string& assignment) {
                  std::string body;
                  WireWriter w(&body);
                  if (ctx.version >= 1) w.i32(0);
                  w.i16(code(err));
                  w.bytes(assignment);
                  reply(ctx, std::move(body));
                });
}

// Heartbeat v0-v3.
void BrokerImpl::heartbeat(const RequestContext& ctx, WireReader& r) {
  std::string group = r.string();
  int32_t generation = r.i32();
  std::string member = r.string();
  if (ctx.version >= 3) r.nullable_string();
  if (malformed(ctx, r)) return;
  KafkaError err = groups_->heartbeat(group, generation, member, now_ms());
  std::string body;
  WireWriter w(&body);
  if (ctx.version >= 1) w.i32(0);
  w.i16(code(err));
  reply(ctx, std::move(body));
}

// LeaveGroup v0-v2.
void BrokerImpl::leave_group(const RequestContext& ctx, WireReader& r) {
  std::string group = r.string();
  std::string member = r.string();
  if (malformed(ctx, r)) return;
  KafkaError err = groups_->leave(group, member, now_ms());
  std::string body;
  WireWriter w(&body);
  if (ctx.version >= 1) w.i32(0);
  w.i16(code(err));
  reply(ctx, std::move(body));
}

// OffsetCommit v2-v7. Persisted in the offsets file; fsynced before the answer with fsync=batch.
void BrokerImpl::offset_commit(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  std::string group = r.string();
  int32_t generation = r.i32();
  std::string member = r.string();
  if (v >= 7) r.nullable_string();  // group_instance_id
  if (v >= 2 && v <= 4) r.i64();    // retention_time_ms
  std::vector<OffsetCommitEntry> entries;
  int32_t nt = r.array_length(6);
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    std::string topic = r.string();
    int32_t np = r.array_length(14);
    for (int32_t j = 0; j < np && r.ok(); ++j) {
      OffsetCommitEntry e;
      e.topic = topic;
      e.partition = r.i32();
      e.offset = r.i64();
      if (v >= 6) r.i32();  // committed_leader_epoch
      e.metadata = r.nullable_string().value_or("");
      entries.push_back(std::move(e));
    }
  }
  if (malformed(ctx, r)) return;
  KafkaError err = groups_->commit(group, generation, member, entries);
  if (err == KafkaError::kNone) {
    if (options_.fsync == FsyncPolicy::kBatch) {
      if (!groups_->sync_offsets().is_ok()) err = KafkaError::kKafkaStorageError;
    } else {
      offsets_dirty_ = true;
    }
  }
  std::string body;
  WireWriter w(&body);
  if (v >= 3) w.i32(0);
  // Answer in request order, grouped by topic as sent.
  std::vector<std::pair<std::string, std::vector<int32_t>>> by_topic;
  for (const auto& e : entries) {
    if (by_topic.empty() || by_topic.back().first != e.topic) by_topic.push_back({e.topic, {}});
    by_topic.back().second.push_back(e.partition);
  }
  w.array_length(static_cast<int32_t>(by_topic.size()));
  for (const auto& [topic, parts] : by_topic) {
    w.string(topic);
    w.array_length(static_cast<int32_t>(parts.size()));
    for (int32_t p : parts) {
      w.i32(p);
      w.i16(code(err));
    }
  }
  reply(ctx, std::move(body));
}

// OffsetFetch v1-v5 (v2+: a null topic list means every committed offset of the group).
void BrokerImpl::offset_fetch(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  std::string group = r.string();
  int32_t nt = r.array_length(6);
  std::map<std::string, std::vector<int32_t>> wanted;
  std::vector<std::string> order;
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    std::string topic = r.string();
    order.push_back(topic);
    int32_t np = r.array_length(4);
    for (int32_t j = 0; j < np && r.ok(); ++j)
      wanted[topic].push_back(r.i32());
  }
  if (malformed(ctx, r)) return;
  if (nt < 0) {
    for (const auto& [tp, _] : groups_->committed_all(group)) {
      if (!wanted.count(tp.first)) order.push_back(tp.first);
      wanted[tp.first].push_back(tp.second);
    }
  }
  std::string body;
  WireWriter w(&body);
  if (v >= 3) w.i32(0);
  w.array_length(static_cast<int32_t>(order.size()));
  for (const auto& topic : order) {
    w.string(topic);
    const auto& parts = wanted[topic];
    w.array_length(static_cast<int32_t>(parts.size()));
    for (int32_t p : parts) {
      auto c = groups_->committed(group, topic, p);
      w.i32(p);
      w.i64(c ? c->offset : -1);
      if (v >= 5) w.i32(-1);  // committed_leader_epoch
      w.nullable_string(c ? std::optional(c->metadata) : std::optional<std::string>(""));
      w.i16(0);
    }
  }
  if (v >= 2) w.i16(0);
  reply(ctx, std::move(body));
}

// ListGroups v0-v2.
void BrokerImpl::list_groups(const RequestContext& ctx, WireReader& r) {
  if (malformed(ctx, r)) return;
  std::string body;
  WireWriter w(&body);
  if (ctx.version >= 1) w.i32(0);
  w.i16(0);
  auto groups = groups_->list();
  w.array_length(static_cast<int32_t>(groups.size()));
  for (const auto& [id, type] : groups) {
    w.string(id);
    w.string(type);
  }
  reply(ctx, std::move(body));
}

// DescribeGroups v0-v4.
void BrokerImpl::describe_groups(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  std::vector<std::string> ids;
  int32_t n = r.array_length(2);
  for (int32_t i = 0; i < n && r.ok(); ++i)
    ids.push_back(r.string());
  if (v >= 3) r.boolean();  // include_authorized_operations
  if (malformed(ctx, r)) return;
  std::string body;
  WireWriter w(&body);
  if (v >= 1) w.i32(0);
  w.array_length(static_cast<int32_t>(ids.size()));
  for (const auto& id : ids) {
    auto info = groups_->describe(id);
    w.i16(0);
    w.string(id);
    w.string(info ? info->state : "Dead");
    w.string(info ? info->protocol_type : "");
    w.string(info ? info->protocol : "");
    w.array_length(info ? static_cast<int32_t>(info->members.size()) : 0);
    if (info) {
      for (const auto& m : info->members) {
        w.string(m.member_id);
        if (v >= 4) w.nullable_string(std::nullopt);
        w.string(m.client_id);
        w.string(m.client_host);
        w.bytes(m.metadata);
        w.bytes(m.assignment);
      }
    }
    if (v >= 3) w.i32(kOmittedAuthorizedOperations);
  }
  reply(ctx, std::move(body));
}

// DescribeConfigs v0-v2 for topics (resource type 2) and this broker (type 4).
void BrokerImpl::describe_configs(const RequestContext& ctx, WireReader& r) {
  const int16_t v = ctx.version;
  struct Res {
    int8_t type;
    std::string name;
    std::optional<std::vector<std::string>> keys;
  };
  std::vector<Res> res;
  int32_t n = r.array_length(7);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    Res q;
    q.type = r.i8();
    q.name = r.string();
    int32_t nk = r.array_length(2);
    if (nk >= 0) {
      q.keys.emplace();
      for (int32_t k = 0; k < nk && r.ok(); ++k)
        q.keys->push_back(r.string());
    }
    res.push_back(std::move(q));
  }
  if (v >= 1) r.boolean();  // include_synonyms
  if (malformed(ctx, r)) return;
  std::string body;
  WireWriter w(&body);
  w.i32(0);
  w.array_length(static_cast<int32_t>(res.size()));
  for (const auto& q : res) {
    // name -> (value, source): 1 DYNAMIC_TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG.
    std::vector<std::tuple<std::string, std::string, int8_t>> configs;
    KafkaError err = KafkaError::kNone;
    std::optional<std::string> message;
    if (q.type == 2) {
      Topic* t = topics_->find(q.name);
      if (!t) {
        err = KafkaError::kUnknownTopicOrPartition;
        message = fmt::format("topic '{}' does not exist", q.name);
      } else {
        for (const auto& [k, val] : default_topic_configs(topics_->defaults())) {
          auto it = t->configs.find(k);
          if (it != t->configs.end()) {
            configs.emplace_back(k, it->second, 1);
          } else {
            configs.emplace_back(k, val, 5);
          }
        }
      }
    } else if (q.type == 4) {
      const auto& d = topics_->defaults();
      configs = {
          {"broker.id", std::to_string(kNodeId), 4},
          {"auto.create.topics.enable", options_.auto_create_topics ? "true" : "false", 4},
          {"num.partitions", std::to_string(options_.default_partitions), 4},
          {"log.retention.ms", std::to_string(d.retention_ms), 4},
          {"log.retention.bytes", std::to_string(d.retention_bytes), 4},
          {"log.segment.bytes", std::to_string(d.segment_bytes), 4},
          {"log.flush.interval.ms",
           options_.fsync == FsyncPolicy::kInterval ? std::to_string(options_.fsync_interval_ms)
                                                    : "9223372036854775807",
           4},
      };
    } else {
      err = KafkaError::kInvalidRequest;
      message = fmt::format("resource type {} is not described (use 2 topic or 4 broker)",
                            static_cast<int>(q.type));
    }
    if (q.keys) {
      std::erase_if(configs, [&](const auto& c) {
        return std::find(q.keys->begin(), q.keys->end(), std::get<0>(c)) == q.keys->end();
      });
    }
    w.i16(code(err));
    w.nullable_string(message);
    w.i8(q.type);
    w.string(q.name);
    w.array_length(static_cast<int32_t>(configs.size()));
    for (const auto& [k, val, source] : configs) {
      w.string(k);
      w.nullable_string(val);
      w.boolean(q.type == 4);  // read_only: broker settings come from sluice.toml
      if (v == 0) {
        w.boolean(source == 5);  // is_default
      } else {
        w.i8(source);
      }
      w.boolean(false);               // is_sensitive
      if (v >= 1) w.array_length(0);  // synonyms
    }
  }
  reply(ctx, std::move(body));
}

// InitProducerId v0-v1: idempotent producers only (a transactional id is refused).
void BrokerImpl::init_producer_id(const RequestContext& ctx, WireReader& r) {
  auto transactional_id = r.nullable_string();
  r.i32();  // transaction_timeout_ms
  if (malformed(ctx, r)) return;
  KafkaError err = KafkaError::kNone;
  int64_t id = -1;
  if (transactional_id) {
    err = KafkaError::kInvalidRequest;
    log::warn("transactional producer refused: transactions are not supported",
              {log::kv("transactional_id", *transactional_id)});
  } else {
    auto got = allocate_producer_id();
    if (got.is_ok()) {
      id = *got;
    } else {
      err = to_kafka_error(got.status());
    }
  }
  std::string body;
  WireWriter w(&body);
  w.i32(0);
  w.i16(code(err));
  w.i64(id);
  w.i16(err == KafkaError::kNone ? 0 : -1);
  reply(ctx, std::move(body));
}

}  // namespace sluice::bus

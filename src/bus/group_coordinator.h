// Consumer groups (Kafka's group membership protocol, KIP-62 timeouts): members join, the
// leader's assignment is handed out by SyncGroup, a new generation starts on every join, leave
// or session timeout. Committed offsets are kept in an append-only file
// `<root>/groups/offsets.log` (records framed with length + CRC-32C, torn tail truncated on
// open, rewritten compactly when mostly superseded), so they survive restarts.
//
// Not thread-safe; the broker's I/O thread calls it and drives timeouts with tick(now_ms).
// Deferred answers (JoinGroup waits for the other members, SyncGroup followers wait for the
// leader) are delivered through callbacks, possibly from a later call.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/kafka_errors.h"
#include "common/status.h"

namespace sluice::bus {

struct JoinRequest {
  std::string group_id;
  int32_t session_timeout_ms = 10000;
  int32_t rebalance_timeout_ms = 10000;
  std::string member_id;
  std::string client_id;
  std::string client_host;
  std::string protocol_type;
  std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata
};

struct JoinResponse {
  KafkaError error = KafkaError::kNone;
  int32_t generation = -1;
  std::string protocol;
  std::string leader;
  std::string member_id;
  std::vector<std::pair<std::string, std::string>> members;  // only for the leader
};

struct CommittedOffset {
  int64_t offset = -1;
  std::string metadata;
};

struct OffsetCommitEntry {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string metadata;
};

struct GroupMemberInfo {
  std::string member_id, client_id, client_host;
  std::string metadata, assignment;
};

struct GroupInfo {
  std::string group_id;
  std::string state;  // Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
  std::string protocol_type, protocol;
  int32_t generation = 0;
  std::vector<GroupMemberInfo> members;
};

class GroupCoordinator {
 public:
  using JoinCallback = std::function<void(const JoinResponse&)>;
  using SyncCallback = std::function<void(KafkaError, const std::string& assignment)>;

  // Opens (or creates) the offsets file under `root/groups`.
  static Result<std::unique_ptr<GroupCoordinator>> open(const std::filesystem::path& root);
  ~GroupCoordinator();

  void join(const JoinRequest& req, int64_t now_ms, JoinCallback done);
  void sync(const std::string& group_id, int32_t generation, const std::string& member_id,
            const std::map<std::string, std::string>& assignments, int64_t now_ms,
            SyncCallback done);
  KafkaError heartbeat(const std::string& group_id, int32_t generation,
                       const std::string& member_id, int64_t now_ms);
  KafkaError leave(const std::string& group_id, const std::string& member_id, int64_t now_ms);
  // Expires members whose session ran out and completes rebalances past their deadline.
  void tick(int64_t now_ms);

  // Validates membership (generation -1 with no member id: a standalone commit) and stores.
  KafkaError commit(const std::string& group_id, int32_t generation, const std::string& member_id,
                    const std::vector<OffsetCommitEntry>& offsets);
  // Drops every group's committed offsets of a deleted topic.
  void forget_topic(const std::string& topic);
  // fsync of the offsets file (called per the broker's durability policy).
  Status sync_offsets();
  std::optional<CommittedOffset> committed(const std::string& group_id, const std::string& topic,
                                           int32_t partition) const;
  // Every committed offset of a group: (topic, partition) -> offset.
  std::map<std::pair<std::string, int32_t>, CommittedOffset> committed_all(
      const std::string& group_id) const;

  std::vector<std::pair<std::string, std::string>> list() const;  // group id, protocol type
  std::optional<GroupInfo> describe(const std::string& group_id) const;

 private:
  struct Impl;
  explicit GroupCoordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::bus

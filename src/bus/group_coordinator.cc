#include "bus/group_coordinator.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "bus/crc32c.h"
#include "bus/wire.h"
#include "common/log.h"

namespace sluice::bus {

namespace fs = std::filesystem;

namespace {

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };

std::string_view state_name(GroupState s) {
  switch (s) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
  }
  return "Dead";
}

struct Member {
  std::string id, client_id, client_host;
  int32_t session_timeout_ms = 10000;
  int32_t rebalance_timeout_ms = 10000;
  std::vector<std::pair<std::string, std::string>> protocols;
  int64_t last_heartbeat_ms = 0;
  int64_t join_order = 0;
  GroupCoordinator::JoinCallback pending_join;
  GroupCoordinator::SyncCallback pending_sync;
  std::string assignment;

  const std::string* metadata_for(const std::string& protocol) const {
    for (const auto& [name, meta] : protocols)
      if (name == protocol) return &meta;
    return nullptr;
  }
};

struct Group {
  std::string id;
  GroupState state = GroupState::kEmpty;
  int32_t generation = 0;
  std::string protocol_type, protocol, leader;
  std::map<std::string, Member> members;
  int64_t rebalance_deadline_ms = 0;
  int64_t next_join_order = 0;
};

// An offsets-file record with this offset forgets the topic in every group.
constexpr int64_t kForgotten = INT64_MIN;

std::string new_member_id(const std::string& client_id) {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}-{:016x}", client_id.empty() ? "member" : client_id, rng());
}

}  // namespace

struct GroupCoordinator::Impl {
  fs::path file;
  int fd = -1;
  int64_t file_size = 0;
  int64_t records_in_file = 0;
  std::map<std::string, Group> groups;
  // group -> (topic, partition) -> offset
  std::map<std::string, std::map<std::pair<std::string, int32_t>, CommittedOffset>> offsets;

  Status load();
  Status rewrite();
  Status append(const std::string& group, const OffsetCommitEntry& e);
  static std::string encode(const std::string& group, const OffsetCommitEntry& e);

  void prepare_rebalance(Group& g, int64_t now_ms, std::string_view reason);
  void maybe_complete_join(Group& g, int64_t now_ms);
  void remove_member(Group& g, const std::string& member_id, int64_t now_ms,
                     std::string_view reason);
};

std::string GroupCoordinator::Impl::encode(const std::string& group, const OffsetCommitEntry& e) {
  std::string payload;
  WireWriter w(&payload);
  w.string(group);
  w.string(e.topic);
  w.i32(e.partition);
  w.i64(e.offset);
  w.string(e.metadata);
  std::string rec;
  WireWriter r(&rec);
  r.i32(static_cast<int32_t>(payload.size()));
  r.u32(crc32c(payload.data(), payload.size()));
  r.raw(payload);
  return rec;
}

Status GroupCoordinator::Impl::load() {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error(fmt::format("stat {}", file.string()));
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t r = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (r <= 0) return io_error(fmt::format("reading {}: {}", file.string(), std::strerror(errno)));
    got += static_cast<size_t>(r);
  }
  WireReader rd(data);
  size_t valid = 0;
  while (rd.remaining() >= 8) {
    int32_t len = rd.i32();
    uint32_t crc = rd.u32();
    if (len < 0 || static_cast<size_t>(len) > rd.remaining()) break;
    std::string_view payload = rd.raw(static_cast<size_t>(len));
    if (crc32c(payload.data(), payload.size()) != crc) break;
    WireReader p(payload);
    std::string group = p.string();
    OffsetCommitEntry e;
    e.topic = p.string();
    e.partition = p.i32();
    e.offset = p.i64();
    e.metadata = p.string();
    if (!p.ok()) break;
    if (e.offset == kForgotten) {
      for (auto& [g, parts] : offsets)
        std::erase_if(parts, [&](const auto& kv) { return kv.first.first == e.topic; });
    } else {
      offsets[group][{e.topic, e.partition}] = CommittedOffset{e.offset, e.metadata};
    }
    valid = rd.position();
    ++records_in_file;
  }
  file_size = static_cast<int64_t>(valid);
  if (valid != data.size()) {
    log::warn("truncating torn tail of the group offsets file",
              {log::kv("file", file.string()), log::kv("valid_bytes", valid)});
    if (::ftruncate(fd, static_cast<off_t>(valid)) != 0) {
      return io_error(fmt::format("truncating {}: {}", file.string(), std::strerror(errno)));
    }
  }
  return Status::ok();
}

Status GroupCoordinator::Impl::rewrite() {
  std::string all;
  int64_t n = 0;
  for (const auto& [group, parts] : offsets)
    for (const auto& [tp, c] : parts) {
      all += encode(group, OffsetCommitEntry{tp.first, tp.second, c.offset, c.metadata});
      ++n;
    }
  fs::path tmp = file;
  tmp += ".tmp";
  int tfd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (tfd < 0) return io_error(fmt::format("creating {}: {}", tmp.string(), std::strerror(errno)));
  bool ok =
      ::write(tfd, all.data(), all.size()) == static_cast<ssize_t>(all.size()) && ::fsync(tfd) == 0;
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) {
    ::close(tfd);
    return io_error(fmt::format("rewriting {}: {}", file.string(), std::strerror(errno)));
  }
  ::close(fd);
  fd = tfd;
  file_size = static_cast<int64_t>(all.size());
  records_in_file = n;
  return Status::ok();
}

Status GroupCoordinator::Impl::append(const std::string& group, const OffsetCommitEntry& e) {
  std::string rec = encode(group, e);
  ssize_t w = ::pwrite(fd, rec.data(), rec.size(), file_size);
  if (w != static_cast<ssize_t>(rec.size())) {
    return io_error(fmt::format("writing {}: {}", file.string(), std::strerror(errno)));
  }
  file_size += static_cast<int64_t>(rec.size());
  ++records_in_file;
  return Status::ok();
}

GroupCoordinator::GroupCoordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GroupCoordinator::~GroupCoordinator() {
  if (impl_ && impl_->fd >= 0) ::close(impl_->fd);
}

Result<std::unique_ptr<GroupCoordinator>> GroupCoordinator::open(const fs::path& root) {
  auto impl = std::make_unique<Impl>();
  std::error_code ec;
  fs::create_directories(root / "groups", ec);
  if (ec) return io_error(fmt::format("creating {}: {}", (root / "groups").string(), ec.message()));
  impl->file = root / "groups" / "offsets.log";
  impl->fd = ::open(impl->file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->fd < 0) {
    return io_error(fmt::format("opening {}: {}", impl->file.string(), std::strerror(errno)));
  }
  SLUICE_RETURN_IF_ERROR(impl->load());
  int64_t live = 0;
  for (const auto& [g, parts] : impl->offsets)
    live += static_cast<int64_t>(parts.size());
  if (impl->records_in_file > 1000 && impl->records_in_file > 2 * live) {
    SLUICE_RETURN_IF_ERROR(impl->rewrite());
  }
  return std::unique_ptr<GroupCoordinator>(new GroupCoordinator(std::move(impl)));
}

void GroupCoordinator::Impl::prepare_rebalance(Group& g, int64_t now_ms, std::string_view reason) {
  if (g.state != GroupState::kPreparingRebalance) {
    int32_t timeout = 0;
    for (const auto& [_, m] : g.members)
      timeout = std::max(timeout, m.rebalance_timeout_ms);
    g.rebalance_deadline_ms = now_ms + timeout;
    log::info("group rebalancing", {log::kv("group", g.id), log::kv("reason", reason),
                                    log::kv("members", g.members.size())});
  }
  g.state = GroupState::kPreparingRebalance;
  for (auto& [_, m] : g.members) {
    if (m.pending_sync) {
      auto cb = std::move(m.pending_sync);
      m.pending_sync = nullptr;
      cb(KafkaError::kRebalanceInProgress, "");
    }
  }
}

void GroupCoordinator::Impl::maybe_complete_join(Group& g, int64_t now_ms) {
  if (g.state != GroupState::kPreparingRebalance) return;
  bool all_joined = true;
  for (const auto& [_, m] : g.members)
    all_joined = all_joined && static_cast<bool>(m.pending_join);
  if (!all_joined && now_ms < g.rebalance_deadline_ms) return;
  // Members that did not rejoin in time leave the group.
  for (auto it = g.members.begin(); it != g.members.end();) {
    if (!it->second.pending_join) {
      log::info("member removed: did not rejoin",
                {log::kv("group", g.id), log::kv("member", it->first)});
      it = g.members.erase(it);
    } else {
      ++it;
    }
  }
  ++g.generation;
  if (g.members.empty()) {
    g.state = GroupState::kEmpty;
    g.protocol.clear();
    g.leader.clear();
    return;
  }
  // The protocol: the leader's first choice that every member supports.
  std::vector<const Member*> ordered;
  for (const auto& [_, m] : g.members)
    ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](const Member* a, const Member* b) { return a->join_order < b->join_order; });
  if (!g.members.count(g.leader)) g.leader = ordered.front()->id;
  const Member& leader = g.members.at(g.leader);
  g.protocol.clear();
  for (const auto& [name, _] : leader.protocols) {
    bool everyone = std::all_of(g.members.begin(), g.members.end(),
                                [&](const auto& kv) { return kv.second.metadata_for(name); });
    if (everyone) {
      g.protocol = name;
      break;
    }
  }
  g.state = GroupState::kCompletingRebalance;
  log::info(
      "group generation started",
      {log::kv("group", g.id), log::kv("generation", g.generation), log::kv("protocol", g.protocol),
       log::kv("leader", g.leader), log::kv("members", g.members.size())});
  std::vector<std::pair<std::string, std::string>> all;
  for (const Member* m : ordered)
    all.emplace_back(m->id, *m->metadata_for(g.protocol));
  std::vector<std::pair<JoinCallback, JoinResponse>> replies;
  for (auto& [id, m] : g.members) {
    JoinResponse r;
    r.generation = g.generation;
    r.protocol = g.protocol;
    r.leader = g.leader;
    r.member_id = id;
    if (id == g.leader) r.members = all;
    m.last_heartbeat_ms = now_ms;
    m.assignment.clear();
    replies.emplace_back(std::move(m.pending_join), std::move(r));
    m.pending_join = nullptr;
  }
  for (auto& [cb, r] : replies)
    cb(r);
}

void GroupCoordinator::Impl::remove_member(Group& g, const std::string& member_id, int64_t now_ms,
                                           std::string_view reason) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Member m = std::move(it->second);
  g.members.erase(it);
  log::info("member left group",
            {log::kv("group", g.id), log::kv("member", member_id), log::kv("reason", reason)});
  if (m.pending_join) {
    JoinResponse r;
    r.error = KafkaError::kUnknownMemberId;
    m.pending_join(r);
  }
  if (m.pending_sync) m.pending_sync(KafkaError::kUnknownMemberId, "");
  if (g.members.empty()) {
    ++g.generation;
    g.state = GroupState::kEmpty;
    g.leader.clear();
    g.protocol.clear();
    return;
  }
  prepare_rebalance(g, now_ms, reason);
  maybe_complete_join(g, now_ms);
}

void GroupCoordinator::join(const JoinRequest& req, int64_t now_ms, JoinCallback done) {
  JoinResponse err;
  if (req.group_id.empty()) {
    err.error = KafkaError::kInvalidGroupId;
    return done(err);
  }
  if (req.session_timeout_ms < 1000 || req.session_timeout_ms > 3600000) {
    err.error = KafkaError::kInvalidSessionTimeout;
    return done(err);
  }
  auto& g = impl_->groups[req.group_id];
  g.id = req.group_id;
  if (req.protocols.empty() || (!g.members.empty() && g.protocol_type != req.protocol_type)) {
    err.error = KafkaError::kInconsistentGroupProtocol;
    return done(err);
  }
  // Every existing member must share at least one protocol with the newcomer.
  bool shared = g.members.empty();
  for (const auto& [name, _] : req.protocols) {
    bool all = std::all_of(g.members.begin(), g.members.end(), [&](const auto& kv) {
      return kv.first == req.member_id || kv.second.metadata_for(name);
    });
    shared = shared || all;
  }
  if (!shared) {
    err.error = KafkaError::kInconsistentGroupProtocol;
    return done(err);
  }
  std::string member_id = req.member_id;
  if (!member_id.empty() && !g.members.count(member_id)) {
    err.error = KafkaError::kUnknownMemberId;
    return done(err);
  }
  bool is_new = member_id.empty();
  if (is_new) member_id = new_member_id(req.client_id);
  Member& m = g.members[member_id];
  bool protocols_changed = m.protocols != req.protocols;
  if (is_new) m.join_order = g.next_join_order++;
  m.id = member_id;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.protocols = req.protocols;
  m.last_heartbeat_ms = now_ms;
  g.protocol_type = req.protocol_type;

  if (!is_new && !protocols_changed && member_id != g.leader &&
      (g.state == GroupState::kStable || g.state == GroupState::kCompletingRebalance)) {
    // A follower rejoining with nothing new: hand back the current generation.
    JoinResponse r;
    r.generation = g.generation;
    r.protocol = g.protocol;
    r.leader = g.leader;
    r.member_id = member_id;
    return done(r);
  }
  if (m.pending_join) {
    JoinResponse r;
    r.error = KafkaError::kRebalanceInProgress;
    auto old = std::move(m.pending_join);
    old(r);
  }
  m.pending_join = std::move(done);
  if (g.state != GroupState::kPreparingRebalance) {
    impl_->prepare_rebalance(g, now_ms, is_new ? "member joined" : "member rejoined");
  }
  impl_->maybe_complete_join(g, now_ms);
}

void GroupCoordinator::sync(const std::string& group_id, int32_t generation,
                            const std::string& member_id,
                            const std::map<std::string, std::string>& assignments, int64_t now_ms,
                            SyncCallback done) {
  auto git = impl_->groups.find(group_id);
  if (git == impl_->groups.end() || !git->second.members.count(member_id)) {
    return done(KafkaError::kUnknownMemberId, "");
  }
  Group& g = git->second;
  if (generation != g.generation) return done(KafkaError::kIllegalGeneration, "");
  Member& m = g.members.at(member_id);
  m.last_heartbeat_ms = now_ms;
  switch (g.state) {
    case GroupState::kEmpty:
      return done(KafkaError::kUnknownMemberId, "");
    case GroupState::kPreparingRebalance:
      return done(KafkaError::kRebalanceInProgress, "");
    case GroupState::kStable:
      return done(KafkaError::kNone, m.assignment);
    case GroupState::kCompletingRebalance:
      break;
  }
  m.pending_sync = std::move(done);
  if (member_id != g.leader) return;
  for (auto& [id, mem] : g.members) {
    auto it = assignments.find(id);
    mem.assignment = it == assignments.end() ? std::string{} : it->second;
  }
  g.state = GroupState::kStable;
  std::vector<std::pair<SyncCallback, std::string>> replies;
  for (auto& [id, mem] : g.members) {
    if (mem.pending_sync) {
      replies.emplace_back(std::move(mem.pending_sync), mem.assignment);
      mem.pending_sync = nullptr;
    }
  }
  log::info("group stable", {log::kv("group", g.id), log::kv("generation", g.generation)});
  for (auto& [cb, a] : replies)
    cb(KafkaError::kNone, a);
}

KafkaError GroupCoordinator::heartbeat(const std::string& group_id, int32_t generation,
                                       const std::string& member_id, int64_t now_ms) {
  auto git = impl_->groups.find(group_id);
  if (git == impl_->groups.end()) return KafkaError::kUnknownMemberId;
  Group& g = git->second;
  auto mit = g.members.find(member_id);
  if (mit == g.members.end()) return KafkaError::kUnknownMemberId;
  mit->second.last_heartbeat_ms = now_ms;
  if (g.state == GroupState::kPreparingRebalance) return KafkaError::kRebalanceInProgress;
  if (generation != g.generation) return KafkaError::kIllegalGeneration;
  return KafkaError::kNone;
}

KafkaError GroupCoordinator::leave(const std::string& group_id, const std::string& member_id,
                                   int64_t now_ms) {
  auto git = impl_->groups.find(group_id);
  if (git == impl_->groups.end() || !git->second.members.count(member_id)) {
    return KafkaError::kUnknownMemberId;
  }
  impl_->remove_member(git->second, member_id, now_ms, "member sent LeaveGroup");
  return KafkaError::kNone;
}

void GroupCoordinator::tick(int64_t now_ms) {
  for (auto& [_, g] : impl_->groups) {
    std::vector<std::string> expired;
    for (const auto& [id, m] : g.members) {
      if (!m.pending_join && !m.pending_sync &&
          now_ms - m.last_heartbeat_ms > m.session_timeout_ms) {
        expired.push_back(id);
      }
    }
    for (const auto& id : expired)
      impl_->remove_member(g, id, now_ms, "session timeout");
    impl_->maybe_complete_join(g, now_ms);
  }
}

KafkaError GroupCoordinator::commit(const std::string& group_id, int32_t generation,
                                    const std::string& member_id,
                                    const std::vector<OffsetCommitEntry>& offsets) {
  if (group_id.empty()) return KafkaError::kInvalidGroupId;
  auto git = impl_->groups.find(group_id);
  bool active = git != impl_->groups.end() && !git->second.members.empty();
  if (generation < 0 && member_id.empty()) {
    if (active) return KafkaError::kUnknownMemberId;  // a live group needs a member's commit
  } else {
    if (!active || !git->second.members.count(member_id)) return KafkaError::kUnknownMemberId;
    const Group& g = git->second;
    if (generation != g.generation) return KafkaError::kIllegalGeneration;
    if (g.state != GroupState::kStable) return KafkaError::kRebalanceInProgress;
  }
  for (const auto& e : offsets) {
    if (!impl_->append(group_id, e).is_ok()) return KafkaError::kKafkaStorageError;
    impl_->offsets[group_id][{e.topic, e.partition}] = CommittedOffset{e.offset, e.metadata};
  }
  return KafkaError::kNone;
}

void GroupCoordinator::forget_topic(const std::string& topic) {
  bool any = false;
  for (auto& [g, parts] : impl_->offsets)
    any = std::erase_if(parts, [&](const auto& kv) { return kv.first.first == topic; }) > 0 || any;
  if (any) (void)impl_->append("", OffsetCommitEntry{topic, 0, kForgotten, ""});
}

Status GroupCoordinator::sync_offsets() {
  if (::fdatasync(impl_->fd) != 0) {
    return io_error(fmt::format("fsync {}: {}", impl_->file.string(), std::strerror(errno)));
  }
  return Status::ok();
}

std::optional<CommittedOffset> GroupCoordinator::committed(const std::string& group_id,
                                                           const std::string& topic,
                                                           int32_t partition) const {
  auto git = impl_->offsets.find(group_id);
  if (git == impl_->offsets.end()) return std::nullopt;
  auto it = git->second.find({topic, partition});
  if (it == git->second.end()) return std::nullopt;
  return it->second;
}

std::map<std::pair<std::string, int32_t>, CommittedOffset> GroupCoordinator::committed_all(
    const std::string& group_id) const {
  auto git = impl_->offsets.find(group_id);
  if (git == impl_->offsets.end()) return {};
  return git->second;
}

std::vector<std::pair<std::string, std::string>> GroupCoordinator::list() const {
  std::map<std::string, std::string> out;
  for (const auto& [id, _] : impl_->offsets)
    out[id] = "consumer";
  for (const auto& [id, g] : impl_->groups)
    out[id] = g.protocol_type.empty() ? "consumer" : g.protocol_type;
  return {out.begin(), out.end()};
}

std::optional<GroupInfo> GroupCoordinator::describe(const std::string& group_id) const {
  GroupInfo info;
  info.group_id = group_id;
  auto git = impl_->groups.find(group_id);
  if (git == impl_->groups.end()) {
    if (!impl_->offsets.count(group_id)) return std::nullopt;
    info.state = "Empty";
    info.protocol_type = "consumer";
    return info;
  }
  const Group& g = git->second;
  info.state = std::string(state_name(g.state));
  info.protocol_type = g.protocol_type;
  info.protocol = g.state == GroupState::kStable ? g.protocol : "";
  info.generation = g.generation;
  for (const auto& [id, m] : g.members) {
    const std::string* meta = m.metadata_for(g.protocol);
    info.members.push_back(
        {id, m.client_id, m.client_host, meta ? *meta : std::string{}, m.assignment});
  }
  return info;
}

}  // namespace sluice::bus

#include "bus/group_coordinator.h"

#include <gtest/gtest.h>

#include "bus_test_util.h"

namespace sluice::bus {
namespace {

using testing::TempDir;

JoinRequest join_req(const std::string& member, int session_ms = 10000) {
  JoinRequest r;
  r.group_id = "g";
  r.member_id = member;
  r.client_id = "c";
  r.session_timeout_ms = session_ms;
  r.rebalance_timeout_ms = 5000;
  r.protocol_type = "consumer";
  r.protocols = {{"range", "meta"}};
  return r;
}

TEST(GroupCoordinator, JoinSyncRebalanceLeave) {
  TempDir dir("groups");
  auto gc = GroupCoordinator::open(dir.path());
  ASSERT_TRUE(gc.is_ok());
  auto& g = **gc;
  JoinResponse a;
  g.join(join_req(""), 0, [&](const JoinResponse& r) { a = r; });
  ASSERT_EQ(a.error, KafkaError::kNone);
  EXPECT_EQ(a.generation, 1);
  EXPECT_EQ(a.leader, a.member_id);
  ASSERT_EQ(a.members.size(), 1u);
  KafkaError sync_err = KafkaError::kUnknownServerError;
  std::string assignment;
  g.sync("g", 1, a.member_id, {{a.member_id, "all"}}, 0, [&](KafkaError e, const std::string& s) {
    sync_err = e;
    assignment = s;
  });
  EXPECT_EQ(sync_err, KafkaError::kNone);
  EXPECT_EQ(assignment, "all");
  EXPECT_EQ(g.heartbeat("g", 1, a.member_id, 100), KafkaError::kNone);

  // A second member: the group rebalances; the first learns it from its heartbeat.
  JoinResponse b;
  bool b_done = false;
  g.join(join_req(""), 200, [&](const JoinResponse& r) {
    b = r;
    b_done = true;
  });
  EXPECT_FALSE(b_done);
  EXPECT_EQ(g.heartbeat("g", 1, a.member_id, 300), KafkaError::kRebalanceInProgress);
  JoinResponse a2;
  g.join(join_req(a.member_id), 400, [&](const JoinResponse& r) { a2 = r; });
  ASSERT_TRUE(b_done);
  EXPECT_EQ(a2.generation, 2);
  EXPECT_EQ(b.generation, 2);
  EXPECT_EQ(a2.leader, a.member_id);
  EXPECT_EQ(a2.members.size(), 2u);
  EXPECT_TRUE(b.members.empty());
  // The follower waits for the leader's assignment.
  std::string b_assignment = "unset";
  g.sync("g", 2, b.member_id, {}, 500, [&](KafkaError e, const std::string& s) {
    b_assignment = e == KafkaError::kNone ? s : "err";
  });
  EXPECT_EQ(b_assignment, "unset");
  g.sync("g", 2, a.member_id, {{a.member_id, "p0"}, {b.member_id, "p1"}}, 600,
         [](KafkaError, const std::string&) {});
  EXPECT_EQ(b_assignment, "p1");
  EXPECT_EQ(g.heartbeat("g", 1, b.member_id, 700), KafkaError::kIllegalGeneration);
  EXPECT_EQ(g.heartbeat("g", 2, "nobody", 700), KafkaError::kUnknownMemberId);
  auto info = g.describe("g");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->state, "Stable");
  EXPECT_EQ(info->members.size(), 2u);

  // Leaving triggers a rebalance that completes when the rest rejoin.
  EXPECT_EQ(g.leave("g", b.member_id, 800), KafkaError::kNone);
  JoinResponse a3;
  g.join(join_req(a.member_id), 900, [&](const JoinResponse& r) { a3 = r; });
  EXPECT_EQ(a3.generation, 3);
  EXPECT_EQ(a3.members.size(), 1u);
}

TEST(GroupCoordinator, SessionTimeoutRemovesMember) {
  TempDir dir("groups_timeout");
  auto gc = GroupCoordinator::open(dir.path());
  ASSERT_TRUE(gc.is_ok());
  auto& g = **gc;
  JoinResponse a, b;
  g.join(join_req("", 2000), 0, [&](const JoinResponse& r) { a = r; });
  g.sync("g", 1, a.member_id, {}, 0, [](KafkaError, const std::string&) {});
  g.join(join_req("", 2000), 10, [&](const JoinResponse& r) { b = r; });
  g.join(join_req(a.member_id, 2000), 20, [&](const JoinResponse& r) { a = r; });
  ASSERT_EQ(b.generation, 2);
  g.sync("g", 2, a.member_id, {}, 30, [](KafkaError, const std::string&) {});
  g.sync("g", 2, b.member_id, {}, 30, [](KafkaError, const std::string&) {});
  // b stops heartbeating; a keeps going.
  for (int64_t t = 500; t <= 3000; t += 500) {
    g.heartbeat("g", a.generation, a.member_id, t);
    g.tick(t);
  }
  EXPECT_EQ(g.heartbeat("g", 2, b.member_id, 3100), KafkaError::kUnknownMemberId);
  EXPECT_EQ(g.heartbeat("g", 2, a.member_id, 3100), KafkaError::kRebalanceInProgress);
}

TEST(GroupCoordinator, CommittedOffsetsSurviveReopen) {
  TempDir dir("groups_offsets");
  {
    auto gc = GroupCoordinator::open(dir.path());
    ASSERT_TRUE(gc.is_ok());
    EXPECT_EQ((*gc)->commit("g", -1, "", {{"t", 0, 42, "meta"}, {"t", 1, 7, ""}}),
              KafkaError::kNone);
    EXPECT_EQ((*gc)->commit("g", -1, "", {{"t", 0, 43, ""}}), KafkaError::kNone);
    EXPECT_EQ((*gc)->commit("h", -1, "", {{"gone", 0, 5, ""}}), KafkaError::kNone);
    (*gc)->forget_topic("gone");
    ASSERT_TRUE((*gc)->sync_offsets().is_ok());
  }
  // A torn record at the end is dropped.
  std::ofstream(dir.path() / "groups" / "offsets.log", std::ios::app) << "\x01\x02";
  auto gc = GroupCoordinator::open(dir.path());
  ASSERT_TRUE(gc.is_ok()) << gc.status().message();
  EXPECT_EQ((*gc)->committed("g", "t", 0)->offset, 43);
  EXPECT_EQ((*gc)->committed("g", "t", 1)->offset, 7);
  EXPECT_FALSE((*gc)->committed("h", "gone", 0).has_value());
  EXPECT_EQ((*gc)->commit("g", -1, "", {{"t", 2, 1, ""}}), KafkaError::kNone);
}

}  // namespace
}  // namespace sluice::bus

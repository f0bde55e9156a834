// UserStore: persistence, grants, and that no password is stored.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "governance/governance.h"

namespace sluice::governance {
namespace {

class UserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_gov_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(UserStoreTest, AddGrantRevokePersist) {
  auto store = UserStore::open(dir_);
  ASSERT_TRUE(store.is_ok());
  ASSERT_TRUE(store->add_user("ana", "pw-ana-123", false).is_ok());
  ASSERT_TRUE(store->add_user("root", "pw-root", true).is_ok());
  EXPECT_EQ(store->add_user("ana", "x", false).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(store->grant("ana", Access::kRead, "raw").is_ok());
  ASSERT_TRUE(store->grant("ana", Access::kWrite, "curated.kpis").is_ok());
  EXPECT_FALSE(store->grant("ana", Access::kRead, "a.b.c").is_ok());
  EXPECT_EQ(store->grant("bob", Access::kRead, "raw").code(), StatusCode::kNotFound);

  auto again = UserStore::open(dir_);
  ASSERT_TRUE(again.is_ok());
  auto ana = again->find("ana");
  ASSERT_TRUE(ana.has_value());
  EXPECT_TRUE(ana->allowed(Access::kRead, "raw", "orders"));
  EXPECT_FALSE(ana->allowed(Access::kWrite, "raw", "orders"));
  EXPECT_TRUE(ana->allowed(Access::kWrite, "curated", "kpis"));
  EXPECT_TRUE(ana->allowed(Access::kRead, "curated", "kpis"));
  EXPECT_FALSE(ana->allowed(Access::kRead, "curated", "other"));
  EXPECT_TRUE(again->find("root")->allowed(Access::kWrite, "x", "y"));

  ASSERT_TRUE(again->revoke("ana", Access::kRead, "raw").is_ok());
  EXPECT_EQ(again->revoke("ana", Access::kRead, "raw").code(), StatusCode::kNotFound);
  EXPECT_FALSE(UserStore::open(dir_)->find("ana")->allowed(Access::kRead, "raw", "orders"));
  ASSERT_TRUE(again->remove_user("ana").is_ok());
  EXPECT_FALSE(UserStore::open(dir_)->find("ana").has_value());
}

TEST_F(UserStoreTest, FileHoldsVerifiersNotPasswords) {
  auto store = UserStore::open(dir_);
  ASSERT_TRUE(store.is_ok());
  ASSERT_TRUE(store->add_user("ana", "very-secret-password", false).is_ok());
  ASSERT_TRUE(store->set_password("ana", "another-secret").is_ok());
  std::ifstream in(dir_ / "governance" / "users.json");
  std::stringstream b;
  b << in.rdbuf();
  EXPECT_EQ(b.str().find("secret"), std::string::npos);
  EXPECT_NE(b.str().find("SCRAM-SHA-256$4096:"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "governance" / "users.json.tmp"));
}

TEST_F(UserStoreTest, RejectsBadNames) {
  auto store = UserStore::open(dir_);
  ASSERT_TRUE(store.is_ok());
  EXPECT_FALSE(store->add_user("", "pw", false).is_ok());
  EXPECT_FALSE(store->add_user("a b", "pw", false).is_ok());
  EXPECT_FALSE(store->add_user("ok", "", false).is_ok());
}

}  // namespace
}  // namespace sluice::governance

#include "common/status.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("must be positive");
  return v;
}

Result<int> doubled(int v) {
  SLUICE_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return x * 2;
}

Status check(int v) {
  SLUICE_RETURN_IF_ERROR(parse_positive(v));
  return Status::ok();
}

TEST(Status, OkAndErrorsRender) {
  EXPECT_TRUE(Status::ok().is_ok());
  EXPECT_EQ(Status::ok().to_string(), "OK");
  Status st = not_found("table raw.orders does not exist");
  EXPECT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.to_string(), "NotFound: table raw.orders does not exist");
  EXPECT_EQ(st.with_context("commit").message(), "commit: table raw.orders does not exist");
}

TEST(Result, PropagatesValueAndError) {
  auto ok = doubled(21);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, 42);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "must be positive");
  EXPECT_TRUE(check(3).is_ok());
  EXPECT_EQ(check(0).message(), "must be positive");
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r.is_ok());
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace sluice

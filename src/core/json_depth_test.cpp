#include "core/json_depth.hpp"

#include <gtest/gtest.h>

namespace natstack {
namespace {

TEST(JsonDepthTest, CountsArraysAndObjectsButNotStrings) {
  EXPECT_EQ(JsonNestingDepth(""), 0u);
  EXPECT_EQ(JsonNestingDepth("{}"), 1u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":[{"b":[]}]})"), 4u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[\"[[["})"), 1u);
  EXPECT_EQ(JsonNestingDepth("]]]]{"), 1u);  // stray closers never go below zero
}

}  // namespace
}  // namespace natstack

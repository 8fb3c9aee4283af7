#include "crypto/secure_bytes.hpp"

#include <gtest/gtest.h>

#include <type_traits>
#include <utility>

#include "crypto/random.hpp"

namespace natstack::crypto {
namespace {

static_assert(!std::is_copy_constructible_v<SecureBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecureBytes>);

TEST(SecureBytesTest, HoldsACopyOfItsInput) {
  const SecureBytes bytes(std::string_view("seed", 4));
  EXPECT_EQ(bytes.size(), 4u);
  EXPECT_EQ(bytes.view(), "seed");
  EXPECT_FALSE(bytes.empty());
}

TEST(SecureBytesTest, SizedConstructorZeroFills) {
  const SecureBytes bytes(8);
  EXPECT_EQ(bytes.view(), std::string(8, '\0'));
}

TEST(SecureBytesTest, MovedFromIsEmpty) {
  SecureBytes a(std::string_view("secret"));
  SecureBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.view(), "secret");

  SecureBytes c(std::string_view("other"));
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.view(), "secret");
}

TEST(SecureBytesTest, CloneIsIndependent) {
  SecureBytes a(std::string_view("abc"));
  SecureBytes b = a.Clone();
  a.data()[0] = 'x';
  EXPECT_EQ(b.view(), "abc");
  EXPECT_EQ(a.view(), "xbc");
}

TEST(SecureBytesTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(RandomTest, FillsBuffersDifferently) {
  SecureBytes a(32), b(32);
  RandomBytes(a.data(), a.size());
  RandomBytes(b.data(), b.size());
  EXPECT_NE(a.view(), b.view());
  EXPECT_NE(a.view(), std::string(32, '\0'));
}

}  // namespace
}  // namespace natstack::crypto

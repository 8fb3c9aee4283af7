#include "core/file.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "testing/temp_dir.hpp"

namespace natstack {
namespace {

TEST(FileTest, WriteFileAtomicSetsTheExactMode) {
  testing::TempDir dir;
  const std::string path = dir.Join("secret");
  ASSERT_TRUE(WriteFileAtomic(path, "x\n", 0600));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadFile(path), "x\n");
}

TEST(FileTest, ReadSecretValueTrimsAndRefusesOpenOrEmptyFiles) {
  testing::TempDir dir;
  const std::string path = dir.Join("seed");
  ASSERT_TRUE(WriteFileAtomic(path, "SAABC \r\n", 0600));
  EXPECT_EQ(*ReadSecretValue(path), "SAABC");
  ASSERT_TRUE(WriteFileAtomic(path, "\n", 0600));
  EXPECT_EQ(ReadSecretValue(path).error().code, Code::kInvalidArgument);
  ASSERT_TRUE(WriteFileAtomic(path, "SAABC\n", 0644));
  auto open = ReadSecretValue(path);
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().code, Code::kPermissionDenied);
  EXPECT_NE(open.error().message.find("chmod 600"), std::string::npos);
  EXPECT_EQ(ReadSecretValue(dir.Join("missing")).error().code, Code::kNotFound);
}

}  // namespace
}  // namespace natstack

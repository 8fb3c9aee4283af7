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

namespace natstack {
namespace {

TEST(ReadFileTest, SpecialFilesNeitherHangNorExhaustMemory) {
  testing::TempDir dir;
  // An endless device stops at the cap.
  ReadOptions small;
  small.max_bytes = 1 << 20;
  auto zero = ReadFile("/dev/zero", small);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, Code::kInvalidArgument);
  EXPECT_EQ(zero.error().message, "/dev/zero is larger than 1 MiB");
  // A FIFO with no writer: empty at once, not a wait for a writer.
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto empty = ReadFile(fifo);
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(*empty, "");
  // Configuration files must be regular files.
  for (const std::string& path : {fifo, std::string("/dev/zero"), std::string("/dev/null")}) {
    auto config = ReadConfigFile(path);
    ASSERT_FALSE(config) << path;
    EXPECT_EQ(config.error().code, Code::kInvalidArgument) << path;
    EXPECT_NE(config.error().message.find("is not a regular file"), std::string::npos)
        << config.error().message;
  }
  auto directory = ReadConfigFile(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().message, dir.path() + " is a directory, not a file");
  // Secrets too.
  auto secret = ReadSecretFile(fifo);
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().code, Code::kInvalidArgument);
  // Regular files read as before.
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/f", "text", 0600));
  EXPECT_EQ(*ReadConfigFile(dir.path() + "/f"), "text");
}

}  // namespace
}  // namespace natstack

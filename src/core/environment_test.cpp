#include "core/environment.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace natstack {
namespace {

std::string ProcEnviron() {
  std::ifstream in("/proc/self/environ", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(EnvironmentTest, ReadsOnlyTheNamesAsked) {
  ::setenv("NATSTACK_TEST_A", "1", 1);
  ::setenv("NATSTACK_TEST_EMPTY", "", 1);
  ::unsetenv("NATSTACK_TEST_B");
  auto env = ReadEnvironment({"NATSTACK_TEST_A", "NATSTACK_TEST_B", "NATSTACK_TEST_EMPTY"});
  EXPECT_EQ(env, (std::map<std::string, std::string>{{"NATSTACK_TEST_A", "1"},
                                                     {"NATSTACK_TEST_EMPTY", ""}}));
}

// The test binary is started by CTest with an environment it inherits; a variable that was in
// the initial environment is what /proc/self/environ shows. Re-exec ourselves with a secret
// there to check that scrubbing erases it from the kernel's view too.
TEST(EnvironmentTest, ScrubbedSecretsLeaveProcEnviron) {
  if (std::getenv("NATSTACK_SCRUB_CHILD") == nullptr) {
    // Resolved here: inside the shell std::system starts, /proc/self/exe is the shell.
    char self[4096] = {};
    ASSERT_GT(::readlink("/proc/self/exe", self, sizeof(self) - 1), 0);
    const std::string cmd = "NATSTACK_SCRUB_CHILD=1 NATSTACK_TEST_SECRET=s3cr3t-value " + std::string(self) +
                            " --gtest_filter=EnvironmentTest.ScrubbedSecretsLeaveProcEnviron";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return;
  }
  ASSERT_NE(ProcEnviron().find("s3cr3t-value"), std::string::npos);
  ScrubEnvironment({"NATSTACK_TEST_SECRET"});
  EXPECT_EQ(std::getenv("NATSTACK_TEST_SECRET"), nullptr);
  EXPECT_EQ(ProcEnviron().find("s3cr3t-value"), std::string::npos);
}

}  // namespace
}  // namespace natstack

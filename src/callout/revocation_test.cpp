#include "callout/revocation.hpp"

#include <gtest/gtest.h>

#include "testing/capturing_logger.hpp"
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "callout/kicker.hpp"
#include "core/file.hpp"
#include "testing/temp_dir.hpp"
#include "testing/helpers.hpp"

namespace natstack::callout {
namespace {

using namespace std::chrono_literals;


TEST(DenyListTest, ParsesUsersAndTokenIds) {
  auto l = ParseDenyList(R"({"users": ["alice", "dev:bob"], "token_ids": ["j1"]})", "r.json");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_TRUE(l->Contains("alice", ""));
  EXPECT_TRUE(l->Contains("dev:bob", "x"));
  EXPECT_TRUE(l->Contains("carol", "j1"));
  EXPECT_FALSE(l->Contains("carol", "j2"));
  EXPECT_FALSE(l->Contains("", ""));  // an identity without a jti is not "the empty jti"
  EXPECT_EQ(l->size(), 3u);
  auto back = ParseDenyList(SerializeDenyList(*l), "again");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->users, l->users);
  EXPECT_EQ(back->token_ids, l->token_ids);
  EXPECT_TRUE(ParseDenyList("{}", "empty.json"));
}

TEST(DenyListTest, BadFilesAreNamedByKeyAndIndex) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([1])", "expected a JSON object"},
      {R"({"user": []})", "user: unknown key"},
      {R"({"users": "alice"})", "users: expected a list of strings"},
      {R"({"users": ["a", 3]})", "users[1]: expected a non-empty string"},
      {R"({"token_ids": [""]})", "token_ids[0]: expected a non-empty string"},
      {R"({"users": [)", "r.json:1:"},
  };
  for (const auto& [text, needle] : cases) {
    auto l = ParseDenyList(text, "r.json");
    ASSERT_FALSE(l) << text;
    EXPECT_NE(l.error().message.find(needle), std::string::npos) << l.error().message;
  }
  auto long_entry = ParseDenyList("{\"users\": [\"" + std::string(2000, 'a') + "\"]}", "r.json");
  EXPECT_FALSE(long_entry);
}

TEST(DenyListTest, AddedIsTheDifference) {
  DenyList before, after;
  before.users = {"a", "b"};
  after.users = {"b", "c"};
  after.token_ids = {"t"};
  const DenyList added = DenyListAdded(before, after);
  EXPECT_EQ(added.users, (std::set<std::string, std::less<>>{"c"}));
  EXPECT_EQ(added.token_ids, (std::set<std::string, std::less<>>{"t"}));
}

TEST(DenyListFileTest, WritableByOthersIsRefusedAndEditsAreAtomic) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/revoked.json";
  EXPECT_EQ(LoadDenyListFile(path).error().code, Code::kNotFound);
  DenyList add;
  add.users = {"alice"};
  ASSERT_TRUE(EditDenyListFile(path, add, false));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  add.users = {"bob"};
  add.token_ids = {"j"};
  auto both = EditDenyListFile(path, add, false);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->size(), 3u);
  DenyList take;
  take.users = {"alice"};
  auto left = EditDenyListFile(path, take, true);
  ASSERT_TRUE(left);
  EXPECT_FALSE(left->Contains("alice", ""));
  EXPECT_TRUE(left->Contains("bob", ""));
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  auto open = LoadDenyListFile(path);
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().message.find("chmod go-w"), std::string::npos);
}

/// Rewrites the file so the watcher sees a change even within one mtime tick (size differs or
/// the inode changes: WriteFileAtomic renames a new file into place).
void Write(const std::string& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomic(path, text, 0600));
}

TEST(RevocationWatcherTest, ReloadsChangesKeepsTheLastGoodListAndReportsAdditions) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/revoked.json";
  testing::CapturingLogger log;
  EXPECT_FALSE(RevocationWatcher::Start(path, 1h, log, nullptr));  // missing: an error, not ""
  Write(path, R"({"users": ["alice"]})");
  std::mutex mu;
  std::vector<DenyList> added;
  auto w = RevocationWatcher::Start(path, 1h, log, [&](const DenyList& a) {
    std::lock_guard<std::mutex> l(mu);
    added.push_back(a);
  });
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_TRUE((*w)->IsRevoked("alice", ""));
  EXPECT_FALSE((*w)->IsRevoked("bob", ""));
  // The initial list is reported from the watcher's thread, soon after start.
  ASSERT_TRUE(testing::WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return added.size() == 1;
  }, 5s));

  Write(path, R"({"users": ["alice", "bob"], "token_ids": ["t1"]})");
  (*w)->Poll();
  EXPECT_TRUE((*w)->IsRevoked("bob", ""));
  EXPECT_TRUE((*w)->IsRevoked("x", "t1"));
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_EQ(added.size(), 2u);
    EXPECT_EQ(added[1].users, (std::set<std::string, std::less<>>{"bob"}));
    EXPECT_EQ(added[1].token_ids, (std::set<std::string, std::less<>>{"t1"}));
  }
  // A broken file: the last good list stays, the failure is counted and logged once.
  Write(path, R"({"users": ["alice", )");
  (*w)->Poll();
  (*w)->Poll();
  EXPECT_TRUE((*w)->IsRevoked("bob", ""));
  EXPECT_EQ((*w)->GetStats().failures, 1u);
  EXPECT_EQ((*w)->GetStats().entries, 3u);
  EXPECT_TRUE(log.Contains("stays in force"));
  // Fixed, with bob taken off: un-revoking needs no restart either.
  Write(path, R"({"users": ["alice"]})");
  (*w)->Poll();
  EXPECT_FALSE((*w)->IsRevoked("bob", ""));
  EXPECT_EQ((*w)->GetStats().reloads, 2u);
  // A file made writable by others is not trusted: the last good list stays.
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  Write(path, R"({"users": []})");
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  (*w)->Poll();
  EXPECT_TRUE((*w)->IsRevoked("alice", ""));
  // Fixed as the log says (chmod go-w), with no other change to the file: it is loaded. A
  // chmod moves neither size nor mtime; a failed load is retried until it succeeds.
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  Write(path, R"({"users": ["mallory"]})");
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  (*w)->Poll();
  EXPECT_FALSE((*w)->IsRevoked("mallory", ""));
  const uint64_t failures = (*w)->GetStats().failures;
  (*w)->Poll();
  EXPECT_EQ((*w)->GetStats().failures, failures);  // one failure, however many polls
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  (*w)->Poll();
  EXPECT_TRUE((*w)->IsRevoked("mallory", ""));
  (*w)->Stop();
}

TEST(RevocationWatcherTest, PollsOnItsOwn) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/revoked.json";
  Write(path, "{}");
  testing::CapturingLogger log;
  auto w = RevocationWatcher::Start(path, 20ms, log, nullptr);
  ASSERT_TRUE(w);
  Write(path, R"({"users": ["eve"]})");
  EXPECT_TRUE(testing::WaitFor([&] { return (*w)->IsRevoked("eve", ""); }, 5s));
}

TEST(ConnzReplyTest, ParsesServerAndConnections) {
  auto c = ParseConnzReply(
      R"({"server":{"name":"n1","id":"NABC"},"data":{"connections":[{"cid":5,"name":"x"},{"cid":9}]}})");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0], (LiveConnection{"NABC", 5}));
  EXPECT_EQ((*c)[1], (LiveConnection{"NABC", 9}));
  auto none = ParseConnzReply(R"({"server":{"id":"NABC"},"data":{"connections":null}})");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  for (const char* bad : {"", "[]", R"({"data":{}})", R"({"server":{"id":1}})",
                          R"({"server":{"id":"N"},"data":{"connections":[{"cid":-1}]}})",
                          R"({"server":{"id":"N"},"error":{"code":403,"description":"no"}})"}) {
    EXPECT_FALSE(ParseConnzReply(bad)) << bad;
  }
}

TEST(AccountzReplyTest, ParsesServerAccountsAndTheSystemAccount) {
  auto a = ParseAccountzReply(
      R"({"server":{"name":"n1","id":"NABC"},"data":{"server_id":"NABC","system_account":"SYS","accounts":["AUTH","SYS","$G"]}})");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->server, "n1");
  EXPECT_EQ(a->system_account, "SYS");
  EXPECT_EQ(a->accounts, (std::vector<std::string>{"AUTH", "SYS", "$G"}));
  for (const char* bad : {"{}", R"({"server":{"name":"n1"}})",
                          R"({"server":{"name":"n1"},"data":{"accounts":"AUTH"}})",
                          R"({"server":{"name":"n1"},"data":{"accounts":[1]}})",
                          R"({"server":{"name":"n1"},"error":{"description":"no"}})"}) {
    EXPECT_FALSE(ParseAccountzReply(bad)) << bad;
  }
}

TEST(AdmissionLogTest, FindsLiveAdmissionsByTokenIdAndStaysBounded) {
  AdmissionLog log(3);
  log.Record("t1", {"N1", 1}, 200, 100);
  log.Record("t1", {"N2", 2}, 150, 100);
  log.Record("", {"N1", 3}, 200, 100);  // no token id: nothing to find it by
  EXPECT_EQ(log.Find("t1", 100).size(), 2u);
  EXPECT_EQ(log.Find("t1", 160).size(), 1u);  // the second expired
  log.Record("t2", {"N1", 4}, 300, 100);
  log.Record("t3", {"N1", 5}, 300, 160);  // full: the expired entry goes first
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.Find("t2", 160).size(), 1u);
  EXPECT_EQ(log.Find("t3", 160).size(), 1u);
  log.Record("t4", {"N1", 6}, 400, 160);  // full of live entries: the closest to expiry goes
  EXPECT_EQ(log.size(), 3u);
  EXPECT_TRUE(log.Find("t1", 160).empty());
  EXPECT_EQ(log.Find("t4", 160).size(), 1u);
}

}  // namespace
}  // namespace natstack::callout

// The public record on a real Knot server, kept by the sidecar `natstack up` runs: it lists
// exactly the healthy nodes; a stopped node leaves it and comes back; with every node down it
// keeps the last set (when_none = keep); an edit by hand is repaired; kdig sees what status says.
#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <thread>

#include "core/file.hpp"
#include "dns/knot.hpp"
#include "dns/provider.hpp"
#include "testing/helpers.hpp"
#include "testing/stack_fixture.hpp"

namespace natstack {
namespace {

using namespace std::chrono_literals;

class DnsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const int b = testing::PickFreeLoopbackBlock();
    net_ = "127.0." + std::to_string(b) + ".";
    state_ = dir_->path() + "/state";
    const std::string spec = dir_->path() + "/spec.toml";
    std::string text;
    for (int i = 1; i <= 3; ++i)
      text += "[[nodes]]\nname = \"n" + std::to_string(i) + "\"\nhost = \"" + net_ +
              std::to_string(i) + "\"\n";
    text += "[callout]\nreplicas = 1\n[idp]\nlisten = \"" + net_ + "4:9400\"\n" +
            "[supervisor]\nlisten = \"" + net_ + "4:9390\"\n" +
            "[dns]\npublic_name = \"nats.example.test\"\nprobe_interval = \"1s\"\n" +
            "reconcile_interval = \"2s\"\nwhen_none = \"keep\"\n";
    ASSERT_TRUE(WriteFileAtomic(spec, text, 0600));
    auto up = testing::RunNatstack({"up", "--detach", "--spec", spec, "--state-dir", state_}, 120s);
    ASSERT_EQ(up.exit_code, 0) << up.output;
  }
  static void TearDownTestSuite() {
    auto down = testing::RunNatstack({"down", "--state-dir", state_}, 90s);
    EXPECT_EQ(down.exit_code, 0) << down.output;
    EXPECT_TRUE(testing::ProcessesMentioning(state_).empty());
    delete dir_;
  }
  static std::string Addr(int i) { return net_ + std::to_string(i); }
  /// `name`'s A record as the authoritative server answers it, as kdig prints it.
  static std::set<std::string> Kdig(const std::string& name) {
    auto r = testing::RunShell("kdig @" + Addr(4) + " -p 8053 +tcp +short " + name + " A");
    std::set<std::string> out;
    size_t start = 0;
    while (start < r.output.size()) {
      size_t nl = r.output.find('\n', start);
      if (nl == std::string::npos) nl = r.output.size();
      if (nl > start) out.insert(r.output.substr(start, nl - start));
      start = nl + 1;
    }
    return out;
  }
  static std::set<std::string> Served() { return Kdig("nats.example.test"); }
  static std::set<std::string> Seed() { return Kdig("routes.cluster.internal"); }
  static bool ServedBecomes(const std::set<std::string>& want, std::chrono::seconds limit = 20s) {
    return testing::WaitFor([&] { return Served() == want; }, limit);
  }
  static int Node(const std::string& action, const std::string& name) {
    return testing::RunNatstack({"node", action, name, "--state-dir", state_}, 120s).exit_code;
  }
  static nlohmann::json Status() {
    auto r = testing::RunNatstack({"status", "--json", "--state-dir", state_}, 30s);
    auto doc = nlohmann::json::parse(r.output, nullptr, false);
    return doc.is_object() ? doc : nlohmann::json::object();
  }
  static testing::TempDir* dir_;
  static std::string net_;
  static std::string state_;
};

testing::TempDir* DnsTest::dir_ = nullptr;
std::string DnsTest::net_;
std::string DnsTest::state_;

TEST_F(DnsTest, TheRecordListsTheHealthyNodesAndStatusAgrees) {
  const std::set<std::string> all = {Addr(1), Addr(2), Addr(3)};
  ASSERT_TRUE(ServedBecomes(all)) << "served: " << Served().size();
  const auto s = Status();
  EXPECT_EQ(s["dns"]["matches_healthy"], true) << s["dns"].dump(2);
  EXPECT_EQ(s["dns"]["ttl"], 60) << s["dns"].dump(2);
  auto table = testing::RunNatstack({"status", "--state-dir", state_}, 30s);
  EXPECT_NE(table.output.find("dns: nats.example.test A {" + Addr(1) + " " + Addr(2) + " " +
                              Addr(3) + "} = the healthy nodes"),
            std::string::npos)
      << table.output;
}

TEST_F(DnsTest, AStoppedNodeLeavesTheRecordAndTheRouteSeedAndComesBack) {
  const std::set<std::string> all = {Addr(1), Addr(2), Addr(3)};
  ASSERT_TRUE(ServedBecomes(all));
  EXPECT_EQ(Seed(), all);  // every started node is registered
  ASSERT_EQ(Node("stop", "n2"), 0);
  EXPECT_EQ(Seed(), (std::set<std::string>{Addr(1), Addr(3)}));  // stopped for good: at once
  EXPECT_TRUE(ServedBecomes({Addr(1), Addr(3)})) << "served: " << Served().size();
  ASSERT_EQ(Node("start", "n2"), 0);
  EXPECT_EQ(Seed(), all);
  EXPECT_TRUE(ServedBecomes(all)) << "served: " << Served().size();
}

TEST_F(DnsTest, TheRouteSeedIsNotHealthGated) {
  // A crashed node is restarted, not stopped for good: it stays in the seed throughout.
  ASSERT_TRUE(ServedBecomes({Addr(1), Addr(2), Addr(3)}));
  const auto s = Status();
  int pid = -1;
  for (const auto& n : s["nodes"])
    if (n["name"] == "n3") pid = n["pid"].get<int>();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Seed(), (std::set<std::string>{Addr(1), Addr(2), Addr(3)})) << "round " << i;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(Status()["dns"]["route_seed"]["registered"].size(), 3u);
}

TEST_F(DnsTest, AnEditByHandIsRepaired) {
  const std::set<std::string> all = {Addr(1), Addr(2), Addr(3)};
  ASSERT_TRUE(ServedBecomes(all));
  auto key = dns::ReadTsigKeyFile(dns::LayoutFor(state_ + "/dns").key_file);
  ASSERT_TRUE(key) << key.error().message;
  dns::Rfc2136Options o;
  o.server = Addr(4);
  o.port = 8053;
  o.zone = "example.test.";
  o.tsig = *key;
  auto provider = dns::Rfc2136Provider::Create(o);
  ASSERT_TRUE(provider);
  ASSERT_TRUE((*provider)->Replace({"nats.example.test.", dns::RecordType::kA, 60, {"127.0.0.99"}}));
  EXPECT_EQ(Served(), std::set<std::string>{"127.0.0.99"});
  EXPECT_TRUE(ServedBecomes(all, 15s)) << "the edit was not repaired";
}

TEST_F(DnsTest, WithEveryNodeDownTheLastSetIsKept) {
  const std::set<std::string> all = {Addr(1), Addr(2), Addr(3)};
  ASSERT_TRUE(ServedBecomes(all));
  for (const char* n : {"n1", "n2"}) ASSERT_EQ(Node("stop", n), 0);
  ASSERT_TRUE(ServedBecomes({Addr(3)}));
  ASSERT_EQ(Node("stop", "n3"), 0);
  // when_none = keep: the last healthy set stays (a deleted name would be cached as absent for
  // the zone's SOA minimum, slowing recovery).
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(Served(), std::set<std::string>{Addr(3)});
  for (const char* n : {"n1", "n2", "n3"}) ASSERT_EQ(Node("start", n), 0);
  EXPECT_TRUE(ServedBecomes(all));
}

}  // namespace
}  // namespace natstack

// Knot-backed tests: the renderers, then Rfc2136Provider against a real knotd started by the
// test on a free loopback port (and against a small fake server for replies Knot never sends).
#include "dns/knot.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "cluster/process.hpp"
#include "core/base64.hpp"
#include "core/file.hpp"
#include "dns/ldns_handles.hpp"
#include "dns/provider.hpp"
#include "testing/helpers.hpp"
#include "testing/temp_dir.hpp"

namespace natstack::dns {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------
// Renderers and files.

TEST(KnotConfigTest, RendersListenAclZonesAndNoSecret) {
  KnotOptions options;
  options.state_dir = "/var/lib/natstack/dns";
  options.port = 8053;
  options.address = "10.0.0.5";
  options.zones = {"cluster.internal.", "Example.Test"};
  auto config = RenderKnotConfig(options);
  ASSERT_TRUE(config) << config.error().ToString();
  const std::string& c = *config;
  EXPECT_THAT(c, HasSubstr("listen: [ \"10.0.0.5@8053\" ]\n"));
  EXPECT_THAT(c, HasSubstr("rundir: \"/var/lib/natstack/dns/run\"\n"));
  EXPECT_THAT(c, HasSubstr("database:\n    storage: \"/var/lib/natstack/dns/db\"\n"));
  EXPECT_THAT(c, HasSubstr("include: \"/var/lib/natstack/dns/tsig.key\"\n"));
  EXPECT_THAT(c, HasSubstr("acl:\n  - id: natstack-update\n    key: natstack-update.\n"
                           "    action: update\n"));
  EXPECT_THAT(c, HasSubstr("    storage: \"/var/lib/natstack/dns/zones\"\n    file: \"%s.zone\"\n"
                           "    zonefile-sync: 0\n    acl: natstack-update\n"));
  EXPECT_THAT(c, HasSubstr("zone:\n  - domain: \"cluster.internal.\"\n"
                           "  - domain: \"example.test.\"\n"));
  EXPECT_THAT(c, HasSubstr("  - target: stderr\n"));
  EXPECT_THAT(c, Not(HasSubstr("secret")));
  EXPECT_THAT(c, Not(HasSubstr("user:")));  // knotd stays the user that started it

  options.address = "";
  auto loopback = RenderKnotConfig(options);
  ASSERT_TRUE(loopback);
  EXPECT_THAT(*loopback, HasSubstr("listen: [ \"127.0.0.1@8053\" ]\n"));
}

TEST(KnotConfigTest, RefusesBadOptionsNamingThem) {
  KnotOptions good;
  good.state_dir = "/tmp/x";
  good.zones = {"example.test."};
  ASSERT_TRUE(RenderKnotConfig(good));
  struct Case {
    const char* key;
    std::function<void(KnotOptions&)> change;
  };
  const std::vector<Case> cases = {
      {"state_dir", [](KnotOptions& o) { o.state_dir = "relative/dir"; }},
      {"state_dir", [](KnotOptions& o) { o.state_dir = "/tmp/a\"b"; }},
      {"state_dir", [](KnotOptions& o) { o.state_dir = "/tmp/a\nb"; }},
      {"port", [](KnotOptions& o) { o.port = 0; }},
      {"address", [](KnotOptions& o) { o.address = "not-an-ip"; }},
      {"zones", [](KnotOptions& o) { o.zones.clear(); }},
      {"zones", [](KnotOptions& o) { o.zones = {"bad zone."}; }},
      {"zones",
       [](KnotOptions& o) {
         o.zones = {"example.test.", "EXAMPLE.test"};
       }},
      {"tsig_key_name", [](KnotOptions& o) { o.tsig_key_name = "bad key"; }},
  };
  for (const Case& c : cases) {
    KnotOptions o = good;
    c.change(o);
    auto config = RenderKnotConfig(o);
    ASSERT_FALSE(config) << c.key;
    EXPECT_EQ(config.error().code, Code::kInvalidArgument);
    EXPECT_THAT(config.error().message, HasSubstr(c.key));
  }
}

TEST(KnotZoneFileTest, RendersSoaNsAndGlue) {
  ZoneFileOptions options;
  options.zone = "Example.Test";
  options.soa_minimum = 30;
  auto zone = RenderZoneFile(options);
  ASSERT_TRUE(zone) << zone.error().ToString();
  EXPECT_EQ(*zone,
            "$ORIGIN example.test.\n"
            "$TTL 3600\n"
            "@ 3600 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 30\n"
            "@ 3600 IN NS ns1.example.test.\n"
            "ns1.example.test. 3600 IN A 127.0.0.1\n");
  options.ns_name = "ns.elsewhere.test.";  // outside the zone: no glue
  auto no_glue = RenderZoneFile(options);
  ASSERT_TRUE(no_glue);
  EXPECT_THAT(*no_glue, HasSubstr("@ 3600 IN NS ns.elsewhere.test.\n"));
  EXPECT_THAT(*no_glue, Not(HasSubstr(" IN A ")));
  options.ns_name = "";
  options.ns_address = "::1";
  auto v6 = RenderZoneFile(options);
  ASSERT_TRUE(v6);
  EXPECT_THAT(*v6, HasSubstr("ns1.example.test. 3600 IN AAAA ::1\n"));
  options.ns_address = "nowhere";
  EXPECT_FALSE(RenderZoneFile(options));
}

TEST(KnotKeyTest, GeneratedKeysAreFreshAndRoundTripThroughTheFile) {
  auto a = GenerateTsigKey("natstack-update");
  auto b = GenerateTsigKey("natstack-update");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->name, "natstack-update.");
  EXPECT_EQ(a->algorithm, "hmac-sha256");
  auto raw = Base64Decode(a->secret_base64);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_NE(a->secret_base64, b->secret_base64);

  testing::TempDir dir;
  const std::string path = dir.Join("tsig.key");
  ASSERT_TRUE(WriteTsigKeyFile(path, *a));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = ReadTsigKeyFile(path);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(read->name, a->name);
  EXPECT_EQ(read->secret_base64, a->secret_base64);
}

TEST(KnotKeyTest, ReadsWhatKeymgrWrites) {
  auto knotd = FindKnotd();
  if (!knotd) GTEST_SKIP() << knotd.error().message;
  auto out = cluster::RunAndCapture({"/usr/sbin/keymgr", "-t", "natstack-update", "hmac-sha256"});
  if (!out) GTEST_SKIP() << "keymgr: " << out.error().message;
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Join("k"), *out, 0600));
  auto key = ReadTsigKeyFile(dir.Join("k"));
  ASSERT_TRUE(key) << key.error().ToString() << "\n" << *out;
  EXPECT_EQ(key->name, "natstack-update.");
  EXPECT_THAT(*out, HasSubstr(key->secret_base64));
}

TEST(KnotdTest, FindKnotdAndArgv) {
  auto knotd = FindKnotd();
  ASSERT_TRUE(knotd) << knotd.error().message;  // scripts/setup.sh installs knot
  EXPECT_EQ(::access(knotd->c_str(), X_OK), 0);
  EXPECT_EQ(KnotdArgv("/usr/sbin/knotd", "/s/knot.conf"),
            (std::vector<std::string>{"/usr/sbin/knotd", "-c", "/s/knot.conf"}));
}

// ---------------------------------------------------------------------------------------
// A real knotd.

bool PortFree(uint16_t port) {
  for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
    const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (!ok) return false;
  }
  return true;
}

/// A random free port in 20000..40000 (bounded tries; 0 when none was found).
uint16_t PickFreePort() {
  std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> dist(20000, 40000);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto port = static_cast<uint16_t>(dist(rng));
    if (PortFree(port)) return port;
  }
  return 0;
}

const std::vector<std::string> kZones = {"cluster.internal.", "example.test."};

/// knotd on 127.0.0.1:<random free port> with a fresh state directory; stopped and removed by
/// the destructor.
class KnotServer {
 public:
  static Result<std::unique_ptr<KnotServer>> Start() {
    auto server = std::unique_ptr<KnotServer>(new KnotServer());
    NATSTACK_ASSIGN_OR_RETURN(server->knotd_, FindKnotd());
    std::string last_error = "no free port";
    // Another process may take the port between the check and knotd's bind: try again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      const uint16_t port = PickFreePort();
      if (port == 0) break;
      server->options_.state_dir = server->dir_.Join("dns" + std::to_string(attempt));
      server->options_.port = port;
      server->options_.zones = kZones;
      auto started = server->Spawn();
      if (started) return server;
      last_error = started.error().message;
    }
    return Fail(Code::kUnavailable, last_error);
  }

  /// Stops knotd and starts it again on the same state directory and port (as the supervisor
  /// does after a crash or at the next `natstack up`).
  Status Restart() {
    Stop();
    return Spawn();
  }
  void Stop() {
    if (child_) child_->Stop(std::chrono::seconds(5));
    child_.reset();
  }

  ~KnotServer() { Stop(); }

  uint16_t port() const { return options_.port; }
  const TsigKey& key() const { return key_; }
  KnotLayout layout() const { return LayoutFor(options_.state_dir); }
  bool running() { return child_ && child_->IsRunning(); }

  Rfc2136Options ProviderOptions(const std::string& zone = "example.test.") const {
    Rfc2136Options o;
    o.server = "127.0.0.1";
    o.port = port();
    o.zone = zone;
    o.tsig = key_;
    o.timeout = std::chrono::seconds(2);
    return o;
  }

 private:
  KnotServer() = default;

  /// PrepareKnotState, knotd -c CONFIG, then wait (bounded) until every zone is served.
  Status Spawn() {
    NATSTACK_ASSIGN_OR_RETURN(key_, PrepareKnotState(options_));
    cluster::SpawnOptions spawn;
    spawn.argv = KnotdArgv(knotd_, layout().config);
    spawn.log_file = options_.state_dir + "/knotd.log";
    NATSTACK_ASSIGN_OR_RETURN(cluster::ChildProcess child, cluster::ChildProcess::Spawn(spawn));
    child_.emplace(std::move(child));
    const uint16_t port = options_.port;
    const bool ready = testing::WaitFor(
        [&] {
          if (!child_->IsRunning()) return true;
          for (const std::string& zone : kZones) {
            if (!QueryZoneSerial("127.0.0.1", port, zone, std::chrono::milliseconds(200))) {
              return false;
            }
          }
          return true;
        },
        std::chrono::seconds(10));
    if (ready && child_->IsRunning()) return Ok();
    Stop();
    return Fail(Code::kUnavailable,
                "knotd on port " + std::to_string(port) +
                    " did not serve the zones: " + cluster::TailOfFile(spawn.log_file, 10));
  }

  testing::TempDir dir_;
  std::string knotd_;
  KnotOptions options_;
  TsigKey key_;
  std::optional<cluster::ChildProcess> child_;
};

class KnotProviderTest : public ::testing::Test {
 protected:
  // One knotd for the suite (it starts in tens of ms, but there is no need to repeat it);
  // each test uses its own names.
  static void SetUpTestSuite() {
    auto server = KnotServer::Start();
    if (server) {
      server_ = std::move(*server);
    } else {
      start_error_ = new std::string(server.error().ToString());
    }
  }
  static void TearDownTestSuite() {
    server_.reset();
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_) << (start_error_ ? *start_error_ : "no server");
    ASSERT_TRUE(server_->running());
    auto provider = Rfc2136Provider::Create(server_->ProviderOptions());
    ASSERT_TRUE(provider) << provider.error().ToString();
    provider_ = std::move(*provider);
  }

  std::unique_ptr<Rfc2136Provider> ProviderWith(std::optional<TsigKey> key) {
    auto options = server_->ProviderOptions();
    options.tsig = std::move(key);
    auto provider = Rfc2136Provider::Create(options);
    EXPECT_TRUE(provider) << provider.error().ToString();
    return provider ? std::move(*provider) : nullptr;
  }

  /// kdig's answer for name/type over TCP, one presentation value per line, sorted.
  std::vector<std::string> Kdig(const std::string& name, const std::string& type) {
    auto out =
        cluster::RunAndCapture({"/usr/bin/kdig", "@127.0.0.1", "-p",
                                std::to_string(server_->port()), "+tcp", "+short", name, type});
    EXPECT_TRUE(out) << out.error().message;
    std::vector<std::string> lines;
    if (!out) return lines;
    std::istringstream in(*out);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  }

  uint32_t Serial() {
    auto serial =
        QueryZoneSerial("127.0.0.1", server_->port(), "example.test.", std::chrono::seconds(2));
    EXPECT_TRUE(serial) << serial.error().ToString();
    return serial ? *serial : 0;
  }

  static inline std::unique_ptr<KnotServer> server_;
  static inline std::string* start_error_ = nullptr;
  std::unique_ptr<Rfc2136Provider> provider_;
};

RecordSet ASet(const std::string& name, std::vector<std::string> values, uint32_t ttl = 60) {
  return RecordSet{name, RecordType::kA, ttl, std::move(values)};
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(KnotProviderTest, ReplaceThenReadReturnsTheSet) {
  const RecordSet set = ASet("nats.example.test.", {"127.0.1.2", "127.0.1.1", "127.0.1.1"}, 60);
  ASSERT_TRUE(provider_->Replace(set));
  auto read = provider_->Read("NATS.example.test", RecordType::kA);
  ASSERT_TRUE(read) << read.error().ToString();
  ASSERT_TRUE(read->has_value());
  EXPECT_TRUE(SameRecordSet(**read, set)) << DescribeRecordSet(**read);
  EXPECT_EQ((*read)->values, (std::vector<std::string>{"127.0.1.1", "127.0.1.2"}));
  EXPECT_EQ((*read)->ttl, 60u);
}

TEST_F(KnotProviderTest, ReplaceSwapsTheWholeSetInOneSerialChange) {
  const std::string name = "swap.example.test.";
  const std::vector<std::vector<std::string>> sets = {
      {"10.0.0.1", "10.0.0.2"}, {"10.0.0.3"}, {"10.0.0.1", "10.0.0.4", "10.0.0.5"}, {"10.0.0.2"}};
  for (const auto& values : sets) {
    const uint32_t before = Serial();
    ASSERT_TRUE(provider_->Replace(ASet(name, values, 30)));
    // One UPDATE message: the delete and the adds are one change, so one serial step.
    EXPECT_EQ(Serial(), before + 1);
    auto read = provider_->Read(name, RecordType::kA);
    ASSERT_TRUE(read && read->has_value());
    EXPECT_EQ((*read)->values, Sorted(values)) << "never the union with the previous set";
    EXPECT_EQ(Kdig(name, "A"), Sorted(values));
  }
}

TEST_F(KnotProviderTest, ConcurrentReadersNeverSeeAUnionOrAGap) {
  const std::string name = "atomic.example.test.";
  const std::vector<std::string> first = {"10.1.0.1", "10.1.0.2"};
  const std::vector<std::string> second = {"10.1.0.3", "10.1.0.4", "10.1.0.5"};
  ASSERT_TRUE(provider_->Replace(ASet(name, first)));
  auto reader = ProviderWith(server_->key());
  ASSERT_TRUE(reader);
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::vector<std::string> bad;  // written by the reader thread only, read after join
  std::thread thread([&] {
    while (!stop) {
      auto read = reader->Read(name, RecordType::kA);
      if (!read) {
        bad.push_back(read.error().ToString());
      } else if (!read->has_value()) {
        bad.push_back("no record");
      } else if ((*read)->values != first && (*read)->values != second) {
        bad.push_back(DescribeRecordSet(**read));
      }
      ++reads;
    }
  });
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(provider_->Replace(ASet(name, i % 2 == 0 ? second : first)));
  }
  ASSERT_TRUE(testing::WaitFor([&] { return reads.load() >= 20; }, std::chrono::seconds(10)));
  stop = true;
  thread.join();
  EXPECT_TRUE(bad.empty()) << bad.size() << " bad reads, first: " << bad.front();
}

TEST_F(KnotProviderTest, EmptyReplaceAndDeleteRemoveTheSet) {
  const std::string name = "gone.example.test.";
  ASSERT_TRUE(provider_->Replace(ASet(name, {"10.2.0.1"})));
  ASSERT_TRUE(provider_->Delete(name, RecordType::kA));
  auto read = provider_->Read(name, RecordType::kA);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_FALSE(read->has_value());
  EXPECT_TRUE(provider_->Delete(name, RecordType::kA)) << "deleting nothing is fine";

  ASSERT_TRUE(provider_->Replace(ASet(name, {"10.2.0.2"})));
  ASSERT_TRUE(provider_->Replace(ASet(name, {})));
  read = provider_->Read(name, RecordType::kA);
  ASSERT_TRUE(read);
  EXPECT_FALSE(read->has_value());
}

TEST_F(KnotProviderTest, DeleteTouchesOnlyItsType) {
  const std::string name = "both.example.test.";
  ASSERT_TRUE(provider_->Replace(ASet(name, {"10.3.0.1"})));
  ASSERT_TRUE(provider_->Replace({name, RecordType::kTxt, 60, {"keep me"}}));
  ASSERT_TRUE(provider_->Delete(name, RecordType::kA));
  auto a = provider_->Read(name, RecordType::kA);
  auto txt = provider_->Read(name, RecordType::kTxt);
  ASSERT_TRUE(a && txt);
  EXPECT_FALSE(a->has_value());  // NODATA: the name exists, the type does not
  ASSERT_TRUE(txt->has_value());
  EXPECT_EQ((*txt)->values, std::vector<std::string>{"keep me"});
}

TEST_F(KnotProviderTest, ReadOfNothingIsNullopt) {
  auto nxdomain = provider_->Read("nobody.example.test.", RecordType::kA);
  ASSERT_TRUE(nxdomain) << nxdomain.error().ToString();
  EXPECT_FALSE(nxdomain->has_value());
  auto nodata = provider_->Read("example.test.", RecordType::kTxt);  // the apex has SOA, NS
  ASSERT_TRUE(nodata) << nodata.error().ToString();
  EXPECT_FALSE(nodata->has_value());
  auto glue = provider_->Read("ns1.example.test.", RecordType::kA);
  ASSERT_TRUE(glue && glue->has_value());
  EXPECT_EQ((*glue)->values, std::vector<std::string>{"127.0.0.1"});
}

TEST_F(KnotProviderTest, TxtValuesKeepSpacesQuotesAndBackslashes) {
  const std::string name = "txt.example.test.";
  const std::vector<std::string> values = {
      "hello world", "say \"hi\"",  "back\\slash \\\" both", "", "semi;colon (paren) $ORIGIN",
      "tab\there",   "caf\xc3\xa9", std::string(255, 'z')};
  ASSERT_TRUE(provider_->Replace({name, RecordType::kTxt, 120, values}));
  auto read = provider_->Read(name, RecordType::kTxt);
  ASSERT_TRUE(read && read->has_value());
  EXPECT_EQ((*read)->values, Sorted(values));
  EXPECT_EQ((*read)->ttl, 120u);
  // kdig prints each record in presentation form: exactly QuoteTxt's output.
  std::vector<std::string> quoted;
  for (const std::string& v : values) quoted.push_back(QuoteTxt(v));
  EXPECT_EQ(Kdig(name, "TXT"), Sorted(quoted));
}

TEST_F(KnotProviderTest, TwoAcmeChallengesSideBySide) {
  const std::string name = "_acme-challenge.www.example.test.";
  const std::vector<std::string> tokens = {"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                                           "gfj9Xq...Rg85nM-wildcard-token"};
  ASSERT_TRUE(provider_->Replace({name, RecordType::kTxt, 60, tokens}));
  auto read = provider_->Read(name, RecordType::kTxt);
  ASSERT_TRUE(read && read->has_value());
  EXPECT_EQ((*read)->values, Sorted(tokens));
  ASSERT_TRUE(provider_->Replace({name, RecordType::kTxt, 60, {tokens[1]}}));
  read = provider_->Read(name, RecordType::kTxt);
  ASSERT_TRUE(read && read->has_value());
  EXPECT_EQ((*read)->values, std::vector<std::string>{tokens[1]});
}

TEST_F(KnotProviderTest, BothZonesAreWritable) {
  auto options = server_->ProviderOptions("cluster.internal.");
  auto internal = Rfc2136Provider::Create(options);
  ASSERT_TRUE(internal);
  ASSERT_TRUE((*internal)->Replace(ASet("routes.cluster.internal.", {"127.0.2.1", "127.0.2.2"})));
  EXPECT_EQ(Kdig("routes.cluster.internal.", "A"),
            (std::vector<std::string>{"127.0.2.1", "127.0.2.2"}));
  // The same name under the other provider's zone is refused before sending.
  auto outside = provider_->Replace(ASet("routes.cluster.internal.", {"127.0.2.1"}));
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, Code::kNotFound);
}

TEST_F(KnotProviderTest, UnsignedUpdateIsPermissionDenied) {
  auto unsigned_provider = ProviderWith(std::nullopt);
  ASSERT_TRUE(unsigned_provider);
  auto st = unsigned_provider->Replace(ASet("unsigned.example.test.", {"10.4.0.1"}));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kPermissionDenied);
  EXPECT_THAT(st.error().message, ::testing::AnyOf(HasSubstr("NOTAUTH"), HasSubstr("REFUSED")));
  EXPECT_THAT(st.error().message, HasSubstr("127.0.0.1:" + std::to_string(server_->port())));
  // Unsigned reads are fine: the zone is public.
  auto read = unsigned_provider->Read("unsigned.example.test.", RecordType::kA);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_FALSE(read->has_value());
}

TEST_F(KnotProviderTest, WrongSecretIsBadsig) {
  TsigKey wrong = server_->key();
  auto other = GenerateTsigKey(wrong.name);
  ASSERT_TRUE(other);
  wrong.secret_base64 = other->secret_base64;
  auto provider = ProviderWith(wrong);
  ASSERT_TRUE(provider);
  auto st = provider->Replace(ASet("badsig.example.test.", {"10.5.0.1"}));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kPermissionDenied);
  EXPECT_THAT(st.error().message, HasSubstr("BADSIG"));
  EXPECT_THAT(st.error().message, Not(HasSubstr(wrong.secret_base64)));
  EXPECT_THAT(st.error().message, Not(HasSubstr(server_->key().secret_base64)));
  auto read = provider->Read("badsig.example.test.", RecordType::kA);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kPermissionDenied);
  EXPECT_THAT(read.error().message, HasSubstr("BADSIG"));
  auto after = provider_->Read("badsig.example.test.", RecordType::kA);
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->has_value()) << "a refused update changed nothing";
}

TEST_F(KnotProviderTest, UnknownKeyIsBadkey) {
  auto other = GenerateTsigKey("someone-else.");
  ASSERT_TRUE(other);
  auto provider = ProviderWith(*other);
  ASSERT_TRUE(provider);
  auto st = provider->Replace(ASet("badkey.example.test.", {"10.6.0.1"}));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kPermissionDenied);
  EXPECT_THAT(st.error().message, HasSubstr("BADKEY"));
  EXPECT_THAT(st.error().message, HasSubstr("someone-else."));
  EXPECT_THAT(st.error().message, Not(HasSubstr(other->secret_base64)));
}

TEST_F(KnotProviderTest, ZoneTheServerDoesNotServeIsPermissionDenied) {
  auto options = server_->ProviderOptions("other.test.");
  auto provider = Rfc2136Provider::Create(options);
  ASSERT_TRUE(provider);
  auto st = (*provider)->Replace(ASet("x.other.test.", {"10.7.0.1"}));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kPermissionDenied) << st.error().message;
  EXPECT_THAT(st.error().message, HasSubstr("NOTAUTH"));
}

TEST_F(KnotProviderTest, CheckZoneTellsAServedZoneFromItsParentChildOrAStranger) {
  EXPECT_TRUE(provider_->CheckZone());
  // A parent or a child of the served zone: reads of a name inside it work, updates never do.
  for (const char* wrong : {"test.", "nats.example.test.", "other.test."}) {
    auto provider = Rfc2136Provider::Create(server_->ProviderOptions(wrong));
    ASSERT_TRUE(provider);
    auto st = (*provider)->CheckZone();
    ASSERT_FALSE(st) << wrong;
    EXPECT_EQ(st.error().code, Code::kNotFound) << st.error().message;
    EXPECT_THAT(st.error().message, HasSubstr(std::string("does not serve ") + wrong));
    EXPECT_THAT(st.error().message, HasSubstr("check `zone`"));
  }
  auto child = Rfc2136Provider::Create(server_->ProviderOptions("nats.example.test."));
  ASSERT_TRUE(child);
  EXPECT_THAT((*child)->CheckZone().error().message, HasSubstr("the zone there is example.test."));
}

TEST_F(KnotProviderTest, KnotRewritesTheZoneFile) {
  ASSERT_TRUE(provider_->Replace(ASet("synced.example.test.", {"10.8.0.1"})));
  const std::string path = server_->layout().ZoneFile("example.test.");
  // zonefile-sync: 0 writes the file right after the change, from Knot's background worker.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto text = ReadFile(path);
        return text && text->find("synced.example.test.") != std::string::npos &&
               text->find("10.8.0.1") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << ReadFile(path).value_or("(unreadable)");
}

TEST_F(KnotProviderTest, AThousandRecordsFitInOneUpdate) {
  std::vector<std::string> many;
  for (int i = 0; i < 1000; ++i) {
    many.push_back("10.20." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  }
  const std::string name = "many.example.test.";
  ASSERT_TRUE(provider_->Replace(ASet(name, many)));
  auto read = provider_->Read(name, RecordType::kA);
  ASSERT_TRUE(read && read->has_value()) << (read ? "none" : read.error().ToString());
  EXPECT_EQ((*read)->values, Sorted(many));
  ASSERT_TRUE(provider_->Delete(name, RecordType::kA));
}

TEST_F(KnotProviderTest, KdigAgreesWithRead) {
  const std::string name = "agree.example.test.";
  ASSERT_TRUE(provider_->Replace(ASet(name, {"192.0.2.10", "192.0.2.11", "192.0.2.12"})));
  auto read = provider_->Read(name, RecordType::kA);
  ASSERT_TRUE(read && read->has_value());
  EXPECT_EQ(Kdig(name, "A"), (*read)->values);
}

// ---------------------------------------------------------------------------------------
// Servers that misbehave.

/// A TCP listener on a free loopback port whose connections are answered by `respond`
/// (query wire -> reply wire; empty = never answer). Serves until destroyed; every wait is
/// bounded by poll timeouts.
class FakeDnsServer {
 public:
  using Responder = std::function<std::string(const std::string& query)>;
  explicit FakeDnsServer(Responder respond) : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 8) != 0) {
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeDnsServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      std::string query;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!stop_ && std::chrono::steady_clock::now() < deadline) {
        pollfd c{conn, POLLIN, 0};
        if (::poll(&c, 1, 50) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
        if (n <= 0) break;
        query.append(buf, static_cast<size_t>(n));
        if (query.size() >= 2) {
          const size_t length = (static_cast<size_t>(static_cast<uint8_t>(query[0])) << 8) |
                                static_cast<uint8_t>(query[1]);
          if (query.size() >= 2 + length) break;
        }
      }
      const std::string reply = query.size() > 2 ? respond_(query.substr(2)) : "";
      if (!reply.empty()) {
        const std::string framed = std::string{static_cast<char>(reply.size() >> 8),
                                               static_cast<char>(reply.size() & 0xff)} +
                                   reply;
        (void)!::send(conn, framed.data(), framed.size(), MSG_NOSIGNAL);
      } else {
        // Hold the connection open without answering until the client gives up.
        while (!stop_) {
          pollfd c{conn, POLLIN, 0};
          if (::poll(&c, 1, 50) > 0) {
            char buf[64];
            if (::recv(conn, buf, sizeof buf, 0) <= 0) break;
          }
        }
      }
      ::close(conn);
    }
  }

  Responder respond_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// A NOERROR, authoritative answer to `query` holding one A record, unsigned; `id_delta`
/// shifts the id.
std::string UnsignedAnswer(const std::string& query, int id_delta = 0,
                           ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR) {
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, reinterpret_cast<const uint8_t*>(query.data()), query.size()) !=
      LDNS_STATUS_OK) {
    return "";
  }
  internal::PktPtr pkt(raw);
  internal::PktPtr reply(ldns_pkt_new());
  ldns_pkt_set_id(reply.get(), static_cast<uint16_t>(ldns_pkt_id(pkt.get()) + id_delta));
  ldns_pkt_set_qr(reply.get(), true);
  ldns_pkt_set_aa(reply.get(), true);
  ldns_pkt_set_opcode(reply.get(), ldns_pkt_get_opcode(pkt.get()));
  ldns_pkt_set_rcode(reply.get(), rcode);
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0);
  ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(question));
  ldns_rr* answer = nullptr;
  const std::string text = "forged.example.test. 60 IN A 6.6.6.6";
  if (ldns_rr_new_frm_str(&answer, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK) {
    ldns_pkt_push_rr(reply.get(), LDNS_SECTION_ANSWER, answer);
  }
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, reply.get(), &size) != LDNS_STATUS_OK) return "";
  std::string out(reinterpret_cast<char*>(wire), size);
  std::free(wire);
  return out;
}

Rfc2136Options FakeOptions(uint16_t port, std::chrono::milliseconds timeout) {
  Rfc2136Options o;
  o.server = "127.0.0.1";
  o.port = port;
  o.zone = "example.test.";
  auto key = GenerateTsigKey("natstack-update.");
  o.tsig = *key;
  o.timeout = timeout;
  return o;
}

TEST(Rfc2136MisbehavingServerTest, UnsignedAnswerToASignedQueryIsRefused) {
  FakeDnsServer fake([](const std::string& q) { return UnsignedAnswer(q); });
  ASSERT_NE(fake.port(), 0);
  auto provider = Rfc2136Provider::Create(FakeOptions(fake.port(), std::chrono::seconds(2)));
  ASSERT_TRUE(provider);
  auto read = (*provider)->Read("forged.example.test.", RecordType::kA);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(read.error().message, HasSubstr("TSIG"));
  auto update = (*provider)->Replace(ASet("forged.example.test.", {"10.9.0.1"}));
  ASSERT_FALSE(update);
  EXPECT_EQ(update.error().code, Code::kFailedPrecondition);

  // Without a key the same answer is taken as it is: nothing to verify.
  auto options = FakeOptions(fake.port(), std::chrono::seconds(2));
  options.tsig.reset();
  auto unsigned_provider = Rfc2136Provider::Create(options);
  ASSERT_TRUE(unsigned_provider);
  auto plain = (*unsigned_provider)->Read("forged.example.test.", RecordType::kA);
  ASSERT_TRUE(plain) << plain.error().ToString();
  ASSERT_TRUE(plain->has_value());
  EXPECT_EQ((*plain)->values, std::vector<std::string>{"6.6.6.6"});
}

TEST(Rfc2136MisbehavingServerTest, ReplyWithAnotherIdIsRefused) {
  FakeDnsServer fake([](const std::string& q) { return UnsignedAnswer(q, 1); });
  ASSERT_NE(fake.port(), 0);
  auto options = FakeOptions(fake.port(), std::chrono::seconds(2));
  options.tsig.reset();
  auto provider = Rfc2136Provider::Create(options);
  ASSERT_TRUE(provider);
  auto read = (*provider)->Read("forged.example.test.", RecordType::kA);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(read.error().message, HasSubstr("id"));
}

TEST(Rfc2136MisbehavingServerTest, RcodesMapToCodesNamingThem) {
  const std::vector<std::tuple<ldns_pkt_rcode, Code, std::string>> cases = {
      {LDNS_RCODE_REFUSED, Code::kPermissionDenied, "REFUSED"},
      {LDNS_RCODE_NOTAUTH, Code::kPermissionDenied, "NOTAUTH"},
      {LDNS_RCODE_FORMERR, Code::kInvalidArgument, "FORMERR"},
      {LDNS_RCODE_SERVFAIL, Code::kInternal, "SERVFAIL"},
      {LDNS_RCODE_NOTIMPL, Code::kInternal, "NOTIMPL"},
      {LDNS_RCODE_NOTZONE, Code::kNotFound, "NOTZONE"},
  };
  for (const auto& [rcode, code, name] : cases) {
    const ldns_pkt_rcode r = rcode;
    FakeDnsServer fake([r](const std::string& q) { return UnsignedAnswer(q, 0, r); });
    ASSERT_NE(fake.port(), 0);
    auto provider = Rfc2136Provider::Create(FakeOptions(fake.port(), std::chrono::seconds(2)));
    ASSERT_TRUE(provider);
    auto st = (*provider)->Replace(ASet("x.example.test.", {"10.9.1.1"}));
    ASSERT_FALSE(st) << name;
    EXPECT_EQ(st.error().code, code) << st.error().message;
    EXPECT_THAT(st.error().message, HasSubstr(name));
  }
}

TEST(Rfc2136MisbehavingServerTest, SilentServerIsUnavailableWithinTheTimeout) {
  FakeDnsServer fake([](const std::string&) { return std::string(); });
  ASSERT_NE(fake.port(), 0);
  const auto timeout = std::chrono::milliseconds(300);
  auto provider = Rfc2136Provider::Create(FakeOptions(fake.port(), timeout));
  ASSERT_TRUE(provider);
  const auto start = std::chrono::steady_clock::now();
  auto st = (*provider)->Replace(ASet("x.example.test.", {"10.9.0.2"}));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kUnavailable);
  EXPECT_THAT(st.error().message, HasSubstr("127.0.0.1:" + std::to_string(fake.port())));
  EXPECT_GE(took, timeout - std::chrono::milliseconds(20));
  EXPECT_LT(took, timeout + std::chrono::milliseconds(700));
}

TEST(Rfc2136MisbehavingServerTest, StoppedKnotIsUnavailableWithinTheTimeout) {
  auto server = KnotServer::Start();
  ASSERT_TRUE(server) << server.error().ToString();
  auto options = (*server)->ProviderOptions();
  options.timeout = std::chrono::milliseconds(500);
  auto provider = Rfc2136Provider::Create(options);
  ASSERT_TRUE(provider);
  ASSERT_TRUE((*provider)->Replace(ASet("up.example.test.", {"10.9.0.3"})));
  server->reset();  // SIGTERM, reaped
  const auto start = std::chrono::steady_clock::now();
  auto st = (*provider)->Replace(ASet("up.example.test.", {"10.9.0.4"}));
  auto read = (*provider)->Read("up.example.test.", RecordType::kA);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kUnavailable);
  EXPECT_THAT(st.error().message, HasSubstr("127.0.0.1:" + std::to_string(options.port)));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kUnavailable);
  EXPECT_LT(took, 2 * options.timeout + std::chrono::milliseconds(500));
}

TEST(KnotRestartTest, RecordsAndTheKeySurviveARestart) {
  auto server = KnotServer::Start();
  ASSERT_TRUE(server) << server.error().ToString();
  auto provider = Rfc2136Provider::Create((*server)->ProviderOptions());
  ASSERT_TRUE(provider);
  ASSERT_TRUE((*provider)->Replace(ASet("kept.example.test.", {"10.10.0.1", "10.10.0.2"})));
  const auto serial =
      QueryZoneSerial("127.0.0.1", (*server)->port(), "example.test.", std::chrono::seconds(2));
  ASSERT_TRUE(serial);
  auto restarted = (*server)->Restart();
  ASSERT_TRUE(restarted) << restarted.error().ToString();
  auto read = (*provider)->Read("kept.example.test.", RecordType::kA);  // the same key works
  ASSERT_TRUE(read && read->has_value()) << (read ? "none" : read.error().ToString());
  EXPECT_EQ((*read)->values, (std::vector<std::string>{"10.10.0.1", "10.10.0.2"}));
  EXPECT_EQ(
      QueryZoneSerial("127.0.0.1", (*server)->port(), "example.test.", std::chrono::seconds(2))
          .value_or(0),
      *serial);
  ASSERT_TRUE((*provider)->Replace(ASet("kept.example.test.", {"10.10.0.3"})));
  EXPECT_EQ(
      QueryZoneSerial("127.0.0.1", (*server)->port(), "example.test.", std::chrono::seconds(2))
          .value_or(0),
      *serial + 1);
}

TEST(KnotStateTest, PrepareKeepsTheKeyAndZoneFilesAcrossStarts) {
  testing::TempDir dir;
  KnotOptions options;
  options.state_dir = dir.Join("dns");
  options.zones = kZones;
  auto first = PrepareKnotState(options);
  ASSERT_TRUE(first) << first.error().ToString();
  const KnotLayout layout = LayoutFor(options.state_dir);
  struct stat st {};
  ASSERT_EQ(::stat(layout.key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(options.state_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(WriteFileAtomic(layout.ZoneFile("example.test."), "; Knot's now\n", 0600));
  auto second = PrepareKnotState(options);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(second->secret_base64, first->secret_base64);
  EXPECT_EQ(ReadFile(layout.ZoneFile("example.test.")).value_or(""), "; Knot's now\n");
  EXPECT_TRUE(FileExists(layout.ZoneFile("cluster.internal.")));

  // knotc checks the rendered config (with the key it includes) as knotd will read it.
  auto check = cluster::RunAndCapture({"/usr/sbin/knotc", "-c", layout.config, "conf-check"});
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_THAT(*check, HasSubstr("Configuration is valid")) << *check;

  options.tsig_key_name = "another-key.";
  auto renamed = PrepareKnotState(options);
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().code, Code::kFailedPrecondition);
}

}  // namespace
}  // namespace natstack::dns

// Unit tests: validation, TXT quoting, TSIG key files, and the checks Rfc2136Provider makes
// before it sends anything. No server involved (the Knot-backed tests are in knot_test.cpp).
#include "dns/provider.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/file.hpp"
#include "testing/temp_dir.hpp"

namespace natstack::dns {
namespace {

constexpr char kSecret[] = "lFA3SeTnqoWjg0nMxc08pk15ye7XZBT7C4FOttCk+YY=";

RecordSet A(std::string name, std::vector<std::string> values, uint32_t ttl = 60) {
  return RecordSet{std::move(name), RecordType::kA, ttl, std::move(values)};
}
RecordSet Txt(std::string name, std::vector<std::string> values) {
  return RecordSet{std::move(name), RecordType::kTxt, 60, std::move(values)};
}

TEST(RecordSetTest, SameRecordSetIgnoresCaseDotOrderAndDuplicates) {
  EXPECT_TRUE(SameRecordSet(A("Nats.Example.Test", {"127.0.0.2", "127.0.0.1"}),
                            A("nats.example.test.", {"127.0.0.1", "127.0.0.2", "127.0.0.1"})));
  EXPECT_FALSE(SameRecordSet(A("nats.example.test.", {"127.0.0.1"}, 60),
                             A("nats.example.test.", {"127.0.0.1"}, 61)));
  EXPECT_FALSE(SameRecordSet(A("nats.example.test.", {"127.0.0.1"}),
                             Txt("nats.example.test.", {"127.0.0.1"})));
}

TEST(ValidateTest, NamesMustBeInsideTheZone) {
  EXPECT_TRUE(ValidateOwnerName("nats.example.test.", "example.test."));
  EXPECT_TRUE(ValidateOwnerName("NATS.Example.Test", "example.test"));
  EXPECT_TRUE(ValidateOwnerName("example.test.", "example.test."));  // the apex
  EXPECT_TRUE(ValidateOwnerName("_acme-challenge.a.b.example.test", "example.test."));
  for (const char* outside : {"example.org.", "test.", "badexample.test.", "nats.example.tes"}) {
    auto st = ValidateOwnerName(outside, "example.test.");
    ASSERT_FALSE(st) << outside;
    EXPECT_EQ(st.error().code, Code::kNotFound) << outside;
  }
}

TEST(ValidateTest, NameShapeLimits) {
  const std::string label63(63, 'a');
  EXPECT_TRUE(ValidateOwnerName(label63 + ".example.test.", "example.test."));
  for (const std::string& bad :
       {std::string(64, 'a') + ".example.test.", std::string("a..example.test."),
        std::string(".example.test."), std::string("a b.example.test."),
        std::string("a;b.example.test."), std::string("a\"b.example.test."),
        std::string("a\\b.example.test."), std::string("*.example.test."), std::string(""),
        std::string(".")}) {
    auto st = ValidateOwnerName(bad, "example.test.");
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, Code::kInvalidArgument) << bad;
  }
  // 253 characters in all is the limit (255 octets on the wire).
  const std::string name = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                           std::string(63, 'c') + "." + std::string(48, 'd') + ".example.test";
  ASSERT_EQ(name.size(), 253u);
  EXPECT_TRUE(ValidateOwnerName(name, "example.test."));
  EXPECT_TRUE(ValidateOwnerName(name + ".", "example.test."));
  auto st = ValidateOwnerName("x." + name, "example.test.");  // 255 characters
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(ValidateZoneName("."));
  EXPECT_TRUE(ValidateZoneName("cluster.internal."));
}

TEST(ValidateTest, AValuesAreDottedIpv4) {
  EXPECT_TRUE(ValidateRecordSet(A("n.example.test.", {"127.0.0.1", "10.1.2.3"}), "example.test."));
  for (const char* bad :
       {"1.2.3", "1.2.3.4.5", "256.1.1.1", "::1", "localhost", "1.2.3.4 ", "", "0x7f.0.0.1"}) {
    auto st = ValidateRecordSet(A("n.example.test.", {bad}), "example.test.");
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, Code::kInvalidArgument) << bad;
  }
}

TEST(ValidateTest, TxtValuesAreAtMost255Bytes) {
  EXPECT_TRUE(ValidateRecordSet(Txt("t.example.test.", {std::string(255, 'x'), "", "a \"b\" \\c"}),
                                "example.test."));
  auto st = ValidateRecordSet(Txt("t.example.test.", {std::string(256, 'x')}), "example.test.");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
}

TEST(ValidateTest, TtlAtMost2To31Minus1) {
  EXPECT_TRUE(ValidateRecordSet(A("n.example.test.", {"127.0.0.1"}, kMaxTtl), "example.test."));
  auto st = ValidateRecordSet(A("n.example.test.", {"127.0.0.1"}, kMaxTtl + 1), "example.test.");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
}

TEST(QuoteTxtTest, EscapesQuotesBackslashesAndUnprintableBytes) {
  EXPECT_EQ(QuoteTxt("hello world"), "\"hello world\"");
  EXPECT_EQ(QuoteTxt("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(QuoteTxt("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(QuoteTxt(""), "\"\"");
  EXPECT_EQ(QuoteTxt(std::string("t\tn\n\x7f\xc3\xa9", 7)), "\"t\\009n\\010\\127\\195\\169\"");
  EXPECT_EQ(QuoteTxt("semi;(paren)"), "\"semi;(paren)\"");
}

TEST(DescribeRecordSetTest, SortsAndQuotes) {
  EXPECT_EQ(DescribeRecordSet(A("n.example.test", {"127.0.0.2", "127.0.0.1"})),
            "n.example.test. 60 A 127.0.0.1,127.0.0.2");
  EXPECT_EQ(DescribeRecordSet(Txt("t.example.test.", {"a b"})), "t.example.test. 60 TXT \"a b\"");
  EXPECT_EQ(DescribeRecordSet(A("n.example.test.", {})), "n.example.test. 60 A (none)");
}

TEST(TsigKeyTest, ParsesTheOneLineFormat) {
  auto key = ParseTsigKey(std::string("natstack-update hmac-sha256 ") + kSecret + "\n");
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->name, "natstack-update.");
  EXPECT_EQ(key->algorithm, "hmac-sha256");
  EXPECT_EQ(key->secret_base64, kSecret);
  auto upper = ParseTsigKey(std::string("# comment\n\n  Natstack-Update.  HMAC-SHA512 ") + kSecret);
  ASSERT_TRUE(upper) << upper.error().ToString();
  EXPECT_EQ(upper->name, "natstack-update.");
  EXPECT_EQ(upper->algorithm, "hmac-sha512");
}

TEST(TsigKeyTest, ParsesKeymgrOutput) {
  // Exactly what `keymgr -t natstack-update hmac-sha256` prints.
  const std::string text = std::string("# hmac-sha256:natstack-update:") + kSecret +
                           "\nkey:\n  - id: natstack-update\n    algorithm: hmac-sha256\n"
                           "    secret: " +
                           kSecret + "\n";
  auto key = ParseTsigKey(text);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->name, "natstack-update.");
  EXPECT_EQ(key->algorithm, "hmac-sha256");
  EXPECT_EQ(key->secret_base64, kSecret);
  auto quoted = ParseTsigKey(std::string("key:\r\n  - id: \"k1.\"\r\n    secret: '") + kSecret +
                             "'\r\n    algorithm: hmac-sha256\r\n");
  ASSERT_TRUE(quoted) << quoted.error().ToString();
  EXPECT_EQ(quoted->name, "k1.");
}

TEST(TsigKeyTest, RefusesMalformedKeysWithoutShowingTheSecret) {
  const std::string s = kSecret;
  for (const std::string& bad : std::vector<std::string>{
           std::string(""),
           std::string("# only a comment\n"),
           "natstack-update hmac-sha256",
           "natstack-update hmac-sha256 " + s + " extra",
           "natstack-update hmac-md5 " + s,
           "natstack-update hmac-sha384 " + s,
           std::string("natstack-update hmac-sha256 not*base64"),
           "bad name hmac-sha256 " + s,
           "key:\n  - id: k\n    algorithm: hmac-sha256\n",
           "key:\n  - id: k\n    secret: " + s + "\n",
           "key:\n  - algorithm: hmac-sha256\n    secret: " + s + "\n",
           "key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: " + s + "\n    color: red\n",
           "key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: " + s +
               "\n  - id: k2\n    algorithm: hmac-sha256\n    secret: " + s + "\n",
           "keys:\n  - id: k\n",
       }) {
    auto key = ParseTsigKey(bad);
    ASSERT_FALSE(key) << bad;
    EXPECT_EQ(key.error().code, Code::kInvalidArgument) << bad;
    EXPECT_EQ(key.error().message.find(s), std::string::npos) << key.error().message;
  }
}

TEST(TsigKeyTest, ReadTsigKeyFileRefusesAFileOthersCanRead) {
  testing::TempDir dir;
  const std::string path = dir.Join("tsig.key");
  ASSERT_TRUE(WriteFileAtomic(path, std::string("k hmac-sha256 ") + kSecret + "\n", 0600));
  auto key = ReadTsigKeyFile(path);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->name, "k.");
  for (mode_t mode : {0640, 0604, 0644}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto refused = ReadTsigKeyFile(path);
    ASSERT_FALSE(refused) << mode;
    EXPECT_EQ(refused.error().code, Code::kPermissionDenied);
    EXPECT_NE(refused.error().message.find("chmod 600"), std::string::npos);
  }
  auto missing = ReadTsigKeyFile(dir.Join("absent.key"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
}

TEST(TsigKeyTest, BadFileErrorsNameTheFileNotTheSecret) {
  testing::TempDir dir;
  const std::string path = dir.Join("tsig.key");
  ASSERT_TRUE(WriteFileAtomic(path, std::string("k hmac-md5 ") + kSecret + "\n", 0600));
  auto key = ReadTsigKeyFile(path);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, Code::kInvalidArgument);
  EXPECT_NE(key.error().message.find(path), std::string::npos);
  EXPECT_EQ(key.error().message.find(kSecret), std::string::npos);
}

Rfc2136Options Options(uint16_t port) {
  Rfc2136Options options;
  options.server = "127.0.0.1";
  options.port = port;
  options.zone = "example.test.";
  options.tsig = TsigKey{"k.", "hmac-sha256", kSecret};
  options.timeout = std::chrono::milliseconds(500);
  return options;
}

TEST(Rfc2136ProviderTest, CreateRefusesBadOptions) {
  {
    auto o = Options(53);
    o.zone = "bad zone.";
    auto p = Rfc2136Provider::Create(o);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Code::kInvalidArgument);
  }
  {
    auto o = Options(53);
    o.server = "dns.example.test";  // an address, never a name to resolve
    auto p = Rfc2136Provider::Create(o);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Code::kInvalidArgument);
  }
  {
    auto o = Options(53);
    o.tsig->secret_base64 = "%%%";
    auto p = Rfc2136Provider::Create(o);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Code::kInvalidArgument);
  }
  {
    auto o = Options(53);
    o.zone = "Example.Test";
    auto p = Rfc2136Provider::Create(o);
    ASSERT_TRUE(p) << p.error().ToString();
    EXPECT_EQ((*p)->Zone(), "example.test.");
  }
}

// Port 1 on loopback: nothing listens, so a request that were sent would come back
// kUnavailable. kNotFound / kInvalidArgument prove the provider refused before sending.
TEST(Rfc2136ProviderTest, RefusesBadInputBeforeSending) {
  auto provider = Rfc2136Provider::Create(Options(1));
  ASSERT_TRUE(provider) << provider.error().ToString();
  Provider& p = **provider;

  auto outside = p.Replace(A("nats.example.org.", {"127.0.0.1"}));
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, Code::kNotFound);
  auto outside_delete = p.Delete("nats.example.org.", RecordType::kA);
  ASSERT_FALSE(outside_delete);
  EXPECT_EQ(outside_delete.error().code, Code::kNotFound);
  auto outside_read = p.Read("example.org.", RecordType::kA);
  ASSERT_FALSE(outside_read);
  EXPECT_EQ(outside_read.error().code, Code::kNotFound);

  for (const RecordSet& bad :
       {A("nats.example.test.", {"999.0.0.1"}), A("nats.example.test.", {"127.0.0.1"}, kMaxTtl + 1),
        Txt("t.example.test.", {std::string(256, 'x')}),
        A(std::string(64, 'a') + ".example.test.", {"127.0.0.1"})}) {
    auto st = p.Replace(bad);
    ASSERT_FALSE(st) << DescribeRecordSet(bad);
    EXPECT_EQ(st.error().code, Code::kInvalidArgument) << st.error().message;
  }
  // More records than one DNS message holds (libldns would abort encoding them).
  std::vector<std::string> many;
  for (int i = 0; i < 5000; ++i) {
    many.push_back("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  }
  auto huge = p.Replace(A("nats.example.test.", many));
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, Code::kInvalidArgument) << huge.error().message;
  auto huge_txt = p.Replace(Txt("t.example.test.", std::vector<std::string>(300, "")));
  EXPECT_TRUE(!huge_txt && huge_txt.error().code == Code::kUnavailable)
      << "duplicates are one value";
  std::vector<std::string> long_txt;
  for (int i = 0; i < 300; ++i) long_txt.push_back(std::to_string(i) + std::string(250, 'x'));
  auto huge_txt2 = p.Replace(Txt("t.example.test.", long_txt));
  ASSERT_FALSE(huge_txt2);
  EXPECT_EQ(huge_txt2.error().code, Code::kInvalidArgument) << huge_txt2.error().message;

  // And a valid request does reach the (absent) server.
  auto down = p.Replace(A("nats.example.test.", {"127.0.0.1"}));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, Code::kUnavailable);
  EXPECT_NE(down.error().message.find("127.0.0.1:1"), std::string::npos) << down.error().message;
  EXPECT_EQ(down.error().message.find(kSecret), std::string::npos);
}

}  // namespace
}  // namespace natstack::dns

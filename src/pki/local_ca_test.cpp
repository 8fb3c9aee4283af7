#include "pki/local_ca.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/helpers.hpp"
#include "testing/temp_dir.hpp"
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "testing/fake_clock.hpp"

namespace natstack::pki {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::TempDir;

using testing::RunShell;
using CommandResult = testing::ShellResult;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string WriteTemp(const TempDir& dir, const std::string& name, const std::string& data) {
  const std::string path = dir.Join(name);
  EXPECT_TRUE(WriteFileAtomic(path, data, 0644));
  return path;
}

LeafOptions NatsLeaf() {
  LeafOptions leaf;
  leaf.common_name = "nats.localhost";
  leaf.dns_names = {"nats.localhost", "localhost"};
  leaf.ip_addresses = {"127.0.1.1", "127.0.0.1", "::1"};
  return leaf;
}

class LocalCaTest : public ::testing::Test {
 protected:
  CaOptions Options() const {
    CaOptions options;
    options.dir = dir_.Join("ca");
    return options;
  }
  LocalCa MustCreate() {
    auto ca = LocalCa::LoadOrCreate(Options(), clock_);
    EXPECT_TRUE(ca) << ca.error().ToString();
    return std::move(*ca);
  }
  std::string CaFile(const std::string& name) const { return dir_.Join("ca/" + name); }
  // `openssl verify` at the fake clock's time, with the chain's first certificate as the leaf.
  CommandResult Verify(const std::string& leaf_path, const std::string& extra = "") const {
    return RunShell("openssl verify -attime " + std::to_string(clock_.UnixSeconds()) + " -CAfile " +
                    CaFile("root.pem") + " -untrusted " + CaFile("intermediate.pem") + " " + extra +
                    " " + leaf_path);
  }

  TempDir dir_;
  natstack::testing::FakeClock clock_;
};

TEST_F(LocalCaTest, CreatesFourFilesWithTightModes) {
  MustCreate();
  EXPECT_EQ(ModeOf(dir_.Join("ca")), 0700u);
  EXPECT_EQ(ModeOf(CaFile("root.pem")), 0644u);
  EXPECT_EQ(ModeOf(CaFile("root.key")), 0600u);
  EXPECT_EQ(ModeOf(CaFile("intermediate.pem")), 0644u);
  EXPECT_EQ(ModeOf(CaFile("intermediate.key")), 0600u);
}

TEST_F(LocalCaTest, ReloadKeepsTheSameRoot) {
  const std::string first = MustCreate().RootFingerprintSha256();
  const auto root_pem_before = ReadFile(CaFile("root.pem"));
  auto again = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->RootFingerprintSha256(), first);
  EXPECT_EQ(*ReadFile(CaFile("root.pem")), *root_pem_before);
  EXPECT_EQ(again->RootPemPath(), CaFile("root.pem"));
}

TEST_F(LocalCaTest, FingerprintMatchesOpenSslCli) {
  LocalCa ca = MustCreate();
  const CommandResult cli =
      RunShell("openssl x509 -noout -fingerprint -sha256 -in " + ca.RootPemPath());
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(cli.output, "sha256 Fingerprint=" + ca.RootFingerprintSha256() + "\n");
  EXPECT_EQ(ca.RootFingerprintSha256().size(), 32u * 3 - 1);
}

TEST_F(LocalCaTest, RootAndIntermediateAreCasWithExpectedValidity) {
  LocalCa ca = MustCreate();
  auto root = InspectCertificate(*ReadFile(CaFile("root.pem")));
  ASSERT_TRUE(root) << root.error().ToString();
  EXPECT_TRUE(root->is_ca);
  EXPECT_EQ(root->subject_cn, "natstack Root CA");
  EXPECT_EQ(root->issuer_cn, "natstack Root CA");
  EXPECT_EQ(root->not_before, clock_.Now() - minutes(5));
  EXPECT_EQ(root->not_after, clock_.Now() + hours(24 * 3650));

  auto inter = InspectCertificate(*ReadFile(CaFile("intermediate.pem")));
  ASSERT_TRUE(inter) << inter.error().ToString();
  EXPECT_TRUE(inter->is_ca);
  EXPECT_EQ(inter->subject_cn, "natstack Intermediate CA");
  EXPECT_EQ(inter->issuer_cn, "natstack Root CA");
  EXPECT_EQ(inter->not_after, clock_.Now() + hours(24 * 1825));

  const CommandResult text =
      RunShell("openssl x509 -noout -text -in " + CaFile("intermediate.pem"));
  EXPECT_THAT(text.output, HasSubstr("CA:TRUE, pathlen:0"));
  EXPECT_THAT(text.output, HasSubstr("Certificate Sign, CRL Sign"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Authority Key Identifier"));
  EXPECT_THAT(text.output, HasSubstr("ASN1 OID: prime256v1"));
}

TEST_F(LocalCaTest, IssuedLeafVerifiesWithOpenSslCli) {
  LocalCa ca = MustCreate();
  auto leaf = ca.Issue(NatsLeaf());
  ASSERT_TRUE(leaf) << leaf.error().ToString();
  const std::string leaf_path = WriteTemp(dir_, "leaf.pem", leaf->chain_pem);

  for (const std::string extra :
       {"", "-purpose sslserver", "-purpose sslclient", "-verify_hostname nats.localhost",
        "-verify_hostname localhost", "-verify_ip 127.0.1.1", "-verify_ip ::1"}) {
    const CommandResult verify = Verify(leaf_path, extra);
    EXPECT_EQ(verify.exit_code, 0) << extra << ": " << verify.output;
    EXPECT_THAT(verify.output, HasSubstr(": OK")) << extra;
  }
  // And a name or address that is not in the certificate fails.
  EXPECT_NE(Verify(leaf_path, "-verify_hostname other.localhost").exit_code, 0);
  EXPECT_NE(Verify(leaf_path, "-verify_ip 127.0.1.2").exit_code, 0);
  // Without the intermediate the chain does not build.
  EXPECT_NE(RunShell("openssl verify -attime " + std::to_string(clock_.UnixSeconds()) +
                     " -CAfile " + CaFile("root.pem") + " " + leaf_path)
                .exit_code,
            0);
}

TEST_F(LocalCaTest, IssuedLeafIsRejectedAfterItExpires) {
  LocalCa ca = MustCreate();
  auto leaf = ca.Issue(NatsLeaf());
  ASSERT_TRUE(leaf);
  const std::string leaf_path = WriteTemp(dir_, "leaf.pem", leaf->chain_pem);
  clock_.Advance(hours(24 * 91));
  const CommandResult verify = Verify(leaf_path);
  EXPECT_NE(verify.exit_code, 0);
  EXPECT_THAT(verify.output, HasSubstr("certificate has expired"));
}

TEST_F(LocalCaTest, InspectReportsLeafFields) {
  LocalCa ca = MustCreate();
  auto leaf = ca.Issue(NatsLeaf());
  ASSERT_TRUE(leaf) << leaf.error().ToString();
  auto info = InspectCertificate(leaf->chain_pem);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->subject_cn, "nats.localhost");
  EXPECT_EQ(info->issuer_cn, "natstack Intermediate CA");
  EXPECT_THAT(info->dns_names, ElementsAre("nats.localhost", "localhost"));
  EXPECT_THAT(info->ip_addresses, ElementsAre("127.0.1.1", "127.0.0.1", "::1"));
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(info->serial_hex, leaf->serial_hex);
  EXPECT_EQ(info->not_before, clock_.Now() - minutes(5));
  EXPECT_EQ(info->not_after, clock_.Now() + hours(24 * 90));
  EXPECT_EQ(leaf->not_before, info->not_before);
  EXPECT_EQ(leaf->not_after, info->not_after);

  const std::string leaf_path = WriteTemp(dir_, "leaf.pem", leaf->chain_pem);
  const CommandResult serial = RunShell("openssl x509 -noout -serial -in " + leaf_path);
  EXPECT_EQ(serial.output, "serial=" + leaf->serial_hex + "\n");
  const CommandResult text = RunShell("openssl x509 -noout -text -in " + leaf_path);
  EXPECT_THAT(text.output,
              HasSubstr("TLS Web Server Authentication, TLS Web Client Authentication"));
  EXPECT_THAT(text.output, HasSubstr("Digital Signature"));
  EXPECT_THAT(text.output, ::testing::Not(HasSubstr("Key Encipherment")));
  EXPECT_THAT(text.output, HasSubstr("CA:FALSE"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Subject Key Identifier"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Authority Key Identifier"));
}

TEST_F(LocalCaTest, SerialsAreRandomPositive128Bit) {
  LocalCa ca = MustCreate();
  auto a = ca.Issue(NatsLeaf());
  auto b = ca.Issue(NatsLeaf());
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->serial_hex, b->serial_hex);
  for (const auto& serial : {a->serial_hex, b->serial_hex}) {
    EXPECT_LE(serial.size(), 32u);
    EXPECT_GE(serial.size(), 2u);
    EXPECT_NE(serial.front(), '-');
  }
}

TEST_F(LocalCaTest, ChainIsLeafThenIntermediate) {
  LocalCa ca = MustCreate();
  auto leaf = ca.Issue(NatsLeaf());
  ASSERT_TRUE(leaf);
  const std::string marker = "-----BEGIN CERTIFICATE-----";
  const size_t second = leaf->chain_pem.find(marker, 1);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(leaf->chain_pem.substr(second), *ReadFile(CaFile("intermediate.pem")));
  EXPECT_THAT(leaf->key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
}

TEST_F(LocalCaTest, RsaLeafVerifiesAndHasKeyEncipherment) {
  LocalCa ca = MustCreate();
  LeafOptions options = NatsLeaf();
  options.key_type = KeyType::kRsa2048;
  auto leaf = ca.Issue(options);
  ASSERT_TRUE(leaf) << leaf.error().ToString();
  const std::string leaf_path = WriteTemp(dir_, "leaf.pem", leaf->chain_pem);
  const CommandResult verify = Verify(leaf_path, "-purpose sslserver");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  const CommandResult text = RunShell("openssl x509 -noout -text -in " + leaf_path);
  EXPECT_THAT(text.output, HasSubstr("rsaEncryption"));
  EXPECT_THAT(text.output, HasSubstr("Public-Key: (2048 bit)"));
  EXPECT_THAT(text.output, HasSubstr("Digital Signature, Key Encipherment"));
  // The key is the certificate's key.
  const std::string key_path = WriteTemp(dir_, "leaf.key", leaf->key_pem);
  const CommandResult cert_pub = RunShell("openssl x509 -noout -pubkey -in " + leaf_path);
  const CommandResult key_pub = RunShell("openssl pkey -pubout -in " + key_path);
  EXPECT_EQ(cert_pub.output, key_pub.output);
}

TEST_F(LocalCaTest, LeafNameDefaultsAndLengthLimit) {
  LocalCa ca = MustCreate();
  LeafOptions ip_only;
  ip_only.ip_addresses = {"10.0.0.1"};
  auto leaf = ca.Issue(ip_only);
  ASSERT_TRUE(leaf) << leaf.error().ToString();
  EXPECT_EQ(InspectCertificate(leaf->chain_pem)->subject_cn, "10.0.0.1");

  LeafOptions long_cn = NatsLeaf();
  long_cn.common_name = std::string(65, 'a');
  auto refused = ca.Issue(long_cn);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
}

TEST_F(LocalCaTest, LeafNotAfterIsCappedAtTheIntermediate) {
  CaOptions options = Options();
  options.intermediate_lifetime = hours(24 * 30);
  auto ca = LocalCa::LoadOrCreate(options, clock_);
  ASSERT_TRUE(ca);
  auto leaf = ca->Issue(NatsLeaf());
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->not_after, clock_.Now() + hours(24 * 30));
}

TEST_F(LocalCaTest, BadNamesAreInvalidArgument) {
  LocalCa ca = MustCreate();
  for (const std::string ip :
       {"127.0.0.1x", "1.2.3", "256.1.1.1", "::g", "", "fe80::1%lo", " 127.0.0.1"}) {
    LeafOptions options = NatsLeaf();
    options.ip_addresses = {ip};
    auto result = ca.Issue(options);
    ASSERT_FALSE(result) << ip;
    EXPECT_EQ(result.error().code, Code::kInvalidArgument) << ip;
  }
  const std::vector<std::string> bad_dns = {"",
                                            "a..b",
                                            "-a.example",
                                            "a b.example",
                                            "x.*.example",
                                            "example.",
                                            "a,DNS:evil.example",
                                            std::string(64, 'a') + ".x"};
  for (const std::string& dns : bad_dns) {
    LeafOptions options = NatsLeaf();
    options.dns_names = {dns};
    auto result = ca.Issue(options);
    ASSERT_FALSE(result) << dns;
    EXPECT_EQ(result.error().code, Code::kInvalidArgument) << dns;
  }
  LeafOptions wildcard;
  wildcard.dns_names = {"*.nats.localhost"};
  EXPECT_TRUE(ca.Issue(wildcard));
  LeafOptions nothing;
  auto empty = ca.Issue(nothing);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Code::kInvalidArgument);
}

TEST_F(LocalCaTest, IncompleteDirectoryIsRefusedAndLeftAlone) {
  MustCreate();
  const auto root_before = ReadFile(CaFile("root.pem"));
  ASSERT_EQ(::unlink(CaFile("intermediate.key").c_str()), 0);
  auto ca = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(ca.error().message, HasSubstr("intermediate.key"));
  EXPECT_EQ(*ReadFile(CaFile("root.pem")), *root_before);
  EXPECT_FALSE(FileExists(CaFile("intermediate.key")));
}

TEST_F(LocalCaTest, KeyThatDoesNotMatchItsCertificateIsRefused) {
  MustCreate();
  CaOptions other = Options();
  other.dir = dir_.Join("other");
  ASSERT_TRUE(LocalCa::LoadOrCreate(other, clock_));
  ASSERT_TRUE(WriteFileAtomic(CaFile("root.key"), *ReadFile(dir_.Join("other/root.key")), 0600));
  auto ca = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(ca.error().message, HasSubstr("root.key"));
}

TEST_F(LocalCaTest, IntermediateFromAnotherRootIsRefused) {
  MustCreate();
  CaOptions other = Options();
  other.dir = dir_.Join("other");
  ASSERT_TRUE(LocalCa::LoadOrCreate(other, clock_));
  for (const std::string f : {"intermediate.pem", "intermediate.key"}) {
    ASSERT_TRUE(WriteFileAtomic(CaFile(f), *ReadFile(dir_.Join("other/" + f)),
                                f == "intermediate.key" ? 0600 : 0644));
  }
  auto ca = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(ca.error().message, HasSubstr("not signed by the root"));
}

TEST_F(LocalCaTest, KeyReadableByOthersIsRefused) {
  MustCreate();
  ASSERT_EQ(::chmod(CaFile("intermediate.key").c_str(), 0644), 0);
  auto ca = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kPermissionDenied);
  ASSERT_EQ(::chmod(CaFile("intermediate.key").c_str(), 0640), 0);
  auto group = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code, Code::kPermissionDenied);
}

TEST_F(LocalCaTest, TamperedCertificateIsRefused) {
  MustCreate();
  ASSERT_TRUE(WriteFileAtomic(CaFile("root.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n", 0644));
  auto garbage = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, Code::kInvalidArgument);
}

TEST_F(LocalCaTest, TamperedSignatureIsRefused) {
  MustCreate();
  // Flip one bit in the intermediate's signature (the last bytes of the DER) and re-encode.
  const std::string der_path = dir_.Join("inter.der");
  ASSERT_EQ(
      RunShell("openssl x509 -in " + CaFile("intermediate.pem") + " -outform DER -out " + der_path)
          .exit_code,
      0);
  std::string der = *ReadFile(der_path);
  der[der.size() - 3] = static_cast<char>(der[der.size() - 3] ^ 0x01);
  ASSERT_TRUE(WriteFileAtomic(der_path, der, 0644));
  ASSERT_EQ(
      RunShell("openssl x509 -inform DER -in " + der_path + " -out " + CaFile("intermediate.pem"))
          .exit_code,
      0);
  auto ca = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kFailedPrecondition);
}

TEST_F(LocalCaTest, ExpiredIntermediateIsRefused) {
  MustCreate();
  clock_.Advance(hours(24 * 1826));
  auto ca = LocalCa::LoadOrCreate(Options(), clock_);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(ca.error().message, HasSubstr("expired"));
}

TEST_F(LocalCaTest, EmptyDirOptionIsInvalidArgument) {
  auto ca = LocalCa::LoadOrCreate(CaOptions{}, clock_);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kInvalidArgument);
}

TEST_F(LocalCaTest, WriteCertAndKeySetsModes) {
  LocalCa ca = MustCreate();
  auto leaf = ca.Issue(NatsLeaf());
  ASSERT_TRUE(leaf);
  const std::string cert_path = dir_.Join("server.pem");
  const std::string key_path = dir_.Join("server.key");
  ASSERT_TRUE(WriteCertAndKey(*leaf, cert_path, key_path));
  EXPECT_EQ(ModeOf(cert_path), 0644u);
  EXPECT_EQ(ModeOf(key_path), 0600u);
  EXPECT_EQ(*ReadFile(cert_path), leaf->chain_pem);
  EXPECT_EQ(*ReadSecretFile(key_path), leaf->key_pem);
  // Replacing keeps the modes.
  auto next = ca.Issue(NatsLeaf());
  ASSERT_TRUE(next);
  ASSERT_TRUE(WriteCertAndKey(*next, cert_path, key_path));
  EXPECT_EQ(ModeOf(key_path), 0600u);
  EXPECT_EQ(*ReadFile(cert_path), next->chain_pem);
}

TEST(InspectCertificateTest, RejectsNonCertificates) {
  for (const std::string pem :
       {"", "hello", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}) {
    auto info = InspectCertificate(pem);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code, Code::kInvalidArgument);
  }
}

// Process test: a real TLS handshake between `openssl s_server` serving an issued chain and
// `openssl s_client` trusting only root.pem, with host name and IP checks. Issued with the
// system clock because the OpenSSL tools check validity against the wall clock.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null_fd = ::open("/dev/null", O_RDONLY);
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(fds[1], STDERR_FILENO);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads output until a whole line containing `needle` has arrived or the deadline passes;
  // returns all output read so far.
  std::string ReadLineWith(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto done = [&] {
      const size_t at = output_.find(needle);
      return at != std::string::npos && output_.find('\n', at) != std::string::npos;
    };
    while (!done()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd pfd{out_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[1024];
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, static_cast<size_t>(n));
    }
    return output_;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
};

TEST(LocalCaProcessTest, TlsHandshakeWithOpenSslServerAndClient) {
  TempDir dir;
  SystemClock clock;
  CaOptions options;
  options.dir = dir.Join("ca");
  auto ca = LocalCa::LoadOrCreate(options, clock);
  ASSERT_TRUE(ca) << ca.error().ToString();
  for (const KeyType type : {KeyType::kEcdsaP256, KeyType::kRsa2048}) {
    LeafOptions leaf_options = NatsLeaf();
    leaf_options.key_type = type;
    auto leaf = ca->Issue(leaf_options);
    ASSERT_TRUE(leaf);
    ASSERT_TRUE(WriteCertAndKey(*leaf, dir.Join("server.pem"), dir.Join("server.key")));

    // -www: answer without reading stdin; the client trusts only the root, so the server must
    // send the intermediate (-cert_chain).
    ChildProcess server({"openssl", "s_server", "-www", "-accept", "127.0.0.1:0", "-naccept", "1",
                         "-cert", dir.Join("server.pem"), "-key", dir.Join("server.key"),
                         "-cert_chain", ca->IntermediatePemPath()});
    const std::string accept = server.ReadLineWith("ACCEPT", std::chrono::seconds(10));
    const size_t at = accept.find("ACCEPT 127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << accept;
    const std::string port = std::to_string(std::atoi(accept.c_str() + at + 17));

    const CommandResult client =
        RunShell("openssl s_client -connect 127.0.0.1:" + port + " -CAfile " + ca->RootPemPath() +
                 " -verify_return_error -verify_hostname nats.localhost -verify_ip 127.0.0.1"
                 " -servername nats.localhost -brief </dev/null");
    EXPECT_EQ(client.exit_code, 0) << client.output;
    EXPECT_THAT(client.output, HasSubstr("Verification: OK"));
    EXPECT_THAT(client.output, HasSubstr("Verified peername: nats.localhost"));
    EXPECT_THAT(client.output, HasSubstr(type == KeyType::kRsa2048 ? "Signature type: RSA"
                                                                   : "Signature type: ECDSA"));
  }
}

}  // namespace
}  // namespace natstack::pki

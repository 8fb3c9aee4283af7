#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "core/file.hpp"
#include "http/client.hpp"
#include "http/server.hpp"

namespace natstack::http {
namespace {

using namespace std::chrono_literals;

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>();
    server_->Get("/hello", [](const Request& req) {
      Response r = Text(200, "hello " + (req.query.count("name") ? req.query.at("name") : "world"));
      r.headers["X-Custom"] = "yes";
      return r;
    });
    server_->Post("/echo", [](const Request& req) {
      Response r = Json(201, req.body);
      r.headers["x-content-type-seen"] =
          req.headers.count("content-type") ? req.headers.at("content-type") : "";
      r.headers["x-auth-seen"] =
          req.headers.count("authorization") ? req.headers.at("authorization") : "";
      return r;
    });
    server_->Get("/big", [](const Request&) { return Text(200, std::string(64 * 1024, 'x')); });
    server_->Get("/static/*", [](const Request& req) { return Text(200, "prefix " + req.path); });
    server_->Get("/static/exact", [](const Request&) { return Text(200, "exact"); });
    server_->Get("/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); });
    server_->Get("/slow", [this](const Request&) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, 10s, [this] { return released_; });
      return Text(200, "late");
    });
    ASSERT_TRUE(server_->Start().has_value());
    ASSERT_NE(server_->BoundPort(), 0);
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    server_->Stop();
  }
  std::string Url(const std::string& path) { return server_->BaseUrl() + path; }

  std::unique_ptr<Server> server_;
  CurlClient client_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST_F(HttpTest, GetReturnsBodyStatusAndLowerCasedHeaders) {
  auto r = client_.Get(Url("/hello?name=nats"));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello nats");
  EXPECT_EQ(r->headers["x-custom"], "yes");
  EXPECT_EQ(r->headers["content-type"], "text/plain; charset=utf-8");
}

TEST_F(HttpTest, PostSendsBodyContentTypeAndHeaders) {
  RequestOptions options;
  options.headers = {{"Authorization", "Bearer abc"}};
  auto r = client_.Post(Url("/echo"), R"({"a":1})", "application/json", options);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"a":1})");
  EXPECT_EQ(r->headers["content-type"], "application/json");
  EXPECT_EQ(r->headers["x-content-type-seen"], "application/json");
  EXPECT_EQ(r->headers["x-auth-seen"], "Bearer abc");

  // A large body (no Expect: 100-continue stall).
  const std::string large(200 * 1024, 'y');
  auto big = client_.Post(Url("/echo"), large, "text/plain");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->body.size(), large.size());
}

TEST_F(HttpTest, StatusesAreResponsesNotErrors) {
  auto missing = client_.Get(Url("/nope"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  auto wrong_method = client_.Post(Url("/hello"), "", "text/plain");
  ASSERT_TRUE(wrong_method.has_value());
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->headers["allow"], "GET");
  auto thrown = client_.Get(Url("/throws"));
  ASSERT_TRUE(thrown.has_value());
  EXPECT_EQ(thrown->status, 500);
}

TEST_F(HttpTest, PrefixRoutesAndExactRoutes) {
  auto exact = client_.Get(Url("/static/exact"));
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(exact->body, "exact");
  auto prefix = client_.Get(Url("/static/app.js"));
  ASSERT_TRUE(prefix.has_value());
  EXPECT_EQ(prefix->body, "prefix /static/app.js");
}

TEST_F(HttpTest, HeadAndCustomMethodsThroughSend) {
  auto head = client_.Send("HEAD", Url("/hello"), "", "");
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  auto del = client_.Send("DELETE", Url("/hello"), "", "");
  ASSERT_TRUE(del.has_value());
  EXPECT_EQ(del->status, 405);
}

TEST_F(HttpTest, TimeoutIsDeadlineExceeded) {
  RequestOptions options;
  options.timeout = 200ms;
  auto r = client_.Get(Url("/slow"), options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kDeadlineExceeded) << r.error().ToString();
}

TEST_F(HttpTest, BodyOverTheCapIsRefused) {
  RequestOptions options;
  options.max_body_bytes = 1024;
  auto r = client_.Get(Url("/big"), options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument) << r.error().ToString();
  options.max_body_bytes = 64 * 1024;
  auto ok = client_.Get(Url("/big"), options);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->body.size(), 64u * 1024);
}

TEST_F(HttpTest, OnlyHttpAndHttpsAreAllowed) {
  auto file = client_.Get("file:///etc/passwd");
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code, Code::kInvalidArgument);
  auto gopher = client_.Get("gopher://127.0.0.1/");
  ASSERT_FALSE(gopher.has_value());
  EXPECT_EQ(gopher.error().code, Code::kInvalidArgument);
}

TEST_F(HttpTest, PortInUseIsAlreadyExists) {
  ServerOptions options;
  options.port = server_->BoundPort();
  Server second(options);
  auto st = second.Start();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kAlreadyExists);
  EXPECT_EQ(st.error().message,
            "127.0.0.1:" + std::to_string(server_->BoundPort()) + " is already in use");
  // The first server still answers.
  auto r = client_.Get(Url("/hello"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST(HttpClientTest, RefusedPortIsUnavailableAndNamesTheUrl) {
  // A bound socket that does not listen: connections to it are refused, and no one else can
  // take the port while the test runs.
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/jwks.json";
  CurlClient client;
  auto r = client.Get(url);
  ::close(sock);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_NE(r.error().message.find(url), std::string::npos) << r.error().message;
}

TEST(HttpClientTest, UrlCredentialsAreNotEchoedInErrors) {
  CurlClient client;
  auto r = client.Get("http://user:secret@127.0.0.1:1/path?token=abc");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find("secret"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("token=abc"), std::string::npos) << r.error().message;
}

TEST(HttpServerTest, StopIsPromptAndIdempotentAndBindOnlyReleasesThePort) {
  Server server;
  ASSERT_TRUE(server.Bind().has_value());
  const uint16_t port = server.BoundPort();
  ASSERT_NE(port, 0);
  server.Stop();
  server.Stop();
  EXPECT_FALSE(server.Start().has_value());
  // The port is free again.
  ServerOptions options;
  options.port = port;
  Server again(options);
  EXPECT_TRUE(again.Start().has_value());
}

// A self-signed certificate for 127.0.0.1, written to a temporary directory.
struct TestCert {
  std::string dir, cert_file, key_file;
};

TestCert MakeSelfSignedCert() {
  TestCert out;
  out.dir =
      std::filesystem::temp_directory_path() / ("natstack-http-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(out.dir);
  out.cert_file = out.dir + "/cert.pem";
  out.key_file = out.dir + "/key.pem";

  EVP_PKEY* key = EVP_EC_gen("prime256v1");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("natstack test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : std::vector<std::pair<int, const char*>>{
           {NID_subject_alt_name, "IP:127.0.0.1"}, {NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(out.cert_file.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(out.key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

TEST(HttpsTest, TrustsOnlyTheGivenCa) {
  const TestCert cert = MakeSelfSignedCert();
  ServerOptions options;
  options.tls_cert_file = cert.cert_file;
  options.tls_key_file = cert.key_file;
  Server server(options);
  server.Get("/healthz", [](const Request&) { return Text(200, "ok"); });
  ASSERT_TRUE(server.Start().has_value());
  EXPECT_EQ(server.BaseUrl().rfind("https://127.0.0.1:", 0), 0u);

  CurlClient client;
  auto untrusted = client.Get(server.BaseUrl() + "/healthz");
  ASSERT_FALSE(untrusted.has_value());
  EXPECT_EQ(untrusted.error().code, Code::kUnavailable);

  RequestOptions trust;
  trust.ca_file = cert.cert_file;
  auto trusted = client.Get(server.BaseUrl() + "/healthz", trust);
  ASSERT_TRUE(trusted.has_value()) << trusted.error().ToString();
  EXPECT_EQ(trusted->body, "ok");
  server.Stop();
  std::filesystem::remove_all(cert.dir);
}

TEST(HttpsTest, BadTlsFilesAreInvalidArgument) {
  ServerOptions options;
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  Server server(options);
  auto st = server.Start();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace natstack::http

#include "http/event_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "http/client.hpp"
#include "http/server.hpp"
#include "testing/helpers.hpp"

namespace natstack::http {
namespace {

using namespace std::chrono_literals;

/// A raw TCP client for what a well-behaved HTTP client never sends.
class Raw {
 public:
  explicit Raw(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  void Send(const std::string& s) { (void)!::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  /// Everything until the server closes (or `limit`); "" when nothing came.
  std::string ReadAll(std::chrono::milliseconds limit = 3s) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int i = 0; i < 10000 && std::chrono::steady_clock::now() < deadline; ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

class EventServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions o = {}) {
    server_ = std::make_unique<Server>(o);
    server_->Get("/healthz", [](const Request&) { return Text(200, "ok\n"); });
    server_->Get("/echo", [](const Request& r) {
      std::string out = r.path + "|";
      for (const auto& [k, v] : r.query) out += k + "=" + v + ";";
      return Text(200, out);
    });
    server_->Post("/body", [](const Request& r) { return Text(200, std::to_string(r.body.size())); });
    server_->Get("/inject", [](const Request&) {
      Response r = Text(200, "x");
      r.headers["x-evil"] = "a\r\nset-cookie: stolen=1";
      r.headers["x-fine"] = "b";
      return r;
    });
    server_->Get("/slow", [this](const Request&) {
      ++slow_started_;
      std::this_thread::sleep_for(500ms);
      return Text(200, "slow\n");
    });
    ASSERT_TRUE(server_->Start());
    port_ = server_->BoundPort();
  }
  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::atomic<int> slow_started_{0};
  CurlClient client_;
};

TEST_F(EventServerTest, IdleAndTricklingClientsDoNotStarveOthers) {
  Start();
  // A hostile review's finding: 8 connections that sent half a request line stalled every
  // endpoint (one handler thread each). Here 200 of them hold sockets, not handlers.
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<Raw>(port_));
    ASSERT_TRUE(idle.back()->connected());
    idle.back()->Send("GET /healthz HTTP/1.1\r\n");
  }
  RequestOptions ro;
  ro.timeout = 1s;
  for (int i = 0; i < 20; ++i) {
    auto r = client_.Get(Url("/healthz"), ro);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(EventServerTest, ARequestMustArriveWholeWithinTheReadTimeout) {
  ServerOptions o;
  o.read_timeout = 1s;
  Start(o);
  Raw slow(port_);
  slow.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finished
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(slow.ReadAll(4s), "");
  EXPECT_TRUE(slow.closed());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
}

TEST_F(EventServerTest, AFloodBeyondTheConnectionCapEvictsTheOldestIdleOne) {
  ServerOptions o;
  o.max_connections = 16;
  Start(o);
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(std::make_unique<Raw>(port_));
  RequestOptions ro;
  ro.timeout = 1s;
  auto r = client_.Get(Url("/healthz"), ro);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(idle.front()->ReadAll(1s).empty());
  EXPECT_TRUE(idle.front()->closed());  // the oldest made room
}

TEST_F(EventServerTest, BadRequestsGetOneClearStatus) {
  Start();
  struct Case {
    std::string request;
    std::string status_line;
  };
  const Case cases[] = {
      {"garbage\r\n\r\n", "HTTP/1.1 400 "},
      {"GET /healthz HTTP/2.0\r\n\r\n", "HTTP/1.1 505 "},
      {"get /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
      {"GET http://x/healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
      {"GET /echo?a=%zz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
      {"GET /echo?a=%00 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
      {"GET /healthz HTTP/1.1\r\n folded: x\r\n\r\n", "HTTP/1.1 400 "},
      {"GET /healthz HTTP/1.1\r\nbad header\r\n\r\n", "HTTP/1.1 400 "},
      {"POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 501 "},
      {"POST /body HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", "HTTP/1.1 413 "},
      {"POST /body HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400 "},
      {"POST /body HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400 "},
      {"GET /healthz HTTP/1.1\r\nExpect: magic\r\n\r\n", "HTTP/1.1 417 "},
      {"GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n", "HTTP/1.1 431 "},
      {"GET /nowhere HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
      {"POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 "},
  };
  for (const auto& c : cases) {
    Raw raw(port_);
    raw.Send(c.request);
    const std::string answer = raw.ReadAll();
    EXPECT_EQ(answer.substr(0, c.status_line.size()), c.status_line)
        << ::testing::PrintToString(c.request.substr(0, 80)) << " -> " << answer.substr(0, 80);
    EXPECT_TRUE(raw.closed());
  }
}

TEST_F(EventServerTest, QueriesBodiesHeadAndHalfClosedClients) {
  Start();
  auto r = client_.Get(Url("/echo?a=1&b=x+y&c=%2F%3D&a=2&flag"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/echo|a=2;b=x y;c=/=;flag=;");
  // A body big enough for libcurl to send Expect: 100-continue.
  auto p = client_.Post(Url("/body"), std::string(100000, 'x'), "text/plain");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->body, "100000");
  // HEAD: the length, no body.
  Raw head(port_);
  head.Send("HEAD /healthz HTTP/1.1\r\n\r\n");
  const std::string h = head.ReadAll();
  EXPECT_NE(h.find("content-length: 3\r\n"), std::string::npos) << h;
  EXPECT_EQ(h.substr(h.size() - 4), "\r\n\r\n") << h;
  // A client that sends its request and closes its side still gets the answer.
  Raw half(port_);
  half.Send("GET /healthz HTTP/1.0\r\n\r\n");
  half.ShutdownWrite();
  EXPECT_NE(half.ReadAll().find("\r\n\r\nok\n"), std::string::npos);
}

TEST_F(EventServerTest, AHeaderValueWithALineBreakIsNeverSent) {
  Start();
  Raw raw(port_);
  raw.Send("GET /inject HTTP/1.1\r\n\r\n");
  const std::string answer = raw.ReadAll();
  EXPECT_EQ(answer.find("stolen"), std::string::npos) << answer;
  EXPECT_NE(answer.find("x-fine: b\r\n"), std::string::npos) << answer;
}

TEST_F(EventServerTest, BusyHandlersAnswer503AtOnce) {
  EventServerOptions o;
  o.host = "127.0.0.1";
  o.handler_threads = 1;
  o.handler_queue = 1;
  std::atomic<int> running{0};
  testing::Gate gate;
  EventServer server(o, [&](const Request&) {
    ++running;
    gate.Wait();
    return Text(200, "done\n");
  });
  ASSERT_TRUE(server.Start());
  Raw first(server.BoundPort()), second(server.BoundPort()), third(server.BoundPort());
  first.Send("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(testing::WaitFor([&] { return running.load() == 1; }));
  second.Send("GET / HTTP/1.1\r\n\r\n");  // queued
  std::this_thread::sleep_for(100ms);
  third.Send("GET / HTTP/1.1\r\n\r\n");  // no room: refused at once
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(third.ReadAll().substr(0, 13), "HTTP/1.1 503 ");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  gate.Open();
  EXPECT_NE(first.ReadAll().find("done"), std::string::npos);
  EXPECT_NE(second.ReadAll().find("done"), std::string::npos);
  server.Stop();
}

TEST_F(EventServerTest, StopWaitsForRunningHandlersAndClosesEverything) {
  Start();
  Raw slow(port_);
  slow.Send("GET /slow HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(testing::WaitFor([&] { return slow_started_.load() == 1; }));
  Raw idle(port_);
  server_->Stop();
  EXPECT_TRUE(idle.ReadAll(1s).empty());
  EXPECT_TRUE(idle.closed());
  EXPECT_FALSE(server_->IsRunning());
  RequestOptions ro;
  ro.timeout = 500ms;
  EXPECT_FALSE(client_.Get(Url("/healthz"), ro));
}

}  // namespace
}  // namespace natstack::http

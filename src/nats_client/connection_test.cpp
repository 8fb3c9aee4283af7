#include "nats_client/connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace natstack::nats_client {
namespace {

using namespace std::chrono_literals;

/// A plain nats-server on 127.0.0.1 and a free port, for the wrapper's own tests.
class NatsServer {
 public:
  NatsServer() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::close(fd);
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/usr/sbin/nats-server", "nats-server", "-a", "127.0.0.1", "-p", port.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !Listening(); ++i) std::this_thread::sleep_for(20ms);
  }
  ~NatsServer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string Url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  bool Listening() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(ConnectionTest, ClosedCallbackHasRunWhenTheDestructorReturns) {
  // nats.c delivers the closed callback on its own thread; the wrapper must not free itself
  // (the callback's closure) before that callback has finished.
  NatsServer server;
  std::atomic<bool> closed{false};
  {
    ConnectOptions o;
    o.servers = {server.Url()};
    o.on_closed = [&closed] {
      std::this_thread::sleep_for(50ms);
      closed = true;
    };
    auto conn = Connection::Connect(std::move(o));
    ASSERT_TRUE(conn) << conn.error().message;
  }
  EXPECT_TRUE(closed);
}

TEST(ConnectionTest, PublishSubscribeAndRequestRoundTrip) {
  NatsServer server;
  ConnectOptions o;
  o.servers = {server.Url()};
  auto conn = Connection::Connect(o);
  ASSERT_TRUE(conn) << conn.error().message;
  Connection* c = conn->get();
  auto echo = c->Subscribe("echo", [c](Message&& m) { (void)c->Respond(m.Reply(), m.Data()); });
  ASSERT_TRUE(echo);
  auto reply = c->Request("echo", "ping", 2s);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->Data(), "ping");
}

TEST(ConnectionTest, RefusedConnectIsUnavailable) {
  ConnectOptions o;
  o.servers = {"nats://127.0.0.1:1"};
  o.timeout = 500ms;
  auto conn = Connection::Connect(o);
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().code, Code::kUnavailable) << conn.error().message;
}

}  // namespace
}  // namespace natstack::nats_client

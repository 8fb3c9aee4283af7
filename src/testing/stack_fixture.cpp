#include "testing/stack_fixture.hpp"

#include "http/client.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "core/file.hpp"

#ifndef NATSTACK_BINARY
#error "NATSTACK_BINARY must name the natstack binary under test"
#endif

namespace natstack::testing {

CommandResult RunNatstack(const std::vector<std::string>& args, std::chrono::seconds timeout,
                          const std::vector<std::string>& env, const std::string& stdin_text) {
  CommandResult result;
  int out[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) return result;
  std::vector<std::string> argv_s = {NATSTACK_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(in[0]);
  if (!stdin_text.empty()) {
    (void)!::write(in[1], stdin_text.data(), stdin_text.size());
  }
  ::close(in[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  const auto deadline = start + timeout;
  for (;;) {
    char buf[4096];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n > 0) {
      result.output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      result.output += "\n[test harness: killed after timeout]";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

bool PortFree(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

int PickFreeLoopbackBlock() {
  std::random_device rd;
  std::mt19937 rng(rd() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> dist(10, 249);
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int b = dist(rng);
    const std::string prefix = "127.0." + std::to_string(b) + ".";
    bool free = true;
    for (int port = 9400; free && port <= 9403; ++port) free = PortFree(prefix + "4", port);
    for (int port : {9390, 9391, 8053}) free = free && PortFree(prefix + "4", port);
    for (int i = 1; free && i <= 3; ++i)
      for (int port : {4222, 6222, 8222, 8443}) free = free && PortFree(prefix + std::to_string(i), port);
    if (free) return b;
  }
  return 10;
}

std::vector<int> ProcessesMentioning(const std::string& needle) {
  std::vector<int> pids;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return pids;
  while (dirent* e = ::readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid()) continue;
    auto cmdline = ReadFile("/proc/" + std::string(e->d_name) + "/cmdline");
    if (!cmdline) continue;
    for (char& c : *cmdline)
      if (c == '\0') c = ' ';
    if (cmdline->find(needle) != std::string::npos) pids.push_back(pid);
  }
  ::closedir(d);
  return pids;
}

Stack::Stack() : state_dir_(dir_.path()), block_(PickFreeLoopbackBlock()) {}
Stack::Stack(const std::string& subdir)
    : state_dir_(dir_.path() + "/" + subdir), block_(PickFreeLoopbackBlock()) {}

Stack::~Stack() { Down(); }

CommandResult Stack::Up(const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {"up",          "--detach",   "--state-dir", state_dir(),
                                   "--addresses", Addresses(), "--idp-listen", IdpListen(),
                                   "--supervisor-listen", SupervisorListen()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return RunNatstack(args, std::chrono::seconds(120));
}

CommandResult Stack::Down() {
  return RunNatstack({"down", "--state-dir", state_dir()}, std::chrono::seconds(90));
}

int Stack::Control(const std::string& part, const std::string& action) const {
  auto token = ReadSecretValue(state_dir() + "/keys/control.token");
  if (!token) return -1;
  http::RequestOptions ro;
  ro.headers = {{"Authorization", "Bearer " + *token}};
  ro.timeout = std::chrono::seconds(15);
  auto r = http::CurlClient().Post(SupervisorUrl() + "/v1/parts/" + part + "/" + action, "",
                                   "application/json", ro);
  return r ? r->status : -1;
}

Result<std::unique_ptr<nats_client::Connection>> Stack::Connect(
    int node, const std::string& token, std::chrono::milliseconds timeout,
    std::function<void(const std::string&)> on_error, const std::string& inbox_prefix) const {
  nats_client::ConnectOptions co;
  co.servers = {ClientUrl(node)};
  co.token = token;
  co.ca_file = CaFile();
  co.allow_reconnect = false;
  co.ignore_discovered_servers = true;  // exactly the node asked for
  co.timeout = timeout;
  co.inbox_prefix = inbox_prefix;
  if (on_error) co.on_error = std::move(on_error);
  return nats_client::Connection::Connect(std::move(co));
}

std::string Stack::NodeHost(int i) const {
  return "127.0." + std::to_string(block_) + "." + std::to_string(i);
}
std::string Stack::ClientUrl(int i) const { return "tls://" + NodeHost(i) + ":4222"; }
std::vector<std::string> Stack::ClientUrls() const { return {ClientUrl(1), ClientUrl(2), ClientUrl(3)}; }
std::string Stack::MonitorUrl(int i) const { return "http://" + NodeHost(i) + ":8222"; }
std::string Stack::CaFile() const { return state_dir() + "/ca/root.pem"; }
std::string Stack::IdpIssuer() const { return "http://" + IdpListen() + "/"; }
std::string Stack::IdpKeyFile() const { return state_dir() + "/keys/idp-signing.pem"; }
std::string Stack::Addresses() const {
  return NodeHost(1) + "," + NodeHost(2) + "," + NodeHost(3);
}
std::string Stack::IdpListen() const { return "127.0." + std::to_string(block_) + ".4:9400"; }
std::string Stack::SupervisorListen() const { return "127.0." + std::to_string(block_) + ".4:9390"; }
std::string Stack::SupervisorUrl() const { return "http://" + SupervisorListen(); }

}  // namespace natstack::testing

#include "cluster/supervisor.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cluster/process.hpp"
#include "cluster/stack.hpp"
#include "core/clock.hpp"
#include "core/file.hpp"
#include "http/client.hpp"
#include "idp/dev_issuer.hpp"
#include "nats_client/connection.hpp"

namespace natstack::cluster {
namespace {

using Steady = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(50);

/// Prints "[  1.23s] message" lines, measured from construction.
class Progress {
 public:
  Progress() : start_(Steady::now()) {}
  void Step(const std::string& message) const {
    std::printf("[%6.2fs] %s\n", Seconds(), message.c_str());
    std::fflush(stdout);
  }
  double Seconds() const {
    return std::chrono::duration<double>(Steady::now() - start_).count();
  }

 private:
  Steady::time_point start_;
};

/// A started part of the stack: name, process, log.
struct Part {
  std::string name;
  std::string log;
  ChildProcess process;
  bool reported_exit = false;
};

/// An interrupting signal that arrived (without waiting), or 0.
int PendingSignal(std::chrono::milliseconds wait) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  timespec ts{};
  ts.tv_sec = wait.count() / 1000;
  ts.tv_nsec = (wait.count() % 1000) * 1000000L;
  const int sig = ::sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

/// The state directory's lock, held for the supervisor's lifetime.
class StateLock {
 public:
  static Result<StateLock> Acquire(const StatePaths& paths) {
    const int fd = ::open(paths.Lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      return Fail(Code::kPermissionDenied, "cannot open " + paths.Lock() + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      long pid = 0;
      auto text = ReadFile(paths.Pid());
      if (text) pid = std::atol(text->c_str());
      return Fail(Code::kAlreadyExists,
                  "natstack is already running for " + paths.dir() +
                      (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string()) +
                      ": stop it with `natstack down --state-dir " + paths.dir() +
                      "` or use another --state-dir");
    }
    return StateLock(fd);
  }
  StateLock(StateLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  StateLock& operator=(StateLock&&) = delete;
  StateLock(const StateLock&) = delete;
  ~StateLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_;
};

class Supervisor {
 public:
  explicit Supervisor(const UpOptions& options)
      : options_(options), layout_(options.layout), paths_(layout_.state_dir) {}

  int Run();

 private:
  Status Start();
  Status StartPart(const std::string& name, std::vector<std::string> argv,
                   bool ready_pipe = false);
  Status WaitReady(const std::string& name, Steady::time_point deadline);
  Status CheckParts();
  Status WaitHealthy(const std::string& what, const std::string& url, Steady::time_point deadline);
  Status WaitRoutes(Steady::time_point deadline);
  Status WaitAdmitted(Steady::time_point deadline);
  void PrintReady() const;
  void Watch();
  void StopAll();
  Status Interrupted() {
    if (const int sig = PendingSignal(std::chrono::milliseconds(0)); sig != 0) {
      interrupted_ = true;
      return Fail(Code::kFailedPrecondition, std::string("interrupted by ") + strsignal(sig));
    }
    return Ok();
  }

  const UpOptions& options_;
  StackLayout layout_;
  StatePaths paths_;
  Progress progress_;
  SystemClock clock_;
  http::CurlClient http_;
  std::vector<std::unique_ptr<Part>> parts_;
  bool interrupted_ = false;
};

Status Supervisor::StartPart(const std::string& name, std::vector<std::string> argv,
                             bool ready_pipe) {
  SpawnOptions so;
  so.ready_pipe = ready_pipe;
  // One log per run (the previous one kept as .1), so a failure's tail is this run's.
  const std::string log = paths_.Log(name);
  if (FileExists(log)) ::rename(log.c_str(), (log + ".1").c_str());
  so.argv = std::move(argv);
  so.log_file = paths_.Log(name);
  so.working_dir = paths_.dir();
  auto child = ChildProcess::Spawn(so);
  if (!child) return Fail(child.error().Wrap("starting " + name));
  parts_.push_back(std::make_unique<Part>(Part{name, so.log_file, std::move(*child)}));
  return Ok();
}

Status Supervisor::WaitReady(const std::string& name, Steady::time_point deadline) {
  for (auto& p : parts_) {
    if (p->name != name) continue;
    while (Steady::now() < deadline) {
      NATSTACK_TRY(Interrupted());
      if (p->process.WaitReady(std::chrono::milliseconds(100))) return Ok();
      NATSTACK_TRY(CheckParts());
    }
    return Fail(Code::kDeadlineExceeded, name + " did not report ready (see " + p->log + ")");
  }
  return Fail(Code::kInternal, "no part named " + name);
}

Status Supervisor::CheckParts() {
  for (auto& p : parts_) {
    if (auto exit = p->process.ExitDescription(); exit) {
      std::string tail = TailOfFile(p->log, 3);
      return Fail(Code::kFailedPrecondition, p->name + " " + *exit + " (log " + p->log + ")" +
                                                 (tail.empty() ? "" : ":\n" + tail));
    }
  }
  return Ok();
}

Status Supervisor::WaitHealthy(const std::string& what, const std::string& url,
                               Steady::time_point deadline) {
  http::RequestOptions ro;
  ro.timeout = std::chrono::milliseconds(500);
  std::string last = "no answer";
  while (Steady::now() < deadline) {
    NATSTACK_TRY(Interrupted());
    NATSTACK_TRY(CheckParts());
    auto r = http_.Get(url, ro);
    if (r && r->status == 200) return Ok();
    last = r ? "HTTP " + std::to_string(r->status) : r.error().message;
    std::this_thread::sleep_for(kPoll);
  }
  return Fail(Code::kDeadlineExceeded, what + " did not become healthy at " + url + ": " + last);
}

// /healthz stays OK while a route pair is missing (field notes), so the mesh is checked on
// /routez: every node must have a route to every other node, by name.
Status Supervisor::WaitRoutes(Steady::time_point deadline) {
  http::RequestOptions ro;
  ro.timeout = std::chrono::milliseconds(500);
  for (const auto& n : layout_.nodes) {
    const std::string url =
        "http://" + n.host + ":" + std::to_string(n.monitor_port) + "/routez";
    std::string missing;
    for (;;) {
      NATSTACK_TRY(Interrupted());
      NATSTACK_TRY(CheckParts());
      missing.clear();
      auto r = http_.Get(url, ro);
      const auto doc = r && r->status == 200 ? nlohmann::json::parse(r->body, nullptr, false)
                                             : nlohmann::json();
      std::set<std::string> peers;
      if (doc.is_object() && doc.contains("routes") && doc["routes"].is_array()) {
        for (const auto& route : doc["routes"])
          if (route.is_object() && route.contains("remote_name") && route["remote_name"].is_string())
            peers.insert(route["remote_name"].get<std::string>());
      }
      for (const auto& other : layout_.nodes)
        if (other.name != n.name && peers.count(other.name) == 0)
          missing += (missing.empty() ? "" : ", ") + other.name;
      if (missing.empty()) break;
      if (Steady::now() >= deadline)
        return Fail(Code::kDeadlineExceeded,
                    n.name + " has no route to " + missing + " (see " + paths_.Log(n.name) + ")");
      std::this_thread::sleep_for(kPoll);
    }
  }
  return Ok();
}

Status Supervisor::WaitAdmitted(Steady::time_point deadline) {
  auto issuer =
      idp::DevIssuer::LoadOrCreate(paths_.IdpKey(), IdpIssuerUrl(layout_), layout_.audience);
  if (!issuer) return Fail(issuer.error());
  for (const auto& url : ClientUrls(layout_)) {
    std::string last;
    for (;;) {
      NATSTACK_TRY(Interrupted());
      NATSTACK_TRY(CheckParts());
      if (Steady::now() >= deadline)
        return Fail(Code::kDeadlineExceeded, "a probe client was not admitted through " + url +
                                                 ": " + last + " (see " + paths_.Log(CalloutPartName(1)) +
                                                 ")");
      nats_client::ConnectOptions co;
      co.servers = {url};
      co.name = "natstack-probe";
      co.token = issuer->Mint("natstack-probe", std::chrono::seconds(60), clock_);
      co.ca_file = paths_.RootCa();
      co.allow_reconnect = false;
      co.ignore_discovered_servers = true;  // this node, not one it gossips about
      co.timeout = std::chrono::seconds(4);
      auto conn = nats_client::Connection::Connect(std::move(co));
      if (conn) break;
      last = conn.error().message;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return Ok();
}

Status Supervisor::Start() {
  NATSTACK_ASSIGN_OR_RETURN(std::string nats_server, FindNatsServer());
  for (const auto& n : layout_.nodes) {
    NATSTACK_TRY(CheckPortFree(n.host, n.client_port, n.name + " client port"));
    NATSTACK_TRY(CheckPortFree(n.host, n.cluster_port, n.name + " cluster port"));
    NATSTACK_TRY(CheckPortFree(n.host, n.monitor_port, n.name + " monitoring port"));
    NATSTACK_TRY(CheckPortFree(n.host, n.websocket_port, n.name + " websocket port"));
  }
  NATSTACK_TRY(CheckPortFree(layout_.idp_host, layout_.idp_port, "IdP port", "--idp-listen"));
  for (int i = 1; i <= layout_.callout_replicas; ++i) {
    NATSTACK_TRY(CheckPortFree(layout_.idp_host, layout_.idp_port + i,
                               CalloutPartName(i) + " metrics port (the IdP port + " +
                                   std::to_string(i) + ")",
                               "--idp-listen"));
  }
  for (const auto& n : layout_.nodes)
    for (int port : {n.client_port, n.cluster_port, n.monitor_port, n.websocket_port})
      if (n.host == layout_.idp_host && port == layout_.idp_port)
        return Fail(Code::kInvalidArgument, "--idp-listen " + n.host + ":" + std::to_string(port) +
                                                " is also a port of node " + n.name);

  auto prepared = PrepareStack(layout_, clock_, [this](const std::string& what) {
    progress_.Step(what + " ready");
  });
  if (!prepared) return Fail(prepared.error());
  NATSTACK_TRY(Interrupted());

  const auto deadline = Steady::now() + options_.ready_timeout;
  NATSTACK_TRY(StartPart("idp", {options_.self_exe, "idp", "serve", "--state-dir", paths_.dir()}));
  for (const auto& n : layout_.nodes)
    NATSTACK_TRY(StartPart(n.name, {nats_server, "-c", paths_.NodeConfig(n.name)}));
  progress_.Step("started idp and " + std::to_string(layout_.nodes.size()) + " nodes (" +
                 nats_server + ")");
  NATSTACK_TRY(WaitHealthy("idp", IdpIssuerUrl(layout_) + "healthz", deadline));
  for (const auto& n : layout_.nodes) {
    NATSTACK_TRY(WaitHealthy(n.name, "http://" + n.host + ":" + std::to_string(n.monitor_port) +
                                         "/healthz?js-enabled-only=true",
                             deadline));
  }
  progress_.Step("idp and nodes healthy");
  NATSTACK_TRY(WaitRoutes(deadline));
  progress_.Step("routes form a full mesh");
  if (layout_.callout_replicas == 0) {
    progress_.Step("no callout replicas (--callout-replicas 0): clients are admitted once you "
                   "run `natstack callout serve`");
    return Ok();
  }
  // Replicas start together; each connects to a different node first.
  for (int i = 1; i <= layout_.callout_replicas; ++i) {
    NATSTACK_TRY(StartPart(CalloutPartName(i),
                           {options_.self_exe, "callout", "serve", "--config",
                            paths_.CalloutConfig(i)},
                           /*ready_pipe=*/true));
  }
  for (int i = 1; i <= layout_.callout_replicas; ++i)
    NATSTACK_TRY(WaitReady(CalloutPartName(i), deadline));
  progress_.Step(std::to_string(layout_.callout_replicas) + " callout replica(s) subscribed");
  NATSTACK_TRY(WaitAdmitted(deadline));
  progress_.Step("callout admitted a probe client through every node");
  return Ok();
}

/// `text` as one shell word (single-quoted when it needs quoting).
std::string ShellQuote(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-./:=@%+,") == std::string::npos)
    return text;
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void Supervisor::PrintReady() const {
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "  ") + x;
    return s;
  };
  const std::string sd =
      options_.default_state_dir ? "" : " --state-dir " + ShellQuote(paths_.dir());
  const std::string exe = ShellQuote(options_.display_exe);
  std::string callouts;
  for (int i = 1; i <= layout_.callout_replicas; ++i)
    callouts += (i == 1 ? "" : "  ") + ("http://" + CalloutHttpListen(layout_, i) + "/metrics");
  if (callouts.empty()) callouts = "none started (--callout-replicas 0)";
  std::printf(
      "\nnatstack is ready in %.2fs: %zu nodes, auth callout, development IdP\n"
      "  clients     %s\n"
      "  websocket   %s\n"
      "  monitoring  %s\n"
      "  CA          %s\n"
      "  IdP         %s (audience \"%s\")\n"
      "  callout     %s\n"
      "  logs        %s\n"
      "\n"
      "  Try it (user alice may use user.alice.> and nothing else):\n"
      "    %s token alice | %s client%s --token-file - sub 'user.alice.>' &\n"
      "    %s token alice | %s client%s --token-file - pub user.alice.hello 'hello'\n"
      "\n"
      "  Stop with %s.\n",
      progress_.Seconds(), layout_.nodes.size(), join(ClientUrls(layout_)).c_str(),
      join(WebSocketUrls(layout_)).c_str(), join(MonitoringUrls(layout_)).c_str(),
      paths_.RootCa().c_str(), IdpIssuerUrl(layout_).c_str(), layout_.audience.c_str(),
      callouts.c_str(),
      paths_.LogsDir().c_str(), (exe + sd).c_str(), exe.c_str(), sd.c_str(), (exe + sd).c_str(),
      exe.c_str(), sd.c_str(),
      options_.detached ? ("`" + exe + " down" + sd + "`").c_str()
                        : ("Ctrl-C (or `" + exe + " down" + sd + "`)").c_str());
  std::fflush(stdout);
}

void Supervisor::Watch() {
  for (;;) {
    const int sig = PendingSignal(std::chrono::milliseconds(250));
    if (sig != 0) {
      progress_.Step(std::string("received ") + strsignal(sig) + ", stopping");
      return;
    }
    for (auto& p : parts_) {
      if (p->reported_exit) continue;
      if (auto exit = p->process.ExitDescription(); exit) {
        p->reported_exit = true;
        progress_.Step("warning: " + p->name + " " + *exit + " (log " + p->log + ")");
      }
    }
  }
}

void Supervisor::StopAll() {
  // In reverse start order: the callout drains its requests while the nodes still run; then
  // the nodes, together.
  auto is_node = [this](const Part& p) {
    for (const auto& n : layout_.nodes)
      if (n.name == p.name) return true;
    return false;
  };
  for (auto it = parts_.rbegin(); it != parts_.rend(); ++it)
    if (!is_node(**it)) (*it)->process.Stop(std::chrono::seconds(5));
  for (auto& p : parts_) p->process.Signal(SIGTERM);
  for (auto& p : parts_) p->process.Stop(std::chrono::seconds(10));
  parts_.clear();
}

int Supervisor::Run() {
  if (auto made = MakeDirs(paths_.dir(), 0700); !made) {
    std::fprintf(stderr, "natstack up: %s\n", made.error().message.c_str());
    return 1;
  }
  if (struct stat st {}; ::stat(paths_.dir().c_str(), &st) == 0 && (st.st_mode & 022) != 0) {
    std::fprintf(stderr,
                 "natstack up: %s is writable by other users, who could replace its configs: "
                 "run chmod 700 %s\n",
                 paths_.dir().c_str(), paths_.dir().c_str());
    return 2;
  }
  auto lock = StateLock::Acquire(paths_);
  if (!lock) {
    std::fprintf(stderr, "natstack up: %s\n", lock.error().message.c_str());
    return 1;
  }
  progress_.Step("state directory " + paths_.dir());
  auto started = Start();
  if (!started) {
    StopAll();
    if (interrupted_) {
      progress_.Step("interrupted; everything started was stopped");
      return 130;
    }
    std::fprintf(stderr, "natstack up: %s\n", started.error().message.c_str());
    std::fprintf(stderr, "natstack up: nothing is left running; logs are in %s\n",
                 paths_.LogsDir().c_str());
    return 1;
  }
  (void)WriteFileAtomic(paths_.Pid(), std::to_string(::getpid()) + "\n", 0644);
  PrintReady();
  if (options_.on_ready) options_.on_ready();
  Watch();
  StopAll();
  ::unlink(paths_.Pid().c_str());
  progress_.Step("stopped");
  return 0;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int RunUp(const UpOptions& options) {
  Supervisor supervisor(options);
  return supervisor.Run();
}

bool IsStackRunning(const std::string& state_dir, long* pid) {
  const StatePaths paths(state_dir);
  const int fd = ::open(paths.Lock().c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  if (locked && pid != nullptr) {
    auto text = ReadFile(paths.Pid());
    *pid = text ? std::atol(text->c_str()) : 0;
  }
  return locked;
}

int RunDown(const std::string& state_dir, std::chrono::seconds timeout) {
  long pid = 0;
  if (!IsStackRunning(state_dir, &pid)) {
    std::printf("natstack is not running for %s\n", state_dir.c_str());
    return 0;
  }
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), SIGTERM) != 0) {
    std::fprintf(stderr, "natstack down: a supervisor holds %s but its pid is unknown\n",
                 StatePaths(state_dir).Lock().c_str());
    return 1;
  }
  const auto deadline = Steady::now() + timeout;
  while (Steady::now() < deadline) {
    if (!IsStackRunning(state_dir, nullptr)) {
      std::printf("natstack stopped (pid %ld)\n", pid);
      return 0;
    }
    std::this_thread::sleep_for(kPoll);
  }
  std::fprintf(stderr, "natstack down: pid %ld did not stop within %llds\n", pid,
               static_cast<long long>(timeout.count()));
  return 1;
}

Status CheckPortFree(const std::string& host, int port, const std::string& what,
                     const std::string& flag) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return Fail(Code::kInvalidArgument, what + ": '" + host + "' is not an IPv4 address");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Code::kInternal, "socket failed");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as the servers bind
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc == 0) return Ok();
  const std::string where = host + ":" + std::to_string(port);
  if (err == EADDRINUSE)
    return Fail(Code::kAlreadyExists,
                what + " " + where +
                    " is already in use: stop what listens there (`ss -ltnp 'sport = :" +
                    std::to_string(port) + "'` shows it) or choose another " + flag);
  return Fail(Code::kFailedPrecondition,
              what + " " + where + " cannot be bound: " + std::strerror(err));
}

Result<std::string> FindNatsServer() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("NATSTACK_NATS_SERVER"); env != nullptr && *env != '\0') {
    candidates.push_back(env);  // an explicit choice: no fallback to another binary
  } else if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string p(path);
    size_t start = 0;
    while (start <= p.size()) {
      const size_t colon = p.find(':', start);
      std::string dir = p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!dir.empty()) candidates.push_back(dir + "/nats-server");
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  if (candidates.empty() || std::getenv("NATSTACK_NATS_SERVER") == nullptr)
    candidates.push_back("/usr/sbin/nats-server");
  std::string found;
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) {
      found = c;
      break;
    }
  }
  if (found.empty() && std::getenv("NATSTACK_NATS_SERVER") != nullptr)
    return Fail(Code::kNotFound, std::string("$NATSTACK_NATS_SERVER names ") +
                                     std::getenv("NATSTACK_NATS_SERVER") +
                                     ", which is not an executable file");
  if (found.empty())
    return Fail(Code::kNotFound,
                "nats-server is not installed: run scripts/setup.sh (or make up), which installs "
                "nats-server 2.10 from Debian 13's package");
  auto out = RunAndCapture({found, "--version"}, std::chrono::seconds(10));
  if (!out) return Fail(out.error().Wrap("checking the nats-server version"));
  // "nats-server: v2.10.27"
  int major = 0, minor = 0, patch = 0;
  size_t v = out->find('v');
  while (v != std::string::npos && (v + 1 >= out->size() || !std::isdigit(static_cast<unsigned char>((*out)[v + 1]))))
    v = out->find('v', v + 1);
  if (v == std::string::npos ||
      std::sscanf(out->c_str() + v + 1, "%d.%d.%d", &major, &minor, &patch) < 2)
    return Fail(Code::kFailedPrecondition,
                "cannot read the version of " + found + " from: " + *out);
  const bool new_enough = major > 2 || (major == 2 && (minor > 10 || (minor == 10 && patch >= 11)));
  if (!new_enough)
    return Fail(Code::kFailedPrecondition,
                found + " is version " + std::to_string(major) + "." + std::to_string(minor) +
                    "." + std::to_string(patch) +
                    ", but natstack needs nats-server >= 2.10.11 (auth callout): run "
                    "scripts/setup.sh, which installs 2.10 from Debian 13's package");
  return found;
}

}  // namespace natstack::cluster

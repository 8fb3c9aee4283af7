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
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include <openssl/crypto.h>

#include "cluster/process.hpp"
#include "cluster/status.hpp"
#include "cluster/supervision.hpp"
#include "dns/events.hpp"
#include "dns/knot.hpp"
#include "dns/provider.hpp"
#include "core/base64.hpp"
#include "crypto/random.hpp"
#include "http/server.hpp"
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
/// A node in lame duck waits its grace period (lame_duck_grace_period, rendered 2 s), then
/// closes its clients at most one a second across lame_duck_duration (30 s, nats-server's
/// minimum); it is killed only past that.
constexpr auto kNodeStopGrace = std::chrono::seconds(40);

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

/// Health checks: over HTTP a 200 answer within a second is healthy; "dns://HOST:PORT/ZONE"
/// asks a DNS server for the zone's SOA (Knot is ready once it serves the zone).
class HttpHealthProbe final : public HealthProbe {
 public:
  explicit HttpHealthProbe(http::Client& http) : http_(http) {}
  Status Check(const std::string& url) override {
    if (url.rfind("dns://", 0) == 0) {
      const std::string rest = url.substr(6);
      const size_t colon = rest.rfind(':', rest.find('/'));
      const size_t slash = rest.find('/');
      if (colon == std::string::npos || slash == std::string::npos || slash < colon)
        return Fail(Code::kInvalidArgument, "bad DNS health URL " + url);
      auto serial = dns::QueryZoneSerial(rest.substr(0, colon),
                                         static_cast<uint16_t>(std::stoi(rest.substr(colon + 1, slash - colon - 1))),
                                         rest.substr(slash + 1), std::chrono::seconds(1));
      if (!serial) return Fail(Code::kUnavailable, serial.error().message);
      return Ok();
    }
    http::RequestOptions ro;
    ro.timeout = std::chrono::seconds(1);
    auto r = http_.Get(url, ro);
    if (!r) return Fail(Code::kUnavailable, r.error().message);
    if (r->status != 200) return Fail(Code::kUnavailable, "HTTP " + std::to_string(r->status));
    return Ok();
  }

 private:
  http::Client& http_;
};

/// A change asked for through the control endpoint, carried out by the main loop.
struct Command {
  std::string action;  ///< "start", "stop", "restart"
  std::string part;
  std::promise<Status> done;
};

/// Callout admissions over time, sampled by the main loop (for the admission rate).
struct CalloutSample {
  Steady::time_point at;
  CalloutCounts counts;
};

class Supervisor {
 public:
  explicit Supervisor(const UpOptions& options)
      : options_(options),
        layout_(options.layout),
        paths_(layout_.state_dir),
        probe_(http_),
        supervision_(runner_, probe_, clock_, Policy(options),
                     [this](const PartEvent& e) { OnEvent(e); }) {}

  int Run();

 private:
  static SupervisionPolicy Policy(const UpOptions& options) {
    SupervisionPolicy policy;
    policy.start_timeout = options.ready_timeout;
    return policy;
  }
  Status Start();
  Status AddParts(const std::string& nats_server);
  Status Launch(const std::vector<std::string>& names);
  Status WaitParts(const std::vector<std::string>& names, Steady::time_point deadline);
  Status Round();
  Status WaitRoutes(Steady::time_point deadline);
  Status WaitAdmitted(Steady::time_point deadline);
  Status StartControl();
  void PrintReady() const;
  void Watch();
  void StopAll();
  void OnEvent(const PartEvent& e);
  void Publish();
  void RunCommands();
  void SampleCallouts();
  http::Response HandleStatus();
  nlohmann::json DnsStatus(const nlohmann::json& nodes, const nlohmann::json& sidecar,
                           const nlohmann::json& knot);
  http::Response HandleCommand(const http::Request& request);
  std::vector<std::string> NodeNames() const {
    std::vector<std::string> out;
    for (const auto& n : layout_.nodes) out.push_back(n.name);
    return out;
  }
  std::vector<std::string> CalloutNames() const {
    std::vector<std::string> out;
    for (int i = 1; i <= layout_.callout_replicas; ++i) out.push_back(CalloutPartName(i));
    return out;
  }
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
  ChildProcessRunner runner_;
  HttpHealthProbe probe_;
  Supervision supervision_;
  bool interrupted_ = false;
  std::string control_token_;
  std::unique_ptr<http::Server> control_;
  Steady::time_point next_sample_{};
  const Steady::time_point started_ = Steady::now();

  // Shared with the control endpoint's threads.
  std::mutex mu_;
  nlohmann::json parts_json_ = nlohmann::json::array();
  nlohmann::json events_json_ = nlohmann::json::array();
  std::string phase_ = "starting";
  std::deque<std::shared_ptr<Command>> commands_;
  std::map<std::string, std::deque<CalloutSample>> callout_samples_;

  // The route seed (main loop only): the node addresses that should stand under the route
  // name, synced to Knot when they change and checked every 10 s.
  Result<std::unique_ptr<dns::Provider>> ZoneProvider(const std::string& zone) const;
  void SeedSet(const std::string& node, bool registered);
  void SyncSeed(bool force = false);
  std::set<std::string> seed_want_;
  bool seed_dirty_ = false;
  bool seed_started_ = false;  // Knot serves the zone: the seed is kept from then on
  Steady::time_point seed_next_{};
  std::string seed_last_error_;
  std::unique_ptr<dns::Provider> seed_provider_;
  /// The seed as Knot last answered it (nullopt before the first answer).
  std::optional<std::set<std::string>> seed_served_;

  // The routes each node dials when it starts, rendered from the seed as Knot answers it
  // (main loop only): one route per registered peer in nodes/NAME.routes.conf. A running node
  // is not reloaded (see SyncRoutes).
  bool SeedHas(const std::string& node) const;
  void SyncRoutes();
  RenderInput routes_input_;  ///< the nodes, the route user and password

  /// Tells the DNS sidecar at once when a node goes down (docs/dns.md, "Process events");
  /// null without DNS and from the start of StopAll.
  std::unique_ptr<dns::EventNotifier> dns_events_;
  std::map<std::string, std::string> routes_text_;  ///< node -> routes file as written
  /// The members every routes file was last written from (nullopt: not yet, or a write failed).
  std::optional<std::set<std::string>> routes_members_;
  nlohmann::json routes_json_ = nlohmann::json::object();  ///< node -> peers; under mu_
};

void Supervisor::OnEvent(const PartEvent& e) {
  progress_.Step((e.warning ? "warning: " : "") + e.part + ": " + e.message);
  if (!e.down || !dns_events_) return;
  for (const auto& n : layout_.nodes) {
    if (n.name != e.part) continue;
    const auto st = supervision_.StatusOf(e.part);
    const bool stopping = st && st->state == PartState::kStopping;
    dns_events_->Post({.node = e.part,
                       .kind = stopping ? dns::ProcessEventKind::kStopping
                                        : dns::ProcessEventKind::kExited,
                       .at = e.at,
                       .detail = e.message});
  }
}

Status Supervisor::AddParts(const std::string& nats_server) {
  auto part = [this](const std::string& name, const std::string& kind,
                     std::vector<std::string> argv, const std::string& health, bool ready_pipe) {
    PartSpec spec;
    spec.name = name;
    spec.kind = kind;
    // One log per run (the previous one kept as .1), so a failure's tail is this run's;
    // restarts within the run append to it.
    const std::string log = paths_.Log(name);
    if (FileExists(log)) ::rename(log.c_str(), (log + ".1").c_str());
    spec.spawn.argv = std::move(argv);
    spec.spawn.log_file = log;
    spec.spawn.working_dir = paths_.dir();
    spec.spawn.ready_pipe = ready_pipe;
    spec.health_url = health;
    return spec;
  };
  NATSTACK_TRY(supervision_.Add(part("idp", "idp",
                                     {options_.self_exe, "idp", "serve", "--state-dir", paths_.dir()},
                                     IdpIssuerUrl(layout_) + "healthz", false)));
  for (const auto& n : layout_.nodes) {
    PartSpec spec = part(n.name, "node", {nats_server, "-c", paths_.NodeConfig(n.name)},
                         "http://" + n.host + ":" + std::to_string(n.monitor_port) +
                             "/healthz?js-enabled-only=true",
                         false);
    // Lame duck: the node stops taking clients, tells them to move, then closes the rest
    // (grace period, then at most one client a second); SIGKILL only past that.
    spec.stop_signal = SIGUSR2;
    spec.stop_grace = kNodeStopGrace;
    NATSTACK_TRY(supervision_.Add(std::move(spec)));
  }
  if (layout_.dns_enabled) {
    NATSTACK_ASSIGN_OR_RETURN(std::string knotd, dns::FindKnotd());
    PartSpec knot = part("dns", "dns", dns::KnotdArgv(knotd, dns::LayoutFor(paths_.DnsDir()).config),
                         "dns://" + DnsHost(layout_) + ":" + std::to_string(layout_.dns_port) + "/" +
                             layout_.dns_public_zone + ".",
                         false);
    knot.stop_grace = std::chrono::seconds(5);
    NATSTACK_TRY(supervision_.Add(std::move(knot)));
    PartSpec sidecar = part("dns-sidecar", "dns-sidecar",
                            {options_.self_exe, "dns", "serve", "--config", paths_.DnsSidecarConfig()},
                            "http://" + DnsSidecarListen(layout_) + "/healthz", true);
    sidecar.stop_grace = std::chrono::seconds(5);
    sidecar.after = {"dns"};
    NATSTACK_TRY(supervision_.Add(std::move(sidecar)));
  }
  for (int i = 1; i <= layout_.callout_replicas; ++i) {
    PartSpec spec = part(CalloutPartName(i), "callout",
                         {options_.self_exe, "callout", "serve", "--config", paths_.CalloutConfig(i)},
                         "http://" + CalloutHttpListen(layout_, i) + "/healthz", true);
    spec.stop_grace = std::chrono::seconds(5);
    spec.after = {"idp"};  // it cannot start without the IdP's keys
    NATSTACK_TRY(supervision_.Add(std::move(spec)));
  }
  return Ok();
}

Status Supervisor::Launch(const std::vector<std::string>& names) {
  for (const auto& name : names) NATSTACK_TRY(supervision_.Launch(name));
  return Ok();
}

/// One round of the main loop: the parts, the control endpoint's commands, its snapshot.
Status Supervisor::Round() {
  auto ticked = supervision_.Tick();
  RunCommands();
  SyncSeed();
  SyncRoutes();
  Publish();
  return ticked;
}

Result<std::unique_ptr<dns::Provider>> Supervisor::ZoneProvider(const std::string& zone) const {
  NATSTACK_ASSIGN_OR_RETURN(dns::TsigKey key,
                            dns::ReadTsigKeyFile(dns::LayoutFor(paths_.DnsDir()).key_file));
  dns::Rfc2136Options o;
  o.server = DnsHost(layout_);
  o.port = static_cast<uint16_t>(layout_.dns_port);
  o.zone = zone + ".";
  o.tsig = key;
  o.timeout = std::chrono::seconds(1);
  NATSTACK_ASSIGN_OR_RETURN(auto provider, dns::Rfc2136Provider::Create(o));
  return std::unique_ptr<dns::Provider>(std::move(provider));
}

void Supervisor::SeedSet(const std::string& node, bool registered) {
  if (!layout_.dns_enabled) return;
  for (const auto& n : layout_.nodes) {
    if (n.name != node) continue;
    const bool changed = registered ? seed_want_.insert(n.host).second : seed_want_.erase(n.host) > 0;
    seed_dirty_ = seed_dirty_ || changed;
  }
}

bool Supervisor::SeedHas(const std::string& node) const {
  for (const auto& n : layout_.nodes)
    if (n.name == node) return seed_want_.count(n.host) != 0;
  return false;
}

void Supervisor::SyncSeed(bool force) {
  if (!layout_.dns_enabled || !seed_started_) return;
  const auto now = Steady::now();
  if (!force && !seed_dirty_ && now < seed_next_) return;
  if (!force && seed_dirty_ && now < seed_next_ && !seed_last_error_.empty()) return;  // backoff
  auto fail = [&](const std::string& why) {
    if (why != seed_last_error_)
      progress_.Step("warning: route seed " + layout_.dns_route_name + ": " + why + " (retrying)");
    seed_last_error_ = why;
    seed_next_ = now + std::chrono::seconds(1);
  };
  if (!seed_provider_) {
    auto provider = ZoneProvider(layout_.dns_private_zone);
    if (!provider) return fail(provider.error().message);
    seed_provider_ = std::move(*provider);
  }
  const std::string name = layout_.dns_route_name + ".";
  auto served = seed_provider_->Read(name, dns::RecordType::kA);
  if (!served) return fail(served.error().message);
  const std::set<std::string> now_served =
      *served ? std::set<std::string>((**served).values.begin(), (**served).values.end())
              : std::set<std::string>();
  if (now_served != seed_want_) {
    auto written = seed_want_.empty()
                       ? seed_provider_->Delete(name, dns::RecordType::kA)
                       : seed_provider_->Replace({name, dns::RecordType::kA,
                                                  static_cast<uint32_t>(layout_.dns_ttl),
                                                  {seed_want_.begin(), seed_want_.end()}});
    if (!written) return fail(written.error().message);
    auto text = [](const std::set<std::string>& set) {
      std::string t;
      for (const auto& a : set) t += (t.empty() ? "" : " ") + a;
      return "{" + t + "}";
    };
    // The old set too: a change nobody asked for (an edit by hand) shows what it undid.
    progress_.Step("route seed " + layout_.dns_route_name + " = " + text(seed_want_) + " (was " +
                   text(now_served) + ")");
    // What the nodes route by is the name as the server answers it, not what was sent.
    served = seed_provider_->Read(name, dns::RecordType::kA);
    if (!served) return fail(served.error().message);
  }
  seed_served_ = *served ? std::set<std::string>((**served).values.begin(), (**served).values.end())
                         : std::set<std::string>();
  seed_dirty_ = false;
  seed_last_error_.clear();
  seed_next_ = now + std::chrono::seconds(10);
}

/// Keeps every node's routes file equal to the seed, so that whenever a node starts (first
/// start, `node start`, a restart after a crash) it dials every registered peer; that alone
/// forms the full mesh (each pair needs one side to dial). Running nodes are deliberately not
/// reloaded: a nats-server reload re-checks every client's authorization, and closes every
/// client the callout admitted under a user name (nats-server 2.10 reload.go
/// clientHasMovedToDifferentAccount finds no such configured user), so a reload per
/// membership change would disconnect the clients of every node. A running node keeps dialling
/// a peer that left until it restarts; one that joined needs nothing from it.
void Supervisor::SyncRoutes() {
  if (!seed_served_) return;  // no answer yet: the nodes keep the spec's routes
  // A node draining in lame duck is still a peer until it has exited.
  std::set<std::string> members = *seed_served_;
  for (const auto& n : layout_.nodes)
    if (auto st = supervision_.StatusOf(n.name); st && st->state == PartState::kStopping)
      members.insert(n.host);
  // Called every round: nothing to render while the members stay the same.
  if (members == routes_members_) return;
  bool all_written = true;
  nlohmann::json peers_json = nlohmann::json::object();
  for (const auto& n : layout_.nodes) {
    const SeedRoutes route_peers = RouteSeedPeers(routes_input_, n.name, members);
    std::string names;
    peers_json[n.name] = nlohmann::json::array();
    for (const auto& p : route_peers.peers) {
      names += (names.empty() ? "" : " ") + p.name;
      peers_json[n.name].push_back(p.name);
    }
    auto text = RenderRoutes(routes_input_, n.name, route_peers.peers);
    if (!text) {
      progress_.Step("warning: routes of " + n.name + ": " + text.error().message);
      all_written = false;
      continue;
    }
    const std::string path = paths_.NodesDir() + "/" + RoutesFileName(n.name);
    std::string& last = routes_text_[n.name];
    if (last.empty())
      if (auto current = ReadSecretFile(path); current) last = *current;
    if (*text == last) continue;
    if (auto written = WriteFileAtomic(path, *text, 0600); !written) {
      progress_.Step("warning: routes of " + n.name + ": " + written.error().message);
      all_written = false;
      continue;
    }
    last = *text;
    progress_.Step("routes of " + n.name + " at its next start = {" + names + "} (" +
                   (route_peers.from_seed ? "from the route seed"
                                          : "no peer in the route seed: the spec's") +
                   ")");
  }
  // A failed write is tried again next round.
  routes_members_ = all_written ? std::optional<std::set<std::string>>(std::move(members))
                                : std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  routes_json_ = std::move(peers_json);
}

Status Supervisor::WaitParts(const std::vector<std::string>& names, Steady::time_point deadline) {
  auto next_note = Steady::now() + std::chrono::seconds(3);
  for (;;) {
    NATSTACK_TRY(Interrupted());
    NATSTACK_TRY(Round());
    std::string waiting;
    for (const auto& name : names) {
      if (supervision_.IsReady(name)) continue;
      const auto st = supervision_.StatusOf(name);
      waiting += (waiting.empty() ? "" : ", ") + name +
                 (st && !st->last_check_error.empty() ? " (" + st->last_check_error + ")" : "");
    }
    if (waiting.empty()) return Ok();
    if (Steady::now() >= deadline)
      return Fail(Code::kDeadlineExceeded, "not ready within " +
                                               std::to_string(options_.ready_timeout.count()) +
                                               "s: waiting for " + waiting + " (logs in " +
                                               paths_.LogsDir() + ")");
    if (Steady::now() >= next_note) {
      progress_.Step("waiting for " + waiting);
      next_note += std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(kPoll);
  }
}

// /healthz stays OK while a route pair is missing (field notes), so the mesh is checked on
// /routez: every node must have a route to every other node, by name.
Status Supervisor::WaitRoutes(Steady::time_point deadline) {
  for (const auto& n : layout_.nodes) {
    for (;;) {
      NATSTACK_TRY(Interrupted());
      NATSTACK_TRY(Round());
      auto peers = RoutePeers(http_, n);
      std::string missing;
      for (const auto& other : layout_.nodes)
        if (other.name != n.name && (!peers || peers->count(other.name) == 0))
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
      NATSTACK_TRY(Round());
      if (Steady::now() >= deadline)
        return Fail(Code::kDeadlineExceeded, "a probe client was not admitted through " + url +
                                                 ": " + last + " (see " + paths_.Log(CalloutPartName(1)) +
                                                 ")");
      nats_client::ConnectOptions co;
      co.servers = {url};
      co.name = "natstack-probe";
      co.token = issuer->Mint("natstack-probe", std::chrono::seconds(60), clock_);
      co.ca_file = TrustedCaFile(layout_);
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

Status Supervisor::StartControl() {
  // The token authorizes changes (restart, stop); reading status needs none. Made once per
  // state directory, 0600.
  if (auto token = ReadSecretValue(paths_.ControlToken()); token && !token->empty()) {
    control_token_ = *token;
  } else {
    unsigned char raw[24];
    crypto::RandomBytes(raw, sizeof raw);
    control_token_ = Base64UrlEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
    NATSTACK_TRY(MakeDirs(paths_.KeysDir(), 0700));
    NATSTACK_TRY(WriteFileAtomic(paths_.ControlToken(), control_token_ + "\n", 0600));
  }
  http::ServerOptions so;
  so.host = layout_.supervisor_host;
  so.port = static_cast<uint16_t>(layout_.supervisor_port);
  so.max_request_body_bytes = 4096;
  control_ = std::make_unique<http::Server>(so);
  control_->Get("/healthz", [](const http::Request&) { return http::Text(200, "ok\n"); });
  control_->Get("/v1/status", [this](const http::Request&) { return HandleStatus(); });
  control_->Post("/v1/parts/*", [this](const http::Request& r) { return HandleCommand(r); });
  NATSTACK_TRY(control_->Start());
  return Ok();
}

void Supervisor::Publish() {
  nlohmann::json parts = nlohmann::json::array();
  const auto now = Steady::now();
  for (const auto& p : supervision_.Snapshot()) {
    parts.push_back({{"name", p.name},
                     {"kind", p.kind},
                     {"state", PartStateName(p.state)},
                     {"pid", p.pid},
                     {"healthy", p.healthy},
                     {"restarts", p.restarts},
                     {"crashes_in_a_row", p.crashes_in_a_row},
                     {"last_exit", p.last_exit},
                     {"last_check_error", p.last_check_error},
                     {"log", p.log_file},
                     {"state_seconds", std::chrono::duration<double>(now - p.since).count()}});
  }
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : supervision_.Events()) {
    events.push_back({{"at", std::chrono::duration_cast<std::chrono::milliseconds>(
                                 e.at.time_since_epoch())
                                     .count() /
                                 1000.0},
                      {"part", e.part},
                      {"message", e.message},
                      {"warning", e.warning}});
  }
  std::lock_guard<std::mutex> lock(mu_);
  parts_json_ = std::move(parts);
  events_json_ = std::move(events);
}

void Supervisor::RunCommands() {
  std::deque<std::shared_ptr<Command>> commands;
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands.swap(commands_);
  }
  for (auto& c : commands) {
    Status done = Ok();
    if (!supervision_.Has(c->part)) {
      done = Fail(Code::kNotFound, "there is no part named " + c->part);
    } else if (c->action == "start") {
      // Registered first, so that the node starts with a route to every registered peer.
      const bool was_seeded = SeedHas(c->part);
      SeedSet(c->part, true);
      SyncSeed(/*force=*/true);
      SyncRoutes();
      done = supervision_.Launch(c->part);
      if (!done && !was_seeded) SeedSet(c->part, false);
    } else if (c->action == "stop") {
      done = supervision_.Stop(c->part);
      if (done) SeedSet(c->part, false);  // stopped for good: no longer a route to seed
    } else if (c->action == "restart") {
      done = supervision_.Restart(c->part);
      if (done) SeedSet(c->part, true);
    } else {
      done = Fail(Code::kInvalidArgument, "unknown action " + c->action);
    }
    if (done) progress_.Step("control: " + c->action + " " + c->part);
    c->done.set_value(done);
  }
}

http::Response Supervisor::HandleCommand(const http::Request& request) {
  auto error = [](int status, const std::string& message) {
    return http::Json(status, nlohmann::json{{"ok", false}, {"error", message}}.dump() + "\n");
  };
  const auto auth = request.headers.find("authorization");
  const std::string expected = "Bearer " + control_token_;
  if (auth == request.headers.end() || auth->second.size() != expected.size() ||
      CRYPTO_memcmp(auth->second.data(), expected.data(), expected.size()) != 0)
    return error(401, "changes need the control token (" + paths_.ControlToken() + ")");
  // /v1/parts/NAME/ACTION
  const std::string rest = request.path.substr(std::string("/v1/parts/").size());
  const size_t slash = rest.find('/');
  if (slash == std::string::npos || rest.find('/', slash + 1) != std::string::npos)
    return error(404, "expected /v1/parts/NAME/(start|stop|restart)");
  auto command = std::make_shared<Command>();
  command->part = rest.substr(0, slash);
  command->action = rest.substr(slash + 1);
  if (command->action != "start" && command->action != "stop" && command->action != "restart")
    return error(404, "unknown action '" + command->action.substr(0, 32) + "' (start, stop, restart)");
  auto done = command->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != "running") return error(409, "the stack is " + phase_);
    commands_.push_back(command);
  }
  if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    return error(503, "the supervisor did not take the command in time");
  const Status st = done.get();
  if (!st) {
    const int status = st.error().code == Code::kNotFound ? 404
                       : st.error().code == Code::kFailedPrecondition ? 409
                                                                       : 500;
    return error(status, st.error().message);
  }
  return http::Json(200, nlohmann::json{{"ok", true}, {"part", command->part},
                                         {"action", command->action}}.dump() + "\n");
}

nlohmann::json Supervisor::DnsStatus(const nlohmann::json& nodes, const nlohmann::json& sidecar,
                                     const nlohmann::json& knot) {
  if (!layout_.dns_enabled) return {{"configured", false}};
  nlohmann::json d = {{"configured", true},
                      {"name", layout_.dns_public_name},
                      {"server", DnsHost(layout_) + ":" + std::to_string(layout_.dns_port)},
                      {"server_state", knot.value("state", "unknown")},
                      {"sidecar_state", sidecar.value("state", "unknown")},
                      {"sidecar_metrics", "http://" + DnsSidecarListen(layout_) + "/metrics"},
                      {"when_none", layout_.dns_when_none}};
  std::set<std::string> healthy;
  for (const auto& n : nodes)
    if (n.value("state", "") == "running" && n.value("healthy", false))
      for (const auto& spec : layout_.nodes)
        if (spec.name == n.value("name", "")) healthy.insert(spec.host);
  d["healthy"] = healthy;
  // What the authoritative server serves now, read like the sidecar reads it (TSIG-signed).
  auto provider = ZoneProvider(layout_.dns_public_zone);
  if (!provider) {
    d["error"] = provider.error().message;
    return d;
  }
  if (auto seed = ZoneProvider(layout_.dns_private_zone); seed) {
    auto routes = (*seed)->Read(layout_.dns_route_name + ".", dns::RecordType::kA);
    std::set<std::string> registered;
    if (routes && *routes) registered.insert((**routes).values.begin(), (**routes).values.end());
    d["route_seed"] = {{"name", layout_.dns_route_name}, {"registered", registered}};
    std::lock_guard<std::mutex> lock(mu_);
    d["route_seed"]["routes"] = routes_json_;
    if (!routes) d["route_seed"]["error"] = routes.error().message;
  }
  auto record = (*provider)->Read(layout_.dns_public_name + ".", dns::RecordType::kA);
  if (!record) {
    d["error"] = record.error().message;
    return d;
  }
  std::set<std::string> served;
  if (*record) {
    served.insert((**record).values.begin(), (**record).values.end());
    d["ttl"] = (**record).ttl;
  }
  d["record"] = served;
  d["matches_healthy"] = served == healthy;
  return d;
}

void Supervisor::SampleCallouts() {
  if (Steady::now() < next_sample_) return;
  next_sample_ = Steady::now() + std::chrono::seconds(5);
  http::RequestOptions ro;
  ro.timeout = std::chrono::milliseconds(500);
  for (int i = 1; i <= layout_.callout_replicas; ++i) {
    auto r = http_.Get("http://" + CalloutHttpListen(layout_, i) + "/metrics", ro);
    if (!r || r->status != 200) continue;
    std::lock_guard<std::mutex> lock(mu_);
    auto& samples = callout_samples_[CalloutPartName(i)];
    samples.push_back({Steady::now(), ParseCalloutMetrics(r->body)});
    while (samples.size() > 13) samples.pop_front();  // about a minute
  }
}

http::Response Supervisor::HandleStatus() {
  nlohmann::json doc;
  nlohmann::json parts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    parts = parts_json_;
    doc["events"] = events_json_;
    doc["phase"] = phase_;
  }
  auto part_of = [&](const std::string& name) -> nlohmann::json {
    for (const auto& p : parts)
      if (p["name"] == name) return p;
    return nlohmann::json::object();
  };
  doc["cluster"] = layout_.cluster_name;
  doc["state_dir"] = paths_.dir();
  doc["supervisor"] = {{"pid", ::getpid()},
                       {"uptime_seconds",
                        std::chrono::duration<double>(Steady::now() - started_).count()}};
  doc["parts"] = parts;
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& n : layout_.nodes) {
    nlohmann::json node = LiveNodeStatus(http_, n, layout_.endpoint_name);
    const auto p = part_of(n.name);
    node["state"] = p.value("state", "unknown");
    node["healthy"] = p.value("healthy", false);
    node["pid"] = p.value("pid", -1);
    node["restarts"] = p.value("restarts", 0);
    node["expected_routes"] = layout_.nodes.size() - 1;
    nodes.push_back(std::move(node));
  }
  doc["nodes"] = nodes;
  nlohmann::json callouts = nlohmann::json::array();
  for (int i = 1; i <= layout_.callout_replicas; ++i) {
    const std::string name = CalloutPartName(i);
    const auto p = part_of(name);
    nlohmann::json c = {{"name", name},
                        {"metrics", "http://" + CalloutHttpListen(layout_, i) + "/metrics"},
                        {"state", p.value("state", "unknown")},
                        {"healthy", p.value("healthy", false)},
                        {"pid", p.value("pid", -1)},
                        {"restarts", p.value("restarts", 0)}};
    std::lock_guard<std::mutex> lock(mu_);
    const auto& samples = callout_samples_[name];
    if (!samples.empty()) {
      c["admitted_total"] = static_cast<int64_t>(samples.back().counts.admitted);
      c["refused_total"] = static_cast<int64_t>(samples.back().counts.refused);
      c["dropped_total"] = static_cast<int64_t>(samples.back().counts.dropped);
      // The rate over the samples since the replica's counters last started (a restart
      // resets them: a rate across it would be negative).
      size_t first = samples.size() - 1;
      while (first > 0 && samples[first - 1].counts.admitted <= samples[first].counts.admitted)
        --first;
      if (first + 1 < samples.size()) {
        const double dt =
            std::chrono::duration<double>(samples.back().at - samples[first].at).count();
        c["admissions_per_second"] =
            dt > 0 ? (samples.back().counts.admitted - samples[first].counts.admitted) / dt : 0.0;
      }
    }
    callouts.push_back(std::move(c));
  }
  doc["callouts"] = callouts;
  const auto idp = part_of("idp");
  doc["idp"] = {{"url", IdpIssuerUrl(layout_)},
                {"state", idp.value("state", "unknown")},
                {"healthy", idp.value("healthy", false)}};
  doc["dns"] = DnsStatus(nodes, part_of("dns-sidecar"), part_of("dns"));
  return http::Json(200, doc.dump(2) + "\n");
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
  NATSTACK_TRY(CheckPortFree(layout_.supervisor_host, layout_.supervisor_port,
                             "supervisor status port", "--supervisor-listen"));
  if (layout_.dns_enabled) {
    NATSTACK_TRY(CheckPortFree(DnsHost(layout_), layout_.dns_port, "DNS (Knot) port",
                               "dns.listen in a spec"));
    NATSTACK_TRY(CheckPortFree(DnsHost(layout_), layout_.dns_sidecar_port, "DNS sidecar port",
                               "dns.sidecar_port in a spec"));
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
  NATSTACK_TRY(StartControl());
  NATSTACK_TRY(AddParts(nats_server));

  const auto deadline = Steady::now() + options_.ready_timeout;
  progress_.Step("starting idp and " + std::to_string(layout_.nodes.size()) + " nodes (" +
                 nats_server + ")");
  std::vector<std::string> first = {"idp"};
  if (layout_.dns_enabled) {
    // Knot first: every node is registered in the route seed as it starts, and reads its
    // routes from the seed as Knot answers it.
    routes_input_ = NodeRenderInput(layout_);
    NATSTACK_ASSIGN_OR_RETURN(routes_input_.route_password, ReadSecretValue(paths_.RoutePassword()));
    NATSTACK_ASSIGN_OR_RETURN(std::string events_token, ReadSecretValue(paths_.DnsEventsToken()));
    dns_events_ = std::make_unique<dns::EventNotifier>(
        "http://" + DnsSidecarListen(layout_) + "/v1/events", std::move(events_token),
        [this](const std::string& why) { progress_.Step("warning: " + why); });
    NATSTACK_TRY(Launch({"idp", "dns"}));
    NATSTACK_TRY(WaitParts({"dns"}, deadline));
    for (const auto& n : layout_.nodes) SeedSet(n.name, true);
    seed_started_ = true;
    SyncSeed(/*force=*/true);
    SyncRoutes();
    NATSTACK_TRY(Launch(NodeNames()));
  } else {
    NATSTACK_TRY(Launch({"idp"}));
    NATSTACK_TRY(Launch(NodeNames()));
  }
  for (const auto& n : NodeNames()) first.push_back(n);
  NATSTACK_TRY(WaitParts(first, deadline));
  NATSTACK_TRY(WaitRoutes(deadline));
  progress_.Step("routes form a full mesh");
  // The services that talk to the nodes start together and do not wait for each other: the
  // callout replicas (each connects to a different node first) and the DNS sidecar.
  std::vector<std::string> services = CalloutNames();
  if (layout_.dns_enabled) services.push_back("dns-sidecar");
  NATSTACK_TRY(Launch(services));
  NATSTACK_TRY(WaitParts(services, deadline));
  if (layout_.callout_replicas == 0) {
    progress_.Step("no callout replicas (--callout-replicas 0): clients are admitted once you "
                   "run `natstack callout serve`");
    return Ok();
  }
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
  const std::string dns =
      layout_.dns_enabled
          ? layout_.dns_public_name + " A = the healthy nodes: a node that exits leaves at once, " +
                "a hung one within " + std::to_string(2 * layout_.dns_probe_interval_s + 1) +
                " s (Knot on " + DnsHost(layout_) + ":" + std::to_string(layout_.dns_port) + ")"
          : std::string("none ([dns] enabled = false)");
  std::printf(
      "\nnatstack is ready in %.2fs: %zu nodes, auth callout, development IdP\n"
      "  clients     %s\n"
      "  websocket   %s\n"
      "  monitoring  %s\n"
      "  CA          %s\n"
      "  IdP         %s (audience \"%s\")\n"
      "  callout     %s\n"
      "  dns         %s\n"
      "  status      %s status%s\n"
      "  logs        %s\n"
      "\n"
      "  Try it (user alice may use user.alice.> and nothing else):\n"
      "    %s token alice | %s client%s --token-file - sub 'user.alice.>' &\n"
      "    %s token alice | %s client%s --token-file - pub user.alice.hello 'hello'\n"
      "\n"
      "  Stop with %s.\n",
      progress_.Seconds(), layout_.nodes.size(), join(ClientUrls(layout_)).c_str(),
      join(WebSocketUrls(layout_)).c_str(), join(MonitoringUrls(layout_)).c_str(),
      TrustedCaFile(layout_).c_str(), IdpIssuerUrl(layout_).c_str(), layout_.audience.c_str(),
      callouts.c_str(), dns.c_str(), exe.c_str(), sd.c_str(),
      paths_.LogsDir().c_str(), (exe + sd).c_str(), exe.c_str(), sd.c_str(), (exe + sd).c_str(),
      exe.c_str(), sd.c_str(),
      options_.detached ? ("`" + exe + " down" + sd + "`").c_str()
                        : ("Ctrl-C (or `" + exe + " down" + sd + "`)").c_str());
  std::fflush(stdout);
}

void Supervisor::Watch() {
  for (;;) {
    const int sig = PendingSignal(std::chrono::milliseconds(100));
    if (sig != 0) {
      progress_.Step(std::string("received ") + strsignal(sig) + ", stopping");
      return;
    }
    (void)Round();  // after Arm, exits are restarts and events, not errors
    SampleCallouts();
  }
}

void Supervisor::StopAll() {
  dns_events_.reset();  // the whole stack goes: nothing to tell the sidecar, which goes too
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = "stopping";
    for (auto& c : commands_) c->done.set_value(Fail(Code::kFailedPrecondition, "the stack is stopping"));
    commands_.clear();
  }
  // The callout drains its requests while the nodes still run; then the nodes together, then
  // the IdP. Stopping the whole stack, the nodes get SIGTERM: their clients have nowhere to go,
  // so lame duck would only delay (`natstack node stop` uses it).
  std::vector<std::string> services = CalloutNames();
  if (layout_.dns_enabled) services.push_back("dns-sidecar");
  // The whole stack stops for good: its nodes leave the route seed, while Knot still runs.
  if (layout_.dns_enabled && supervision_.IsReady("dns")) {
    seed_want_.clear();
    SyncSeed(/*force=*/true);
  }
  supervision_.StopAll({services, NodeNames()}, /*graceful=*/false);
  Publish();
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
    if (control_) control_->Stop();
    if (interrupted_) {
      progress_.Step("interrupted; everything started was stopped");
      return 130;
    }
    std::fprintf(stderr, "natstack up: %s\n", started.error().message.c_str());
    std::fprintf(stderr, "natstack up: nothing is left running; logs are in %s\n",
                 paths_.LogsDir().c_str());
    return 1;
  }
  supervision_.Arm();
  {
    std::lock_guard<std::mutex> lock_guard(mu_);
    phase_ = "running";
  }
  (void)WriteFileAtomic(paths_.Pid(), std::to_string(::getpid()) + "\n", 0644);
  PrintReady();
  if (options_.on_ready) options_.on_ready();
  Watch();
  StopAll();
  if (control_) control_->Stop();
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

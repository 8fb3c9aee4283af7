// natstack status / node (start|stop|restart) / logs: an operator's view of a running stack,
// through the supervisor's status and control endpoint (docs/up.md).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cluster/layout.hpp"
#include "cluster/process.hpp"
#include "cluster/status.hpp"
#include "cluster/supervisor.hpp"
#include "core/file.hpp"
#include "http/client.hpp"

namespace natstack::cli {
namespace {

using Steady = std::chrono::steady_clock;

Result<cluster::StackLayout> RunningLayout(const Globals& g) {
  NATSTACK_ASSIGN_OR_RETURN(cluster::StackLayout layout, cluster::LoadLayout(g.StateDir()));
  if (!cluster::IsStackRunning(layout.state_dir, nullptr))
    return Fail(Code::kUnavailable, "natstack is not running for " + layout.state_dir +
                                        " (start it with `natstack up`)");
  return layout;
}

Result<nlohmann::json> FetchStatus(http::Client& http, const cluster::StackLayout& layout) {
  http::RequestOptions ro;
  ro.timeout = std::chrono::seconds(15);
  const std::string url = cluster::SupervisorUrl(layout) + "/v1/status";
  auto r = http.Get(url, ro);
  if (!r) return Fail(Code::kUnavailable, "the supervisor does not answer at " + url + ": " + r.error().message);
  auto doc = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !doc.is_object())
    return Fail(Code::kUnavailable, url + " answered HTTP " + std::to_string(r->status));
  return doc;
}

Status PostCommand(http::Client& http, const cluster::StackLayout& layout, const std::string& part,
                   const std::string& action) {
  const cluster::StatePaths paths(layout.state_dir);
  auto token = ReadSecretValue(paths.ControlToken());
  if (!token)
    return Fail(token.error().Wrap("reading the control token (run as the user who ran `natstack up`)"));
  http::RequestOptions ro;
  ro.timeout = std::chrono::seconds(15);
  ro.headers = {{"Authorization", "Bearer " + *token}};
  const std::string url = cluster::SupervisorUrl(layout) + "/v1/parts/" + part + "/" + action;
  auto r = http.Post(url, "", "application/json", ro);
  if (!r) return Fail(Code::kUnavailable, "the supervisor does not answer at " + url + ": " + r.error().message);
  auto doc = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    const std::string message = doc.is_object() && doc.contains("error") && doc["error"].is_string()
                                    ? doc["error"].get<std::string>()
                                    : "HTTP " + std::to_string(r->status);
    return Fail(r->status == 404 ? Code::kNotFound : Code::kFailedPrecondition, message);
  }
  return Ok();
}

const nlohmann::json* FindByName(const nlohmann::json& list, const std::string& name) {
  if (!list.is_array()) return nullptr;
  for (const auto& x : list)
    if (x.is_object() && x.value("name", "") == name) return &x;
  return nullptr;
}

/// True when `name` runs, is healthy, and every node has all its routes again.
bool NodeBack(const nlohmann::json& status, const std::string& name, std::string* waiting) {
  const auto& nodes = status.value("nodes", nlohmann::json::array());
  const auto* node = FindByName(nodes, name);
  if (node == nullptr) return false;
  if (node->value("state", "") != "running" || !node->value("healthy", false)) {
    *waiting = name + " is " + node->value("state", "?") + (node->value("healthy", false) ? "" : ", not healthy yet");
    return false;
  }
  for (const auto& n : nodes) {
    if (n.value("state", "") != "running") continue;  // a node stopped on purpose has no routes
    const int expected = n.value("expected_routes", 0);
    int running_peers = 0;
    for (const auto& other : nodes)
      if (other.value("state", "") == "running" && other.value("name", "") != n.value("name", ""))
        ++running_peers;
    const int routes = n.contains("routes") && n["routes"].is_number() ? n["routes"].get<int>() : -1;
    if (routes < std::min(expected, running_peers)) {
      *waiting = n.value("name", "?") + " has " + std::to_string(std::max(routes, 0)) + " of " +
                 std::to_string(std::min(expected, running_peers)) + " routes";
      return false;
    }
  }
  return true;
}

/// The node's full /healthz: its JetStream assets have caught up with their peers, so the next
/// node of a rolling restart can go without leaving a stream short of a quorum.
bool JetStreamCurrent(http::Client& http, const nlohmann::json& node, std::string* waiting) {
  http::RequestOptions ro;
  ro.timeout = std::chrono::seconds(2);
  auto r = http.Get(node.value("monitor_url", "") + "/healthz", ro);
  if (r && r->status == 200) return true;
  *waiting = node.value("name", "?") + " JetStream is catching up (" +
             (r ? "healthz HTTP " + std::to_string(r->status) : r.error().message) + ")";
  return false;
}

/// Every part of the stack, as the supervisor names them: the IdP, the nodes, Knot ("dns") and
/// the record sidecar ("dns-sidecar") when DNS is on, the callout replicas.
std::vector<std::string> PartNames(const cluster::StackLayout& layout) {
  std::vector<std::string> parts = {"idp"};
  for (const auto& n : layout.nodes) parts.push_back(n.name);
  if (layout.dns_enabled) {
    parts.emplace_back("dns");
    parts.emplace_back("dns-sidecar");
  }
  for (int i = 1; i <= layout.callout_replicas; ++i) parts.push_back(cluster::CalloutPartName(i));
  return parts;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
  return out;
}

/// Why a part is not coming back: its last exit and the end of its log.
std::string WhyNotBack(const nlohmann::json& part) {
  std::string why = part.value("last_exit", std::string());
  if (why.empty()) why = part.value("last_check_error", std::string());
  const std::string log = part.value("log", std::string());
  const std::string tail = log.empty() ? std::string() : cluster::TailOfFile(log, 3);
  return (why.empty() ? std::string("no exit recorded") : why) +
         (tail.empty() ? std::string() : "; the end of " + log + ":\n" + tail);
}

int NodeAction(const Globals& g, const std::string& action, const std::string& name,
               int timeout_s, bool wait) {
  const std::string cmd = "node " + action;
  auto layout = RunningLayout(g);
  if (!layout) {
    PrintError(cmd, layout.error().message);
    return 1;
  }
  const auto parts = PartNames(*layout);
  if (std::find(parts.begin(), parts.end(), name) == parts.end()) {
    PrintError(cmd, "there is no node or part named '" + name + "' (parts: " + Joined(parts) + ")");
    return 2;
  }
  const bool is_node = std::any_of(layout->nodes.begin(), layout->nodes.end(),
                                   [&](const cluster::NodeSpec& n) { return n.name == name; });
  http::CurlClient http;
  long old_pid = -1;
  if (auto before = FetchStatus(http, *layout); before)
    if (const auto* p = FindByName((*before)["parts"], name); p != nullptr) old_pid = p->value("pid", -1L);
  const auto start = Steady::now();
  if (auto posted = PostCommand(http, *layout, name, action); !posted) {
    PrintError(cmd, posted.error().message);
    return posted.error().code == Code::kNotFound ? 2 : 1;
  }
  std::printf("%s: %s requested\n", name.c_str(), action.c_str());
  std::fflush(stdout);
  if (!wait) return 0;
  const auto deadline = start + std::chrono::seconds(timeout_s);
  std::string waiting = "no status yet";
  std::string last_note;
  nlohmann::json last_part = nlohmann::json::object();
  while (Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto status = FetchStatus(http, *layout);
    if (!status) {
      waiting = status.error().message;
      continue;
    }
    const auto* part = FindByName((*status)["parts"], name);
    if (part == nullptr) continue;
    last_part = *part;
    const std::string state = part->value("state", "");
    const double secs = std::chrono::duration<double>(Steady::now() - start).count();
    if (action == "stop") {
      if (state == "stopped") {
        std::printf("%s: stopped in %.1fs\n", name.c_str(), secs);
        return 0;
      }
      waiting = name + " is " + state;
    } else if (state == "failed") {
      PrintError(cmd, name + " failed: " + WhyNotBack(*part));
      return 1;
    } else if (state == "backoff") {
      waiting = name + " is in backoff after: " + part->value("last_exit", std::string("?"));
    } else if (action == "restart" && part->value("pid", -1L) == old_pid) {
      waiting = name + " is " + state;
    } else if (is_node) {
      const auto* node = FindByName((*status)["nodes"], name);
      // JetStream can be current only with a quorum of nodes running: starting the first
      // nodes of a stopped cluster waits for health and routes alone.
      size_t running = 0;
      for (const auto& n : (*status)["nodes"]) running += n.value("state", "") == "running";
      const bool quorum = running >= (*status)["nodes"].size() / 2 + 1;
      if (node != nullptr && NodeBack(*status, name, &waiting) &&
          (!quorum || JetStreamCurrent(http, *node, &waiting))) {
        std::printf("%s: running, healthy and meshed again in %.1fs (pid %ld)\n", name.c_str(),
                    secs, part->value("pid", -1L));
        return 0;
      }
    } else if (state == "running" && part->value("healthy", false)) {
      std::printf("%s: running and healthy in %.1fs (pid %ld)\n", name.c_str(), secs,
                  part->value("pid", -1L));
      return 0;
    } else {
      waiting = name + " is " + state;
    }
    if (waiting != last_note) {
      std::printf("  %.1fs: %s\n", secs, waiting.c_str());
      std::fflush(stdout);
      last_note = waiting;
    }
  }
  PrintError(cmd, name + " did not finish within " + std::to_string(timeout_s) + "s: " + waiting +
                      (last_part.value("state", "") == "backoff" ? " — " + WhyNotBack(last_part) : ""));
  return 1;
}

int Logs(const Globals& g, const std::string& part, int lines, bool follow) {
  auto layout = cluster::LoadLayout(g.StateDir());
  if (!layout) {
    PrintError("logs", layout.error().message);
    return 1;
  }
  std::vector<std::string> parts = PartNames(*layout);
  parts.insert(parts.begin(), "supervisor");
  const std::string known = Joined(parts);
  if (std::find(parts.begin(), parts.end(), part) == parts.end()) {
    PrintError("logs", "there is no part named '" + part + "' (parts: " + known + ")");
    return 2;
  }
  const std::string path = cluster::StatePaths(layout->state_dir).Log(part);
  auto text = ReadFile(path);
  if (!text) {
    PrintError("logs", path + " does not exist yet (" + part + " has not run)");
    return 1;
  }
  std::fputs(cluster::TailOfFile(path, static_cast<size_t>(lines)).c_str(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (!follow) return 0;
  size_t offset = text->size();
  for (;;) {  // until Ctrl-C
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto now = ReadFile(path);
    if (!now) continue;
    if (now->size() < offset) offset = 0;  // rotated by a new `up`
    if (now->size() > offset) {
      std::fwrite(now->data() + offset, 1, now->size() - offset, stdout);
      std::fflush(stdout);
      offset = now->size();
    }
  }
}

}  // namespace

void AddOpsCommands(CLI::App& app, Globals& g, Action& action) {
  auto json = std::make_shared<bool>(false);
  CLI::App* status = app.add_subcommand(
      "status", "Each node's health, routes, clients, server id and certificate expiry; the "
                "callout replicas and their admission rate; the last events");
  status->add_flag("--json", *json, "The supervisor's status document (GET /v1/status)");
  status->callback([&g, &action, json] {
    action = [&g, json] {
      auto layout = RunningLayout(g);
      if (!layout) {
        PrintError("status", layout.error().message);
        return 1;
      }
      http::CurlClient http;
      auto doc = FetchStatus(http, *layout);
      if (!doc) {
        PrintError("status", doc.error().message);
        return 1;
      }
      if (*json) {
        std::printf("%s\n", doc->dump(2).c_str());
      } else {
        std::fputs(cluster::FormatStatus(*doc).c_str(), stdout);
      }
      // Exit code: 0 when every part runs and is healthy.
      for (const auto& p : (*doc)["parts"])
        if (p.value("state", "") != "running" || !p.value("healthy", false)) return 1;
      return 0;
    };
  });

  CLI::App* node = app.add_subcommand(
      "node",
      "Start, stop or restart one node (or another part: idp, callout-N, dns, dns-sidecar) "
      "of a running stack");
  node->require_subcommand(1);
  for (const char* verb : {"start", "stop", "restart"}) {
    struct Flags {
      std::string name;
      int timeout_s = 120;
      bool no_wait = false;
    };
    auto flags = std::make_shared<Flags>();
    const std::string v = verb;
    CLI::App* sub = node->add_subcommand(
        v, v == "stop"      ? "Stop a node in lame-duck mode (its clients move to the others); "
                              "the supervisor does not restart it until `node start`"
           : v == "restart" ? "Stop a node in lame-duck mode and start it again; waits until it "
                              "is healthy and every route is back (a rolling-restart step)"
                            : "Start a stopped or failed node; waits until it is healthy and meshed");
    sub->add_option("NAME", flags->name,
                    "The node (n1, n2, ...) or part (idp, callout-1, ..., dns, dns-sidecar)")
        ->required();
    sub->add_option("--timeout", flags->timeout_s, "Seconds to wait (default 120)")
        ->check(CLI::Range(1, 3600));
    sub->add_flag("--no-wait", flags->no_wait, "Return once the supervisor has the request");
    sub->fallthrough();  // --state-dir after the node name
    sub->callback([&g, &action, flags, v] {
      action = [&g, flags, v] { return NodeAction(g, v, flags->name, flags->timeout_s, !flags->no_wait); };
    });
  }

  struct LogFlags {
    std::string part;
    int lines = 50;
    bool follow = false;
  };
  auto lf = std::make_shared<LogFlags>();
  CLI::App* logs = app.add_subcommand(
      "logs", "Print a part's log (supervisor, idp, n1..., callout-1..., dns, dns-sidecar)");
  logs->add_option("PART", lf->part, "The part")->required();
  logs->add_option("-n,--lines", lf->lines, "Lines from the end (default 50)")->check(CLI::Range(1, 1000000));
  logs->add_flag("-f,--follow", lf->follow, "Keep printing what is appended (Ctrl-C stops)");
  logs->callback([&g, &action, lf] {
    action = [&g, lf] { return Logs(g, lf->part, lf->lines, lf->follow); };
  });
}

}  // namespace natstack::cli

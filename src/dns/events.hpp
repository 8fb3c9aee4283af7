#pragma once
/// Process events: what a supervisor knows about a node before any probe can (docs/dns.md,
/// "Process events"). The supervisor sees a node's process exit at once (waitpid) and knows
/// when it tells one to stop; it posts that to the sidecar, which takes the node out of the
/// record without waiting for down_after failed probes. An event only ever takes a node out:
/// a node comes back through its probes alone.
///
///   POST /v1/events   Authorization: Bearer <the events token>
///   {"node": "n3", "event": "exited", "at_unix_ms": 1764892800123, "detail": "killed by signal 9"}
///
///   dns::EventNotifier notifier(url, token, on_failure);   // its own thread
///   notifier.Post({.node = "n3", .kind = ProcessEventKind::kExited, .at = clock.Now()});

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/error.hpp"
#include "http/client.hpp"

namespace natstack::dns {

enum class ProcessEventKind {
  kExited,    ///< the node's process is gone (a crash, a kill, an unhealthy node killed)
  kStopping,  ///< the node was told to stop (for good or to restart) and is draining
};
const char* ProcessEventKindName(ProcessEventKind kind);  ///< "exited", "stopping"

struct ProcessEvent {
  std::string node;  ///< the node's name in the sidecar's config
  ProcessEventKind kind = ProcessEventKind::kExited;
  std::chrono::system_clock::time_point at{};  ///< when the supervisor saw it (wall clock)
  std::string detail;                          ///< for the log: "killed by signal 9"
};

/// Limits of the wire form.
inline constexpr size_t kMaxEventBodyBytes = 4096;
inline constexpr size_t kMaxEventDetailBytes = 512;

/// The event as the JSON body of POST /v1/events.
std::string ProcessEventJson(const ProcessEvent& event);

/// Parses a POST /v1/events body strictly: an object with exactly `node` (1-64 letters,
/// digits, '-', '_', '.'), `event` ("exited" or "stopping"), `at_unix_ms` (a positive integer)
/// and optionally `detail` (at most 512 bytes, no control characters); anything else is
/// kInvalidArgument naming the key. Whether the node is configured is the sidecar's question.
Result<ProcessEvent> ParseProcessEvent(std::string_view body);

/// Sends events to a sidecar's POST /v1/events from its own thread, so that the caller (the
/// supervisor's main loop) never waits on the network. At most 64 events wait; beyond that the
/// oldest is dropped (the probes still catch every node). Each POST has a 1 s deadline and is
/// not retried: a late event is worth little, and the sidecar refuses stale ones anyway.
/// `on_failure` runs on the notifier's thread when a POST fails after one that did not (and
/// for the first one), with a message naming the cause; the token is never part of it.
class EventNotifier {
 public:
  EventNotifier(std::string url, std::string token,
                std::function<void(const std::string&)> on_failure = {});
  ~EventNotifier();  ///< sends nothing more; joins the thread
  EventNotifier(const EventNotifier&) = delete;
  EventNotifier& operator=(const EventNotifier&) = delete;

  void Post(ProcessEvent event);
  /// Waits (at most `timeout`) until every event posted so far has been sent or has failed.
  /// For tests and for an orderly stop.
  bool Flush(std::chrono::milliseconds timeout);
  uint64_t Sent() const;    ///< accepted by the sidecar (HTTP 202)
  uint64_t Failed() const;  ///< refused, unanswered or dropped

 private:
  void Loop();

  const std::string url_;
  const std::string token_;
  std::function<void(const std::string&)> on_failure_;
  http::CurlClient http_{"natstack-supervisor"};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ProcessEvent> queue_;
  bool stop_ = false;
  bool busy_ = false;
  bool failing_ = false;
  uint64_t sent_ = 0;
  uint64_t failed_ = 0;
  std::thread thread_;
};

}  // namespace natstack::dns

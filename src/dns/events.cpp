#include "dns/events.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/json_config.hpp"
#include "dns/record_keeper.hpp"

namespace natstack::dns {
namespace {

constexpr size_t kMaxQueued = 64;
constexpr std::string_view kSource = "process event";

}  // namespace

const char* ProcessEventKindName(ProcessEventKind kind) {
  switch (kind) {
    case ProcessEventKind::kExited: return "exited";
    case ProcessEventKind::kStopping: return "stopping";
  }
  return "?";
}

std::string ProcessEventJson(const ProcessEvent& event) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(event.at.time_since_epoch()).count();
  nlohmann::json j = {{"node", event.node},
                      {"event", ProcessEventKindName(event.kind)},
                      {"at_unix_ms", ms}};
  if (!event.detail.empty())
    j["detail"] = event.detail.substr(0, kMaxEventDetailBytes);
  // Replace, not throw, on a detail cut inside a UTF-8 sequence.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<ProcessEvent> ParseProcessEvent(std::string_view body) {
  if (body.size() > kMaxEventBodyBytes)
    return Fail(Code::kInvalidArgument, "event: the body is larger than " +
                                            std::to_string(kMaxEventBodyBytes) + " bytes");
  NATSTACK_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJsonDocument(body, kSource));
  ConfigReader r(doc, std::string(kSource), "");
  ProcessEvent e;
  std::string kind;
  int64_t at_ms = 0;
  NATSTACK_TRY(r.String("node", e.node, Required::kYes));
  NATSTACK_TRY(r.String("event", kind, Required::kYes));
  NATSTACK_TRY(r.Int("at_unix_ms", at_ms, 1, std::numeric_limits<int64_t>::max() / 1000,
                     Required::kYes));
  NATSTACK_TRY(r.String("detail", e.detail));
  NATSTACK_TRY(r.Finish());
  if (!IsNodeName(e.node))
    return r.Invalid("node", "expected 1-64 letters, digits, '-', '_' or '.'");
  if (kind == "exited") {
    e.kind = ProcessEventKind::kExited;
  } else if (kind == "stopping") {
    e.kind = ProcessEventKind::kStopping;
  } else {
    return r.Invalid("event", "must be \"exited\" or \"stopping\"");
  }
  if (e.detail.size() > kMaxEventDetailBytes)
    return r.Invalid("detail", "is longer than " + std::to_string(kMaxEventDetailBytes) + " bytes");
  if (std::any_of(e.detail.begin(), e.detail.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    return r.Invalid("detail", "contains control characters");
  e.at = std::chrono::system_clock::time_point(std::chrono::milliseconds(at_ms));
  return e;
}

EventNotifier::EventNotifier(std::string url, std::string token,
                             std::function<void(const std::string&)> on_failure)
    : url_(std::move(url)), token_(std::move(token)), on_failure_(std::move(on_failure)) {
  thread_ = std::thread(&EventNotifier::Loop, this);
}

EventNotifier::~EventNotifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EventNotifier::Post(ProcessEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      queue_.pop_front();
      ++failed_;
    }
    queue_.push_back(std::move(event));
  }
  cv_.notify_all();
}

bool EventNotifier::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

uint64_t EventNotifier::Sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

uint64_t EventNotifier::Failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void EventNotifier::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    ProcessEvent event = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();

    http::RequestOptions options;
    options.timeout = std::chrono::seconds(1);
    options.headers = {{"Authorization", "Bearer " + token_}};
    options.max_body_bytes = 4096;
    auto r = http_.Post(url_, ProcessEventJson(event), "application/json", options);
    std::string failure;
    if (!r) {
      failure = r.error().message;
    } else if (r->status != 202) {
      std::string body = r->body.substr(0, 200);
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
      failure = "HTTP " + std::to_string(r->status) + (body.empty() ? "" : ": " + body);
    }

    lock.lock();
    busy_ = false;
    const bool report = !failure.empty() && !failing_;
    failing_ = !failure.empty();
    if (failure.empty()) {
      ++sent_;
    } else {
      ++failed_;
    }
    if (report && on_failure_) {
      lock.unlock();
      on_failure_("telling the DNS sidecar that " + event.node + " " +
                  ProcessEventKindName(event.kind) + " failed (" + url_ + "): " + failure +
                  "; its probes will notice instead");
      lock.lock();
    }
    cv_.notify_all();
  }
}

}  // namespace natstack::dns

#include "dns/record_keeper.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <set>
#include <system_error>
#include <thread>

namespace natstack::dns {
namespace {

constexpr std::string_view kComponent = "dns";

std::string Seconds(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", std::chrono::duration<double>(d).count());
  return buf;
}

/// A record with no values is no record.
std::optional<RecordSet> Normalized(std::optional<RecordSet> set) {
  if (set && set->values.empty()) return std::nullopt;
  return set;
}

bool Same(const std::optional<RecordSet>& a, const std::optional<RecordSet>& b) {
  if (!a || !b) return !a && !b;
  return SameRecordSet(*a, *b);
}

bool Lists(const std::optional<RecordSet>& set, const std::string& address) {
  return set && std::find(set->values.begin(), set->values.end(), address) != set->values.end();
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

std::string Probes(int n) { return std::to_string(n) + (n == 1 ? " probe" : " probes"); }

}  // namespace

bool IsNodeName(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}

const char* WhenNoneName(WhenNone w) {
  switch (w) {
    case WhenNone::kKeep: return "keep";
    case WhenNone::kDelete: return "delete";
  }
  return "?";
}

const char* NodeHealthName(NodeHealth h) {
  switch (h) {
    case NodeHealth::kUnknown: return "unknown";
    case NodeHealth::kHealthy: return "healthy";
    case NodeHealth::kUnhealthy: return "unhealthy";
  }
  return "?";
}

std::string DescribeRecord(const std::optional<RecordSet>& set) {
  if (!set || set->values.empty()) return "no record";
  std::set<std::string> values(set->values.begin(), set->values.end());
  return "{" + Join(std::vector<std::string>(values.begin(), values.end()), ", ") + "} ttl " +
         std::to_string(set->ttl);
}

RecordKeeper::RecordKeeper(KeeperOptions options, Provider& provider, HealthProbe& probe,
                           const Clock& clock, Logger& log)
    : options_(std::move(options)),
      provider_(provider),
      probe_(probe),
      clock_(clock),
      log_(log),
      nodes_(options_.nodes.size()) {
  if (options_.stale_after.count() <= 0) options_.stale_after = options_.interval * 3;
  if (options_.down_after < 1) options_.down_after = 1;
  if (options_.up_after < 1) options_.up_after = 1;
  for (const auto& n : options_.nodes) stats_.nodes.push_back({n.name, n.address});
}

std::vector<Status> RecordKeeper::ProbeAll() {
  std::vector<Status> results(options_.nodes.size());
  auto probe_one = [this, &results](size_t i) {
    // A probe must not throw; if one does, it is that node's failure, not the process's end.
    try {
      results[i] = probe_.Probe(options_.nodes[i], options_.probe_timeout);
    } catch (const std::exception& e) {
      results[i] = Fail(Code::kInternal, std::string("probe threw: ") + e.what());
    } catch (...) {
      results[i] = Fail(Code::kInternal, "probe threw");
    }
  };
  // Concurrently: a round takes one probe_timeout at most, however many nodes are down.
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    if (results.size() == 1) {
      probe_one(i);
      break;
    }
    try {
      threads.emplace_back(probe_one, i);
    } catch (const std::system_error&) {
      probe_one(i);  // no thread to be had: probe inline, the round just takes longer
    }
  }
  for (auto& t : threads) t.join();
  return results;
}

void RecordKeeper::Round() {
  const auto started = clock_.Monotonic();
  if (last_round_end_ && started - *last_round_end_ > options_.stale_after) {
    // The loop stalled (a suspended process, a starved machine): what was counted before the
    // gap is not consecutive with what comes now.
    log_.Warn(kComponent, "no round for " + Seconds(started - *last_round_end_) + " (more than " +
                              Seconds(options_.stale_after) + "): hysteresis streaks start over");
    for (auto& n : nodes_) n.ok_streak = n.fail_streak = 0;
  }
  std::vector<Status> results = ProbeAll();
  const auto finished = clock_.Monotonic();
  last_round_end_ = finished;
  if (finished - started > options_.stale_after) {
    // Probes that timed out because this process was paused say nothing about the nodes.
    log_.Warn(kComponent, "a probe round took " + Seconds(finished - started) + " (more than " +
                              Seconds(options_.stale_after) +
                              "): its results are stale; the record stays as it is");
    for (auto& n : nodes_) n.ok_streak = n.fail_streak = 0;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.rounds;
    ++stats_.stale_rounds;
    return;
  }
  for (size_t i = 0; i < results.size(); ++i) Apply(i, results[i]);
  RecomputeWanted();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.rounds;
  }
  Publish();
  (void)Sync();
}

void RecordKeeper::Apply(size_t index, const Status& result) {
  NodeState& n = nodes_[index];
  const Node& node = options_.nodes[index];
  ++n.probes;
  if (result) {
    n.fail_streak = 0;
    ++n.ok_streak;
    const int needed = Filling() ? 1 : options_.up_after;
    if (n.health != NodeHealth::kHealthy && n.ok_streak >= needed) {
      n.health = NodeHealth::kHealthy;
      const std::string reason = node.name + " passed " + Probes(n.ok_streak);
      log_.Info(kComponent,
                node.name + " (" + node.address + ") is healthy: passed " + Probes(n.ok_streak));
      reasons_.push_back(reason);
    }
    return;
  }
  ++n.probe_failures;
  n.ok_streak = 0;
  ++n.fail_streak;
  n.last_error = result.error().message;
  const std::string failed =
      node.name + " probe failed (" + std::to_string(n.fail_streak) + " in a row): " + n.last_error;
  if (n.fail_streak == 1) {
    log_.Info(kComponent, failed);
  } else {
    log_.Debug(kComponent, failed);
  }
  if (n.health != NodeHealth::kUnhealthy && n.fail_streak >= options_.down_after) {
    const bool was_listed = n.health == NodeHealth::kHealthy;
    n.health = NodeHealth::kUnhealthy;
    const std::string reason = node.name + " failed " + Probes(n.fail_streak) + ": " + n.last_error;
    log_.Warn(kComponent, node.name + " (" + node.address + ") is unhealthy: failed " +
                              Probes(n.fail_streak) + ": " + n.last_error);
    if (was_listed) reasons_.push_back(reason);
  }
}

Status RecordKeeper::NodeDown(const std::string& name, const std::string& why) {
  const auto it = std::find_if(options_.nodes.begin(), options_.nodes.end(),
                               [&](const Node& n) { return n.name == name; });
  if (it == options_.nodes.end()) return Fail(Code::kNotFound, "no node named " + name);
  const size_t index = static_cast<size_t>(it - options_.nodes.begin());
  NodeState& n = nodes_[index];
  const Node& node = options_.nodes[index];
  // Whatever its streak, it starts again from nothing: a process that exited after a passing
  // probe proves nothing about its successor.
  n.ok_streak = 0;
  n.fail_streak = std::max(n.fail_streak, options_.down_after);
  n.last_error = why;
  if (n.health == NodeHealth::kUnhealthy) {
    log_.Info(kComponent, node.name + " " + why + " (already out of the record)");
    return Ok();
  }
  const bool was_listed = n.health == NodeHealth::kHealthy;
  n.health = NodeHealth::kUnhealthy;
  log_.Warn(kComponent, node.name + " (" + node.address + ") is unhealthy: " + why);
  if (was_listed) reasons_.push_back(node.name + " " + why);
  RecomputeWanted();
  Publish();
  (void)Sync();  // a provider error is retried like any other
  return Ok();
}

void RecordKeeper::OnFirstRead() {
  // A restarted sidecar must not empty a healthy record while its new streaks build up: the
  // record is the previous instance's verdict, so a node it lists starts healthy and leaves
  // only after down_after failures, like any other.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeState& n = nodes_[i];
    const Node& node = options_.nodes[i];
    if (n.health != NodeHealth::kUnknown || !Lists(server_, node.address)) continue;
    if (n.fail_streak >= options_.down_after) {
      n.health = NodeHealth::kUnhealthy;
      reasons_.push_back(node.name + " failed " + Probes(n.fail_streak) + ": " + n.last_error);
      continue;
    }
    n.health = NodeHealth::kHealthy;
    log_.Info(kComponent,
              node.name + " (" + node.address + ") starts healthy: the record already lists it");
  }
  log_.Info(kComponent, "A " + options_.name + ": the server holds " + DescribeRecord(server_));
  RecomputeWanted();
  if (!InSync())
    reasons_.insert(reasons_.begin(), "at start the server had " + DescribeRecord(server_));
}

void RecordKeeper::RecomputeWanted() {
  if (!server_known_) return;  // "keep" needs to know what there is to keep
  std::set<std::string> addresses;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].health == NodeHealth::kHealthy) addresses.insert(options_.nodes[i].address);
  }
  std::optional<RecordSet> next;
  if (!addresses.empty()) {
    next = RecordSet{options_.name, RecordType::kA, options_.ttl,
                     std::vector<std::string>(addresses.begin(), addresses.end())};
    none_logged_ = false;
  } else {
    if (options_.when_none == WhenNone::kKeep) {
      // Keep what was wanted last; at the start, what the server holds.
      next = wanted_known_ ? wanted_ : server_;
      if (next) {
        next->name = options_.name;
        next->ttl = options_.ttl;
      }
    }
    // At the start, nodes not decided yet are no news; every node found unhealthy is.
    const bool undecided = std::any_of(nodes_.begin(), nodes_.end(), [](const NodeState& n) {
      return n.health == NodeHealth::kUnknown;
    });
    if (!none_logged_ && !undecided) {
      const std::string what =
          std::string("no healthy node (when_none=") + WhenNoneName(options_.when_none) + ")";
      log_.Warn(kComponent,
                what + (options_.when_none == WhenNone::kKeep ? ": keeping " + DescribeRecord(next)
                                                              : std::string(": the record goes")));
      if (options_.when_none == WhenNone::kDelete) reasons_.push_back(what);
      none_logged_ = true;
    }
  }
  wanted_ = Normalized(std::move(next));
  wanted_known_ = true;
  if (InSync()) reasons_.clear();
}

bool RecordKeeper::InSync() const {
  return server_known_ && wanted_known_ && Same(server_, wanted_);
}

Status RecordKeeper::Sync() {
  auto now = clock_.Monotonic();
  if (now < next_attempt_at_) return Ok();  // backing off
  if (!zone_checked_) {
    // Before anything else: with the wrong zone every update would be refused, while reads
    // of the name still work and would make the sidecar look ready.
    if (auto zone = provider_.CheckZone(); !zone) {
      OnProviderError("zone", zone.error());
      return Fail(zone.error());
    }
    zone_checked_ = true;
  }
  if (!server_known_ || read_due_ || now >= next_read_at_) {
    auto read = provider_.Read(options_.name, RecordType::kA);
    if (!read) {
      OnProviderError("read", read.error());
      return Fail(read.error());
    }
    now = clock_.Monotonic();
    std::optional<RecordSet> got = Normalized(std::move(*read));
    read_due_ = false;
    next_read_at_ = now + options_.reconcile_interval;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.last_read_ok = now;
    }
    if (!server_known_) {
      server_ = std::move(got);
      server_known_ = true;
      OnFirstRead();
    } else if (!Same(got, server_)) {
      if (wanted_known_ && !Same(got, wanted_)) {
        // Someone edited the record, or a write was lost: put back what health says.
        log_.Warn(kComponent,
                  "drift: server had " + DescribeRecord(got) + ", want " + DescribeRecord(wanted_));
        reasons_.push_back("drift: server had " + DescribeRecord(got));
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.drift_repairs;
      } else {
        // A write that failed on our side (a timeout) landed after all.
        log_.Info(kComponent,
                  "A " + options_.name + ": the server already holds " + DescribeRecord(got));
      }
      server_ = std::move(got);
      if (InSync()) reasons_.clear();
    }
  }
  if (!InSync()) {
    const std::optional<RecordSet> old = server_;
    const char* op = wanted_ ? "replace" : "delete";
    Status written =
        wanted_ ? provider_.Replace(*wanted_) : provider_.Delete(options_.name, RecordType::kA);
    if (!written) {
      OnProviderError(op, written.error());
      return written;
    }
    now = clock_.Monotonic();
    std::string reason =
        reasons_.empty() ? "the server differs from the healthy set" : Join(reasons_, "; ");
    if (failed_attempts_ > 0)
      reason += " (after " + std::to_string(failed_attempts_) + " failed provider calls)";
    log_.Info(kComponent, "A " + options_.name + ": " + DescribeRecord(old) + " -> " +
                              DescribeRecord(wanted_) + ": " + reason);
    server_ = wanted_;
    reasons_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.changes;
    stats_.last_write_ok = now;
  }
  if (failed_attempts_ > 0)
    log_.Info(kComponent, "the DNS server answers again after " + std::to_string(failed_attempts_) +
                              " failed calls");
  backoff_ = std::chrono::milliseconds(0);
  failed_attempts_ = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.last_provider_error.reset();
  }
  Publish();
  return Ok();
}

void RecordKeeper::OnProviderError(const char* op, const Error& error) {
  ++failed_attempts_;
  backoff_ = backoff_.count() == 0 ? options_.backoff_initial
                                   : std::min(backoff_ * 2, options_.backoff_max);
  next_attempt_at_ = clock_.Monotonic() + backoff_;
  read_due_ = true;  // after a failed call the server's state is uncertain: read it first
  if (!quiet_)
    log_.Warn(kComponent,
            std::string("DNS ") + op + " of " + options_.name + " failed (" +
                std::to_string(failed_attempts_) + " in a row): " + error.ToString() +
                "; retrying in " + Seconds(backoff_) +
                (wanted_known_ ? ", still wanting " + DescribeRecord(wanted_) : std::string()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.provider_errors[{op, std::string(CodeName(error.code))}];
    stats_.last_provider_error = error;
  }
  Publish();
}

Status RecordKeeper::StartSync() {
  quiet_ = true;
  Status synced = Sync();
  quiet_ = false;
  return synced;
}

std::chrono::steady_clock::time_point RecordKeeper::NextSyncAt() const {
  if (!server_known_ || read_due_ || !InSync()) return next_attempt_at_;
  return std::max(next_attempt_at_, next_read_at_);
}

void RecordKeeper::Publish() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.ready = server_known_;
  stats_.healthy_nodes = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    stats_.nodes[i].health = nodes_[i].health;
    stats_.nodes[i].probes = nodes_[i].probes;
    stats_.nodes[i].probe_failures = nodes_[i].probe_failures;
    if (nodes_[i].health == NodeHealth::kHealthy) ++stats_.healthy_nodes;
  }
  stats_.record_size.reset();
  if (server_known_) {
    stats_.record_size =
        server_ ? std::set<std::string>(server_->values.begin(), server_->values.end()).size() : 0;
  }
  stats_.in_sync = InSync();
}

bool RecordKeeper::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.ready;
}

KeeperStats RecordKeeper::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace natstack::dns

#pragma once
/// RecordKeeper: keeps one public A record equal to the healthy nodes' public addresses (the
/// logic of `natstack dns serve`, docs/dns.md). Pure logic: the clock, the DNS provider and the
/// health probe are injected, so every behaviour is tested without I/O or the wall clock.
///
///   dns::RecordKeeper keeper(options, provider, probe, clock, log);
///   keeper.Sync();                       // reads the record (a restart starts from it)
///   every options.interval: keeper.Round();
///   between rounds, at keeper.NextSyncAt(): keeper.Sync();   // retries after backoff
///
/// One round probes every node at once (each with options.probe_timeout), applies hysteresis
/// per node, computes the wanted record and writes it with one Replace (or Delete) only when it
/// differs from what the server holds. The server's state is cached; it is read back at the
/// start and every reconcile_interval, and drift is repaired. Provider errors are retried with
/// exponential backoff without losing the wanted state. A round that took longer than
/// stale_after is discarded: its results would describe the past. Nothing is written before the
/// record was read once; a node that record lists starts healthy (the previous instance's
/// verdict), so a restart leaves a healthy record alone.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/logger.hpp"
#include "dns/provider.hpp"

namespace natstack::dns {

/// A NATS node as the public record sees it.
struct Node {
  std::string name;        ///< label in logs and metrics ("n1")
  std::string address;     ///< public IPv4 address, dotted quad
  std::string health_url;  ///< its monitoring endpoint, e.g. http://10.0.0.1:8222/healthz
};

/// A valid Node::name, a label in metrics and a word in log lines: 1-64 letters, digits, '-',
/// '_' or '.'.
bool IsNodeName(std::string_view name);

/// Asks one node whether it is healthy.
class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  /// Ok when the node is healthy; an error saying why not otherwise. Returns within about
  /// `timeout`. Called concurrently for different nodes: implementations are thread-safe.
  virtual Status Probe(const Node& node, std::chrono::milliseconds timeout) = 0;
};

/// What to publish when no node is healthy.
enum class WhenNone {
  kKeep,    ///< keep the last set (the default; docs/dns.md says why)
  kDelete,  ///< delete the record
};
const char* WhenNoneName(WhenNone w);  ///< "keep", "delete"

struct KeeperOptions {
  std::string name;  ///< the public name, e.g. "nats.example.test."
  uint32_t ttl = 60;
  std::vector<Node> nodes;
  std::chrono::milliseconds interval{std::chrono::seconds(2)};  ///< between rounds
  std::chrono::milliseconds probe_timeout{std::chrono::seconds(1)};
  int down_after = 2;  ///< consecutive failures that take a healthy node out
  int up_after = 2;    ///< consecutive successes that bring a node in
  WhenNone when_none = WhenNone::kKeep;
  std::chrono::milliseconds reconcile_interval{std::chrono::seconds(30)};
  /// A round that takes longer than this is discarded, and hysteresis streaks older than this
  /// are forgotten. 0 = 3 * interval.
  std::chrono::milliseconds stale_after{0};
  std::chrono::milliseconds backoff_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
};

/// Where a node stands.
enum class NodeHealth {
  kUnknown,    ///< not decided yet: not in the record
  kHealthy,    ///< in the record
  kUnhealthy,  ///< out of the record
};
const char* NodeHealthName(NodeHealth h);  ///< "unknown", "healthy", "unhealthy"

/// A snapshot for metrics and /readyz.
struct KeeperStats {
  struct NodeStats {
    std::string name;
    std::string address;
    NodeHealth health = NodeHealth::kUnknown;
    uint64_t probes = 0;
    uint64_t probe_failures = 0;
  };
  bool ready = false;  ///< the record has been read once
  std::vector<NodeStats> nodes;
  size_t healthy_nodes = 0;
  /// Addresses in the record as the server holds it (last known); nullopt before the first read.
  std::optional<size_t> record_size;
  bool in_sync = false;  ///< the server holds the wanted record (as last known)
  uint64_t rounds = 0;
  uint64_t stale_rounds = 0;
  uint64_t changes = 0;        ///< successful writes (Replace or Delete)
  uint64_t drift_repairs = 0;  ///< reads that found the server differing from what was written
  /// (operation "read" | "replace" | "delete", CodeName) -> count.
  std::map<std::pair<std::string, std::string>, uint64_t> provider_errors;
  std::optional<std::chrono::steady_clock::time_point> last_write_ok;
  std::optional<std::chrono::steady_clock::time_point> last_read_ok;
  std::optional<Error> last_provider_error;  ///< cleared by the next success
};

/// Not thread-safe except Stats() and Ready(): Round() and Sync() are called from one thread.
/// `provider`, `probe`, `clock` and `log` must outlive the keeper.
class RecordKeeper {
 public:
  RecordKeeper(KeeperOptions options, Provider& provider, HealthProbe& probe, const Clock& clock,
               Logger& log);

  /// Probes every node (concurrently), applies hysteresis, computes the wanted record, then
  /// Sync(). A round longer than stale_after changes nothing.
  void Round();

  /// A process event (dns/events.hpp): `node`'s process exited or was told to stop; `why`
  /// follows the node's name in the log ("exited (the supervisor says: ...)"). The node leaves the healthy set at once, without waiting for down_after
  /// failed probes, and comes back only through up_after passing probes; then Sync(). Not
  /// thread-safe, like Round(). kNotFound for a name that is not configured.
  Status NodeDown(const std::string& node, const std::string& why);

  /// The provider work that is due now: the reconciliation read (first of all, after an error,
  /// and every reconcile_interval), then one write when the server differs from the wanted
  /// record. Nothing while backing off after an error. Returns the provider error of this call
  /// (Ok when nothing failed or nothing was due).
  Status Sync();

  /// Sync() at a service's start, with its failure left to the caller to report: a wrong key
  /// or zone stops the start, so a "retrying" line here would say the opposite of what happens.
  /// Counted and backed off like any failure.
  Status StartSync();

  /// When Sync() has work next: the end of a backoff, a pending write, the next reconciliation.
  std::chrono::steady_clock::time_point NextSyncAt() const;

  /// True once the record has been read.
  bool Ready() const;
  KeeperStats Stats() const;
  const KeeperOptions& Options() const { return options_; }

 private:
  struct NodeState {
    NodeHealth health = NodeHealth::kUnknown;
    int ok_streak = 0;
    int fail_streak = 0;
    std::string last_error;
    uint64_t probes = 0;
    uint64_t probe_failures = 0;
  };

  std::vector<Status> ProbeAll();
  void Apply(size_t index, const Status& result);
  void OnFirstRead();
  void RecomputeWanted();
  bool InSync() const;
  /// The server holds no record (a fresh zone, or after when_none = delete removed it): one
  /// passing probe lets a node in, as there is no client to protect from a flapping node.
  bool Filling() const { return server_known_ && (!server_ || server_->values.empty()); }
  void OnProviderError(const char* op, const Error& error);
  void Publish();

  KeeperOptions options_;
  Provider& provider_;
  HealthProbe& probe_;
  const Clock& clock_;
  Logger& log_;

  std::vector<NodeState> nodes_;
  std::optional<std::chrono::steady_clock::time_point> last_round_end_;
  bool zone_checked_ = false;         // the provider's zone is one the server holds
  bool server_known_ = false;         // the record was read at least once
  std::optional<RecordSet> server_;   // what the server holds, as last known
  bool wanted_known_ = false;         // wanted_ has been computed
  std::optional<RecordSet> wanted_;   // nullopt: no record
  std::vector<std::string> reasons_;  // why wanted_ differs from server_
  bool read_due_ = true;              // read before the next write
  std::chrono::steady_clock::time_point next_read_at_{};
  std::chrono::steady_clock::time_point next_attempt_at_{};  // end of the backoff
  std::chrono::milliseconds backoff_{0};
  int failed_attempts_ = 0;
  bool quiet_ = false;  // StartSync: the caller reports a failure
  bool none_logged_ = false;

  mutable std::mutex mu_;  // guards stats_
  KeeperStats stats_;
};

/// "{203.0.113.1, 203.0.113.2} ttl 60", or "no record".
std::string DescribeRecord(const std::optional<RecordSet>& set);

}  // namespace natstack::dns

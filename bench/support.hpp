#pragma once
/// What every benchmark program shares (docs/bench.md): its command line (--out, --quick,
/// --seed), summary statistics, interruption by SIGINT/SIGTERM, and writing its JSON object.
/// Benchmarks measure; they never fail on a timing. A program exits 0 when it measured, 1 when
/// it could not run (one message naming why), 2 on a usage error.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace natstack::bench {

/// The options every benchmark takes.
struct CommonOptions {
  std::string out;     ///< --out FILE: where the JSON object is written ("" = stdout only)
  bool quick = false;  ///< --quick: smaller counts, the whole run well under a minute
  /// --seed N: the random choices (kill moments, ...); 0 = a fresh one, reported in the JSON
  /// so a run can be repeated.
  uint64_t seed = 0;
};

/// Adds --out, --quick and --seed to `app`.
void AddCommonOptions(CLI::App& app, CommonOptions& options);

/// The seed to use: `requested`, or a fresh one from std::random_device when it is 0.
uint64_t ChooseSeed(uint64_t requested);

/// Summary of a sample of durations in seconds. Percentiles interpolate linearly between the
/// closest ranks (numpy's default), so the p50 of an even count is the mean of the middle two.
struct Summary {
  size_t count = 0;
  double min = 0, p50 = 0, p90 = 0, max = 0, mean = 0;
};
/// nullopt for an empty sample (every run timed out): there is nothing to summarise.
std::optional<Summary> Summarize(std::vector<double> samples);

/// The q-quantile (0..1) of an ascending, non-empty sample.
double Percentile(const std::vector<double>& sorted, double q);

/// A number rounded to milliseconds for the JSON (the polling resolution is 10 ms; more digits
/// would be noise), or null.
nlohmann::json Seconds(std::optional<double> seconds);

/// SIGINT and SIGTERM, blocked in every thread from construction on, so that a Ctrl-C ends the
/// benchmark through its destructors (children stopped, temporary directory removed) instead
/// of killing it mid-run. Construct it first in main(), before any thread exists. Children
/// started with cluster::ChildProcess unblock them again.
class Interruption {
 public:
  Interruption();
  Interruption(const Interruption&) = delete;
  Interruption& operator=(const Interruption&) = delete;

  /// Sleeps for `duration`, or less when a signal arrives. False once a signal has arrived
  /// (now or before): the caller stops.
  bool Sleep(std::chrono::steady_clock::duration duration);
  /// Sleeps until `when` (see Sleep).
  bool SleepUntil(std::chrono::steady_clock::time_point when);
  /// True once SIGINT or SIGTERM has arrived. Does not wait.
  bool Raised() { return !Sleep(std::chrono::steady_clock::duration::zero()); }
  /// The error a benchmark returns when it stops because of the signal.
  Error AsError() const;

 private:
  int signal_ = 0;
};

/// Writes `object` (pretty-printed) to `path` through a temporary file and a rename.
Status WriteJson(const std::string& path, const nlohmann::json& object);

/// A program's main: prints `error` as "PROGRAM: error: MESSAGE" to stderr and returns 1.
int ReportFailure(const std::string& program, const Error& error);

}  // namespace natstack::bench

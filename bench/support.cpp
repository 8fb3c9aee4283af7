#include "bench/support.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>

#include "core/file.hpp"

namespace natstack::bench {

void AddCommonOptions(CLI::App& app, CommonOptions& options) {
  app.add_option("--out", options.out, "Write the benchmark's JSON object to FILE");
  app.add_flag("--quick", options.quick, "Smaller counts: the whole run in well under a minute");
  app.add_option("--seed", options.seed, "Seed of the random choices (0 = a fresh one)");
}

uint64_t ChooseSeed(uint64_t requested) {
  if (requested != 0) return requested;
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

double Percentile(const std::vector<double>& sorted, double q) {
  const double rank = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

std::optional<Summary> Summarize(std::vector<double> samples) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  Summary s;
  s.count = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  s.p50 = Percentile(samples, 0.5);
  s.p90 = Percentile(samples, 0.9);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  return s;
}

nlohmann::json Seconds(std::optional<double> seconds) {
  if (!seconds) return nullptr;
  return std::round(*seconds * 1000.0) / 1000.0;
}

namespace {
sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

Interruption::Interruption() {
  const sigset_t set = TerminationSignals();
  // pthread_sigmask in the only thread there is: every thread started later (libcurl's
  // resolver, ...) inherits the mask, so the signal stays pending for sigtimedwait below.
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool Interruption::SleepUntil(std::chrono::steady_clock::time_point when) {
  const sigset_t set = TerminationSignals();
  for (;;) {
    if (signal_ != 0) return false;
    const auto left = when - std::chrono::steady_clock::now();
    const auto ns = std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(left).count());
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    const int sig = ::sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) {
      signal_ = sig;
      return false;
    }
    // EAGAIN: the time is up. EINTR: another signal (SIGCHLD, ...) woke us early; go on.
    if (errno == EAGAIN || ns == 0) return true;
  }
}

bool Interruption::Sleep(std::chrono::steady_clock::duration duration) {
  return SleepUntil(std::chrono::steady_clock::now() + duration);
}

Error Interruption::AsError() const {
  return Error{Code::kUnavailable, std::string("interrupted by ") + ::strsignal(signal_)};
}

Status WriteJson(const std::string& path, const nlohmann::json& object) {
  auto written = WriteFileAtomic(path, object.dump(2) + "\n", 0644);
  if (!written) return Fail(written.error().Wrap("writing " + path));
  return Ok();
}

int ReportFailure(const std::string& program, const Error& error) {
  std::fprintf(stderr, "%s: error: %s\n", program.c_str(), error.message.c_str());
  return 1;
}

}  // namespace natstack::bench

#include "jwt/remote_jwks.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/json_strict.hpp"

namespace natstack::jwt {
namespace {

constexpr const char* kComponent = "jwks";
constexpr auto kClockPoll = std::chrono::milliseconds(250);

std::string KidList(const Jwks& jwks) {
  std::string out;
  for (const Jwk& k : jwks.keys()) {
    if (!out.empty()) out += ", ";
    out += k.kid.empty() ? "(no kid)" : k.kid;
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// A Cache-Control directive: nullopt when absent, its value ("" when it has none, quotes
/// removed) when present ("max-age=300" -> "300", "no-cache" -> "").
std::optional<std::string_view> Directive(const std::string& cache_control, std::string_view name) {
  size_t pos = 0;
  while (pos < cache_control.size()) {
    size_t end = cache_control.find(',', pos);
    if (end == std::string::npos) end = cache_control.size();
    std::string_view item(cache_control.data() + pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == name) return std::string_view();
    if (item.size() > name.size() && item.substr(0, name.size()) == name &&
        item[name.size()] == '=') {
      std::string_view v = item.substr(name.size() + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

/// The seconds of a directive ("max-age=300" -> 300), nullopt when absent or not a number.
std::optional<int64_t> DirectiveSeconds(const std::string& cache_control, std::string_view name) {
  const auto v = Directive(cache_control, name);
  if (!v || v->empty() || v->size() > 10 || v->find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(std::string(*v));
}

bool HasDirective(const std::string& cache_control, std::string_view name) {
  return Directive(cache_control, name).has_value();
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text) {
  // IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters). The obsolete forms
  // (RFC 850, asctime) are not produced by any IdP we know of.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT")
    return std::nullopt;
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  auto digits = [&](size_t at, size_t n) -> int {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  std::tm tm{};
  tm.tm_mday = digits(5, 2);
  const size_t month = kMonths.find(text.substr(8, 3));
  tm.tm_year = digits(12, 4) - 1900;
  tm.tm_hour = digits(17, 2);
  tm.tm_min = digits(20, 2);
  tm.tm_sec = digits(23, 2);
  if (text[7] != ' ' || text[11] != ' ' || text[16] != ' ' || text[19] != ':' ||
      text[22] != ':' || month == std::string_view::npos || month % 3 != 0 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_year < 70 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
      tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_mon = static_cast<int>(month / 3);
  const time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

std::optional<std::chrono::seconds> FreshnessLifetime(const http::Response& response,
                                                      std::chrono::system_clock::time_point now) {
  using std::chrono::seconds;
  std::optional<int64_t> lifetime;
  if (auto cc = response.headers.find("cache-control"); cc != response.headers.end()) {
    const std::string value = Lower(cc->second);
    if (HasDirective(value, "no-store") || HasDirective(value, "no-cache")) return seconds(0);
    lifetime = DirectiveSeconds(value, "s-maxage");
    if (!lifetime) lifetime = DirectiveSeconds(value, "max-age");
  }
  if (!lifetime) {
    auto expires = response.headers.find("expires");
    if (expires == response.headers.end()) return std::nullopt;
    const auto at = ParseHttpDate(expires->second);
    // An invalid Expires means "already expired" (RFC 9111 §5.3).
    if (!at) return seconds(0);
    auto base = now;
    if (auto date = response.headers.find("date"); date != response.headers.end()) {
      if (auto d = ParseHttpDate(date->second)) base = *d;
    }
    lifetime = std::max<int64_t>(
        0, std::chrono::duration_cast<seconds>(*at - base).count());
  }
  if (auto age = response.headers.find("age"); age != response.headers.end()) {
    const std::string& a = age->second;
    if (!a.empty() && a.size() <= 10 && a.find_first_not_of("0123456789") == std::string::npos)
      *lifetime -= std::stoll(a);
  }
  return seconds(std::max<int64_t>(0, *lifetime));
}

Result<std::string> DiscoverJwksUri(http::Client& client, const std::string& issuer,
                                    const http::RequestOptions& options) {
  if (issuer.empty()) return Fail(Code::kInvalidArgument, "issuer is empty");
  std::string base = issuer;
  if (base.back() == '/') base.pop_back();
  const std::string url = base + "/.well-known/openid-configuration";
  NATSTACK_ASSIGN_OR_RETURN(
      http::Response response,
      client.Get(url, options).map_error([](const Error& e) { return e.Wrap("OIDC discovery"); }));
  if (response.status != 200) {
    return Fail(Code::kUnavailable,
                "OIDC discovery: " + url + " answered HTTP " + std::to_string(response.status));
  }
  StrictJsonResult parsed = ParseStrictJson(response.body, kMaxJsonDepth);
  if (!parsed.ok()) {
    return Fail(Code::kInvalidArgument,
                "OIDC discovery: " + url + " " + parsed.Describe(kMaxJsonDepth));
  }
  const nlohmann::json doc = std::move(parsed.value);
  if (!doc.is_object())
    return Fail(Code::kInvalidArgument, "OIDC discovery: " + url + " is not a JSON object");
  auto iss = doc.find("issuer");
  if (iss == doc.end() || !iss->is_string())
    return Fail(Code::kInvalidArgument, "OIDC discovery: " + url + " has no issuer");
  if (iss->get_ref<const std::string&>() != issuer) {
    return Fail(Code::kFailedPrecondition, "OIDC discovery: " + url + " names issuer \"" +
                                               iss->get<std::string>().substr(0, 200) +
                                               "\", expected \"" + issuer + "\"");
  }
  auto jwks_uri = doc.find("jwks_uri");
  if (jwks_uri == doc.end() || !jwks_uri->is_string())
    return Fail(Code::kInvalidArgument, "OIDC discovery: " + url + " has no jwks_uri");
  const std::string& uri = jwks_uri->get_ref<const std::string&>();
  if (uri.rfind("https://", 0) != 0 && uri.rfind("http://", 0) != 0)
    return Fail(Code::kInvalidArgument, "OIDC discovery: jwks_uri in " + url + " is not http(s)");
  return uri;
}

RemoteJwks::RemoteJwks(RemoteJwksOptions options, http::Client& client, const Clock& clock,
                       Logger& logger)
    : options_(std::move(options)),
      client_(client),
      clock_(clock),
      logger_(logger),
      url_(options_.url),
      keys_(std::make_shared<const Jwks>()) {}

std::string RemoteJwks::url() const {
  std::lock_guard<std::mutex> lock(mu_);
  return url_;
}

RemoteJwks::~RemoteJwks() { Stop(); }

Status RemoteJwks::Load() { return Fetch(); }

Status RemoteJwks::Fetch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_attempt_ = clock_.Monotonic();
    ++stats_.fetches;
    fetching_ = true;
  }
  std::optional<std::chrono::seconds> lifetime;
  std::string url = this->url();
  auto fetched = [&]() -> Result<Jwks> {
    if (url.empty()) {
      NATSTACK_ASSIGN_OR_RETURN(url,
                                DiscoverJwksUri(client_, options_.discovery_issuer, options_.request));
      std::lock_guard<std::mutex> lock(mu_);
      url_ = url;
    }
    NATSTACK_ASSIGN_OR_RETURN(
        http::Response response,
        client_.Get(url, options_.request).map_error([](const Error& e) {
          return e.Wrap("fetching JWKS");
        }));
    if (response.status != 200) {
      return Fail(Code::kUnavailable,
                  "fetching JWKS: " + url + " answered HTTP " + std::to_string(response.status));
    }
    NATSTACK_ASSIGN_OR_RETURN(Jwks jwks, Jwks::Parse(response.body).map_error([&](const Error& e) {
      return e.Wrap("JWKS from " + url);
    }));
    lifetime = FreshnessLifetime(response, clock_.Now());
    if (jwks.empty()) {
      std::string why = jwks.skipped().empty() ? "it lists no keys" : jwks.skipped().front();
      return Fail(Code::kFailedPrecondition,
                  "JWKS from " + url + " has no usable signing key (" + why + ")");
    }
    return jwks;
  }();

  std::unique_lock<std::mutex> lock(mu_);
  fetching_ = false;
  ++completed_fetches_;
  cv_.notify_all();
  if (!fetched) {
    ++stats_.failures;
    stats_.last_error = fetched.error().message;
    const size_t serving = keys_->size();
    lock.unlock();
    logger_.Warn(kComponent,
                 fetched.error().message + (serving > 0 ? "; still serving the last " +
                                                              std::to_string(serving) + " good keys"
                                                        : "; no keys yet"));
    return Fail(std::move(fetched).error());
  }
  const std::string before = KidList(*keys_);
  auto jwks = std::make_shared<const Jwks>(std::move(*fetched));
  const std::string after = KidList(*jwks);
  const bool recovered = !stats_.last_error.empty();
  keys_ = jwks;
  stats_.last_success = clock_.Now();
  stats_.last_error.clear();
  stats_.key_count = jwks->size();
  fresh_for_ =
      lifetime ? std::clamp(*lifetime,
                            std::min(std::max(options_.min_refresh_interval,
                                              options_.min_cache_lifetime),
                                     options_.max_refresh_interval),
                            options_.max_refresh_interval)
               : std::clamp(options_.refresh_interval, options_.min_refresh_interval,
                            options_.max_refresh_interval);
  stats_.refresh_interval = fresh_for_;
  lock.unlock();
  if (before != after || recovered) {
    logger_.Info(kComponent, "loaded " + std::to_string(jwks->size()) + " keys from " + url +
                                 " (kids: " + after + ")");
  }
  for (const std::string& skipped : jwks->skipped()) {
    logger_.Debug(kComponent, "skipped " + skipped);
  }
  return Ok();
}

void RemoteJwks::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void RemoteJwks::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

void RemoteJwks::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  // Without keys yet (Load() not called or failed), fetch at once.
  auto next = keys_->empty() ? clock_.Monotonic()
                             : last_attempt_.value_or(clock_.Monotonic()) +
                                   (fresh_for_.count() > 0 ? fresh_for_ : options_.refresh_interval);
  std::chrono::steady_clock::duration backoff{0};
  while (!stopping_) {
    const auto now = clock_.Monotonic();
    auto due = next;
    if (refresh_deferred_ && last_attempt_)
      due = std::min(due, *last_attempt_ + options_.min_refresh_interval);
    if (refresh_requested_ || now >= due) {
      refresh_requested_ = false;
      refresh_deferred_ = false;
      lock.unlock();
      const bool ok = Fetch().has_value();
      lock.lock();
      const auto after = clock_.Monotonic();
      if (ok) {
        backoff = {};
        next = after + fresh_for_;
      } else {
        backoff = backoff.count() == 0
                      ? std::chrono::steady_clock::duration(options_.min_refresh_interval)
                      : std::min<std::chrono::steady_clock::duration>(backoff * 2,
                                                                      options_.refresh_interval);
        next = after + backoff;
      }
      continue;
    }
    const auto wait = std::min<std::chrono::steady_clock::duration>(due - now, kClockPoll);
    cv_.wait_for(lock, wait);
  }
}

std::shared_ptr<const Jwks> RemoteJwks::Keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_;
}

std::chrono::steady_clock::time_point RemoteJwks::RequestRefreshLocked() const {
  const auto now = clock_.Monotonic();
  if (refresh_requested_) {  // a fetch that has not started yet will see the newest keys
    ++stats_.hints_dropped;
    return now;
  }
  // A fetch under way may have been answered before the key was published: it counts for a
  // waiter (it may bring the key), and the hint also gets a fetch at the window's end.
  if (fetching_ || (last_attempt_ && now - *last_attempt_ < options_.min_refresh_interval)) {
    if (refresh_deferred_) {
      ++stats_.hints_dropped;
    } else {
      refresh_deferred_ = true;
      ++stats_.hints_deferred;
    }
    return fetching_ ? now : *last_attempt_ + options_.min_refresh_interval;
  }
  refresh_requested_ = true;
  ++stats_.hints_accepted;
  return now;
}

void RemoteJwks::OnUnknownKid(std::string_view) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    (void)RequestRefreshLocked();
  }
  cv_.notify_all();
}

bool RemoteJwks::AwaitRefresh(std::string_view, std::chrono::milliseconds budget) const {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t seen = completed_fetches_;
  const auto starts = RequestRefreshLocked();
  cv_.notify_all();
  // Without the background thread nobody would fetch: do not wait for nothing. Nor past the
  // budget: a fetch that starts after it cannot help this request.
  if (!thread_.joinable() || budget.count() <= 0) return false;
  if (starts - clock_.Monotonic() >= budget) return false;
  const bool shared = options_.wait_slots != nullptr;
  if (shared ? !options_.wait_slots->TryAcquire() : waiters_ >= options_.max_waiters) {
    ++stats_.waits_refused;
    return false;
  }
  ++waiters_;
  cv_.wait_for(lock, budget, [&] { return completed_fetches_ > seen || stopping_; });
  --waiters_;
  if (shared) options_.wait_slots->Release();
  return completed_fetches_ > seen;
}

bool WaitSlots::TryAcquire() {
  size_t used = used_.load();
  while (used < max_) {
    if (used_.compare_exchange_weak(used, used + 1)) return true;
  }
  return false;
}

void WaitSlots::Release() { used_.fetch_sub(1); }

std::optional<std::chrono::system_clock::time_point> RemoteJwks::LastSuccess() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.last_success;
}

RemoteJwksStats RemoteJwks::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace natstack::jwt

#include "jwt/remote_jwks.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

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

}  // namespace

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
  const nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
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
      keys_(std::make_shared<const Jwks>()) {}

RemoteJwks::~RemoteJwks() { Stop(); }

Status RemoteJwks::Load() { return Fetch(); }

Status RemoteJwks::Fetch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_attempt_ = clock_.Monotonic();
    ++stats_.fetches;
  }
  auto fetched = [&]() -> Result<Jwks> {
    NATSTACK_ASSIGN_OR_RETURN(
        http::Response response,
        client_.Get(options_.url, options_.request).map_error([](const Error& e) {
          return e.Wrap("fetching JWKS");
        }));
    if (response.status != 200) {
      return Fail(Code::kUnavailable, "fetching JWKS: " + options_.url + " answered HTTP " +
                                          std::to_string(response.status));
    }
    NATSTACK_ASSIGN_OR_RETURN(Jwks jwks, Jwks::Parse(response.body).map_error([&](const Error& e) {
      return e.Wrap("JWKS from " + options_.url);
    }));
    if (jwks.empty()) {
      std::string why = jwks.skipped().empty() ? "it lists no keys" : jwks.skipped().front();
      return Fail(Code::kFailedPrecondition,
                  "JWKS from " + options_.url + " has no usable signing key (" + why + ")");
    }
    return jwks;
  }();

  std::unique_lock<std::mutex> lock(mu_);
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
  lock.unlock();
  if (before != after || recovered) {
    logger_.Info(kComponent, "loaded " + std::to_string(jwks->size()) + " keys from " +
                                 options_.url + " (kids: " + after + ")");
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
  auto next = keys_->empty()
                  ? clock_.Monotonic()
                  : last_attempt_.value_or(clock_.Monotonic()) + options_.refresh_interval;
  std::chrono::steady_clock::duration backoff{0};
  while (!stopping_) {
    const auto now = clock_.Monotonic();
    if (refresh_requested_ || now >= next) {
      refresh_requested_ = false;
      lock.unlock();
      const bool ok = Fetch().has_value();
      lock.lock();
      const auto after = clock_.Monotonic();
      if (ok) {
        backoff = {};
        next = after + options_.refresh_interval;
      } else {
        backoff = backoff.count() == 0
                      ? std::chrono::steady_clock::duration(options_.min_refresh_interval)
                      : std::min<std::chrono::steady_clock::duration>(backoff * 2,
                                                                      options_.refresh_interval);
        next = after + backoff;
      }
      continue;
    }
    const auto wait = std::min<std::chrono::steady_clock::duration>(next - now, kClockPoll);
    cv_.wait_for(lock, wait);
  }
}

std::shared_ptr<const Jwks> RemoteJwks::Keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_;
}

void RemoteJwks::OnUnknownKid(std::string_view kid) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = clock_.Monotonic();
    if (refresh_requested_ ||
        (last_attempt_ && now - *last_attempt_ < options_.min_refresh_interval)) {
      ++stats_.hints_dropped;
      return;
    }
    refresh_requested_ = true;
    ++stats_.hints_accepted;
  }
  cv_.notify_all();
}

std::optional<std::chrono::system_clock::time_point> RemoteJwks::LastSuccess() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.last_success;
}

RemoteJwksStats RemoteJwks::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace natstack::jwt

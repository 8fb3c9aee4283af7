#include "callout/service.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/file.hpp"

namespace natstack::callout {
namespace {

constexpr const char* kComponent = "callout";

/// A secret from the environment when given there, else from its file. Errors name what it is
/// and where to set it.
Result<std::string> Secret(const std::string& env_value, const std::string& path, const char* what,
                           const char* key, const char* env_name) {
  if (!env_value.empty()) return env_value;
  if (path.empty())
    return Fail(Code::kInvalidArgument,
                std::string("no ") + what + ": set " + key + " (or " + env_name + ")");
  auto value = ReadSecretValue(path);
  if (!value) return Fail(value.error().Wrap(what));
  return value;
}

std::string Millis(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f ms", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

}  // namespace

Result<std::unique_ptr<CalloutService>> CalloutService::Start(CalloutConfig config,
                                                              EnvironmentSecrets secrets,
                                                              http::Client& http,
                                                              const Clock& clock, Logger& log) {
  NATSTACK_TRY(ValidateCalloutConfig(config, "callout config"));
  std::unique_ptr<CalloutService> svc(new CalloutService(std::move(config), clock, log));
  const CalloutConfig& c = svc->config_;

  // Keys and passwords first: a bad one is a configuration error, found before any network.
  NATSTACK_ASSIGN_OR_RETURN(std::string issuer_seed,
                            Secret(secrets.issuer_seed, c.issuer_seed_file, "issuer seed",
                                   "issuer_seed_file", "NATS_AUTH_NKEY_ISSUER_SEED"));
  NATSTACK_ASSIGN_OR_RETURN(std::string xkey_seed,
                            Secret(secrets.xkey_seed, c.xkey_seed_file, "xkey seed",
                                   "xkey_seed_file", "NATS_AUTH_XKEY_ISSUER_SEED"));
  NATSTACK_ASSIGN_OR_RETURN(std::string password,
                            Secret(secrets.password, c.password_file, "callout password",
                                   "password_file", "NATS_REGULAR_USER_PASSWORD"));
  // Where a seed came from, for its errors (never the seed itself).
  auto source = [](const std::string& from_env, const std::string& file, const char* key,
                   const char* env) {
    return !from_env.empty() ? std::string("$") + env
                             : std::string(key) + " " + (file.empty() ? "(unset)" : file);
  };
  const std::string issuer_from =
      "issuer seed (" + source(secrets.issuer_seed, c.issuer_seed_file, "issuer_seed_file",
                               "NATS_AUTH_NKEY_ISSUER_SEED") + ")";
  const std::string xkey_from =
      "xkey seed (" + source(secrets.xkey_seed, c.xkey_seed_file, "xkey_seed_file",
                             "NATS_AUTH_XKEY_ISSUER_SEED") + ")";
  auto issuer = nkeys::KeyPair::FromSeed(issuer_seed);
  if (!issuer) return Fail(Code::kInvalidArgument, issuer.error().Wrap(issuer_from).message);
  if (issuer->role() != nkeys::Role::kAccount)
    return Fail(Code::kInvalidArgument, issuer_from + " is not an account (SA...) seed");
  std::vector<nkeys::XKey> xkeys;
  auto xkey = nkeys::XKey::FromSeed(xkey_seed);
  if (!xkey) return Fail(Code::kInvalidArgument, xkey.error().Wrap(xkey_from).message);
  xkeys.push_back(std::move(*xkey));
  for (const std::string& path : c.previous_xkey_seed_files) {
    NATSTACK_ASSIGN_OR_RETURN(std::string seed, ReadSecretValue(path).map_error([](const Error& e) {
      return e.Wrap("previous xkey seed");
    }));
    auto previous = nkeys::XKey::FromSeed(seed);
    if (!previous)
      return Fail(Code::kInvalidArgument, previous.error().Wrap("previous xkey seed " + path).message);
    xkeys.push_back(std::move(*previous));
  }
  NATSTACK_ASSIGN_OR_RETURN(Policy policy, Policy::Build(c));
  svc->policy_ = std::make_unique<Policy>(std::move(policy));
  for (const auto& [name, t] : c.templates) {
    if (t.allow_responses)
      log.Warn(kComponent, "template " + name +
                               " has allow_responses: an identity that can receive its own "
                               "messages can publish to any subject it names as their reply "
                               "subject; give it to responders (services) only");
  }

  size_t workers = static_cast<size_t>(c.workers);
  if (workers == 0) {
    // Token work is CPU-bound, but a worker may wait (bounded) for a JWKS refresh: some
    // headroom over the cores keeps one slow refresh from stalling every decision.
    workers = std::clamp<size_t>(2 * std::max(1u, std::thread::hardware_concurrency()), 2, 16);
  }
  // Tokens with unknown kids may hold a quarter of the workers (at least one) while they wait
  // for a refresh; the rest keep deciding for known keys however many made-up kids arrive.
  svc->wait_slots_ = std::make_shared<jwt::WaitSlots>(std::max<size_t>(1, workers / 4));

  // Liveness from here on; readiness once keys are loaded and the subscription is active.
  NATSTACK_TRY(svc->StartHttp());
  NATSTACK_TRY(svc->LoadKeys(http));

  NATSTACK_TRY(svc->StartRevocation(secrets.system_password));

  std::vector<const jwt::KeySource*> sources;
  for (const auto& j : svc->jwks_) sources.push_back(j.get());
  svc->identities_ = std::make_unique<IdentityVerifier>(c, std::move(sources), clock);
  RevocationCheck revoked;
  if (svc->revocation_) {
    revoked = [w = svc->revocation_.get()](std::string_view user, std::string_view token_id) {
      return w->IsRevoked(user, token_id);
    };
  }
  svc->authorizer_ = std::make_unique<Authorizer>(c, *svc->identities_, *svc->policy_,
                                                  std::move(revoked), clock);
  if (c.per_host.enabled()) svc->per_host_ = std::make_unique<KeyedRateLimiter>(c.per_host, clock);
  if (c.per_user.enabled()) svc->per_user_ = std::make_unique<KeyedRateLimiter>(c.per_user, clock);
  svc->handler_ = std::make_unique<RequestHandler>(c, std::move(*issuer), std::move(xkeys),
                                                   *svc->authorizer_, svc->per_host_.get(),
                                                   svc->per_user_.get(), clock);
  svc->pool_ = std::make_unique<WorkerPool>(workers, static_cast<size_t>(c.queue_size));
  if (c.refusal_delay_ms > 0) svc->delayed_ = std::make_unique<DelayQueue>();

  nats_client::ConnectOptions co;
  co.servers = c.servers;
  co.name = "natstack-callout";
  co.user = c.user;
  co.password = password;
  co.ca_file = c.ca_file;
  co.no_randomize = c.no_randomize;
  co.send_asap = true;    // a reply waits ~1 ms for the flusher otherwise
  co.max_reconnect = -1;  // keep trying: clients cannot get in without us
  co.allow_reconnect = true;
  Logger& lg = log;
  co.on_disconnected = [&lg] { lg.Warn(kComponent, "disconnected from the cluster; reconnecting"); };
  co.on_reconnected = [&lg] { lg.Info(kComponent, "reconnected to the cluster"); };
  co.on_error = [&lg](const std::string& e) { lg.Warn(kComponent, "NATS error: " + e); };
  auto conn = nats_client::Connection::Connect(std::move(co));
  if (!conn) {
    return Fail(conn.error().Wrap(
        "the callout cannot connect as user '" + c.user +
        "' (check the servers, the CA file and that the user is in auth_users)"));
  }
  svc->conn_ = std::move(*conn);
  CalloutService* self = svc.get();
  auto sub = svc->conn_->QueueSubscribe(
      c.subject, c.queue_group, [self](nats_client::Message&& m) { self->OnRequest(std::move(m)); });
  if (!sub) return Fail(sub.error().Wrap("subscribing to " + c.subject));
  svc->sub_ = std::move(*sub);
  if (auto flushed = svc->conn_->Flush(std::chrono::seconds(5)); !flushed)
    return Fail(flushed.error().Wrap("subscribing to " + c.subject));

  std::string sources_text;
  for (const auto& i : c.issuers) sources_text += (sources_text.empty() ? "" : ", ") + i.name;
  for (const auto& s : c.services)
    sources_text += (sources_text.empty() ? "service " : ", service ") + s.name;
  log.Info(kComponent, "serving " + c.subject + " in queue group " + c.queue_group + " on " +
                           svc->conn_->ConnectedUrl() + " as issuer " +
                           svc->handler_->IssuerPublicKey() + ", xkey " +
                           svc->handler_->XKeyPublicKey() + "; " + std::to_string(workers) +
                           " workers; identities from " + sources_text);
  return svc;
}

Status CalloutService::StartHttp() {
  if (config_.http_listen.empty()) return Ok();
  const auto colon = config_.http_listen.rfind(':');
  http::ServerOptions so;
  so.host = config_.http_listen.substr(0, colon);
  so.port = static_cast<uint16_t>(std::stoi(config_.http_listen.substr(colon + 1)));
  http_ = std::make_unique<http::Server>(so);
  http_->Get("/healthz", [](const http::Request&) { return http::Text(200, "ok\n"); });
  http_->Get("/readyz", [this](const http::Request&) {
    return IsReady() ? http::Text(200, "ready\n")
                     : http::Text(503, "not ready: keys not loaded or not subscribed\n");
  });
  http_->Get("/metrics", [this](const http::Request&) {
    http::Response r = http::Text(200, MetricsText());
    r.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
  if (auto started = http_->Start(); !started) return Fail(started.error().Wrap("http_listen"));
  return Ok();
}

Status CalloutService::LoadKeys(http::Client& http) {
  // One RemoteJwks per issuer, loaded in parallel: start-up time is the slowest IdP, not the sum.
  for (const IssuerSettings& is : config_.issuers) {
    jwt::RemoteJwksOptions options = JwksOptionsOf(is);
    options.wait_slots = wait_slots_;
    jwks_.push_back(std::make_unique<jwt::RemoteJwks>(std::move(options), http, clock_, log_));
  }
  std::vector<Status> results(jwks_.size());
  {
    std::vector<std::thread> loaders;
    for (size_t i = 0; i < jwks_.size(); ++i)
      loaders.emplace_back([this, i, &results] { results[i] = jwks_[i]->Load(); });
    for (auto& t : loaders) t.join();
  }
  for (size_t i = 0; i < jwks_.size(); ++i) {
    const IssuerSettings& is = config_.issuers[i];
    if (!results[i]) {
      if (!is.optional)
        return Fail(results[i].error().Wrap("issuer " + is.name + ": cannot load its keys"));
      log_.Warn(kComponent, "issuer " + is.name + " is optional and has no keys yet (" +
                                results[i].error().message +
                                "); its tokens are refused as keys_unavailable until they load");
    }
    jwks_[i]->Start();
  }
  return Ok();
}

Status CalloutService::StartRevocation(const std::string& system_password) {
  const CalloutConfig& c = config_;
  if (c.system.enabled() || !system_password.empty()) {
    NATSTACK_ASSIGN_OR_RETURN(std::string password,
                              Secret(system_password, c.system.password_file,
                                     "system account password", "system.password_file",
                                     "NATS_SYS_USER_PASSWORD"));
    nats_client::ConnectOptions co;
    co.servers = c.system.servers.empty() ? c.servers : c.system.servers;
    co.name = "natstack-callout-revocation";
    co.user = c.system.user;
    co.password = password;
    co.ca_file = c.ca_file;
    co.max_reconnect = -1;
    co.allow_reconnect = true;
    Logger& lg = log_;
    co.on_error = [&lg](const std::string& e) {
      lg.Warn("revocation", "system connection: " + e);
    };
    auto conn = nats_client::Connection::Connect(std::move(co));
    if (!conn) {
      return Fail(conn.error().Wrap("the callout cannot connect as system user '" + c.system.user +
                                    "' (needed to close revoked connections)"));
    }
    sys_conn_ = std::move(*conn);
    // Every account a rule, issuer or service may place identities in must exist on the
    // servers: found now rather than as refused connections later.
    NATSTACK_TRY(CheckAccountsExist(*sys_conn_, c.accounts, log_));
    kicker_ = std::make_unique<Kicker>(*sys_conn_, admissions_, clock_, log_);
  }
  if (c.revocation_file.empty()) return Ok();
  if (!kicker_) {
    log_.Warn(kComponent, "revocation_file without a system connection: revoked identities are "
                          "refused at their next connect, but live connections stay until their "
                          "user JWT expires (set system.password_file to close them at once)");
  }
  NATSTACK_ASSIGN_OR_RETURN(
      revocation_,
      RevocationWatcher::Start(c.revocation_file, std::chrono::milliseconds(c.revocation_poll_ms),
                               log_, [this](const DenyList& added) { OnRevoked(added); }));
  return Ok();
}

void CalloutService::OnRevoked(const DenyList& added) {
  if (!kicker_) return;
  const Kicker::Result r = kicker_->Kick(added);
  metrics_.RecordKick(r.closed, r.failures);
}

CalloutService::~CalloutService() { Stop(); }

void CalloutService::Stop() {
  if (stopped_.exchange(true)) return;
  sub_.reset();                   // no new requests; handlers in flight finish
  if (pool_) pool_->Stop();       // decisions queued are made and answered
  if (delayed_) delayed_->Stop();  // held-back refusals go out now
  if (revocation_) revocation_->Stop();  // no kick in progress past here
  conn_.reset();
  sys_conn_.reset();
  if (http_) http_->Stop();
  for (auto& j : jwks_) j->Stop();
}

bool CalloutService::IsReady() const {
  return !stopped_ && sub_ && conn_ && conn_->IsConnected();
}

std::string CalloutService::MetricsText() const {
  Metrics::State state;
  state.ready = IsReady();
  for (size_t i = 0; i < jwks_.size(); ++i) {
    const auto stats = jwks_[i]->Stats();
    Metrics::JwksState j;
    j.issuer = config_.issuers[i].name;
    j.fetch_failures = stats.failures;
    j.waits_refused = stats.waits_refused;
    j.keys = stats.key_count;
    j.refresh_interval_seconds = static_cast<double>(stats.refresh_interval.count());
    if (stats.last_success)
      j.age_seconds = std::chrono::duration<double>(clock_.Now() - *stats.last_success).count();
    state.jwks.push_back(std::move(j));
  }
  if (pool_) {
    const auto p = pool_->GetStats();
    state.workers = p.threads;
    state.queue_capacity = p.capacity;
    state.queue_depth = p.queued;
    state.running = p.running;
  }
  state.overloaded = overloaded_.load();
  if (revocation_) {
    const auto r = revocation_->GetStats();
    state.revoked_entries = r.entries;
    state.revocation_reloads = r.reloads;
    state.revocation_failures = r.failures;
  }
  if (delayed_) state.in_flight_delayed = delayed_->pending();
  return metrics_.Render(state);
}

void CalloutService::OnRequest(nats_client::Message&& msg) {
  const auto received = clock_.Monotonic();
  std::string reply(msg.Reply());
  auto opened = handler_->Open(msg.Data(), msg.Header("Nats-Server-Xkey"));
  if (!opened) {
    Finish(opened.error(), reply, received);
    return;
  }
  if (opened->request.expires > opened->request.issued_at)
    metrics_.ObserveAuthTimeout(opened->request.expires - opened->request.issued_at);
  auto request = std::make_shared<OpenedRequest>(std::move(*opened));
  const bool queued = pool_->TrySubmit([this, request, reply, received] {
    Finish(handler_->Decide(*request), reply, received);
  });
  if (!queued) {
    ++overloaded_;
    Finish(handler_->Refuse(*request, "overloaded", "every worker is busy and the queue is full"),
           reply, received);
  }
}

void CalloutService::Finish(const Outcome& outcome, const std::string& reply,
                            std::chrono::steady_clock::time_point received) {
  auto send = [this, reply](const std::string& payload) {
    if (auto sent = conn_->Respond(reply, payload); !sent)
      log_.Warn(kComponent, "reply failed: " + sent.error().message);
  };
  if (!outcome.response.empty() && !reply.empty()) {
    if (outcome.kind == Outcome::Kind::kRefused && delayed_) {
      delayed_->At(received + std::chrono::milliseconds(config_.refusal_delay_ms),
                   [send, payload = outcome.response] { send(payload); });
    } else {
      send(outcome.response);
    }
  }
  const auto took = clock_.Monotonic() - received;
  metrics_.Record(outcome, took, clock_.UnixSeconds());
  if (outcome.kind == Outcome::Kind::kAdmitted && !outcome.token_id.empty() && kicker_) {
    admissions_.Record(outcome.token_id, {outcome.server_id, outcome.client_id},
                       outcome.expires_at, clock_.UnixSeconds());
  }
  const std::string who = (outcome.user_id.empty() ? "" : " user=" + outcome.user_id) +
                          (outcome.source.empty() ? "" : " source=" + outcome.source);
  const std::string where = outcome.server.empty() ? "" : " server=" + outcome.server +
                                                              " cid=" +
                                                              std::to_string(outcome.client_id);
  const std::string detail = outcome.detail.empty() ? "" : " (" + outcome.detail + ")";
  switch (outcome.kind) {
    case Outcome::Kind::kAdmitted:
      log_.Info(kComponent, "admitted" + who + " account=" + outcome.account + where + " in " +
                                Millis(took) + detail);
      break;
    case Outcome::Kind::kRefused:
      log_.Info(kComponent, "refused reason=" + outcome.reason + who + where + " in " +
                                Millis(took) + detail);
      break;
    case Outcome::Kind::kDropped:
      log_.Warn(kComponent, "dropped reason=" + outcome.reason + who + where + " in " +
                                Millis(took) + detail);
      break;
  }
}

}  // namespace natstack::callout

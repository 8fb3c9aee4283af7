#include "callout/service.hpp"

#include <chrono>
#include <cstdio>

#include "callout/policy.hpp"
#include "core/file.hpp"

namespace natstack::callout {
namespace {

Result<std::string> ReadSecret(const std::string& path, const char* what) {
  auto value = ReadSecretValue(path);
  if (!value) return Fail(value.error().Wrap(what));
  return value;
}

}  // namespace

jwt::VerifierConfig VerifierConfigOf(const OidcSettings& oidc) {
  jwt::VerifierConfig vc;
  vc.issuer = oidc.issuer;
  vc.audiences = oidc.audiences;
  vc.algorithms = oidc.algorithms;
  vc.leeway = std::chrono::seconds(oidc.leeway_s);
  return vc;
}

Result<std::unique_ptr<CalloutService>> CalloutService::Start(CalloutConfig config,
                                                              http::Client& http,
                                                              const Clock& clock, Logger& log) {
  std::unique_ptr<CalloutService> svc(new CalloutService(std::move(config), clock, log));
  const CalloutConfig& c = svc->config_;

  NATSTACK_TRY(ValidateTemplate(c.permissions));
  if (c.permissions.allow_responses)
    log.Warn("callout", "permissions.allow_responses is on: a user that can receive its own "
                        "messages can publish to any subject it names as their reply subject");
  NATSTACK_ASSIGN_OR_RETURN(std::string issuer_seed, ReadSecret(c.issuer_seed_file, "issuer seed"));
  NATSTACK_ASSIGN_OR_RETURN(std::string xkey_seed, ReadSecret(c.xkey_seed_file, "xkey seed"));
  NATSTACK_ASSIGN_OR_RETURN(std::string password, ReadSecret(c.password_file, "callout password"));
  auto issuer = nkeys::KeyPair::FromSeed(issuer_seed);
  if (!issuer) return Fail(issuer.error().Wrap("issuer seed " + c.issuer_seed_file));
  if (issuer->role() != nkeys::Role::kAccount)
    return Fail(Code::kInvalidArgument,
                "issuer seed " + c.issuer_seed_file + " is not an account (SA...) seed");
  auto xkey = nkeys::XKey::FromSeed(xkey_seed);
  if (!xkey) return Fail(xkey.error().Wrap("xkey seed " + c.xkey_seed_file));

  // Keys before readiness: a token must never be refused for want of keys we could have had.
  http::RequestOptions http_options;
  http_options.ca_file = c.oidc.ca_file;
  http_options.timeout = std::chrono::seconds(5);
  std::string jwks_uri = c.oidc.jwks_uri;
  if (jwks_uri.empty()) {
    auto discovered = jwt::DiscoverJwksUri(http, c.oidc.issuer, http_options);
    if (!discovered) return Fail(discovered.error());
    jwks_uri = *discovered;
  }
  jwt::RemoteJwksOptions jwks_options;
  jwks_options.url = jwks_uri;
  jwks_options.request = http_options;
  svc->jwks_ = std::make_unique<jwt::RemoteJwks>(jwks_options, http, clock, log);
  if (auto loaded = svc->jwks_->Load(); !loaded)
    return Fail(loaded.error().Wrap("cannot fetch the JWKS"));
  svc->jwks_->Start();

  const jwt::VerifierConfig vc = VerifierConfigOf(c.oidc);
  svc->verifier_ = std::make_unique<jwt::OidcVerifier>(vc, *svc->jwks_, clock);
  svc->handler_ = std::make_unique<RequestHandler>(c, std::move(*issuer), std::move(*xkey),
                                                   *svc->verifier_, clock);

  nats_client::ConnectOptions co;
  co.servers = c.servers;
  co.name = "natstack-callout";
  co.user = c.user;
  co.password = password;
  co.ca_file = c.ca_file;
  co.send_asap = true;  // a reply waits ~1 ms for the flusher otherwise
  co.max_reconnect = -1;  // keep trying: clients cannot get in without us
  co.allow_reconnect = true;
  Logger& lg = log;
  co.on_disconnected = [&lg] { lg.Warn("callout", "disconnected from the cluster; reconnecting"); };
  co.on_reconnected = [&lg] { lg.Info("callout", "reconnected to the cluster"); };
  co.on_error = [&lg](const std::string& e) { lg.Warn("callout", "NATS error: " + e); };
  auto conn = nats_client::Connection::Connect(std::move(co));
  if (!conn) {
    return Fail(conn.error().Wrap(
        "the callout cannot connect as user '" + c.user +
        "' (check the servers, the CA file and that the user is in auth_users)"));
  }
  svc->conn_ = std::move(*conn);
  CalloutService* self = svc.get();
  auto sub = svc->conn_->QueueSubscribe(c.subject, c.queue_group,
                                        [self](nats_client::Message&& m) { self->OnRequest(std::move(m)); });
  if (!sub) return Fail(sub.error().Wrap("subscribing to " + c.subject));
  svc->sub_ = std::move(*sub);
  if (auto flushed = svc->conn_->Flush(std::chrono::seconds(5)); !flushed)
    return Fail(flushed.error().Wrap("subscribing to " + c.subject));

  if (!c.http_listen.empty()) {
    const auto colon = c.http_listen.rfind(':');
    http::ServerOptions so;
    so.host = c.http_listen.substr(0, colon);
    so.port = static_cast<uint16_t>(std::stoi(c.http_listen.substr(colon + 1)));
    svc->http_ = std::make_unique<http::Server>(so);
    svc->http_->Get("/healthz", [](const http::Request&) { return http::Text(200, "ok\n"); });
    svc->http_->Get("/readyz", [self](const http::Request&) {
      return self->IsReady() ? http::Text(200, "ready\n")
                             : http::Text(503, "not connected to the cluster\n");
    });
    svc->http_->Get("/metrics", [self](const http::Request&) {
      http::Response r = http::Text(200, self->MetricsText());
      r.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
      return r;
    });
    if (auto started = svc->http_->Start(); !started)
      return Fail(started.error().Wrap("http_listen"));
  }

  log.Info("callout", "serving " + c.subject + " in queue group " + c.queue_group + " on " +
                          svc->conn_->ConnectedUrl() + " as issuer " +
                          svc->handler_->IssuerPublicKey() + ", xkey " +
                          svc->handler_->XKeyPublicKey());
  return svc;
}

CalloutService::~CalloutService() { Stop(); }

void CalloutService::Stop() {
  if (http_) http_->Stop();
  sub_.reset();
  conn_.reset();
  if (jwks_) jwks_->Stop();
}

bool CalloutService::IsReady() const { return sub_ && conn_ && conn_->IsConnected(); }

std::string CalloutService::MetricsText() const {
  Metrics::JwksState state;
  if (jwks_) {
    const auto stats = jwks_->Stats();
    state.fetch_failures = stats.failures;
    state.keys = stats.key_count;
    if (stats.last_success)
      state.age_seconds = std::chrono::duration<double>(clock_.Now() - *stats.last_success).count();
  }
  return metrics_.Render(state);
}

void CalloutService::OnRequest(nats_client::Message&& msg) {
  const auto start = clock_.Monotonic();
  const Outcome outcome = handler_->Handle(msg.Data(), msg.Header("Nats-Server-Xkey"));
  if (!outcome.response.empty() && !msg.Reply().empty()) {
    if (auto sent = conn_->Respond(msg.Reply(), outcome.response); !sent)
      log_.Warn("callout", "reply failed: " + sent.error().message);
  }
  const auto took_ns = clock_.Monotonic() - start;
  metrics_.Record(outcome, took_ns);
  const double ms = std::chrono::duration<double, std::milli>(took_ns).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.2f ms", ms);
  switch (outcome.kind) {
    case Outcome::Kind::kAdmitted:
      log_.Info("callout", "admitted user=" + outcome.user_id + " server=" + outcome.server +
                               " in " + took);
      break;
    case Outcome::Kind::kRefused:
      log_.Info("callout", "refused reason=" + outcome.reason + " server=" + outcome.server +
                               " in " + took);
      break;
    case Outcome::Kind::kDropped:
      log_.Warn("callout", "dropped request reason=" + outcome.reason + " in " + took);
      break;
  }
}

}  // namespace natstack::callout

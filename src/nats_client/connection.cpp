#include "nats_client/connection.hpp"

#include <nats/nats.h>

#include <cstring>

namespace natstack::nats_client {
namespace {

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
using OptionsPtr = std::unique_ptr<natsOptions, OptionsDeleter>;

template <typename F>
void Guarded(F&& f) noexcept {
  try {
    f();
  } catch (...) {  // nothing may cross a C callback
  }
}

}  // namespace

Error StatusError(int status, std::string_view context) {
  const auto s = static_cast<natsStatus>(status);
  Code code = Code::kInternal;
  switch (s) {
    case NATS_TIMEOUT: code = Code::kDeadlineExceeded; break;
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS: code = Code::kUnavailable; break;
    case NATS_CONNECTION_AUTH_FAILED: code = Code::kUnauthenticated; break;
    case NATS_NOT_PERMITTED: code = Code::kPermissionDenied; break;
    case NATS_SSL_ERROR:
    case NATS_SECURE_CONNECTION_REQUIRED:
    case NATS_SECURE_CONNECTION_WANTED: code = Code::kFailedPrecondition; break;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT: code = Code::kInvalidArgument; break;
    default: break;
  }
  std::string text(natsStatus_GetText(s));
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && text.find(last) == std::string::npos) {
    text += " (" + std::string(last) + ")";
  }
  return Error{code, std::string(context) + ": " + text};
}

// --- Message ---------------------------------------------------------------------------------

Message::Message(natsMsg* msg) : msg_(msg) {}
Message::Message(Message&& other) noexcept : msg_(other.msg_) { other.msg_ = nullptr; }
Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    if (msg_ != nullptr) natsMsg_Destroy(msg_);
    msg_ = other.msg_;
    other.msg_ = nullptr;
  }
  return *this;
}
Message::~Message() {
  if (msg_ != nullptr) natsMsg_Destroy(msg_);
}
std::string_view Message::Subject() const {
  const char* s = natsMsg_GetSubject(msg_);
  return s == nullptr ? std::string_view() : std::string_view(s);
}
std::string_view Message::Reply() const {
  const char* s = natsMsg_GetReply(msg_);
  return s == nullptr ? std::string_view() : std::string_view(s);
}
std::string_view Message::Data() const {
  const char* d = natsMsg_GetData(msg_);
  const int n = natsMsg_GetDataLength(msg_);
  return d == nullptr || n <= 0 ? std::string_view() : std::string_view(d, static_cast<size_t>(n));
}
std::optional<std::string> Message::Header(const char* key) const {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg_, key, &value) != NATS_OK || value == nullptr) return std::nullopt;
  return std::string(value);
}

// --- Subscription ----------------------------------------------------------------------------

Subscription::~Subscription() {
  if (sub_ != nullptr) {
    // Drain, then wait for it: a handler still running on nats.c's thread finishes before
    // `handler_` is destroyed. On a closed connection the drain fails and no handler can run.
    const bool connected =
        nc_ != nullptr && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
    if (connected && natsSubscription_Drain(sub_) == NATS_OK) {
      natsSubscription_WaitForDrainCompletion(sub_, 2000);
    } else {
      natsSubscription_Unsubscribe(sub_);
    }
    natsSubscription_Destroy(sub_);
  }
}

void Subscription::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  Message message(msg);
  auto* self = static_cast<Subscription*>(closure);
  Guarded([&] { self->handler_(std::move(message)); });
}

Result<Message> Subscription::Next(std::chrono::milliseconds timeout) {
  natsMsg* msg = nullptr;
  const natsStatus s = natsSubscription_NextMsg(&msg, sub_, timeout.count());
  if (s != NATS_OK) return Fail(StatusError(s, "waiting for a message"));
  return Message(msg);
}

Status Subscription::Unsubscribe() {
  const natsStatus s = natsSubscription_Unsubscribe(sub_);
  if (s != NATS_OK) return Fail(StatusError(s, "unsubscribe"));
  return Ok();
}

// --- Connection ------------------------------------------------------------------------------

struct ConnectionCallbacks {
  static void OnError(natsConnection* nc, natsSubscription*, natsStatus status, void* closure);
  static void OnDisconnected(natsConnection*, void* closure);
  static void OnReconnected(natsConnection*, void* closure);
  static void OnClosed(natsConnection*, void* closure);
  static const char* OnToken(void* closure);
};

void ConnectionCallbacks::OnError(natsConnection* nc, natsSubscription*, natsStatus status,
                                  void* closure) {
  auto* self = static_cast<Connection*>(closure);
  if (!self->options_.on_error) return;
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::string message = natsStatus_GetText(status);
  if (text != nullptr && *text != '\0') message = text;
  Guarded([&] { self->options_.on_error(message); });
}
void ConnectionCallbacks::OnDisconnected(natsConnection*, void* closure) {
  auto* self = static_cast<Connection*>(closure);
  if (self->options_.on_disconnected && !self->closing_) Guarded([&] { self->options_.on_disconnected(); });
}
void ConnectionCallbacks::OnReconnected(natsConnection*, void* closure) {
  auto* self = static_cast<Connection*>(closure);
  if (self->options_.on_reconnected) Guarded([&] { self->options_.on_reconnected(); });
}
void ConnectionCallbacks::OnClosed(natsConnection*, void* closure) {
  auto* self = static_cast<Connection*>(closure);
  // Under the lock to the end: once the destructor sees closed_done_ and takes the lock,
  // this thread no longer touches `self`.
  std::lock_guard<std::mutex> lock(self->closed_mu_);
  if (self->options_.on_closed) Guarded([&] { self->options_.on_closed(); });
  self->closed_done_ = true;
  self->closed_cv_.notify_all();
}
const char* ConnectionCallbacks::OnToken(void* closure) {
  auto* self = static_cast<Connection*>(closure);
  Guarded([&] { self->token_buffer_ = self->options_.token_handler(); });
  return self->token_buffer_.c_str();
}

Result<std::unique_ptr<Connection>> Connection::Connect(ConnectOptions options) {
  if (options.servers.empty()) return Fail(Code::kInvalidArgument, "no NATS server URL given");
  std::unique_ptr<Connection> conn(new Connection());
  conn->options_ = std::move(options);
  const ConnectOptions& o = conn->options_;

  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  if (s != NATS_OK) return Fail(StatusError(s, "natsOptions_Create"));
  OptionsPtr opts(raw);

  std::vector<const char*> urls;
  for (const auto& u : o.servers) urls.push_back(u.c_str());
  s = natsOptions_SetServers(raw, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK && !o.name.empty()) s = natsOptions_SetName(raw, o.name.c_str());
  if (s == NATS_OK && !o.user.empty())
    s = natsOptions_SetUserInfo(raw, o.user.c_str(), o.password.c_str());
  if (s == NATS_OK && o.token_handler) {
    s = natsOptions_SetTokenHandler(raw, &ConnectionCallbacks::OnToken, conn.get());
  } else if (s == NATS_OK && !o.token.empty()) {
    s = natsOptions_SetToken(raw, o.token.c_str());
  }
  if (s == NATS_OK && !o.ca_file.empty()) {
    s = natsOptions_LoadCATrustedCertificates(raw, o.ca_file.c_str());
    if (s != NATS_OK) return Fail(StatusError(s, "loading CA file " + o.ca_file));
  }
  if (s == NATS_OK && !o.inbox_prefix.empty())
    s = natsOptions_SetCustomInboxPrefix(raw, o.inbox_prefix.c_str());
  if (s == NATS_OK && o.secure) s = natsOptions_SetSecure(raw, true);
  if (s == NATS_OK) s = natsOptions_SetTimeout(raw, o.timeout.count());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(raw, o.allow_reconnect);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(raw, o.max_reconnect);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(raw, o.reconnect_wait.count());
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(raw, o.no_randomize);
  if (s == NATS_OK && o.ignore_discovered_servers)
    s = natsOptions_SetIgnoreDiscoveredServers(raw, true);
  if (s == NATS_OK) s = natsOptions_SetSendAsap(raw, o.send_asap);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(raw, &ConnectionCallbacks::OnError, conn.get());
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB(raw, &ConnectionCallbacks::OnDisconnected, conn.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(raw, &ConnectionCallbacks::OnReconnected, conn.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(raw, &ConnectionCallbacks::OnClosed, conn.get());
  if (s != NATS_OK) return Fail(StatusError(s, "setting NATS connection options"));

  s = natsConnection_Connect(&conn->nc_, raw);
  if (s != NATS_OK) {
    conn->nc_ = nullptr;
    std::string where = "connecting to " + o.servers.front();
    if (o.servers.size() > 1) where += " (and " + std::to_string(o.servers.size() - 1) + " more)";
    return Fail(StatusError(s, where));
  }
  return conn;
}

Connection::~Connection() {
  closing_ = true;
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    {
      std::unique_lock<std::mutex> lock(closed_mu_);
      closed_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return closed_done_; });
    }
    natsConnection_Destroy(nc_);
  }
}

Status Connection::Publish(std::string_view subject, std::string_view data,
                           std::string_view reply) {
  if (subject.empty()) return Fail(Code::kInvalidArgument, "publish: empty subject");
  natsMsg* msg = nullptr;
  const std::string subj(subject);
  const std::string rep(reply);
  natsStatus s = natsMsg_Create(&msg, subj.c_str(), rep.empty() ? nullptr : rep.c_str(),
                                data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return Fail(StatusError(s, "publish " + subj));
  s = natsConnection_PublishMsg(nc_, msg);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) return Fail(StatusError(s, "publish " + subj));
  return Ok();
}

Result<Message> Connection::Request(std::string_view subject, std::string_view data,
                                    std::chrono::milliseconds timeout) {
  natsMsg* reply = nullptr;
  const std::string subj(subject);
  const natsStatus s = natsConnection_Request(&reply, nc_, subj.c_str(), data.data(),
                                              static_cast<int>(data.size()), timeout.count());
  if (s != NATS_OK) return Fail(StatusError(s, "request " + subj));
  return Message(reply);
}

Result<std::unique_ptr<Subscription>> Connection::SubscribeSync(const std::string& subject) {
  std::unique_ptr<Subscription> sub(new Subscription());
  sub->nc_ = nc_;
  const natsStatus s = natsConnection_SubscribeSync(&sub->sub_, nc_, subject.c_str());
  if (s != NATS_OK) {
    sub->sub_ = nullptr;
    return Fail(StatusError(s, "subscribe " + subject));
  }
  return sub;
}

Result<std::unique_ptr<Subscription>> Connection::Subscribe(const std::string& subject,
                                                            Subscription::Handler handler) {
  return QueueSubscribe(subject, "", std::move(handler));
}

Result<std::unique_ptr<Subscription>> Connection::QueueSubscribe(const std::string& subject,
                                                                 const std::string& queue,
                                                                 Subscription::Handler handler) {
  std::unique_ptr<Subscription> sub(new Subscription());
  sub->nc_ = nc_;
  sub->handler_ = std::move(handler);
  const natsStatus s =
      queue.empty()
          ? natsConnection_Subscribe(&sub->sub_, nc_, subject.c_str(), &Subscription::OnMessage,
                                     sub.get())
          : natsConnection_QueueSubscribe(&sub->sub_, nc_, subject.c_str(), queue.c_str(),
                                          &Subscription::OnMessage, sub.get());
  if (s != NATS_OK) {
    sub->sub_ = nullptr;
    return Fail(StatusError(s, "subscribe " + subject));
  }
  return sub;
}

Status Connection::Flush(std::chrono::milliseconds timeout) {
  const natsStatus s = natsConnection_FlushTimeout(nc_, timeout.count());
  if (s != NATS_OK) return Fail(StatusError(s, "flush"));
  return Ok();
}

std::string Connection::ConnectedUrl() const {
  char buf[512] = {0};
  if (natsConnection_GetConnectedUrl(nc_, buf, sizeof buf) != NATS_OK) return {};
  return buf;
}

std::string Connection::ConnectedServerId() const {
  char buf[128] = {0};
  if (natsConnection_GetConnectedServerId(nc_, buf, sizeof buf) != NATS_OK) return {};
  return buf;
}

std::string Connection::LastError() const {
  const char* text = nullptr;
  natsConnection_GetLastError(nc_, &text);
  return text == nullptr ? std::string() : std::string(text);
}

bool Connection::IsClosed() const { return natsConnection_IsClosed(nc_); }
bool Connection::IsConnected() const {
  return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}
void Connection::Close() {
  closing_ = true;
  natsConnection_Close(nc_);
}

}  // namespace natstack::nats_client

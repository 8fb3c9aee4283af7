#pragma once
/// RAII over nats.c (libnats 3.4.1): connection, subscription and message handles.
///
/// Threading: nats.c calls message handlers on the subscription's own thread and the
/// connection callbacks on its internal callback thread. Handlers must not throw (nothing may
/// cross a C callback); exceptions are caught and dropped at the boundary. A Connection must
/// outlive its Subscriptions.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __natsOptions;

namespace natstack::nats_client {

/// A received message. Owns its natsMsg.
class Message {
 public:
  explicit Message(__natsMsg* msg);
  Message(Message&&) noexcept;
  Message& operator=(Message&&) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message();

  std::string_view Subject() const;
  std::string_view Reply() const;  ///< "" when none
  std::string_view Data() const;
  /// First value of a header, or nullopt.
  std::optional<std::string> Header(const char* key) const;

 private:
  __natsMsg* msg_;
};

struct ConnectOptions {
  std::vector<std::string> servers;  ///< "tls://127.0.1.1:4222", ...
  std::string name;                  ///< connection name shown in connz
  std::string user;
  std::string password;  ///< secret: never logged
  std::string token;     ///< secret: never logged
  /// Called on every (re)connect to get a fresh token; overrides `token` when set.
  std::function<std::string()> token_handler;
  std::string ca_file;  ///< trust these roots for TLS (PEM file)
  /// Prefix of reply inboxes ("_INBOX_alice" gives "_INBOX_alice.<id>"); "" = "_INBOX".
  std::string inbox_prefix;
  bool secure = false;  ///< require TLS
  std::chrono::milliseconds timeout{2000};
  bool allow_reconnect = true;
  int max_reconnect = 60;
  std::chrono::milliseconds reconnect_wait{250};
  bool no_randomize = false;
  /// Use only `servers`, never the servers a server announces (to probe one node).
  bool ignore_discovered_servers = false;
  bool send_asap = false;  ///< flush after every publish (responders)
  /// Async errors (e.g. "Permissions Violation for Publish to ..."), disconnects, closes.
  std::function<void(const std::string& error)> on_error;
  std::function<void()> on_disconnected;
  std::function<void()> on_reconnected;
  std::function<void()> on_closed;
};

class Connection;

/// A subscription. Async handlers run on nats.c's thread for this subscription.
class Subscription {
 public:
  using Handler = std::function<void(Message&&)>;
  /// Drains (handlers in flight finish, at most 2 s) when connected; unsubscribes otherwise.
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  /// Waits up to `timeout` for the next message (sync subscriptions only).
  /// kDeadlineExceeded on timeout.
  Result<Message> Next(std::chrono::milliseconds timeout);
  Status Unsubscribe();

 private:
  friend class Connection;
  Subscription() = default;
  static void OnMessage(__natsConnection*, __natsSubscription*, __natsMsg*, void* closure);
  __natsSubscription* sub_ = nullptr;
  __natsConnection* nc_ = nullptr;  // not owned
  Handler handler_;
};

class Connection {
 public:
  /// Connects (kUnavailable / kUnauthenticated / kPermissionDenied with nats.c's text).
  static Result<std::unique_ptr<Connection>> Connect(ConnectOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status Publish(std::string_view subject, std::string_view data, std::string_view reply = {});
  /// Publishes to `reply` (responder side); no-op error when reply is empty.
  Status Respond(std::string_view reply, std::string_view data) { return Publish(reply, data); }
  Result<Message> Request(std::string_view subject, std::string_view data,
                          std::chrono::milliseconds timeout);
  Result<std::unique_ptr<Subscription>> SubscribeSync(const std::string& subject);
  Result<std::unique_ptr<Subscription>> Subscribe(const std::string& subject,
                                                  Subscription::Handler handler);
  Result<std::unique_ptr<Subscription>> QueueSubscribe(const std::string& subject,
                                                       const std::string& queue,
                                                       Subscription::Handler handler);
  /// Round trip to the server: all published messages were processed by it.
  Status Flush(std::chrono::milliseconds timeout);
  std::string ConnectedUrl() const;
  std::string ConnectedServerId() const;
  /// nats.c's last error text ("" if none).
  std::string LastError() const;
  bool IsClosed() const;
  bool IsConnected() const;
  void Close();

 private:
  friend struct ConnectionCallbacks;  // the C trampolines, defined in connection.cpp
  Connection() = default;

  ConnectOptions options_;
  std::string token_buffer_;  // keeps the handler's token alive while nats.c reads it
  std::atomic<bool> closing_{false};  // our own Close(): not a disconnect to report
  // nats.c runs the closed callback on its own thread after natsConnection_Close returns; the
  // destructor waits for it (the last callback nats.c delivers) before freeing `this`.
  std::mutex closed_mu_;
  std::condition_variable closed_cv_;
  bool closed_done_ = false;
  __natsConnection* nc_ = nullptr;
};

/// Maps a nats.c status to our error codes, with nats.c's text and `context`.
Error StatusError(int status, std::string_view context);

}  // namespace natstack::nats_client

#pragma once
/// A small HTTP(S) server over cpp-httplib, for health/metrics endpoints, the development
/// identity provider, the dashboard and loopback tests.
///
///   http::Server server({.host = "127.0.0.1", .port = 0});
///   server.Get("/healthz", [](const http::Request&) { return http::Text(200, "ok"); });
///   NATSTACK_TRY(server.Start());          // binds, then serves on its own thread
///   ... server.BoundPort() ...
///   server.Stop();                         // also done by the destructor

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "http/client.hpp"

namespace httplib {
class Server;
}

namespace natstack::http {
class EventServer;
}

namespace natstack::http {

/// What a handler sees.
struct Request {
  std::string method;                        ///< "GET", "POST", ... ("GET" also for HEAD requests)
  std::string path;                          ///< without the query string
  std::map<std::string, std::string> query;  ///< decoded; the last value wins
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
  std::string remote_addr;
};

/// Handlers answer with an http::Response: status, body, headers (e.g. "content-type"). They run
/// on the server's worker threads (concurrently); an exception thrown by one becomes a 500.
using Handler = std::function<Response(const Request&)>;

/// Helpers for handlers.
Response Text(int status, std::string body);  ///< text/plain; charset=utf-8
Response Json(int status, std::string body);  ///< application/json

/// Plain HTTP is served by one thread that multiplexes every connection (http/event_server.hpp):
/// a client that connects and sends nothing, or trickles its request, ties up a socket and not
/// a handler, so health and metrics endpoints keep answering. A request must arrive whole
/// within `read_timeout`; one request per connection. HTTPS (tls_cert_file) is served by
/// cpp-httplib's thread pool, for tests of TLS clients.
struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  ///< 0 = an ephemeral port; read it with BoundPort() after Bind/Start
  /// Both set = HTTPS with this PEM certificate chain and key.
  std::string tls_cert_file;
  std::string tls_key_file;
  size_t max_request_body_bytes = 1024 * 1024;
  std::chrono::seconds read_timeout{5};   ///< a whole request, from accept
  std::chrono::seconds write_timeout{5};  ///< a whole answer
  size_t max_connections = 1024;  ///< open at once; more are closed at accept
  size_t handler_threads = 8;     ///< handlers run here; their queue full: 503 at once
};

/// Thread-safe: routes may be added before or after Start(). Not copyable or movable.
class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  ///< Stop()s and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Routes. `path` matches exactly, or as a prefix when it ends with '*' ("/static/*").
  /// A later registration of the same method and path replaces the earlier one.
  /// Unknown paths get 404, a known path with another method 405.
  void Get(const std::string& path, Handler handler);
  void Post(const std::string& path, Handler handler);
  void Handle(const std::string& method, const std::string& path, Handler handler);

  /// Binds the listening socket (optional; Start() binds if needed). Errors: kAlreadyExists
  /// ("127.0.0.1:9400 is already in use"), kPermissionDenied (privileged port),
  /// kInvalidArgument (address not available / unresolvable, bad TLS files), kFailedPrecondition
  /// (already bound or stopped).
  Status Bind();
  /// Binds if needed and serves on a background thread; returns once the server accepts.
  Status Start();
  /// Stops accepting, finishes in-flight requests and joins the thread. Idempotent. A stopped
  /// server cannot be started again.
  void Stop();

  /// The bound port (0 before Bind/Start).
  uint16_t BoundPort() const { return bound_port_.load(); }
  /// "http://host:port" (or https), no trailing slash; IPv6 hosts are bracketed.
  std::string BaseUrl() const;
  bool IsRunning() const;

 private:
  struct Route {
    std::string method;
    std::string path;
    bool prefix = false;
    Handler handler;
  };
  Response Dispatch(const Request& request) const;
  void StartListenThreadLocked();

  ServerOptions options_;
  std::unique_ptr<httplib::Server> server_;  // HTTPS only
  std::unique_ptr<EventServer> event_;       // plain HTTP
  std::atomic<uint16_t> bound_port_{0};
  mutable std::mutex mu_;  // guards routes_, state
  std::vector<Route> routes_;
  bool bound_ = false;
  bool stopped_ = false;
  std::thread thread_;
  std::atomic<bool> listen_done_{false};
  std::mutex stop_mu_;  // serialises Stop() calls
};

}  // namespace natstack::http

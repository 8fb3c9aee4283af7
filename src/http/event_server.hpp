#pragma once
/// The plain-HTTP engine behind http::Server: one thread multiplexes every connection with
/// poll(), so a client that connects and sends nothing (or a byte a second) holds a socket, not
/// a worker. A request must arrive whole within `read_timeout` of its connection; only then is
/// it handed to a small pool of handler threads. One request per connection (answered with
/// `Connection: close`). Internal to the http library.
///
/// Limits: request head 16 KiB (431), body `max_request_body_bytes` (413), no chunked request
/// bodies (411/501), at most `max_connections` open connections (more are closed at accept),
/// handlers busy and their queue full: 503 at once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "http/client.hpp"

namespace natstack {
class WorkerPool;
}

namespace natstack::http {

struct Request;

struct EventServerOptions {
  std::string host;
  uint16_t port = 0;
  size_t max_request_body_bytes = 1024 * 1024;
  std::chrono::milliseconds read_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(5)};
  size_t max_connections = 1024;
  size_t handler_threads = 8;
  size_t handler_queue = 256;
};

class EventServer {
 public:
  using Dispatcher = std::function<Response(const Request&)>;
  EventServer(EventServerOptions options, Dispatcher dispatch);
  ~EventServer();  ///< Stop()
  EventServer(const EventServer&) = delete;
  EventServer& operator=(const EventServer&) = delete;

  /// Binds and listens. The errors http::Server::Bind documents.
  Status Bind();
  /// Starts the loop thread (binds first if needed).
  Status Start();
  /// Closes the listener and every connection, waits for running handlers. Idempotent.
  void Stop();
  uint16_t BoundPort() const { return bound_port_.load(); }
  bool IsRunning() const { return running_.load(); }

 private:
  struct Connection;
  void Loop();
  void Accept();
  void OnReadable(Connection& c);
  void OnWritable(Connection& c);
  void Submit(Connection& c, Request request);
  void Answer(Connection& c, const Response& response, bool head);
  void Wake();

  EventServerOptions options_;
  Dispatcher dispatch_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<uint16_t> bound_port_{0};
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::unique_ptr<WorkerPool> pool_;
  std::vector<std::unique_ptr<Connection>> connections_;  // loop thread only
  uint64_t next_id_ = 1;
  // Answers from handler threads, picked up by the loop.
  std::mutex done_mu_;
  std::vector<std::pair<uint64_t, std::string>> done_;
  std::mutex stop_mu_;
};

/// Parses one request head ("GET /p?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", without the body) into
/// `request`; returns 0 on success, else the HTTP status to refuse it with (400, 431, 501, 505).
/// `content_length` gets the body length the head announces (0 when none). Exposed for tests.
int ParseRequestHead(std::string_view head, Request& request, size_t& content_length,
                     bool& expect_continue);

}  // namespace natstack::http

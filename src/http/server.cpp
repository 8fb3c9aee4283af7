#include "http/server.hpp"

#include "http/event_server.hpp"
#include "http/listener.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

namespace natstack::http {
namespace {

// cpp-httplib's default socket options set SO_REUSEPORT, which lets a second server bind a port
// that is already serving. Use SO_REUSEADDR only (restart without TIME_WAIT trouble) and keep the
// listening socket out of child processes.
void ListenSocketOptions(int sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  const int flags = ::fcntl(sock, F_GETFD);
  if (flags >= 0) ::fcntl(sock, F_SETFD, flags | FD_CLOEXEC);
}

// httplib reports a failed bind as `false`; find out why by trying the same bind ourselves.
Error DiagnoseBindFailure(const std::string& host, uint16_t port) {
  auto fd = OpenListener(host, port, 1, /*nonblocking=*/false);
  if (!fd) return fd.error();
  ::close(*fd);
  return Error{Code::kUnavailable,
               "cannot listen on " + HostPort(host, port) + " (transient failure)"};
}

bool PathMatches(const std::string& route, bool prefix, const std::string& path) {
  if (prefix) return path.compare(0, route.size(), route) == 0;
  return path == route;
}

}  // namespace

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers["content-type"] = "text/plain; charset=utf-8";
  return r;
}

Response Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers["content-type"] = "application/json";
  return r;
}

Server::Server(ServerOptions options) : options_(std::move(options)) {
  if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) {
    EventServerOptions eo;
    eo.host = options_.host;
    eo.port = options_.port;
    eo.max_request_body_bytes = options_.max_request_body_bytes;
    eo.read_timeout = options_.read_timeout;
    eo.write_timeout = options_.write_timeout;
    eo.max_connections = options_.max_connections;
    eo.handler_threads = options_.handler_threads;
    event_ = std::make_unique<EventServer>(eo, [this](const Request& r) { return Dispatch(r); });
    return;
  }
  server_ = std::make_unique<httplib::SSLServer>(options_.tls_cert_file.c_str(),
                                                 options_.tls_key_file.c_str());
  server_->set_socket_options([](socket_t sock) { ListenSocketOptions(sock); });
  server_->set_payload_max_length(options_.max_request_body_bytes);
  server_->set_read_timeout(options_.read_timeout);
  server_->set_write_timeout(options_.write_timeout);
  server_->set_keep_alive_timeout(5);
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
        res.status = 500;
        res.set_content("internal error\n", "text/plain; charset=utf-8");
      });

  auto bridge = [this](const httplib::Request& req, httplib::Response& res) {
    Request request;
    request.method = req.method == "HEAD" ? "GET" : req.method;
    request.path = req.path;
    for (const auto& [k, v] : req.params) request.query[k] = v;
    for (const auto& [k, v] : req.headers) {
      std::string name = k;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto [it, inserted] = request.headers.emplace(name, v);
      if (!inserted) it->second += ", " + v;
    }
    request.body = req.body;
    request.remote_addr = req.remote_addr;
    Response response;
    try {
      response = Dispatch(request);
    } catch (...) {
      response = Text(500, "internal error\n");
    }
    res.status = response.status > 0 ? response.status : 500;
    std::string content_type = "text/plain; charset=utf-8";
    for (const auto& [name, value] : response.headers) {
      if (name == "content-type") {
        content_type = value;
      } else if (name != "content-length") {
        res.set_header(name, value);
      }
    }
    res.set_content(response.body, content_type);
  };
  server_->Get(".*", bridge);
  server_->Post(".*", bridge);
  server_->Put(".*", bridge);
  server_->Patch(".*", bridge);
  server_->Delete(".*", bridge);
  server_->Options(".*", bridge);
}

Server::~Server() { Stop(); }

void Server::Get(const std::string& path, Handler handler) {
  Handle("GET", path, std::move(handler));
}

void Server::Post(const std::string& path, Handler handler) {
  Handle("POST", path, std::move(handler));
}

void Server::Handle(const std::string& method, const std::string& path, Handler handler) {
  Route route;
  route.method = method;
  route.prefix = !path.empty() && path.back() == '*';
  route.path = route.prefix ? path.substr(0, path.size() - 1) : path;
  route.handler = std::move(handler);
  std::lock_guard<std::mutex> lock(mu_);
  for (Route& r : routes_) {
    if (r.method == route.method && r.path == route.path && r.prefix == route.prefix) {
      r = std::move(route);
      return;
    }
  }
  routes_.push_back(std::move(route));
}

Response Server::Dispatch(const Request& request) const {
  Handler handler;
  bool path_known = false;
  std::string allow;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Route* best = nullptr;
    for (const Route& r : routes_) {
      if (!PathMatches(r.path, r.prefix, request.path)) continue;
      path_known = true;
      if (r.method != request.method) {
        if (allow.find(r.method) == std::string::npos)
          allow += (allow.empty() ? "" : ", ") + r.method;
        continue;
      }
      // Exact routes beat prefixes; longer prefixes beat shorter ones.
      if (best == nullptr || (best->prefix && !r.prefix) ||
          (best->prefix && r.prefix && r.path.size() > best->path.size())) {
        best = &r;
      }
    }
    if (best != nullptr) handler = best->handler;
  }
  if (handler) return handler(request);
  if (path_known) {
    Response r = Text(405, "method not allowed\n");
    r.headers["allow"] = allow;
    return r;
  }
  return Text(404, "not found\n");
}

Status Server::Bind() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return Fail(Code::kFailedPrecondition, "server was stopped");
  if (bound_) return Fail(Code::kFailedPrecondition, "server is already bound");
  if (event_) {
    NATSTACK_TRY(event_->Bind());
    bound_port_ = event_->BoundPort();
    bound_ = true;
    return Ok();
  }
  if (!server_->is_valid()) {
    return Fail(Code::kInvalidArgument, "cannot load TLS certificate " + options_.tls_cert_file +
                                            " / key " + options_.tls_key_file);
  }
  if (options_.port == 0) {
    const int port = server_->bind_to_any_port(options_.host);
    if (port <= 0) return Fail(DiagnoseBindFailure(options_.host, 0));
    bound_port_ = static_cast<uint16_t>(port);
  } else {
    if (!server_->bind_to_port(options_.host, options_.port))
      return Fail(DiagnoseBindFailure(options_.host, options_.port));
    bound_port_ = options_.port;
  }
  bound_ = true;
  return Ok();
}

Status Server::Start() {
  bool need_bind = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Fail(Code::kFailedPrecondition, "server was stopped");
    if (thread_.joinable()) return Fail(Code::kFailedPrecondition, "server is already running");
    need_bind = !bound_;
  }
  if (need_bind) NATSTACK_TRY(Bind());
  if (event_) {
    std::lock_guard<std::mutex> lock(mu_);
    if (event_->IsRunning()) return Fail(Code::kFailedPrecondition, "server is already running");
    return event_->Start();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    StartListenThreadLocked();
  }
  // listen_after_bind() marks the server running before it accepts, and httplib's stop() only
  // works after that: wait for it (microseconds in practice).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running()) {
    if (listen_done_.load())
      return Fail(Code::kInternal, "HTTP server on " + BaseUrl() + " exited");
    if (std::chrono::steady_clock::now() > deadline)
      return Fail(Code::kDeadlineExceeded, "HTTP server on " + BaseUrl() + " did not start");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return Ok();
}

void Server::StartListenThreadLocked() {
  listen_done_ = false;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_done_ = true;
  });
}

void Server::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (event_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    event_->Stop();
    return;
  }
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ && !thread_.joinable()) return;
    stopped_ = true;
    // httplib closes a bound listening socket only from a running listen loop: run it briefly.
    if (bound_ && !thread_.joinable()) StartListenThreadLocked();
    thread = std::move(thread_);
  }
  if (!thread.joinable()) return;
  while (!server_->is_running() && !listen_done_.load()) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  server_->stop();
  thread.join();
}

std::string Server::BaseUrl() const {
  const bool tls = !options_.tls_cert_file.empty();
  return std::string(tls ? "https://" : "http://") + HostPort(options_.host, BoundPort());
}

bool Server::IsRunning() const { return event_ ? event_->IsRunning() : server_->is_running(); }

}  // namespace natstack::http

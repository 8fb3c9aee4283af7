#include "http/event_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/worker_pool.hpp"
#include "http/listener.hpp"
#include "http/server.hpp"

namespace natstack::http {
namespace {

using Steady = std::chrono::steady_clock;
constexpr size_t kMaxHead = 16 * 1024;

const char* Reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// %XX decoding (and '+' as a space in queries); false for a broken escape or a NUL.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;  // two hex digits must follow
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return false;
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}


}  // namespace

int ParseRequestHead(std::string_view head, Request& request, size_t& content_length,
                     bool& expect_continue) {
  content_length = 0;
  expect_continue = false;
  const size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) return 400;
  const std::string_view line = head.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos)
    return 400;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || method.size() > 16 ||
      !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    return 400;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return version.substr(0, 5) == "HTTP/" ? 505 : 400;
  }
  if (target.empty() || target.front() != '/') return 400;  // origin-form only
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) return 400;
  const size_t q = target.find('?');
  if (!PercentDecode(target.substr(0, q), false, request.path)) return 400;
  request.method = method == "HEAD" ? "GET" : std::string(method);
  request.query.clear();
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      std::string key, value;
      if (!PercentDecode(pair.substr(0, eq), true, key)) return 400;
      if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, value))
        return 400;
      request.query[key] = value;  // the last value wins
    }
  }
  request.headers.clear();
  bool have_length = false;
  size_t pos = line_end + 2;
  while (pos < head.size()) {
    const size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) return 400;
    const std::string_view h = head.substr(pos, end - pos);
    pos = end + 2;
    if (h.empty()) break;
    if (h.front() == ' ' || h.front() == '\t') return 400;  // obsolete line folding
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return 400;
    std::string name(h.substr(0, colon));
    for (unsigned char c : name)
      if (!IsTokenChar(c)) return 400;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    for (unsigned char c : value)
      if ((c < 0x20 && c != '\t') || c == 0x7f) return 400;
    if (name == "transfer-encoding") return 501;  // no chunked request bodies
    if (name == "content-length") {
      if (value.empty() || value.size() > 12 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return 400;
      const size_t n = std::stoull(std::string(value));
      if (have_length && n != content_length) return 400;
      have_length = true;
      content_length = n;
    }
    if (name == "expect") {
      std::string v(value);
      std::transform(v.begin(), v.end(), v.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (v != "100-continue") return 417;
      expect_continue = true;
    }
    auto [it, inserted] = request.headers.emplace(name, std::string(value));
    if (!inserted) it->second += ", " + std::string(value);
  }
  return 0;
}

struct EventServer::Connection {
  uint64_t id = 0;
  int fd = -1;
  enum class State { kReading, kHandling, kWriting } state = State::kReading;
  std::string in;
  size_t head_end = std::string::npos;  // where the body starts
  size_t body_length = 0;
  bool head_only = false;  // a HEAD request: no body in the answer
  std::string out;
  size_t sent = 0;
  Steady::time_point deadline;
  std::string remote;
  Request request;
};

EventServer::EventServer(EventServerOptions options, Dispatcher dispatch)
    : options_(std::move(options)), dispatch_(std::move(dispatch)) {}

EventServer::~EventServer() { Stop(); }

Status EventServer::Bind() {
  NATSTACK_ASSIGN_OR_RETURN(listen_fd_,
                            OpenListener(options_.host, options_.port, 512, /*nonblocking=*/true));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port_ = ntohs(bound.ss_family == AF_INET6
                          ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Ok();
}

Status EventServer::Start() {
  if (listen_fd_ < 0) NATSTACK_TRY(Bind());
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Fail(Code::kInternal, std::string("eventfd: ") + std::strerror(errno));
  pool_ = std::make_unique<WorkerPool>(std::max<size_t>(1, options_.handler_threads),
                                       std::max<size_t>(1, options_.handler_queue));
  running_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Ok();
}

void EventServer::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  stopping_ = true;
  if (thread_.joinable()) {
    Wake();
    thread_.join();
  }
  if (pool_) pool_->Stop();  // handlers in flight finish; their answers are dropped
  for (auto& c : connections_) ::close(c->fd);
  connections_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  running_ = false;
}

void EventServer::Wake() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

void EventServer::Accept() {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error for this one connection
    if (connections_.size() >= options_.max_connections) {
      // Full: the oldest connection still sending its request makes room (a flood of idle
      // connections cannot lock everyone out); when every one is being answered, the newest goes.
      auto oldest = std::find_if(connections_.begin(), connections_.end(), [](const auto& c) {
        return c->state == Connection::State::kReading;
      });
      if (oldest == connections_.end()) {
        ::close(fd);
        continue;
      }
      ::close((*oldest)->fd);
      connections_.erase(oldest);
    }
    auto c = std::make_unique<Connection>();
    c->id = next_id_++;
    c->fd = fd;
    c->deadline = Steady::now() + options_.read_timeout;
    char buf[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET)
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, buf, sizeof buf);
    else if (peer.ss_family == AF_INET6)
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, buf, sizeof buf);
    c->remote = buf;
    connections_.push_back(std::move(c));
  }
}

void EventServer::Answer(Connection& c, const Response& response, bool head) {
  const int status = response.status > 0 ? response.status : 500;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
  bool has_type = false;
  for (const auto& [name, value] : response.headers) {
    if (name == "content-length" || name == "connection" || name == "transfer-encoding") continue;
    // A header value with a line break would split the answer: never sent.
    if (value.find_first_of("\r\n") != std::string::npos ||
        name.find_first_of("\r\n: ") != std::string::npos)
      continue;
    has_type = has_type || name == "content-type";
    out += name + ": " + value + "\r\n";
  }
  if (!has_type && !response.body.empty()) out += "content-type: text/plain; charset=utf-8\r\n";
  out += "content-length: " + std::to_string(response.body.size()) + "\r\n";
  out += "connection: close\r\n\r\n";
  if (!head && status != 204 && status != 304) out += response.body;
  c.out = std::move(out);
  c.sent = 0;
  c.state = Connection::State::kWriting;
  c.deadline = Steady::now() + options_.write_timeout;
}

void EventServer::Submit(Connection& c, Request request) {
  c.state = Connection::State::kHandling;
  const uint64_t id = c.id;
  const bool head = c.head_only;
  auto shared = std::make_shared<Request>(std::move(request));
  const bool queued = pool_->TrySubmit([this, id, head, shared] {
    Response response;
    try {
      response = dispatch_(*shared);
    } catch (...) {
      response = Text(500, "internal error\n");
    }
    Connection fake;
    Answer(fake, response, head);
    {
      std::lock_guard<std::mutex> lock(done_mu_);
      done_.emplace_back(id, std::move(fake.out));
    }
    Wake();
  });
  if (!queued) Answer(c, Text(503, "busy\n"), head);
}

void EventServer::OnReadable(Connection& c) {
  char buf[8192];
  bool eof = false;
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n == 0) {
      eof = true;  // the client is done sending (a whole request, or it gave up)
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      eof = true;
      break;
    }
    c.in.append(buf, static_cast<size_t>(n));
    if (c.head_end == std::string::npos && c.in.size() > kMaxHead + 4) break;
    if (c.head_end != std::string::npos && c.in.size() > c.head_end + c.body_length) break;
  }
  auto give_up = [&] {
    c.out.clear();
    c.sent = 0;
    c.state = Connection::State::kWriting;  // nothing to write: closed next round
  };
  if (c.head_end == std::string::npos) {
    const size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > kMaxHead) {
        Answer(c, Text(431, "request head too large\n"), false);
      } else if (eof) {
        give_up();
      }
      return;
    }
    if (end > kMaxHead) {
      Answer(c, Text(431, "request head too large\n"), false);
      return;
    }
    bool expect_continue = false;
    const std::string_view head(c.in.data(), end + 2);
    c.head_only = head.substr(0, 5) == "HEAD ";
    const int refused = ParseRequestHead(head, c.request, c.body_length, expect_continue);
    if (refused != 0) {
      Answer(c, Text(refused, std::string(Reason(refused)) + "\n"), false);
      return;
    }
    if (c.body_length > options_.max_request_body_bytes) {
      Answer(c, Text(413, "request body too large\n"), c.head_only);
      return;
    }
    c.head_end = end + 4;
    if (expect_continue && c.in.size() < c.head_end + c.body_length) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      (void)!::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL);
    }
  }
  if (c.in.size() < c.head_end + c.body_length) {  // more body to come
    if (eof) give_up();
    return;
  }
  c.request.body = c.in.substr(c.head_end, c.body_length);
  c.request.remote_addr = c.remote;
  c.in.clear();
  c.in.shrink_to_fit();
  Submit(c, std::move(c.request));
}

void EventServer::OnWritable(Connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    c.sent = c.out.size();  // the peer is gone
  }
}

void EventServer::Loop() {
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    // Answers from the handlers.
    {
      std::vector<std::pair<uint64_t, std::string>> done;
      {
        std::lock_guard<std::mutex> lock(done_mu_);
        done.swap(done_);
      }
      for (auto& [id, out] : done) {
        for (auto& c : connections_) {
          if (c->id != id) continue;
          c->out = std::move(out);
          c->sent = 0;
          c->state = Connection::State::kWriting;
          c->deadline = Steady::now() + options_.write_timeout;
        }
      }
    }
    // Finished or timed-out connections go.
    const auto now = Steady::now();
    connections_.erase(
        std::remove_if(connections_.begin(), connections_.end(),
                       [&](const std::unique_ptr<Connection>& c) {
                         const bool written = c->state == Connection::State::kWriting &&
                                              c->sent >= c->out.size();
                         const bool late = c->state != Connection::State::kHandling &&
                                           now >= c->deadline;
                         if (written || late) {
                           if (written) ::shutdown(c->fd, SHUT_WR);
                           ::close(c->fd);
                           return true;
                         }
                         return false;
                       }),
        connections_.end());

    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, static_cast<short>(POLLIN), 0});
    auto next = now + std::chrono::seconds(1);
    for (const auto& c : connections_) {
      short events = 0;
      if (c->state == Connection::State::kReading) events = POLLIN;
      if (c->state == Connection::State::kWriting) events = POLLOUT;
      fds.push_back({c->fd, events, 0});
      if (c->state != Connection::State::kHandling) next = std::min(next, c->deadline);
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(0, wait) + 1));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
    }
    // Connections first (their index matches fds[i + 2]), then new ones.
    for (size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = *connections_[i];
      const short revents = fds[i + 2].revents;
      if (revents == 0) continue;
      if (c.state == Connection::State::kReading && (revents & (POLLIN | POLLHUP | POLLERR)))
        OnReadable(c);
      else if (c.state == Connection::State::kWriting && (revents & (POLLOUT | POLLHUP | POLLERR)))
        OnWritable(c);
      if (c.state == Connection::State::kWriting && c.sent < c.out.size()) OnWritable(c);
    }
    if (fds[1].revents & POLLIN) Accept();
  }
}

}  // namespace natstack::http

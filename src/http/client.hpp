#pragma once
/// HTTP client interface and its libcurl implementation.
///
/// Code that talks HTTP (JWKS fetching, OIDC discovery, ACME, Route53) takes an `http::Client&`
/// so it can be tested against a fake or a loopback `http::Server`.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace natstack::http {

/// Default cap on a response body: peers may be hostile, a JWKS or a discovery document is small.
inline constexpr size_t kDefaultMaxBodyBytes = 4 * 1024 * 1024;

/// An HTTP response (client side), or what a server handler answers.
struct Response {
  int status = 0;
  std::string body;
  /// Header names lower-cased. A header that appears several times is joined with ", ".
  std::map<std::string, std::string> headers;
};

struct RequestOptions {
  /// Whole-request deadline (connect + transfer). Must be positive.
  std::chrono::milliseconds timeout{5000};
  /// PEM bundle of trusted CAs for https (empty = the system store).
  std::string ca_file;
  /// Extra request headers, e.g. {"Authorization", "Bearer ..."}. Never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  /// A body larger than this fails with kInvalidArgument.
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  /// Follow up to 5 redirects (http/https only). Off by default: OIDC/JWKS URLs are exact.
  bool follow_redirects = false;
};

/// `url` without userinfo and without query or fragment, which may carry credentials: the
/// form every message and log line names a URL in.
std::string RedactUrl(const std::string& url);

/// A blocking HTTP client. Implementations are thread-safe.
///
/// Errors: kInvalidArgument for a malformed URL, a scheme other than http/https or a body over
/// the cap; kUnavailable when the peer cannot be reached (refused, DNS, TLS failure, reset);
/// kDeadlineExceeded when `timeout` runs out. Every HTTP status (404, 500...) is a Response,
/// not an error.
class Client {
 public:
  virtual ~Client() = default;
  virtual Result<Response> Get(const std::string& url, const RequestOptions& options = {}) = 0;
  virtual Result<Response> Post(const std::string& url, std::string body, std::string content_type,
                                const RequestOptions& options = {}) = 0;
  /// Any method ("HEAD", "PUT", "DELETE", "PATCH", ...). The default implementation handles
  /// "GET" and "POST" through Get/Post and fails others with kInvalidArgument, so fakes need only
  /// implement Get and Post.
  virtual Result<Response> Send(const std::string& method, const std::string& url, std::string body,
                                std::string content_type, const RequestOptions& options = {});
};

/// Client over libcurl. One easy handle per request (no shared state), so it is thread-safe and
/// a request never reuses another's connection. curl_global_init runs once, on first construction.
/// Sets CURLOPT_NOSIGNAL; only http and https are allowed (also on redirects).
class CurlClient final : public Client {
 public:
  /// `user_agent` is sent with every request.
  explicit CurlClient(std::string user_agent = "natstack");

  Result<Response> Get(const std::string& url, const RequestOptions& options = {}) override;
  Result<Response> Post(const std::string& url, std::string body, std::string content_type,
                        const RequestOptions& options = {}) override;
  Result<Response> Send(const std::string& method, const std::string& url, std::string body,
                        std::string content_type, const RequestOptions& options = {}) override;

 private:
  std::string user_agent_;
};

}  // namespace natstack::http

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <mutex>

#include "http/client.hpp"

namespace natstack::http {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Library initialisation: the one piece of process-wide state, done once.
Status EnsureCurlInitialized() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK)
    return Fail(Code::kInternal, std::string("curl_global_init: ") + curl_easy_strerror(rc));
  return Ok();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

struct Transfer {
  Response* response = nullptr;
  size_t max_body = 0;
  bool body_too_large = false;
};

// C callbacks: nothing may throw out of them.
size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * nmemb;
  if (t->response->body.size() + n > t->max_body) {
    t->body_too_large = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  try {
    t->response->body.append(data, n);
  } catch (...) {
    return 0;
  }
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * nmemb;
  try {
    const std::string_view line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {
      // A new status line (after a redirect or a 100 Continue): start over.
      t->response->headers.clear();
      return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return n;
    const std::string name = Lower(std::string(line.substr(0, colon)));
    const std::string value = Trim(line.substr(colon + 1));
    auto [it, inserted] = t->response->headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  } catch (...) {
    return 0;
  }
  return n;
}

Error CurlError(CURLcode rc, const std::string& method, const std::string& url, const char* errbuf,
                const Transfer& transfer, size_t max_body) {
  const std::string where = method + " " + RedactUrl(url);
  std::string reason = curl_easy_strerror(rc);
  if (errbuf[0] != '\0') reason += std::string(" (") + errbuf + ")";
  if (transfer.body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return Error{Code::kInvalidArgument,
                 where + ": response body exceeds " + std::to_string(max_body) + " bytes"};
  }
  Code code = Code::kUnavailable;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: code = Code::kDeadlineExceeded; break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_BAD_FUNCTION_ARGUMENT: code = Code::kInvalidArgument; break;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT: code = Code::kInternal; break;
    default: break;
  }
  return Error{code, where + ": " + reason};
}

}  // namespace

std::string RedactUrl(const std::string& url) {
  std::string out = url;
  const size_t q = out.find_first_of("?#");
  if (q != std::string::npos) out.erase(q);
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t host_start = scheme + 3;
    const size_t path = out.find('/', host_start);
    const size_t at = out.rfind('@', path == std::string::npos ? out.size() : path);
    if (at != std::string::npos && at >= host_start) out.erase(host_start, at + 1 - host_start);
  }
  return out;
}

CurlClient::CurlClient(std::string user_agent) : user_agent_(std::move(user_agent)) {
  (void)EnsureCurlInitialized();  // checked again (cheaply) on every request
}

Result<Response> CurlClient::Get(const std::string& url, const RequestOptions& options) {
  return Send("GET", url, {}, {}, options);
}

Result<Response> CurlClient::Post(const std::string& url, std::string body,
                                  std::string content_type, const RequestOptions& options) {
  return Send("POST", url, std::move(body), std::move(content_type), options);
}

Result<Response> CurlClient::Send(const std::string& method, const std::string& url,
                                  std::string body, std::string content_type,
                                  const RequestOptions& options) {
  NATSTACK_TRY(EnsureCurlInitialized());
  if (options.timeout.count() <= 0)
    return Fail(Code::kInvalidArgument, "HTTP timeout must be positive");
  if (method.empty()) return Fail(Code::kInvalidArgument, "empty HTTP method");

  CurlEasyPtr curl(curl_easy_init());
  if (!curl) return Fail(Code::kInternal, "curl_easy_init failed");
  CURL* h = curl.get();

  Response response;
  Transfer transfer{&response, options.max_body_bytes, false};
  char errbuf[CURL_ERROR_SIZE] = {};

  CurlSlistPtr headers;
  auto add_header = [&headers](const std::string& line) -> bool {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr) return false;
    (void)headers.release();  // `next` now owns the old list
    headers.reset(next);
    return true;
  };
  bool ok = true;
  for (const auto& [name, value] : options.headers) {
    if (name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Fail(Code::kInvalidArgument, "invalid HTTP header " + name);
    }
    ok = ok && add_header(name + ": " + value);
  }
  if (!content_type.empty()) ok = ok && add_header("Content-Type: " + content_type);
  ok = ok && add_header("Expect:");  // no 100-continue round trip for larger POST bodies
  if (!ok) return Fail(Code::kInternal, "curl_slist_append failed");

  const long timeout_ms = static_cast<long>(options.timeout.count());
  CURLcode rc = CURLE_OK;
  auto set = [&rc](CURLcode r) {
    if (rc == CURLE_OK) rc = r;
  };
  set(curl_easy_setopt(h, CURLOPT_URL, url.c_str()));
  set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf));
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms));
  set(curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent_.c_str()));
  set(curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get()));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer));
  set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &WriteHeader));
  set(curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer));
  // Bodies are capped after decompression (WriteBody), so compressed bombs are caught too.
  set(curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""));
  set(curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(options.max_body_bytes)));
  if (options.follow_redirects) {
    set(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L));
    set(curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L));
  }
  if (!options.ca_file.empty()) set(curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str()));

  if (method == "GET") {
    set(curl_easy_setopt(h, CURLOPT_HTTPGET, 1L));
  } else if (method == "HEAD") {
    set(curl_easy_setopt(h, CURLOPT_NOBODY, 1L));
  } else {
    if (method != "POST") set(curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str()));
    if (method == "POST" || !body.empty()) {
      set(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())));
      set(curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data()));  // `body` outlives perform
    }
  }
  if (rc != CURLE_OK) {
    return Fail(Code::kInternal,
                method + " " + RedactUrl(url) + ": curl setup: " + curl_easy_strerror(rc));
  }

  rc = curl_easy_perform(h);
  if (rc != CURLE_OK)
    return Fail(CurlError(rc, method, url, errbuf, transfer, options.max_body_bytes));

  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace natstack::http

#include "http/client.hpp"

namespace natstack::http {

Result<Response> Client::Send(const std::string& method, const std::string& url, std::string body,
                              std::string content_type, const RequestOptions& options) {
  if (method == "GET") return Get(url, options);
  if (method == "POST") return Post(url, std::move(body), std::move(content_type), options);
  return Fail(Code::kInvalidArgument, "this HTTP client does not support " + method);
}

}  // namespace natstack::http

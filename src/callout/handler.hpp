#pragma once
/// The callout's decision pipeline, without I/O: a raw request message in, a response payload
/// (or a decision to drop) out. Thread-safe: Handle() may run on several threads at once.
///
///   open (xkey) -> verify request JWT (server signature, issuer = server id, audience, expiry,
///   header xkey = signed xkey, optional server allow-list) -> verify the client's OIDC token
///   -> render the permission template -> sign user JWT -> sign response -> seal to the server.
///
/// A request that cannot be trusted is dropped (there is no trustworthy user key or server to
/// answer). Every refusal of a trusted request is a signed error response, so the client fails
/// at once instead of waiting out the auth timeout.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "callout/config.hpp"
#include "core/clock.hpp"
#include "core/logger.hpp"
#include "jwt/verifier.hpp"
#include "natsjwt/natsjwt.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::callout {

struct Outcome {
  enum class Kind { kAdmitted, kRefused, kDropped };
  Kind kind = Kind::kDropped;
  std::string reason;    ///< stable label: "admitted", "expired", "bad_request_signature", ...
  std::string response;  ///< payload to publish on the reply subject (empty when dropped)
  std::string user_id;   ///< the identity admitted or refused ("" when unknown)
  std::string server;    ///< server name from the request ("" when unknown)
};

class RequestHandler {
 public:
  /// `verifier` must outlive the handler.
  RequestHandler(const CalloutConfig& config, nkeys::KeyPair issuer, nkeys::XKey xkey,
                 const jwt::OidcVerifier& verifier, const Clock& clock);

  /// `payload` is the message body; `server_xkey` the Nats-Server-Xkey header, if any.
  Outcome Handle(std::string_view payload, const std::optional<std::string>& server_xkey) const;

  const std::string& IssuerPublicKey() const { return issuer_.PublicKey(); }
  const std::string& XKeyPublicKey() const { return xkey_.PublicKey(); }

 private:
  Outcome Refuse(const natsjwt::AuthorizationRequest& request,
                 const std::optional<std::string>& server_xkey, std::string reason,
                 std::string user_id) const;
  Outcome Respond(const natsjwt::AuthorizationRequest& request,
                  const std::optional<std::string>& server_xkey, natsjwt::AuthorizationResponse r,
                  Outcome outcome) const;

  const CalloutConfig& config_;
  nkeys::KeyPair issuer_;
  nkeys::XKey xkey_;
  const jwt::OidcVerifier& verifier_;
  const Clock& clock_;
};

}  // namespace natstack::callout

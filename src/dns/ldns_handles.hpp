#pragma once
/// Internal to the dns library: owning handles for the libldns objects natstack creates, and
/// the one query/update exchange both the provider and the Knot probe use.

#include <ldns/ldns.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "dns/provider.hpp"

namespace natstack::dns::internal {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RrDeleter {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct RrListDeleter {
  void operator()(ldns_rr_list* list) const { ldns_rr_list_deep_free(list); }
};
struct RdfDeleter {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
struct ResolverDeleter {
  void operator()(ldns_resolver* r) const { ldns_resolver_deep_free(r); }
};

using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;
using RrListPtr = std::unique_ptr<ldns_rr_list, RrListDeleter>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;
using ResolverPtr = std::unique_ptr<ldns_resolver, ResolverDeleter>;

/// Where and how to send: one server, TCP, one try, an optional TSIG key.
struct Endpoint {
  std::string server;  ///< IPv4 or IPv6 literal
  uint16_t port = 53;
  std::optional<TsigKey> tsig;  ///< validated (ValidateTsigKey)
  std::chrono::milliseconds timeout{2000};

  std::string Describe() const;  ///< "127.0.0.1:5353" or "[::1]:5353"
};

/// A domain name as an ldns dname; kInvalidArgument when ldns cannot parse it.
Result<RdfPtr> MakeDname(const std::string& name);

/// Sends `query` (signing it first when the endpoint has a key) and returns the reply after
/// the checks that do not depend on the operation:
///   kUnavailable         no reply within the timeout (refused, timed out, closed)
///   kFailedPrecondition  a reply that is not an answer to this query (QR unset, wrong id or
///                        opcode, malformed)
/// and, for replies with a non-zero rcode, the mapped error (provider.hpp). A NOERROR or
/// NXDOMAIN reply to a signed query whose TSIG is missing or wrong is kFailedPrecondition.
/// `what` starts every message ("update of nats.example.test. A").
Result<PktPtr> Exchange(const Endpoint& endpoint, ldns_pkt* query, const std::string& what);

}  // namespace natstack::dns::internal

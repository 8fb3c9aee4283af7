// Rfc2136Provider: RFC 2136 dynamic updates and authoritative reads over TCP, signed with TSIG
// (RFC 8945), through libldns.
#include <arpa/inet.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "core/text.hpp"
#include "dns/ldns_handles.hpp"
#include "dns/provider.hpp"

namespace natstack::dns {
namespace internal {
namespace {

// TSIG error codes carried in the TSIG RR of a reply (RFC 8945 §3, IANA registry).
constexpr uint16_t kTsigBadSig = 16;
constexpr uint16_t kTsigBadKey = 17;
constexpr uint16_t kTsigBadTime = 18;
constexpr uint16_t kTsigBadTrunc = 22;

std::string RcodeName(ldns_pkt_rcode rcode) {
  switch (rcode) {
    case LDNS_RCODE_NOERROR: return "NOERROR";
    case LDNS_RCODE_FORMERR: return "FORMERR";
    case LDNS_RCODE_SERVFAIL: return "SERVFAIL";
    case LDNS_RCODE_NXDOMAIN: return "NXDOMAIN";
    case LDNS_RCODE_NOTIMPL: return "NOTIMPL";
    case LDNS_RCODE_REFUSED: return "REFUSED";
    case LDNS_RCODE_YXDOMAIN: return "YXDOMAIN";
    case LDNS_RCODE_YXRRSET: return "YXRRSET";
    case LDNS_RCODE_NXRRSET: return "NXRRSET";
    case LDNS_RCODE_NOTAUTH: return "NOTAUTH";
    case LDNS_RCODE_NOTZONE: return "NOTZONE";
  }
  return "RCODE " + std::to_string(static_cast<int>(rcode));
}

/// The error field of the reply's TSIG RR (0 when there is none).
uint16_t TsigError(const ldns_pkt* reply) {
  const ldns_rr* tsig = ldns_pkt_tsig(reply);
  if (tsig == nullptr || ldns_rr_rd_count(tsig) < 6) return 0;
  const ldns_rdf* error = ldns_rr_rdf(tsig, 5);
  return error != nullptr && ldns_rdf_size(error) == 2 ? ldns_rdf2native_int16(error) : 0;
}

/// One error for a reply whose rcode is not NOERROR/NXDOMAIN. Never mentions the secret.
Error RcodeError(const ldns_pkt* reply, const Endpoint& endpoint, const std::string& what) {
  const std::string prefix = what + " at " + endpoint.Describe() + ": ";
  const std::string key = endpoint.tsig ? "key " + endpoint.tsig->name : "no key";
  const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(reply);
  const uint16_t tsig_error = TsigError(reply);
  // BADSIG, BADKEY and BADTIME travel as NOTAUTH in the header and the TSIG error field
  // (RFC 8945 §5.2); name the field, it says what to fix.
  switch (tsig_error) {
    case kTsigBadSig:
      return {Code::kPermissionDenied,
              prefix + "BADSIG: the server rejected the signature (wrong secret for " + key + ")"};
    case kTsigBadKey:
      return {Code::kPermissionDenied,
              prefix + "BADKEY: the server does not know " + key + " (or its algorithm)"};
    case kTsigBadTime:
      return {Code::kPermissionDenied,
              prefix + "BADTIME: the server's clock and ours differ by more than 300 s"};
    case kTsigBadTrunc:
      return {Code::kPermissionDenied, prefix + "BADTRUNC: the server refused a truncated MAC"};
    default: break;
  }
  switch (rcode) {
    case LDNS_RCODE_NOTAUTH:
      return {
          Code::kPermissionDenied,
          prefix + (endpoint.tsig ? "NOTAUTH: the server does not allow this with " + key +
                                        " (ACL) or is not authoritative for the zone"
                                  : "NOTAUTH: the server refused an unsigned request (no TSIG key "
                                    "given) or is not authoritative for the zone")};
    case LDNS_RCODE_REFUSED:
      return {Code::kPermissionDenied,
              prefix + "REFUSED: the server's policy refused it (" + key + ")"};
    case LDNS_RCODE_FORMERR:
      return {Code::kInvalidArgument, prefix + "FORMERR: the server could not parse the message"};
    case LDNS_RCODE_NOTZONE:
      return {Code::kNotFound, prefix + "NOTZONE: the name is not within the zone"};
    default: return {Code::kInternal, prefix + RcodeName(rcode) + " from the server"};
  }
}

bool IsTransportFailure(ldns_status status) {
  return status == LDNS_STATUS_ERR || status == LDNS_STATUS_NETWORK_ERR ||
         status == LDNS_STATUS_RES_NO_NS || status == LDNS_STATUS_SOCKET_ERROR ||
         status == LDNS_STATUS_ADDRESS_ERR;
}

Result<ResolverPtr> MakeResolver(const Endpoint& endpoint) {
  ResolverPtr resolver(ldns_resolver_new());
  if (!resolver) return Fail(Code::kInternal, "ldns_resolver_new failed");
  const bool v6 = endpoint.server.find(':') != std::string::npos;
  RdfPtr address(
      ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, endpoint.server.c_str()));
  if (!address) {
    return Fail(Code::kInvalidArgument,
                "server " + EscapeText(endpoint.server) + " is not an IPv4 or IPv6 address");
  }
  if (ldns_resolver_push_nameserver(resolver.get(), address.get()) != LDNS_STATUS_OK) {
    return Fail(Code::kInternal, "ldns_resolver_push_nameserver failed");
  }
  ldns_resolver_set_port(resolver.get(), endpoint.port);
  ldns_resolver_set_usevc(resolver.get(), true);  // TCP: no truncation, no spoofed datagrams
  ldns_resolver_set_retry(resolver.get(), 1);     // the caller retries, with backoff
  ldns_resolver_set_random(resolver.get(), false);
  ldns_resolver_set_fail(resolver.get(), true);
  const auto ms = endpoint.timeout.count();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  ldns_resolver_set_timeout(resolver.get(), tv);
  if (endpoint.tsig) {
    // ldns_send verifies the reply's TSIG (ldns_pkt_tsig_verify) with these, on the exact
    // wire bytes it received, and reports LDNS_STATUS_CRYPTO_TSIG_BOGUS while still handing
    // the reply back, so the server's rcode is never hidden.
    const std::string algorithm = endpoint.tsig->algorithm + ".";
    ldns_resolver_set_tsig_keyname(resolver.get(), endpoint.tsig->name.c_str());
    ldns_resolver_set_tsig_keydata(resolver.get(), endpoint.tsig->secret_base64.c_str());
    ldns_resolver_set_tsig_algorithm(resolver.get(), algorithm.c_str());
  }
  return resolver;
}

}  // namespace

std::string Endpoint::Describe() const {
  const std::string host = server.find(':') != std::string::npos ? "[" + server + "]" : server;
  return host + ":" + std::to_string(port);
}

Result<RdfPtr> MakeDname(const std::string& name) {
  std::string absolute = name;
  if (absolute.empty() || absolute.back() != '.') absolute += '.';
  RdfPtr dname(ldns_dname_new_frm_str(absolute.c_str()));
  if (!dname) return Fail(Code::kInvalidArgument, "bad domain name " + EscapeText(name));
  return dname;
}

Result<PktPtr> Exchange(const Endpoint& endpoint, ldns_pkt* query, const std::string& what) {
  NATSTACK_ASSIGN_OR_RETURN(ResolverPtr resolver, MakeResolver(endpoint));
  ldns_pkt_set_random_id(query);
  if (endpoint.tsig) {
    // RFC 8945 §5.1: the MAC covers the whole message as sent, including the id set above.
    const ldns_status signed_status = ldns_update_pkt_tsig_add(query, resolver.get());
    if (signed_status != LDNS_STATUS_OK || ldns_pkt_tsig(query) == nullptr) {
      return Fail(Code::kInvalidArgument, what + ": cannot sign with TSIG key " +
                                              endpoint.tsig->name + ": " +
                                              ldns_get_errorstr_by_id(signed_status));
    }
  }
  ldns_pkt* raw_reply = nullptr;
  const ldns_status status = ldns_send(&raw_reply, resolver.get(), query);
  PktPtr reply(raw_reply);
  if (!reply) {
    if (IsTransportFailure(status)) {
      return Fail(Code::kUnavailable, what + ": no answer from " + endpoint.Describe() +
                                          " within " + std::to_string(endpoint.timeout.count()) +
                                          " ms (connection refused, reset or timed out)");
    }
    return Fail(Code::kFailedPrecondition, what + ": malformed reply from " + endpoint.Describe() +
                                               ": " + ldns_get_errorstr_by_id(status));
  }
  if (!ldns_pkt_qr(reply.get()) || ldns_pkt_id(reply.get()) != ldns_pkt_id(query) ||
      ldns_pkt_get_opcode(reply.get()) != ldns_pkt_get_opcode(query)) {
    return Fail(Code::kFailedPrecondition,
                what + ": the reply from " + endpoint.Describe() +
                    " does not answer the request (QR, id or opcode differ)");
  }
  const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(reply.get());
  if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
    // Error replies may be unsigned (BADSIG and BADKEY always are: RFC 8945 §5.3.2), so the
    // rcode is reported whether or not the TSIG verified.
    return Fail(RcodeError(reply.get(), endpoint, what));
  }
  if (endpoint.tsig && status == LDNS_STATUS_CRYPTO_TSIG_BOGUS) {
    return Fail(Code::kFailedPrecondition,
                what + ": the reply from " + endpoint.Describe() +
                    " has a missing or wrong TSIG (" +
                    (ldns_pkt_tsig(reply.get()) == nullptr ? "unsigned" : "bad MAC") + ")");
  }
  if (status != LDNS_STATUS_OK) {
    return Fail(Code::kFailedPrecondition, what + ": reply from " + endpoint.Describe() + ": " +
                                               ldns_get_errorstr_by_id(status));
  }
  return reply;
}

}  // namespace internal

namespace {

using internal::PktPtr;
using internal::RdfPtr;
using internal::RrListPtr;
using internal::RrPtr;

ldns_rr_type LdnsType(RecordType type) {
  switch (type) {
    case RecordType::kA: return LDNS_RR_TYPE_A;
    case RecordType::kTxt: return LDNS_RR_TYPE_TXT;
  }
  return LDNS_RR_TYPE_A;
}

/// The values of `set` without duplicates, in a stable order.
std::vector<std::string> UniqueValues(const RecordSet& set) {
  const std::set<std::string> unique(set.values.begin(), set.values.end());
  return {unique.begin(), unique.end()};
}

/// An RR built field by field: no zone-file parser between the caller's text and the wire.
Result<RrPtr> MakeRr(const std::string& name, ldns_rr_type type, ldns_rr_class klass,
                     uint32_t ttl) {
  NATSTACK_ASSIGN_OR_RETURN(RdfPtr owner, internal::MakeDname(name));
  RrPtr rr(ldns_rr_new());
  if (!rr) return Fail(Code::kInternal, "ldns_rr_new failed");
  ldns_rr_set_owner(rr.get(), owner.release());
  ldns_rr_set_type(rr.get(), type);
  ldns_rr_set_class(rr.get(), klass);
  ldns_rr_set_ttl(rr.get(), ttl);
  return rr;
}

Result<RdfPtr> MakeRdata(RecordType type, const std::string& value) {
  switch (type) {
    case RecordType::kA: {
      in_addr addr{};
      if (::inet_pton(AF_INET, value.c_str(), &addr) != 1) {
        return Fail(Code::kInvalidArgument, EscapeText(value) + " is not a dotted IPv4 address");
      }
      RdfPtr rdf(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof addr, &addr));
      if (!rdf) return Fail(Code::kInternal, "ldns_rdf_new_frm_data failed");
      return rdf;
    }
    case RecordType::kTxt: {
      // One <character-string>: a length octet and the bytes (RFC 1035 §3.3.14). Built as
      // wire data, so quotes, backslashes and spaces need no escaping at all.
      std::string data(1, static_cast<char>(value.size()));
      data += value;
      RdfPtr rdf(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, data.size(), data.data()));
      if (!rdf) return Fail(Code::kInternal, "ldns_rdf_new_frm_data failed");
      return rdf;
    }
  }
  return Fail(Code::kInternal, "unknown record type");
}

/// Presentation value of one answer RR (the inverse of MakeRdata).
std::optional<std::string> ValueOf(const ldns_rr* rr, RecordType type) {
  switch (type) {
    case RecordType::kA: {
      const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
      if (ldns_rr_rd_count(rr) != 1 || rdf == nullptr || ldns_rdf_size(rdf) != 4) {
        return std::nullopt;
      }
      char text[INET_ADDRSTRLEN];
      if (::inet_ntop(AF_INET, ldns_rdf_data(rdf), text, sizeof text) == nullptr) {
        return std::nullopt;
      }
      return std::string(text);
    }
    case RecordType::kTxt: {
      // A TXT record written by someone else may hold several character-strings; they are
      // one value, concatenated (as SPF and ACME read them).
      std::string value;
      for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
        const size_t size = ldns_rdf_size(rdf);
        const uint8_t* data = ldns_rdf_data(rdf);
        if (size == 0 || static_cast<size_t>(data[0]) + 1 != size) return std::nullopt;
        value.append(reinterpret_cast<const char*>(data) + 1, size - 1);
      }
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<Rfc2136Provider>> Rfc2136Provider::Create(Rfc2136Options options) {
  if (auto ok = ValidateZoneName(options.zone); !ok) return Fail(ok.error());
  if (options.zone.back() != '.') options.zone += '.';
  std::transform(options.zone.begin(), options.zone.end(), options.zone.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  in6_addr v6{};
  in_addr v4{};
  if (::inet_pton(AF_INET, options.server.c_str(), &v4) != 1 &&
      ::inet_pton(AF_INET6, options.server.c_str(), &v6) != 1) {
    return Fail(Code::kInvalidArgument,
                "server " + EscapeText(options.server) + " is not an IPv4 or IPv6 address");
  }
  if (options.port == 0) return Fail(Code::kInvalidArgument, "server port 0");
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return Fail(Code::kInvalidArgument, "timeout must be positive");
  }
  if (options.tsig) {
    NATSTACK_ASSIGN_OR_RETURN(options.tsig, ValidateTsigKey(std::move(*options.tsig)));
  }
  return std::unique_ptr<Rfc2136Provider>(new Rfc2136Provider(std::move(options)));
}

std::string Rfc2136Provider::Zone() const { return options_.zone; }

namespace {

internal::Endpoint EndpointOf(const Rfc2136Options& options) {
  return {options.server, options.port, options.tsig, options.timeout};
}

/// A DNS message over TCP is at most 65535 bytes (the length prefix, RFC 1035 §4.2.2), and
/// libldns asserts (aborts) when asked to encode more. Leave room for the TSIG RR.
constexpr size_t kMaxUpdateBytes = 65535 - 1024;

/// The size of the UPDATE for `set` without name compression: an upper bound of what goes on
/// the wire before the TSIG RR.
size_t UncompressedUpdateBytes(const std::string& zone, const RecordSet& set,
                               const std::vector<std::string>& values) {
  // A name in wire form is its presentation length without the final dot, plus 2.
  const size_t name = set.name.size() - (set.name.ends_with('.') ? 1 : 0) + 2;
  size_t bytes = 12 + (zone.size() - 1 + 2) + 4;  // header, zone section
  bytes += name + 10;                             // the RRset delete
  for (const std::string& value : values) {
    bytes += name + 10 + (set.type == RecordType::kA ? 4 : 1 + value.size());
  }
  return bytes;
}

/// RFC 2136 §2.5.2 "Delete An RRset": class ANY, TTL 0, RDLENGTH 0.
Result<RrPtr> DeleteRrsetRr(const std::string& name, RecordType type) {
  return MakeRr(name, LdnsType(type), LDNS_RR_CLASS_ANY, 0);
}

/// Sends one UPDATE for `zone` whose update section is `updates` (RFC 2136 §2, §3.4: the
/// server applies the whole section or none of it).
Status SendUpdate(const Rfc2136Options& options, ldns_rr_list* updates, const std::string& what) {
  NATSTACK_ASSIGN_OR_RETURN(RdfPtr zone, internal::MakeDname(options.zone));
  // Zone section: ZNAME = zone, ZTYPE = SOA, ZCLASS = IN (RFC 2136 §2.3); no prerequisites.
  PktPtr update(ldns_update_pkt_new(zone.release(), LDNS_RR_CLASS_IN, nullptr, updates, nullptr));
  if (!update) return Fail(Code::kInternal, what + ": ldns_update_pkt_new failed");
  // ldns_update_pkt_new starts from a query with RD set; in an UPDATE that bit is Z and must
  // be zero (RFC 2136 §2.2).
  ldns_pkt_set_rd(update.get(), false);
  NATSTACK_ASSIGN_OR_RETURN(PktPtr reply,
                            internal::Exchange(EndpointOf(options), update.get(), what));
  if (ldns_pkt_get_rcode(reply.get()) != LDNS_RCODE_NOERROR) {
    return Fail(Code::kInternal, what + " at " + EndpointOf(options).Describe() +
                                     ": unexpected NXDOMAIN to an update without prerequisites");
  }
  return Ok();
}

std::string NameForMessage(std::string name) {
  if (name.empty() || name.back() != '.') name += '.';
  return EscapeText(name);
}

}  // namespace

Status Rfc2136Provider::Replace(const RecordSet& set) {
  if (set.values.empty()) return Delete(set.name, set.type);
  const std::string what = "update of " + NameForMessage(set.name) + " " + RecordTypeName(set.type);
  // The errors of ValidateRecordSet name the record already.
  if (auto ok = ValidateRecordSet(set, options_.zone); !ok) return Fail(ok.error());

  const std::vector<std::string> values = UniqueValues(set);
  if (const size_t bytes = UncompressedUpdateBytes(options_.zone, set, values);
      bytes > kMaxUpdateBytes) {
    return Fail(Code::kInvalidArgument, what + ": " + std::to_string(values.size()) +
                                            " values make an update of " + std::to_string(bytes) +
                                            " bytes, more than one DNS message holds");
  }

  RrListPtr updates(ldns_rr_list_new());
  if (!updates) return Fail(Code::kInternal, "ldns_rr_list_new failed");
  // One message: delete the RRset, then add every record. The server applies the update
  // section in order and atomically (RFC 2136 §3.4.2), so readers see the old set or the new
  // one, never a union or nothing. Knot turns it into one serial change.
  NATSTACK_ASSIGN_OR_RETURN(RrPtr del, DeleteRrsetRr(set.name, set.type));
  if (!ldns_rr_list_push_rr(updates.get(), del.get())) return Fail(Code::kInternal, "push failed");
  (void)del.release();  // the list owns it now
  for (const std::string& value : values) {
    NATSTACK_ASSIGN_OR_RETURN(RrPtr add,
                              MakeRr(set.name, LdnsType(set.type), LDNS_RR_CLASS_IN, set.ttl));
    NATSTACK_ASSIGN_OR_RETURN(RdfPtr rdata, MakeRdata(set.type, value));
    if (!ldns_rr_push_rdf(add.get(), rdata.get())) return Fail(Code::kInternal, "push failed");
    (void)rdata.release();
    if (!ldns_rr_list_push_rr(updates.get(), add.get())) {
      return Fail(Code::kInternal, "push failed");
    }
    (void)add.release();
  }
  return SendUpdate(options_, updates.get(), what);
}

Status Rfc2136Provider::Delete(const std::string& name, RecordType type) {
  const std::string what = "delete of " + NameForMessage(name) + " " + RecordTypeName(type);
  if (auto ok = ValidateOwnerName(name, options_.zone); !ok) return Fail(ok.error().Wrap(what));
  RrListPtr updates(ldns_rr_list_new());
  if (!updates) return Fail(Code::kInternal, "ldns_rr_list_new failed");
  NATSTACK_ASSIGN_OR_RETURN(RrPtr del, DeleteRrsetRr(name, type));
  if (!ldns_rr_list_push_rr(updates.get(), del.get())) return Fail(Code::kInternal, "push failed");
  (void)del.release();
  return SendUpdate(options_, updates.get(), what);
}

Result<std::optional<RecordSet>> Rfc2136Provider::Read(const std::string& name, RecordType type) {
  const std::string what = "read of " + NameForMessage(name) + " " + RecordTypeName(type);
  if (auto ok = ValidateOwnerName(name, options_.zone); !ok) return Fail(ok.error().Wrap(what));
  NATSTACK_ASSIGN_OR_RETURN(RdfPtr qname, internal::MakeDname(name));
  // RD clear: this asks the authoritative server itself, never for recursion.
  PktPtr query(ldns_pkt_query_new(qname.release(), LdnsType(type), LDNS_RR_CLASS_IN, 0));
  if (!query) return Fail(Code::kInternal, what + ": ldns_pkt_query_new failed");
  const internal::Endpoint endpoint = EndpointOf(options_);
  NATSTACK_ASSIGN_OR_RETURN(PktPtr reply, internal::Exchange(endpoint, query.get(), what));
  if (!ldns_pkt_aa(reply.get())) {
    return Fail(Code::kFailedPrecondition,
                what + ": " + endpoint.Describe() + " is not authoritative for " + options_.zone);
  }
  if (ldns_pkt_get_rcode(reply.get()) == LDNS_RCODE_NXDOMAIN) return std::optional<RecordSet>();

  NATSTACK_ASSIGN_OR_RETURN(RdfPtr owner, internal::MakeDname(name));
  RecordSet set;
  set.name = name;
  set.type = type;
  bool found = false;
  const ldns_rr_list* answer = ldns_pkt_answer(reply.get());
  for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) != LdnsType(type) || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
        ldns_dname_compare(ldns_rr_owner(rr), owner.get()) != 0) {
      continue;  // a CNAME chain or anything else that is not this RRset
    }
    auto value = ValueOf(rr, type);
    if (!value) {
      return Fail(Code::kFailedPrecondition,
                  what + ": " + endpoint.Describe() + " returned malformed rdata");
    }
    // RFC 2181 §5.2: an RRset has one TTL; should a server differ, the smallest is what
    // caches will use.
    set.ttl = found ? std::min(set.ttl, ldns_rr_ttl(rr)) : ldns_rr_ttl(rr);
    found = true;
    set.values.push_back(std::move(*value));
  }
  if (!found) return std::optional<RecordSet>();  // NODATA
  std::sort(set.values.begin(), set.values.end());
  set.values.erase(std::unique(set.values.begin(), set.values.end()), set.values.end());
  return std::optional<RecordSet>(std::move(set));
}

Status Rfc2136Provider::CheckZone() {
  const std::string what = "SOA query for the zone " + options_.zone;
  NATSTACK_ASSIGN_OR_RETURN(RdfPtr qname, internal::MakeDname(options_.zone));
  PktPtr query(ldns_pkt_query_new(qname.release(), LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0));
  if (!query) return Fail(Code::kInternal, what + ": ldns_pkt_query_new failed");
  const internal::Endpoint endpoint = EndpointOf(options_);
  auto reply = internal::Exchange(endpoint, query.get(), what);
  const std::string not_served = " does not serve " + options_.zone +
                                 " as a zone: updates to it would be refused (check `zone`)";
  if (!reply) {
    // REFUSED or NOTAUTH for the apex itself: the server holds no such zone. A server that
    // does not answer, or fails (SERVFAIL), is retried by the caller.
    if (reply.error().code == Code::kPermissionDenied)
      return Fail(Code::kNotFound, what + ": " + endpoint.Describe() +
                                       " refuses to answer for it, so it" + not_served);
    return Fail(reply.error());
  }
  if (!ldns_pkt_aa(reply->get()))
    return Fail(Code::kNotFound, what + ": " + endpoint.Describe() + not_served);
  NATSTACK_ASSIGN_OR_RETURN(RdfPtr apex, internal::MakeDname(options_.zone));
  const ldns_rr_list* answer = ldns_pkt_answer(reply->get());
  for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
        ldns_dname_compare(ldns_rr_owner(rr), apex.get()) == 0)
      return Ok();
  }
  // NODATA or NXDOMAIN: the name lies inside one of the server's zones, which the authority
  // section names.
  std::string real;
  const ldns_rr_list* authority = ldns_pkt_authority(reply->get());
  for (size_t i = 0; i < ldns_rr_list_rr_count(authority); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(authority, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA) continue;
    if (char* text = ldns_rdf2str(ldns_rr_owner(rr)); text != nullptr) {
      real = EscapeText(text);
      free(text);
    }
  }
  return Fail(Code::kNotFound, what + ": " + endpoint.Describe() + not_served +
                                   (real.empty() ? "" : "; the zone there is " + real));
}

}  // namespace natstack::dns

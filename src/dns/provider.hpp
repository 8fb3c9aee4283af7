#pragma once
/// A DNS provider: the authoritative store natstack writes its records to. One interface for
/// RFC 2136 dynamic updates signed with TSIG (Knot in the embedded default, any RFC 2136 server
/// in production) and, later, Route53. Callers never see the wire format.
///
///   auto provider = dns::Rfc2136Provider::Create({.server = "127.0.0.1", .port = 5353,
///                                                  .zone = "example.test.", .tsig = key});
///   NATSTACK_TRY(provider->Replace({"nats.example.test.", dns::RecordType::kA, 60,
///                                   {"127.0.1.1", "127.0.1.2"}}));
///   auto now = provider->Read("nats.example.test.", dns::RecordType::kA);

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace natstack::dns {

enum class RecordType { kA, kTxt };
const char* RecordTypeName(RecordType type);  ///< "A", "TXT"

/// One RRset: every record of one name and type. `values` are presentation text: dotted IPv4
/// addresses for A, the unquoted character-string for TXT (the provider quotes it). Values are
/// a set: order does not matter and duplicates are one value.
struct RecordSet {
  std::string name;  ///< fully qualified, with or without the trailing dot, any case
  RecordType type = RecordType::kA;
  uint32_t ttl = 60;
  std::vector<std::string> values;
};

/// True when both sets hold the same name (case- and trailing-dot-insensitive), type, TTL and
/// values (as sets).
bool SameRecordSet(const RecordSet& a, const RecordSet& b);

/// Errors, each naming the server and the name:
///   kUnavailable       the server does not answer (timeout, refused) — retry later
///   kPermissionDenied  NOTAUTH, REFUSED, BADSIG, BADKEY, BADTIME: the key or the ACL is wrong
///   kInvalidArgument   a bad name, value or TTL (found before anything is sent), FORMERR
///   kNotFound          the name is outside the provider's zone
///   kFailedPrecondition a reply that is not what was asked (wrong id, TSIG missing or wrong)
///   kInternal          SERVFAIL and anything else
class Provider {
 public:
  virtual ~Provider() = default;
  /// Replaces the RRset atomically: in one change, the old records go and `set` comes; a
  /// server never answers with half of it. `set.values` empty is Delete.
  virtual Status Replace(const RecordSet& set) = 0;
  /// Deletes the RRset (no error when there is none).
  virtual Status Delete(const std::string& name, RecordType type) = 0;
  /// The RRset as the authoritative server serves it now; nullopt when there is none.
  virtual Result<std::optional<RecordSet>> Read(const std::string& name, RecordType type) = 0;
  /// The zone this provider writes ("example.test.").
  virtual std::string Zone() const = 0;
};

/// A TSIG key (RFC 8945): name, algorithm (hmac-sha256), base64 secret. The secret never
/// appears in errors or logs.
struct TsigKey {
  std::string name;  ///< "natstack-update."
  std::string algorithm = "hmac-sha256";
  std::string secret_base64;
};

/// Reads a TSIG key file: one line "NAME ALGORITHM SECRET" or Knot's keymgr format
/// ("key:\n  - id: NAME\n    algorithm: hmac-sha256\n    secret: SECRET"). The file must not
/// be readable by others (kPermissionDenied names the chmod that fixes it).
Result<TsigKey> ReadTsigKeyFile(const std::string& path);

struct Rfc2136Options {
  std::string server = "127.0.0.1";  ///< IPv4 or IPv6 address of the primary
  uint16_t port = 53;
  std::string zone;                   ///< the zone updates go to ("example.test.")
  std::optional<TsigKey> tsig;        ///< none: unsigned updates (servers should refuse them)
  std::chrono::milliseconds timeout{std::chrono::seconds(2)};
};

/// RFC 2136 UPDATE over TCP, signed with TSIG; reads with a TSIG-signed query to the same
/// server (the authoritative answer, never a cache). The reply's rcode and TSIG are checked.
class Rfc2136Provider final : public Provider {
 public:
  /// kInvalidArgument for a bad zone, server address or key (nothing is sent).
  static Result<std::unique_ptr<Rfc2136Provider>> Create(Rfc2136Options options);
  Status Replace(const RecordSet& set) override;
  Status Delete(const std::string& name, RecordType type) override;
  Result<std::optional<RecordSet>> Read(const std::string& name, RecordType type) override;
  std::string Zone() const override;

 private:
  explicit Rfc2136Provider(Rfc2136Options options) : options_(std::move(options)) {}
  Rfc2136Options options_;
};

}  // namespace natstack::dns

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
#include <string_view>
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

/// Largest TTL a record may carry (RFC 2181 §8: 2^31 - 1 seconds).
inline constexpr uint32_t kMaxTtl = 0x7fffffff;
/// Longest TXT character-string (RFC 1035 §3.3: one length octet).
inline constexpr size_t kMaxTxtValueBytes = 255;

/// A zone name natstack can write to: labels of letters, digits, '-' and '_', each 1..63
/// characters, at most 253 characters in all (trailing dot not counted), not the root.
/// kInvalidArgument saying what is wrong.
Status ValidateZoneName(std::string_view zone);

/// Checks an owner name: kInvalidArgument when malformed (the rules of ValidateZoneName),
/// kNotFound when it is not `zone` or below it.
Status ValidateOwnerName(std::string_view name, std::string_view zone);

/// Checks `set` before anything is sent, the same way for every provider:
///   kNotFound         the name is not `zone` or below it
///   kInvalidArgument  a bad name (see ValidateZoneName), a TTL above kMaxTtl, an A value that
///                     is not a dotted IPv4 address, a TXT value longer than 255 bytes
Status ValidateRecordSet(const RecordSet& set, std::string_view zone);

/// A TXT value in zone-file presentation form: in double quotes, `"` and `\` escaped with a
/// backslash, bytes outside printable ASCII as `\DDD` (RFC 1035 §5.1), as dig and kdig print it:
/// `say "hi"` -> `"say \"hi\""`.
std::string QuoteTxt(std::string_view value);

/// "nats.example.test. 60 A 127.0.1.1,127.0.1.2" with values sorted (TXT values quoted), for
/// logs and error messages.
std::string DescribeRecordSet(const RecordSet& set);

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
  /// Whether the server really holds Zone() as a zone of its own, so that updates to it can
  /// land: a name inside a zone the server serves can be read whatever `zone` says, but an
  /// update sent to the wrong zone is refused every time. kNotFound when the server answers
  /// but Zone() is not one of its zones (a parent or child of the real one); kUnavailable when
  /// it does not answer. The default (providers that cannot tell) is Ok.
  virtual Status CheckZone() { return Ok(); }
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

/// The parser behind ReadTsigKeyFile, on the file's text: '#' comments and blank lines are
/// ignored; exactly one key. The result is normalised (ValidateTsigKey). kInvalidArgument
/// naming the line or field at fault, never the secret.
Result<TsigKey> ParseTsigKey(std::string_view text);

/// Checks and normalises a key: the name becomes lower case with a trailing dot, the algorithm
/// lower case without one. Algorithms: hmac-sha256 (recommended), hmac-sha512, hmac-sha1 (what
/// both libldns and Knot implement). The secret must be non-empty standard base64.
/// kInvalidArgument naming the key, never the secret.
Result<TsigKey> ValidateTsigKey(TsigKey key);

struct Rfc2136Options {
  std::string server = "127.0.0.1";  ///< IPv4 or IPv6 address of the primary
  uint16_t port = 53;
  std::string zone;                   ///< the zone updates go to ("example.test.")
  std::optional<TsigKey> tsig;        ///< none: unsigned updates (servers should refuse them)
  std::chrono::milliseconds timeout{std::chrono::seconds(2)};
};

/// RFC 2136 UPDATE over TCP, signed with TSIG; reads with a TSIG-signed query to the same
/// server (the authoritative answer, never a cache). The reply's rcode and TSIG are checked.
/// Thread-safe: every call builds its own request and connection (src/dns/README.md).
class Rfc2136Provider final : public Provider {
 public:
  /// kInvalidArgument for a bad zone, server address or key (nothing is sent).
  static Result<std::unique_ptr<Rfc2136Provider>> Create(Rfc2136Options options);
  Status Replace(const RecordSet& set) override;
  Status Delete(const std::string& name, RecordType type) override;
  Result<std::optional<RecordSet>> Read(const std::string& name, RecordType type) override;
  std::string Zone() const override;
  /// An SOA query for the zone: Ok only for an authoritative answer whose SOA is the zone's own.
  Status CheckZone() override;

 private:
  explicit Rfc2136Provider(Rfc2136Options options) : options_(std::move(options)) {}
  Rfc2136Options options_;
};

}  // namespace natstack::dns

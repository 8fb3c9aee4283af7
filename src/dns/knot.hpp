#pragma once
/// Everything needed to run a private Knot DNS 3.2 server (Debian package `knot`) that natstack
/// writes to with RFC 2136: the TSIG key, knot.conf, the zone files, the argv, a readiness
/// probe. Pure renderers plus small file helpers; starting and stopping knotd is the caller's
/// (the supervisor runs it like any other child):
///
///   dns::KnotOptions options{.state_dir = dir + "/dns", .port = 8053,
///                            .zones = {"cluster.internal.", "example.test."}};
///   NATSTACK_ASSIGN_OR_RETURN(dns::TsigKey key, dns::PrepareKnotState(options));
///   NATSTACK_ASSIGN_OR_RETURN(std::string knotd, dns::FindKnotd());
///   spawn dns::KnotdArgv(knotd, dns::LayoutFor(options.state_dir).config)
///   until dns::QueryZoneSerial("127.0.0.1", options.port, zone, 200ms) is Ok for every zone
///
/// knotd runs as the user that starts it: the config has no `user:` line (Knot's default is
/// root:root, which changes nothing), so it never switches to the `knot` user and can write a
/// state directory owned by whoever runs natstack, root in CI or a developer.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "dns/provider.hpp"

namespace natstack::dns {

/// A fresh hmac-sha256 key named `name` with a 32-byte secret from getrandom(2) (the size of
/// the HMAC-SHA256 output, as `keymgr -t` makes). kInvalidArgument for a bad name.
Result<TsigKey> GenerateTsigKey(const std::string& name);

/// The key in keymgr's YAML format, the one file both ReadTsigKeyFile and knot.conf (through
/// `include:`) read:
///   key:
///     - id: natstack-update.
///       algorithm: hmac-sha256
///       secret: BASE64
std::string RenderTsigKeyFile(const TsigKey& key);

/// Writes RenderTsigKeyFile(key) with mode 0600 through a temporary file and a rename.
Status WriteTsigKeyFile(const std::string& path, const TsigKey& key);

/// Where a Knot server's files live under its state directory.
struct KnotLayout {
  std::string config;     ///< STATE/knot.conf
  std::string key_file;   ///< STATE/tsig.key (0600, keymgr format)
  std::string rundir;     ///< STATE/run: knot.pid, knot.sock (knotc -c STATE/knot.conf)
  std::string database;   ///< STATE/db: journal and timers
  std::string zones_dir;  ///< STATE/zones: one ZONE.zone per zone, rewritten by Knot
  /// STATE/zones/example.test.zone for "example.test." (Knot's "%s.zone").
  std::string ZoneFile(const std::string& zone) const;
};
KnotLayout LayoutFor(const std::string& state_dir);

struct KnotOptions {
  std::string state_dir;  ///< absolute; see KnotLayout
  uint16_t port = 8053;   ///< TCP and UDP
  /// The address to listen on ("" = 127.0.0.1), alone: two servers on one machine with
  /// different addresses do not clash. It is also the zones' NS glue address when set.
  std::string address;
  std::string tsig_key_name = "natstack-update.";  ///< the one key the update ACL allows
  /// Zones served, each with a zone file (`RenderZoneFile`), e.g. "cluster.internal.",
  /// "example.test.". At least one.
  std::vector<std::string> zones;
  /// The zones' SOA minimum: how long resolvers cache "no such record" (RFC 2308 §5).
  uint32_t soa_minimum = 60;
};

/// knot.conf for `options`: listen ADDRESS@PORT (127.0.0.1 by default), rundir and database
/// under the state directory, the key file included, an ACL that allows `update` with that key
/// and nothing else, zone files STATE/zones/%s.zone rewritten after every change
/// (zonefile-sync: 0), logging to stderr, one worker of each kind. No `user:` line (see the
/// header comment). Contains no secret. kInvalidArgument naming the option at fault.
Result<std::string> RenderKnotConfig(const KnotOptions& options);

struct ZoneFileOptions {
  std::string zone;                      ///< "example.test."
  uint32_t soa_minimum = 60;             ///< negative-cache TTL (RFC 2308 §5)
  std::string ns_name;                   ///< "" = ns1.ZONE
  std::string ns_address = "127.0.0.1";  ///< glue A (or AAAA) when ns_name is inside the zone
  uint32_t serial = 1;                   ///< Knot increments it on every change (serial-policy)
};

/// The initial zone file: $ORIGIN, an SOA (serial, refresh 3600, retry 600, expire 86400,
/// minimum), one NS and its glue. kInvalidArgument for a bad name or address.
Result<std::string> RenderZoneFile(const ZoneFileOptions& options);

/// Creates the state directory (0700) and its subdirectories; reads STATE/tsig.key or, when
/// absent, generates it (GenerateTsigKey(options.tsig_key_name)); writes knot.conf (every
/// time, 0600) and each zone file that does not exist yet (an existing one is Knot's, holding
/// every update so far, and is left alone). Returns the key for the provider.
/// kFailedPrecondition when the existing key has another name than options.tsig_key_name.
Result<TsigKey> PrepareKnotState(const KnotOptions& options);

/// The knotd binary: the first executable `knotd` on PATH, else /usr/sbin/knotd, else
/// /usr/local/sbin/knotd. kNotFound saying which package installs it.
Result<std::string> FindKnotd();

/// The command line that runs Knot in the foreground with this config:
///   {knotd, "-c", config}
/// (no -d: the supervisor owns the process; SIGTERM stops it cleanly).
std::vector<std::string> KnotdArgv(const std::string& knotd, const std::string& config);

/// The readiness probe: asks `server`:`port` over TCP for `zone`'s SOA and returns its serial.
/// Ok only once the server answers authoritatively with the SOA, i.e. the zone is loaded.
/// kUnavailable while nothing answers; other codes as for Rfc2136Provider::Read.
Result<uint32_t> QueryZoneSerial(const std::string& server, uint16_t port, const std::string& zone,
                                 std::chrono::milliseconds timeout);

}  // namespace natstack::dns

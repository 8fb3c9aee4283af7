#include "dns/knot.hpp"

#include <arpa/inet.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/base64.hpp"
#include "core/file.hpp"
#include "core/text.hpp"
#include "dns/ldns_handles.hpp"

namespace natstack::dns {
namespace {

/// "Example.Test" -> "example.test." (the zone as Knot names it).
std::string AbsoluteLower(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.empty() || name.back() != '.') name += '.';
  return name;
}

/// A value that goes between double quotes in knot.conf: an absolute path with no character
/// YAML or Knot's parser would treat specially.
Status CheckConfigPath(const std::string& path, const char* what) {
  if (path.empty() || path.front() != '/') {
    return Fail(Code::kInvalidArgument,
                std::string(what) + " " + EscapeText(path) + " is not an absolute path");
  }
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || u < 0x20 || u == 0x7f) {
      return Fail(Code::kInvalidArgument, std::string(what) + " " + EscapeText(path) +
                                              " holds a quote, backslash or control character");
    }
  }
  return Ok();
}

bool IsIpAddress(const std::string& text, bool* v6 = nullptr) {
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    if (v6 != nullptr) *v6 = false;
    return true;
  }
  if (::inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    if (v6 != nullptr) *v6 = true;
    return true;
  }
  return false;
}

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

}  // namespace

Result<TsigKey> GenerateTsigKey(const std::string& name) {
  std::array<unsigned char, 32> secret{};
  size_t filled = 0;
  // getrandom(2) without flags blocks only until the kernel's pool is initialised; requests
  // of at most 256 bytes are then never short, but EINTR is possible before that.
  for (int attempt = 0; attempt < 100 && filled < secret.size(); ++attempt) {
    const ssize_t n = ::getrandom(secret.data() + filled, secret.size() - filled, 0);
    if (n > 0) {
      filled += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      return Fail(Code::kInternal, std::string("getrandom: ") + std::strerror(errno));
    }
  }
  if (filled < secret.size()) return Fail(Code::kInternal, "getrandom returned too few bytes");
  TsigKey key{
      name, "hmac-sha256",
      Base64Encode(std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()))};
  ::explicit_bzero(secret.data(), secret.size());
  return ValidateTsigKey(std::move(key));
}

std::string RenderTsigKeyFile(const TsigKey& key) {
  std::string out = "# TSIG key for RFC 2136 updates (natstack). Keep it 0600.\nkey:\n";
  out += "  - id: " + key.name + "\n";
  out += "    algorithm: " + key.algorithm + "\n";
  out += "    secret: " + key.secret_base64 + "\n";
  return out;
}

Status WriteTsigKeyFile(const std::string& path, const TsigKey& key) {
  NATSTACK_ASSIGN_OR_RETURN(TsigKey valid, ValidateTsigKey(key));
  return WriteFileAtomic(path, RenderTsigKeyFile(valid), 0600);
}

std::string KnotLayout::ZoneFile(const std::string& zone) const {
  std::string name = AbsoluteLower(zone);
  name.pop_back();
  return zones_dir + "/" + name + ".zone";
}

KnotLayout LayoutFor(const std::string& state_dir) {
  std::string base = state_dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return KnotLayout{base + "/knot.conf", base + "/tsig.key", base + "/run", base + "/db",
                    base + "/zones"};
}

Result<std::string> RenderKnotConfig(const KnotOptions& options) {
  NATSTACK_TRY(CheckConfigPath(options.state_dir, "state_dir"));
  const KnotLayout layout = LayoutFor(options.state_dir);
  if (options.port == 0) return Fail(Code::kInvalidArgument, "port: 0 is not a port");
  if (!options.address.empty() && !IsIpAddress(options.address)) {
    return Fail(Code::kInvalidArgument,
                "address: " + EscapeText(options.address) + " is not an IPv4 or IPv6 address");
  }
  if (auto ok = ValidateZoneName(options.tsig_key_name); !ok) {
    return Fail(ok.error().Wrap("tsig_key_name"));
  }
  if (options.zones.empty()) return Fail(Code::kInvalidArgument, "zones: no zone given");
  std::set<std::string> zones;
  for (const std::string& zone : options.zones) {
    if (auto ok = ValidateZoneName(zone); !ok) return Fail(ok.error().Wrap("zones"));
    if (!zones.insert(AbsoluteLower(zone)).second) {
      return Fail(Code::kInvalidArgument, "zones: " + zone + " is listed twice");
    }
  }
  const std::string port = std::to_string(options.port);
  // One address: two stacks on one machine (127.0.1.x and 127.0.2.x) each get their own.
  const std::string listen =
      "\"" + (options.address.empty() ? std::string("127.0.0.1") : options.address) + "@" + port + "\"";
  std::string out;
  out += "# knot.conf for a private Knot DNS 3.2 server, written by natstack at every start.\n";
  out += "# Run: knotd -c " + layout.config + "\n";
  out += "server:\n";
  out += "    rundir: \"" + layout.rundir + "\"\n";
  out += "    listen: [ " + listen + " ]\n";
  // A handful of records: one worker of each kind is plenty and keeps knotd near 9 MB.
  out += "    udp-workers: 1\n";
  out += "    tcp-workers: 1\n";
  out += "    background-workers: 1\n";
  // No "user:" line: knotd keeps the user that started it (as root it would otherwise switch
  // to the one named here and could lose access to a state directory owned by root).
  out += "\n";
  out += "log:\n";
  out += "  - target: stderr\n";
  out += "    any: info\n";
  out += "\n";
  out += "database:\n";
  out += "    storage: \"" + layout.database + "\"\n";
  // LMDB reserves its maximum size as address space; Knot's defaults are gigabytes.
  out += "    journal-db-max-size: 64M\n";
  out += "    timer-db-max-size: 16M\n";
  out += "    kasp-db-max-size: 16M\n";
  out += "    catalog-db-max-size: 16M\n";
  out += "\n";
  out += "# The TSIG key, in its own file (keymgr format, mode 0600).\n";
  out += "include: \"" + layout.key_file + "\"\n";
  out += "\n";
  out += "acl:\n";
  out += "  - id: natstack-update\n";
  out += "    key: " + AbsoluteLower(options.tsig_key_name) + "\n";
  out += "    action: update\n";
  out += "\n";
  out += "template:\n";
  out += "  - id: default\n";
  out += "    storage: \"" + layout.zones_dir + "\"\n";
  out += "    file: \"%s.zone\"\n";
  // Write every change back to the zone file at once: the file is always the current zone,
  // readable by people and the starting point of the next start.
  out += "    zonefile-sync: 0\n";
  out += "    acl: natstack-update\n";
  out += "\n";
  out += "zone:\n";
  for (const std::string& zone : options.zones) {
    out += "  - domain: \"" + AbsoluteLower(zone) + "\"\n";
  }
  return out;
}

Result<std::string> RenderZoneFile(const ZoneFileOptions& options) {
  if (auto ok = ValidateZoneName(options.zone); !ok) return Fail(ok.error());
  const std::string zone = AbsoluteLower(options.zone);
  const std::string ns = options.ns_name.empty() ? "ns1." + zone : AbsoluteLower(options.ns_name);
  if (auto ok = ValidateZoneName(ns); !ok) return Fail(ok.error().Wrap("ns_name"));
  if (options.soa_minimum > kMaxTtl) {
    return Fail(Code::kInvalidArgument, "soa_minimum: above 2147483647");
  }
  const bool glue = ValidateOwnerName(ns, zone).has_value();
  bool v6 = false;
  if (glue && !IsIpAddress(options.ns_address, &v6)) {
    return Fail(Code::kInvalidArgument,
                "ns_address: " + EscapeText(options.ns_address) + " is not an IP address");
  }
  const std::string minimum = std::to_string(options.soa_minimum);
  std::string out;
  out += "$ORIGIN " + zone + "\n";
  out += "$TTL 3600\n";
  // SOA fields (RFC 1035 §3.3.13): serial, refresh 1 h, retry 10 min, expire 1 day, and
  // minimum, the negative-caching TTL (RFC 2308 §5: resolvers cache NXDOMAIN/NODATA for
  // min(SOA TTL, minimum)).
  out += "@ 3600 IN SOA " + ns + " hostmaster." + zone + " " + std::to_string(options.serial) +
         " 3600 600 86400 " + minimum + "\n";
  out += "@ 3600 IN NS " + ns + "\n";
  if (glue) {
    out += ns + " 3600 IN " + (v6 ? "AAAA " : "A ") + options.ns_address + "\n";
  }
  return out;
}

Result<TsigKey> PrepareKnotState(const KnotOptions& options) {
  NATSTACK_TRY(CheckConfigPath(options.state_dir, "state_dir"));
  NATSTACK_ASSIGN_OR_RETURN(std::string config, RenderKnotConfig(options));
  const KnotLayout layout = LayoutFor(options.state_dir);
  for (const std::string& dir :
       {options.state_dir, layout.rundir, layout.database, layout.zones_dir}) {
    NATSTACK_TRY(MakeDirs(dir, 0700));
  }

  TsigKey key;
  if (FileExists(layout.key_file)) {
    NATSTACK_ASSIGN_OR_RETURN(key, ReadTsigKeyFile(layout.key_file));
    if (key.name != AbsoluteLower(options.tsig_key_name)) {
      return Fail(Code::kFailedPrecondition,
                  layout.key_file + " holds key " + key.name + ", not tsig_key_name " +
                      AbsoluteLower(options.tsig_key_name) + ": remove it to generate a new one");
    }
    // knot.conf includes this file, so it must be in keymgr's format; a one-line key is
    // rewritten (same key).
    NATSTACK_ASSIGN_OR_RETURN(std::string text, ReadSecretFile(layout.key_file));
    if (text != RenderTsigKeyFile(key)) NATSTACK_TRY(WriteTsigKeyFile(layout.key_file, key));
  } else {
    NATSTACK_ASSIGN_OR_RETURN(key, GenerateTsigKey(options.tsig_key_name));
    NATSTACK_TRY(WriteTsigKeyFile(layout.key_file, key));
  }

  NATSTACK_TRY(WriteFileAtomic(layout.config, config, 0600));
  for (const std::string& zone : options.zones) {
    const std::string path = layout.ZoneFile(zone);
    if (FileExists(path)) continue;  // Knot's now: it holds every update so far
    ZoneFileOptions zone_options;
    zone_options.zone = zone;
    zone_options.soa_minimum = options.soa_minimum;
    if (!options.address.empty()) zone_options.ns_address = options.address;
    NATSTACK_ASSIGN_OR_RETURN(std::string text, RenderZoneFile(zone_options));
    NATSTACK_TRY(WriteFileAtomic(path, text, 0600));
  }
  return key;
}

Result<std::string> FindKnotd() {
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string_view rest(path);
    while (true) {
      const size_t colon = rest.find(':');
      const std::string dir(rest.substr(0, colon));
      if (!dir.empty() && IsExecutable(dir + "/knotd")) return dir + "/knotd";
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  // sbin is often missing from a non-root PATH.
  for (const char* candidate : {"/usr/sbin/knotd", "/usr/local/sbin/knotd"}) {
    if (IsExecutable(candidate)) return std::string(candidate);
  }
  return Fail(Code::kNotFound,
              "knotd not found on PATH, in /usr/sbin or /usr/local/sbin: install the Debian "
              "package knot (scripts/setup.sh does)");
}

std::vector<std::string> KnotdArgv(const std::string& knotd, const std::string& config) {
  return {knotd, "-c", config};
}

Result<uint32_t> QueryZoneSerial(const std::string& server, uint16_t port, const std::string& zone,
                                 std::chrono::milliseconds timeout) {
  if (auto ok = ValidateZoneName(zone); !ok) return Fail(ok.error());
  if (!IsIpAddress(server)) {
    return Fail(Code::kInvalidArgument,
                "server " + EscapeText(server) + " is not an IPv4 or IPv6 address");
  }
  const std::string what = "SOA query for " + AbsoluteLower(zone);
  NATSTACK_ASSIGN_OR_RETURN(internal::RdfPtr qname, internal::MakeDname(zone));
  internal::PktPtr query(
      ldns_pkt_query_new(qname.release(), LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0));
  if (!query) return Fail(Code::kInternal, what + ": ldns_pkt_query_new failed");
  const internal::Endpoint endpoint{server, port, std::nullopt, timeout};
  NATSTACK_ASSIGN_OR_RETURN(internal::PktPtr reply,
                            internal::Exchange(endpoint, query.get(), what));
  const ldns_rr_list* answer = ldns_pkt_answer(reply.get());
  if (ldns_pkt_aa(reply.get()) && ldns_pkt_get_rcode(reply.get()) == LDNS_RCODE_NOERROR) {
    for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(answer, i);
      if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 3) continue;
      const ldns_rdf* serial = ldns_rr_rdf(rr, 2);  // MNAME, RNAME, SERIAL, ...
      if (ldns_rdf_size(serial) == 4) return ldns_rdf2native_int32(serial);
    }
  }
  return Fail(Code::kUnavailable,
              what + ": " + endpoint.Describe() + " does not serve the zone (not loaded yet?)");
}

}  // namespace natstack::dns

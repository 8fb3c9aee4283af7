#pragma once
/// The cluster spec: one TOML file that describes a cluster (docs/spec.md, and
/// docs/adr/0002-cluster-spec-format.md for why TOML). `natstack up` without --spec runs the
/// embedded default, which is itself a spec (DefaultSpecText, `natstack config default`).
///
/// Parsing is pure: text in, a StackLayout out, or one error naming the file, the line and the
/// key ("spec.toml:14: nodes[1].cluster_port: 70000 is not a port (1-65535)"). Unknown keys
/// are errors. Every check the node renderer makes on names, addresses, ports, tags, origins
/// and JetStream settings is made here too, so a spec that validates renders.

#include <string>
#include <string_view>

#include "cluster/layout.hpp"
#include "core/error.hpp"

namespace natstack::cluster {

/// The embedded default spec: 3 nodes on 127.0.1.1-3 with the standard ports, two callout
/// replicas, the development IdP on 127.0.0.1:9400, the supervisor on 127.0.0.1:9390, the
/// local CA. Commented; every key shown but the [tls] files.
std::string_view DefaultSpecText();

/// What the spec is for: some checks only matter when natstack runs it here.
enum class SpecUse {
  kAny,    ///< `config validate`, `cluster render`: nodes on any hosts
  kLocal,  ///< `natstack up`: every node and the IdP on a loopback IPv4 address of this machine
};

/// Parses and validates spec text. `source` names it in errors; `state_dir` becomes the
/// layout's (made absolute). kInvalidArgument for any problem, as one message
/// "SOURCE:LINE: key: reason". Pure but for tls.source = "files": then the three files are
/// read and checked (parse, key matches, chain verifies against ca_file now, endpoint covered).
Result<StackLayout> ParseSpec(std::string_view text, std::string_view source,
                              const std::string& state_dir, SpecUse use = SpecUse::kAny);

/// The checks ParseSpec makes on a whole layout (shapes, clashing listeners, two nodes or
/// more, loopback for kLocal), for a layout that flags changed after it was read: `up
/// --idp-listen ...` is refused before anything starts. Errors name the flag when one set it.
Status CheckLayout(const StackLayout& layout, SpecUse use);

/// Reads and parses a spec file (kNotFound / kPermissionDenied when it cannot be read).
Result<StackLayout> LoadSpecFile(const std::string& path, const std::string& state_dir,
                                 SpecUse use = SpecUse::kAny);

/// "64MiB" -> 67108864: an integer with an optional KiB, MiB, GiB or TiB suffix (binary
/// units). kInvalidArgument with a reason for anything else.
Result<int64_t> ParseByteSize(std::string_view text);

/// "90d" -> 7776000: a positive integer with an s, m, h or d suffix, in seconds.
/// kInvalidArgument with a reason for anything else (no bare numbers, no fractions).
Result<int64_t> ParseDuration(std::string_view text);

}  // namespace natstack::cluster

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
/// replicas, the development IdP on 127.0.0.1:9400. Commented; every key shown.
std::string_view DefaultSpecText();

/// Parses and validates spec text. `source` names it in errors; `state_dir` becomes the
/// layout's (made absolute). kInvalidArgument for any problem.
Result<StackLayout> ParseSpec(std::string_view text, std::string_view source,
                              const std::string& state_dir);

/// Reads and parses a spec file (kNotFound / kPermissionDenied when it cannot be read).
Result<StackLayout> LoadSpecFile(const std::string& path, const std::string& state_dir);

/// "64MiB" -> 67108864: an integer with an optional KiB, MiB, GiB or TiB suffix (binary
/// units). nullopt-like failure with a reason for anything else.
Result<int64_t> ParseByteSize(std::string_view text);

}  // namespace natstack::cluster

#pragma once
/// Prepares a stack's state directory: keys, local CA, server certificate, node configs and the
/// callout's config. Idempotent: what exists is reused (keys, CA, a certificate that still
/// covers the names and has more than a third of its lifetime left); configs are rendered
/// every time. With tls.source = "files" no CA or certificate is made: the nodes and the
/// callout use the operator's files where they are.

#include <functional>
#include <string>

#include "callout/config.hpp"
#include "cluster/layout.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace natstack::cluster {

struct PreparedStack {
  StackLayout layout;
  std::string issuer_public;  ///< A... (auth callout issuer)
  std::string xkey_public;    ///< X...
  std::string root_fingerprint;
  bool certificate_reissued = false;
  callout::CalloutConfig callout;
};

/// `step` is told what was done ("keys", "certificates", "configs") for progress output.
Result<PreparedStack> PrepareStack(const StackLayout& layout, const Clock& clock,
                                   const std::function<void(const std::string&)>& step);

/// Knot's state (dns/: knot.conf, tsig.key, the public zone) and the record sidecar's config
/// (dns-sidecar.json) for `layout`; with dns disabled, removes the sidecar's config. Part of
/// PrepareStack.
Status PrepareDns(const StackLayout& layout);

/// The renderer's input for `layout` without the keys and password hashes (PrepareStack adds
/// them).
RenderInput NodeRenderInput(const StackLayout& layout);

/// The names and addresses the server certificate must cover for `layout`.
struct CertificateNames {
  std::vector<std::string> dns;
  std::vector<std::string> ips;
};
CertificateNames RequiredCertificateNames(const StackLayout& layout);

}  // namespace natstack::cluster

#pragma once
/// Cluster spec → nats-server 2.10 configuration files, one pair per node:
///
///   <name>.conf          0644  everything but secrets; includes the two files below at the top
///   <name>.secrets.conf  0600  top-level variables holding the secrets, referenced from
///                              <name>.conf as $NATSTACK_ROUTE_PASSWORD,
///                              $NATSTACK_CALLOUT_PASSWORD_HASH, $NATSTACK_SYS_PASSWORD_HASH
///   <name>.routes.conf   0600  $NATSTACK_ROUTES: one nats-route:// URL (with the route
///                              credentials) per peer; alone so that the route seed can
///                              rewrite it for the node's next start (RenderRoutes)
///
/// Facts about nats-server's config grammar this relies on (checked against v2.10.27's
/// conf/lex.go, conf/parse.go and `nats-server -t`; see render_test.cpp):
/// - `include` may stand wherever a key may (top level or inside a `{}` map, not inside an
///   array); the included file's keys are merged into that map.
/// - An include path is joined to the directory of the including file even when it is absolute
///   (`filepath.Join(dir, path)`), so the include is written relative and both files must sit in
///   the same directory (WriteRendered does that).
/// - A top-level key defined but never referenced as `$VAR` is an "unknown field" error, so the
///   secrets file defines exactly the variables the main file uses.
/// - A variable that is not defined anywhere falls back to the environment variable of that
///   name; the renderer therefore always writes every variable it references.
/// - Double-quoted strings take the escapes \" \\ \t \n \r \xHH; nothing else is special inside
///   them ($, #, // are literal), which is how every string is written here.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace natstack::cluster {

struct NodeSpec {
  std::string name;  ///< [A-Za-z0-9_-]{1,63}, unique (case-insensitively); also the file name
  std::string host;  ///< IPv4/IPv6 literal or DNS name peers can dial (not 0.0.0.0 / ::)
  int client_port = 4222;
  int cluster_port = 6222;
  int monitor_port = 8222;
  int websocket_port = 8443;
  /// server_tags besides the unique "node:<name>" one (placement tags such as "az:1"):
  /// printable, no whitespace or comma, at most 64 bytes, not starting with "node:".
  std::vector<std::string> tags;
};

struct RenderInput {
  std::string cluster_name = "natstack";
  std::vector<NodeSpec> nodes;
  /// Absolute. JetStream store_dir = <state_dir>/nodes/<name>/jetstream (nats-server itself adds
  /// one more "jetstream" directory below a store_dir).
  std::string state_dir;
  /// Absolute; server chain + key, used for client TLS and WebSocket TLS.
  std::string cert_file, key_file;
  std::string issuer_account_public;  ///< "A..." auth callout issuer
  std::string callout_xkey_public;    ///< "X..."
  std::string callout_user = "callout";
  /// bcrypt ($2a$/$2b$/$2x$/$2y$) of the callout user's password; see BcryptHash.
  std::string callout_password_hash;
  std::string sys_user = "sys";
  std::string sys_password_hash;  ///< bcrypt
  std::string route_user = "route";
  /// Plaintext: routes dial with it, so it lives only in the 0600 secrets file.
  std::string route_password;
  /// "https://host[:port]" (or http); at most one per host. Empty: any origin.
  std::vector<std::string> websocket_allowed_origins;
  bool websocket_same_origin = false;
  bool websocket_compression = true;
  int64_t jetstream_max_memory = 64 << 20;  ///< bytes
  int64_t jetstream_max_file = 1LL << 30;   ///< bytes
  /// JetStream domain ("" = none): 1-63 of [A-Za-z0-9_-].
  std::string jetstream_domain;
  /// The account of the callout user, where the callout places clients (auth_callout.account):
  /// 1-63 of [A-Za-z0-9_-], not "SYS" (the system account).
  std::string callout_account = "AUTH";
  /// authorization.timeout in seconds (1-60): the time a client has to be authorized, and so
  /// the lifetime of each auth callout request.
  int auth_timeout_s = 3;
};

struct RenderedNode {
  std::string name;
  std::string config;   ///< nats-server.conf text, no secrets
  std::string secrets;  ///< the included file; holds plaintext route credentials, write it 0600
  std::string routes;   ///< <name>.routes.conf: every other node of the spec; write it 0600
};

/// Validates `input` and renders one config pair per node, in `input.nodes` order. Pure: touches
/// no file. kInvalidArgument with a message naming the field (e.g. "nodes[1].cluster_port") for:
/// no nodes; a bad or duplicate node name; a bad host or port; two listeners (of any nodes) on
/// the same host:port; a relative path; a key that is not an A.../X... public key; an empty or
/// duplicate user name; a password hash that is not bcrypt; an empty route password; a
/// malformed or duplicate-host allowed origin; non-positive JetStream limits; a bad callout
/// account or auth timeout; control characters in any string.
Result<std::vector<RenderedNode>> Render(const RenderInput& input);

/// The checks of Render that a cluster spec decides (cluster name, nodes, hosts, ports, tags,
/// allowed origins, JetStream settings, callout account, auth timeout), without keys, passwords or paths: for validating a
/// spec before anything exists. Same messages as Render.
Status CheckShape(const RenderInput& input);

/// Writes <dir>/<name>.secrets.conf and <name>.routes.conf (0600) and then <dir>/<name>.conf
/// (0644) for each node, each atomically (temporary file + rename); creates `dir` (0755) when
/// absent. The three files of a node must stay side by side: the includes are relative.
/// kInvalidArgument for a node name that is not a plain file name.
Status WriteRendered(const std::vector<RenderedNode>& nodes, const std::string& dir);

/// File names WriteRendered uses for a node.
std::string ConfigFileName(std::string_view node_name);
std::string SecretsFileName(std::string_view node_name);
std::string RoutesFileName(std::string_view node_name);

/// The peers a node dials when it starts, and where they came from.
struct SeedRoutes {
  std::vector<NodeSpec> peers;
  bool from_seed = false;  ///< false: the seed named no other node, these are the spec's
};

/// The route seed's peers of node `node`: the other nodes of `input` whose host is one of the
/// `seed` addresses (compared in canonical form), in `input.nodes` order. An address that is
/// no node's host gets no route: a route URL carries the route credentials, so natstack dials
/// only the nodes of its own spec. When the seed names no other node (the first node to start
/// in a stopped cluster), every other node of `input`: nats-server refuses to start a
/// JetStream cluster without a route, and the first node must find the others as they come.
SeedRoutes RouteSeedPeers(const RenderInput& input, std::string_view node,
                          const std::set<std::string>& seed);

/// <node>.routes.conf with one route per peer (the same text Render writes for the spec's
/// peers). The supervisor rewrites it when the route seed's members change, for the node's
/// next start. kInvalidArgument for a bad node name, route user or password, or a peer's host
/// or cluster port.
Result<std::string> RenderRoutes(const RenderInput& input, std::string_view node,
                                 const std::vector<NodeSpec>& peers);

/// bcrypt hash of `password` with the "$2b$" prefix (libxcrypt), which nats-server accepts for
/// user passwords (server/auth.go isBcrypt: `^\$2[abxy]\$\d{2}\$.*`). `cost` is the log2 work
/// factor, 4..31 (11 ≈ 0.14 s here). kInvalidArgument for an empty password, one with a NUL
/// byte, or one longer than 72 bytes (bcrypt would silently ignore the rest); kInternal when
/// libcrypt fails. Thread-safe.
Result<std::string> BcryptHash(std::string_view password, int cost = 11);

/// `text` as a double-quoted nats-server config string (escapes ", \ and control characters).
std::string QuoteConfigString(std::string_view text);

}  // namespace natstack::cluster

#!/usr/bin/env bash
# Installs what natstack needs to build, test and run on Debian 12. Idempotent: when everything is
# present it only checks and returns (well under a second).
#
#   scripts/setup.sh            build + runtime dependencies, and the test OpenID Provider
#
# nats-server >= 2.10.11 is required (auth callout). Debian 12 ships 2.9.10, so the one package is
# taken from Debian 13 (trixie) with a private, temporary apt configuration; the system's apt
# sources are never changed. The mirror URI is read from the machine's own apt sources.
#
# The integration test against a real OpenID Provider runs the npm package oidc-provider
# (tests/oidc): `npm ci` installs exactly the committed lock into tests/oidc/node_modules
# (git-ignored). oidc-provider 9 needs Node.js >= 20.
set -euo pipefail

readonly ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly MIN_NODE_MAJOR=20

readonly MIN_NATS_SERVER="2.10.11"
tmp=""
readonly DEBIAN_PACKAGES=(
  build-essential cmake pkg-config ca-certificates openssl
  libnats-dev libsodium-dev libssl-dev libcurl4-openssl-dev
  nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libexpected-dev
  libgtest-dev libgmock-dev libtomlplusplus-dev
  libldns-dev knot knot-dnsutils bind9-dnsutils
  curl iproute2 procps
)

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@";
  else die "need root to run: $* (run as root or install sudo)"; fi
}

missing_packages() {
  local p status
  for p in "${DEBIAN_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || printf '%s\n' "$p"
  done
}

# version_ge A B: true when A >= B (dotted numeric versions).
version_ge() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }

nats_server_version() {
  local bin
  bin=$(command -v nats-server || true)
  [[ -n $bin ]] || bin=/usr/sbin/nats-server
  [[ -x $bin ]] || return 1
  "$bin" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p' | head -n1
}

# The first Debian (not -security) mirror URI in the machine's apt sources, deb822 or one-line form.
debian_mirror_uri() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [[ -n $uri ]] && { printf '%s\n' "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) { print $i; exit } break } }' "$f")
    [[ -n $uri ]] && { printf '%s\n' "$uri"; return 0; }
  done
  return 1
}

install_debian_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq || die "apt-get update failed: check the machine's apt sources"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install failed for: ${missing[*]}"
}

install_nats_server() {
  local have
  have=$(nats_server_version || true)
  if [[ -n $have ]] && version_ge "$have" "$MIN_NATS_SERVER"; then return 0; fi
  log "nats-server ${have:-absent} is older than $MIN_NATS_SERVER: fetching Debian 13's package"
  local uri
  uri=$(debian_mirror_uri) || die "no Debian mirror found in /etc/apt/sources.list{,.d}: cannot fetch nats-server"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/etc/preferences.d"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$uri" >"$tmp/sources.list"
  local -a opts=(
    -o "Dir::Etc::sourcelist=$tmp/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::Etc::preferencesparts=$tmp/etc/preferences.d"
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache"
    -o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0
  )
  apt-get "${opts[@]}" update -qq >/dev/null 2>"$tmp/update.err" ||
    die "could not read Debian 13 (trixie) package lists from $uri: $(tail -n1 "$tmp/update.err")"
  (cd "$tmp" && apt-get "${opts[@]}" download -qq nats-server/trixie >/dev/null 2>"$tmp/dl.err") ||
    die "could not download nats-server from trixie: $(tail -n1 "$tmp/dl.err")"
  local deb
  deb=$(ls "$tmp"/nats-server_*.deb 2>/dev/null | head -n1)
  [[ -n $deb ]] || die "nats-server package missing after download"
  dpkg-query -W -f='${Status}' adduser 2>/dev/null | grep -q 'install ok installed' ||
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq adduser >/dev/null
  as_root dpkg -i "$deb" >/dev/null || die "dpkg -i $(basename "$deb") failed"
  # The package enables a system service; natstack runs its own nodes, so keep it off.
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    as_root systemctl disable --now nats-server >/dev/null 2>&1 || true
  fi
  have=$(nats_server_version || true)
  [[ -n $have ]] && version_ge "$have" "$MIN_NATS_SERVER" ||
    die "nats-server ${have:-absent} installed, but natstack needs >= $MIN_NATS_SERVER (auth callout)"
  log "nats-server $have installed"
}

install_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  log "installing nodejs and npm (the test OpenID Provider runs on Node.js)"
  as_root apt-get update -qq || die "apt-get update failed: check the machine's apt sources"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    nodejs npm >/dev/null || die "apt-get install failed for: nodejs npm"
}

# npm ci into tests/oidc/node_modules unless the lock installed there last is the committed one
# (its hash is recorded after a successful install), so a second run costs one sha256sum.
install_oidc_provider() {
  local dir="$ROOT/tests/oidc"
  [[ -f $dir/package-lock.json ]] || return 0
  local stamp="$dir/node_modules/.natstack-lock.sha256" want
  want=$(sha256sum <"$dir/package-lock.json" | cut -d' ' -f1)
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  install_node
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  ((major >= MIN_NODE_MAJOR)) ||
    die "Node.js $(node --version 2>/dev/null || echo absent) is too old: tests/oidc (oidc-provider) needs >= $MIN_NODE_MAJOR"
  log "installing the test OpenID Provider (npm ci in tests/oidc)"
  local err
  err=$(mktemp)
  # In the folder, so its .npmrc applies. --ignore-scripts: nothing in the lock needs a build.
  if ! (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>"$err"); then
    local why
    why=$(tail -n 3 "$err")
    rm -f "$err"
    die "npm ci in tests/oidc failed: $why"
  fi
  rm -f "$err"
  printf '%s\n' "$want" >"$stamp"
}

main() {
  install_debian_packages
  install_nats_server
  install_oidc_provider
}
main "$@"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "crypto/box.hpp"
#include "crypto/random.hpp"
#include "nkeys/nkeys.hpp"

namespace natstack::nkeys {
namespace {

std::string_view View(const RawKey& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

}  // namespace

/// Peer raw public key -> crypto_box_beforenm key. Entries are shared_ptr so that an eviction
/// never pulls a key from under a Seal/Open that is using it; the key is wiped when the last
/// user lets go.
struct XKey::SharedKeyCache {
  std::mutex mu;
  std::map<RawKey, std::shared_ptr<const crypto::SecureBytes>> keys;
};

XKey::XKey(crypto::SecureBytes seed, const RawKey& raw_public)
    : seed_(std::move(seed)),
      public_key_(EncodePublicKey(Role::kCurve, raw_public)),
      cache_(std::make_unique<SharedKeyCache>()) {}

XKey::XKey(XKey&&) noexcept = default;
XKey& XKey::operator=(XKey&&) noexcept = default;
XKey::~XKey() = default;

Result<XKey> XKey::FromSeed(std::string_view seed) {
  NATSTACK_ASSIGN_OR_RETURN(auto decoded, DecodeSeed(seed));
  if (decoded.role != Role::kCurve)
    return Fail(Code::kInvalidArgument, "nkeys: expected a curve (SX) seed, got a " +
                                            std::string(RoleName(decoded.role)) + " seed");
  return FromRawSeed(decoded.raw.view());
}

Result<XKey> XKey::FromRawSeed(std::string_view raw_seed) {
  NATSTACK_ASSIGN_OR_RETURN(const RawKey raw_public, crypto::X25519PublicKey(raw_seed));
  return XKey(crypto::SecureBytes(raw_seed), raw_public);
}

XKey XKey::Generate() {
  crypto::SecureBytes raw(kRawKeySize);
  crypto::RandomBytes(raw.data(), raw.size());
  auto key = FromRawSeed(raw.view());
  if (!key) {
    std::fputs("natstack: fatal: nkeys::XKey::Generate: key derivation failed\n", stderr);
    std::abort();
  }
  return std::move(*key);
}

crypto::SecureBytes XKey::Seed() const {
  auto seed = EncodeSeed(Role::kCurve, seed_.view());
  if (!seed) {
    std::fputs("natstack: fatal: nkeys::XKey::Seed: invalid key state\n", stderr);
    std::abort();
  }
  return std::move(*seed);
}

size_t XKey::CachedPeerCount() const {
  std::lock_guard lock(cache_->mu);
  return cache_->keys.size();
}

Result<std::shared_ptr<const crypto::SecureBytes>> XKey::SharedKeyFor(
    std::string_view peer_public) const {
  NATSTACK_ASSIGN_OR_RETURN(const RawKey peer, DecodePublicKey(peer_public, Role::kCurve));
  {
    std::lock_guard lock(cache_->mu);
    if (auto it = cache_->keys.find(peer); it != cache_->keys.end()) return it->second;
  }
  // Derive outside the lock: two threads may race to derive the same key, which is harmless.
  NATSTACK_ASSIGN_OR_RETURN(auto derived, crypto::BoxSharedKey(View(peer), seed_.view()));
  auto key = std::make_shared<const crypto::SecureBytes>(std::move(derived));
  std::lock_guard lock(cache_->mu);
  if (cache_->keys.size() >= kMaxCachedPeers && !cache_->keys.contains(peer)) {
    // Bounded: a flood of distinct peer keys costs a derivation each, never memory.
    cache_->keys.erase(cache_->keys.begin());
  }
  cache_->keys.insert_or_assign(peer, key);
  return key;
}

Result<std::string> XKey::Seal(std::string_view plaintext,
                               std::string_view recipient_public) const {
  char nonce[kNonceSize];
  crypto::RandomBytes(nonce, sizeof nonce);
  return SealWithNonce(plaintext, recipient_public, std::string_view(nonce, sizeof nonce));
}

Result<std::string> XKey::SealWithNonce(std::string_view plaintext,
                                        std::string_view recipient_public,
                                        std::string_view nonce24) const {
  if (nonce24.size() != kNonceSize)
    return Fail(Code::kInvalidArgument, "xkey: a nonce must be 24 bytes");
  auto key = SharedKeyFor(recipient_public);
  if (!key) return Fail(key.error().Wrap("xkey: invalid recipient"));
  NATSTACK_ASSIGN_OR_RETURN(const std::string box,
                            crypto::BoxSealWithSharedKey(plaintext, nonce24, (*key)->view()));
  std::string out;
  out.reserve(kHeaderSize + box.size());
  out.append(kVersion).append(nonce24).append(box);
  return out;
}

Result<std::string> XKey::Open(std::string_view sealed, std::string_view sender_public) const {
  if (sealed.size() <= kHeaderSize)
    return Fail(Code::kInvalidArgument, "xkey: encrypted input is not valid (too short)");
  if (sealed.substr(0, kVersion.size()) != kVersion)
    return Fail(Code::kInvalidArgument, "xkey: unsupported encryption version");
  auto key = SharedKeyFor(sender_public);
  if (!key) return Fail(key.error().Wrap("xkey: invalid sender"));
  auto opened = crypto::BoxOpenWithSharedKey(
      sealed.substr(kHeaderSize), sealed.substr(kVersion.size(), kNonceSize), (*key)->view());
  if (!opened) return Fail(Code::kUnauthenticated, "xkey: could not decrypt");
  return opened;
}

}  // namespace natstack::nkeys

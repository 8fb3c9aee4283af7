#pragma once
/// SecureBytes: an owned byte buffer for secrets (seeds, private keys, shared keys) that is
/// wiped with sodium_memzero when it dies or is assigned over.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace natstack::crypto {

/// Move-only. A moved-from SecureBytes is empty (its buffer went to the new owner, so no copy
/// of the secret is left behind). Not thread-safe for mutation; const access may be shared.
class SecureBytes {
 public:
  SecureBytes() = default;
  /// `size` zero bytes.
  explicit SecureBytes(size_t size);
  /// A copy of `data`. The caller remains responsible for wiping its own copy.
  explicit SecureBytes(std::string_view data);
  ~SecureBytes();

  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_.get()), size_}; }
  /// An explicit copy (SecureBytes is not implicitly copyable so secrets are not duplicated
  /// by accident).
  SecureBytes Clone() const { return SecureBytes(view()); }

 private:
  void Wipe() noexcept;

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

/// Constant-time comparison (sodium_memcmp); false when sizes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace natstack::crypto

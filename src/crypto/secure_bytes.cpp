#include "crypto/secure_bytes.hpp"

#include <sodium.h>

#include <cstring>

namespace natstack::crypto {

SecureBytes::SecureBytes(size_t size) : data_(new uint8_t[size]()), size_(size) {}

SecureBytes::SecureBytes(std::string_view data) : SecureBytes(data.size()) {
  if (!data.empty()) std::memcpy(data_.get(), data.data(), data.size());
}

SecureBytes::~SecureBytes() { Wipe(); }

SecureBytes::SecureBytes(SecureBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(other.size_) {
  other.size_ = 0;
}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

void SecureBytes::Wipe() noexcept {
  if (data_ && size_ > 0) sodium_memzero(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace natstack::crypto

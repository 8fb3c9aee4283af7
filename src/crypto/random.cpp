#include "crypto/random.hpp"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace natstack::crypto {

void EnsureSodiumInitialized() {
  // A function-local static is initialised exactly once, even with concurrent callers.
  static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fputs("natstack: fatal: sodium_init() failed\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)initialized;
}

void RandomBytes(void* out, size_t n) {
  EnsureSodiumInitialized();
  randombytes_buf(out, n);
}

}  // namespace natstack::crypto

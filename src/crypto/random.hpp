#pragma once
/// Cryptographically secure randomness (libsodium randombytes_buf) and libsodium start-up.

#include <cstddef>

namespace natstack::crypto {

/// Runs sodium_init() once (thread-safe; later calls are a cheap check). Every crypto entry
/// point that uses libsodium calls it, so callers never need to. Aborts if libsodium cannot
/// initialise (no entropy source): nothing secure can be done then.
void EnsureSodiumInitialized();

/// Fills `out` with `n` random bytes. Thread-safe.
void RandomBytes(void* out, size_t n);

}  // namespace natstack::crypto

#include "crypto/openssl.hpp"

#include <openssl/err.h>

namespace natstack::crypto {

std::string LastOpenSslError() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return {};
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

}  // namespace natstack::crypto

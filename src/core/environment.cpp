#include "core/environment.hpp"

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace natstack {

std::map<std::string, std::string> ReadEnvironment(const std::vector<std::string_view>& names) {
  std::map<std::string, std::string> out;
  for (std::string_view name : names) {
    const std::string key(name);
    if (const char* v = std::getenv(key.c_str())) out[key] = v;
  }
  return out;
}

void ScrubEnvironment(const std::vector<std::string_view>& names) {
  for (std::string_view name : names) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (std::strncmp(*e, name.data(), name.size()) == 0 && (*e)[name.size()] == '=') {
        char* value = *e + name.size() + 1;
        std::memset(value, 0, std::strlen(value));
      }
    }
    ::unsetenv(std::string(name).c_str());
  }
}

}  // namespace natstack

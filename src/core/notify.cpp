#include "core/notify.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace natstack {

void NotifyReady() {
  const char* value = std::getenv("NATSTACK_READY_FD");
  if (value == nullptr || *value == '\0') return;
  char* end = nullptr;
  const long fd = std::strtol(value, &end, 10);
  ::unsetenv("NATSTACK_READY_FD");
  if (end == value || *end != '\0' || fd < 3 || fd > 1024) return;
  static constexpr char kLine[] = "ready\n";
  (void)!::write(static_cast<int>(fd), kLine, sizeof kLine - 1);
  ::close(static_cast<int>(fd));
}

}  // namespace natstack

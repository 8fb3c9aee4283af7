#pragma once
/// Readiness notification to a supervising parent, in the spirit of sd_notify: when
/// $NATSTACK_READY_FD names a pipe, write one line to it and close it. No-op otherwise.

namespace natstack {

/// Tells the supervisor this service is ready. Safe to call more than once (later calls do
/// nothing).
void NotifyReady();

}  // namespace natstack

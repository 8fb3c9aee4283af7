#pragma once
/// A pre-parse guard for untrusted JSON: nlohmann's tree operations (copy, dump, ==) recurse,
/// so hostile nesting is refused before a tree is built.

#include <cstddef>
#include <string_view>

namespace natstack {

/// Deepest nesting of arrays/objects in `text`, skipping strings. Linear, no allocation; works
/// on any bytes (invalid JSON simply gets some depth).
size_t JsonNestingDepth(std::string_view text);

}  // namespace natstack

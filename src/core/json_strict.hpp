#pragma once
/// Strict parsing of JSON that decides something (tokens, requests, key sets, configuration):
/// bounded nesting, and no object with a repeated key. RFC 8259 leaves the meaning of a repeated
/// key to each parser: one may take the first copy of "sub" and another the last, so a token
/// whose claims depend on the parser is refused instead of guessed at (RFC 7515 §5.2 says the
/// same for JOSE headers).

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace natstack {

struct StrictJsonResult {
  enum class Failure { kNone, kTooDeep, kSyntax, kDuplicateKey };
  Failure failure = Failure::kNone;
  nlohmann::json value;  ///< discarded unless failure == kNone
  /// kDuplicateKey: where, e.g. `"sub"` or `"issuers"[]."audience"` (keys printable, bounded;
  /// array elements shown as []).
  std::string duplicate;
  bool ok() const { return failure == Failure::kNone; }
  /// "nested more than N levels deep", "is not valid JSON", "has the key "sub" twice".
  std::string Describe(size_t max_depth) const;
};

/// Parses `text` (any JSON value). Never throws.
StrictJsonResult ParseStrictJson(std::string_view text, size_t max_depth);

}  // namespace natstack

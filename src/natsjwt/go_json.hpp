#pragma once
/// JSON written byte-for-byte the way Go's encoding/json.Marshal writes it, which NATS JWTs
/// need for Go-identical output (the `jti` hashes these bytes; see docs/auth-callout-protocol.md
/// §2.2). Go writes struct fields in declaration order, drops `omitempty` fields that are "",
/// 0 or empty slices (but never a struct), and escapes strings for HTML.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace natstack::natsjwt {

/// Appends `value` as a quoted JSON string with Go's escaping: `"` and `\` backslashed;
/// \b \f \n \r \t short forms (Go >= 1.22); other bytes below 0x20 and `<`, `>`, `&`, U+2028,
/// U+2029 as \u00XX / \u2028 (lower-case hex); each byte of invalid UTF-8 as \ufffd.
void AppendGoJsonString(std::string& out, std::string_view value);

/// One JSON object, built field by field in call order.
class GoJsonObject {
 public:
  GoJsonObject& String(std::string_view key, std::string_view value);
  GoJsonObject& StringOmitEmpty(std::string_view key, std::string_view value);
  GoJsonObject& Int(std::string_view key, int64_t value);
  GoJsonObject& IntOmitEmpty(std::string_view key, int64_t value);
  GoJsonObject& StringListOmitEmpty(std::string_view key, const std::vector<std::string>& values);
  GoJsonObject& Object(std::string_view key, const GoJsonObject& value);
  /// `json` must already be valid JSON.
  GoJsonObject& Raw(std::string_view key, std::string_view json);

  /// The object text, "{...}".
  std::string Json() const { return "{" + body_ + "}"; }

 private:
  void Key(std::string_view key);

  std::string body_;
};

}  // namespace natstack::natsjwt

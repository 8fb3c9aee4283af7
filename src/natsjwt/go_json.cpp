#include "natsjwt/go_json.hpp"

namespace natstack::natsjwt {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendUnicodeEscape(std::string& out, uint32_t code) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(code >> shift) & 0xF]);
}

/// Length of the valid UTF-8 sequence starting at s[i] (Go's utf8.DecodeRuneInString rules:
/// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 if it is invalid.
/// `rune` receives the code point.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* rune) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  size_t len = 0;
  uint32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, min = 0x80, *rune = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, min = 0x800, *rune = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, min = 0x10000, *rune = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    *rune = (*rune << 6) | (byte(i + k) & 0x3F);
  }
  if (*rune < min || *rune > 0x10FFFF || (*rune >= 0xD800 && *rune <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

void AppendGoJsonString(std::string& out, std::string_view value) {
  out.push_back('"');
  size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<uint8_t>(value[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '<':
        case '>':
        case '&':
          AppendUnicodeEscape(out, c);
          break;
        default:
          if (c < 0x20) {
            AppendUnicodeEscape(out, c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    uint32_t rune = 0;
    const size_t len = DecodeUtf8(value, i, &rune);
    if (len == 0) {
      out += "\\ufffd";  // Go replaces each invalid byte
      ++i;
    } else if (rune == 0x2028 || rune == 0x2029) {
      AppendUnicodeEscape(out, rune);
      i += len;
    } else {
      out.append(value.substr(i, len));
      i += len;
    }
  }
  out.push_back('"');
}

void GoJsonObject::Key(std::string_view key) {
  if (!body_.empty()) body_.push_back(',');
  AppendGoJsonString(body_, key);
  body_.push_back(':');
}

GoJsonObject& GoJsonObject::String(std::string_view key, std::string_view value) {
  Key(key);
  AppendGoJsonString(body_, value);
  return *this;
}

GoJsonObject& GoJsonObject::StringOmitEmpty(std::string_view key, std::string_view value) {
  return value.empty() ? *this : String(key, value);
}

GoJsonObject& GoJsonObject::Int(std::string_view key, int64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

GoJsonObject& GoJsonObject::IntOmitEmpty(std::string_view key, int64_t value) {
  return value == 0 ? *this : Int(key, value);
}

GoJsonObject& GoJsonObject::StringListOmitEmpty(std::string_view key,
                                                const std::vector<std::string>& values) {
  if (values.empty()) return *this;
  Key(key);
  body_.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) body_.push_back(',');
    AppendGoJsonString(body_, values[i]);
  }
  body_.push_back(']');
  return *this;
}

GoJsonObject& GoJsonObject::Object(std::string_view key, const GoJsonObject& value) {
  return Raw(key, value.Json());
}

GoJsonObject& GoJsonObject::Raw(std::string_view key, std::string_view json) {
  Key(key);
  body_.append(json);
  return *this;
}

}  // namespace natstack::natsjwt

#include "core/text.hpp"

#include <cstdio>

namespace natstack {

std::optional<uint32_t> NextCodePoint(std::string_view text, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if (lead < 0x80) {
    ++i;
    return lead;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    ++i;
    return std::nullopt;
  }
  if (i + length > text.size()) {
    ++i;
    return std::nullopt;
  }
  for (size_t k = 1; k < length; ++k) {
    const unsigned char c = byte(i + k);
    if ((c & 0xC0) != 0x80) {
      ++i;
      return std::nullopt;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return std::nullopt;
  }
  i += length;
  return cp;
}

bool IsInvisibleCodePoint(uint32_t cp) {
  if (cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0)) return true;  // controls, NBSP
  switch (cp) {
    case 0x00AD:  // soft hyphen
    case 0x034F:  // combining grapheme joiner
    case 0x061C:  // Arabic letter mark
    case 0x115F: case 0x1160:  // Hangul fillers
    case 0x1680:  // Ogham space mark
    case 0x180E:  // Mongolian vowel separator
    case 0x3000:  // ideographic space
    case 0x3164:  // Hangul filler
    case 0xFEFF:  // BOM / zero-width no-break space
    case 0xFFA0:  // halfwidth Hangul filler
      return true;
    default:
      break;
  }
  if (cp >= 0x2000 && cp <= 0x200F) return true;  // spaces, zero-width, LRM/RLM
  if (cp >= 0x2028 && cp <= 0x202F) return true;  // line/paragraph separators, bidi, NNBSP
  if (cp >= 0x205F && cp <= 0x206F) return true;  // math space, word joiner, bidi isolates
  if (cp >= 0xFFF9 && cp <= 0xFFFB) return true;  // interlinear annotations
  if (cp >= 0xE0000 && cp <= 0xE007F) return true;  // tags
  if (cp >= 0xFE00 && cp <= 0xFE0F) return true;    // variation selectors
  return false;
}

bool IsVisibleText(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto cp = NextCodePoint(text, i);
    if (!cp || IsInvisibleCodePoint(*cp)) return false;
  }
  return true;
}

std::string EscapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char buf[16];
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    const auto cp = NextCodePoint(text, i);
    if (!cp) {
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(text[start]));
      out += buf;
      continue;
    }
    if (*cp == '\\') {
      out += "\\\\";
    } else if (*cp == ' ') {
      out += ' ';
    } else if (*cp == '\n') {
      out += "\\n";
    } else if (*cp == '\t') {
      out += "\\t";
    } else if (*cp == '\r') {
      out += "\\r";
    } else if (*cp < 0x80 && IsInvisibleCodePoint(*cp)) {
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(*cp));
      out += buf;
    } else if (IsInvisibleCodePoint(*cp)) {
      std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(*cp));
      out += buf;
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

namespace {
bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}
}  // namespace

std::string RedactJwts(std::string_view text) {
  std::string out;
  size_t copied = 0;
  size_t at = text.find("eyJ");
  while (at != std::string_view::npos) {
    // The run: base64url segments separated by dots, starting at `at`.
    size_t end = at;
    int dots = 0;
    while (end < text.size() && (IsBase64UrlChar(text[end]) || text[end] == '.')) {
      if (text[end] == '.') ++dots;
      ++end;
    }
    if (dots >= 2) {
      out.append(text.substr(copied, at - copied));
      out += "[jwt redacted]";
      copied = end;
    }
    at = text.find("eyJ", end > at ? end : at + 3);
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

}  // namespace natstack

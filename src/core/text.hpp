#pragma once
/// Text from outside (token claims, user ids, names) for places where a person reads it or a
/// NATS subject carries it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace natstack {

/// Decodes the UTF-8 code point at `text[i]` and advances `i`; nullopt (and `i` past one byte)
/// for invalid UTF-8: a bad lead or continuation byte, an overlong form, a surrogate, or a
/// value above U+10FFFF.
std::optional<uint32_t> NextCodePoint(std::string_view text, size_t& i);

/// True for code points a reader cannot see or that move text: C0 and C1 controls, DEL,
/// every Unicode space separator, the line and paragraph separators, zero-width and joiner
/// characters, bidirectional controls, the BOM, soft hyphen and other format characters.
bool IsInvisibleCodePoint(uint32_t cp);

/// True when `text` is valid UTF-8 and every code point is visible (not IsInvisibleCodePoint).
/// ASCII space counts as invisible.
bool IsVisibleText(std::string_view text);

/// `text` made safe for one log line or terminal: visible characters as they are, `\` as `\\`,
/// and everything else escaped (`\n`, `\t`, `\r`, `\xHH` for other bytes and invalid UTF-8,
/// `\u{XXXX}` for invisible code points), so no input can start a line, move the cursor or
/// reorder text.
std::string EscapeText(std::string_view text);

/// `text` with every JWT-shaped run — "eyJ" (base64url of '{"') then base64url characters, a
/// '.', base64url characters and another '.' (a JWS or the start of a JWE) plus what follows up
/// to the next character outside base64url and '.' — replaced by "[jwt redacted]". Logs pass
/// through it: whatever a message quotes (a library's error text, a claim), a token or a
/// request JWT never reaches a log file whole.
std::string RedactJwts(std::string_view text);

}  // namespace natstack

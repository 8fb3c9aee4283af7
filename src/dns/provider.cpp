#include "dns/provider.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <sstream>

#include "core/base64.hpp"
#include "core/file.hpp"
#include "core/text.hpp"

namespace natstack::dns {
namespace {

/// "Nats.Example.Test" and "nats.example.test." are one name.
std::string CanonicalName(std::string name) {
  while (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

/// The shape of a name, without the zone check. `what` is "name" or "zone" for the message.
Status ValidateNameShape(std::string_view name, const char* what) {
  const std::string shown = EscapeText(name);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return Fail(Code::kInvalidArgument, std::string("empty ") + what);
  // 253 presentation characters without the final dot are 255 octets on the wire (RFC 1035
  // §2.3.4), the limit for a whole name.
  if (name.size() > 253) {
    return Fail(Code::kInvalidArgument,
                std::string(what) + " " + shown + " is longer than 253 characters");
  }
  size_t start = 0;
  while (start <= name.size()) {
    const size_t dot = std::min(name.find('.', start), name.size());
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty()) {
      return Fail(Code::kInvalidArgument, std::string(what) + " " + shown + " has an empty label");
    }
    if (label.size() > 63) {
      return Fail(Code::kInvalidArgument,
                  std::string(what) + " " + shown + " has a label longer than 63 characters");
    }
    // Only the hostname alphabet plus '_' (for _acme-challenge and service labels): no
    // character a zone-file or wire encoder would have to escape.
    if (!std::all_of(label.begin(), label.end(), IsNameChar)) {
      return Fail(Code::kInvalidArgument,
                  std::string(what) + " " + shown +
                      " has a character other than letters, digits, '-' and '_'");
    }
    start = dot + 1;
  }
  return Ok();
}

}  // namespace

const char* RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kA: return "A";
    case RecordType::kTxt: return "TXT";
  }
  return "?";
}

bool SameRecordSet(const RecordSet& a, const RecordSet& b) {
  return CanonicalName(a.name) == CanonicalName(b.name) && a.type == b.type && a.ttl == b.ttl &&
         std::set<std::string>(a.values.begin(), a.values.end()) ==
             std::set<std::string>(b.values.begin(), b.values.end());
}

Status ValidateZoneName(std::string_view zone) { return ValidateNameShape(zone, "zone"); }

Status ValidateOwnerName(std::string_view name, std::string_view zone) {
  NATSTACK_TRY(ValidateNameShape(name, "name"));
  const std::string n = CanonicalName(std::string(name));
  const std::string z = CanonicalName(std::string(zone));
  const bool inside =
      n == z || (n.size() > z.size() && n.ends_with(z) && n[n.size() - z.size() - 1] == '.');
  if (!inside) {
    return Fail(Code::kNotFound, "name " + std::string(name) + " is outside the zone " + z + ".");
  }
  return Ok();
}

Status ValidateRecordSet(const RecordSet& set, std::string_view zone) {
  NATSTACK_TRY(ValidateOwnerName(set.name, zone));
  const std::string where = set.name + " " + RecordTypeName(set.type);
  if (set.ttl > kMaxTtl) {
    return Fail(Code::kInvalidArgument,
                where + ": TTL " + std::to_string(set.ttl) + " is above 2147483647 (RFC 2181 §8)");
  }
  for (const std::string& value : set.values) {
    switch (set.type) {
      case RecordType::kA: {
        in_addr addr{};
        // inet_pton takes exactly four decimal octets ("1.2.3.4"); no shorthand, no octal.
        if (::inet_pton(AF_INET, value.c_str(), &addr) != 1 ||
            value.find('\0') != std::string::npos) {
          return Fail(Code::kInvalidArgument,
                      where + ": " + EscapeText(value) + " is not a dotted IPv4 address");
        }
        break;
      }
      case RecordType::kTxt:
        if (value.size() > kMaxTxtValueBytes) {
          return Fail(Code::kInvalidArgument, where + ": a TXT value of " +
                                                  std::to_string(value.size()) +
                                                  " bytes is longer than 255 (use several values)");
        }
        break;
    }
  }
  return Ok();
}

std::string QuoteTxt(std::string_view value) {
  std::string out = "\"";
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

std::string DescribeRecordSet(const RecordSet& set) {
  std::string name = set.name;
  if (name.empty() || name.back() != '.') name += '.';
  std::string out = name + " " + std::to_string(set.ttl) + " " + RecordTypeName(set.type) + " ";
  const std::set<std::string> values(set.values.begin(), set.values.end());
  if (values.empty()) return out + "(none)";
  bool first = true;
  for (const std::string& v : values) {
    if (!first) out += ",";
    first = false;
    out += set.type == RecordType::kTxt ? QuoteTxt(v) : EscapeText(v);
  }
  return out;
}

Result<TsigKey> ValidateTsigKey(TsigKey key) {
  std::string name = CanonicalName(key.name);
  if (name.empty()) return Fail(Code::kInvalidArgument, "TSIG key has no name");
  if (auto ok = ValidateNameShape(name, "TSIG key name"); !ok) return Fail(ok.error());
  key.name = name + ".";
  std::string algorithm = CanonicalName(key.algorithm);
  // What both sides implement: libldns 1.8 maps hmac-md5, -sha1, -sha256 and -sha512 (its
  // hmac-sha384 entry is misspelt), Knot refuses hmac-md5 for new keys.
  if (algorithm != "hmac-sha256" && algorithm != "hmac-sha512" && algorithm != "hmac-sha1") {
    return Fail(Code::kInvalidArgument, "TSIG key " + key.name + ": algorithm " +
                                            EscapeText(key.algorithm) +
                                            " is not one of hmac-sha256, hmac-sha512, hmac-sha1");
  }
  key.algorithm = algorithm;
  if (key.secret_base64.empty()) {
    return Fail(Code::kInvalidArgument, "TSIG key " + key.name + " has an empty secret");
  }
  auto decoded = Base64Decode(key.secret_base64);
  if (!decoded || decoded->empty()) {
    return Fail(Code::kInvalidArgument,
                "TSIG key " + key.name + ": the secret is not standard base64");
  }
  return key;
}

Result<TsigKey> ParseTsigKey(std::string_view text) {
  // Two formats: "NAME ALGORITHM SECRET" on one line, or keymgr's YAML:
  //   key:
  //     - id: NAME
  //       algorithm: hmac-sha256
  //       secret: SECRET
  std::vector<std::pair<int, std::string>> lines;  // (line number, trimmed text)
  {
    std::istringstream in{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t begin = line.find_first_not_of(" \t");
      if (begin == std::string::npos || line[begin] == '#') continue;
      const size_t end = line.find_last_not_of(" \t");
      lines.emplace_back(number, line.substr(begin, end - begin + 1));
    }
  }
  if (lines.empty()) return Fail(Code::kInvalidArgument, "TSIG key file holds no key");

  TsigKey key;
  key.algorithm.clear();
  if (lines.size() == 1 && lines[0].second != "key:") {
    std::istringstream fields(lines[0].second);
    std::string name, algorithm, secret, extra;
    fields >> name >> algorithm >> secret;
    if (secret.empty() || (fields >> extra)) {
      return Fail(Code::kInvalidArgument, "TSIG key file: line " + std::to_string(lines[0].first) +
                                              " is not \"NAME ALGORITHM SECRET\"");
    }
    key = TsigKey{std::move(name), std::move(algorithm), std::move(secret)};
    return ValidateTsigKey(std::move(key));
  }

  if (lines[0].second != "key:") {
    return Fail(Code::kInvalidArgument, "TSIG key file: line " + std::to_string(lines[0].first) +
                                            " is neither \"key:\" nor \"NAME ALGORITHM SECRET\"");
  }
  bool have_id = false, have_algorithm = false, have_secret = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto& [number, raw] = lines[i];
    std::string line = raw;
    const std::string where = "TSIG key file: line " + std::to_string(number);
    if (line.starts_with("- ")) {
      if (have_id || have_algorithm || have_secret) {
        return Fail(Code::kInvalidArgument, where + " starts a second key (one key per file)");
      }
      line = line.substr(2);
      line.erase(0, line.find_first_not_of(" \t"));
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return Fail(Code::kInvalidArgument, where + " is not \"field: value\"");
    }
    const std::string field = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    bool* seen = nullptr;
    std::string* target = nullptr;
    if (field == "id") {
      seen = &have_id;
      target = &key.name;
    } else if (field == "algorithm") {
      seen = &have_algorithm;
      target = &key.algorithm;
    } else if (field == "secret") {
      seen = &have_secret;
      target = &key.secret_base64;
    } else {
      return Fail(Code::kInvalidArgument,
                  where + ": unknown field " + EscapeText(field) + " (id, algorithm, secret)");
    }
    if (*seen) {
      return Fail(Code::kInvalidArgument, where + ": " + field + " given twice (one key per file)");
    }
    *seen = true;
    *target = std::move(value);
  }
  if (!have_id) return Fail(Code::kInvalidArgument, "TSIG key file: no id");
  if (!have_algorithm) return Fail(Code::kInvalidArgument, "TSIG key file: no algorithm");
  if (!have_secret) return Fail(Code::kInvalidArgument, "TSIG key file: no secret");
  return ValidateTsigKey(std::move(key));
}

Result<TsigKey> ReadTsigKeyFile(const std::string& path) {
  NATSTACK_ASSIGN_OR_RETURN(std::string text, ReadSecretFile(path));
  auto key = ParseTsigKey(text);
  if (!key) return Fail(key.error().code, path + ": " + key.error().message);
  return key;
}

}  // namespace natstack::dns

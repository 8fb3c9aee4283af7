#include "callout/policy.hpp"

#include <algorithm>

#include "core/text.hpp"
#include "jwt/verifier.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;

constexpr std::string_view kUserId = "{userId}";
constexpr std::string_view kClaimPrefix = "{claim:";
constexpr size_t kMaxClaimNameBytes = 256;

/// A claim of the payload by name: a JSON pointer when it starts with '/', else top-level.
const json* FindClaim(const json& claims, const std::string& name) {
  if (!name.empty() && name[0] == '/') {
    try {
      const json::json_pointer pointer(name);
      if (claims.contains(pointer)) return &claims.at(pointer);
    } catch (const json::exception&) {
    }
    return nullptr;
  }
  auto it = claims.find(name);
  return it == claims.end() ? nullptr : &*it;
}

// For details about untrusted values: bounded and printable.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
  if (s.size() > 64) out += "...";
  return out + "\"";
}

/// The filled subject, or the reason it cannot be filled.
tl::expected<std::string, PolicyError> Fill(const Policy::Subject& subject,
                                            const Identity& identity) {
  std::string out;
  for (const Policy::Part& part : subject.parts) {
    switch (part.kind) {
      case Policy::Part::Kind::kLiteral:
        out += part.text;
        break;
      case Policy::Part::Kind::kUserId:
        out += identity.user_id;  // checked once by Decide
        break;
      case Policy::Part::Kind::kClaim: {
        const json* value = FindClaim(identity.claims, part.text);
        if (value == nullptr)
          return tl::unexpected(PolicyError{"claim " + Quote(part.text) + " is missing"});
        std::string text;
        if (value->is_string()) {
          text = value->get<std::string>();
        } else if (value->is_number_integer()) {
          text = value->dump();
        } else {
          return tl::unexpected(
              PolicyError{"claim " + Quote(part.text) + " is not a string or an integer"});
        }
        if (!IsSubjectSafeToken(text)) {
          return tl::unexpected(PolicyError{"claim " + Quote(part.text) + " value " + Quote(text) +
                                            " is not one subject token"});
        }
        out += text;
        break;
      }
    }
  }
  return out;
}

tl::expected<std::vector<std::string>, PolicyError> FillAll(
    const std::vector<Policy::Subject>& subjects, const Identity& identity) {
  std::vector<std::string> out;
  out.reserve(subjects.size());
  for (const auto& s : subjects) {
    auto filled = Fill(s, identity);
    if (!filled) return tl::unexpected(std::move(filled).error());
    out.push_back(std::move(*filled));
  }
  return out;
}

/// A sample identity whose every placeholder fills with "sample" (for start-up checks).
std::string SampleFill(const Policy::Subject& subject) {
  std::string out;
  for (const auto& p : subject.parts) out += p.kind == Policy::Part::Kind::kLiteral ? p.text : "sample";
  return out;
}

Result<std::vector<Policy::Subject>> CompileList(const std::vector<std::string>& list) {
  std::vector<Policy::Subject> out;
  for (const auto& s : list) {
    NATSTACK_ASSIGN_OR_RETURN(auto compiled, CompileSubject(s));
    out.push_back(std::move(compiled));
  }
  return out;
}

Result<Policy::CompiledTemplate> Compile(const PermissionTemplate& t) {
  Policy::CompiledTemplate c;
  NATSTACK_ASSIGN_OR_RETURN(c.pub_allow, CompileList(t.pub_allow));
  NATSTACK_ASSIGN_OR_RETURN(c.pub_deny, CompileList(t.pub_deny));
  NATSTACK_ASSIGN_OR_RETURN(c.sub_allow, CompileList(t.sub_allow));
  NATSTACK_ASSIGN_OR_RETURN(c.sub_deny, CompileList(t.sub_deny));
  if (t.allow_responses) {
    natsjwt::ResponsePermission r;
    r.max = static_cast<int>(t.responses_max);
    r.ttl_ns = t.responses_ttl_ms * 1000000;
    c.resp = r;
  }
  return c;
}

}  // namespace

bool IsSubjectSafeToken(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id) {
    if (c == '.' || c == '*' || c == '>') return false;
  }
  // Valid UTF-8 of visible characters only: Unicode spaces, zero-width and bidi characters
  // would make two ids look alike ("alice" and "alice\u200b") or disguise a subject.
  return IsVisibleText(id);
}

bool IsValidSubject(std::string_view subject) {
  if (subject.empty()) return false;
  size_t start = 0;
  for (;;) {
    const size_t dot = subject.find('.', start);
    const std::string_view token =
        subject.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (token.empty()) return false;
    for (unsigned char c : token) {
      if (c <= 0x20 || c == 0x7f) return false;
    }
    if (token.find('>') != std::string_view::npos && (token != ">" || dot != std::string_view::npos))
      return false;
    if (token.find('*') != std::string_view::npos && token != "*") return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Result<Policy::Subject> CompileSubject(std::string_view subject) {
  Policy::Subject out;
  size_t pos = 0;
  auto literal = [&](std::string_view text) {
    if (text.empty()) return;
    if (!out.parts.empty() && out.parts.back().kind == Policy::Part::Kind::kLiteral) {
      out.parts.back().text += text;
    } else {
      out.parts.push_back({Policy::Part::Kind::kLiteral, std::string(text)});
    }
  };
  while (pos < subject.size()) {
    const size_t open = subject.find_first_of("{}", pos);
    if (open == std::string_view::npos) {
      literal(subject.substr(pos));
      break;
    }
    if (subject[open] == '}')
      return Fail(Code::kInvalidArgument, "\"" + std::string(subject) + "\" has a stray '}'");
    literal(subject.substr(pos, open - pos));
    const size_t close = subject.find_first_of("{}", open + 1);
    if (close == std::string_view::npos || subject[close] != '}')
      return Fail(Code::kInvalidArgument,
                  "\"" + std::string(subject) + "\" has an unterminated placeholder");
    const std::string_view placeholder = subject.substr(open, close - open + 1);
    if (placeholder == kUserId) {
      out.parts.push_back({Policy::Part::Kind::kUserId, ""});
    } else if (placeholder.substr(0, kClaimPrefix.size()) == kClaimPrefix &&
               placeholder.size() > kClaimPrefix.size() + 1) {
      std::string name(placeholder.substr(kClaimPrefix.size(),
                                          placeholder.size() - kClaimPrefix.size() - 1));
      if (name.size() > kMaxClaimNameBytes)
        return Fail(Code::kInvalidArgument, "\"" + std::string(subject) + "\": claim name too long");
      if (name[0] == '/') {
        try {
          (void)json::json_pointer(name);
        } catch (const json::exception&) {
          return Fail(Code::kInvalidArgument, "\"" + std::string(subject) + "\": " + name +
                                                  " is not a valid JSON pointer");
        }
      }
      out.parts.push_back({Policy::Part::Kind::kClaim, std::move(name)});
    } else {
      return Fail(Code::kInvalidArgument,
                  "\"" + std::string(subject) + "\" has the placeholder " +
                      std::string(placeholder) + "; only {userId} and {claim:NAME} exist");
    }
    pos = close + 1;
  }
  return out;
}

Status ValidateTemplate(const PermissionTemplate& tmpl, std::string_view where) {
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"pub_allow", &tmpl.pub_allow},
      {"pub_deny", &tmpl.pub_deny},
      {"sub_allow", &tmpl.sub_allow},
      {"sub_deny", &tmpl.sub_deny},
  };
  const std::string prefix = std::string(where) + ".";
  for (const auto& [name, list] : lists) {
    for (const auto& subject : *list) {
      auto compiled = CompileSubject(subject);
      if (!compiled) return Fail(compiled.error().Wrap(prefix + name));
      const std::string filled = SampleFill(*compiled);
      // A queue group ("subject queue") is allowed in subscribe lists.
      std::string_view subj = filled;
      const bool is_sub = std::string_view(name).rfind("sub_", 0) == 0;
      if (is_sub) {
        const auto space = subj.find(' ');
        if (space != std::string_view::npos) {
          const std::string_view queue = subj.substr(space + 1);
          subj = subj.substr(0, space);
          if (queue.empty() || queue.find(' ') != std::string_view::npos)
            return Fail(Code::kInvalidArgument, prefix + name + ": \"" + subject +
                                                    "\" has a malformed queue group");
        }
      }
      if (!IsValidSubject(subj))
        return Fail(Code::kInvalidArgument,
                    prefix + name + ": \"" + subject + "\" is not a valid NATS subject");
    }
  }
  if (tmpl.responses_max < 1 || tmpl.responses_max > 1000000)
    return Fail(Code::kInvalidArgument, prefix + "responses_max: must be between 1 and 1000000");
  if (tmpl.responses_ttl_ms < 0 || tmpl.responses_ttl_ms > 24LL * 3600 * 1000)
    return Fail(Code::kInvalidArgument,
                prefix + "responses_ttl_ms: must be between 0 and 86400000 (a day)");
  return Ok();
}

PermissionTemplate DefaultTemplate() {
  PermissionTemplate t;
  t.pub_allow = {"user.{userId}.>", "_INBOX_{userId}.>"};
  t.sub_allow = {"user.{userId}.>", "_INBOX_{userId}.>"};
  return t;
}

std::vector<std::string> AlwaysDenied(const CalloutConfig& config) {
  std::vector<std::string> out = {config.subject, "$SYS._INBOX.>"};
  if (config.subject != "$SYS.REQ.USER.AUTH") out.insert(out.begin(), "$SYS.REQ.USER.AUTH");
  return out;
}

Result<Policy> Policy::Build(const CalloutConfig& config) {
  NATSTACK_TRY(ValidateCalloutConfig(config, "config"));
  Policy p;
  p.always_denied_ = AlwaysDenied(config);
  auto templates = config.templates;
  if (templates.find("default") == templates.end()) templates["default"] = DefaultTemplate();
  for (const auto& [name, t] : templates) {
    NATSTACK_ASSIGN_OR_RETURN(auto compiled, Compile(t));
    p.templates_[name] = std::move(compiled);
  }
  auto account_or_default = [&](const std::string& a) {
    return a.empty() ? config.default_account : a;
  };
  for (const auto& i : config.issuers)
    p.issuers_[i.name] = {i.template_name, account_or_default(i.account)};
  for (const auto& s : config.services)
    p.services_[s.name] = {s.template_name, account_or_default(s.account)};
  for (const auto& r : config.rules)
    p.rules_.push_back({r.name, r.issuer, r.claims, r.template_name, r.account});
  return p;
}

const Policy::CompiledRule* Policy::MatchRule(const Identity& identity) const {
  if (identity.kind != Identity::Kind::kOidc) return nullptr;
  for (const CompiledRule& rule : rules_) {
    if (!rule.issuer.empty() && rule.issuer != identity.source) continue;
    bool all = true;
    for (const auto& [name, expected] : rule.claims.items()) {
      const json* value = FindClaim(identity.claims, name);
      if (value == nullptr || !jwt::RequiredClaimMatches(*value, expected)) {
        all = false;
        break;
      }
    }
    if (all) return &rule;
  }
  return nullptr;
}

tl::expected<Grant, PolicyError> Policy::Decide(const Identity& identity) const {
  if (!IsSubjectSafeToken(identity.user_id))
    return tl::unexpected(PolicyError{"user id " + Quote(identity.user_id) +
                                      " is not one subject token"});
  const auto& placements = identity.kind == Identity::Kind::kOidc ? issuers_ : services_;
  auto own = placements.find(identity.source);
  if (own == placements.end())
    return tl::unexpected(PolicyError{"no settings for " + Quote(identity.source)});
  Grant g;
  g.template_name = own->second.template_name;
  g.account = own->second.account;
  if (const CompiledRule* rule = MatchRule(identity)) {
    g.rule = rule->name;
    if (!rule->template_name.empty()) g.template_name = rule->template_name;
    if (!rule->account.empty()) g.account = rule->account;
  }
  auto t = templates_.find(g.template_name);
  if (t == templates_.end())  // Build checked every reference
    return tl::unexpected(PolicyError{"no template " + Quote(g.template_name)});
  const CompiledTemplate& c = t->second;
  auto pub_allow = FillAll(c.pub_allow, identity);
  if (!pub_allow) return tl::unexpected(std::move(pub_allow).error());
  auto pub_deny = FillAll(c.pub_deny, identity);
  if (!pub_deny) return tl::unexpected(std::move(pub_deny).error());
  auto sub_allow = FillAll(c.sub_allow, identity);
  if (!sub_allow) return tl::unexpected(std::move(sub_allow).error());
  auto sub_deny = FillAll(c.sub_deny, identity);
  if (!sub_deny) return tl::unexpected(std::move(sub_deny).error());
  g.pub.allow = std::move(*pub_allow);
  g.pub.deny = std::move(*pub_deny);
  g.sub.allow = std::move(*sub_allow);
  g.sub.deny = std::move(*sub_deny);
  for (const std::string& subject : always_denied_) {
    for (std::vector<std::string>* deny : {&g.pub.deny, &g.sub.deny})
      if (std::find(deny->begin(), deny->end(), subject) == deny->end()) deny->push_back(subject);
  }
  g.resp = c.resp;
  return g;
}

std::vector<std::string> Policy::Trace(const Identity& identity) const {
  std::vector<std::string> out;
  if (identity.kind == Identity::Kind::kService) {
    out.push_back("service " + Quote(identity.source) + ": fixed template and account");
    return out;
  }
  for (const CompiledRule& rule : rules_) {
    if (!rule.issuer.empty() && rule.issuer != identity.source) {
      out.push_back("rule " + Quote(rule.name) + ": skipped (for issuer " + Quote(rule.issuer) + ")");
      continue;
    }
    std::string why;
    for (const auto& [name, expected] : rule.claims.items()) {
      const json* value = FindClaim(identity.claims, name);
      if (value == nullptr) {
        why = "no claim " + Quote(name);
        break;
      }
      if (!jwt::RequiredClaimMatches(*value, expected)) {
        why = "claim " + Quote(name) + " is " + Quote(value->dump()) + ", the rule wants " +
              Quote(expected.dump());
        break;
      }
    }
    if (why.empty()) {
      out.push_back("rule " + Quote(rule.name) + ": matches");
      return out;
    }
    out.push_back("rule " + Quote(rule.name) + ": no match (" + why + ")");
  }
  out.push_back("no rule matched: the issuer's own template and account");
  return out;
}

}  // namespace natstack::callout

#include "callout/policy.hpp"

namespace natstack::callout {
namespace {

constexpr std::string_view kUserId = "{userId}";

std::string Fill(std::string_view subject, std::string_view user_id) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t at = subject.find(kUserId, pos);
    if (at == std::string_view::npos) break;
    out.append(subject.substr(pos, at - pos));
    out.append(user_id);
    pos = at + kUserId.size();
  }
  out.append(subject.substr(pos));
  return out;
}

std::vector<std::string> FillAll(const std::vector<std::string>& subjects,
                                 std::string_view user_id) {
  std::vector<std::string> out;
  out.reserve(subjects.size());
  for (const auto& s : subjects) out.push_back(Fill(s, user_id));
  return out;
}

}  // namespace

bool IsSubjectSafeToken(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id) {
    if (c <= 0x20 || c == 0x7f || c == '.' || c == '*' || c == '>') return false;
  }
  return true;
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

Status ValidateTemplate(const PermissionTemplate& tmpl) {
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"pub_allow", &tmpl.pub_allow},
      {"pub_deny", &tmpl.pub_deny},
      {"sub_allow", &tmpl.sub_allow},
      {"sub_deny", &tmpl.sub_deny},
  };
  for (const auto& [name, list] : lists) {
    for (const auto& subject : *list) {
      const std::string filled = Fill(subject, "sample");
      if (filled.find('{') != std::string::npos || filled.find('}') != std::string::npos)
        return Fail(Code::kInvalidArgument, std::string("permissions.") + name + ": \"" + subject +
                                                "\" has a placeholder other than {userId}");
      // A queue group ("subject queue") is allowed in subscribe lists.
      std::string_view subj = filled;
      const bool is_sub = std::string_view(name).rfind("sub_", 0) == 0;
      if (is_sub) {
        const auto space = subj.find(' ');
        if (space != std::string_view::npos) {
          const std::string_view queue = subj.substr(space + 1);
          subj = subj.substr(0, space);
          if (queue.empty() || queue.find(' ') != std::string_view::npos)
            return Fail(Code::kInvalidArgument, std::string("permissions.") + name + ": \"" +
                                                    subject + "\" has a malformed queue group");
        }
      }
      if (!IsValidSubject(subj))
        return Fail(Code::kInvalidArgument, std::string("permissions.") + name + ": \"" + subject +
                                                "\" is not a valid NATS subject");
    }
  }
  return Ok();
}

void RenderPermissions(const PermissionTemplate& tmpl, std::string_view user_id,
                       natsjwt::UserClaims& claims) {
  claims.pub.allow = FillAll(tmpl.pub_allow, user_id);
  claims.pub.deny = FillAll(tmpl.pub_deny, user_id);
  claims.sub.allow = FillAll(tmpl.sub_allow, user_id);
  claims.sub.deny = FillAll(tmpl.sub_deny, user_id);
  if (tmpl.allow_responses) claims.resp = natsjwt::ResponsePermission{1, 0};
}

}  // namespace natstack::callout

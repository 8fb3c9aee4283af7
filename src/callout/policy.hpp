#pragma once
/// Permission templates: from a verified identity to the permissions in its user JWT.

#include <string>
#include <string_view>

#include "callout/config.hpp"
#include "core/error.hpp"
#include "natsjwt/natsjwt.hpp"

namespace natstack::callout {

/// True when `id` can stand as one NATS subject token: non-empty, at most 256 bytes, no '.',
/// '*', '>', whitespace or control characters. Ids that fail are refused, never rewritten:
/// mapping "a.b" and "a_b" to one token would let one user act as another.
bool IsSubjectSafeToken(std::string_view id);

/// True when `subject` is a valid NATS subject for permissions: tokens separated by single
/// dots, none empty, '>' only as the last token, no whitespace.
bool IsValidSubject(std::string_view subject);

/// Checks a template once at start: only the `{userId}` placeholder, and every subject valid
/// once it is filled. Errors name the list and the subject.
Status ValidateTemplate(const PermissionTemplate& tmpl);

/// Fills `{userId}` in every subject. `user_id` must be subject-safe (checked by the caller).
void RenderPermissions(const PermissionTemplate& tmpl, std::string_view user_id,
                       natsjwt::UserClaims& claims);

}  // namespace natstack::callout

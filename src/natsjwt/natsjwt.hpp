#pragma once
/// Everything in natsjwt: NATS JWT v2 decoding/verification, Go-compatible encoding, the user
/// claims and the auth-callout request/response claims.

#include "natsjwt/authorization.hpp"  // IWYU pragma: export
#include "natsjwt/go_json.hpp"        // IWYU pragma: export
#include "natsjwt/jwt.hpp"            // IWYU pragma: export
#include "natsjwt/user.hpp"           // IWYU pragma: export

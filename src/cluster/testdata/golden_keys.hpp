#pragma once
/// Fixed inputs for the renderer's golden-file tests (render_test.cpp, systemd_test.cpp), so
/// the rendered files are byte for byte the same on every run. Test-only.

namespace natstack::cluster::golden {

/// Set NATSTACK_UPDATE_GOLDEN=1 to rewrite the golden files from the renderer.
constexpr const char* kUpdateGoldenEnv = "NATSTACK_UPDATE_GOLDEN";
// Public keys from shared/vectors/auth-callout/nkeys.json (valid CRCs, so nats-server -t takes
// them).
constexpr const char* kIssuer = "ACYCJHIHARNDZJZWMDHACN6YC6TIMLE5I4ELHLDD32IJBBGL5ALGHDRF";
constexpr const char* kXkey = "XAH2KTWLUBTKGFFHFXLGAU46H34DFVOVNYU57E4F6RSLLLFRKVXRCWWG";
// bcrypt("callout-password") and bcrypt("sys-password"), cost 11, made once with libxcrypt.
constexpr const char* kCalloutPassword = "callout-password";
constexpr const char* kCalloutHash = "$2b$11$UE9uccn3xkfeIxVV0A4VGubvQXqbNfe7nHe5yBIjw3FaAX0nZDZVe";
constexpr const char* kSysPassword = "sys-password";
constexpr const char* kSysHash = "$2b$11$tje/1QV1eCmP.TVOHXHA/.QzcoyEZN0IOnPpmB3JBWCsEPhWuH14m";

}  // namespace natstack::cluster::golden

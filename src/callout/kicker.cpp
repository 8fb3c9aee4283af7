#include "callout/kicker.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "crypto/random.hpp"

namespace natstack::callout {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kComponent = "revocation";
/// Connections one CONNZ lookup lists per server; a user with more is kicked in rounds.
constexpr int kConnzLimit = 1024;
/// How long a CONNZ scatter waits for more servers after the last answer, and at most.
constexpr auto kQuietGap = 300ms;
constexpr auto kScatterDeadline = 3s;
constexpr auto kKickTimeout = 2s;
/// Users looked up per Kick: a huge first load of the deny-list must not run for hours.
constexpr size_t kMaxUsersPerKick = 10000;
/// Lookups sent before collecting their answers.
constexpr size_t kUsersPerScatter = 100;

std::string Inbox() {
  unsigned char raw[12];
  crypto::RandomBytes(raw, sizeof raw);
  static const char* kHex = "0123456789abcdef";
  std::string out = "_INBOX.natstack_kick_";
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

/// The "error" object of a server API reply, as text ("" when none).
std::string ApiError(const json& j) {
  auto e = j.find("error");
  if (e == j.end() || e->is_null()) return "";
  if (e->is_object()) {
    std::string d = e->value("description", std::string());
    return d.empty() ? e->dump() : d;
  }
  return e->dump();
}

}  // namespace

std::vector<std::string> ScatterGather(nats_client::Connection& sys, const std::string& subject,
                                       const std::vector<std::string>& requests,
                                       std::chrono::milliseconds deadline,
                                       std::chrono::milliseconds quiet_gap, size_t& failures,
                                       Logger& log) {
  std::vector<std::string> replies;
  if (requests.empty()) return replies;
  const std::string inbox = Inbox();
  auto sub = sys.SubscribeSync(inbox);
  if (!sub) {
    ++failures;
    log.Warn(kComponent, "cannot ask the servers (" + subject + "): " + sub.error().message);
    return replies;
  }
  for (const std::string& request : requests) {
    if (auto sent = sys.Publish(subject, request, inbox); !sent) {
      ++failures;
      log.Warn(kComponent, "cannot ask the servers (" + subject + "): " + sent.error().message);
      return replies;
    }
  }
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (size_t n = 0; n < 100 * requests.size() + 100; ++n) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    // The first answer may take a moment; after it, wait only a short gap for the others.
    auto msg = (*sub)->Next(n == 0 ? left : std::min(left, quiet_gap));
    if (!msg) break;
    replies.emplace_back(msg->Data());
  }
  return replies;
}

Result<ServerAccounts> ParseAccountzReply(std::string_view reply) {
  json j = json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Fail(Code::kInvalidArgument, "ACCOUNTZ reply is not a JSON object");
  const std::string error = ApiError(j);
  if (!error.empty()) return Fail(Code::kUnavailable, "ACCOUNTZ refused: " + error);
  ServerAccounts out;
  if (auto server = j.find("server"); server != j.end() && server->is_object()) {
    out.server = server->value("name", std::string());
    if (out.server.empty()) out.server = server->value("id", std::string());
  }
  if (out.server.empty()) return Fail(Code::kInvalidArgument, "ACCOUNTZ reply names no server");
  auto data = j.find("data");
  if (data == j.end() || !data->is_object())
    return Fail(Code::kInvalidArgument, "ACCOUNTZ reply from " + out.server + " has no data");
  if (auto sys = data->find("system_account"); sys != data->end() && sys->is_string())
    out.system_account = sys->get<std::string>();
  auto accounts = data->find("accounts");
  if (accounts == data->end() || accounts->is_null()) return out;
  if (!accounts->is_array())
    return Fail(Code::kInvalidArgument, "ACCOUNTZ accounts from " + out.server + " is not a list");
  for (const auto& a : *accounts) {
    if (!a.is_string())
      return Fail(Code::kInvalidArgument, "ACCOUNTZ account from " + out.server + " is not a string");
    out.accounts.push_back(a.get<std::string>());
  }
  return out;
}

Status CheckAccountsExist(nats_client::Connection& sys, const std::vector<std::string>& accounts,
                          Logger& log) {
  size_t failures = 0;
  const auto replies = ScatterGather(sys, "$SYS.REQ.SERVER.PING.ACCOUNTZ", {"{}"},
                                     kScatterDeadline, kQuietGap, failures, log);
  size_t checked = 0;
  for (const std::string& reply : replies) {
    auto parsed = ParseAccountzReply(reply);
    if (!parsed) {
      log.Warn(kComponent, "account check: " + parsed.error().message);
      continue;
    }
    ++checked;
    for (const std::string& a : accounts) {
      if (a == parsed->system_account)
        return Fail(Code::kInvalidArgument,
                    "accounts: \"" + a + "\" is the system account of server " + parsed->server +
                        ": identities are never placed there (it controls the cluster)");
      if (std::find(parsed->accounts.begin(), parsed->accounts.end(), a) == parsed->accounts.end())
        return Fail(Code::kInvalidArgument,
                    "accounts: \"" + a + "\" does not exist on server " + parsed->server +
                        ": the server would refuse every user placed there; add the account to "
                        "the node configs or remove it from the callout config");
    }
  }
  if (checked == 0)
    log.Warn(kComponent, "no server answered the account check; the accounts are not verified");
  return Ok();
}

Result<std::vector<LiveConnection>> ParseConnzReply(std::string_view reply) {
  json j = json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Fail(Code::kInvalidArgument, "CONNZ reply is not a JSON object");
  const std::string error = ApiError(j);
  if (!error.empty()) return Fail(Code::kUnavailable, "CONNZ refused: " + error);
  auto server = j.find("server");
  if (server == j.end() || !server->is_object() || !server->contains("id") ||
      !(*server)["id"].is_string())
    return Fail(Code::kInvalidArgument, "CONNZ reply names no server id");
  const std::string server_id = (*server)["id"].get<std::string>();
  std::vector<LiveConnection> out;
  auto data = j.find("data");
  if (data == j.end() || !data->is_object()) return out;
  auto conns = data->find("connections");
  if (conns == data->end() || conns->is_null()) return out;
  if (!conns->is_array()) return Fail(Code::kInvalidArgument, "CONNZ connections is not a list");
  for (const auto& c : *conns) {
    if (!c.is_object() || !c.contains("cid") || !c["cid"].is_number_unsigned())
      return Fail(Code::kInvalidArgument, "CONNZ connection without a cid");
    out.push_back({server_id, c["cid"].get<uint64_t>()});
  }
  return out;
}

void AdmissionLog::Record(std::string_view token_id, LiveConnection conn, int64_t expires_at,
                          int64_t now) {
  if (token_id.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_ >= max_entries_) PruneLocked(now);
  if (entries_ >= max_entries_) {
    // Still full of live entries: forget the one closest to expiry.
    auto victim = std::min_element(by_token_.begin(), by_token_.end(), [](const auto& a, const auto& b) {
      return a.second.expires_at < b.second.expires_at;
    });
    if (victim != by_token_.end()) {
      by_token_.erase(victim);
      --entries_;
    }
  }
  by_token_.emplace(std::string(token_id), Entry{std::move(conn), expires_at});
  ++entries_;
}

void AdmissionLog::PruneLocked(int64_t now) {
  for (auto it = by_token_.begin(); it != by_token_.end();) {
    if (it->second.expires_at <= now) {
      it = by_token_.erase(it);
      --entries_;
    } else {
      ++it;
    }
  }
}

std::vector<LiveConnection> AdmissionLog::Find(std::string_view token_id, int64_t now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LiveConnection> out;
  auto [lo, hi] = by_token_.equal_range(token_id);
  for (auto it = lo; it != hi; ++it)
    if (it->second.expires_at > now) out.push_back(it->second.conn);
  return out;
}

size_t AdmissionLog::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_;
}

Kicker::Kicker(nats_client::Connection& sys, const AdmissionLog& admissions, const Clock& clock,
               Logger& log)
    : sys_(sys), admissions_(admissions), clock_(clock), log_(log) {}

std::vector<LiveConnection> Kicker::FindUsers(const std::vector<std::string>& user_ids,
                                              size_t& failures) {
  std::vector<LiveConnection> found;
  if (user_ids.empty()) return found;
  // One scatter for the whole batch: every server answers every lookup on the same inbox, and
  // each answer says which server it is from; which user it was for does not matter.
  std::vector<std::string> requests;
  for (const std::string& user : user_ids)
    requests.push_back(json({{"user", user}, {"auth", true}, {"limit", kConnzLimit}}).dump());
  for (const std::string& reply :
       ScatterGather(sys_, "$SYS.REQ.SERVER.PING.CONNZ", requests, kScatterDeadline, kQuietGap,
                     failures, log_)) {
    auto conns = ParseConnzReply(reply);
    if (!conns) {
      ++failures;
      log_.Warn(kComponent, "connection lookup: " + conns.error().message);
      continue;
    }
    found.insert(found.end(), conns->begin(), conns->end());
  }
  return found;
}

Kicker::Result Kicker::Kick(const DenyList& revoked) {
  Result r;
  std::set<LiveConnection> targets;
  std::vector<std::string> batch;
  size_t looked_up = 0;
  for (const std::string& user : revoked.users) {
    if (looked_up++ == kMaxUsersPerKick) {
      log_.Warn(kComponent, "more than " + std::to_string(kMaxUsersPerKick) +
                                " new users on the deny-list at once: the rest are refused at "
                                "their next connect but not kicked now");
      break;
    }
    batch.push_back(user);
    if (batch.size() == kUsersPerScatter) {
      for (auto& c : FindUsers(batch, r.failures)) targets.insert(std::move(c));
      batch.clear();
    }
  }
  for (auto& c : FindUsers(batch, r.failures)) targets.insert(std::move(c));
  const int64_t now = clock_.UnixSeconds();
  for (const std::string& token_id : revoked.token_ids)
    for (auto& c : admissions_.Find(token_id, now)) targets.insert(std::move(c));

  for (const LiveConnection& c : targets) {
    const json request = {{"cid", c.cid}};
    auto reply = sys_.Request("$SYS.REQ.SERVER." + c.server_id + ".KICK", request.dump(),
                              std::chrono::duration_cast<std::chrono::milliseconds>(kKickTimeout));
    if (!reply) {
      ++r.failures;
      log_.Warn(kComponent, "kick cid " + std::to_string(c.cid) + " on " + c.server_id + ": " +
                                reply.error().message);
      continue;
    }
    json j = json::parse(reply->Data(), nullptr, false);
    const std::string error = j.is_object() ? ApiError(j) : "unreadable reply";
    if (!error.empty()) {
      // Gone already (it closed, or another replica kicked it first): nothing to do.
      if (error.find("no such client") != std::string::npos)
        continue;
      ++r.failures;
      log_.Warn(kComponent, "kick cid " + std::to_string(c.cid) + " on " + c.server_id + ": " +
                                error);
      continue;
    }
    ++r.closed;
  }
  if (!targets.empty() || r.failures > 0)
    log_.Info(kComponent, "closed " + std::to_string(r.closed) + " live connection(s) of " +
                              std::to_string(revoked.size()) + " revoked entr" +
                              (revoked.size() == 1 ? "y" : "ies") +
                              (r.failures ? ", " + std::to_string(r.failures) + " failure(s)" : ""));
  return r;
}

}  // namespace natstack::callout

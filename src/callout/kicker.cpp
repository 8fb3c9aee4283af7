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
  const std::string inbox = Inbox();
  auto sub = sys_.SubscribeSync(inbox);
  if (!sub) {
    ++failures;
    log_.Warn(kComponent, "cannot look up connections: " + sub.error().message);
    return found;
  }
  // One scatter for the whole batch: every server answers every lookup on the same inbox, and
  // each answer says which server it is from; which user it was for does not matter.
  for (const std::string& user : user_ids) {
    const json request = {{"user", user}, {"auth", true}, {"limit", kConnzLimit}};
    if (auto sent = sys_.Publish("$SYS.REQ.SERVER.PING.CONNZ", request.dump(), inbox); !sent) {
      ++failures;
      log_.Warn(kComponent, "cannot look up connections: " + sent.error().message);
      return found;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + kScatterDeadline;
  for (size_t replies = 0; replies < 100 * user_ids.size() + 100; ++replies) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    // The first answer may take a moment; after it, wait only a short gap for the others.
    auto msg = (*sub)->Next(replies == 0 ? left
                                         : std::min(left, std::chrono::milliseconds(kQuietGap)));
    if (!msg) break;
    auto conns = ParseConnzReply(msg->Data());
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

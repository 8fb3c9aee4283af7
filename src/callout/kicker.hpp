#pragma once
/// Closes the live connections of revoked identities through the servers' system API, so a
/// revocation takes effect now rather than when the user JWT expires:
///
///   users:     `$SYS.REQ.SERVER.PING.CONNZ` {"user": ID, "auth": true} finds the connections
///              on every server (the user JWT's `name` is the user id, and nats-server shows it
///              as the connection's user), then `$SYS.REQ.SERVER.<id>.KICK` {"cid": N} closes
///              each. This finds connections whichever replica admitted them.
///   token ids: the server does not know them; each replica remembers (bounded, until expiry)
///              which connections it admitted with which token id, and kicks those. Every
///              replica watches the same deny-list, so together they cover their admissions.
///
/// A kicked client that reconnects is asked about again and refused ("revoked").

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "callout/revocation.hpp"
#include "core/clock.hpp"
#include "core/logger.hpp"
#include "nats_client/connection.hpp"

namespace natstack::callout {

/// A connection on a server: what KICK needs.
struct LiveConnection {
  std::string server_id;  ///< N...
  uint64_t cid = 0;
  bool operator<(const LiveConnection& o) const {
    return server_id != o.server_id ? server_id < o.server_id : cid < o.cid;
  }
  bool operator==(const LiveConnection& o) const {
    return server_id == o.server_id && cid == o.cid;
  }
};

/// Sends each of `requests` to `subject` (a `$SYS.REQ.SERVER.PING.*` subject every server
/// answers) with one reply inbox and collects the answers until `quiet_gap` passes without one
/// or `deadline` passes. Failures to subscribe or publish are counted and logged.
std::vector<std::string> ScatterGather(nats_client::Connection& sys, const std::string& subject,
                                       const std::vector<std::string>& requests,
                                       std::chrono::milliseconds deadline,
                                       std::chrono::milliseconds quiet_gap, size_t& failures,
                                       Logger& log);

/// The accounts one `$SYS.REQ.SERVER.PING.ACCOUNTZ` reply lists, and the server's name.
struct ServerAccounts {
  std::string server;  ///< name (id when unnamed)
  std::vector<std::string> accounts;
  std::string system_account;  ///< "" when the reply does not say
};
Result<ServerAccounts> ParseAccountzReply(std::string_view reply);

/// Asks every server for its accounts and checks that each of `accounts` exists on all that
/// answer and is not the server's system account (whatever it is named): kInvalidArgument naming
/// the account and the server otherwise (a user placed in an
/// account the server lacks is refused by the server: better a start-up error). Servers that
/// do not answer are not held against the config (a warning is logged).
Status CheckAccountsExist(nats_client::Connection& sys, const std::vector<std::string>& accounts,
                          Logger& log);

/// Parses one `$SYS.REQ.SERVER.PING.CONNZ` reply: the server's id and its connections' cids.
/// Errors name what is wrong (a reply carrying an "error" object is an error too).
Result<std::vector<LiveConnection>> ParseConnzReply(std::string_view reply);

/// Token id -> the connections this replica admitted with it, until their user JWT expires.
/// Bounded: past `max_entries` the entries closest to expiry are dropped first. Thread-safe.
class AdmissionLog {
 public:
  explicit AdmissionLog(size_t max_entries = 200000) : max_entries_(max_entries) {}
  void Record(std::string_view token_id, LiveConnection conn, int64_t expires_at, int64_t now);
  std::vector<LiveConnection> Find(std::string_view token_id, int64_t now) const;
  size_t size() const;

 private:
  struct Entry {
    LiveConnection conn;
    int64_t expires_at = 0;
  };
  void PruneLocked(int64_t now);
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::multimap<std::string, Entry, std::less<>> by_token_;
  size_t entries_ = 0;
};

class Kicker {
 public:
  /// `sys` is a connection as a system-account user; it, the log and the clock must outlive
  /// the Kicker.
  Kicker(nats_client::Connection& sys, const AdmissionLog& admissions, const Clock& clock,
         Logger& log);

  struct Result {
    size_t closed = 0;
    size_t failures = 0;  ///< lookups or kicks that failed (servers silent or refusing)
  };
  /// Finds and closes the connections of `revoked`. Blocks (seconds at most: each server
  /// request has a deadline); call it off any request path.
  Result Kick(const DenyList& revoked);

  /// The connections whose user is one of `user_ids`, on every server that answers in time.
  std::vector<LiveConnection> FindUsers(const std::vector<std::string>& user_ids,
                                        size_t& failures);

 private:
  nats_client::Connection& sys_;
  const AdmissionLog& admissions_;
  const Clock& clock_;
  Logger& log_;
};

}  // namespace natstack::callout

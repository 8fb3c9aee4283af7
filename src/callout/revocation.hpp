#pragma once
/// The deny-list: identities (user ids, as the callout maps them) and token ids (`jti`) that
/// are refused ("revoked") even with a valid token. It lives in a JSON file,
///
///   {"users": ["alice", "dev:bob"], "token_ids": ["6f1c..."]}
///
/// that every replica watches and reloads when it changes (no restart). A file that stops
/// parsing keeps the last good list in force (and is counted and logged); a file that is
/// writable by group or others is refused, since whoever can write it can un-revoke.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/logger.hpp"

namespace natstack::callout {

struct DenyList {
  std::set<std::string, std::less<>> users;
  std::set<std::string, std::less<>> token_ids;
  size_t size() const { return users.size() + token_ids.size(); }
  bool empty() const { return users.empty() && token_ids.empty(); }
  bool Contains(std::string_view user_id, std::string_view token_id) const;
};

/// Parses the file's text. Unknown keys, non-string or empty entries are errors naming the
/// key and index (`revoked.json: users[2]: expected a non-empty string`).
Result<DenyList> ParseDenyList(std::string_view text, std::string_view source);
/// The file's text for `list` (stable order).
std::string SerializeDenyList(const DenyList& list);
/// What `after` holds that `before` did not.
DenyList DenyListAdded(const DenyList& before, const DenyList& after);

/// Reads `path` (refusing one writable by group or others) and parses it.
Result<DenyList> LoadDenyListFile(const std::string& path);

/// Adds (or, with `remove`, takes out) entries in the file at `path`, creating it (mode 0600)
/// when absent; the write is atomic, so watchers never see half a file. Returns the new list.
Result<DenyList> EditDenyListFile(const std::string& path, const DenyList& entries, bool remove);

/// Watches a deny-list file. Thread-safe: IsRevoked may be called from any thread and never
/// waits for file I/O.
class RevocationWatcher {
 public:
  /// Called on the watcher's thread with the entries a (re)load added — first, everything on
  /// the list at start.
  using OnAdded = std::function<void(const DenyList& added)>;

  /// Loads the file (an error names it: a deny-list that cannot be read at start is a
  /// configuration error, not an empty list) and starts polling it every `poll`.
  static Result<std::unique_ptr<RevocationWatcher>> Start(std::string path,
                                                          std::chrono::milliseconds poll,
                                                          Logger& log, OnAdded on_added);
  ~RevocationWatcher();
  RevocationWatcher(const RevocationWatcher&) = delete;
  RevocationWatcher& operator=(const RevocationWatcher&) = delete;

  bool IsRevoked(std::string_view user_id, std::string_view token_id) const;
  /// Checks the file now (tests, and the poll loop).
  void Poll();
  void Stop();

  struct Stats {
    size_t entries = 0;
    uint64_t reloads = 0;   ///< reloads that changed the list
    uint64_t failures = 0;  ///< reloads that failed (the last good list stayed)
  };
  Stats GetStats() const;
  std::shared_ptr<const DenyList> Current() const;

 private:
  /// What stat says of the file: a change in any of it (ctime also moves on chmod and chown)
  /// means a load. A load that failed is retried at every poll whatever stat says, so fixing
  /// the cause (a mode, an owner, a directory) is enough.
  struct Signature {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    int64_t mtime_ns = -1;
    int64_t ctime_ns = -1;
    mode_t mode = 0;
    uid_t owner = 0;
    static Signature Of(const std::string& path);
    bool operator==(const Signature& o) const {
      return device == o.device && inode == o.inode && size == o.size &&
             mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns && mode == o.mode &&
             owner == o.owner;
    }
  };
  RevocationWatcher(std::string path, std::chrono::milliseconds poll, Logger& log, OnAdded on_added)
      : path_(std::move(path)), poll_(poll), log_(log), on_added_(std::move(on_added)) {}
  void Run();

  const std::string path_;
  const std::chrono::milliseconds poll_;
  Logger& log_;
  OnAdded on_added_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const DenyList> list_;
  Signature seen_;
  std::string last_error_;
  Stats stats_;
  bool stopping_ = false;
  std::mutex poll_mu_;  // one Poll at a time
  std::thread thread_;
};

}  // namespace natstack::callout

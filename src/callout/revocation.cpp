#include "callout/revocation.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/file.hpp"
#include "core/json_config.hpp"

namespace natstack::callout {
namespace {

constexpr const char* kComponent = "revocation";
/// Entries a deny-list may hold: far above any real list, far below what hurts memory.
constexpr size_t kMaxEntries = 1000000;
constexpr size_t kMaxEntryBytes = 1024;

Status ParseList(ConfigReader& r, const char* key, std::set<std::string, std::less<>>& out) {
  const nlohmann::json* v = r.Raw(key);
  if (v == nullptr) return Ok();
  if (!v->is_array()) return r.Invalid(key, "expected a list of strings");
  if (v->size() > kMaxEntries)
    return r.Invalid(key, "more than " + std::to_string(kMaxEntries) + " entries");
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& e = (*v)[i];
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    if (!e.is_string() || e.get_ref<const std::string&>().empty())
      return r.Invalid(where, "expected a non-empty string");
    if (e.get_ref<const std::string&>().size() > kMaxEntryBytes)
      return r.Invalid(where, "longer than " + std::to_string(kMaxEntryBytes) + " bytes");
    out.insert(e.get<std::string>());
  }
  return Ok();
}

}  // namespace

bool DenyList::Contains(std::string_view user_id, std::string_view token_id) const {
  return (!user_id.empty() && users.find(user_id) != users.end()) ||
         (!token_id.empty() && token_ids.find(token_id) != token_ids.end());
}

Result<DenyList> ParseDenyList(std::string_view text, std::string_view source) {
  NATSTACK_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJsonDocument(text, source));
  ConfigReader r(doc, std::string(source), "");
  DenyList list;
  NATSTACK_TRY(ParseList(r, "users", list.users));
  NATSTACK_TRY(ParseList(r, "token_ids", list.token_ids));
  NATSTACK_TRY(r.Finish());
  return list;
}

std::string SerializeDenyList(const DenyList& list) {
  const nlohmann::json j = {{"users", list.users}, {"token_ids", list.token_ids}};
  return j.dump(2) + "\n";
}

DenyList DenyListAdded(const DenyList& before, const DenyList& after) {
  DenyList added;
  for (const auto& u : after.users)
    if (before.users.find(u) == before.users.end()) added.users.insert(u);
  for (const auto& t : after.token_ids)
    if (before.token_ids.find(t) == before.token_ids.end()) added.token_ids.insert(t);
  return added;
}

Result<DenyList> LoadDenyListFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Fail(Code::kNotFound, "deny-list " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 022) != 0)
    return Fail(Code::kPermissionDenied,
                "deny-list " + path +
                    " is writable by other users, who could take entries out of it: run chmod "
                    "go-w " +
                    path);
  NATSTACK_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path));
  return ParseDenyList(text, path);
}

Result<DenyList> EditDenyListFile(const std::string& path, const DenyList& entries, bool remove) {
  // Serialise concurrent editors (two `natstack callout revoke` at once) on a lock file beside
  // the list; watchers only ever see whole files (WriteFileAtomic renames).
  const std::string lock_path = path + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Code::kUnavailable, "cannot open " + lock_path + ": " + std::strerror(errno));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // closing drops the flock
  } unlock{fd};
  if (::flock(fd, LOCK_EX) != 0)
    return Fail(Code::kUnavailable, "cannot lock " + lock_path + ": " + std::strerror(errno));
  DenyList list;
  if (FileExists(path)) {
    NATSTACK_ASSIGN_OR_RETURN(list, LoadDenyListFile(path));
  }
  for (const auto& u : entries.users) {
    if (remove) {
      list.users.erase(u);
    } else {
      list.users.insert(u);
    }
  }
  for (const auto& t : entries.token_ids) {
    if (remove) {
      list.token_ids.erase(t);
    } else {
      list.token_ids.insert(t);
    }
  }
  NATSTACK_TRY(WriteFileAtomic(path, SerializeDenyList(list), 0600));
  return list;
}

Result<std::unique_ptr<RevocationWatcher>> RevocationWatcher::Start(std::string path,
                                                                    std::chrono::milliseconds poll,
                                                                    Logger& log, OnAdded on_added) {
  std::unique_ptr<RevocationWatcher> w(
      new RevocationWatcher(std::move(path), poll, log, std::move(on_added)));
  w->seen_ = Signature::Of(w->path_);
  NATSTACK_ASSIGN_OR_RETURN(DenyList list, LoadDenyListFile(w->path_).map_error([](const Error& e) {
    return e.Wrap("revocation_file");
  }));
  w->stats_.entries = list.size();
  auto shared = std::make_shared<const DenyList>(std::move(list));
  w->list_ = shared;
  log.Info(kComponent, "deny-list " + w->path_ + ": " + std::to_string(shared->users.size()) +
                           " users, " + std::to_string(shared->token_ids.size()) + " token ids");
  w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
  return w;
}

RevocationWatcher::Signature RevocationWatcher::Signature::Of(const std::string& path) {
  Signature sig;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sig;
  sig.device = st.st_dev;
  sig.inode = st.st_ino;
  sig.size = st.st_size;
  sig.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  sig.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  sig.mode = st.st_mode;
  sig.owner = st.st_uid;
  return sig;
}

RevocationWatcher::~RevocationWatcher() { Stop(); }

void RevocationWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RevocationWatcher::Run() {
  // What was on the list at start counts as added: connections admitted before (by another
  // replica, or while this one was down) are closed too. Here, not in Start: it takes time.
  if (on_added_) {
    const auto initial = Current();
    if (!initial->empty()) on_added_(*initial);
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, poll_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Poll();
    lock.lock();
  }
}

void RevocationWatcher::Poll() {
  std::lock_guard<std::mutex> one(poll_mu_);
  const Signature now = Signature::Of(path_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now == seen_ && last_error_.empty()) return;
  }
  auto loaded = LoadDenyListFile(path_);
  std::shared_ptr<const DenyList> before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool same_file = now == seen_;
    seen_ = now;
    if (!loaded) {
      // Counted and logged once per failure, though retried at every poll.
      const bool repeated = same_file && loaded.error().message == last_error_;
      if (!repeated) ++stats_.failures;
      last_error_ = loaded.error().message;
      if (!repeated)
        log_.Warn(kComponent, loaded.error().message + "; the last good deny-list (" +
                                  std::to_string(stats_.entries) + " entries) stays in force");
      return;
    }
    last_error_.clear();
    before = list_;
    if (before->users == loaded->users && before->token_ids == loaded->token_ids) return;
    ++stats_.reloads;
    stats_.entries = loaded->size();
    list_ = std::make_shared<const DenyList>(std::move(*loaded));
  }
  const DenyList added = DenyListAdded(*before, *Current());
  log_.Info(kComponent, "deny-list reloaded: " + std::to_string(Current()->size()) +
                            " entries, " + std::to_string(added.size()) + " new");
  if (on_added_ && !added.empty()) on_added_(added);
}

bool RevocationWatcher::IsRevoked(std::string_view user_id, std::string_view token_id) const {
  return Current()->Contains(user_id, token_id);
}

std::shared_ptr<const DenyList> RevocationWatcher::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return list_;
}

RevocationWatcher::Stats RevocationWatcher::GetStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace natstack::callout

#include "core/file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace natstack {
namespace {

Error ErrnoError(int err, const std::string& what) {
  Code code = Code::kInternal;
  if (err == ENOENT || err == ENOTDIR) code = Code::kNotFound;
  else if (err == EACCES || err == EPERM) code = Code::kPermissionDenied;
  else if (err == EEXIST) code = Code::kAlreadyExists;
  return Error{code, what + ": " + std::strerror(err)};
}

}  // namespace

Result<std::string> ReadFile(const std::string& path, const ReadOptions& options) {
  // O_NONBLOCK: opening a FIFO without a writer must not wait for one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Fail(ErrnoError(errno, "cannot open " + path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Fail(ErrnoError(err, "cannot read " + path));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Fail(Code::kInvalidArgument, path + " is a directory, not a file");
  }
  if (options.regular_only && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(Code::kInvalidArgument,
                path + " is not a regular file (a " +
                    (S_ISFIFO(st.st_mode)   ? "FIFO"
                     : S_ISCHR(st.st_mode)  ? "character device"
                     : S_ISBLK(st.st_mode)  ? "block device"
                     : S_ISSOCK(st.st_mode) ? "socket"
                                            : "special file") +
                    ")");
  }
  // Back to blocking reads (a pipe with a writer is read until it closes).
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Fail(ErrnoError(err, "cannot read " + path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > options.max_bytes) {
      ::close(fd);
      const size_t mib = options.max_bytes >> 20;
      return Fail(Code::kInvalidArgument,
                  path + " is larger than " +
                      (mib > 0 ? std::to_string(mib) + " MiB" : std::to_string(options.max_bytes) + " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<std::string> ReadConfigFile(const std::string& path) {
  ReadOptions o;
  o.max_bytes = size_t{16} << 20;
  o.regular_only = true;
  return ReadFile(path, o);
}

Result<std::string> ReadSecretFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Fail(ErrnoError(errno, "cannot open " + path));
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Fail(Code::kPermissionDenied,
                path + " holds a secret but has mode " + mode + ": run chmod 600 " + path);
  }
  return ReadConfigFile(path);
}

Result<std::string> ReadSecretValue(const std::string& path) {
  NATSTACK_ASSIGN_OR_RETURN(std::string value, ReadSecretFile(path));
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r' ||
                            value.back() == ' ' || value.back() == '\t'))
    value.pop_back();
  if (value.empty()) return Fail(Code::kInvalidArgument, path + " is empty");
  return value;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Fail(ErrnoError(errno, "cannot create " + tmp));
  // open() applies the umask; make the mode exact (0600 must stay 0600, 0644 must be readable).
  if (::fchmod(fd, mode) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(ErrnoError(err, "cannot chmod " + tmp));
  }
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(ErrnoError(err, "cannot write " + tmp));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(ErrnoError(err, "cannot flush " + tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(ErrnoError(err, "cannot rename " + tmp + " to " + path));
  }
  return Ok();
}

Status MakeDirs(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::path p(path);
  std::filesystem::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (cur.empty() || std::filesystem::exists(cur, ec)) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return Fail(ErrnoError(errno, "cannot create directory " + cur.string()));
    ::chmod(cur.c_str(), mode);
  }
  if (!std::filesystem::is_directory(p, ec))
    return Fail(Code::kFailedPrecondition, path + " exists and is not a directory");
  return Ok();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec) return path;
  return abs.lexically_normal().string();
}

}  // namespace natstack

#include "cluster/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <thread>

#include "core/file.hpp"

namespace natstack::cluster {

Result<ChildProcess> ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return Fail(Code::kInvalidArgument, "spawn: empty argv");
  if (::access(options.argv[0].c_str(), X_OK) != 0)
    return Fail(Code::kNotFound, options.argv[0] + " is not an executable file");
  int log_fd = -1;
  if (!options.log_file.empty()) {
    log_fd = ::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0)
      return Fail(Code::kPermissionDenied,
                  "cannot open log " + options.log_file + ": " + std::strerror(errno));
  }
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The environment is built before fork: nothing but async-signal-safe calls after it.
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "NATSTACK_READY_FD=", 18) != 0) env_store.emplace_back(*e);
  }
  int ready[2] = {-1, -1};
  if (options.ready_pipe) {
    if (::pipe2(ready, O_CLOEXEC) != 0) {
      if (log_fd >= 0) ::close(log_fd);
      return Fail(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
    }
    env_store.emplace_back("NATSTACK_READY_FD=3");
  }
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    if (log_fd >= 0) ::close(log_fd);
    if (ready[0] >= 0) ::close(ready[0]);
    if (ready[1] >= 0) ::close(ready[1]);
    return Fail(Code::kInternal, std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    ::setpgid(0, 0);  // own process group: a terminal's Ctrl-C reaches the supervisor only
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    if (ready[1] >= 0) ::dup2(ready[1], 3);  // dup2 clears FD_CLOEXEC on the copy
    if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  if (ready[1] >= 0) ::close(ready[1]);
  return ChildProcess(pid, ready[0]);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_),
      ready_fd_(other.ready_fd_),
      ready_(other.ready_),
      exited_(other.exited_),
      status_(other.status_) {
  other.pid_ = -1;
  other.ready_fd_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Stop(std::chrono::seconds(2));
    if (ready_fd_ >= 0) ::close(ready_fd_);
    pid_ = other.pid_;
    ready_fd_ = other.ready_fd_;
    ready_ = other.ready_;
    exited_ = other.exited_;
    status_ = other.status_;
    other.pid_ = -1;
    other.ready_fd_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  Stop(std::chrono::seconds(5));
  if (ready_fd_ >= 0) ::close(ready_fd_);
}

bool ChildProcess::WaitReady(std::chrono::milliseconds timeout) {
  if (ready_) return true;
  if (ready_fd_ < 0) return false;
  pollfd p{ready_fd_, POLLIN, 0};
  const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n <= 0) return false;
  char buf[64];
  const ssize_t got = ::read(ready_fd_, buf, sizeof buf);
  ::close(ready_fd_);
  ready_fd_ = -1;
  ready_ = got > 0;
  return ready_;
}

void ChildProcess::Reap(int status) {
  exited_ = true;
  status_ = status;
}

bool ChildProcess::IsRunning() {
  if (pid_ <= 0 || exited_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reap(status);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    exited_ = true;
    return false;
  }
  return true;
}

std::optional<std::string> ChildProcess::ExitDescription() {
  if (IsRunning() || pid_ <= 0) return std::nullopt;
  if (WIFEXITED(status_)) return "exited with status " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) {
    const int sig = WTERMSIG(status_);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return std::string("exited");
}

void ChildProcess::Signal(int signal) {
  if (IsRunning()) ::kill(pid_, signal);
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (!IsRunning()) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!IsRunning()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  if (::waitpid(pid_, &status, 0) == pid_) Reap(status);
}

std::string TailOfFile(const std::string& path, size_t max_lines) {
  auto text = ReadFile(path);
  if (!text) return {};
  std::string s = std::move(*text);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t pos = s.size();
  for (size_t n = 0; n < max_lines && pos != std::string::npos && pos > 0; ++n) {
    pos = s.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? s : s.substr(pos + 1);
}

}  // namespace natstack::cluster

namespace natstack::cluster {

Result<std::string> RunAndCapture(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout, size_t max_bytes) {
  if (argv.empty()) return Fail(Code::kInvalidArgument, "run: empty argv");
  if (::access(argv[0].c_str(), X_OK) != 0)
    return Fail(Code::kNotFound, argv[0] + " is not an executable file");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Fail(Code::kInternal, "pipe failed");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Fail(Code::kInternal, "fork failed");
  }
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      if (out.size() < max_bytes) out.append(buf, std::min(static_cast<size_t>(n), max_bytes - out.size()));
      continue;
    }
    if (n == 0) break;
    if (errno != EAGAIN && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out) return Fail(Code::kDeadlineExceeded, argv[0] + " did not finish in time");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Fail(Code::kFailedPrecondition, argv[0] + " failed: " + out);
  return out;
}

}  // namespace natstack::cluster

#pragma once
/// A whole natstack stack for integration tests: `natstack up --detach` on a private block of
/// loopback addresses (127.0.B.1-3 for the nodes, 127.0.B.4 for the IdP) and a temporary state
/// directory, stopped with `natstack down` and removed afterwards. Test-only.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "nats_client/connection.hpp"
#include "testing/temp_dir.hpp"

namespace natstack::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
  double seconds = 0;
};

/// Runs `natstack ARGS...` (the binary under test) to completion with a deadline; extra
/// environment entries ("K=V") are added. Input is /dev/null unless `stdin_text` is given.
CommandResult RunNatstack(const std::vector<std::string>& args,
                          std::chrono::seconds timeout = std::chrono::seconds(120),
                          const std::vector<std::string>& env = {},
                          const std::string& stdin_text = "");

/// True when host:port can be bound (with SO_REUSEADDR, as the servers bind): nothing listens.
bool PortFree(const std::string& host, int port);

/// Picks a block B (10..249) whose standard ports on 127.0.B.1-4 are all free.
int PickFreeLoopbackBlock();

/// PIDs of live processes whose command line mentions `needle` (e.g. a state directory).
std::vector<int> ProcessesMentioning(const std::string& needle);

class Stack {
 public:
  Stack();
  /// The state directory is `subdir` below a fresh temporary directory, not created yet.
  explicit Stack(const std::string& subdir);
  ~Stack();  ///< natstack down, then removes the state directory
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  /// natstack up --detach; returns its result (exit code 0 when ready).
  CommandResult Up(const std::vector<std::string>& extra_args = {});
  CommandResult Down();
  /// POST /v1/parts/PART/ACTION to the supervisor with the control token: its HTTP status
  /// (-1 when it does not answer).
  int Control(const std::string& part, const std::string& action) const;

  const std::string& state_dir() const { return state_dir_; }
  int block() const { return block_; }
  std::string NodeHost(int i) const;                ///< i = 1..3
  std::string ClientUrl(int i) const;               ///< tls://127.0.B.i:4222
  std::vector<std::string> ClientUrls() const;
  std::string MonitorUrl(int i) const;              ///< http://127.0.B.i:8222
  std::string CaFile() const;
  std::string IdpIssuer() const;                    ///< http://127.0.B.4:9400/
  std::string IdpKeyFile() const;
  std::string Addresses() const;                    ///< "127.0.B.1,127.0.B.2,127.0.B.3"
  std::string IdpListen() const;                    ///< "127.0.B.4:9400"
  std::string SupervisorListen() const;             ///< "127.0.B.4:9390"
  std::string SupervisorUrl() const;                ///< "http://127.0.B.4:9390"

  /// A client of node `node` alone (no reconnect, no discovered servers) with `token`,
  /// trusting the stack's CA.
  Result<std::unique_ptr<nats_client::Connection>> Connect(
      int node, const std::string& token,
      std::chrono::milliseconds timeout = std::chrono::seconds(5),
      std::function<void(const std::string&)> on_error = {},
      const std::string& inbox_prefix = "") const;

 private:
  TempDir dir_;
  std::string state_dir_;
  int block_;
};

}  // namespace natstack::testing

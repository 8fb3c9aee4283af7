// natstack client: a small NATS client for trying the stack (check, pub, sub, request).
// The token is read from a file or stdin, never from argv.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cluster/layout.hpp"
#include "core/base64.hpp"
#include "core/file.hpp"
#include "nats_client/connection.hpp"

namespace natstack::cli {
namespace {

struct ClientFlags {
  std::string token_file;
  std::vector<std::string> servers;
  std::string ca_file;
  std::string inbox_prefix;  ///< "" = _INBOX_<the token's sub>
  double timeout_s = 5;
  std::string subject;
  std::string data;
  int count = 0;
};

Result<std::string> ReadToken(const std::string& source) {
  std::string text;
  if (source == "-") {
    std::string line;
    std::getline(std::cin, line);
    text = line;
  } else {
    NATSTACK_ASSIGN_OR_RETURN(text, ReadFile(source));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  if (text.empty()) return Fail(Code::kInvalidArgument, "the token from " + source + " is empty");
  return text;
}

/// The token's sub, read without verification, for a private inbox prefix ("" if unreadable).
std::string UnverifiedSubject(const std::string& token) {
  const auto a = token.find('.');
  const auto b = token.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos) return {};
  auto payload = Base64UrlDecode(std::string_view(token).substr(a + 1, b - a - 1));
  if (!payload) return {};
  auto j = nlohmann::json::parse(*payload, nullptr, false);
  if (!j.is_object() || !j.contains("sub") || !j["sub"].is_string()) return {};
  return j["sub"].get<std::string>();
}

Result<std::unique_ptr<nats_client::Connection>> Connect(const Globals& g, const ClientFlags& f,
                                                         std::atomic<bool>* error_seen) {
  nats_client::ConnectOptions co;
  co.servers = f.servers;
  co.ca_file = f.ca_file;
  if (co.servers.empty() || co.ca_file.empty()) {
    auto layout = cluster::LoadLayout(g.StateDir());
    if (!layout) {
      if (co.servers.empty()) return Fail(layout.error().Wrap("no --server given"));
      // Servers given, no CA and no stack to take one from: plain nats:// needs none.
      for (const auto& url : co.servers)
        if (url.rfind("nats://", 0) != 0)
          return Fail(Code::kInvalidArgument,
                      url + " needs a CA to trust: give --ca-file (there is no natstack state in " +
                          g.StateDir() + " to take it from)");
    } else {
      if (co.servers.empty()) co.servers = cluster::ClientUrls(*layout);
      if (co.ca_file.empty()) co.ca_file = cluster::TrustedCaFile(*layout);
    }
  }
  if (!f.token_file.empty()) {
    NATSTACK_ASSIGN_OR_RETURN(co.token, ReadToken(f.token_file));
    const std::string sub = UnverifiedSubject(co.token);
    if (!sub.empty()) co.inbox_prefix = "_INBOX_" + sub;
    // A file is read again at every reconnect, so whatever renews it (a token refresher, a
    // cron job) keeps a long-running client admitted across its user JWT's expiry. The last
    // good token stands in when the file cannot be read at that moment.
    if (f.token_file != "-") {
      co.token_handler = [file = f.token_file, last = co.token]() mutable {
        if (auto fresh = ReadToken(file)) {
          last = std::move(*fresh);
        } else {
          std::fprintf(stderr, "natstack client: %s; reconnecting with the previous token\n",
                       fresh.error().message.c_str());
        }
        return last;
      };
    }
  }
  // The callout's user id can differ from sub (an issuer's user_prefix or user_claim): then
  // the private inbox is _INBOX_<user id>, given here.
  if (!f.inbox_prefix.empty()) co.inbox_prefix = f.inbox_prefix;
  co.name = "natstack-client";
  co.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  co.on_error = [error_seen](const std::string& e) {
    std::fprintf(stderr, "natstack client: server error: %s\n", e.c_str());
    if (error_seen != nullptr) *error_seen = true;
  };
  co.on_disconnected = [] { std::fprintf(stderr, "natstack client: disconnected\n"); };
  co.on_reconnected = [] { std::fprintf(stderr, "natstack client: reconnected\n"); };
  return nats_client::Connection::Connect(std::move(co));
}

int Fails(const Error& e) {
  PrintError("client", e.message);
  return 1;
}

}  // namespace

void AddClientCommand(CLI::App& app, Globals& g, Action& action) {
  auto f = std::make_shared<ClientFlags>();
  CLI::App* cmd = app.add_subcommand("client", "Connect to the stack and check, publish, subscribe or request");
  cmd->require_subcommand(1);
  cmd->add_option("--token-file", f->token_file,
                  "File holding the token (read again at every reconnect), or - for stdin");
  cmd->add_option("--server", f->servers, "Server URL (default: every node of the stack)");
  cmd->add_option("--ca-file", f->ca_file, "CA certificate (default: the stack's root CA)");
  cmd->add_option("--inbox-prefix", f->inbox_prefix,
                  "Reply inbox prefix (default _INBOX_<the token's sub>, the private inbox of "
                  "the default template; give _INBOX_<user id> when the issuer maps ids)");
  cmd->add_option("--timeout", f->timeout_s, "Seconds for connect and request (default 5)")
      ->check(CLI::Range(0.01, 3600.0));

  CLI::App* check = cmd->add_subcommand("check", "Connect, print where, disconnect");
  check->callback([&g, &action, f] {
    action = [&g, f] {
      auto conn = Connect(g, *f, nullptr);
      if (!conn) return Fails(conn.error());
      std::printf("admitted by %s (server %s)\n", (*conn)->ConnectedUrl().c_str(),
                  (*conn)->ConnectedServerId().c_str());
      return 0;
    };
  });

  CLI::App* pub = cmd->add_subcommand("pub", "Publish DATA on SUBJECT");
  pub->add_option("subject", f->subject)->required();
  pub->add_option("data", f->data);
  pub->callback([&g, &action, f] {
    action = [&g, f] {
      const std::string& subj = f->subject;
      if (subj.find('*') != std::string::npos || subj.find('>') != std::string::npos) {
        PrintError("client", "cannot publish to '" + subj + "': wildcards only match subscriptions");
        return 2;
      }
      std::atomic<bool> error_seen{false};
      auto conn = Connect(g, *f, &error_seen);
      if (!conn) return Fails(conn.error());
      if (auto s = (*conn)->Publish(f->subject, f->data); !s) return Fails(s.error());
      if (auto s = (*conn)->Flush(std::chrono::seconds(5)); !s) return Fails(s.error());
      // A permission violation arrives asynchronously; give it a moment to land.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (error_seen) return 1;
      std::printf("published %zu bytes on %s\n", f->data.size(), f->subject.c_str());
      return 0;
    };
  });

  CLI::App* sub = cmd->add_subcommand("sub", "Print messages on SUBJECT until Ctrl-C (or --count)");
  sub->add_option("subject", f->subject)->required();
  sub->add_option("--count", f->count, "Exit after this many messages");
  sub->callback([&g, &action, f] {
    action = [&g, f] {
      std::atomic<bool> error_seen{false};
      auto conn = Connect(g, *f, &error_seen);
      if (!conn) return Fails(conn.error());
      auto s = (*conn)->SubscribeSync(f->subject);
      if (!s) return Fails(s.error());
      if (auto fl = (*conn)->Flush(std::chrono::seconds(5)); !fl) return Fails(fl.error());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (error_seen) return 1;
      std::fprintf(stderr, "listening on %s\n", f->subject.c_str());
      int received = 0;
      while (f->count <= 0 || received < f->count) {
        auto m = (*s)->Next(std::chrono::milliseconds(500));
        if (!m) {
          if (m.error().code == Code::kDeadlineExceeded && !(*conn)->IsClosed()) continue;
          return Fails(m.error());
        }
        std::printf("[%.*s] %.*s\n", static_cast<int>(m->Subject().size()), m->Subject().data(),
                    static_cast<int>(m->Data().size()), m->Data().data());
        std::fflush(stdout);
        ++received;
      }
      return 0;
    };
  });

  CLI::App* req = cmd->add_subcommand("request", "Send DATA to SUBJECT and print the reply");
  req->add_option("subject", f->subject)->required();
  req->add_option("data", f->data);
  req->callback([&g, &action, f] {
    action = [&g, f] {
      auto conn = Connect(g, *f, nullptr);
      if (!conn) return Fails(conn.error());
      auto reply = (*conn)->Request(f->subject, f->data,
                                    std::chrono::milliseconds(static_cast<int64_t>(f->timeout_s * 1000)));
      if (!reply) return Fails(reply.error());
      std::printf("%.*s\n", static_cast<int>(reply->Data().size()), reply->Data().data());
      return 0;
    };
  });
  for (auto* s : cmd->get_subcommands({})) s->fallthrough();
}

}  // namespace natstack::cli

#pragma once
/// Small file helpers with the modes natstack needs: secrets are written 0600 through a
/// temporary file and an atomic rename, and read only when no one else can read them.

#include <string>
#include <string_view>
#include <sys/types.h>

#include "core/error.hpp"

namespace natstack {

struct ReadOptions {
  /// More is kInvalidArgument ("/dev/zero is larger than 64 MiB"), never an endless read.
  size_t max_bytes = size_t{64} << 20;
  /// Only a regular file: a directory, FIFO, socket or device is kInvalidArgument.
  bool regular_only = false;
};

/// Whole file as bytes. kNotFound when absent, kPermissionDenied when unreadable,
/// kInvalidArgument for a directory or more than `max_bytes`. A FIFO without a writer reads as
/// empty (it is opened without blocking), one with a writer until the writer closes it.
Result<std::string> ReadFile(const std::string& path, const ReadOptions& options = {});

/// A configuration file (spec, config, certificate, key, deny-list): a regular file of at most
/// 16 MiB, so a FIFO or a device given by mistake is an error at once, not a hang.
Result<std::string> ReadConfigFile(const std::string& path);

/// Reads a secret file (a regular file, as ReadConfigFile); refuses (kPermissionDenied) when
/// group or others may read it.
Result<std::string> ReadSecretFile(const std::string& path);

/// A one-line secret (seed, password): ReadSecretFile, trailing whitespace removed;
/// kInvalidArgument when nothing is left.
Result<std::string> ReadSecretValue(const std::string& path);

/// Writes `data` to a temporary file in the same directory with `mode`, fsyncs and renames it
/// over `path`: readers see the old or the new content, never a mix.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644);

/// mkdir -p with `mode` for directories it creates.
Status MakeDirs(const std::string& path, mode_t mode = 0755);

bool FileExists(const std::string& path);

/// Absolute, normalised form of `path` (which need not exist yet).
std::string AbsolutePath(const std::string& path);

}  // namespace natstack

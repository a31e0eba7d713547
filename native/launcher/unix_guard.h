// cordon – which unix path sockets a sandboxed connect() may reach: only those bound inside the sandbox.
#pragma once
#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <vector>

namespace cordon {

/** What the plan's UNIX_GUARD record asks of the connect broker (plan.h). */
enum class UnixGuard {
  kOff,       // no guard (the broker runs for allowlist networking only, or not at all)
  kNetns,     // the sandbox has its own network namespace: a socket must be bound in it
  kReadOnly,  // host network: a socket on a read-only mount is the host's (nothing inside can bind there)
};

/**
 * Takes the identity (device, inode) of each socket the profile names (network.unixSockets, bound at
 * their paths), once, when the sandbox is built and before the command runs: a command that later
 * renames another socket to one of those paths gains nothing. Missing ones are skipped.
 */
void unix_guard_allow(const std::vector<std::string>& paths);

/**
 * May a sandboxed process connect to the unix socket `target` (an O_PATH fd of the socket file, `st`
 * its fstat)? 0 when it is one of the allowed sockets or passes `mode`'s check; else EACCES with
 * `why` set to the reason for the violation report, one word: `read-only-mount`, `bound-outside`,
 * or `unverifiable` (the check itself failed: refused).
 */
int unix_guard_check(UnixGuard mode, int target, const struct stat& st, const char** why);

}  // namespace cordon

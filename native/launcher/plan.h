// cordon – the launch plan as the launcher receives it from Node (decoded from fd 3).
//
// Wire format (little-endian): records of [u32 tag][u32 length][payload]. Two parts: the setup
// (namespaces, mounts, Landlock, seccomp …) ending with END_SETUP, then the command (ARG, ENV, CWD)
// ending with END. The sandbox is built from the first part alone; init reads the second part just
// before it forks the command, so a supervisor may build a sandbox ahead of time and send the
// command later. Strings are raw bytes; list-valued records repeat. src/linux/wire.ts is the
// encoder; keep the tag numbers in sync with it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "unix_guard.h"

namespace cordon {

enum class Tag : uint32_t {
  kArg = 1,            // one argv element
  kEnv = 2,            // one NAME=VALUE
  kCwd = 3,            // working directory inside the sandbox
  kHostname = 4,       // UTS hostname
  kMount = 5,          // kind \0 src \0 dst \0 option
  kLandlockFs = 6,     // decimal: handled fs access mask
  kLandlockRule = 7,   // decimal access mask \0 path (as seen inside the sandbox)
  kLandlockScope = 8,  // decimal: scoped flags (ABI 6+)
  kSeccomp = 9,        // raw struct sock_filter[] bytes
  kNamespaces = 10,    // decimal clone flags
  kNotifyErrno = 11,   // decimal syscall nr \0 decimal errno to answer a notified (denied) syscall with
  kLandlockAbi = 12,   // decimal: minimum Landlock ABI the plan needs (0 = Landlock not applied)
  kEndSetup = 13,      // end of the setup part (then ARG/ENV/CWD … END)
  kKeeper = 14,        // session keeper: build the sandbox, report READY, hold it until released
  kJoin = 15,          // "pid ino×6": join the sandbox of a keeper's init (its namespace inodes from READY)
  kUnixGuard = 16,     // netns | readonly: pid 1 performs every connect() and refuses host unix sockets (unix_guard.h)
  kUnixAllow = 17,     // a host unix socket the guard lets through (its path, the same inside and out)
  // 20..39: network setup records, interpreted by network.cc (see there).
  kNetworkFirst = 20,
  kNetworkLast = 39,
  // 40..59: resource limit records, interpreted by limits.cc (see there).
  kLimitsFirst = 40,
  kLimitsLast = 59,
  kEnd = 99,
};

enum class MountKind { kBindRo, kBindRw, kBindDev, kTmpfs, kMask, kSymlink, kDir, kProc, kDevpts, kFile, kRemountRo, kPin };

struct MountOp {
  MountKind kind;
  std::string src;  // host path (binds), link target (symlink), content (file)
  std::string dst;  // path inside the sandbox
  std::string opt;  // tmpfs: "size=..,mode=.."; file/dir: octal mode
};

struct LandlockRule {
  uint64_t access;
  std::string path;
};

struct Plan {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::string hostname = "cordon";
  std::vector<MountOp> mounts;
  uint64_t landlock_fs = 0;
  uint64_t landlock_scope = 0;
  int landlock_abi = 0;
  std::vector<LandlockRule> landlock_rules;
  std::string seccomp;  // raw BPF program
  uint64_t namespaces = 0;
  std::vector<std::pair<int, int>> notify_errno;
  bool keeper = false;
  int join_pid = 0;
  std::vector<uint64_t> join_inodes;
  UnixGuard unix_guard = UnixGuard::kOff;
  std::vector<std::string> unix_allow;
  /** Network records (tags 20..39), in order, for network.cc. */
  std::vector<std::pair<uint32_t, std::string>> network;
  /** Limit records (tags 40..59), in order, for limits.cc. */
  std::vector<std::pair<uint32_t, std::string>> limits;
};

/** Splits a record payload "a\0b\0c" into its NUL-separated fields (at most `max`; the last keeps the rest). */
std::vector<std::string> split_nul(const std::string& s, size_t max = SIZE_MAX);

/**
 * Reads and decodes the setup part from `fd`. On failure reports a SETUP record and returns false.
 * A setup byte-identical to the one remember_setup() decoded takes that decoding instead.
 */
bool read_plan(int fd, Plan* plan);

/**
 * The launch server (server.cc) decodes each launch's setup part, peeked from its status socket, so
 * the standby it forks next inherits it: most launches of a Sandbox send the same setup (~0.1 ms of
 * decoding on a 1,000-rule plan, off their critical path). Silent: a bad setup is just not kept.
 */
void remember_setup(const char* data, size_t len);

/**
 * Reads the command part (ARG, ENV, CWD … END). Returns false without a record on EOF (the
 * supervisor discarded a sandbox it had built ahead) or when `life_fd` (the launcher's life pipe)
 * hangs up first, or with a SETUP record on malformed input.
 */
bool read_command(int fd, Plan* plan, int life_fd);

}  // namespace cordon

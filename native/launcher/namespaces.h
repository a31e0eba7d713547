// cordon – entering the sandbox's namespaces and mapping the caller's uid/gid into them.
#pragma once
#include <cstdint>

namespace cordon {

/**
 * Runs in the launcher (before the fork of init): unshare(flags), then writes setgroups=deny and
 * uid/gid maps that map the caller's ids onto themselves. `flags` must include user, mount, pid,
 * ipc and uts namespaces; net is optional (host network mode).
 */
bool enter_namespaces(uint64_t flags);

}  // namespace cordon

// cordon – entering the sandbox's namespaces and mapping the caller's uid/gid into them.
#pragma once
#include <cstdint>
#include <vector>

namespace cordon {

/**
 * Runs in the launcher (before the fork of init): unshare(flags), then writes setgroups=deny and
 * uid/gid maps that map the caller's ids onto themselves. `flags` must include user, mount, pid,
 * ipc and uts namespaces. The launcher passes no net: init makes the network namespace itself,
 * beside the mount tree (netns_builder.h).
 */
bool enter_namespaces(uint64_t flags);

/**
 * Session commands: joins the user, mount, ipc, uts, cgroup (and net, if in `flags`) namespaces of
 * a keeper's init `pid` — each checked against the keeper's `inodes` (as it reported them in READY),
 * so a recycled pid fails closed — then unshares a private mount namespace and a new pid namespace for this
 * command (its init remounts /proc for that pid namespace). Same uid/gid mapping as the keeper.
 */
bool join_namespaces(int pid, const std::vector<uint64_t>& inodes, uint64_t flags);

/**
 * Called after a process's last record, before the exit that tears its namespaces down (the mount
 * tree, the pid namespace, the last reference to the network namespace): SCHED_IDLE, so that work
 * yields to the caller and the next command's launch instead of competing with them for the CPU.
 * Best effort: a failure only leaves the teardown at normal priority.
 */
void idle_teardown();

/** The namespaces a session command joins, in the order of READY's and JOIN's inode lists. */
extern const char* const kJoinedNamespaces[6];

}  // namespace cordon

// cordon – the sandbox's fresh mount tree, built from the plan's mount ops, then pivot_root into it.
#pragma once
#include <vector>

#include "plan.h"

namespace cordon {

/**
 * Runs as pid 1 inside the new user+mount namespace. Builds a new root on a private tmpfs from
 * `ops` (in order: parents before children), pivots into it, detaches the host tree and makes the
 * root itself read-only. Nothing is created on the host: mountpoints are made only on cordon's own
 * tmpfs, and a missing mountpoint inside a host directory is an error. A session keeper (which
 * never runs a command) leaves /proc without its read-only overmounts, so that each session
 * command can mount a fresh /proc; the command re-applies them in its own mount namespace.
 * With `defer_detach` it returns right after pivot_root, the host tree still stacked on the new
 * root: the caller must then run detach_host_tree() (another thread may) before any command runs.
 */
bool build_root(const std::vector<MountOp>& ops, bool keeper, bool defer_detach);

/** The end of build_root: detaches the host tree (one lazy umount) and makes "/" read-only. */
bool detach_host_tree();

/**
 * A session command's init, in its private copy of the session's mounts: mounts /proc for its own
 * pid namespace, then re-applies the plan's read-only re-binds (/proc/sys, .git/hooks, …) and masks
 * for the paths that exist now, so files created by earlier session commands are covered too.
 */
bool apply_protections(const std::vector<MountOp>& ops);

}  // namespace cordon

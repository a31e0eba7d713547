// cordon – the sandbox's fresh mount tree, built from the plan's mount ops, then pivot_root into it.
#pragma once
#include <vector>

#include "plan.h"

namespace cordon {

/**
 * Runs as pid 1 inside the new user+mount namespace. Builds a new root on a private tmpfs from
 * `ops` (in order: parents before children), pivots into it, detaches the host tree and makes the
 * root itself read-only. Nothing is created on the host: mountpoints are made only on cordon's own
 * tmpfs, and a missing mountpoint inside a host directory is an error.
 */
bool build_root(const std::vector<MountOp>& ops);

}  // namespace cordon

// cordon – Landlock: the in-kernel second layer mirroring the filesystem plan, plus IPC scoping.
#pragma once
#include "plan.h"

namespace cordon {

/** Returns the kernel's Landlock ABI version, or 0 if Landlock is unavailable (errno says why). */
int landlock_abi_version();

/**
 * Creates one ruleset handling `plan.landlock_fs` and `plan.landlock_scope`, adds the plan's
 * path-beneath rules (paths as seen inside the sandbox) and restricts the calling process.
 * Requires no_new_privs. Fails closed if the kernel's ABI is below `plan.landlock_abi`.
 */
bool apply_landlock(const Plan& plan);

}  // namespace cordon

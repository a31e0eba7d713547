// cordon – network setup inside the sandbox's network namespace (allowlist mode), from plan records 20..39.
#pragma once
#include "plan.h"

namespace cordon {

/**
 * Runs in init after `lo` is up, before mounts are sealed and capabilities dropped. With no network
 * records this does nothing (mode none: loopback only; mode host: no network namespace at all).
 */
bool setup_network(const Plan& plan);

}  // namespace cordon

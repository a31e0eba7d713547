// cordon – network setup inside the sandbox's network namespace (allowlist mode), from plan records 20..39.
#pragma once
#include <cstdint>

#include "plan.h"

namespace cordon {

/**
 * Runs in init after `lo` is up, before mounts are sealed and capabilities dropped. With no network
 * records this does nothing (mode none: loopback only; mode host: no network namespace at all).
 */
bool setup_network(const Plan& plan);

/**
 * A session command (join mode): the session's network exists; learn its capture list and mode so
 * this command's connects are brokered like everywhere else.
 */
bool join_network(const Plan& plan);

/** Allowlist networking with the connect broker: the seccomp filter sends every connect() to pid 1. */
bool network_brokered();

/**
 * Would the sandbox's capture chain redirect a TCP connection to this destination? The same
 * first-match walk over the plan's capture records as the nftables chain. `addr` is 4 or 16 bytes.
 */
bool is_captured(int family, const unsigned char* addr, uint16_t port);

}  // namespace cordon

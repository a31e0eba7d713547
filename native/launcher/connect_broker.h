// cordon – pid 1 performs every connect() of the sandbox: the unix-socket guard, and the allowlist
// hand-over of host sockets (the design and the safety argument are in connect_broker.cc).
#pragma once
#include "plan.h"

namespace cordon {

/**
 * Starts the broker's workers: threads of pid 1 made after the capabilities are dropped, no_new_privs
 * is set and Landlock is applied (they carry all three), before the seccomp filter is installed (so
 * they are outside it: they must call connect() and pidfd_getfd(), which the filter sends to pid 1 or
 * refuses). They wait for broker_run(). False (setup failure) if the broker cannot work here.
 */
bool broker_start(const Plan& plan);

/** After install_seccomp: the workers take every notification from `listener` from now on. */
void broker_run(int listener);

/** broker_start succeeded. */
bool broker_running();

/** Main thread: the status fd is readable (supervisor replies). False on EOF or a protocol error. */
bool broker_read_replies();

/** The supervisor is gone: every waiting and every later captured connect is refused (fail closed). */
void broker_supervisor_gone();

}  // namespace cordon

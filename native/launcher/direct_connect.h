// cordon – pid 1's side of supervised connect() in allowlist networking: no relay on the data path.
#pragma once
#include "kernel_abi.h"

namespace cordon {

/**
 * Takes a seccomp notification if it is a supervised connect() (allowlist mode, x86-64 connect).
 * Returns false if it is not one (the caller treats it as a denied syscall).
 */
bool handle_connect(int listener, const abi::SeccompNotif& req);

/** The status fd is readable: answers the connects the supervisor replied to. False on EOF. */
bool read_supervisor_replies(int listener);

/** The supervisor is gone: every waiting and every future captured connect is refused. */
void supervisor_gone(int listener);

}  // namespace cordon

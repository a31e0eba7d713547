// cordon – pid 1 of the sandbox: finishes setup, starts the command, reaps, forwards signals, reports.
#pragma once
#include "plan.h"

namespace cordon {

/** Signals the launcher forwards to init and init forwards to the command. */
extern const int kForwardedSignals[];
extern const int kForwardedSignalCount;

/**
 * Runs as pid 1 of the new pid namespace and never returns. Reads the command part of the plan
 * (read_command) once the sandbox is complete. `life_fd` is the read end of a pipe
 * whose only writer is the launcher: when it hangs up, the launcher is gone and so is everything here.
 */
[[noreturn]] void run_init(Plan& plan, int life_fd);

}  // namespace cordon

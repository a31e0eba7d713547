// cordon – `cordon-launcher --probe`: which kernel layers this machine can enforce, as one JSON line.
#pragma once

namespace cordon {

/** Prints {"userns":…,"landlockAbi":…,"seccomp":…,…} on stdout; returns the process exit code. */
int run_probe();

}  // namespace cordon

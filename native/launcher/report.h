// cordon – status records from the launcher to the Node supervisor (one text line each, on fd 3).
//
// Records, one per line, fields separated by a single space; the last field may contain spaces:
//   SETUP <step> <syscall> <errno> <detail>   setup failed; the command never ran (CLI exits 125)
//   EXECFAIL <errno> <argv0>                   execve of the command failed (126/127)
//   INIT <host-pid>                            a session keeper's init was forked (sent by the launcher)
//   READY                                      a session keeper finished building the sandbox
//   STARTED <pid-in-sandbox>                   the command was exec'd (sent by init after fork)
//   VIOLATION syscall <nr> <arch> <pid>        a denied syscall was attempted (seccomp notify)
//   EXIT <code> <signal>                       the command ended; signal is 0 or the signal number
//   NET READY                                  allowlist networking: the listeners were sent (listeners.h)
#pragma once

namespace cordon {

/** The fd the supervisor gave us for records (and the plan). */
constexpr int kStatusFd = 3;

/** Writes a whole line to the status fd; never fails loudly (the supervisor may be gone). */
void report_line(const char* line);

/** Reports a setup failure for `step` caused by `syscall_name` failing with `err`. */
void report_setup_failure(const char* step, const char* syscall_name, int err, const char* detail);

/** Reports a setup failure and returns false, so callers can `return fail(...)`. */
bool fail(const char* step, const char* syscall_name, const char* detail = "");

/**
 * Step timing for launch-latency work (bench/trace.mjs): build with -DCORDON_TRACE and each
 * TRACE_STEP appends "TRACE <µs, CLOCK_MONOTONIC> <pid> <step>" to /tmp/cordon-trace.log (or
 * -DCORDON_TRACE_FILE="…"). A file, not the status socket: a record there would wake Node at every
 * step and perturb what it measures. Its fd (kTraceFd) survives init's fd cleanup; compiled out
 * otherwise.
 */
#ifdef CORDON_TRACE
constexpr int kTraceFd = 1000;
void trace_step(const char* step);
#define TRACE_STEP(step) ::cordon::trace_step(step)
#else
#define TRACE_STEP(step) ((void)0)
#endif

}  // namespace cordon

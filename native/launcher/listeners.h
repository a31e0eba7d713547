// cordon – allowlist networking's listeners, held by init until the command first uses one, then handed to the supervisor.
#pragma once
#include <string>
#include <vector>

namespace cordon {

/** At most this many listeners (network.cc makes five or six). */
constexpr int kMaxListeners = 8;

/**
 * Takes the listening sockets made in the sandbox's network namespace (their space-separated names,
 * in order) and the supervisor's channel. Most commands never touch the network, and serving the
 * listeners costs the supervisor ~0.3 ms of Node's CPU per command; so init holds them, polling
 * them beside the command (held_fds), and hands them over when the first datagram or connection
 * is waiting in one (held_fd_ready). What waits stays queued in the socket meanwhile: the
 * supervisor reads or accepts it as it would have.
 */
void hold_listeners(int channel, std::string names, std::vector<int> fds);

/**
 * The held listeners, then the channel: what init's fd cleanup keeps and its loop polls (POLLIN).
 * How many were written to `out`; 0 once handed over or dropped.
 */
int held_fds(int* out, int max);

/** Closes the held listeners and the channel without sending them (a failed setup, a supervisor gone). */
void drop_listeners();

/**
 * One of held_fds polled ready. A listener: the command is using the network, so they all go to the
 * supervisor (hand_over_listeners). The channel: the supervisor never writes to it, so it has closed
 * its end (stopped, or aborted): init closes the listeners, and connects and lookups are refused
 * at once, as when the supervisor closes listeners it holds (fail closed).
 */
void held_fd_ready(int fd);

/**
 * Sends the listeners to the supervisor (one SCM_RIGHTS message on the channel), then reports NET
 * READY, and closes init's copies and the channel either way: if the supervisor is gone, every
 * later connect to a listener is refused (fail closed). False (errno set, nothing reported) if the
 * send failed. True with nothing held.
 */
bool hand_over_listeners();

}  // namespace cordon

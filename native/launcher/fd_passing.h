// cordon – fixed-size messages with attached fds (SCM_RIGHTS) on a unix socket, both ways.
#pragma once
#include <sys/types.h>

namespace cordon {

/**
 * Reads exactly `len` bytes from `sock` (MSG_WAITALL) and up to `max_fds` fds sent with them, which
 * arrive close-on-exec. Returns the bytes read (0 on EOF, -1 on error); fds beyond `max_fds` or a
 * truncated control message make it return -1 after closing what came. `*nfds` counts the fds in
 * `fds`, which the caller owns even when the result is short.
 */
ssize_t recv_with_fds(int sock, void* buf, size_t len, int* fds, unsigned max_fds, unsigned* nfds);

/**
 * One sendmsg of `len` bytes with `nfds` fds (at most 16; none when 0) attached, retried on EINTR,
 * MSG_NOSIGNAL plus `flags`: the bytes sent, or -1 with errno (EINVAL for too many fds). Shared by
 * the launcher and the Node addon (native/addon/fds.cc).
 */
ssize_t sendmsg_with_fds(int sock, const void* buf, size_t len, const int* fds, unsigned nfds, int flags);

/** Sends `len` bytes with `nfds` fds attached, blocking; true when all of it went. */
bool send_with_fds(int sock, const void* buf, size_t len, const int* fds, unsigned nfds);

}  // namespace cordon

// cordon – fixed-size messages with attached fds (SCM_RIGHTS) on a unix socket, both ways.
#include "fd_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cordon {

namespace {
constexpr unsigned kMaxFds = 8;
}  // namespace

ssize_t recv_with_fds(int sock, void* buf, size_t len, int* fds, unsigned max_fds, unsigned* nfds) {
  *nfds = 0;
  iovec iov = {buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr mh;
  std::memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = CMSG_SPACE(sizeof(int) * (max_fds < kMaxFds ? max_fds : kMaxFds));
  ssize_t n;
  do n = ::recvmsg(sock, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    unsigned count = static_cast<unsigned>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (unsigned i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < max_fds) fds[(*nfds)++] = fd;
      else ::close(fd);
    }
  }
  if (n > 0 && (mh.msg_flags & MSG_CTRUNC)) return -1;
  return n;
}

ssize_t sendmsg_with_fds(int sock, const void* buf, size_t len, const int* fds, unsigned nfds, int flags) {
  constexpr unsigned kMaxSent = 16;
  if (nfds > kMaxSent) {
    errno = EINVAL;
    return -1;
  }
  iovec iov = {const_cast<void*>(buf), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxSent)];
  msghdr mh;
  std::memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (nfds > 0) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = ::sendmsg(sock, &mh, MSG_NOSIGNAL | flags); while (n < 0 && errno == EINTR);
  return n;
}

bool send_with_fds(int sock, const void* buf, size_t len, const int* fds, unsigned nfds) {
  return sendmsg_with_fds(sock, buf, len, fds, nfds, 0) == static_cast<ssize_t>(len);
}

}  // namespace cordon

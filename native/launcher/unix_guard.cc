// cordon – which unix path sockets a sandboxed connect() may reach: only those bound inside the sandbox.
//
// A unix path socket is found by its inode, in one table for the whole machine: a socket a host
// service bound (ssh-agent, podman, an IDE helper, a dev server in the project) is reachable from any
// network namespace through any path that leads to its file, read-only mount or not (the kernel asks
// for write permission on the inode, not a writable mount). Until Landlock can refuse it
// (LANDLOCK_ACCESS_FS_RESOLVE_UNIX, ABI 9), the connect broker (connect_broker.cc) opens the target
// itself and asks here before it connects:
//   * a socket file on a read-only mount is the host's: nothing inside the sandbox can bind there
//     (bind() creates the file, EROFS). Refused in every mode.
//   * with its own network namespace (kNetns), the sandbox knows its own sockets exactly: every
//     socket bound by a process of the sandbox lives in that namespace, and NETLINK_SOCK_DIAG
//     lists them with the inode they are bound to (UDIAG_SHOW_VFS). A target whose (device, inode)
//     is not on that list was bound somewhere else: refused. Sockets of earlier commands of a
//     session count (they share the keeper's namespace).
// The identity checked is the inode we hold open (O_PATH) and then connect through, so a path
// swapped after the check cannot lead elsewhere. The diag device is the kernel's internal dev_t
// (major << 20 | minor), not stat()'s encoding. On overlayfs whose layers are on one filesystem
// stat() reports the overlay's device, as the diag does; layers on different filesystems report the
// layer's device and the check fails closed (a sandbox's own socket there is refused, never a host's
// let through).
#include "unix_guard.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace cordon {
namespace {

constexpr uint32_t kDiagMinorBits = 20;  // include/linux/kdev_t.h MINORBITS

// 1 when a socket of this network namespace is bound to (dev, ino), 0 when none is, -errno on failure.
int bound_in_this_netns(dev_t dev, ino_t ino) {
  // One netlink socket per broker worker, kept: every dump runs to NLMSG_DONE or the socket goes.
  static thread_local int nl = -1;
  if (nl < 0) nl = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return -errno;
  struct {
    nlmsghdr h;
    unix_diag_req r;
  } req;
  std::memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.r.sdiag_family = AF_UNIX;
  req.r.udiag_states = ~0u;
  req.r.udiag_show = UDIAG_SHOW_VFS;
  int result = -EIO;
  if (::send(nl, &req, sizeof req, 0) != static_cast<ssize_t>(sizeof req)) {
    result = -errno;
    ::close(nl);
    nl = -1;
    return result;
  }
  alignas(nlmsghdr) char buf[32768];  // a worker's stack is 256 KiB
  bool done = false;
  result = 0;
  while (!done) {
    ssize_t n = ::recv(nl, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result = n < 0 ? -errno : -EIO;
      ::close(nl);
      nl = -1;
      return result;
    }
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        result = err->error < 0 ? err->error : -EIO;
        done = true;
        break;
      }
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(unix_diag_msg))) continue;
      int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(unix_diag_msg)));
      auto* a = reinterpret_cast<rtattr*>(static_cast<char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(unix_diag_msg)));
      for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type != UNIX_DIAG_VFS || RTA_PAYLOAD(a) < sizeof(unix_diag_vfs)) continue;
        unix_diag_vfs vfs;
        std::memcpy(&vfs, RTA_DATA(a), sizeof vfs);
        dev_t vdev = makedev(vfs.udiag_vfs_dev >> kDiagMinorBits, vfs.udiag_vfs_dev & ((1u << kDiagMinorBits) - 1));
        if (vfs.udiag_vfs_ino == ino && vdev == dev) result = 1;
      }
    }
  }
  return result;
}

}  // namespace

int unix_guard_check(UnixGuard mode, int target, const struct stat& st, const char** why) {
  if (mode == UnixGuard::kOff) return 0;
  struct statvfs vfs;
  if (::fstatvfs(target, &vfs) != 0) {
    *why = "unverifiable";
    return EACCES;
  }
  if (vfs.f_flag & ST_RDONLY) {
    *why = "read-only-mount";
    return EACCES;
  }
  if (mode == UnixGuard::kReadOnly) return 0;
  int found = bound_in_this_netns(st.st_dev, st.st_ino);
  if (found == 1) return 0;
  *why = found == 0 ? "bound-outside" : "unverifiable";
  return EACCES;
}

}  // namespace cordon

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
// (major << 20 | minor) of the superblock, not stat()'s encoding. Where stat() reports another
// device — btrfs (each subvolume has its own) and overlayfs with layers on different filesystems —
// (superblock, inode) is not unique (btrfs numbers inodes per subvolume: a host socket in another
// subvolume can have the inode number of one of ours), so a socket found that way counts only if
// its bound name (absolute) still leads, without symlinks, to the very file we hold. Residual, low:
// a host service listening in a nested btrfs subvolume *inside the writable workspace* could be
// matched by a sandbox socket with the same inode number whose name the command re-points by
// renaming directories (see docs/unixguard-redteam.md, finding 3).
#include "unix_guard.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kernel_abi.h"

namespace cordon {
namespace {

constexpr uint32_t kDiagMinorBits = 20;  // include/linux/kdev_t.h MINORBITS

// The sockets the profile names, as found when the sandbox was built (unix_guard_allow).
std::vector<std::pair<dev_t, ino_t>> g_allowed;

// The sockets of this network namespace bound to inode `ino`: 1 when one is bound to (dev, ino), else
// 0 with the bound names (absolute only) of those on device `alt_dev` (0: none wanted) in *names;
// -errno on failure.
int bound_in_this_netns(dev_t dev, ino_t ino, dev_t alt_dev, std::vector<std::string>* names) {
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
  req.r.udiag_show = UDIAG_SHOW_VFS | (alt_dev ? UDIAG_SHOW_NAME : 0);
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
      bool on_alt = false;
      std::string name;
      for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type == UNIX_DIAG_NAME) {
          name.assign(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a));
          continue;
        }
        if (a->rta_type != UNIX_DIAG_VFS || RTA_PAYLOAD(a) < sizeof(unix_diag_vfs)) continue;
        unix_diag_vfs vfs;
        std::memcpy(&vfs, RTA_DATA(a), sizeof vfs);
        dev_t vdev = makedev(vfs.udiag_vfs_dev >> kDiagMinorBits, vfs.udiag_vfs_dev & ((1u << kDiagMinorBits) - 1));
        if (vfs.udiag_vfs_ino != ino) continue;
        if (vdev == dev) result = 1;
        on_alt = alt_dev && vdev == alt_dev;
      }
      // The kernel keeps the bound address as given: a name may hold NULs past its end.
      if (on_alt && !name.empty() && name[0] == '/') names->push_back(name.substr(0, std::strlen(name.c_str())));
    }
  }
  return result;
}

// The device of the superblock `fd` lies on (what sock_diag reports), from its mount's line in
// mountinfo; 0 when it cannot be told.
dev_t superblock_dev(int fd) {
  struct statx stx;
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) != 0 || !(stx.stx_mask & STATX_MNT_ID)) return 0;
  int f = ::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (f < 0) return 0;
  std::string text;
  char chunk[16384];
  ssize_t n;
  while ((n = ::read(f, chunk, sizeof chunk)) > 0) text.append(chunk, static_cast<size_t>(n));
  ::close(f);
  // "<mnt id> <parent id> <major>:<minor> …"
  const std::string want = std::to_string(stx.stx_mnt_id) + " ";
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    if (text.compare(pos, want.size(), want) == 0) {
      unsigned major = 0, minor = 0;
      size_t sp = text.find(' ', pos + want.size());
      if (sp == std::string::npos || std::sscanf(text.c_str() + sp + 1, "%u:%u", &major, &minor) != 2) return 0;
      return makedev(major, minor);
    }
    pos = eol + 1;
  }
  return 0;
}

// Does `name` (a bound address, absolute) lead, without symlinks, to the file of `st`?
bool names_the_target(const std::string& name, const struct stat& st) {
  abi::OpenHow how = {O_PATH | O_CLOEXEC, 0, abi::kResolveNoSymlinks | abi::kResolveNoMagiclinks};
  int fd = abi::openat2(AT_FDCWD, name.c_str(), &how);
  if (fd < 0) return false;
  struct stat here;
  bool same = ::fstat(fd, &here) == 0 && here.st_dev == st.st_dev && here.st_ino == st.st_ino;
  ::close(fd);
  return same;
}

}  // namespace

void unix_guard_allow(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    struct stat a;
    if (::stat(path.c_str(), &a) == 0 && S_ISSOCK(a.st_mode)) g_allowed.emplace_back(a.st_dev, a.st_ino);
  }
}

int unix_guard_check(UnixGuard mode, int target, const struct stat& st, const char** why) {
  if (mode == UnixGuard::kOff) return 0;
  for (const auto& [dev, ino] : g_allowed)
    if (dev == st.st_dev && ino == st.st_ino) return 0;
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
  std::vector<std::string> names;
  int found = bound_in_this_netns(st.st_dev, st.st_ino, 0, &names);
  if (found == 1) return 0;
  // btrfs (stat() reports the subvolume's device, sock_diag the filesystem's) and overlayfs on mixed
  // layers: a socket on the superblock with this inode number may be another subvolume's, so it
  // counts only if its bound name still leads, without symlinks, to this very file.
  dev_t sb = found == 0 ? superblock_dev(target) : 0;
  if (sb != 0 && sb != st.st_dev) {
    found = bound_in_this_netns(st.st_dev, st.st_ino, sb, &names);
    for (const auto& name : names)
      if (found == 0 && names_the_target(name, st)) return 0;
  }
  *why = found == 0 ? "bound-outside" : "unverifiable";
  return EACCES;
}

}  // namespace cordon

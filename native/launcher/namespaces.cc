// cordon – entering the sandbox's namespaces and mapping the caller's uid/gid into them.
#include "namespaces.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "report.h"

namespace cordon {
namespace {

bool write_proc_file(const char* path, const char* content) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail("uid-map", "open", path);
  size_t len = std::strlen(content);
  ssize_t n = ::write(fd, content, len);
  int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(len)) {
    errno = n < 0 ? saved : EIO;
    return fail("uid-map", "write", path);
  }
  return true;
}

}  // namespace

bool enter_namespaces(uint64_t flags) {
  constexpr uint64_t kRequired = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if ((flags & kRequired) != kRequired) {
    errno = EINVAL;
    return fail("namespaces", "plan", "user, mount, pid, ipc and uts namespaces are mandatory");
  }
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  // One unshare creates the user namespace first and the others owned by it. CLONE_NEWPID takes
  // effect for our next child (init), not for us.
  if (::unshare(static_cast<int>(flags)) != 0) return fail("namespaces", "unshare", "user+mount+pid+ipc+uts");
  // setgroups must be denied before an unprivileged process may write gid_map.
  if (!write_proc_file("/proc/self/setgroups", "deny")) return false;
  char map[64];
  std::snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
  if (!write_proc_file("/proc/self/uid_map", map)) return false;
  std::snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
  return write_proc_file("/proc/self/gid_map", map);
}

const char* const kJoinedNamespaces[6] = {"user", "mnt", "ipc", "uts", "cgroup", "net"};

bool join_namespaces(int pid, const std::vector<uint64_t>& inodes, uint64_t flags) {
  // The user namespace first: joining it grants the capabilities the other setns calls need.
  const int kTypes[6] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWNET};
  const bool kWanted[6] = {true, true, true, true, (flags & CLONE_NEWCGROUP) != 0, (flags & CLONE_NEWNET) != 0};
  if (inodes.size() != 6) {
    errno = EINVAL;
    return fail("join", "plan", "namespace inodes");
  }
  int fds[6];
  for (int i = 0; i < 6; ++i) fds[i] = -1;
  auto close_all = [&fds] {
    for (int& fd : fds)
      if (fd >= 0) ::close(fd), fd = -1;
  };
  for (int i = 0; i < 6; ++i) {
    if (!kWanted[i]) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kJoinedNamespaces[i]);
    fds[i] = ::open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fds[i] < 0 || ::fstat(fds[i], &st) != 0) {
      close_all();
      return fail("join", "open", path);
    }
    if (st.st_ino != inodes[static_cast<size_t>(i)]) {  // not the keeper's: its pid was reused
      close_all();
      errno = ESRCH;
      return fail("join", "verify", path);
    }
  }
  bool ok = true;
  for (int i = 0; i < 6 && ok; ++i) {
    if (fds[i] >= 0 && ::setns(fds[i], kTypes[i]) != 0) ok = fail("join", "setns", kJoinedNamespaces[i]);
  }
  close_all();
  if (!ok) return false;
  // A private copy of the session's mounts (same filesystems: /tmp is shared) and a pid
  // namespace of its own, so this command's tree dies with its init.
  return ::unshare(CLONE_NEWNS | CLONE_NEWPID) == 0 || fail("join", "unshare", "mount+pid");
}

void idle_teardown() {
  struct sched_param param;
  std::memset(&param, 0, sizeof param);
  ::sched_setscheduler(0, SCHED_IDLE, &param);
}

}  // namespace cordon

// cordon – entering the sandbox's namespaces and mapping the caller's uid/gid into them.
#include "namespaces.h"

#include <fcntl.h>
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
  if (::unshare(static_cast<int>(flags)) != 0) return fail("namespaces", "unshare", "user+mount+pid+ipc+uts(+net)");
  // setgroups must be denied before an unprivileged process may write gid_map.
  if (!write_proc_file("/proc/self/setgroups", "deny")) return false;
  char map[64];
  std::snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
  if (!write_proc_file("/proc/self/uid_map", map)) return false;
  std::snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
  return write_proc_file("/proc/self/gid_map", map);
}

bool join_namespaces(int pid, uint64_t flags) {
  // The user namespace first: joining it grants the capabilities the other setns calls need.
  struct { const char* name; int type; bool wanted; } kNs[] = {
      {"user", CLONE_NEWUSER, true},  {"mnt", CLONE_NEWNS, true},           {"ipc", CLONE_NEWIPC, true},
      {"uts", CLONE_NEWUTS, true},    {"cgroup", CLONE_NEWCGROUP, (flags & CLONE_NEWCGROUP) != 0},
      {"net", CLONE_NEWNET, (flags & CLONE_NEWNET) != 0},
  };
  int fds[6];
  for (int i = 0; i < 6; ++i) {
    fds[i] = -1;
    if (!kNs[i].wanted) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kNs[i].name);
    fds[i] = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      for (int j = 0; j < i; ++j) if (fds[j] >= 0) ::close(fds[j]);
      return fail("join", "open", path);
    }
  }
  bool ok = true;
  for (int i = 0; i < 6 && ok; ++i) {
    if (fds[i] >= 0 && ::setns(fds[i], kNs[i].type) != 0) ok = fail("join", "setns", kNs[i].name);
  }
  for (int fd : fds) if (fd >= 0) ::close(fd);
  if (!ok) return false;
  // A private copy of the session's mounts (same filesystems: /tmp is shared) and a pid
  // namespace of its own, so this command's tree dies with its init.
  return ::unshare(CLONE_NEWNS | CLONE_NEWPID) == 0 || fail("join", "unshare", "mount+pid");
}

}  // namespace cordon

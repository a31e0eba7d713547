// cordon – `cordon-launcher --probe`: which kernel layers this machine can enforce, as one JSON line.
//
// Each layer is tried for real in a throwaway child (a sysctl can say "allowed" while an LSM such as
// AppArmor's userns restriction still refuses), so the answer is what a launch would meet.
#include "probe.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "landlock.h"

namespace cordon {
namespace {

// Runs `fn` in a forked child; returns 0 on success or the errno the child exited with.
template <typename Fn>
int in_child(Fn fn) {
  pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) ::_exit(fn());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

int try_namespaces(int flags) {
  return in_child([flags] { return ::unshare(flags) == 0 ? 0 : errno; });
}

int try_seccomp() {
  return in_child([] {
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {1, &allow};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : errno;
  });
}

constexpr const char kPidMax[] = "/proc/sys/kernel/pid_max";

// Reads a small decimal sysctl; -1 when it cannot be read.
long read_sysctl(const char* path) {
  char value[32] = "";
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = ::read(fd, value, sizeof value - 1);
  ::close(fd);
  return n > 0 ? std::strtol(value, nullptr, 10) : -1;
}

int write_file(const char* path, const char* text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, text, std::strlen(text));
  int err = n < 0 ? errno : 0;
  ::close(fd);
  return err;
}

// Is pid_max kept per pid namespace (Linux 6.14+), so pid 1 of a sandbox can cap its own? Being
// *allowed* to write it proves nothing: before 6.14 it is one global value, and a root caller mapped
// onto host uid 0 may write it without any capability — a launch would then lower the host's limit.
// So: the kernel must be 6.14 or later, and pid 1 of a fresh user+pid namespace (the caller's ids
// mapped onto themselves, exactly as a launch) changes its value by one while this process, in the
// host's namespace, checks that the host's value did not move. If it did, it is put back at once
// (the change was ±1, harmless) and the answer is EXDEV: global, never to be written.
int try_pid_max() {
  struct utsname u;
  int major = 0, minor = 0;
  if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2 || major < 6 || (major == 6 && minor < 14)) return ENOSYS;
  const long host_before = read_sysctl(kPidMax);
  if (host_before < 0) return ENOENT;
  int result = in_child([] {
    uid_t uid = ::getuid();
    gid_t gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) return errno;
    char map[64];
    if (int e = write_file("/proc/self/setgroups", "deny")) return e;
    std::snprintf(map, sizeof map, "%u %u 1", uid, uid);
    if (int e = write_file("/proc/self/uid_map", map)) return e;
    std::snprintf(map, sizeof map, "%u %u 1", gid, gid);
    if (int e = write_file("/proc/self/gid_map", map)) return e;
    return in_child([] {
      long inside = read_sysctl(kPidMax);
      if (inside < 0) return EIO;
      char value[32];
      std::snprintf(value, sizeof value, "%ld", inside > 400 ? inside - 1 : inside + 1);
      return write_file(kPidMax, value);
    });
  });
  const long host_after = read_sysctl(kPidMax);
  if (host_after != host_before) {
    char value[32];
    std::snprintf(value, sizeof value, "%ld", host_before);
    write_file(kPidMax, value);
    return EXDEV;
  }
  return result;
}

}  // namespace

int run_probe() {
  const int userns = try_namespaces(CLONE_NEWUSER);
  const int all_ns = try_namespaces(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                                    CLONE_NEWUTS);
  const int seccomp = try_seccomp();
  const int pid_max = try_pid_max();
  errno = 0;
  const int landlock = landlock_abi_version();
  const int landlock_errno = landlock > 0 ? 0 : errno;
  struct utsname u;
  ::uname(&u);
  std::printf(
      "{\"userns\":%d,\"namespaces\":%d,\"seccomp\":%d,\"landlockAbi\":%d,\"landlockErrno\":%d,"
      "\"pidMax\":%d,\"kernel\":\"%s\",\"machine\":\"%s\",\"uid\":%u}\n",
      userns, all_ns, seccomp, landlock, landlock_errno, pid_max, u.release, u.machine, ::getuid());
  return 0;
}

}  // namespace cordon

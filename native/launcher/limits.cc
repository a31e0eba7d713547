// cordon – resource limits: cgroups around init, rlimits on the command (records: see limits.h).
//
// Lifetime of a cgroup: the launcher creates parent/cordon-<pid>-<caller pid> before unshare (with the caller's
// credentials), moves init into it before init forks the command, and removes it after init has
// exited — by then the pid namespace is gone, so the group is empty. If the launcher itself is
// SIGKILLed, the Node side removes the directory after the launcher's exit, and every launcher
// sweeps siblings whose launcher and caller no longer exist (the caller was SIGKILLed too).
#include "limits.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "report.h"

namespace cordon {
namespace {

constexpr uint32_t kTagCgroup = 40;
constexpr uint32_t kTagCgset = 41;
constexpr uint32_t kTagRlimit = 42;
constexpr uint32_t kTagCounter = 43;
constexpr uint32_t kTagPidMax = 44;
constexpr const char kPrefix[] = "cordon-";

bool bad(const char* what) {
  errno = EINVAL;
  return fail("limits", "plan", what);
}

bool parse_u64(const std::string& s, unsigned long long* out) {
  if (s == "inf") {
    *out = RLIM_INFINITY;
    return true;
  }
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  *out = std::strtoull(s.c_str(), nullptr, 10);
  return errno == 0;
}

// A file name inside a cgroup directory: no separators, no dot-dot.
bool plain_name(const std::string& s) { return !s.empty() && s.find('/') == std::string::npos && s != "." && s != ".."; }

bool write_all(int fd, const std::string& text) {
  ssize_t n;
  do n = ::write(fd, text.data(), text.size()); while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(text.size())) return true;
  if (n >= 0) errno = EIO;
  return false;
}

void sleep_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool gone(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

// Removes parent/cordon-<launcher>-<caller> directories whose launcher and caller are both gone (a
// living caller removes its launchers' groups itself, after reading their counters). A group that
// still holds processes refuses rmdir (EBUSY) and is left for a later sweep.
void sweep_stale(const std::string& parent) {
  DIR* d = ::opendir(parent.c_str());
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, kPrefix, sizeof kPrefix - 1) != 0) continue;
    const char* digits = e->d_name + sizeof kPrefix - 1;
    char* end = nullptr;
    long launcher = std::strtol(digits, &end, 10);
    if (end == digits || *end != '-') continue;
    const char* rest = end + 1;
    long caller = std::strtol(rest, &end, 10);
    if (end == rest || *end != '\0' || !gone(launcher) || !gone(caller)) continue;
    ::rmdir((parent + "/" + e->d_name).c_str());
  }
  ::closedir(d);
}

pid_t g_caller = 0;  // set_caller_pid(): the Node process, when a launch server forked us

}  // namespace

void set_caller_pid(pid_t pid) { g_caller = pid; }

bool has_cgroups(const Plan& plan) {
  for (const auto& record : plan.limits)
    if (record.first == kTagCgroup) return true;
  return false;
}

bool Cgroups::create(const Plan& plan) {
  char self[48];
  // Named after us and the Node process that asked for us (limits.ts cgroupLeaf), so a sweep can
  // tell a dead pair's leftovers from a live one's.
  pid_t caller = g_caller ? g_caller : ::getppid();
  std::snprintf(self, sizeof self, "%s%d-%d", kPrefix, static_cast<int>(::getpid()), static_cast<int>(caller));
  auto find = [this](const std::string& name) -> Group* {
    for (auto& g : groups_)
      if (g.name == name) return &g;
    return nullptr;
  };
  for (const auto& [tag, payload] : plan.limits) {
    auto f = split_nul(payload);
    if (tag == kTagCgroup) {
      if (f.size() != 2 || f[0].empty() || find(f[0]) || f[1].empty() || f[1][0] != '/' || f[1].find("/..") != std::string::npos)
        return remove(), bad("bad CGROUP record");
      sweep_stale(f[1]);
      groups_.push_back(Group{f[0], f[1] + "/" + self, self, -1, -1, -1});
      Group& g = groups_.back();
      g.parent = ::open(f[1].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (g.parent < 0) return fail("limits", "open", f[1].c_str()), remove(), false;
      // A directory with our pid can only be left over from a dead launcher that had this pid.
      if (::mkdirat(g.parent, self, 0755) != 0 &&
          (errno != EEXIST || ::unlinkat(g.parent, self, AT_REMOVEDIR) != 0 || ::mkdirat(g.parent, self, 0755) != 0)) {
        fail("limits", "mkdir", g.dir.c_str());
        ::close(g.parent);
        groups_.pop_back();
        return remove(), false;
      }
      g.self = ::openat(g.parent, self, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      g.procs = g.self < 0 ? -1 : ::openat(g.self, "cgroup.procs", O_WRONLY | O_CLOEXEC);
      if (g.procs < 0) return fail("limits", "open", (g.dir + "/cgroup.procs").c_str()), remove(), false;
    } else if (tag == kTagCgset) {
      Group* g = f.size() == 3 ? find(f[0]) : nullptr;
      if (!g || !plain_name(f[1])) return remove(), bad("bad CGSET record");
      std::string path = g->dir + "/" + f[1];
      int fd = ::openat(g->self, f[1].c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || !write_all(fd, f[2])) {
        fail("limits", fd < 0 ? "open" : "write", (path + " = " + f[2]).c_str());
        if (fd >= 0) ::close(fd);
        return remove(), false;
      }
      ::close(fd);
    } else if (tag == kTagRlimit || tag == kTagCounter || tag == kTagPidMax) {
      continue;  // used by apply_rlimits / report / apply_pid_max
    } else {
      return remove(), bad("unknown limits record");
    }
  }
  return true;
}

bool Cgroups::join(pid_t pid) {
  char text[24];
  std::snprintf(text, sizeof text, "%d", static_cast<int>(pid));
  for (auto& g : groups_) {
    if (!write_all(g.procs, text)) return fail("limits", "write", (g.dir + "/cgroup.procs").c_str());
    ::close(g.procs);
    g.procs = -1;
  }
  return true;
}

void Cgroups::report(const Plan& plan) const {
  for (const auto& [tag, payload] : plan.limits) {
    if (tag != kTagCounter) continue;
    auto f = split_nul(payload);
    if (f.size() != 4 || !plain_name(f[1])) continue;
    for (const auto& g : groups_) {
      if (g.name != f[0]) continue;
      int fd = ::openat(g.self, f[1].c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof buf - 1);
      ::close(fd);
      if (n <= 0) continue;
      buf[n] = '\0';
      // Lines "key value"; the key must start a line.
      std::string text(buf);
      std::string needle = f[2] + " ";
      size_t at = text.rfind(needle, 0) == 0 ? 0 : text.find("\n" + needle);
      if (at == std::string::npos) continue;
      if (at != 0) ++at;
      unsigned long long count = std::strtoull(text.c_str() + at + needle.size(), nullptr, 10);
      if (count == 0) continue;
      char line[160];
      std::snprintf(line, sizeof line, "LIMIT %.64s %llu\n", f[3].c_str(), count);
      report_line(line);
    }
  }
}

void Cgroups::close_fds() {
  for (auto& g : groups_)
    for (int fd : {g.procs, g.self, g.parent})
      if (fd >= 0) ::close(fd);
  groups_.clear();
}

void Cgroups::remove() {
  for (auto& g : groups_) {
    if (g.procs >= 0) ::close(g.procs);
    if (g.self >= 0) ::close(g.self);
    // Tasks of a dead pid namespace can take a moment to leave the group.
    for (int i = 0; i < 250 && ::unlinkat(g.parent, g.leaf.c_str(), AT_REMOVEDIR) != 0 && errno == EBUSY; ++i) sleep_ms(2);
    ::close(g.parent);
  }
  groups_.clear();
}

bool apply_pid_max(const Plan& plan) {
  for (const auto& [tag, payload] : plan.limits) {
    if (tag != kTagPidMax) continue;
    unsigned long long value = 0;
    if (!parse_u64(payload, &value) || value < 301 || value > 4194304) return bad("bad PID_MAX record");
    // Linux 6.14+ keeps pid_max per pid namespace: this write, from inside ours, bounds the pids it
    // (and every namespace below it) can hold; the host's value is untouched. The host's procfs
    // is still mounted here (before build_root), and it resolves the sysctl for the writer's pid
    // namespace. The planner only asks when the probe saw such a write stay in its namespace (probe.cc).
    int fd = ::open("/proc/sys/kernel/pid_max", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || !write_all(fd, payload)) {
      fail("limits", fd < 0 ? "open" : "write", ("/proc/sys/kernel/pid_max = " + payload).c_str());
      if (fd >= 0) ::close(fd);
      return false;
    }
    ::close(fd);
  }
  return true;
}

bool parse_rlimits(const Plan& plan, RlimitSetting* out, int* count) {
  *count = 0;
  for (const auto& [tag, payload] : plan.limits) {
    if (tag != kTagRlimit) continue;
    auto f = split_nul(payload);
    unsigned long long res = 0, soft = 0, hard = 0;
    if (f.size() != 3 || !parse_u64(f[0], &res) || res >= RLIM_NLIMITS || !parse_u64(f[1], &soft) || !parse_u64(f[2], &hard) ||
        soft > hard || *count >= kMaxRlimits)
      return bad("bad RLIMIT record");
    out[(*count)++] = RlimitSetting{static_cast<int>(res), soft, hard};
  }
  return true;
}

bool apply_rlimits(const RlimitSetting* settings, int count) {
  for (int i = 0; i < count; ++i) {
    const RlimitSetting& s = settings[i];
    const auto res = static_cast<__rlimit_resource>(s.resource);
    // Only ever lowered: a hard limit above the caller's own stays at the caller's.
    struct rlimit rl;
    const char* call = "getrlimit";
    if (::getrlimit(res, &rl) == 0) {
      if (s.hard < rl.rlim_max) rl.rlim_max = static_cast<rlim_t>(s.hard);
      rl.rlim_cur = s.soft < rl.rlim_max ? static_cast<rlim_t>(s.soft) : rl.rlim_max;
      if (::setrlimit(res, &rl) == 0) continue;
      call = "setrlimit";
    }
    const int err = errno;
    char what[64];
    std::snprintf(what, sizeof what, "resource %d = %llu/%llu", s.resource, s.soft, s.hard);
    errno = err;
    return fail("limits", call, what);
  }
  return true;
}

}  // namespace cordon

// cordon – pid 1 of the sandbox: finishes setup, starts the command, reaps, forwards signals, reports.
//
// Order (design.md "layers"): mounts + pivot_root (meanwhile a helper thread makes the network
// namespace: loopback, allowlist capture) → join it → hostname → capabilities dropped →
// no_new_privs → Landlock → new session → seccomp (last; the command inherits it through fork) →
// clone + exec the command. Init stays inside every layer itself, so nothing it could be tricked into
// doing escapes them. When the command exits, init kills whatever it left behind (kill(-1) from pid 1
// reaches every process in the namespace) and exits; the kernel then tears the namespace down.
#include "init.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "connect_broker.h"
#include "kernel_abi.h"
#include "landlock.h"
#include "listeners.h"
#include "limits.h"
#include "mounts.h"
#include "namespaces.h"
#include "netns_builder.h"
#include "network.h"
#include "privileges.h"
#include "report.h"
#include "seccomp.h"

extern char** environ;

namespace cordon {

const int kForwardedSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
const int kForwardedSignalCount = sizeof kForwardedSignals / sizeof kForwardedSignals[0];

namespace {

constexpr int kSetupFailedExit = 125;

[[noreturn]] void exit_setup_failed() { ::_exit(kSetupFailedExit); }

void noop_handler(int) {}

// Pid 1 ignores signals for which it has no handler, even from its parent namespace; a no-op
// handler makes them deliverable, and blocking them routes them into the signalfd.
int setup_signals(sigset_t* old_mask) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = noop_handler;
  for (int i = 0; i < kForwardedSignalCount; ++i) {
    sigaddset(&mask, kForwardedSignals[i]);
    ::sigaction(kForwardedSignals[i], &sa, nullptr);
  }
  if (::sigprocmask(SIG_BLOCK, &mask, old_mask) != 0) return -1;
  return ::signalfd(-1, &mask, SFD_CLOEXEC);
}

// What the command's child needs, prepared by init before the clone: the child shares init's
// memory until it execs (CLONE_VM | CLONE_VFORK), so it must allocate nothing and change nothing
// init relies on; it only makes system calls on its own copies of the fd table and signal state.
struct ExecArgs {
  const Plan* plan;
  sigset_t old_mask;
  char** argv;
  char** envp;
  const RlimitSetting* rlimits;
  int rlimit_count;
};

[[noreturn]] void exec_command(const ExecArgs& e) {
  // Back to a clean signal state for the command (signals stay blocked until the handlers are reset).
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int i = 0; i < kForwardedSignalCount; ++i) ::sigaction(kForwardedSignals[i], &sa, nullptr);
  ::sigprocmask(SIG_SETMASK, &e.old_mask, nullptr);
  ::setpgid(0, 0);
  // Every inherited fd but stdio and the (close-on-exec) status fd goes now.
  abi::close_range(kStatusFd + 1, ~0u, 0);
  if (::chdir(e.plan->cwd.c_str()) != 0) {
    report_setup_failure("cwd", "chdir", errno, e.plan->cwd.c_str());
    ::_exit(kSetupFailedExit);
  }
  if (!apply_rlimits(e.rlimits, e.rlimit_count)) ::_exit(kSetupFailedExit);
  environ = e.envp;  // execvp searches the command's PATH, not ours (init restores its own)
  TRACE_STEP("exec");
  ::execvp(e.argv[0], e.argv);
  int err = errno;
  char line[4200];
  std::snprintf(line, sizeof line, "EXECFAIL %d %.4000s\n", err, e.argv[0]);
  report_line(line);
  ::_exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

int exec_child(void* args) { exec_command(*static_cast<const ExecArgs*>(args)); }

// Starts the command: a clone sharing init's memory, init suspended until it has exec'd (as
// posix_spawn does). A fork would copy init's page tables and then fault on every page either side
// touches before the exec: ~0.1 ms of the launch. The child runs on a stack of its own, sized for
// execvp's copy of argv when it falls back to running a script with /bin/sh.
pid_t spawn_command(const Plan& plan, const sigset_t& old_mask) {
  RlimitSetting rlimits[kMaxRlimits];
  int rlimit_count = 0;
  if (!parse_rlimits(plan, rlimits, &rlimit_count)) return -1;
  std::vector<char*> argv;
  argv.reserve(plan.argv.size() + 1);
  for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(plan.env.size() + 1);
  for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ExecArgs args = {&plan, old_mask, argv.data(), envp.data(), rlimits, rlimit_count};
  const size_t stack_size = (64u << 10) + (plan.argv.size() + 2) * sizeof(char*);
  void* stack = ::mmap(nullptr, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return fail("spawn", "mmap", "command stack"), -1;
  char** const own_environ = environ;
  pid_t child = ::clone(exec_child, static_cast<char*>(stack) + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  const int err = errno;
  environ = own_environ;
  ::munmap(stack, stack_size);
  errno = err;
  if (child < 0) fail("spawn", "clone");
  return child;
}

int errno_for(const Plan& plan, int nr) {
  for (const auto& [n, e] : plan.notify_errno)
    if (n == nr) return e;
  return EPERM;
}

// Answers one notification from the seccomp listener: the syscall is denied, and reported.
void answer_notification(const Plan& plan, int listener) {
  abi::SeccompNotif req;
  std::memset(&req, 0, sizeof req);
  if (::ioctl(listener, abi::kSeccompIoctlNotifRecv, &req) != 0) return;  // ENOENT: caller died
  char line[128];
  std::snprintf(line, sizeof line, "VIOLATION syscall %d %u %u\n", req.data.nr, req.data.arch, req.pid);
  report_line(line);
  abi::SeccompNotifResp resp = {req.id, 0, -errno_for(plan, req.data.nr), 0};
  ::ioctl(listener, abi::kSeccompIoctlNotifSend, &resp);
}

[[noreturn]] void finish(int status, const struct rusage& usage) {
  // Everything the command left behind in this pid namespace dies, and is reaped (orphans are
  // re-parented to us), before we report: when the supervisor reads EXIT, no process of the
  // sandbox is running any more. Namespace teardown (unmounting the tree) happens after, off the
  // supervisor's critical path.
  TRACE_STEP("command exited");
  // Every process of the namespace descends from us, and orphans become our children: with no
  // child left (ECHILD) there is nobody to kill. kill(-1) walks every process of the host, so it
  // is only sent when a child remains (a zombie is reaped here first).
  pid_t left;
  while ((left = ::waitpid(-1, nullptr, WNOHANG)) > 0 || (left < 0 && errno == EINTR)) {
  }
  if (left == 0) {
    ::kill(-1, SIGKILL);
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
  }
  TRACE_STEP("all reaped");
  int code, sig = 0;
  if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    code = 128 + sig;
  } else {
    code = WEXITSTATUS(status);
  }
  // One write for both records, so the supervisor wakes once. CPUTIME is the command's own CPU
  // time: it tells a RLIMIT_CPU kill (SIGKILL at the hard limit) from others.
  char line[128];
  std::snprintf(line, sizeof line, "CPUTIME %lld\nEXIT %d %d\n",
                static_cast<long long>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000LL + usage.ru_utime.tv_usec +
                    usage.ru_stime.tv_usec,
                WIFSIGNALED(status) ? -1 : code, sig);
  report_line(line);
  idle_teardown();
  ::_exit(code);
}

// A session keeper runs nothing: it holds the namespaces that session commands join, until the
// launcher (and so the supervisor) lets go.
[[noreturn]] void hold_session(int life_fd) {
  // READY carries our namespaces' inode numbers: a joiner compares them with what it opened by
  // pid, so a recycled pid can never lead it into some other process's namespaces.
  std::string ready = "READY";
  for (const char* ns : kJoinedNamespaces) {
    struct stat st;
    std::string path = std::string("/proc/self/ns/") + ns;
    ready += ' ';
    ready += std::to_string(::stat(path.c_str(), &st) == 0 ? static_cast<unsigned long long>(st.st_ino) : 0ULL);
  }
  ready += '\n';
  report_line(ready.c_str());
  ::close(0);
  ::close(1);
  ::close(2);
  // Released when the supervisor closes our plan socket (EOF), or when the launcher dies.
  struct pollfd fds[2] = {{kStatusFd, POLLIN, 0}, {life_fd, POLLIN, 0}};
  char byte;
  for (;;) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[1].revents) break;
    if (fds[0].revents && ::read(kStatusFd, &byte, 1) <= 0) break;
  }
  ::kill(-1, SIGKILL);
  ::_exit(0);
}

// Closes every fd above the status fd but the life pipe, the listeners held for the supervisor
// (listeners.h) and, when tracing, the trace file.
void close_fds_but(int life_fd) {
  int keep[kMaxListeners + 3];
  int n = held_fds(keep, kMaxListeners + 1);
  keep[n++] = life_fd;
#ifdef CORDON_TRACE
  keep[n++] = kTraceFd;
#endif
  for (int i = 1; i < n; ++i)  // ascending (a handful of fds)
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
  unsigned from = kStatusFd + 1;
  for (int i = 0; i < n; ++i) {
    const unsigned fd = static_cast<unsigned>(keep[i]);
    if (fd > from) abi::close_range(from, fd - 1, 0);
    if (fd + 1 > from) from = fd + 1;
  }
  abi::close_range(from, ~0u, 0);
}

}  // namespace

void run_init(Plan& plan, int life_fd) {
  // The network namespace's builder, and the host tree's detacher (netns_builder.h): the command
  // starts only after finish().
  NetnsBuilder netns;
  bool detach_pending = false;
  // If the launcher dies, so do we (and with pid 1 gone, the whole namespace). Close the race
  // where it died before prctl: its end of the life pipe would already have hung up.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    fail("init", "prctl", "PR_SET_PDEATHSIG");
    exit_setup_failed();
  }
  // The network namespace is made (lo up, allowlist listeners and capture) by a helper thread
  // while this thread builds the mount tree (netns_builder.h); host mode has none. It starts now,
  // while the launcher moves us into our cgroups (the move takes every thread along).
  const bool own_netns = !plan.join_pid && (plan.namespaces & CLONE_NEWNET) != 0;
  if (own_netns && !netns.start(plan)) exit_setup_failed();
  if (has_cgroups(plan)) {
    // The launcher sends one byte once we are in our cgroups (limits.h); EOF means it died.
    char go = 0;
    ssize_t got;
    do got = ::read(life_fd, &go, 1); while (got < 0 && errno == EINTR);
    if (got != 1) ::_exit(kSetupFailedExit);
  } else {
    // Nothing to wait for; a launcher that died before our prctl has hung up already.
    struct pollfd life = {life_fd, POLLIN, 0};
    if (::poll(&life, 1, 0) != 0) ::_exit(kSetupFailedExit);
  }

  TRACE_STEP("init start");
  if (plan.join_pid) {
    // A session command: the session's root, network and hostname exist; /proc and the
    // protections are (re)made in this command's own mount namespace.
    if (!apply_protections(plan.mounts) || !join_network(plan)) exit_setup_failed();
  } else {
    // Before build_root: the write goes through the host's procfs, still mounted here. A session
    // command's namespace is nested in its keeper's, so the keeper's cap bounds it too.
    if (!apply_pid_max(plan)) exit_setup_failed();
    // With a helper thread, it detaches the host tree while this thread goes on (netns_builder.h).
    if (!build_root(plan.mounts, plan.keeper, own_netns)) exit_setup_failed();
    detach_pending = own_netns;
    TRACE_STEP("root built");
    if (own_netns) netns.detach_after_pivot();
    if (own_netns && !netns.enter()) exit_setup_failed();
    TRACE_STEP("network namespace entered");
    if (!own_netns && !setup_network(plan)) exit_setup_failed();
    if (!set_hostname(plan.hostname)) exit_setup_failed();
  }
  // Init keeps only stdio, the status fd, the life pipe and the listeners it holds for the
  // supervisor: the command could reopen anything else it holds through /proc/1/fd (pipes and
  // files the caller leaked to the launcher, say).
  close_fds_but(life_fd);
  if (!drop_capabilities() || !set_no_new_privs()) exit_setup_failed();
  TRACE_STEP("net, hostname, caps");
  if (!apply_landlock(plan)) exit_setup_failed();
  TRACE_STEP("landlock");
  // A new session has no controlling terminal: TIOCSTI/TIOCLINUX injection has no target.
  if (::setsid() < 0) {
    fail("session", "setsid");
    exit_setup_failed();
  }
  sigset_t old_mask;
  int sigfd = setup_signals(&old_mask);
  if (sigfd < 0) {
    fail("init", "signalfd");
    exit_setup_failed();
  }
  // The connect broker (allowlist networking, and the unix-socket guard in every mode): its workers
  // are made now, with every layer but seccomp (they perform connect() for the command;
  // connect_broker.cc), and take the listener below.
  if (!plan.keeper && (network_brokered() || plan.unix_guard != UnixGuard::kOff) && !broker_start(plan)) exit_setup_failed();
  int listener = -1;
  TRACE_STEP("connect broker started");
  if (!install_seccomp(plan.seccomp, &listener)) exit_setup_failed();
  TRACE_STEP("seccomp");
  // The host tree is detached (and "/" read-only) before anything of the sandbox's runs.
  if (detach_pending && !netns.finish()) exit_setup_failed();
  TRACE_STEP("detacher joined");
  if (plan.keeper) hold_session(life_fd);
  if (broker_running()) broker_run(listener);
  // From here on the command runs beside us with our uid: being non-dumpable keeps it out of
  // /proc/1/fd (our pipes, our status socket), /proc/1/mem and ptrace even where seccomp would
  // not. (A session keeper stays joinable by pid; no command can see its pid namespace.)
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    fail("init", "prctl", "PR_SET_DUMPABLE");
    exit_setup_failed();
  }
  // The sandbox is complete. The command arrives now (at once for a plain run, later for a
  // sandbox built ahead of time); an EOF means the supervisor discarded it unused.
  if (!read_command(kStatusFd, &plan, life_fd)) ::_exit(kSetupFailedExit);
  TRACE_STEP("command received");

  pid_t child = spawn_command(plan, old_mask);
  if (child < 0) exit_setup_failed();

  // Init holds no stdio: the supervisor sees EOF as soon as the command's tree lets go.
  ::close(0);
  ::close(1);
  ::close(2);
  TRACE_STEP("command forked");
  char started[48];
  std::snprintf(started, sizeof started, "STARTED %d\n", child);
  report_line(started);

  // With the broker its workers take every notification, and the supervisor's replies arrive on the
  // status fd.
  const bool brokered = broker_running();
  // After these four: the listeners held for the supervisor and its channel, until the first
  // datagram or connection waits in a listener, or the supervisor closed the channel (listeners.h).
  struct pollfd fds[5 + kMaxListeners] = {{sigfd, POLLIN, 0}, {brokered ? -1 : listener, POLLIN, 0}, {life_fd, POLLIN, 0}, {brokered ? kStatusFd : -1, POLLIN, 0}};
  int held[kMaxListeners + 1];
  const int held_count = held_fds(held, kMaxListeners + 1);
  for (int i = 0; i < held_count; ++i) fds[4 + i] = {held[i], POLLIN, 0};
  nfds_t nfds = 4 + static_cast<nfds_t>(held_count);
  for (;;) {
    int n = ::poll(fds, nfds, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::kill(-1, SIGKILL);
      ::_exit(kSetupFailedExit);
    }
    for (nfds_t i = 4; i < nfds; ++i) {
      if (!fds[i].revents) continue;
      held_fd_ready(fds[i].fd);  // handed over or dropped: init holds none of them any more
      nfds = 4;
    }
    if (fds[2].revents) {  // the launcher is gone: nothing may outlive it
      ::kill(-1, SIGKILL);
      ::_exit(137);
    }
    if (fds[1].revents & POLLIN) answer_notification(plan, listener);
    if (fds[3].revents && !broker_read_replies()) {
      broker_supervisor_gone();
      fds[3].fd = -1;
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sigfd, &si, sizeof si) != sizeof si) continue;
      if (si.ssi_signo != SIGCHLD) {
        ::kill(child, static_cast<int>(si.ssi_signo));
        continue;
      }
      int status;
      pid_t pid;
      struct rusage usage;
      while ((pid = ::wait4(-1, &status, WNOHANG, &usage)) > 0) {
        if (pid == child) finish(status, usage);
      }
    }
  }
}

}  // namespace cordon

// cordon – the launcher executable: reads the plan on fd 3, enters the namespaces, forks init.
//
// Node spawns us with stdio wired to the command and fd 3 a socket that carries the plan in and
// status records out (report.h). We are single-threaded on purpose: unshare(CLONE_NEWUSER) and
// per-thread seccomp/Landlock state are only sound in a process that owns its only thread.
// Process tree:  node → launcher (this; waits, forwards signals) → init (pid 1) → command.
// With the launch server (server.h): node → server → launcher (a fork per command) → init → command.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "init.h"
#include "limits.h"
#include "namespaces.h"
#include "plan.h"
#include "probe.h"
#include "report.h"
#include "server.h"

namespace {

volatile pid_t g_init_pid = 0;

void forward_signal(int sig) {
  if (g_init_pid > 0) ::kill(g_init_pid, sig);
}

int launch() {
  // If Node dies, we die; init follows us by its own PDEATHSIG, and the pid namespace with it.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return cordon::fail("launcher", "prctl", "PDEATHSIG"), 125;
  if (::fcntl(cordon::kStatusFd, F_SETFD, FD_CLOEXEC) != 0) return 125;  // no status fd: nobody to tell
  cordon::Plan plan;
  TRACE_STEP("start");
  if (!cordon::read_plan(cordon::kStatusFd, &plan)) return 125;
  TRACE_STEP("plan read");
  // Cgroups are made with the caller's credentials, before unshare drops them (limits.h).
  cordon::Cgroups cgroups;
  if (!cgroups.create(plan)) return 125;
  // Without the network namespace: init makes that one in a helper thread while it builds the
  // mount tree (netns_builder.h).
  const bool entered = plan.join_pid ? cordon::join_namespaces(plan.join_pid, plan.join_inodes, plan.namespaces)
                                     : cordon::enter_namespaces(plan.namespaces & ~static_cast<uint64_t>(CLONE_NEWNET));
  if (!entered) return cgroups.remove(), 125;
  TRACE_STEP("namespaces entered");

  int life[2];
  if (::pipe2(life, O_CLOEXEC) != 0) return cordon::fail("launcher", "pipe2", "life pipe"), 125;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  for (int i = 0; i < cordon::kForwardedSignalCount; ++i) ::sigaction(cordon::kForwardedSignals[i], &sa, nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return cordon::fail("launcher", "fork", "init"), cgroups.remove(), 125;
  if (pid == 0) {
    ::close(life[1]);
    cgroups.close_fds();
    cordon::run_init(plan, life[0]);
  }
  TRACE_STEP("init forked");
  g_init_pid = pid;
  if (plan.keeper) {
    // Only a session keeper's init is named: it is joined by pid. (Any other record now would only
    // wake Node while init and its helper want both cores.)
    char init_line[32];
    std::snprintf(init_line, sizeof init_line, "INIT %d\n", pid);
    cordon::report_line(init_line);
  }
  ::close(life[0]);
  ::signal(SIGPIPE, SIG_IGN);  // init may already be gone; we never exec, so nothing inherits this
  // The command's stdio belongs to init and the command; holding copies here would delay the
  // supervisor's EOF until this process exits, after namespace teardown.
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2; ++fd) ::dup2(devnull, fd);
  if (devnull > 2) ::close(devnull);
  // With cgroups, init waits for this byte: it must be inside them before it forks the command.
  bool joined = cgroups.join(pid);
  if (!joined) ::kill(pid, SIGKILL);
  else if (cordon::has_cgroups(plan) && ::write(life[1], "g", 1) != 1) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return cgroups.remove(), 125;
  }
  // Init has exited, so its pid namespace is empty: counters are final and the groups removable.
  cgroups.report(plan);
  cgroups.remove();
  cordon::idle_teardown();
  if (!joined) return 125;
  TRACE_STEP("init reaped");
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--probe") == 0) return cordon::run_probe();
  if (argc == 2 && std::strcmp(argv[1], "--server") == 0) return cordon::run_server(launch);
  if (argc != 1) {
    static const char kUsage[] = "cordon-launcher: internal helper of cordon; run commands with `cordon run`\n";
    ssize_t ignored = ::write(2, kUsage, sizeof kUsage - 1);
    (void)ignored;
    return 2;
  }
  return launch();
}

// cordon – the launch server: a resident launcher that forks a fresh launcher per command.
//
// Node's child_process.spawn costs ~1-1.5 ms of its event loop per command (it waits for exec);
// a fork of this small static process costs ~0.1 ms, and even that is off the critical path: a
// *standby* child is forked ahead and waits on a socketpair; a request's fds are handed to it, and
// the next standby is forked after the reply, while the launcher works. The server holds no sandbox
// state: each child dup2s the fds that came with its request onto 0-4 and runs the same launch()
// as a spawned launcher, so what a command gets is identical either way.
//
// Protocol on fd 3 (a unix stream socket; Node writes with sendmsg, reads lines):
//   request  16 bytes {magic "CLR1", id, fd count, 0} + SCM_RIGHTS: stdin, stdout, stderr, status
//            [, network channel]
//   reply    "S <id> <pid>\n"                 the launcher for request id is running as pid
//            "X <id> <code> <signal>\n"       it ended; it stays a zombie (so its pid cannot be
//                                             reused while Node may still signal it) until:
//   request  16 bytes {magic "CLZ1", id, 0, 0}  reap it
//            "F <id> <errno>\n"               the request could not be served (fork failed)
// EOF on fd 3 (Node exited or closed the server) ends the server; PDEATHSIG covers Node dying,
// and each launcher has its own PDEATHSIG towards the server, so nothing outlives Node.
#include "server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>

#include "fd_passing.h"
#include "kernel_abi.h"
#include "limits.h"
#include "plan.h"

namespace cordon {
namespace {

constexpr int kControlFd = 3;
constexpr uint32_t kLaunchMagic = 0x31524c43;  // "CLR1"
constexpr uint32_t kReapMagic = 0x315a4c43;    // "CLZ1"
constexpr unsigned kMaxFds = 5;

struct Request {
  uint32_t magic;
  uint32_t id;
  uint32_t nfds;
  uint32_t reserved;
};

struct Child {
  uint32_t id;
  bool reported = false;
};

void reply(const char* line) {
  size_t len = std::strlen(line);
  while (len > 0) {
    ssize_t n = ::write(kControlFd, line, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    line += n;
    len -= static_cast<size_t>(n);
  }
}

// Reads one request; returns false on EOF or a broken stream. fds[] gets what came with it.
bool read_request(Request* req, int* fds, unsigned* nfds) {
  return recv_with_fds(kControlFd, req, sizeof *req, fds, kMaxFds, nfds) == static_cast<ssize_t>(sizeof *req);
}

void close_all(const int* fds, unsigned n) {
  for (unsigned i = 0; i < n; ++i) ::close(fds[i]);
}

// The fork child: the request's fds become 0..n-1, exactly a spawned launcher's stdio and fd 3/4.
[[noreturn]] void become_launcher(const int* fds, unsigned n, const sigset_t& old_mask, pid_t caller, int (*launch_fn)()) {
  int moved[kMaxFds];
  // Move everything above the target range first, so dup2 never clobbers a source.
  for (unsigned i = 0; i < n; ++i) {
    moved[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 16);
    if (moved[i] < 0) ::_exit(125);
  }
  for (unsigned i = 0; i < n; ++i) {
    if (::dup2(moved[i], static_cast<int>(i)) < 0) ::_exit(125);  // dup2 clears close-on-exec
  }
  abi::close_range(n, ~0u, 0);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &sa, nullptr);
  ::sigaction(SIGPIPE, &sa, nullptr);  // ignored signals survive exec: the command must get the default
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  set_caller_pid(caller);
  ::_exit(launch_fn());
}

// A forked child waiting for the next request (its fds come over `sock`), or none (pid -1).
struct Standby {
  pid_t pid = -1;
  int sock = -1;
};

// Forks a standby: it dies with the server (PDEATHSIG), holds nothing of the server's but the
// socketpair end, and becomes a launcher when a request arrives (EOF: the server let it go).
Standby fork_standby(int sigfd, const sigset_t& old_mask, pid_t caller, int (*launch_fn)()) {
  const pid_t server = ::getpid();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != server) ::_exit(0);
    ::prctl(PR_SET_NAME, "cordon-standby", 0, 0, 0);  // resident like the server, not a leftover launcher
    ::close(sv[0]);
    ::close(sigfd);
    ::close(kControlFd);  // only the server reads requests; become_launcher puts the status fd here
    Request req;
    int fds[kMaxFds];
    unsigned nfds = 0;
    if (recv_with_fds(sv[1], &req, sizeof req, fds, kMaxFds, &nfds) != static_cast<ssize_t>(sizeof req) || nfds < 4 || nfds != req.nfds) ::_exit(0);
    ::close(sv[1]);
    ::prctl(PR_SET_NAME, "cordon-launcher", 0, 0, 0);
    become_launcher(fds, nfds, old_mask, caller, launch_fn);
  }
  ::close(sv[1]);
  if (pid < 0) {
    ::close(sv[0]);
    return {};
  }
  return {pid, sv[0]};
}

// Lets a standby go (it exits on EOF) and reaps it.
void drop_standby(Standby* s) {
  if (s->pid < 0) return;
  ::close(s->sock);
  ::waitpid(s->pid, nullptr, 0);
  *s = Standby{};
}

}  // namespace

int run_server(int (*launch_fn)()) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return 125;
  const pid_t node_pid = ::getppid();
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t mask, old_mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &mask, &old_mask) != 0) return 125;
  int sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) return 125;
  std::map<pid_t, Child> children;
  Standby standby = fork_standby(sigfd, old_mask, node_pid, launch_fn);
  char line[96];
  struct pollfd pfd[2] = {{kControlFd, POLLIN, 0}, {sigfd, POLLIN, 0}};
  for (;;) {
    if (::poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 125;
    }
    if (pfd[1].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd, &si, sizeof si) == sizeof si) {
      }
      // Report each ended launcher once, without reaping it (WNOWAIT): see the protocol above.
      // A standby that died unused (killed from outside): reap it; the next request forks.
      if (standby.pid > 0) {
        siginfo_t info;
        std::memset(&info, 0, sizeof info);
        if (::waitid(P_PID, static_cast<id_t>(standby.pid), &info, WEXITED | WNOHANG) == 0 && info.si_pid == standby.pid) {
          ::close(standby.sock);
          standby = Standby{};
        }
      }
      for (auto& [pid, child] : children) {
        if (child.reported) continue;
        siginfo_t info;
        std::memset(&info, 0, sizeof info);
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid) continue;
        child.reported = true;
        bool signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
        std::snprintf(line, sizeof line, "X %u %d %d\n", child.id, signaled ? -1 : info.si_status, signaled ? info.si_status : 0);
        reply(line);
      }
    }
    if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    Request req;
    int fds[kMaxFds];
    unsigned nfds = 0;
    if (!read_request(&req, fds, &nfds)) {
      close_all(fds, nfds);
      break;  // Node closed the server (or the stream broke): stop serving
    }
    if (req.magic == kReapMagic) {
      for (auto it = children.begin(); it != children.end(); ++it) {
        if (it->second.id != req.id || !it->second.reported) continue;
        ::waitpid(it->first, nullptr, WNOHANG);
        children.erase(it);
        break;
      }
      close_all(fds, nfds);
      continue;
    }
    if (req.magic != kLaunchMagic || nfds < 4 || nfds != req.nfds) {
      close_all(fds, nfds);
      std::snprintf(line, sizeof line, "F %u %d\n", req.id, EINVAL);
      reply(line);
      continue;
    }
    // The setup part Node wrote into the status socket before the request: peeked (not consumed) now,
    // before the launcher reads it, and decoded after the reply for the next standby (plan.h).
    static char setup[64 * 1024];
    ssize_t setup_len;
    do setup_len = ::recv(fds[3], setup, sizeof setup, MSG_PEEK | MSG_DONTWAIT); while (setup_len < 0 && errno == EINTR);
    // The standby takes it (no fork on the critical path); without one, or if it is gone, fork now.
    pid_t pid = -1;
    if (standby.pid > 0 && send_with_fds(standby.sock, &req, sizeof req, fds, nfds)) {
      pid = standby.pid;
      ::close(standby.sock);
      standby = Standby{};
    } else {
      drop_standby(&standby);
      pid = ::fork();
      if (pid == 0) {
        ::close(sigfd);
        become_launcher(fds, nfds, old_mask, node_pid, launch_fn);
      }
    }
    int err = errno;
    close_all(fds, nfds);
    if (pid < 0) {
      std::snprintf(line, sizeof line, "F %u %d\n", req.id, err);
    } else {
      children[pid] = Child{req.id};
      std::snprintf(line, sizeof line, "S %u %d\n", req.id, pid);
    }
    reply(line);
    if (setup_len > 0) remember_setup(setup, static_cast<size_t>(setup_len));
    if (standby.pid < 0) standby = fork_standby(sigfd, old_mask, node_pid, launch_fn);
  }
  // Our launchers die with us (their PDEATHSIG), and their sandboxes with them.
  drop_standby(&standby);
  return 0;
}

}  // namespace cordon

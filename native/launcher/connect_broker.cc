// cordon – pid 1 performs every connect() of the sandbox: unix sockets bound outside it are refused, and
// with allowlist networking allowed TCP gets a socket connected from the host (no relay on the data
// path); no connect() ever runs in the kernel on the caller's behalf with the caller's arguments.
//
// The broker runs in every network mode when the plan has a UNIX_GUARD record (unix_guard.h: none
// and allowlist check the sandbox's own socket table, host only read-only mounts); steps 2 and 3
// below only ever apply to allowlist sandboxes (elsewhere no socket is foreign and nothing is
// captured). With the broker (NET_CONFIG "broker"), the command's seccomp filter sends every x86-64 connect() to
// pid 1 (SECCOMP_RET_USER_NOTIF; all families; the i386/x32 entries are killed by the filter and
// io_uring is refused, so there is no other way to ask the kernel for a connect). Pid 1's workers —
// threads created after capabilities, no_new_privs and Landlock were applied, before the filter —
// answer each notification, and never with SECCOMP_USER_NOTIF_FLAG_CONTINUE:
//   1. read the sockaddr once (at most 128 bytes, process_vm_readv) and take the caller's *file* with
//      pidfd_open + pidfd_getfd; then SECCOMP_IOCTL_NOTIF_ID_VALID (the caller is still the one
//      stopped in connect(), so the pid read by was not reused). From here on only our copy of the
//      address and our reference to the file are used, never the caller's memory or fd number.
//   2. a socket not in the sandbox's network namespace (SO_NETNS_COOKIE differs: a socket the
//      supervisor connected on the host and we installed, or one inherited from outside) is never
//      connected: AF_UNSPEC installs a fresh unconnected socket of the same domain/type/protocol,
//      made in the sandbox's namespace, over the caller's fd (ADDFD with SETFD; the caller's
//      O_NONBLOCK and close-on-exec); anything else gets EISCONN, what the kernel answers a
//      connected socket.
//   3. a fresh (unbound, TCP_CLOSE) sandbox TCP socket to a destination the capture chain would
//      redirect (is_captured: the same NET_CAPTURE records as the nftables chain) is asked of the
//      supervisor ("NET CONNECT <id> <addr> <port> <4|6>" on the status fd). It applies the same
//      decision as the capture path (rules, pool → name, SSRF guard, audit, violation), connects on
//      the host, completes the connect (sock->state SS_CONNECTED, see below) and sends the socket
//      back over SCM_RIGHTS. We check it (same domain, TCP, has a peer, past the handshake), give it
//      the caller's O_NONBLOCK, close-on-exec and common options (TCP_NODELAY, SO_KEEPALIVE and the
//      keepalive parameters, SO_LINGER, TCP_USER_TIMEOUT, SO_RCVTIMEO/SO_SNDTIMEO), install it over
//      the caller's fd and answer 0. A refusal is its errno (ECONNREFUSED for a denial). When the
//      supervisor cannot give a socket of the caller's family (a name resolving only to the other
//      one) it says so and step 4 runs: the capture + relay path, still policed.
//   4. anything else (loopback inside the sandbox, cordon's DNS/proxy ports, unroutable addresses,
//      UDP, AF_UNIX path and abstract, IPv4-mapped on AF_INET6, a bound or already connected socket,
//      too many waiting) is connected by the worker itself, on the caller's file, with our copy of
//      the address, in the sandbox's namespace — where the capture chain and the empty routing table
//      still police it exactly as before — and the result (0, EINPROGRESS, errno) is the answer.
//      AF_UNIX paths are opened with openat2(O_PATH, RESOLVE_NO_MAGICLINKS) — absolute ones from our
//      root (the caller's: the filter refuses chroot, pivot_root, unshare and setns), relative ones
//      from /proc/<caller>/cwd — checked by the unix guard (a socket bound outside the sandbox is
//      EACCES, reported as "VIOLATION unix") and connected through /proc/self/fd/N.
// A failure of the broker itself never opens anything: a connect it cannot take costs speed (the
// relay), and when the supervisor is gone a captured connect is refused at once (fail closed).
//
// Why an installed host socket cannot be re-pointed (Linux 6.x net/ipv4/af_inet.c, tcp.c): only
// __inet_stream_connect() connects or disconnects a TCP socket from user space, reached through
// connect() (never run by the kernel for a sandboxed caller: step 2) or sendmsg(MSG_FASTOPEN) /
// TCP_FASTOPEN_CONNECT via tcp_sendmsg_fastopen(). The latter refuses an AF_UNSPEC address
// (EOPNOTSUPP) before calling it, and with sock->state == SS_CONNECTED __inet_stream_connect()
// returns EISCONN before looking at the socket's TCP state. A host socket is installed only TCP (never
// UDP) and only once the handshake is done, and the supervisor calls connect() once more on it
// first: Node's non-blocking connect leaves sock->state at SS_CONNECTING, and a MSG_FASTOPEN on an
// SS_CONNECTING socket whose TCP state is CLOSE (after a reset) takes the sock_error path, which
// disconnects it (SS_UNCONNECTED) — a way out; the second connect() moves it to SS_CONNECTED. We check
// that with a MSG_FASTOPEN probe of our own (EISCONN) before installing. From SS_CONNECTED no call
// leaves it: inet_shutdown() changes only SS_CONNECTING (and disconnects only in SYN_SENT, which a
// connected socket never returns to without connect()), so listen() (needs SS_UNCONNECTED) is EINVAL
// for ever, MSG_FASTOPEN is EISCONN, accept() needs LISTEN, and TCP_REPAIR needs CAP_NET_ADMIN over
// the host's namespace. bind() is EINVAL while the socket has a local port: the supervisor binds
// each one to an explicit port before connecting, which the kernel keeps (SOCK_BINDPORT_LOCK) even
// after the connection ends, so a dead socket cannot bind a port of the host's namespace either.
//
// The command cannot reach pid 1's memory or files: ptrace, process_vm_readv/writev, pidfd_getfd and
// kcmp are refused by the filter; pid 1 is not dumpable (no /proc/1/mem, /proc/1/fd, /proc/1/task/*),
// and a pid namespace's init ignores signals it has no handler for.
//
// What differs from a kernel connect (by design; cordon's own policy is intact in each case):
//   * the connecting task is pid 1: a unix-socket server sees pid 1 in SO_PEERCRED (same uid/gid) and
//     Landlock checks (abstract-socket scoping, path rights) use the sandbox's domain, not a nested
//     domain the command applied to itself later; path permissions use pid 1's credentials (the
//     caller's uid/gid; supplementary groups the command dropped still count);
//   * AF_UNIX paths through magic links (/proc/<pid>/fd/N, /proc/<pid>/root/…) are refused (ELOOP);
//   * a captured connect returns 0 once the host connection is up, also for a non-blocking socket
//     (which the kernel would answer with EINPROGRESS): the call takes one connect round trip; the
//     installed socket is a new file: options other than those copied, a bound address and other
//     dups of the old fd (dup(), fork, SCM_RIGHTS) keep the old socket; AF_UNSPEC on an installed
//     socket replaces that fd only (other dups stay connected);
//   * a caller that made itself non-dumpable cannot be acted for: its connects fail with EPERM.
#include "connect_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "fd_passing.h"
#include "kernel_abi.h"
#include "network.h"
#include "report.h"
#include "unix_guard.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace cordon {
namespace {

constexpr uint32_t kAuditArchX8664 = 0xc000003eU;
constexpr uint32_t kAddfdFlagSetfd = 1;
// _IOW('!', 2, __u64) and _IOW('!', 3, struct seccomp_notif_addfd)
constexpr unsigned long kIoctlNotifIdValid = 0x40082102UL;
constexpr unsigned long kIoctlNotifAddfd = 0x40182103UL;
struct NotifAddfd {
  uint64_t id;
  uint32_t flags;
  uint32_t srcfd;
  uint32_t newfd;
  uint32_t newfd_flags;
};
constexpr unsigned kPidfdThread = O_EXCL;  // PIDFD_THREAD (Linux 6.9)
constexpr uint64_t kResolveNoMagiclinks = 0x02;
// The supervisor's reply: 12 bytes, with the connected socket attached when error == 0.
constexpr uint32_t kReplyMagic = 0x31524e43;  // "CNR1"
constexpr int32_t kReplyUseRelay = -1;        // no socket of the caller's family: connect in the sandbox
struct Reply {
  uint32_t magic;
  uint32_t request;
  int32_t error;
};
constexpr size_t kMaxWaiting = 256;
constexpr int kMaxWorkers = 256;
// Sent by the watchdog to a worker blocked in connect() for a caller that is gone (see
// blocking_connect); glibc keeps SIGRTMIN..SIGRTMIN+1 for itself.
const int kInterruptSignal = SIGRTMIN + 3;
constexpr long kWatchdogPeriodNs = 100 * 1000 * 1000;
constexpr int kSupervisorTimeoutSec = 30;

struct Options {
  int nodelay = 0, keepalive = 0, keepidle = -1, keepintvl = -1, keepcnt = -1, user_timeout = 0;
  struct linger linger = {0, 0};
  struct timeval rcvtimeo = {0, 0}, sndtimeo = {0, 0};
};

struct Pending {
  bool done = false;
  int error = 0;
  int fd = -1;
};

const Plan* g_plan = nullptr;
bool g_running = false;
int g_listener = -1;
uint64_t g_cookie = 0;  // the sandbox's network namespace
bool g_gone = false;
std::map<uint32_t, Pending*> g_waiting;
uint32_t g_next_request = 1;
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_cv;  // CLOCK_MONOTONIC; listener set, replies arrived, supervisor gone
std::atomic<int> g_idle{0};
std::atomic<int> g_total{0};

void respond(uint64_t id, int error) {
  abi::SeccompNotifResp resp = {id, 0, error ? -error : 0, 0};
  ::ioctl(g_listener, abi::kSeccompIoctlNotifSend, &resp);
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

int sockopt_int(int fd, int level, int name, int fallback) {
  int v = 0;
  socklen_t l = sizeof v;
  return ::getsockopt(fd, level, name, &v, &l) == 0 ? v : fallback;
}

// O_CLOEXEC of the caller's fd (per fd, so not visible through our dup), from fdinfo.
bool caller_cloexec(pid_t pid, int fd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  Fd f(::open(path, O_RDONLY | O_CLOEXEC));
  if (f.get() < 0) return false;
  char buf[256];
  ssize_t n = ::read(f.get(), buf, sizeof buf - 1);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* field = std::strstr(buf, "flags:");
  return field && (std::strtoul(field + 6, nullptr, 8) & O_CLOEXEC) != 0;
}

Options read_options(int fd) {
  Options o;
  o.nodelay = sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 0);
  o.keepalive = sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
  o.keepidle = sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, -1);
  o.keepintvl = sockopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, -1);
  o.keepcnt = sockopt_int(fd, IPPROTO_TCP, TCP_KEEPCNT, -1);
  o.user_timeout = sockopt_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 0);
  socklen_t l = sizeof o.linger;
  ::getsockopt(fd, SOL_SOCKET, SO_LINGER, &o.linger, &l);
  l = sizeof o.rcvtimeo;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &o.rcvtimeo, &l);
  l = sizeof o.sndtimeo;
  ::getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &o.sndtimeo, &l);
  return o;
}

void apply_options(int fd, const Options& o) {
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &o.nodelay, sizeof o.nodelay);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &o.keepalive, sizeof o.keepalive);
  if (o.keepidle > 0) ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &o.keepidle, sizeof o.keepidle);
  if (o.keepintvl > 0) ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &o.keepintvl, sizeof o.keepintvl);
  if (o.keepcnt > 0) ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &o.keepcnt, sizeof o.keepcnt);
  if (o.user_timeout > 0) ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &o.user_timeout, sizeof o.user_timeout);
  if (o.linger.l_onoff) ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &o.linger, sizeof o.linger);
  if (o.rcvtimeo.tv_sec || o.rcvtimeo.tv_usec) ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &o.rcvtimeo, sizeof o.rcvtimeo);
  if (o.sndtimeo.tv_sec || o.sndtimeo.tv_usec) ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &o.sndtimeo, sizeof o.sndtimeo);
}

void set_nonblock(int fd, bool on) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

// Installs `src` over the caller's fd `target` and answers the connect with 0.
void install(uint64_t id, int src, int target, bool cloexec) {
  NotifAddfd add = {id, kAddfdFlagSetfd, static_cast<uint32_t>(src), static_cast<uint32_t>(target),
                    cloexec ? static_cast<uint32_t>(O_CLOEXEC) : 0u};
  if (::ioctl(g_listener, kIoctlNotifAddfd, &add) >= 0) respond(id, 0);
  else if (errno != ENOENT) respond(id, errno == EMFILE ? EMFILE : ECONNABORTED);  // ENOENT: the caller is gone
}

// Is the supervisor's socket what it must be before it may enter the sandbox: TCP of `domain`, past
// the handshake, and SS_CONNECTED (a MSG_FASTOPEN probe answers EISCONN; EOPNOTSUPP when TCP Fast
// Open is off for clients in the host's namespace, where sendmsg cannot connect at all).
bool host_socket_ok(int fd, int domain) {
  if (sockopt_int(fd, SOL_SOCKET, SO_DOMAIN, -1) != domain || sockopt_int(fd, SOL_SOCKET, SO_TYPE, -1) != SOCK_STREAM ||
      sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL, -1) != IPPROTO_TCP)
    return false;
  struct tcp_info ti;
  std::memset(&ti, 0, sizeof ti);
  socklen_t l = sizeof ti;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) != 0) return false;
  if (ti.tcpi_state == TCP_SYN_SENT || ti.tcpi_state == TCP_SYN_RECV || ti.tcpi_state == TCP_LISTEN || ti.tcpi_state == TCP_CLOSE)
    return false;
  sockaddr_storage peer;
  socklen_t pl = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    ssize_t r = ::sendto(fd, nullptr, 0, MSG_FASTOPEN | MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&peer), pl);
    if (r < 0 && (errno == EISCONN || errno == EOPNOTSUPP)) return true;
    if (r < 0) return false;  // e.g. the sock_error path: it was not SS_CONNECTED and is now disconnected
    // 0: it was SS_CONNECTING and established; the probe moved it to SS_CONNECTED. Check again.
  }
  return false;
}

// A blocking connect() is performed with the caller's blocking semantics, so it can wait as long as
// the kernel would (a unix listener with a full backlog, a TCP handshake being retried). A caller
// interrupted by a signal, or killed, leaves the notification invalid but its worker still waiting:
// every such retry would take one more worker until none answers any connect in the sandbox. So a
// worker that may block registers here, and a watchdog thread checks its notification every 100 ms
// and interrupts the worker (kInterruptSignal, no SA_RESTART: connect fails with EINTR) once its
// caller is gone; the connect is then left as the caller's own interrupted connect would be.
struct Blocked {
  pthread_t thread;
  uint64_t id;
};
std::map<Blocked*, bool> g_blocked;  // → signalled already
bool g_watchdog = false;
pthread_cond_t g_blocked_cv;  // CLOCK_MONOTONIC

void interrupt_handler(int) {}

void* watchdog(void*) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_mutex_lock(&g_mu);
  for (;;) {
    while (g_blocked.empty()) pthread_cond_wait(&g_blocked_cv, &g_mu);
    timespec until;
    ::clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += kWatchdogPeriodNs;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec += 1;
      until.tv_nsec -= 1000000000L;
    }
    while (pthread_cond_timedwait(&g_blocked_cv, &g_mu, &until) != ETIMEDOUT) {
    }
    for (auto& [b, signalled] : g_blocked) {
      uint64_t id = b->id;
      if (signalled || ::ioctl(g_listener, kIoctlNotifIdValid, &id) == 0) continue;
      pthread_kill(b->thread, kInterruptSignal);
      signalled = true;
    }
  }
  return nullptr;
}

int blocking_connect(int sock, const sockaddr* addr, socklen_t len, uint64_t id) {
  if (::fcntl(sock, F_GETFL) & O_NONBLOCK) return ::connect(sock, addr, len) == 0 ? 0 : errno;
  Blocked self = {pthread_self(), id};
  pthread_mutex_lock(&g_mu);
  g_blocked[&self] = false;
  if (!g_watchdog) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    g_watchdog = pthread_create(&t, &attr, watchdog, nullptr) == 0;
    pthread_attr_destroy(&attr);
  }
  pthread_cond_signal(&g_blocked_cv);
  pthread_mutex_unlock(&g_mu);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, kInterruptSignal);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  int err = ::connect(sock, addr, len) == 0 ? 0 : errno;
  pthread_sigmask(SIG_BLOCK, &one, nullptr);
  pthread_mutex_lock(&g_mu);
  g_blocked.erase(&self);
  pthread_mutex_unlock(&g_mu);
  // A signal sent just as connect() returned is pending now: take it, or it would cut short the
  // next blocking connect of this worker.
  timespec zero = {0, 0};
  while (::sigtimedwait(&one, nullptr, &zero) == kInterruptSignal) {
  }
  return err;
}

// Connects the caller's file ourselves, inside the sandbox's namespace; returns 0 or an errno.
int connect_here(int sock, int domain, const sockaddr_storage& sa, socklen_t len, int cwd, pid_t pid, uint64_t id) {
  // The kernel's limit (unix_validate_addr): an AF_UNIX address is at most sizeof(sockaddr_un).
  if (domain == AF_UNIX && sa.ss_family == AF_UNIX && len > sizeof(sockaddr_un)) return EINVAL;
  if (domain == AF_UNIX && sa.ss_family == AF_UNIX && len > offsetof(sockaddr_un, sun_path)) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&sa);
    size_t max = std::min(static_cast<size_t>(len) - offsetof(sockaddr_un, sun_path), sizeof un->sun_path);
    if (un->sun_path[0] != '\0') {
      char path[sizeof un->sun_path + 1];
      size_t n = strnlen(un->sun_path, max);
      std::memcpy(path, un->sun_path, n);
      path[n] = '\0';
      abi::OpenHow how = {O_PATH | O_CLOEXEC, 0, kResolveNoMagiclinks};
      int dir = path[0] == '/' ? AT_FDCWD : cwd;
      if (dir < 0 && dir != AT_FDCWD) return EACCES;
      Fd target(static_cast<int>(::syscall(__NR_openat2, dir, path, &how, sizeof how)));
      if (target.get() < 0) return errno;
      struct stat st;
      if (::fstat(target.get(), &st) != 0) return errno;
      if (!S_ISSOCK(st.st_mode)) return ECONNREFUSED;
      const char* why = "";
      if (int refused = unix_guard_check(g_plan->unix_guard, target.get(), st, &why)) {
        // The path is the command's bytes: escaped, so it cannot end the record or forge another.
        char shown[sizeof un->sun_path * 4 + 1];
        size_t k = 0;
        for (size_t i = 0; i < n && k + 5 <= sizeof shown; ++i) {
          unsigned char c = static_cast<unsigned char>(path[i]);
          if (c < 0x20 || c >= 0x7f || c == '\\') k += static_cast<size_t>(std::snprintf(shown + k, sizeof shown - k, "\\x%02x", c));
          else shown[k++] = static_cast<char>(c);
        }
        shown[k] = '\0';
        char line[sizeof shown + 96];
        std::snprintf(line, sizeof line, "VIOLATION unix %d %s %s\n", pid, why, shown);
        report_line(line);
        return refused;
      }
      sockaddr_un via;
      std::memset(&via, 0, sizeof via);
      via.sun_family = AF_UNIX;
      int m = std::snprintf(via.sun_path, sizeof via.sun_path, "/proc/self/fd/%d", target.get());
      socklen_t vlen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + static_cast<size_t>(m) + 1);
      return blocking_connect(sock, reinterpret_cast<const sockaddr*>(&via), vlen, id);
    }
  }
  return blocking_connect(sock, reinterpret_cast<const sockaddr*>(&sa), len, id);
}

int pidfd_for(pid_t tid) {
  int fd = static_cast<int>(::syscall(__NR_pidfd_open, tid, kPidfdThread));
  if (fd >= 0 || errno != EINVAL) return fd;
  // Before Linux 6.9 (no PIDFD_THREAD): the thread group leader (threads share the fd table).
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/status", tid);
  Fd f(::open(path, O_RDONLY | O_CLOEXEC));
  if (f.get() < 0) return -1;
  ssize_t n = ::read(f.get(), buf, sizeof buf - 1);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* tgid = std::strstr(buf, "\nTgid:");
  if (!tgid) return -1;
  return static_cast<int>(::syscall(__NR_pidfd_open, std::atoi(tgid + 6), 0));
}

// Asks the supervisor for a host socket and waits; fills *out (the socket, or an errno).
void ask_supervisor(int domain, const unsigned char* addr, uint16_t port, Pending* out) {
  pthread_mutex_lock(&g_mu);
  if (g_gone) {
    out->done = true;
    out->error = ECONNREFUSED;
    pthread_mutex_unlock(&g_mu);
    return;
  }
  uint32_t request = g_next_request++;
  g_waiting[request] = out;
  pthread_mutex_unlock(&g_mu);
  char text[INET6_ADDRSTRLEN] = "";
  ::inet_ntop(domain, addr, text, sizeof text);
  char line[128];
  std::snprintf(line, sizeof line, "NET CONNECT %u %s %u %d\n", request, text, port, domain == AF_INET ? 4 : 6);
  report_line(line);
  pthread_mutex_lock(&g_mu);
  timespec deadline;
  ::clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += kSupervisorTimeoutSec;
  while (!out->done && !g_gone) {
    if (pthread_cond_timedwait(&g_cv, &g_mu, &deadline) == ETIMEDOUT) break;
  }
  if (!out->done) {
    g_waiting.erase(request);
    out->done = true;
    out->error = g_gone ? ECONNREFUSED : ETIMEDOUT;
  }
  pthread_mutex_unlock(&g_mu);
}

void handle_connect(const abi::SeccompNotif& req) {
  const pid_t pid = static_cast<pid_t>(req.pid);
  const int target = static_cast<int>(static_cast<uint32_t>(req.data.args[0]));
  const int ilen = static_cast<int>(static_cast<uint32_t>(req.data.args[2]));
  if (target < 0) return respond(req.id, EBADF);
  if (ilen < 0 || ilen > static_cast<int>(sizeof(sockaddr_storage))) return respond(req.id, EINVAL);
  const socklen_t len = static_cast<socklen_t>(ilen);
  Fd pidfd(pidfd_for(pid));
  if (pidfd.get() < 0) return respond(req.id, errno == ESRCH ? ESRCH : EPERM);
  // 1. One copy of the address; the caller's file.
  sockaddr_storage sa;
  std::memset(&sa, 0, sizeof sa);
  if (len > 0) {
    iovec local = {&sa, len};
    iovec remote = {reinterpret_cast<void*>(static_cast<uintptr_t>(req.data.args[1])), len};
    ssize_t got = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (got != static_cast<ssize_t>(len)) return respond(req.id, got < 0 && errno == EPERM ? EPERM : EFAULT);
  }
  Fd sock(static_cast<int>(::syscall(__NR_pidfd_getfd, pidfd.get(), target, 0)));
  if (sock.get() < 0) return respond(req.id, errno == EBADF ? EBADF : EPERM);
  const int domain = sockopt_int(sock.get(), SOL_SOCKET, SO_DOMAIN, -1);
  if (domain < 0) return respond(req.id, ENOTSOCK);
  const int type = sockopt_int(sock.get(), SOL_SOCKET, SO_TYPE, -1);
  const int protocol = sockopt_int(sock.get(), SOL_SOCKET, SO_PROTOCOL, 0);
  uint64_t cookie = 0;
  socklen_t cl = sizeof cookie;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &cl) != 0) return respond(req.id, EPERM);
  const bool foreign = cookie != g_cookie;
  const bool unspec = len >= sizeof(sa_family_t) && sa.ss_family == AF_UNSPEC;
  const bool nonblock = (::fcntl(sock.get(), F_GETFL) & O_NONBLOCK) != 0;
  Fd cwd;
  if (!foreign && domain == AF_UNIX && sa.ss_family == AF_UNIX && len > offsetof(sockaddr_un, sun_path)) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&sa);
    if (un->sun_path[0] != '\0' && un->sun_path[0] != '/') {
      char path[64];
      std::snprintf(path, sizeof path, "/proc/%d/cwd", pid);
      cwd.reset(::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
  }
  bool cloexec = false;
  if (foreign && unspec) cloexec = caller_cloexec(pid, target);
  // Everything above was read through `pid`: it counts only if that is still the caller.
  uint64_t id = req.id;
  if (::ioctl(g_listener, kIoctlNotifIdValid, &id) != 0) return;

  // 2. Not in the sandbox's namespace: never connected here.
  if (foreign) {
    if (!unspec) return respond(req.id, EISCONN);
    Fd fresh(::socket(domain, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), protocol));
    if (fresh.get() < 0) return respond(req.id, errno);
    return install(req.id, fresh.get(), target, cloexec);
  }

  // 3. A fresh sandbox TCP socket to a captured destination: the supervisor's host socket.
  if ((domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM && protocol == IPPROTO_TCP && sa.ss_family == domain) {
    const unsigned char* addr = nullptr;
    uint16_t port = 0;
    if (domain == AF_INET && len >= sizeof(sockaddr_in)) {
      auto* in = reinterpret_cast<sockaddr_in*>(&sa);
      addr = reinterpret_cast<const unsigned char*>(&in->sin_addr);
      port = ntohs(in->sin_port);
    } else if (domain == AF_INET6 && len >= sizeof(sockaddr_in6)) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&sa);
      // IPv4-mapped: the relay keeps the caller's family exact.
      if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) addr = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
      port = ntohs(in6->sin6_port);
    }
    if (addr && is_captured(domain, addr, port)) {
      struct tcp_info ti;
      std::memset(&ti, 0, sizeof ti);
      socklen_t tl = sizeof ti;
      sockaddr_storage local;
      socklen_t ll = sizeof local;
      bool fresh = ::getsockopt(sock.get(), IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == TCP_CLOSE &&
                   ::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&local), &ll) == 0 &&
                   (domain == AF_INET ? reinterpret_cast<sockaddr_in*>(&local)->sin_port : reinterpret_cast<sockaddr_in6*>(&local)->sin6_port) == 0;
      pthread_mutex_lock(&g_mu);
      bool room = g_waiting.size() < kMaxWaiting;
      bool gone = g_gone;
      pthread_mutex_unlock(&g_mu);
      if (gone) return respond(req.id, ECONNREFUSED);
      if (fresh && room) {
        bool caller_cloexec_flag = caller_cloexec(pid, target);
        Options opts = read_options(sock.get());
        Pending p;
        ask_supervisor(domain, addr, port, &p);
        Fd host(p.fd);
        if (p.error == kReplyUseRelay) {
          // fall through to the relay path below
        } else if (p.error != 0 || host.get() < 0) {
          return respond(req.id, p.error > 0 && p.error < 4096 ? p.error : ECONNREFUSED);
        } else if (!host_socket_ok(host.get(), domain)) {
          return respond(req.id, ECONNREFUSED);
        } else {
          set_nonblock(host.get(), nonblock);
          apply_options(host.get(), opts);
          return install(req.id, host.get(), target, caller_cloexec_flag);
        }
      }
    }
  }

  // 4. Everything else: connected here, in the sandbox's namespace, on the caller's file.
  respond(req.id, connect_here(sock.get(), domain, sa, len, cwd.get(), pid, req.id));
}

int errno_for(int nr) {
  for (const auto& [n, e] : g_plan->notify_errno)
    if (n == nr) return e;
  return EPERM;
}

void spawn_worker();

void* worker(void*) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_mutex_lock(&g_mu);
  while (g_listener < 0) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  for (;;) {
    abi::SeccompNotif req;
    std::memset(&req, 0, sizeof req);
    if (::ioctl(g_listener, abi::kSeccompIoctlNotifRecv, &req) != 0) {
      if (errno == EINTR || errno == ENOENT) continue;
      break;
    }
    // Keep one worker waiting for the next notification while this one may block in connect().
    if (g_idle.fetch_sub(1) == 1 && g_total.load() < kMaxWorkers) spawn_worker();
    if (req.data.arch == kAuditArchX8664 && req.data.nr == __NR_connect) {
      handle_connect(req);
    } else {
      // Any other notification is a denied syscall: answered and reported as init.cc does.
      char line[128];
      std::snprintf(line, sizeof line, "VIOLATION syscall %d %u %u\n", req.data.nr, req.data.arch, req.pid);
      report_line(line);
      respond(req.id, errno_for(req.data.nr));
    }
    g_idle.fetch_add(1);
  }
  g_idle.fetch_sub(1);
  g_total.fetch_sub(1);
  return nullptr;
}

void spawn_worker() {
  if (g_total.fetch_add(1) >= kMaxWorkers) {
    g_total.fetch_sub(1);
    return;
  }
  g_idle.fetch_add(1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  if (pthread_create(&t, &attr, worker, nullptr) != 0) {
    g_idle.fetch_sub(1);
    g_total.fetch_sub(1);
  }
  pthread_attr_destroy(&attr);
}

}  // namespace

bool broker_start(const Plan& plan) {
  g_plan = &plan;
  unix_guard_allow(plan.unix_allow);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g_cv, &ca);
  pthread_cond_init(&g_blocked_cv, &ca);
  pthread_condattr_destroy(&ca);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = interrupt_handler;  // no SA_RESTART: the interrupted connect() returns EINTR
  if (::sigaction(kInterruptSignal, &sa, nullptr) != 0) return fail("network", "sigaction", "connect broker interrupt signal");
  // The sandbox's network namespace, to tell sockets made here from the host's.
  Fd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  socklen_t cl = sizeof g_cookie;
  if (probe.get() < 0 || ::getsockopt(probe.get(), SOL_SOCKET, SO_NETNS_COOKIE, &g_cookie, &cl) != 0 || g_cookie == 0)
    return fail("network", "getsockopt", "SO_NETNS_COOKIE (Linux 5.14+) for the connect broker");
  // Allowlist networking starts with two (a connect may wait on the supervisor); the unix-socket
  // guard alone with one, which makes another when it takes the first notification.
  spawn_worker();
  if (network_brokered()) spawn_worker();
  if (g_total.load() == 0) return fail("network", "pthread_create", "connect broker");
  g_running = true;
  return true;
}

void broker_run(int listener) {
  // Linux 6.6+: the caller and the worker hand over on one CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP),
  // which roughly halves a brokered connect's round trip. Older kernels: EINVAL, no harm.
  uint64_t sync_wake = 1;
  ::ioctl(listener, 0x40082104UL /* SECCOMP_IOCTL_NOTIF_SET_FLAGS */, sync_wake);
  pthread_mutex_lock(&g_mu);
  g_listener = listener;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

bool broker_running() { return g_running; }

bool broker_read_replies() {
  Reply reply;
  int fd = -1;
  unsigned nfds = 0;
  ssize_t n = recv_with_fds(kStatusFd, &reply, sizeof reply, &fd, 1, &nfds);
  if (nfds == 0) fd = -1;
  if (n == 0) return false;
  // Anything else on this stream is a protocol error: stop trusting it.
  if (n != sizeof reply || reply.magic != kReplyMagic) {
    if (fd >= 0) ::close(fd);
    return false;
  }
  pthread_mutex_lock(&g_mu);
  auto it = g_waiting.find(reply.request);
  if (it == g_waiting.end()) {
    pthread_mutex_unlock(&g_mu);
    if (fd >= 0) ::close(fd);
    return true;
  }
  Pending* p = it->second;
  g_waiting.erase(it);
  p->done = true;
  p->error = reply.error == 0 && fd < 0 ? ECONNREFUSED : reply.error;
  if (p->error == 0) {
    p->fd = fd;
  } else if (fd >= 0) {
    ::close(fd);
  }
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  return true;
}

void broker_supervisor_gone() {
  pthread_mutex_lock(&g_mu);
  g_gone = true;
  for (auto& [request, p] : g_waiting) {
    p->done = true;
    p->error = ECONNREFUSED;
  }
  g_waiting.clear();
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

}  // namespace cordon

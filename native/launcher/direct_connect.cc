// cordon – pid 1's side of supervised connect() in allowlist networking: no relay on the data path.
//
// With an allowlist, the seccomp filter sends every connect() to pid 1 (SECCOMP_RET_USER_NOTIF).
//   * A destination the capture chain would NOT redirect (the sandbox's own loopback, cordon's DNS and
//     proxy ports, unroutable addresses) continues (SECCOMP_USER_NOTIF_FLAG_CONTINUE) into the empty
//     network namespace, which decides as before. Continuing is safe despite the usual TOCTOU caveat:
//     if the caller rewrites the address after we read it, the kernel connects to the new one inside
//     the netns, where the capture chain still redirects it to the supervisor's relay.
//   * A captured TCP destination is asked of the supervisor ("NET CONNECT <id> <addr> <port>" on the
//     status fd). It applies the rules, resolves, connects from the host and sends the connected
//     socket back over the status fd (SCM_RIGHTS). Pid 1 gives it the caller's blocking mode,
//     installs it over the caller's fd number (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD: dup2
//     semantics, the caller's close-on-exec flag) and answers connect() with 0. The syscall is never re-run with the
//     caller's memory, so nothing can be swapped under the decision. Traffic then flows kernel to
//     kernel with no copy through a relay.
//   * A refusal is answered with its errno (ECONNREFUSED for a denial) at once.
// Whenever this path cannot be taken (the caller's /proc entries unreadable, not a TCP socket, an IPv4-mapped address
// on an IPv6 socket, too many waiting), the connect continues and the relay path polices it, so a
// failure here costs speed, never enforcement. If the supervisor goes away, captured connects are
// refused (fail closed).
#include "direct_connect.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "fd_passing.h"
#include "network.h"
#include "report.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

namespace cordon {
namespace {

constexpr uint32_t kAuditArchX8664 = 0xc000003eU;
constexpr uint32_t kUserNotifFlagContinue = 1;
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
// The supervisor's reply: 12 bytes, with the connected socket attached when error == 0.
constexpr uint32_t kReplyMagic = 0x31524e43;  // "CNR1"
struct Reply {
  uint32_t magic;
  uint32_t request;
  int32_t error;
};
constexpr size_t kMaxWaiting = 256;

struct Waiting {
  uint64_t notif_id;
  int target_fd;  // the fd number in the caller
  bool nonblock;  // the caller's socket was non-blocking: so is the one it gets
  bool cloexec;
};

std::map<uint32_t, Waiting> g_waiting;
uint32_t g_next_request = 1;
bool g_gone = false;

void respond(int listener, uint64_t id, int error, uint32_t flags = 0) {
  abi::SeccompNotifResp resp = {id, 0, error ? -error : 0, flags};
  ::ioctl(listener, abi::kSeccompIoctlNotifSend, &resp);
}

void continue_syscall(int listener, uint64_t id) { respond(listener, id, 0, kUserNotifFlagContinue); }

// Pid 1 runs under the sandbox's own seccomp filter, which refuses pidfd_getfd and
// process_vm_readv: everything about the caller is read through its /proc entries instead.

// The caller's fd flags (O_NONBLOCK on the file, O_CLOEXEC on the fd), from fdinfo.
bool read_fd_flags(pid_t pid, int fd, unsigned long* flags) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  int f = ::open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return false;
  char buf[512];
  ssize_t n = ::read(f, buf, sizeof buf - 1);
  ::close(f);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* field = std::strstr(buf, "flags:");
  if (!field) return false;
  *flags = std::strtoul(field + 6, nullptr, 8);
  return true;
}

// Is the caller's fd a TCP socket of `family`? sockfs names each socket's protocol in an xattr.
bool is_tcp_socket(pid_t pid, int fd, int family) {
  char path[64], proto[16] = "";
  std::snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
  ssize_t n = ::getxattr(path, "system.sockprotoname", proto, sizeof proto - 1);
  if (n <= 0) return false;
  proto[n] = '\0';
  return std::strcmp(proto, family == AF_INET ? "TCP" : "TCPv6") == 0;
}

// Reads the destination from the caller's memory (it is stopped in connect()).
bool read_memory(pid_t pid, uint64_t address, void* out, size_t len) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/mem", pid);
  int f = ::open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return false;
  ssize_t n = ::pread(f, out, len, static_cast<off_t>(address));
  ::close(f);
  return n == static_cast<ssize_t>(len);
}

}  // namespace

bool handle_connect(int listener, const abi::SeccompNotif& req) {
  if (!network_supervised() || req.data.arch != kAuditArchX8664 || req.data.nr != __NR_connect) return false;
  const pid_t pid = static_cast<pid_t>(req.pid);
  const int target_fd = static_cast<int>(req.data.args[0]);
  sockaddr_storage sa;
  std::memset(&sa, 0, sizeof sa);
  size_t len = req.data.args[2] < sizeof sa ? static_cast<size_t>(req.data.args[2]) : sizeof sa;
  if (len < sizeof(sa_family_t) || !read_memory(pid, req.data.args[1], &sa, len)) {
    continue_syscall(listener, req.id);
    return true;
  }
  int family = sa.ss_family;
  const unsigned char* addr = nullptr;
  uint16_t port = 0;
  if (family == AF_INET && len >= sizeof(sockaddr_in)) {
    auto* in = reinterpret_cast<sockaddr_in*>(&sa);
    addr = reinterpret_cast<const unsigned char*>(&in->sin_addr);
    port = ntohs(in->sin_port);
  } else if (family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&sa);
    // IPv4-mapped on a dual-stack socket: the relay path keeps the caller's address family exact.
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) addr = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
    port = ntohs(in6->sin6_port);
  }
  if (!addr || !is_captured(family, addr, port)) {
    continue_syscall(listener, req.id);
    return true;
  }
  if (g_gone) {
    respond(listener, req.id, ECONNREFUSED);
    return true;
  }
  unsigned long flags = 0;
  if (g_waiting.size() >= kMaxWaiting || !is_tcp_socket(pid, target_fd, family) || !read_fd_flags(pid, target_fd, &flags)) {
    continue_syscall(listener, req.id);
    return true;
  }
  // Everything above was read by pid: it counts only if the caller is still the one stopped in
  // connect() (a dead caller's pid could have been reused).
  uint64_t id = req.id;
  if (::ioctl(listener, kIoctlNotifIdValid, &id) != 0) return true;
  uint32_t request = g_next_request++;
  g_waiting[request] = Waiting{req.id, target_fd, (flags & O_NONBLOCK) != 0, (flags & O_CLOEXEC) != 0};
  char text[INET6_ADDRSTRLEN] = "";
  ::inet_ntop(family, addr, text, sizeof text);
  char line[128];
  std::snprintf(line, sizeof line, "NET CONNECT %u %s %u\n", request, text, port);
  report_line(line);
  return true;
}

bool read_supervisor_replies(int listener) {
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
  auto it = g_waiting.find(reply.request);
  if (it == g_waiting.end()) {
    if (fd >= 0) ::close(fd);
    return true;
  }
  Waiting w = it->second;
  g_waiting.erase(it);
  if (reply.error != 0 || fd < 0) {
    int err = reply.error > 0 && reply.error < 4096 ? reply.error : ECONNREFUSED;
    respond(listener, w.notif_id, err);
  } else {
    // The supervisor's socket arrives non-blocking (Node's); the caller's blocking mode wins.
    // Options the caller set before connect() stay with its old socket; the new one has the
    // host's defaults (like the relay path, whose upstream socket was the supervisor's own).
    int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0) ::fcntl(fd, F_SETFL, w.nonblock ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
    NotifAddfd add = {w.notif_id, kAddfdFlagSetfd, static_cast<uint32_t>(fd), static_cast<uint32_t>(w.target_fd),
                      w.cloexec ? static_cast<uint32_t>(O_CLOEXEC) : 0u};
    if (::ioctl(listener, kIoctlNotifAddfd, &add) >= 0) respond(listener, w.notif_id, 0);
    else if (errno != ENOENT) respond(listener, w.notif_id, ECONNABORTED);  // ENOENT: the caller is gone
  }
  if (fd >= 0) ::close(fd);
  return true;
}

void supervisor_gone(int listener) {
  g_gone = true;
  for (auto& [request, w] : g_waiting) {
    respond(listener, w.notif_id, ECONNREFUSED);
  }
  g_waiting.clear();
}

}  // namespace cordon

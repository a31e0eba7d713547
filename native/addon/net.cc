// cordon – the native addon (Linux): what Node cannot do on its own. The network supervisor's
// helpers are here; the launch server's fd plumbing is in fds.cc.
//   socketpair()          → [ours, theirs]  AF_UNIX SOCK_SEQPACKET, both close-on-exec (spawn's
//                                            stdio dup2 clears the flag on the launcher's copy)
//   receiveFds(fd)        → {names, fds} | null   one SCM_RIGHTS message, non-blocking; the fds
//                                            arrive close-on-exec so no other child inherits them
//   originalDst(fd)       → {address, port, family} | null   SO_ORIGINAL_DST (IPv4) / IP6T_SO_ORIGINAL_DST
//   relay(a, b, preAB, preBA, group)        splices bytes a⇄b in two native threads (zero-copy
//                                            splice(2) through a pipe), after writing the prefixes;
//                                            dups both fds, so the caller closes its own handles
//   relayCount(group) → count               relays of a group still running
//   abortRelays(group) → count               ends a group's relays at once (both ends reset)
//   sendConnected(fd, request, error, socketFd)   the reply to a brokered connect (launcher's
//                                            connect_broker.cc): 12 bytes, the socket attached
//                                            (SCM_RIGHTS) when error is 0, after a second connect()
//                                            makes it SS_CONNECTED; error -1 = "use the relay";
//                                            false if it would block
//   close(fd)
// Errors are thrown as Error objects with `code` (errno name) and `errno`.
#include <napi.h>

#include "errors.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

void RegisterFdHelpers(Napi::Env env, Napi::Object exports);  // fds.cc
Napi::Value SendWithFds(Napi::Env env, int fd, const void* data, size_t len, const int* fds, size_t nfds);  // fds.cc
void RegisterDirWatch(Napi::Env env, Napi::Object exports);   // dirwatch.cc
void RegisterEnviron(Napi::Env env, Napi::Object exports);    // environ.cc

namespace {

using cordon_addon::ThrowErrno;

bool FdArg(const Napi::CallbackInfo& info, int* fd) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "expected a file descriptor").ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[0].As<Napi::Number>().Int32Value();
  return true;
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return ThrowErrno(info.Env(), "socketpair", errno);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  out.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return out;
}

Napi::Value ReceiveFds(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, &fd)) return info.Env().Undefined();
  char data[256];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
  iovec iov = {data, sizeof data};
  msghdr mh;
  std::memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return info.Env().Null();
    return ThrowErrno(info.Env(), "recvmsg", errno);
  }
  Napi::Array fds = Napi::Array::New(info.Env());
  uint32_t count = 0;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof got);
      fds.Set(count++, Napi::Number::New(info.Env(), got));
    }
  }
  if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
    for (uint32_t i = 0; i < count; ++i) ::close(fds.Get(i).As<Napi::Number>().Int32Value());
    return ThrowErrno(info.Env(), "recvmsg (truncated)", EMSGSIZE);
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("names", Napi::String::New(info.Env(), data, static_cast<size_t>(n)));
  out.Set("fds", fds);
  return out;
}

Napi::Value OriginalDst(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, &fd)) return info.Env().Undefined();
  sockaddr_storage local;
  socklen_t len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return ThrowErrno(info.Env(), "getsockname", errno);
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  len = sizeof ss;
  char text[INET6_ADDRSTRLEN] = {0};
  int port;
  Napi::Object out = Napi::Object::New(info.Env());
  if (local.ss_family == AF_INET) {
    if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) != 0) {
      if (errno == ENOENT) return info.Env().Null();  // not a redirected connection
      return ThrowErrno(info.Env(), "getsockopt(SO_ORIGINAL_DST)", errno);
    }
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text);
    port = ntohs(sa->sin_port);
    out.Set("family", Napi::Number::New(info.Env(), 4));
  } else if (local.ss_family == AF_INET6) {
    if (::getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) != 0) {
      if (errno == ENOENT) return info.Env().Null();
      return ThrowErrno(info.Env(), "getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
    }
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &sa->sin6_addr, text, sizeof text);
    port = ntohs(sa->sin6_port);
    out.Set("family", Napi::Number::New(info.Env(), 6));
  } else {
    return ThrowErrno(info.Env(), "originalDst", EAFNOSUPPORT);
  }
  out.Set("address", Napi::String::New(info.Env(), text));
  out.Set("port", Napi::Number::New(info.Env(), port));
  return out;
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, &fd)) return info.Env().Undefined();
  ::close(fd);
  return info.Env().Undefined();
}

// ---- relays --------------------------------------------------------------------------------------

struct Relay {
  int a = -1, b = -1;
  double group = 0;
  std::atomic<int> live{2};
  std::atomic<bool> reset{false};
};

std::mutex g_relays_mu;
std::map<Relay*, std::shared_ptr<Relay>> g_relays;

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void finish(const std::shared_ptr<Relay>& r) {
  if (r->live.fetch_sub(1) != 1) return;
  {
    std::lock_guard<std::mutex> lock(g_relays_mu);
    g_relays.erase(r.get());
  }
  if (r->reset) {  // close with a zero linger: both peers see a reset, as if the connection broke
    linger lg = {1, 0};
    ::setsockopt(r->a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::setsockopt(r->b, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  ::close(r->a);
  ::close(r->b);
}

void pump(std::shared_ptr<Relay> r, int in, int out, std::string prefix) {
  bool ok = write_all(out, prefix);
  int p[2] = {-1, -1};
  if (ok && ::pipe2(p, O_CLOEXEC) == 0) {
    ::fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    for (;;) {
      ssize_t n = ::splice(in, nullptr, p[1], nullptr, 1 << 20, SPLICE_F_MOVE);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) break;  // EOF: pass the half-close on
      if (n < 0) {
        ok = false;
        break;
      }
      while (n > 0) {
        ssize_t m = ::splice(p[0], nullptr, out, nullptr, static_cast<size_t>(n), SPLICE_F_MOVE);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) {
          ok = false;
          break;
        }
        n -= m;
      }
      if (!ok) break;
    }
  } else {
    ok = false;
  }
  if (p[0] >= 0) ::close(p[0]);
  if (p[1] >= 0) ::close(p[1]);
  if (ok && !r->reset) {
    ::shutdown(out, SHUT_WR);
  } else {
    r->reset = true;
    ::shutdown(r->a, SHUT_RDWR);
    ::shutdown(r->b, SHUT_RDWR);
  }
  finish(r);
}

struct PumpArgs {
  std::shared_ptr<Relay> r;
  int in, out;
  std::string prefix;
};

void* pump_thread(void* p) {
  std::unique_ptr<PumpArgs> a(static_cast<PumpArgs*>(p));
  pump(a->r, a->in, a->out, std::move(a->prefix));
  return nullptr;
}

// A small detached thread (the loop needs little stack); false when the process is out of threads.
bool start_pump(const std::shared_ptr<Relay>& r, int in, int out, std::string prefix) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 128 * 1024);
  auto* args = new PumpArgs{r, in, out, std::move(prefix)};
  pthread_t t;
  int rc = pthread_create(&t, &attr, pump_thread, args);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete args;
    errno = rc;
    return false;
  }
  return true;
}

std::string BufferArg(const Napi::Value& v) {
  if (!v.IsBuffer()) return std::string();
  auto b = v.As<Napi::Buffer<char>>();
  return std::string(b.Data(), b.Length());
}

int DupBlocking(int fd) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return -1;
  int fl = ::fcntl(d, F_GETFL);
  if (fl < 0 || ::fcntl(d, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    ::close(d);
    return -1;
  }
  return d;
}

Napi::Value StartRelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsNumber() || !info[4].IsNumber()) {
    Napi::TypeError::New(env, "relay(a, b, preAB, preBA, group)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto r = std::make_shared<Relay>();
  r->a = DupBlocking(info[0].As<Napi::Number>().Int32Value());
  r->b = DupBlocking(info[1].As<Napi::Number>().Int32Value());
  r->group = info[4].As<Napi::Number>().DoubleValue();
  if (r->a < 0 || r->b < 0) {
    int err = errno;
    if (r->a >= 0) ::close(r->a);
    if (r->b >= 0) ::close(r->b);
    return ThrowErrno(env, "relay: dup", err);
  }
  {
    std::lock_guard<std::mutex> lock(g_relays_mu);
    g_relays[r.get()] = r;
  }
  if (!start_pump(r, r->a, r->b, BufferArg(info[2]))) {
    int err = errno;
    r->reset = true;
    r->live = 1;  // the one finish() below closes both ends
    finish(r);
    return ThrowErrno(env, "relay: pthread_create", err);
  }
  if (!start_pump(r, r->b, r->a, BufferArg(info[3]))) {
    int err = errno;
    r->reset = true;  // the running pump sees the shutdown and finishes the relay
    ::shutdown(r->a, SHUT_RDWR);
    ::shutdown(r->b, SHUT_RDWR);
    finish(r);
    return ThrowErrno(env, "relay: pthread_create", err);
  }
  return env.Undefined();
}

Napi::Value RelayCount(const Napi::CallbackInfo& info) {
  double group = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  int count = 0;
  std::lock_guard<std::mutex> lock(g_relays_mu);
  for (auto& [key, r] : g_relays) count += r->group == group;
  return Napi::Number::New(info.Env(), count);
}

Napi::Value AbortRelays(const Napi::CallbackInfo& info) {
  double group = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  int count = 0;
  std::lock_guard<std::mutex> lock(g_relays_mu);
  for (auto& [key, r] : g_relays) {
    if (r->group != group) continue;
    r->reset = true;
    ::shutdown(r->a, SHUT_RDWR);
    ::shutdown(r->b, SHUT_RDWR);
    ++count;
  }
  return Napi::Number::New(info.Env(), count);
}

// The wire format connect_broker.cc reads: magic "CNR1", request id, errno (0 = connected).
constexpr uint32_t kReplyMagic = 0x31524e43;

Napi::Value SendConnected(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, &fd)) return info.Env().Undefined();
  if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    Napi::TypeError::New(info.Env(), "sendConnected(fd, request, error, socketFd)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  uint32_t reply[3] = {kReplyMagic, info[1].As<Napi::Number>().Uint32Value(), static_cast<uint32_t>(info[2].As<Napi::Number>().Int32Value())};
  int sock = info[3].As<Napi::Number>().Int32Value();
  if (sock >= 0 && reply[2] == 0) {
    // Node's connect() was non-blocking, which leaves the socket layer's state at SS_CONNECTING even
    // once TCP is established; a second connect() moves it to SS_CONNECTED (0, or EISCONN if it was
    // already). Only an SS_CONNECTED socket is safe in the sandbox: from SS_CONNECTING, a
    // sendmsg(MSG_FASTOPEN) after a reset disconnects it (connect_broker.cc has the argument).
    sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    bool connected = ::getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &plen) == 0 &&
                     (::connect(sock, reinterpret_cast<sockaddr*>(&peer), plen) == 0 || errno == EISCONN);
    if (!connected) {
      reply[2] = static_cast<uint32_t>(ECONNREFUSED);
      sock = -1;
    }
  }
  // A stream socket takes all 12 bytes or none of a message this small, short of a full buffer.
  const bool attach = sock >= 0 && reply[2] == 0;
  return SendWithFds(info.Env(), fd, reply, sizeof reply, &sock, attach ? 1 : 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterFdHelpers(env, exports);
  RegisterDirWatch(env, exports);
  RegisterEnviron(env, exports);
  exports.Set("sendConnected", Napi::Function::New(env, SendConnected));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair));
  exports.Set("receiveFds", Napi::Function::New(env, ReceiveFds));
  exports.Set("originalDst", Napi::Function::New(env, OriginalDst));
  exports.Set("relay", Napi::Function::New(env, StartRelay));
  exports.Set("relayCount", Napi::Function::New(env, RelayCount));
  exports.Set("abortRelays", Napi::Function::New(env, AbortRelays));
  exports.Set("close", Napi::Function::New(env, Close));
  return exports;
}

}  // namespace

NODE_API_MODULE(cordon_net, Init)

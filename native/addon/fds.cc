// cordon – fd plumbing for the launch server (src/linux/launch-server.ts), part of the native addon:
//   pipe()                    → [read, write]   pipe2(O_CLOEXEC)
//   streamPair()              → [ours, theirs]  AF_UNIX SOCK_STREAM socketpair, both close-on-exec
//   dup(fd)                   → fd              a close-on-exec copy (F_DUPFD_CLOEXEC)
//   sendFds(fd, payload, fds) → bool            one sendmsg with SCM_RIGHTS (non-blocking); false
//                                               if it would block or the peer is gone
#include <napi.h>

#include "../launcher/fd_passing.h"
#include "errors.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace {

using cordon_addon::ThrowErrno;

Napi::Value Pair(Napi::Env env, const int (&fds)[2]) {
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ThrowErrno(info.Env(), "pipe2", errno);
  return Pair(info.Env(), fds);
}

Napi::Value StreamPair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return ThrowErrno(info.Env(), "socketpair", errno);
  return Pair(info.Env(), fds);
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "dup(fd)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  int fd = ::fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(info.Env(), "fcntl(F_DUPFD_CLOEXEC)", errno);
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

// One non-blocking sendmsg of `data` with `fds` attached (SCM_RIGHTS, none when nfds is 0): true when
// all of it went, false when it would block or the peer is gone; other errors throw.
Napi::Value SendWithFds(Napi::Env env, int fd, const void* data, size_t len, const int* fds, size_t nfds) {
  ssize_t n = cordon::sendmsg_with_fds(fd, data, len, fds, static_cast<unsigned>(nfds), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EPIPE || errno == ECONNRESET)) return Napi::Boolean::New(env, false);
  if (n < 0) return ThrowErrno(env, "sendmsg", errno);
  return Napi::Boolean::New(env, static_cast<size_t>(n) == len);
}

namespace {

Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "sendFds(fd, payload, fds)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto payload = info[1].As<Napi::Buffer<char>>();
  auto list = info[2].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length() && i < 8; ++i) fds.push_back(list.Get(i).As<Napi::Number>().Int32Value());
  return SendWithFds(env, fd, payload.Data(), payload.Length(), fds.data(), fds.size());
}

}  // namespace

void RegisterFdHelpers(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("streamPair", Napi::Function::New(env, StreamPair));
  exports.Set("dup", Napi::Function::New(env, Dup));
  exports.Set("sendFds", Napi::Function::New(env, SendFds));
}

// cordon – environGeneration(): a number that changes whenever the process environment does, so the caller's variables are enumerated only then (src/sandbox/env.ts).
//
// Reading process.env's names costs a copy of the whole environment (uv_os_environ) and a getenv()
// per value: ~50-90 µs of every command. The environment changes only through setenv/unsetenv/
// putenv (process.env assignments are setenv calls), and each of those changes the `environ`
// array: a new or removed pointer, or a new "NAME=value" string in place of the old one (glibc's
// setenv never rewrites a string it handed out, it allocates another). So an unchanged array of
// pointers means unchanged contents, and comparing it with the last one seen (no hashing: an exact
// compare) tells whether anything changed. The one change it cannot see is native code rewriting,
// in place, a buffer it gave to putenv(); nothing in Node does that (CORDON_ENV_CACHE=0 turns the
// cache off).
#include <napi.h>

#include <cstring>
#include <vector>

extern char** environ;

namespace {

std::vector<char*> g_seen;
double g_generation = 0;

Napi::Value EnvironGeneration(const Napi::CallbackInfo& info) {
  char** const env = environ;
  size_t n = 0;
  if (env != nullptr)
    while (env[n] != nullptr) ++n;
  const bool same = n == g_seen.size() && (n == 0 || std::memcmp(env, g_seen.data(), n * sizeof(char*)) == 0);
  if (!same) {
    g_seen.assign(env, env + n);
    ++g_generation;
  }
  return Napi::Number::New(info.Env(), g_generation);
}

}  // namespace

void RegisterEnviron(Napi::Env env, Napi::Object exports) {
  exports.Set("environGeneration", Napi::Function::New(env, EnvironGeneration));
}

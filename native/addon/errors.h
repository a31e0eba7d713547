// cordon – how the native addon reports a failed syscall to JavaScript: an Error with errno.
#pragma once
#include <napi.h>

#include <cstring>
#include <string>

namespace cordon_addon {

/** Throws Error("<what>: <strerror>") with `errno` set; returns undefined for `return` chains. */
inline Napi::Value ThrowErrno(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace cordon_addon

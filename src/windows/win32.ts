// cordon – loads koffi and the Win32 DLLs lazily (first use, Windows only) and declares every function cordon calls.
//
// Nothing here runs at import time: `win32()` loads koffi and the DLLs on first call, so importing
// src/windows on Linux never touches a Windows DLL. Functions that may be missing (AppContainer on
// Wine or old Windows, WFP, FirewallAPI) are looked up with `optional()` and reported, never fatal.
import { createRequire } from 'node:module';

import { defineStructs, type KoffiModule, type Structs } from './structs.js';

type Fn = ((...args: any[]) => any) & { async: (...args: any[]) => void };

export interface Win32 {
  koffi: KoffiModule;
  t: Structs;
  kernel32: Record<string, Fn>;
  advapi32: Record<string, Fn>;
  user32: Record<string, Fn>;
  /** userenv AppContainer APIs, or the reason they are unavailable. */
  userenv: Record<string, Fn> | string;
  /** WaitOrTimerCallback prototype for RegisterWaitForSingleObject. */
  waitCallback: ReturnType<KoffiModule['proto']>;
}

/** A failed Win32 call: which function, its error code (GetLastError, a returned DWORD or an HRESULT). */
export class Win32Error extends Error {
  constructor(readonly fn: string, readonly code: number, detail = '') {
    super(`${fn} failed: ${code >>> 0} (0x${(code >>> 0).toString(16)})${detail ? ` ${detail}` : ''}`);
    this.name = 'Win32Error';
  }
}

let cached: Win32 | undefined;

export function loadKoffi(): KoffiModule {
  return createRequire(import.meta.url)('koffi') as KoffiModule;
}

function declare(lib: ReturnType<KoffiModule['load']>, protos: readonly string[]): Record<string, Fn> {
  const out: Record<string, Fn> = {};
  for (const p of protos) {
    const name = /(\w+)\s*\(/.exec(p)![1]!;
    out[name] = lib.func(p) as Fn;
  }
  return out;
}

const KERNEL32 = [
  'uint32 __stdcall GetLastError()',
  'int __stdcall CloseHandle(void *h)',
  'void * __stdcall GetCurrentProcess()',
  'void * __stdcall CreateJobObjectW(SECURITY_ATTRIBUTES *sa, const char16_t *name)',
  'int __stdcall SetInformationJobObject(void *job, int cls, void *info, uint32 len)',
  'int __stdcall QueryInformationJobObject(void *job, int cls, void *info, uint32 len, _Out_ uint32 *ret)',
  'int __stdcall TerminateJobObject(void *job, uint32 code)',
  'int __stdcall InitializeProcThreadAttributeList(void *list, uint32 count, uint32 flags, _Inout_ size_t *size)',
  'int __stdcall UpdateProcThreadAttribute(void *list, uint32 flags, uintptr_t attr, void *value, size_t size, void *prev, void *ret)',
  'void __stdcall DeleteProcThreadAttributeList(void *list)',
  'int __stdcall CreateProcessW(const char16_t *app, void *cmdline, void *pa, void *ta, int inherit, uint32 flags, void *env, const char16_t *cwd, STARTUPINFOEXW *si, _Out_ PROCESS_INFORMATION *pi)',
  'uint32 __stdcall ResumeThread(void *thread)',
  'int __stdcall GetExitCodeProcess(void *process, _Out_ uint32 *code)',
  'uint32 __stdcall WaitForSingleObject(void *h, uint32 ms)',
  'int __stdcall RegisterWaitForSingleObject(_Out_ void **wait, void *h, WaitOrTimerCallback *cb, void *ctx, uint32 ms, uint32 flags)',
  'int __stdcall UnregisterWaitEx(void *wait, void *event)',
  'void * __stdcall CreateFileW(const char16_t *name, uint32 access, uint32 share, SECURITY_ATTRIBUTES *sa, uint32 disposition, uint32 flags, void *tmpl)',
  'void * __stdcall LocalFree(void *mem)',
] as const;

const ADVAPI32 = [
  'int __stdcall OpenProcessToken(void *process, uint32 access, _Out_ void **token)',
  'int __stdcall GetTokenInformation(void *token, int cls, void *info, uint32 len, _Out_ uint32 *ret)',
  'int __stdcall SetTokenInformation(void *token, int cls, void *info, uint32 len)',
  'int __stdcall CreateRestrictedToken(void *token, uint32 flags, uint32 nDisable, SID_AND_ATTRIBUTES *disable, uint32 nDelete, void *privs, uint32 nRestrict, SID_AND_ATTRIBUTES *restricting, _Out_ void **newToken)',
  'int __stdcall CreateProcessAsUserW(void *token, const char16_t *app, void *cmdline, void *pa, void *ta, int inherit, uint32 flags, void *env, const char16_t *cwd, STARTUPINFOEXW *si, _Out_ PROCESS_INFORMATION *pi)',
  'uint32 __stdcall GetNamedSecurityInfoW(const char16_t *name, int type, uint32 info, void *owner, void *group, _Out_ void **dacl, void *sacl, _Out_ void **sd)',
  'uint32 __stdcall SetNamedSecurityInfoW(const char16_t *name, int type, uint32 info, void *owner, void *group, void *dacl, void *sacl)',
  'uint32 __stdcall GetSecurityInfo(void *h, int type, uint32 info, void *owner, void *group, _Out_ void **dacl, void *sacl, _Out_ void **sd)',
  'uint32 __stdcall SetSecurityInfo(void *h, int type, uint32 info, void *owner, void *group, void *dacl, void *sacl)',
  'uint32 __stdcall SetEntriesInAclW(uint32 n, EXPLICIT_ACCESS_W *entries, void *oldAcl, _Out_ void **newAcl)',
  'uint32 __stdcall GetLengthSid(void *sid)',
  'void * __stdcall FreeSid(void *sid)',
  'int __stdcall ConvertSidToStringSidW(void *sid, _Out_ void **str)',
] as const;

const USER32 = [
  'void * __stdcall GetProcessWindowStation()',
  'int __stdcall GetUserObjectInformationW(void *obj, int index, void *info, uint32 len, _Out_ uint32 *needed)',
  'void * __stdcall CreateDesktopW(const char16_t *name, void *device, void *devmode, uint32 flags, uint32 access, SECURITY_ATTRIBUTES *sa)',
  'int __stdcall CloseDesktop(void *desk)',
] as const;

const USERENV = [
  'int32 __stdcall CreateAppContainerProfile(const char16_t *name, const char16_t *display, const char16_t *desc, SID_AND_ATTRIBUTES *caps, uint32 n, _Out_ void **sid)',
  'int32 __stdcall DeriveAppContainerSidFromAppContainerName(const char16_t *name, _Out_ void **sid)',
  'int32 __stdcall DeleteAppContainerProfile(const char16_t *name)',
] as const;

/** Declares `protos` from `dll`, or returns why that is impossible (missing DLL or export). */
export function optional(k: KoffiModule, dll: string, protos: readonly string[]): Record<string, Fn> | string {
  try {
    return declare(k.load(dll), protos);
  } catch (e) {
    return `${dll}: ${(e as Error).message}`;
  }
}

export function win32(): Win32 {
  if (cached) return cached;
  if (process.platform !== 'win32') throw new Error('Win32 bindings are only available on Windows');
  const koffi = loadKoffi();
  const t = defineStructs(koffi);
  const waitCallback = koffi.proto('void __stdcall WaitOrTimerCallback(void *ctx, uint8 timedOut)');
  cached = {
    koffi,
    t,
    waitCallback,
    kernel32: declare(koffi.load('kernel32.dll'), KERNEL32),
    advapi32: declare(koffi.load('advapi32.dll'), ADVAPI32),
    user32: declare(koffi.load('user32.dll'), USER32),
    userenv: optional(koffi, 'userenv.dll', USERENV),
  };
  return cached;
}

export function lastError(w: Win32): number {
  return w.kernel32.GetLastError!() as number;
}

/** Throws Win32Error(fn, GetLastError()) when a BOOL/handle-returning call failed. */
export function check<T>(w: Win32, fn: string, result: T): T {
  if (!result || isInvalidHandle(w, result)) throw new Win32Error(fn, lastError(w));
  return result;
}

/** Throws when a call that returns a DWORD error code (0 = success) failed. */
export function checkCode(fn: string, code: number): void {
  if (code !== 0) throw new Win32Error(fn, code);
}

export function isInvalidHandle(w: Win32, h: unknown): boolean {
  return typeof h === 'object' && h !== null && w.koffi.address(h) === 0xffffffffffffffffn;
}

/** NUL-terminated UTF-16LE, for wide-string pointers stored in structs. */
export function wide(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf16le');
}

/** Reads the binary SID at `ptr` (any pointer koffi returned) into a Buffer. */
export function readSid(w: Win32, ptr: unknown): Buffer {
  const head = w.koffi.decode(ptr, w.koffi.array('uint8', 8, 'Typed')) as Uint8Array;
  const len = 8 + 4 * head[1]!;
  return Buffer.from(w.koffi.decode(ptr, w.koffi.array('uint8', len, 'Typed')) as Uint8Array);
}

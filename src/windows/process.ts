// cordon – CreateProcess(AsUser)W with STARTUPINFOEXW: handle list, job list, mitigations, AppContainer capabilities.
//
// Every value an attribute points at lives in koffi-allocated memory until CreateProcess returns (the
// list stores pointers, not copies). The child starts suspended, is already in its job (JOB_LIST, no
// assign race) and inherits exactly the three stdio handles (HANDLE_LIST).
import { C } from './consts.js';
import { Arena } from './arena.js';
import { sidToBytes } from './sid.js';
import { check, Win32Error, wide, type Win32 } from './win32.js';

export interface LaunchSpec {
  /** Restricted token (default mode), or null to launch with SECURITY_CAPABILITIES (strict mode). */
  token: unknown | null;
  appContainer: { sid: string; capabilities: readonly string[] } | null;
  job: unknown;
  desktop: string;
  application: string;
  commandLine: string;
  env: Buffer;
  cwd: string;
  stdio: [unknown, unknown, unknown];
  mitigations: bigint;
}

export interface Launched {
  process: unknown;
  pid: number;
}

function attribute(w: Win32, list: unknown, attr: number, value: unknown, size: number): void {
  check(w, `UpdateProcThreadAttribute(0x${attr.toString(16)})`, w.kernel32.UpdateProcThreadAttribute!(list, 0, attr, value, size, null, null));
}

function securityCapabilities(w: Win32, arena: Arena, ac: NonNullable<LaunchSpec['appContainer']>): unknown {
  const caps = ac.capabilities.map((s) => ({ Sid: arena.bytes(sidToBytes(s)), Attributes: C.SE_GROUP_ENABLED }));
  const capsPtr = caps.length > 0 ? arena.put(w.t.SID_AND_ATTRIBUTES, caps) : null;
  return arena.put(w.t.SECURITY_CAPABILITIES, [{
    AppContainerSid: arena.bytes(sidToBytes(ac.sid)), Capabilities: capsPtr, CapabilityCount: caps.length, Reserved: 0,
  }]);
}

export function launch(w: Win32, spec: LaunchSpec): Launched {
  const arena = new Arena(w);
  const count = spec.appContainer ? 4 : 3;
  const size = [0];
  w.kernel32.InitializeProcThreadAttributeList!(null, count, 0, size);
  const list = arena.alloc('uint8', size[0]!);
  check(w, 'InitializeProcThreadAttributeList', w.kernel32.InitializeProcThreadAttributeList!(list, count, 0, size));
  try {
    const ptr = 8;
    attribute(w, list, C.PROC_THREAD_ATTRIBUTE_HANDLE_LIST, arena.put('void *', [...spec.stdio]), ptr * 3);
    attribute(w, list, C.PROC_THREAD_ATTRIBUTE_JOB_LIST, arena.put('void *', [spec.job]), ptr);
    attribute(w, list, C.PROC_THREAD_ATTRIBUTE_MITIGATION_POLICY, arena.put('uint64', [spec.mitigations]), 8);
    if (spec.appContainer) {
      attribute(w, list, C.PROC_THREAD_ATTRIBUTE_SECURITY_CAPABILITIES, securityCapabilities(w, arena, spec.appContainer),
        w.koffi.sizeof(w.t.SECURITY_CAPABILITIES));
    }
    const si = {
      StartupInfo: {
        cb: w.koffi.sizeof(w.t.STARTUPINFOEXW), lpReserved: null, lpDesktop: wide(spec.desktop), lpTitle: null,
        dwX: 0, dwY: 0, dwXSize: 0, dwYSize: 0, dwXCountChars: 0, dwYCountChars: 0, dwFillAttribute: 0,
        dwFlags: C.STARTF_USESTDHANDLES, wShowWindow: 0, cbReserved2: 0, lpReserved2: null,
        hStdInput: spec.stdio[0], hStdOutput: spec.stdio[1], hStdError: spec.stdio[2],
      },
      lpAttributeList: list,
    };
    const flags = C.EXTENDED_STARTUPINFO_PRESENT | C.CREATE_SUSPENDED | C.CREATE_UNICODE_ENVIRONMENT |
      C.CREATE_NO_WINDOW | C.CREATE_NEW_PROCESS_GROUP;
    const pi: Record<string, any> = {};
    const cmd = wide(spec.commandLine); // CreateProcess may write into the command line: a private buffer
    const ok = spec.token
      ? w.advapi32.CreateProcessAsUserW!(spec.token, spec.application, cmd, null, null, 1, flags, spec.env, spec.cwd, si, pi)
      : w.kernel32.CreateProcessW!(spec.application, cmd, null, null, 1, flags, spec.env, spec.cwd, si, pi);
    if (!ok) throw new Win32Error(spec.token ? 'CreateProcessAsUserW' : 'CreateProcessW', w.kernel32.GetLastError!());
    if ((w.kernel32.ResumeThread!(pi.hThread) as number) === 0xffffffff) {
      const err = new Win32Error('ResumeThread', w.kernel32.GetLastError!());
      w.kernel32.TerminateJobObject!(spec.job, 1);
      w.kernel32.CloseHandle!(pi.hThread);
      w.kernel32.CloseHandle!(pi.hProcess);
      throw err;
    }
    w.kernel32.CloseHandle!(pi.hThread);
    return { process: pi.hProcess, pid: Number(pi.dwProcessId) };
  } finally {
    w.kernel32.DeleteProcThreadAttributeList!(list);
    arena.free();
  }
}

/** Resolves with the exit code once `process` is signalled, without blocking the event loop or a pool thread. */
export function waitForExit(w: Win32, process: unknown): Promise<number> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const waitHandle = [null];
    let registered: unknown = null;
    const finish = () => {
      if (registered) {
        w.kernel32.UnregisterWaitEx!(waitHandle[0], null);
        w.koffi.unregister(registered as never);
        registered = null;
      }
      clearInterval(keepAlive);
      const code = [0];
      w.kernel32.GetExitCodeProcess!(process, code);
      resolve(code[0]! >>> 0);
    };
    registered = w.koffi.register(() => setImmediate(finish), w.koffi.pointer(w.waitCallback));
    const ok = w.kernel32.RegisterWaitForSingleObject!(waitHandle, process, registered, null, C.INFINITE, C.WT_EXECUTEONLYONCE);
    if (!ok) {
      // No thread-pool wait (should not happen): poll instead.
      w.koffi.unregister(registered as never);
      registered = null;
      const poll = setInterval(() => {
        if (w.kernel32.WaitForSingleObject!(process, 0) === C.WAIT_OBJECT_0) {
          clearInterval(poll);
          finish();
        }
      }, 10);
    }
  });
}

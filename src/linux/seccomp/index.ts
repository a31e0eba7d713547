// cordon – the seccomp filter of the Linux sandbox: policy (policy.ts) → classic BPF (generate.ts).
// The launcher installs `program` in the sandbox's pid 1 right before it forks the command; if the
// program uses SECCOMP_RET_USER_NOTIF, pid 1 answers each denied syscall with -errno (EPERM unless
// `notifyErrno` names another) and reports it as a violation.
import { encode } from './bpf.js';
import { type FilterOptions, generateFilter } from './generate.js';

export type { FilterOptions } from './generate.js';
export type { NetworkMode } from './policy.js';
export { explainSeccomp } from './explain.js';

export interface SeccompFilter {
  /** struct sock_filter[] as raw bytes (8 bytes each, little-endian). */
  program: Buffer;
  /** (syscall nr, errno) for denied-with-violation syscalls answered with something other than EPERM. */
  notifyErrno: Array<[number, number]>;
}

const cache = new Map<string, SeccompFilter>();

/** Builds (once per options; it is a pure function) the seccomp program for a sandbox. */
export function buildSeccompFilter(options: FilterOptions): SeccompFilter {
  const key = `${options.network}/${options.denyAction ?? 'notify'}/${options.guardSetid ? 'setid' : ''}/${options.superviseConnect === false ? 'kernel-connect' : ''}`;
  let f = cache.get(key);
  if (!f) {
    const g = generateFilter(options);
    f = { program: encode(g.insns), notifyErrno: g.notifyErrno };
    cache.set(key, f);
  }
  // Copies: callers may keep or modify what they get without touching the cache.
  return { program: Buffer.from(f.program), notifyErrno: f.notifyErrno.map(([nr, e]) => [nr, e]) };
}

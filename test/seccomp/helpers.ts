// Shared by the seccomp tests: the generated filter, and what the policy says each number should get.
import { AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_USER_NOTIF, retErrno } from '../../dist/linux/seccomp/bpf.js';
import { type GeneratedFilter, generateFilter } from '../../dist/linux/seccomp/generate.js';
import { runFilter } from '../../dist/linux/seccomp/interpreter.js';
import { EPERM, ENOSYS, evaluateArgCheck, syscallNumber, type SyscallRule } from '../../dist/linux/seccomp/policy.js';

export const filters: Record<'notify' | 'errno', GeneratedFilter> = {
  notify: generateFilter({ network: 'none' }),
  errno: generateFilter({ network: 'none', denyAction: 'errno' }),
};

export const nr = syscallNumber;

/** What the policy model says `nr` with `args` must return. */
export function expected(rule: SyscallRule | undefined, args: readonly bigint[], denyAction: 'notify' | 'errno'): number {
  const deny = (errno: number): number => (denyAction === 'notify' ? SECCOMP_RET_USER_NOTIF : retErrno(errno));
  if (!rule) return retErrno(ENOSYS);
  const a = rule.action;
  switch (a.kind) {
    case 'allow':
      return SECCOMP_RET_ALLOW;
    case 'errno':
      return retErrno(a.errno);
    case 'deny':
      return deny(a.errno);
    case 'args':
      return evaluateArgCheck(a.check, args) === 'allow' ? SECCOMP_RET_ALLOW : deny(EPERM);
    case 'supervise':
      return denyAction === 'notify' ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
  }
}

/** Runs the notify-mode filter for an x86-64 syscall. */
export function x64(name: string, args: readonly bigint[] = [], f: GeneratedFilter = filters.notify): number {
  return runFilter(f.insns, { nr: nr(name), arch: AUDIT_ARCH_X86_64, args }).ret;
}

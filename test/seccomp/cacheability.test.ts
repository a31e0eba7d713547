// The hot path proof: every allowed syscall is decided by its number alone, so the kernel's action
// cache (seccomp_is_const_allow) takes it and it costs no BPF run. Fails if an argument check, or a
// load of the instruction pointer, lands on the path of an allowed syscall.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AUDIT_ARCH_X86_64,
  OP_LD_ABS,
  SECCOMP_DATA_IP,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_USER_NOTIF,
  argLow,
} from '../../dist/linux/seccomp/bpf.js';
import { compilePolicy, generateFilter } from '../../dist/linux/seccomp/generate.js';
import { proveCacheable, runFilter } from '../../dist/linux/seccomp/interpreter.js';
import { type SyscallRule, syscallPolicy } from '../../dist/linux/seccomp/policy.js';
import { filters, nr } from './helpers.js';

/**
 * Syscalls that dominate real workloads: they must stay plain `allow`, whatever else changes.
 * (connect() is not among them: pid 1 performs it, a constant USER_NOTIF, test below.)
 */
const HOT = [
  'read', 'write', 'openat', 'close', 'fstat', 'newfstatat', 'statx', 'lseek', 'pread64', 'pwrite64', 'readv',
  'writev', 'mmap', 'mprotect', 'munmap', 'brk', 'madvise', 'mremap', 'futex', 'epoll_wait', 'epoll_pwait',
  'epoll_ctl', 'poll', 'ppoll', 'ioctl', 'fcntl', 'getdents64', 'getpid', 'gettid', 'clock_gettime', 'clock_nanosleep',
  'nanosleep', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'sched_yield', 'getrandom', 'access', 'faccessat2',
  'readlink', 'readlinkat', 'getcwd', 'dup2', 'dup3', 'pipe2', 'wait4', 'execve', 'exit_group', 'recvfrom', 'sendto',
  'recvmsg', 'sendmsg', 'accept4', 'set_robust_list', 'rseq', 'prlimit64', 'uname', 'unlinkat', 'mkdirat',
  'renameat2', 'copy_file_range', 'fork', 'vfork',
];

for (const mode of ['notify', 'errno'] as const) {
  test(`every allowed syscall is cacheable (${mode} variant)`, () => {
    const f = filters[mode];
    const allowed = [...f.policy].filter(([, r]) => r.action.kind === 'allow').map(([n]) => n);
    assert.ok(allowed.length > 250, `only ${allowed.length} allowed syscalls`);
    assert.deepEqual(proveCacheable(f.insns, allowed, AUDIT_ARCH_X86_64), []);
  });
}

test('the hot syscalls are plain allow, and cacheable', () => {
  const policy = filters.notify.policy;
  for (const name of HOT) assert.equal(policy.get(nr(name))?.action.kind, 'allow', `${name} must be a plain allow`);
  assert.deepEqual(proveCacheable(filters.notify.insns, HOT.map(nr), AUDIT_ARCH_X86_64), []);
});

test('only the cold argument-checked syscalls read arguments', () => {
  const readers: string[] = [];
  for (const [n, rule] of filters.notify.policy) {
    const r = runFilter(filters.notify.insns, { nr: n, arch: AUDIT_ARCH_X86_64, args: [0n, 0n, 0n, 0n, 0n, 0n] });
    if (!r.constant) readers.push(`${n}:${rule.action.kind}`);
  }
  assert.deepEqual(readers.sort(), ['135:args', '157:args', '41:args', '56:args']);
});

// --- negative tests: the checker must catch the mistakes it exists for --------------------------
test('negative: an argument check added to getpid is caught', () => {
  const policy = new Map<number, SyscallRule>(syscallPolicy({ network: 'none' }));
  policy.set(nr('getpid'), {
    action: { kind: 'args', check: { arg: 0, cases: [{ op: 'eq', value: 0x1234, then: 'deny' }], otherwise: 'allow' } },
  });
  const { insns } = compilePolicy(policy);
  // getpid still returns ALLOW with these args, but only after reading args[0]: not cacheable.
  assert.equal(runFilter(insns, { nr: nr('getpid'), arch: AUDIT_ARCH_X86_64 }).ret, SECCOMP_RET_ALLOW);
  const failures = proveCacheable(insns, [nr('getpid'), nr('read')], AUDIT_ARCH_X86_64);
  assert.deepEqual(failures.map((f) => f.nr), [nr('getpid')]);
  assert.match(failures[0]!.reason, /reads seccomp_data offset 16/);
});

test('negative: a load of the instruction pointer before dispatch makes everything uncacheable', () => {
  const good = filters.notify.insns;
  // After `ld arch; jeq` (pc 0, 1) insert `ld ip` — the shape of Chromium's escape hatch — then
  // re-load nr. Jumps that cross the insertion point are shifted.
  const bad = [good[0]!, good[1]!, { code: OP_LD_ABS, jt: 0, jf: 0, k: SECCOMP_DATA_IP }, ...good.slice(2)];
  bad[1] = { ...bad[1]!, jf: bad[1]!.jf + 1 };
  const failures = proveCacheable(bad, [nr('read'), nr('getpid'), nr('futex')], AUDIT_ARCH_X86_64);
  assert.equal(failures.length, 3);
  for (const f of failures) assert.match(f.reason, /offset 8/);
});

test('negative: an allowed syscall that is not ALLOW, or a broken program, is reported', () => {
  assert.match(proveCacheable(filters.notify.insns, [nr('ptrace')], AUDIT_ARCH_X86_64)[0]!.reason, /not ALLOW/);
  const truncated = filters.notify.insns.slice(0, 10);
  assert.match(proveCacheable(truncated, [nr('read')], AUDIT_ARCH_X86_64)[0]!.reason, /interpreter/);
  const argLoad = [{ code: OP_LD_ABS, jt: 0, jf: 0, k: argLow(2) + 4 }, { code: 0x06, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW }];
  assert.match(proveCacheable(argLoad, [0], AUDIT_ARCH_X86_64)[0]!.reason, /offset 36/);
});

for (const network of ['none', 'allowlist', 'host'] as const) {
  test(`${network} mode: connect() goes to pid 1 (supervise, constant USER_NOTIF); every hot syscall stays a cacheable allow`, () => {
    const f = generateFilter({ network });
    assert.equal(f.policy.get(nr('connect'))?.action.kind, 'supervise');
    assert.equal(runFilter(f.insns, { nr: nr('connect'), arch: AUDIT_ARCH_X86_64 }).ret, SECCOMP_RET_USER_NOTIF);
    assert.ok(runFilter(f.insns, { nr: nr('connect'), arch: AUDIT_ARCH_X86_64 }).constant, 'decided by number alone');
    assert.deepEqual(proveCacheable(f.insns, HOT.map(nr), AUDIT_ARCH_X86_64), []);
    const allowed = [...f.policy].filter(([, r]) => r.action.kind === 'allow').map(([n]) => n);
    assert.deepEqual(proveCacheable(f.insns, allowed, AUDIT_ARCH_X86_64), []);
    // Without the broker (Yama ptrace_scope >= 2, CORDON_NET_BROKER=0) the kernel connects.
    assert.equal(generateFilter({ network, superviseConnect: false }).policy.get(nr('connect'))?.action.kind, 'allow');
  });
}

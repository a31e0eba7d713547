// The generated program: architecture handling, actions by number, argument rules, structure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  BPF_MAXINSNS,
  OP_JA,
  OP_RET_K,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_USER_NOTIF,
  X32_SYSCALL_BIT,
  decode,
  retErrno,
} from '../../dist/linux/seccomp/bpf.js';
import { compilePolicy } from '../../dist/linux/seccomp/generate.js';
import { buildSeccompFilter, explainSeccomp } from '../../dist/linux/seccomp/index.js';
import { runFilter, validateProgram } from '../../dist/linux/seccomp/interpreter.js';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_PACKET,
  AF_UNIX,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWUSER,
  ENOSYS,
  EPERM,
  MAX_SYSCALL,
  type SyscallRule,
} from '../../dist/linux/seccomp/policy.js';
import { expected, filters, nr, x64 } from './helpers.js';

const NOTIFY = SECCOMP_RET_USER_NOTIF;
const ALLOW = SECCOMP_RET_ALLOW;
const KILL = SECCOMP_RET_KILL_PROCESS;
const OTHER_ARCHES = [
  AUDIT_ARCH_I386, // int 0x80
  0x3e, // EM_X86_64 without __AUDIT_ARCH_64BIT|LE
  0xc00000b7, // aarch64
  0x40000028, // arm
  0,
  0xffffffff,
  0xc000003f,
];

test('every number, every foreign architecture → KILL_PROCESS', () => {
  for (const f of [filters.notify, filters.errno]) {
    for (const arch of OTHER_ARCHES) {
      for (let n = 0; n <= 600; n++) assert.equal(runFilter(f.insns, { nr: n, arch }).ret, KILL, `nr ${n} arch ${arch}`);
      for (const n of [-1, 0x40000000, 0x7fffffff]) assert.equal(runFilter(f.insns, { nr: n, arch }).ret, KILL);
    }
  }
});

test('x32 numbers (and nr = -1) on x86-64 → KILL_PROCESS', () => {
  for (let n = 0; n < 1024; n++) {
    assert.equal(runFilter(filters.notify.insns, { nr: X32_SYSCALL_BIT | n, arch: AUDIT_ARCH_X86_64 }).ret, KILL, `x32 ${n}`);
  }
  for (const n of [-1, -2, 0x7fffffff, 0x80000000, 0xc0000027]) {
    assert.equal(runFilter(filters.notify.insns, { nr: n, arch: AUDIT_ARCH_X86_64 }).ret, KILL, `nr ${n}`);
  }
});

test('x86-64: every number gets what the policy says (both variants)', () => {
  for (const mode of ['notify', 'errno'] as const) {
    const f = filters[mode];
    for (let n = 0; n <= MAX_SYSCALL + 100; n++) {
      const args = [0n, 0n, 0n, 0n, 0n, 0n];
      assert.equal(runFilter(f.insns, { nr: n, arch: AUDIT_ARCH_X86_64, args }).ret, expected(f.policy.get(n), args, mode), `nr ${n} (${mode})`);
    }
    for (const n of [MAX_SYSCALL + 1, 512, 547, 1000, 0x3fffffff]) {
      assert.equal(runFilter(f.insns, { nr: n, arch: AUDIT_ARCH_X86_64 }).ret, retErrno(ENOSYS), `unknown ${n}`);
    }
  }
});

test('named denials: reported violations, and the errno the test variant returns', () => {
  const eperm = [
    'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'kcmp', 'bpf', 'perf_event_open', 'keyctl',
    'add_key', 'request_key', 'userfaultfd', 'mount', 'umount2', 'pivot_root', 'chroot', 'open_tree', 'move_mount',
    'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr', 'open_tree_attr', 'unshare', 'setns', 'kexec_load',
    'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'iopl', 'ioperm', 'swapon', 'swapoff', 'reboot',
    'acct', 'quotactl', 'quotactl_fd', 'lookup_dcookie', 'name_to_handle_at', 'open_by_handle_at', 'fanotify_init',
    'syslog', 'vhangup', 'uselib', 'ustat', 'sysfs', 'clock_settime', 'settimeofday', 'adjtimex', 'clock_adjtime',
  ];
  for (const name of eperm) {
    assert.equal(x64(name), NOTIFY, name);
    assert.equal(x64(name, [], filters.errno), retErrno(EPERM), name);
  }
  for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register']) {
    assert.equal(x64(name), NOTIFY, name);
    assert.equal(x64(name, [], filters.errno), retErrno(ENOSYS), name);
  }
  // Constant errno, not reported.
  assert.equal(x64('clone3'), retErrno(ENOSYS));
  assert.equal(x64('_sysctl'), retErrno(ENOSYS));
});

test("pid 1's own syscalls are allowed (a denial there would wait on pid 1 itself)", () => {
  const init = [
    'poll', 'ppoll', 'read', 'write', 'ioctl', 'wait4', 'waitid', 'kill', 'exit', 'exit_group', 'close', 'close_range',
    'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'signalfd4', 'setpgid', 'chdir', 'execve', 'getpid',
    'set_robust_list', 'rseq', 'fork', 'vfork', 'brk', 'mmap', 'munmap', 'openat', 'fstat', 'newfstatat',
  ];
  for (const name of init) assert.equal(x64(name, [0xffffffffffffffffn, 1n, 2n, 3n, 4n, 5n]), ALLOW, name);
  // glibc's fork(): clone(CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD, 0, 0, &tid, 0)
  assert.equal(x64('clone', [0x01200011n, 0n, 0n, 0x7ffd0000n, 0n]), ALLOW);
});

test('clone: namespace flags denied, fork and thread flags allowed', () => {
  const pthread = 0x3d0f00n; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
  assert.equal(x64('clone', [pthread]), ALLOW);
  assert.equal(x64('clone', [0x11n]), ALLOW); // SIGCHLD
  assert.equal(x64('clone', [0x4111n]), ALLOW); // vfork: CLONE_VM|CLONE_VFORK|SIGCHLD
  for (const flag of [CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, 0x02000000, 0x04000000, 0x08000000, 0x20000000]) {
    assert.equal(x64('clone', [BigInt(flag) | 0x11n]), NOTIFY, `flag 0x${flag.toString(16)}`);
    assert.equal(x64('clone', [BigInt(flag)], filters.errno), retErrno(EPERM));
  }
  // The kernel uses only the low 32 bits of clone's flags; high bits change nothing either way.
  assert.equal(x64('clone', [0xffffffff00000011n]), ALLOW);
  assert.equal(x64('clone', [0xffffffff00000000n | BigInt(CLONE_NEWUSER)]), NOTIFY);
});

test('socket: families and types', () => {
  const SOCK_STREAM = 1n;
  const SOCK_DGRAM = 2n;
  const SOCK_RAW = 3n;
  const SOCK_PACKET = 10n;
  const FLAGS = 0x80800n; // SOCK_CLOEXEC|SOCK_NONBLOCK
  const allow: Array<[number, bigint]> = [
    [AF_UNIX, SOCK_STREAM], [AF_UNIX, SOCK_DGRAM | FLAGS], [AF_UNIX, 5n /* SEQPACKET */],
    [AF_INET, SOCK_STREAM], [AF_INET, SOCK_DGRAM | FLAGS], [AF_INET6, SOCK_STREAM | FLAGS], [AF_INET6, SOCK_DGRAM],
    [AF_NETLINK, SOCK_RAW], [AF_NETLINK, SOCK_DGRAM | FLAGS],
  ];
  for (const [fam, type] of allow) assert.equal(x64('socket', [BigInt(fam), type, 0n]), ALLOW, `${fam}/${type}`);
  const deny: Array<[number, bigint]> = [
    [AF_INET, SOCK_RAW], [AF_INET, SOCK_RAW | FLAGS], [AF_INET6, SOCK_RAW], [AF_INET, SOCK_PACKET],
    [AF_INET6, SOCK_PACKET | FLAGS], [AF_PACKET, SOCK_RAW], [AF_PACKET, SOCK_DGRAM], [0, SOCK_STREAM],
    [38 /* AF_ALG */, 5n], [40 /* AF_VSOCK */, SOCK_STREAM], [42 /* AF_QIPCRTR */, SOCK_DGRAM], [4 /* AF_IPX */, SOCK_DGRAM],
    [0x10002 /* AF_INET in the high half of the low word */, SOCK_STREAM],
  ];
  for (const [fam, type] of deny) {
    assert.equal(x64('socket', [BigInt(fam), type, 0n]), NOTIFY, `${fam}/${type}`);
    assert.equal(x64('socket', [BigInt(fam), type, 0n], filters.errno), retErrno(EPERM));
  }
  // int arguments: the kernel ignores the high halves, so does the filter.
  assert.equal(x64('socket', [0xffffffff00000000n | BigInt(AF_INET), SOCK_STREAM]), ALLOW);
  assert.equal(x64('socket', [0xffffffff00000000n | BigInt(AF_PACKET), SOCK_RAW]), NOTIFY);
});

test('personality and prctl', () => {
  for (const v of [0n, 8n, 0xffffffffn]) assert.equal(x64('personality', [v]), ALLOW, `personality ${v}`);
  for (const v of [0x40000n /* ADDR_NO_RANDOMIZE */, 0x400000n /* READ_IMPLIES_EXEC */, 0x20000n, 1n, 0x0200008n]) {
    assert.equal(x64('personality', [v]), NOTIFY, `personality 0x${v.toString(16)}`);
  }
  for (const v of [35n, 57n, 67n]) assert.equal(x64('prctl', [v, 1n]), NOTIFY, `prctl ${v}`);
  // PR_SET_PDEATHSIG 1, PR_SET_NAME 15, PR_SET_NO_NEW_PRIVS 38, PR_SET_SECCOMP 22, PR_SET_CHILD_SUBREAPER 36, PR_SET_VMA 0x53564d41
  for (const v of [1n, 15n, 16n, 22n, 36n, 38n, 0x53564d41n]) assert.equal(x64('prctl', [v, 0n]), ALLOW, `prctl ${v}`);
});

test('argument rules match the policy model on random arguments (differential)', () => {
  let seed = 0x12345678;
  const rnd32 = (): bigint => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return BigInt(seed);
  };
  const interesting = [0n, 1n, 2n, 3n, 8n, 10n, 16n, 17n, 35n, 0xan, 0x7e020000n, 0x10000000n, 0xffffffffn];
  for (const mode of ['notify', 'errno'] as const) {
    const f = filters[mode];
    for (const [n, rule] of f.policy) {
      if (rule.action.kind !== 'args') continue;
      for (let i = 0; i < 3000; i++) {
        const pick = (): bigint => (i % 3 === 0 ? (rnd32() << 32n) | rnd32() : interesting[Number(rnd32() % BigInt(interesting.length))]! | ((rnd32() & 1n) << 40n));
        const args = [pick(), pick(), pick(), pick(), pick(), pick()];
        assert.equal(runFilter(f.insns, { nr: n, arch: AUDIT_ARCH_X86_64, args }).ret, expected(rule, args, mode), `nr ${n} args ${args.join(',')}`);
      }
    }
  }
});

test('structure: length, jump targets, only known opcodes, ends in ret', () => {
  for (const mode of ['notify', 'errno'] as const) {
    const insns = filters[mode].insns;
    assert.ok(insns.length < BPF_MAXINSNS && insns.length > 20, `length ${insns.length}`);
    assert.deepEqual(validateProgram(insns), []);
    assert.deepEqual(decode(buildSeccompFilter({ network: 'none', denyAction: mode }).program), insns);
  }
  // Header: ld arch; jeq X86_64; ld nr; jge 0x40000000 → kill.
  const [i0, i1, i2, i3] = filters.notify.insns;
  assert.deepEqual([i0!.code, i0!.k, i1!.code, i1!.k >>> 0, i2!.code, i2!.k, i3!.code, i3!.k], [0x20, 4, 0x15, AUDIT_ARCH_X86_64, 0x20, 0, 0x35, X32_SYSCALL_BIT]);
  assert.match(validateProgram([]).join(), /length 0 not in 1..4096/);
  assert.match(validateProgram([{ code: 0x15, jt: 3, jf: 0, k: 0 }, { code: 6, jt: 0, jf: 0, k: 0 }]).join(), /past the end/);
  assert.match(validateProgram([{ code: 0x07, jt: 0, jf: 0, k: 0 }, { code: 6, jt: 0, jf: 0, k: 0 }]).join(), /unsupported/);
});

test('long jumps: a policy with hundreds of distinct ranges needs trampolines and still decides right', () => {
  const policy = new Map<number, SyscallRule>();
  for (let n = 0; n <= MAX_SYSCALL; n++) policy.set(n, { action: { kind: 'errno', errno: 1 + (n % 250) } });
  policy.set(41, { action: { kind: 'args', check: { arg: 0, cases: [{ op: 'eq', value: 1, then: 'allow' }], otherwise: 'deny' } } });
  const { insns, ranges } = compilePolicy(policy, 'errno');
  assert.ok(ranges.length > 400);
  assert.ok(insns.some((i) => i.code === OP_JA), 'expected ja trampolines');
  assert.deepEqual(validateProgram(insns), []);
  for (let n = 0; n <= MAX_SYSCALL; n++) {
    const want = n === 41 ? retErrno(EPERM) : retErrno(1 + (n % 250));
    assert.equal(runFilter(insns, { nr: n, arch: AUDIT_ARCH_X86_64 }).ret, want, `nr ${n}`);
  }
  assert.equal(runFilter(insns, { nr: 41, arch: AUDIT_ARCH_X86_64, args: [1n] }).ret, ALLOW);
  assert.equal(runFilter(insns, { nr: 0, arch: AUDIT_ARCH_I386 }).ret, KILL);
  assert.ok(insns.filter((i) => i.code === OP_RET_K).length < 600);
});

test('interpreter rejects what the generator never emits', () => {
  const ret = { code: OP_RET_K, jt: 0, jf: 0, k: ALLOW };
  assert.throws(() => runFilter([{ code: 0x07 /* tax */, jt: 0, jf: 0, k: 0 }, ret], { nr: 0, arch: 0 }), /unsupported instruction/);
  assert.throws(() => runFilter([{ code: 0x20, jt: 0, jf: 0, k: 66 }, ret], { nr: 0, arch: 0 }), /out of range/);
  assert.throws(() => runFilter([{ code: 0x20, jt: 0, jf: 0, k: 0 }], { nr: 0, arch: 0 }), /outside the program|leaves the program/);
  assert.throws(() => runFilter([{ code: OP_JA, jt: 0, jf: 0, k: 5 }, ret], { nr: 0, arch: 0 }), /leaves the program/);
  // args: low then high word, little-endian
  const prog = [{ code: 0x20, jt: 0, jf: 0, k: 20 }, { code: 0x15, jt: 0, jf: 1, k: 0xaabbccdd }, ret, { code: OP_RET_K, jt: 0, jf: 0, k: 0 }];
  assert.equal(runFilter(prog, { nr: 0, arch: 0, args: [0xaabbccdd00000001n] }).ret, ALLOW);
  assert.equal(runFilter(prog, { nr: 0, arch: 0, args: [0x00000001aabbccddn] }).ret, 0);
});

test('explain: readable, complete', () => {
  const text = explainSeccomp({ network: 'none' });
  assert.match(text, /\d+ instructions \(kernel limit 4096\)/);
  assert.match(text, /arch != AUDIT_ARCH_X86_64 \(0xc000003e\) → KILL_PROCESS/);
  assert.match(text, /nr >= 0x40000000 → KILL_PROCESS/);
  assert.match(text, /101 ptrace: deny EPERM, reported/);
  assert.match(text, /425 io_uring_setup: deny ENOSYS, reported/);
  assert.match(text, /435: errno ENOSYS/);
  assert.match(text, /clone \(56\)/);
  assert.match(text, /low32\(args\[0\]\) & 0x7e020000 != 0 → deny/);
  const m = /Totals: (\d+) allowed \((\d+) proven cacheable/.exec(text);
  assert.ok(m && m[1] === m[2], 'every allowed syscall proven cacheable');
  assert.doesNotMatch(text, /NOT CACHEABLE/);
  assert.match(explainSeccomp({ network: 'host', denyAction: 'errno' }), /test variant/);
});

// cordon – the syscall policy of the sandbox, as data (x86-64).
//
// Every syscall in the table gets one action:
//   allow  decided by the syscall number alone, so the kernel caches it (design.md "The hot path");
//   errno  a constant errno, not reported (clone3 → ENOSYS so glibc falls back to clone);
//   deny   SECCOMP_RET_USER_NOTIF: pid 1 of the sandbox answers with `errno` and reports a violation;
//   args   a cold syscall whose arguments are checked; a failed check is a `deny` (EPERM, reported).
//   supervise  SECCOMP_RET_USER_NOTIF, not a violation: pid 1 performs the syscall for the caller
//          (every connect(): native/launcher/connect_broker.cc; never CONTINUEd).
// Numbers the table does not name (holes, and everything above the table) answer ENOSYS and are not
// reported (runc's "ENOSYS stub": a newer syscall looks unimplemented, so libc falls back).
//
// The sandbox's own pid 1 runs under this filter: every syscall it makes (poll, read, write, ioctl,
// wait4, kill, clone without namespace flags, setpgid, close_range, chdir, execve, rt_sig*,
// signalfd4, exit_group …) must stay `allow` — a `deny` there would wait on pid 1 itself.
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';

export type NetworkMode = 'none' | 'allowlist' | 'host';

export const EPERM = 1;
export const ENOSYS = 38;

/** What an argument check ends in. */
export type ArgVerdict = 'allow' | 'deny';

/**
 * A check on the low 32 bits of one argument (`(args[arg] & mask) <op> value`), tried in order; the
 * first case that matches decides, else `otherwise`. Only the low half is ever read: every argument
 * checked here is an `int`/`unsigned int`, or (clone's flags) is cut to its low 32 bits by the kernel
 * (`lower_32_bits(clone_flags)` in kernel/fork.c), so the high half cannot change what the kernel does.
 */
export interface ArgCheck {
  arg: number;
  /** Applied (ALU AND) before the cases; omitted = all 32 bits. */
  mask?: number;
  cases: ReadonlyArray<{ op: 'eq' | 'set'; value: number; then: ArgVerdict | ArgCheck }>;
  otherwise: ArgVerdict | ArgCheck;
}

export type SyscallAction =
  | { kind: 'allow' }
  | { kind: 'errno'; errno: number }
  | { kind: 'deny'; errno: number }
  | { kind: 'args'; check: ArgCheck }
  | { kind: 'supervise' };

export interface SyscallRule {
  action: SyscallAction;
  /** Why, for `explain` (set for everything that is not a plain allow). */
  why?: string;
}

// --- the table ------------------------------------------------------------------------------------
const byName = new Map<string, number>(SYSCALLS_X86_64.map(([n, nr]) => [n, nr]));
const byNumber = new Map<number, string>(SYSCALLS_X86_64.map(([n, nr]) => [nr, n]));
/** Highest syscall number in the table. */
export const MAX_SYSCALL = Math.max(...byNumber.keys());

export function syscallNumber(name: string): number {
  const nr = byName.get(name);
  if (nr === undefined) throw new Error(`unknown x86-64 syscall: ${name}`);
  return nr;
}
export function syscallName(nr: number): string | undefined {
  return byNumber.get(nr);
}
export function allSyscalls(): ReadonlyArray<readonly [string, number]> {
  return SYSCALLS_X86_64;
}

// --- constants used by the argument rules ---------------------------------------------------------
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
/** Every namespace flag clone() accepts (CLONE_NEWTIME is clone3/unshare only; in clone it is CSIGNAL). */
export const CLONE_NAMESPACE_FLAGS =
  CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET; // 0x7e020000

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_RAW = 3;
/** Obsolete; `socket(AF_INET, SOCK_PACKET)` is turned into AF_PACKET by the kernel (net/socket.c). */
export const SOCK_PACKET = 10;

export const PER_LINUX = 0x0000;
export const PER_LINUX32 = 0x0008;
export const PERSONALITY_QUERY = 0xffffffff;

export const PR_SET_MM = 35;
export const PR_SET_IO_FLUSHER = 57;
export const PR_SET_MEMORY_MERGE = 67;

// --- argument rules -------------------------------------------------------------------------------
const inetType: ArgCheck = {
  arg: 1,
  mask: SOCK_TYPE_MASK,
  cases: [
    { op: 'eq', value: SOCK_RAW, then: 'deny' },
    { op: 'eq', value: SOCK_PACKET, then: 'deny' },
  ],
  otherwise: 'allow',
};

export const ARG_RULES = {
  clone: {
    arg: 0,
    cases: [{ op: 'set', value: CLONE_NAMESPACE_FLAGS, then: 'deny' }],
    otherwise: 'allow',
  },
  socket: {
    arg: 0,
    cases: [
      { op: 'eq', value: AF_UNIX, then: 'allow' },
      { op: 'eq', value: AF_INET, then: inetType },
      { op: 'eq', value: AF_INET6, then: inetType },
      { op: 'eq', value: AF_NETLINK, then: 'allow' },
    ],
    otherwise: 'deny',
  },
  personality: {
    arg: 0,
    cases: [
      { op: 'eq', value: PER_LINUX, then: 'allow' },
      { op: 'eq', value: PER_LINUX32, then: 'allow' },
      { op: 'eq', value: PERSONALITY_QUERY, then: 'allow' },
    ],
    otherwise: 'deny',
  },
  prctl: {
    arg: 0,
    cases: [
      { op: 'eq', value: PR_SET_MM, then: 'deny' },
      { op: 'eq', value: PR_SET_IO_FLUSHER, then: 'deny' },
      { op: 'eq', value: PR_SET_MEMORY_MERGE, then: 'deny' },
    ],
    otherwise: 'allow',
  },
} satisfies Record<string, ArgCheck>;

const ARG_WHY: Record<keyof typeof ARG_RULES, string> = {
  clone: 'flags with any CLONE_NEW* namespace flag (0x7e020000) → denied (nested namespaces); fork/threads allowed',
  socket: 'AF_UNIX, AF_NETLINK allowed; AF_INET/AF_INET6 allowed except SOCK_RAW and SOCK_PACKET; every other family denied',
  personality: 'only PER_LINUX (0), PER_LINUX32 (8) and the query 0xffffffff; ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC … denied',
  prctl: 'allowed except PR_SET_MM (35), PR_SET_IO_FLUSHER (57), PR_SET_MEMORY_MERGE (67)',
};

// --- the lists ------------------------------------------------------------------------------------
/** Reported violations answered with EPERM (grouped by reason, for `explain`). */
const DENY_EPERM: ReadonlyArray<[string, readonly string[]]> = [
  ['inspects or controls other processes', ['ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'kcmp']],
  ['kernel attack surface with no use in a build', ['bpf', 'perf_event_open', 'userfaultfd', 'modify_ldt']],
  ['kernel keyrings are shared with the host user', ['keyctl', 'add_key', 'request_key']],
  [
    'rearranges mounts or namespaces',
    [
      'mount', 'umount2', 'pivot_root', 'chroot', 'open_tree', 'open_tree_attr', 'move_mount', 'fsopen', 'fsconfig',
      'fsmount', 'fspick', 'mount_setattr', 'unshare', 'setns',
    ],
  ],
  [
    'administers the machine',
    [
      'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'iopl', 'ioperm', 'swapon',
      'swapoff', 'reboot', 'acct', 'quotactl', 'quotactl_fd', 'syslog', 'vhangup', 'clock_settime', 'settimeofday',
      'adjtimex', 'clock_adjtime', 'sethostname', 'setdomainname',
    ],
  ],
  [
    'file handles, fanotify and obsolete interfaces',
    ['lookup_dcookie', 'name_to_handle_at', 'open_by_handle_at', 'fanotify_init', 'fanotify_mark', 'uselib', 'ustat', 'sysfs'],
  ],
  ['sets this process\'s LSM attributes', ['lsm_set_self_attr']],
];

/** Reported violations answered with ENOSYS. */
const DENY_ENOSYS: ReadonlyArray<[string, readonly string[]]> = [
  ['io_uring runs operations without syscalls seccomp could see', ['io_uring_setup', 'io_uring_enter', 'io_uring_register']],
];

/** Constant errno, not reported. */
const ERRNO_ENOSYS: ReadonlyArray<[string, readonly string[]]> = [
  ['arguments live in memory the filter cannot read; glibc falls back to clone()', ['clone3']],
  [
    'removed or never implemented on x86-64',
    [
      '_sysctl', 'create_module', 'get_kernel_syms', 'query_module', 'nfsservctl', 'getpmsg', 'putpmsg', 'afs_syscall',
      'tuxcall', 'security', 'vserver', 'epoll_ctl_old', 'epoll_wait_old',
    ],
  ],
];

/**
 * Allowed by number alone. Grouped only to make review easier; every syscall in the table must be in
 * exactly one list here or above (a test checks), so a new kernel's syscalls need a decision.
 */
const ALLOW: ReadonlyArray<[string, readonly string[]]> = [
  [
    'files and directories',
    [
      'read', 'write', 'open', 'close', 'stat', 'fstat', 'lstat', 'lseek', 'pread64', 'pwrite64', 'readv', 'writev',
      'preadv', 'pwritev', 'preadv2', 'pwritev2', 'access', 'faccessat', 'faccessat2', 'dup', 'dup2', 'dup3', 'fcntl',
      'flock', 'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'truncate', 'ftruncate', 'fallocate',
      'getdents', 'getdents64', 'getcwd', 'chdir', 'fchdir', 'rename', 'renameat', 'renameat2', 'mkdir', 'mkdirat',
      'rmdir', 'creat', 'link', 'linkat', 'unlink', 'unlinkat', 'symlink', 'symlinkat', 'readlink', 'readlinkat',
      'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'lchown', 'fchownat', 'umask', 'utime', 'utimes',
      'futimesat', 'utimensat', 'mknod', 'mknodat', 'statfs', 'fstatfs', 'openat', 'openat2', 'newfstatat', 'statx',
      'readahead', 'fadvise64', 'sendfile', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'close_range',
      'setxattr', 'lsetxattr', 'fsetxattr', 'getxattr', 'lgetxattr', 'fgetxattr', 'listxattr', 'llistxattr',
      'flistxattr', 'removexattr', 'lremovexattr', 'fremovexattr', 'setxattrat', 'getxattrat', 'listxattrat',
      'removexattrat', 'file_getattr', 'file_setattr', 'cachestat', 'ioctl', 'pipe', 'pipe2',
      'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'memfd_create', 'memfd_secret',
      'statmount', 'listmount',
    ],
  ],
  [
    'polling, events and timers',
    [
      'poll', 'ppoll', 'select', 'pselect6', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait',
      'epoll_pwait2', 'eventfd', 'eventfd2', 'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_settime',
      'timerfd_gettime', 'timer_create', 'timer_settime', 'timer_gettime', 'timer_getoverrun', 'timer_delete',
      'getitimer', 'setitimer', 'alarm', 'pause', 'nanosleep', 'clock_nanosleep', 'clock_gettime', 'clock_getres',
      'gettimeofday', 'time', 'io_setup', 'io_destroy', 'io_getevents', 'io_submit', 'io_cancel', 'io_pgetevents',
    ],
  ],
  [
    'memory',
    [
      'mmap', 'mprotect', 'munmap', 'brk', 'mremap', 'msync', 'mincore', 'madvise', 'mlock', 'mlock2', 'munlock',
      'mlockall', 'munlockall', 'remap_file_pages', 'mbind', 'set_mempolicy', 'get_mempolicy',
      'set_mempolicy_home_node', 'migrate_pages', 'move_pages', 'pkey_mprotect', 'pkey_alloc', 'pkey_free',
      'membarrier', 'mseal', 'map_shadow_stack', 'process_madvise', 'process_mrelease',
    ],
  ],
  [
    'processes, threads and signals',
    [
      'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'kill', 'tkill', 'tgkill',
      'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigtimedwait', 'rt_sigqueueinfo',
      'rt_tgsigqueueinfo', 'rt_sigsuspend', 'sigaltstack', 'restart_syscall', 'pidfd_open', 'pidfd_send_signal',
      'futex', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue', 'set_robust_list', 'get_robust_list',
      'set_tid_address', 'arch_prctl', 'set_thread_area', 'get_thread_area', 'rseq', 'sched_yield',
      'sched_setparam', 'sched_getparam', 'sched_setscheduler', 'sched_getscheduler', 'sched_get_priority_max',
      'sched_get_priority_min', 'sched_rr_get_interval', 'sched_setaffinity', 'sched_getaffinity', 'sched_setattr',
      'sched_getattr', 'getpriority', 'setpriority', 'ioprio_set', 'ioprio_get', 'getcpu', 'seccomp',
      'uretprobe', 'uprobe',
    ],
  ],
  [
    'identity, limits and system information',
    [
      'getpid', 'getppid', 'gettid', 'getuid', 'geteuid', 'getgid', 'getegid', 'getresuid', 'getresgid', 'getgroups',
      'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid', 'setgroups',
      'getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid', 'capget', 'capset', 'getrlimit', 'setrlimit', 'prlimit64',
      'getrusage', 'times', 'sysinfo', 'uname', 'getrandom',
      // Landlock only ever adds restrictions to the caller, and tools that sandbox themselves use it;
      // denying it would break them and buy nothing (linux.md §2.6 calls it optional).
      'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self',
      'lsm_get_self_attr', 'lsm_list_modules',
    ],
  ],
  [
    'sockets (socket() itself is argument-checked) and System V / POSIX IPC',
    [
      'connect', 'accept', 'accept4', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown',
      'bind', 'listen', 'getsockname', 'getpeername', 'socketpair', 'setsockopt', 'getsockopt', 'shmget', 'shmat',
      'shmctl', 'shmdt', 'semget', 'semop', 'semctl', 'semtimedop', 'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'mq_open',
      'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr',
    ],
  ],
];

export interface PolicyOptions {
  network: NetworkMode;
  /**
   * The caller is root: files the sandbox creates in writable trees are owned by root on the host,
   * so a setuid/setgid bit on one with content would give any host user root. The chmod family is
   * then argument-checked to refuse those bits (cold syscalls: nothing on the hot path loses the
   * kernel's cache). Creating a file with the bits (open/openat/creat/mknod with mode 04755) is
   * left to the kernel: the sandbox holds no CAP_FSETID, and every way to give a file content —
   * write, truncate, fallocate, copy_file_range, sendfile, O_TMPFILE + link — clears both bits
   * (should_remove_suid), so such a file stays empty and grants nothing. The real-sandbox test
   * `setuid guard (root callers)` tries each of them and checks the host.
   */
  guardSetid?: boolean;
  /**
   * connect() goes to pid 1 (`supervise`), in every mode: the connect broker performs it (allowlist
   * networking) and refuses unix sockets bound outside the sandbox (native/launcher/unix_guard.h).
   * Default true; false keeps the kernel's connect (where pid 1 could not act for the caller: the
   * plan then says so in a warning, and allowlist traffic is relayed).
   */
  superviseConnect?: boolean;
}

const S_ISUID_ISGID = 0o6000;

/** Refuses a mode with setuid/setgid bits in argument `arg`. */
function modeCheck(arg: number): ArgCheck {
  return { arg, cases: [{ op: 'set', value: S_ISUID_ISGID, then: 'deny' }], otherwise: 'allow' };
}

const SETID_WHY = 'root caller: setting a setuid/setgid bit is refused (the file is root-owned on the host)';
const SETID_RULES: Record<string, ArgCheck> = {
  chmod: modeCheck(1),
  fchmod: modeCheck(1),
  fchmodat: modeCheck(2),
  fchmodat2: modeCheck(2),
};

/** setsockopt levels and the options refused at each when the broker hands host sockets over. */
const IPPROTO_IP = 0;
const SOL_SOCKET = 1;
const IPPROTO_IPV6 = 41;
const STEERING_OPTIONS: ReadonlyArray<[number, readonly number[]]> = [
  // IPV6_ADDRFORM, IPV6_2292HOPOPTS/DSTOPTS/RTHDR/PKTOPTIONS, IPV6_HOPOPTS, IPV6_RTHDRDSTOPTS, IPV6_RTHDR, IPV6_DSTOPTS, IPV6_UNICAST_IF
  [IPPROTO_IPV6, [1, 3, 4, 5, 6, 54, 55, 57, 59, 76]],
  // IP_OPTIONS (source routes), IP_UNICAST_IF
  [IPPROTO_IP, [4, 50]],
  // SO_BINDTODEVICE, SO_BINDTOIFINDEX
  [SOL_SOCKET, [25, 62]],
];

/**
 * Options that steer where a connection's packets go without re-pointing the connection: routing
 * and other extension headers, IPv4 source routes, the outgoing interface. On a socket the broker
 * handed over (a socket of the host's namespace) an unprivileged IPV6_RTHDR sends the allowed
 * connection's packets to any IPv6 address (network red team 2, H1); SO_BINDTODEVICE picks a host
 * interface the sandbox cannot see (H2). Refused on every socket of an allowlist sandbox: setsockopt
 * is no hot syscall, and its other options stay allowed.
 */
const SOCKOPT_CHECK: ArgCheck = {
  arg: 1,
  cases: STEERING_OPTIONS.map(([level, names]) => ({
    op: 'eq' as const,
    value: level,
    then: { arg: 2, cases: names.map((value) => ({ op: 'eq' as const, value, then: 'deny' as const })), otherwise: 'allow' as const },
  })),
  otherwise: 'allow',
};

const SOCKOPT_WHY =
  'allowlist networking: options that steer packets (IPv6 routing/extension headers, IPV6_ADDRFORM, IP_OPTIONS, *_UNICAST_IF, ' +
  'SO_BINDTODEVICE/SO_BINDTOIFINDEX) → denied: on a socket connected from the host they would send allowed traffic elsewhere';

const SUPERVISED_CONNECT_WHY =
  'pid 1 performs every connect() itself (all families; never continued): a unix path socket bound outside the sandbox ' +
  '(a host service\'s) is refused; with allowlist networking a TCP destination the capture chain would redirect gets a socket ' +
  'the supervisor connected from the host (no relay), and a socket cordon installed cannot be re-pointed; everything else is ' +
  'connected by pid 1 in the sandbox, on the caller\'s file';

/**
 * The policy for `options`, by syscall number. With `none` the sandbox has its own empty network
 * namespace, so inet sockets reach only its loopback; connect() is supervised by pid 1 in every mode
 * (constant USER_NOTIF: still decided by number alone, so the kernel's cache is unaffected for every
 * other syscall).
 */
export function syscallPolicy(options: PolicyOptions): Map<number, SyscallRule> {
  if (!['none', 'allowlist', 'host'].includes(options.network)) throw new Error(`unknown network mode: ${String(options.network)}`);
  const rules = new Map<number, SyscallRule>();
  const add = (name: string, rule: SyscallRule): void => {
    const nr = syscallNumber(name);
    if (rules.has(nr)) throw new Error(`syscall policy lists ${name} twice`);
    rules.set(nr, rule);
  };
  for (const [, names] of ALLOW) for (const n of names) add(n, { action: { kind: 'allow' } });
  for (const [why, names] of DENY_EPERM) for (const n of names) add(n, { action: { kind: 'deny', errno: EPERM }, why });
  for (const [why, names] of DENY_ENOSYS) for (const n of names) add(n, { action: { kind: 'deny', errno: ENOSYS }, why });
  for (const [why, names] of ERRNO_ENOSYS) for (const n of names) add(n, { action: { kind: 'errno', errno: ENOSYS }, why });
  for (const [name, check] of Object.entries(ARG_RULES) as Array<[keyof typeof ARG_RULES, ArgCheck]>) {
    add(name, { action: { kind: 'args', check }, why: ARG_WHY[name] });
  }
  if (options.superviseConnect !== false) {
    rules.set(syscallNumber('connect'), { action: { kind: 'supervise' }, why: SUPERVISED_CONNECT_WHY });
    if (options.network === 'allowlist') rules.set(syscallNumber('setsockopt'), { action: { kind: 'args', check: SOCKOPT_CHECK }, why: SOCKOPT_WHY });
  }
  if (options.guardSetid) {
    for (const [name, check] of Object.entries(SETID_RULES)) rules.set(syscallNumber(name), { action: { kind: 'args', check }, why: SETID_WHY });
  }
  return rules;
}

/** The action for a syscall number the policy does not name. */
export const UNKNOWN_SYSCALL: SyscallRule = {
  action: { kind: 'errno', errno: ENOSYS },
  why: 'not in the table (a hole, or newer than Linux 6.18): answered as if unimplemented, not reported',
};

/** Evaluates an argument check on the low 32 bits of `args` (the reference model for the BPF). */
export function evaluateArgCheck(check: ArgCheck, args: readonly bigint[]): ArgVerdict {
  const raw = args[check.arg] ?? 0n;
  const value = Number(raw & 0xffffffffn) & (check.mask ?? 0xffffffff);
  for (const c of check.cases) {
    const hit = c.op === 'eq' ? value >>> 0 === c.value >>> 0 : (value & c.value) !== 0;
    if (hit) return typeof c.then === 'string' ? c.then : evaluateArgCheck(c.then, args);
  }
  return typeof check.otherwise === 'string' ? check.otherwise : evaluateArgCheck(check.otherwise, args);
}

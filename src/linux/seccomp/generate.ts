// cordon – compiles the syscall policy into one classic-BPF seccomp program (no libseccomp).
//
// Shape (linux.md §2.6):
//   ld arch; jeq AUDIT_ARCH_X86_64 else KILL_PROCESS     i386 `int 0x80` and every other ABI → killed
//   ld nr;   jge 0x40000000 → KILL_PROCESS                x32 numbers (and nr = -1) → killed
//   a balanced binary search (jge on range starts) over syscall-number ranges, adjacent numbers with
//   the same constant action merged; leaves are `ret` of a constant, or an argument-check block for
//   the few `args` syscalls (clone, socket, personality, prctl).
// Every allowed syscall therefore reaches `ret ALLOW` through loads of nr/arch and constant jumps
// only, which is what the kernel's seccomp_is_const_allow() needs to cache it.
import {
  AUDIT_ARCH_X86_64,
  BackwardAssembler,
  type Insn,
  type Label,
  OP_JEQ_K,
  OP_JGE_K,
  OP_JSET_K,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_USER_NOTIF,
  X32_SYSCALL_BIT,
  argLow,
  retErrno,
} from './bpf.js';
import {
  type ArgCheck,
  type ArgVerdict,
  EPERM,
  MAX_SYSCALL,
  type NetworkMode,
  type SyscallRule,
  UNKNOWN_SYSCALL,
  syscallPolicy,
} from './policy.js';

export interface FilterOptions {
  network: NetworkMode;
  /**
   * How a `deny` is returned: `notify` (default) = SECCOMP_RET_USER_NOTIF, answered and reported by
   * the sandbox's pid 1; `errno` = SECCOMP_RET_ERRNO(errno) directly, for installing the filter
   * without a listener (tests, benchmarks). Not for production: denials would go unreported.
   */
  denyAction?: 'notify' | 'errno';
  /** Refuse setuid/setgid mode bits (root callers; see PolicyOptions.guardSetid). */
  guardSetid?: boolean;
  /** pid 1 performs every connect() (default true; see PolicyOptions). */
  superviseConnect?: boolean;
}

/** A run of syscall numbers [first, last] sharing one rule. */
export interface SyscallRange {
  first: number;
  last: number;
  /** The rule of every number in the range (for `args`, ranges are single syscalls). */
  rule: SyscallRule;
}

export interface GeneratedFilter {
  insns: Insn[];
  ranges: SyscallRange[];
  /** (nr, errno) for denied-with-violation syscalls whose errno is not EPERM. */
  notifyErrno: Array<[number, number]>;
  /** The syscall policy the program was built from, by number. */
  policy: Map<number, SyscallRule>;
}

/** Highest number the dispatch covers; everything at or above X32_SYSCALL_BIT is killed earlier. */
const LAST_NR = X32_SYSCALL_BIT - 1;

/** The `ret` value a constant rule compiles to; undefined for `args`. */
export function returnValue(rule: SyscallRule, denyAction: 'notify' | 'errno'): number | undefined {
  const a = rule.action;
  switch (a.kind) {
    case 'allow':
      return SECCOMP_RET_ALLOW;
    case 'errno':
      return retErrno(a.errno);
    case 'deny':
      return denyAction === 'notify' ? SECCOMP_RET_USER_NOTIF : retErrno(a.errno);
    case 'args':
      return undefined;
    case 'supervise':
      // The errno variant (tests) has no pid 1 listening: the syscall simply proceeds.
      return denyAction === 'notify' ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
  }
}

/** Merges adjacent numbers with the same constant return into ranges covering [0, 0x3fffffff]. */
function buildRanges(policy: Map<number, SyscallRule>, denyAction: 'notify' | 'errno'): SyscallRange[] {
  const ranges: SyscallRange[] = [];
  const keyOf = (rule: SyscallRule, nr: number): string => {
    const k = returnValue(rule, denyAction);
    // In notify mode all denials return USER_NOTIF; the errno lives in pid 1's table, so they merge.
    return k === undefined ? `args:${nr}` : `ret:${k}:${rule.action.kind}`;
  };
  let prevKey = '';
  for (let nr = 0; nr <= MAX_SYSCALL + 1; nr++) {
    const rule = nr <= MAX_SYSCALL ? (policy.get(nr) ?? UNKNOWN_SYSCALL) : UNKNOWN_SYSCALL;
    const last = nr <= MAX_SYSCALL ? nr : LAST_NR;
    const key = keyOf(rule, nr);
    const tail = ranges[ranges.length - 1];
    if (tail && key === prevKey) tail.last = last;
    else ranges.push({ first: nr, last, rule });
    prevKey = key;
  }
  return ranges;
}

class Compiler {
  readonly asm = new BackwardAssembler();
  /** Argument checks already emitted (socket's inet type check is shared by AF_INET and AF_INET6). */
  private readonly emitted = new Map<ArgCheck, Label>();
  constructor(private readonly denyAction: 'notify' | 'errno') {}

  private verdict(v: ArgVerdict): Label {
    return this.asm.ret(v === 'allow' ? SECCOMP_RET_ALLOW : this.denyReturn());
  }

  private denyReturn(): number {
    // A failed argument check is a violation answered with EPERM (pid 1's default).
    return this.denyAction === 'notify' ? SECCOMP_RET_USER_NOTIF : retErrno(EPERM);
  }

  private target(t: ArgVerdict | ArgCheck): Label {
    return typeof t === 'string' ? this.verdict(t) : this.check(t);
  }

  /** `ld args[arg] (low 32)`, optional `and mask`, then the cases in order, else `otherwise`. */
  check(c: ArgCheck): Label {
    const seen = this.emitted.get(c);
    if (seen !== undefined) return seen;
    let next = this.target(c.otherwise);
    for (let i = c.cases.length - 1; i >= 0; i--) {
      const cs = c.cases[i]!;
      const then = this.target(cs.then);
      next = this.asm.jump(cs.op === 'eq' ? OP_JEQ_K : OP_JSET_K, cs.value, then, next);
    }
    if (c.mask !== undefined && c.mask >>> 0 !== 0xffffffff) next = this.asm.and(c.mask, next);
    const entry = this.asm.load(argLow(c.arg), next);
    this.emitted.set(c, entry);
    return entry;
  }

  leaf(r: SyscallRange): Label {
    const k = returnValue(r.rule, this.denyAction);
    if (k !== undefined) return this.asm.ret(k);
    if (r.rule.action.kind !== 'args') throw new Error('unreachable');
    return this.check(r.rule.action.check);
  }

  /** Binary search over ranges[lo, hi): `jge ranges[mid].first` → upper half, else lower half. */
  tree(ranges: SyscallRange[], lo: number, hi: number): Label {
    if (hi - lo === 1) return this.leaf(ranges[lo]!);
    const mid = (lo + hi) >>> 1;
    const upper = this.tree(ranges, mid, hi);
    const lower = this.tree(ranges, lo, mid);
    return this.asm.jump(OP_JGE_K, ranges[mid]!.first, upper, lower);
  }
}

/**
 * Compiles a syscall policy (by number) into a program. `generateFilter` uses it with cordon's
 * policy; tests use it with deliberately different ones.
 */
export function compilePolicy(
  policy: Map<number, SyscallRule>,
  denyAction: 'notify' | 'errno' = 'notify',
): { insns: Insn[]; ranges: SyscallRange[] } {
  if (denyAction !== 'notify' && denyAction !== 'errno') throw new Error(`unknown denyAction: ${String(denyAction)}`);
  for (const nr of policy.keys()) {
    if (!Number.isInteger(nr) || nr < 0 || nr > MAX_SYSCALL) throw new Error(`syscall number ${nr} outside the table`);
  }
  const ranges = buildRanges(policy, denyAction);
  const c = new Compiler(denyAction);
  const asm = c.asm;
  const dispatch = c.tree(ranges, 0, ranges.length);
  const kill = asm.ret(SECCOMP_RET_KILL_PROCESS);
  const x32 = asm.jump(OP_JGE_K, X32_SYSCALL_BIT, kill, dispatch);
  const ldNr = asm.load(SECCOMP_DATA_NR, x32);
  const arch = asm.jump(OP_JEQ_K, AUDIT_ARCH_X86_64, ldNr, kill);
  const entry = asm.load(SECCOMP_DATA_ARCH, arch);
  return { insns: asm.finish(entry), ranges };
}

export function generateFilter(options: FilterOptions): GeneratedFilter {
  const policy = syscallPolicy({ network: options.network, guardSetid: options.guardSetid, superviseConnect: options.superviseConnect });
  const { insns, ranges } = compilePolicy(policy, options.denyAction ?? 'notify');
  const notifyErrno: Array<[number, number]> = [];
  for (const [nr, rule] of [...policy].sort((a, b) => a[0] - b[0])) {
    if (rule.action.kind === 'deny' && rule.action.errno !== EPERM) notifyErrno.push([nr, rule.action.errno]);
  }
  return { insns, ranges, notifyErrno, policy };
}

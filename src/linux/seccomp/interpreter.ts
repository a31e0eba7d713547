// cordon – a classic-BPF interpreter over struct seccomp_data, for tests and `explain`.
//
// It runs the instructions the generator emits (ld [abs], and k, ja, jeq/jgt/jge/jset k, ret k) and
// throws on anything else, on a jump out of the program, or on running off its end. Alongside the
// result it reports whether the executed path was "constant" in the sense of the kernel's
// seccomp_is_const_allow() (kernel/seccomp.c, Linux 5.11+): only loads of `nr`/`arch`, JA,
// JEQ/JGE/JGT/JSET with K, ALU AND K and RET K. The kernel caches ALLOW for a syscall number exactly
// when that path is constant and ends in `ret SECCOMP_RET_ALLOW`.
import {
  type Insn,
  OP_AND_K,
  OP_JA,
  OP_JEQ_K,
  OP_JGE_K,
  OP_JGT_K,
  OP_JSET_K,
  OP_LD_ABS,
  OP_RET_K,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_NR,
  SECCOMP_DATA_SIZE,
  SECCOMP_RET_ALLOW,
  decode,
} from './bpf.js';

export interface SeccompData {
  /** Syscall number as the kernel passes it (int; negative values are stored as their u32). */
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  /** Up to six 64-bit arguments; missing ones are 0. */
  args?: readonly bigint[];
}

export interface RunResult {
  /** The 32-bit value of the `ret` reached. */
  ret: number;
  /** Offsets of seccomp_data the path loaded. */
  loads: number[];
  /** True if every instruction on the path is one seccomp_is_const_allow() accepts. */
  constant: boolean;
  /** What the kernel's action cache would conclude: constant path ending in RET ALLOW. */
  cacheable: boolean;
  /** Instructions executed. */
  steps: number;
}

export class BpfError extends Error {}

function word(data: SeccompData, offset: number): number {
  if (offset % 4 !== 0 || offset < 0 || offset >= SECCOMP_DATA_SIZE) {
    throw new BpfError(`load of seccomp_data offset ${offset}: out of range or unaligned`);
  }
  if (offset === SECCOMP_DATA_NR) return data.nr >>> 0;
  if (offset === SECCOMP_DATA_ARCH) return data.arch >>> 0;
  const field = offset < 16 ? (data.instructionPointer ?? 0n) : (data.args?.[(offset - 16) >> 3] ?? 0n);
  const high = (offset & 4) !== 0;
  return Number((high ? field >> 32n : field) & 0xffffffffn);
}

/** Runs `program` on `data`. */
export function runFilter(program: readonly Insn[] | Buffer, data: SeccompData): RunResult {
  const insns = Buffer.isBuffer(program) ? decode(program) : program;
  let a = 0;
  let pc = 0;
  let constant = true;
  let steps = 0;
  const loads: number[] = [];
  for (;;) {
    const ins = insns[pc];
    if (!ins) throw new BpfError(`program counter ${pc} is outside the program (${insns.length} instructions)`);
    steps++;
    let next = pc + 1;
    switch (ins.code) {
      case OP_LD_ABS:
        loads.push(ins.k);
        if (ins.k !== SECCOMP_DATA_NR && ins.k !== SECCOMP_DATA_ARCH) constant = false;
        a = word(data, ins.k);
        break;
      case OP_AND_K:
        a = (a & ins.k) >>> 0;
        break;
      case OP_JA:
        next = pc + 1 + ins.k;
        break;
      case OP_JEQ_K:
      case OP_JGT_K:
      case OP_JGE_K:
      case OP_JSET_K: {
        const k = ins.k >>> 0;
        const hit =
          ins.code === OP_JEQ_K ? a === k : ins.code === OP_JGT_K ? a > k : ins.code === OP_JGE_K ? a >= k : (a & k) !== 0;
        next = pc + 1 + (hit ? ins.jt : ins.jf);
        break;
      }
      case OP_RET_K: {
        const ret = ins.k >>> 0;
        return { ret, loads, constant, cacheable: constant && ret === SECCOMP_RET_ALLOW, steps };
      }
      default:
        throw new BpfError(`unsupported instruction at ${pc}: code 0x${ins.code.toString(16)}`);
    }
    if (next >= insns.length) throw new BpfError(`jump from ${pc} to ${next} leaves the program (${insns.length} instructions)`);
    pc = next;
  }
}

/**
 * Static checks the kernel's classic-BPF verifier also makes (for the instructions we emit): length
 * 1..4096, every jump target inside the program, loads aligned and inside seccomp_data, known
 * opcodes only, last instruction a `ret`. Returns the problems found (empty = fine).
 */
export function validateProgram(program: readonly Insn[] | Buffer, maxInsns = 4096): string[] {
  const insns = Buffer.isBuffer(program) ? decode(program) : program;
  const problems: string[] = [];
  if (insns.length === 0 || insns.length > maxInsns) problems.push(`length ${insns.length} not in 1..${maxInsns}`);
  insns.forEach((ins, pc) => {
    switch (ins.code) {
      case OP_LD_ABS:
        if (ins.k % 4 !== 0 || ins.k >= SECCOMP_DATA_SIZE) problems.push(`${pc}: load of offset ${ins.k}`);
        break;
      case OP_AND_K:
      case OP_RET_K:
        break;
      case OP_JA:
        if (pc + 1 + ins.k >= insns.length) problems.push(`${pc}: ja past the end`);
        break;
      case OP_JEQ_K:
      case OP_JGT_K:
      case OP_JGE_K:
      case OP_JSET_K:
        if (ins.jt > 255 || ins.jf > 255) problems.push(`${pc}: jump offset over 255`);
        if (pc + 1 + Math.max(ins.jt, ins.jf) >= insns.length) problems.push(`${pc}: jump past the end`);
        break;
      default:
        problems.push(`${pc}: unsupported code 0x${ins.code.toString(16)}`);
    }
  });
  const last = insns[insns.length - 1];
  if (last && last.code !== OP_RET_K) problems.push('last instruction is not a ret');
  return problems;
}

/** Poisoned instruction pointers and arguments: a decision that depends on them shows up as a change. */
const POISONS: ReadonlyArray<{ ip: bigint; args: bigint[] }> = [
  { ip: 0n, args: [0n, 0n, 0n, 0n, 0n, 0n] },
  { ip: 0xffffffffffffffffn, args: Array.from({ length: 6 }, () => 0xffffffffffffffffn) },
  { ip: 0x4141414141414141n, args: [0xdeadbeefcafef00dn, 0x7e020000n, 0x11n, 0x80000000n, 0x1n, 0xffffffff00000000n] },
  { ip: 0x00007f0000001000n, args: [0x10000000n, 3n, 0x40000n, 35n, 0x7fffffffn, 0x100000000n] },
];

export interface CacheabilityFailure {
  nr: number;
  /** What went wrong on the path for this number. */
  reason: string;
}

/**
 * The cacheability proof: for each syscall number in `nrs`, runs `program` for x86-64 with poisoned
 * arguments and instruction pointer, and requires `ret SECCOMP_RET_ALLOW` reached through constant
 * instructions only (no load of anything but nr/arch) — the condition under which the kernel puts
 * the number in its allow cache. Returns the numbers that fail (empty = proven).
 */
export function proveCacheable(program: readonly Insn[] | Buffer, nrs: Iterable<number>, arch: number): CacheabilityFailure[] {
  const insns = Buffer.isBuffer(program) ? decode(program) : program;
  const failures: CacheabilityFailure[] = [];
  for (const nr of nrs) {
    for (const p of POISONS) {
      let r: RunResult;
      try {
        r = runFilter(insns, { nr, arch, instructionPointer: p.ip, args: p.args });
      } catch (e) {
        failures.push({ nr, reason: `interpreter: ${(e as Error).message}` });
        break;
      }
      if (r.ret !== SECCOMP_RET_ALLOW) {
        failures.push({ nr, reason: `returns 0x${r.ret.toString(16)}, not ALLOW` });
        break;
      }
      if (!r.constant) {
        const offs = r.loads.filter((o) => o !== SECCOMP_DATA_NR && o !== SECCOMP_DATA_ARCH);
        failures.push({ nr, reason: `reads seccomp_data offset ${offs.join(', ') || '?'} (arguments/ip) before deciding` });
        break;
      }
    }
  }
  return failures;
}

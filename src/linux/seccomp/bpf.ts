// cordon – classic BPF as seccomp uses it: opcodes, return values, encoding, and a small assembler.
//
// The assembler builds the program from its end backwards (like Chromium's bpf_dsl CodeGen): every
// jump target is already placed when the jump is emitted, so offsets are known at once, and a
// conditional jump whose target is more than 255 instructions away (jt/jf are 8-bit) goes through a
// `ja` trampoline (32-bit offset) placed right after it.

// --- opcodes (linux/bpf_common.h) ------------------------------------------------------------------
export const BPF_LD = 0x00;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_W = 0x00;
export const BPF_ABS = 0x20;
export const BPF_K = 0x00;
export const BPF_AND = 0x50;
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

export const OP_LD_ABS = BPF_LD | BPF_W | BPF_ABS; // 0x20
export const OP_AND_K = BPF_ALU | BPF_AND | BPF_K; // 0x54
export const OP_JA = BPF_JMP | BPF_JA; // 0x05
export const OP_JEQ_K = BPF_JMP | BPF_JEQ | BPF_K; // 0x15
export const OP_JGT_K = BPF_JMP | BPF_JGT | BPF_K; // 0x25
export const OP_JGE_K = BPF_JMP | BPF_JGE | BPF_K; // 0x35
export const OP_JSET_K = BPF_JMP | BPF_JSET | BPF_K; // 0x45
export const OP_RET_K = BPF_RET | BPF_K; // 0x06

/** Maximum program length the kernel accepts (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

// --- seccomp (linux/seccomp.h, linux/audit.h) -------------------------------------------------------
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
/** x32 syscalls arrive with arch == AUDIT_ARCH_X86_64 and this bit set in nr. */
export const X32_SYSCALL_BIT = 0x40000000;

/** Offsets in struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }. */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_IP = 8;
export const SECCOMP_DATA_SIZE = 64;
/** Offset of the low (little-endian) 32 bits of args[i]; the high half is 4 bytes further. */
export function argLow(i: number): number {
  if (!Number.isInteger(i) || i < 0 || i > 5) throw new RangeError(`no syscall argument ${i}`);
  return 16 + 8 * i;
}

export const retErrno = (errno: number): number => (SECCOMP_RET_ERRNO | (errno & SECCOMP_RET_DATA)) >>> 0;

/** One struct sock_filter. */
export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Serializes to the kernel's layout: u16 code, u8 jt, u8 jf, u32 k, little-endian. */
export function encode(insns: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((ins, i) => {
    buf.writeUInt16LE(ins.code, i * 8);
    buf.writeUInt8(ins.jt, i * 8 + 2);
    buf.writeUInt8(ins.jf, i * 8 + 3);
    buf.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return buf;
}

export function decode(buf: Buffer): Insn[] {
  if (buf.length % 8 !== 0) throw new Error(`BPF program of ${buf.length} bytes is not a whole number of instructions`);
  const out: Insn[] = [];
  for (let o = 0; o < buf.length; o += 8) {
    out.push({ code: buf.readUInt16LE(o), jt: buf.readUInt8(o + 2), jf: buf.readUInt8(o + 3), k: buf.readUInt32LE(o + 4) });
  }
  return out;
}

/**
 * A position in a program being built backwards: the number of instructions emitted after it
 * (0 = the last instruction). Stable while more instructions are prepended.
 */
export type Label = number;

const MAX_JUMP = 255;

export class BackwardAssembler {
  /** Instructions in reverse order: rev[0] is the program's last instruction. */
  private readonly rev: Insn[] = [];
  private readonly returns = new Map<number, Label>();

  private push(ins: Insn): Label {
    this.rev.push(ins);
    return this.rev.length - 1;
  }

  /** Jump distance from an instruction emitted next to `target`. */
  private distance(target: Label): number {
    return this.rev.length - target - 1;
  }

  /** `ret k`, shared with an identical return already placed within reach. */
  ret(k: number): Label {
    k >>>= 0;
    const seen = this.returns.get(k);
    // Reachable by a conditional jump emitted next, even after one trampoline for the other side.
    if (seen !== undefined && this.distance(seen) < MAX_JUMP) return seen;
    const at = this.push({ code: OP_RET_K, jt: 0, jf: 0, k });
    this.returns.set(k, at);
    return at;
  }

  /** `ja target`. */
  ja(target: Label): Label {
    return this.push({ code: OP_JA, jt: 0, jf: 0, k: this.distance(target) });
  }

  /** A non-jump instruction that falls through to `next` (which must be the instruction emitted last). */
  op(code: number, k: number, next: Label): Label {
    if (next !== this.rev.length - 1) throw new Error('BackwardAssembler.op: `next` must be the last emitted instruction');
    return this.push({ code, jt: 0, jf: 0, k: k >>> 0 });
  }

  /** Loads the 32-bit word at `offset` of seccomp_data, then continues at `next`. */
  load(offset: number, next: Label): Label {
    return this.op(OP_LD_ABS, offset, this.fallTo(next));
  }

  /** `A &= k`, then continues at `next`. */
  and(k: number, next: Label): Label {
    return this.op(OP_AND_K, k, this.fallTo(next));
  }

  /** Makes `next` the instruction emitted last, with a `ja` if it is not. */
  private fallTo(next: Label): Label {
    return next === this.rev.length - 1 ? next : this.ja(next);
  }

  /** A conditional jump `code k` to `jt` if true, `jf` if false; trampolines where out of reach. */
  jump(code: number, k: number, jt: Label, jf: Label): Label {
    let t = jt;
    let f = jf;
    for (;;) {
      if (this.distance(t) > MAX_JUMP) t = this.ja(t);
      else if (this.distance(f) > MAX_JUMP) f = this.ja(f);
      else break;
    }
    return this.push({ code, jt: this.distance(t), jf: this.distance(f), k: k >>> 0 });
  }

  /** The finished program; `entry` must be the instruction emitted last (program counter 0). */
  finish(entry: Label): Insn[] {
    if (entry !== this.rev.length - 1) throw new Error('BackwardAssembler.finish: the entry must be emitted last');
    return [...this.rev].reverse();
  }
}

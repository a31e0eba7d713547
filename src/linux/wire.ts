// cordon – encodes a launch plan for the native launcher (mirror of native/launcher/plan.h; keep tags in sync).

export const Tag = {
  arg: 1,
  env: 2,
  cwd: 3,
  hostname: 4,
  mount: 5,
  landlockFs: 6,
  landlockRule: 7,
  landlockScope: 8,
  seccomp: 9,
  namespaces: 10,
  notifyErrno: 11,
  landlockAbi: 12,
  endSetup: 13,
  keeper: 14,
  join: 15,
  /** netns | readonly: pid 1 refuses connects to unix sockets bound outside the sandbox (native/launcher/unix_guard.h). */
  unixGuard: 16,
  /** A host unix socket the guard lets through (network.unixSockets), its path inside = on the host. */
  unixAllow: 17,
  /** Network (20..39, native/launcher/network.cc): channel fd \0 capture port \0 proxy port. */
  netConfig: 20,
  /** action (redirect|accept) \0 cidr \0 port-lo \0 port-hi (0 0 = any port). */
  netCapture: 21,
  // 40..59: resource limits (native/launcher/limits.h; encoded by limits.ts)
  limitCgroup: 40,
  limitCgset: 41,
  limitRlimit: 42,
  limitCounter: 43,
  limitPidMax: 44,
  end: 99,
} as const;

export type MountKind =
  | 'bind-ro'
  | 'bind-rw'
  | 'bind-dev'
  | 'tmpfs'
  | 'mask'
  | 'symlink'
  | 'dir'
  | 'proc'
  | 'devpts'
  | 'file'
  | 'remount-ro'
  | 'pin';

export interface MountOp {
  kind: MountKind;
  /** Host path for binds, link target for symlinks, content for files; '' otherwise. */
  src: string;
  /** Path inside the sandbox. */
  dst: string;
  /** Filesystem options (tmpfs/proc/devpts) or an octal mode (file). */
  opt: string;
}

/**
 * Accumulates records into one Buffer. The records are kept as given and encoded once, into one
 * allocation: a command's ~30 records as separate Buffers (a header and a body each) cost ~70 µs
 * on a CPU idle between commands, on the critical path of every command.
 */
export class WireWriter {
  private readonly tags: number[] = [];
  private readonly payloads: Array<string | Buffer> = [];

  record(tag: number, payload: string | Buffer): this {
    this.tags.push(tag);
    this.payloads.push(payload);
    return this;
  }

  fields(tag: number, ...fields: string[]): this {
    return this.record(tag, fields.join('\0'));
  }

  /** Bytes already encoded (a part written by another WireWriter), copied as they are. */
  raw(buf: Buffer): this {
    this.tags.push(-1);
    this.payloads.push(buf);
    return this;
  }

  toBuffer(): Buffer {
    const n = this.tags.length;
    const lengths = new Array<number>(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const p = this.payloads[i]!;
      const len = typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length;
      lengths[i] = len;
      total += len + (this.tags[i]! < 0 ? 0 : 8);
    }
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const tag = this.tags[i]!;
      const p = this.payloads[i]!;
      if (tag >= 0) {
        out.writeUInt32LE(tag, at);
        out.writeUInt32LE(lengths[i]!, at + 4);
        at += 8;
      }
      at += typeof p === 'string' ? out.write(p, at, 'utf8') : p.copy(out, at);
    }
    return out;
  }
}

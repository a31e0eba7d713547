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

/** Accumulates records into one Buffer. */
export class WireWriter {
  private readonly parts: Buffer[] = [];

  record(tag: number, payload: string | Buffer): this {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const header = Buffer.alloc(8);
    header.writeUInt32LE(tag, 0);
    header.writeUInt32LE(body.length, 4);
    this.parts.push(header, body);
    return this;
  }

  fields(tag: number, ...fields: string[]): this {
    return this.record(tag, fields.join('\0'));
  }

  raw(buf: Buffer): this {
    this.parts.push(buf);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

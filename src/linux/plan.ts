// cordon – turns a Policy into the Linux launch plan: namespaces, the mount tree, Landlock rules, seccomp.
//
// The static part (everything but argv/env/cwd) is computed and encoded once per Sandbox; a command
// only adds its own records in front of it, so the per-command cost is one Buffer.concat.
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { LANDLOCK_ABI_USED, landlockRules, scopes, writeRights } from './landlock.js';
import { detectCgroups, encodeLimits, limitSupport, type LimitsPlan } from './limits.js';
import type { LinuxProbe } from './probe.js';
import { loadNetAddon } from '../net/addon.js';
import { brokerUnusableReason, brokerUsable, captures, CAPTURE_PORT, CHANNEL_FD, PROXY_PORT, resolvConfMount } from '../net/plan.js';
import { lstatOrUndefined } from '../policy/realpaths.js';
import { buildSeccompFilter } from './seccomp/index.js';
import { Tag, WireWriter, type MountOp } from './wire.js';

export const CLONE = {
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  NEWNS: 0x00020000,
} as const;

export interface LinuxPlan {
  namespaces: number;
  mounts: MountOp[];
  landlockAbi: number;
  landlockFs: bigint;
  landlockScope: bigint;
  landlockRules: { access: bigint; path: string }[];
  seccomp: Buffer;
  notifyErrno: Array<[number, number]>;
  /** Resource limits: cgroup parents (for cleanup), whether counters are reported, the CPU limit. */
  limits: LimitsPlan;
  /** The setup records, encoded, without END_SETUP (see setupPart). */
  body: Buffer;
  warnings: string[];
}

/** The process limit applied when a profile sets none and it can be enforced for free (see planLinux). */
export const DEFAULT_PIDS = 4096;

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return p === '/' ? 0 : n;
}

/** path.dirname for the absolute, normalised paths of a policy (no validation, no trailing slash). */
function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

const READ = 1;
const WRITE = 2;
const SPECIAL = 4;
const DENY = 8;
const LINK = 16;

/**
 * Which kinds of root (READ, WRITE, …) sit at a path and above it. The flags of every directory's
 * ancestors are remembered, so a thousand masks in one directory cost one walk up, not a thousand.
 */
class Roots {
  private readonly at = new Map<string, number>();
  private readonly upTo = new Map<string, number>();

  add(paths: Iterable<string>, flag: number): void {
    for (const p of paths) this.at.set(p, (this.at.get(p) ?? 0) | flag);
    this.upTo.clear();
  }

  /** Flags of the roots strictly above `p`. */
  above(p: string): number {
    return p === '/' ? 0 : this.atOrAbove(parentOf(p));
  }

  /** Flags of the roots at `p` or above it. */
  atOrAbove(p: string): number {
    let f = this.upTo.get(p);
    if (f === undefined) {
      f = (this.at.get(p) ?? 0) | this.above(p);
      this.upTo.set(p, f);
    }
    return f;
  }
}

/** The mount tree, parents before children; deny wins over every bind at the same or a deeper path. */
export function mountOps(policy: Policy): MountOp[] {
  const { fs } = policy;
  const base: MountOp[] = [
    { kind: 'tmpfs', src: '', dst: '/tmp', opt: `mode=1777,size=${policy.limits.tmpBytes}` },
    { kind: 'tmpfs', src: '', dst: '/dev', opt: 'mode=0755,size=65536,nr_inodes=256' },
    ...DEVICES.map((d): MountOp => ({ kind: 'bind-dev', src: `/dev/${d}`, dst: `/dev/${d}`, opt: '' })),
    { kind: 'devpts', src: '', dst: '/dev/pts', opt: 'newinstance,ptmxmode=0666,mode=0620' },
    { kind: 'symlink', src: 'pts/ptmx', dst: '/dev/ptmx', opt: '' },
    { kind: 'symlink', src: '/proc/self/fd', dst: '/dev/fd', opt: '' },
    { kind: 'symlink', src: '/proc/self/fd/0', dst: '/dev/stdin', opt: '' },
    { kind: 'symlink', src: '/proc/self/fd/1', dst: '/dev/stdout', opt: '' },
    { kind: 'symlink', src: '/proc/self/fd/2', dst: '/dev/stderr', opt: '' },
    { kind: 'tmpfs', src: '', dst: '/dev/shm', opt: `mode=1777,size=${policy.limits.tmpBytes}` },
    // Read-only as a whole (mounts.cc): /proc/sys, sysrq-trigger, /proc/self/mem, oom_score_adj …
    // all answer EROFS to a write, with no per-path remount and no Landlock rule walk on open.
    { kind: 'proc', src: '', dst: '/proc', opt: '' },
  ];
  const special = new Set(['/tmp', '/dev', '/proc']);
  const roots = new Roots();
  roots.add(fs.read, READ);
  roots.add(fs.write, WRITE);
  roots.add(special, SPECIAL);
  roots.add(fs.deny, DENY);
  const binds: MountOp[] = [];
  const links: string[] = [];
  for (const r of fs.read) {
    if (special.has(r) || roots.atOrAbove(r) & DENY) continue;
    if (roots.atOrAbove(r) & WRITE) continue; // write implies read
    if (roots.above(r) & READ) continue; // already inside a read bind
    let link: string | undefined;
    try {
      // lstat first: readlink on a directory would throw (an exception costs more than the syscall).
      link = lstatSync(r, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(r) : undefined;
    } catch {
      link = undefined;
    }
    if (link !== undefined) links.push(r);
    binds.push(link !== undefined ? { kind: 'symlink', src: link, dst: r, opt: '' } : { kind: 'bind-ro', src: r, dst: r, opt: '' });
  }
  for (const w of fs.write) if (!special.has(w) && !(roots.atOrAbove(w) & DENY)) binds.push({ kind: 'bind-rw', src: w, dst: w, opt: '' });
  const visible = (p: string) => (roots.atOrAbove(p) & (READ | WRITE | SPECIAL)) !== 0;
  const pinned = new Set<string>();
  // A protected path under a *file* (`.git/hooks` where `.git` is a git worktree's pointer file,
  // `gitdir: …`) cannot exist; the file itself is what must stay as it is, or a command could
  // point git at a directory of its own making, hooks included.
  const protectedPaths = [...fs.protected];
  for (const p of fs.protected) {
    const parent = path.dirname(p);
    if (!protectedPaths.includes(parent) && lstatOrUndefined(parent)?.isFile()) protectedPaths.push(parent);
  }
  for (const p of protectedPaths) {
    if (roots.atOrAbove(p) & DENY || !(roots.atOrAbove(p) & WRITE)) continue;
    binds.push({ kind: 'remount-ro', src: '', dst: p, opt: '' });
    // Pin the parent (e.g. .git) so it cannot be renamed away and replaced by an unprotected copy,
    // and every directory above it up to the writable root, as above a mask: the walk for masks
    // below stops at the first pinned directory, so a pinned directory has its ancestors pinned.
    for (let dir = parentOf(p); !pinned.has(dir) && roots.above(dir) & WRITE; dir = parentOf(dir)) {
      pinned.add(dir);
      binds.push({ kind: 'pin', src: '', dst: dir, opt: '' });
    }
  }
  // Masks: only where the path would otherwise be visible; a mask under another mask is redundant.
  // Inside a writable tree, every directory between the tree and a mask is pinned too: a command
  // can then rename neither a masked file nor anything above it (EBUSY), so a concurrent command
  // of the same Sandbox cannot move a secret out from under the mask another is about to place.
  for (const d of fs.deny) {
    if (!visible(d) || roots.above(d) & DENY) continue;
    binds.push({ kind: 'mask', src: '', dst: d, opt: '' });
    for (let dir = parentOf(d); !pinned.has(dir) && roots.above(dir) & WRITE; dir = parentOf(dir)) {
      pinned.add(dir);
      binds.push({ kind: 'pin', src: '', dst: dir, opt: '' });
    }
  }
  const order: Record<string, number> = { symlink: 0, 'bind-ro': 1, 'bind-rw': 2, pin: 3, 'remount-ro': 4, mask: 5 };
  const keyed = binds.map((b) => ({ b, depth: depth(b.dst), kind: order[b.kind] ?? 9 }));
  keyed.sort((x, y) => x.depth - y.depth || x.kind - y.kind || (x.b.dst < y.b.dst ? -1 : x.b.dst > y.b.dst ? 1 : 0));
  const sorted = keyed.map((k) => k.b);
  // A bind of the whole root (a read root of /) is the base everything else is mounted on: first,
  // before /tmp, /dev and /proc, which would otherwise lie hidden under it (mounts.cc).
  const rootBind = sorted.findIndex((b) => b.dst === '/');
  if (rootBind >= 0) base.unshift(...sorted.splice(rootBind, 1));
  if (links.length === 0) return [...base, ...sorted];
  // A symlinked read root makes its children unreachable as paths; drop binds below one (its own
  // Roots, so the memo of the one above stays valid).
  const linked = new Roots();
  linked.add(links, LINK);
  return [...base, ...sorted.filter((b) => !(linked.above(b.dst) & LINK))];
}

export function planLinux(policy: Policy, probe: LinuxProbe): LinuxPlan {
  const warnings: string[] = [];
  if (probe.namespaces !== 0) {
    throw new CordonError(
      'LAYER_UNAVAILABLE',
      `user namespaces are not available to this user (unshare failed with errno ${probe.namespaces}); cordon cannot build a sandbox here`,
      { step: 'namespaces', errno: probe.namespaces, hint: 'run `cordon doctor`; on Debian/Ubuntu check kernel.unprivileged_userns_clone and AppArmor userns restrictions' },
    );
  }
  if (probe.seccomp !== 0) {
    throw new CordonError('LAYER_UNAVAILABLE', `seccomp filters are not available (errno ${probe.seccomp})`, { step: 'seccomp' });
  }
  let abi = Math.min(probe.landlockAbi, LANDLOCK_ABI_USED);
  if (abi < 1) {
    if (!policy.weaker.allowMissingLandlock) {
      throw new CordonError(
        'LAYER_UNAVAILABLE',
        'Landlock is not available in this kernel; refusing to run without it',
        { step: 'landlock', errno: probe.landlockErrno, hint: 'set "unsafe": {"allowMissingLandlock": true} in the profile to run with the mount namespace alone' },
      );
    }
    warnings.push('running WITHOUT Landlock (profile opt-in unsafe.allowMissingLandlock): writes are confined by the mount namespace only');
    abi = 0;
  }
  let namespaces = CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWCGROUP;
  if (policy.network.mode === 'host') warnings.push('network mode "host": the command shares the host network, unpoliced');
  else namespaces |= CLONE.NEWNET;

  const mounts = mountOps(policy);
  const allowlist = policy.network.mode === 'allowlist';
  if (allowlist) {
    loadNetAddon(); // fail closed now, not per command, when the supervisor's addon is missing
    const resolv = resolvConfMount(policy);
    if (resolv) mounts.push(resolv);
  }
  // Landlock's job is what no other layer does: scoping abstract unix sockets and signals (ABI 6+).
  // The write side of the filesystem is the mount tree's (read-only binds, read-only /proc); a
  // ruleset handling any filesystem right costs ~150 ns on every open() (landlock.ts), so the
  // mirror of the write plan is used only where there is no scoping to do (ABI 1-5).
  const landlockScope = abi > 0 ? scopes(abi) : 0n;
  const landlockFs = abi > 0 && landlockScope === 0n ? writeRights(abi) : 0n;
  const rules = landlockFs !== 0n ? landlockRules(abi, policy.fs.write) : [];
  // Pid 1 performs every connect() (the connect broker): it refuses unix sockets bound outside the
  // sandbox (unix_guard.h) and, in allowlist mode, connects allowed TCP from the host (relay-free,
  // docs/network.md). Where it could not act for the caller the kernel connects: allowlist traffic is
  // relayed, and host sockets are masked only where the compile-time walk of the home found them.
  const broker = brokerUsable();
  if (!broker) warnings.push(`the unix-socket guard is off (${brokerUnusableReason()}): a host service's unix socket is refused only where a mask hides it (sockets found in the home when the profile was compiled)`);
  const { program, notifyErrno } = buildSeccompFilter({ network: policy.network.mode, guardSetid: probe.uid === 0, superviseConnect: broker });

  const w = new WireWriter();
  w.record(Tag.namespaces, String(namespaces));
  for (const m of mounts) w.fields(Tag.mount, m.kind, m.src, m.dst, m.opt);
  w.record(Tag.landlockAbi, String(abi));
  w.record(Tag.landlockFs, landlockFs.toString());
  w.record(Tag.landlockScope, landlockScope.toString());
  for (const r of rules) w.fields(Tag.landlockRule, r.access.toString(), r.path);
  w.record(Tag.seccomp, program);
  for (const [nr, errno] of notifyErrno) w.fields(Tag.notifyErrno, String(nr), String(errno));
  // With its own network namespace the sandbox knows its sockets exactly; sharing the host's, a socket
  // on a read-only mount is still known to be the host's.
  if (broker) w.record(Tag.unixGuard, policy.network.mode === 'host' ? 'readonly' : 'netns');
  if (broker) for (const s of policy.network.unixSockets) w.record(Tag.unixAllow, s);
  if (allowlist) {
    w.fields(Tag.netConfig, String(CHANNEL_FD), String(CAPTURE_PORT), String(PROXY_PORT), broker ? 'broker' : 'relay');
    for (const c of captures(policy.network)) w.fields(Tag.netCapture, c.action, c.cidr, String(c.ports[0]), String(c.ports[1]));
  }
  const sites = detectCgroups();
  const support = limitSupport(probe.uid, probe.kernel, sites);
  // A profile without a process limit still gets one where it costs nothing, so a fork bomb stops
  // at DEFAULT_PIDS instead of filling the host's process table: the sandbox's own pid_max (Linux
  // 6.14+ keeps it per pid namespace; pid 1 writes it, for root callers too), or else RLIMIT_NPROC,
  // which the kernel counts per user namespace for callers other than root.
  const noPidsLimit = policy.limits.pids === undefined;
  const pidMaxByDefault = noPidsLimit && probe.pidMax === 0;
  const pidsByDefault = noPidsLimit && !pidMaxByDefault && support.pids.mechanism === 'rlimit';
  const limitsPolicy = pidsByDefault ? { ...policy.limits, pids: DEFAULT_PIDS } : policy.limits;
  const limits = encodeLimits(w, limitsPolicy, support, sites);
  if (pidMaxByDefault) w.record(Tag.limitPidMax, String(DEFAULT_PIDS + 1)); // + init
  return {
    namespaces,
    mounts,
    landlockAbi: abi,
    landlockFs,
    landlockScope,
    landlockRules: rules,
    seccomp: program,
    notifyErrno,
    limits,
    body: w.toBuffer(),
    warnings,
  };
}

export type SetupRole =
  | { kind: 'sandbox' }
  | { kind: 'keeper' }
  /** A session command: the keeper's init pid and its namespace inodes (from READY), checked on join. */
  | { kind: 'join'; initPid: number; inodes: readonly string[] };

/** The setup part for one launch: a sandbox of its own, a session keeper, or a session command. */
export function setupPart(plan: LinuxPlan, role: SetupRole = { kind: 'sandbox' }): Buffer {
  const w = new WireWriter().raw(plan.body);
  if (role.kind === 'keeper') w.record(Tag.keeper, '');
  if (role.kind === 'join') w.record(Tag.join, [String(role.initPid), ...role.inodes].join(' '));
  return w.record(Tag.endSetup, '').toBuffer();
}

/** The command part of the wire protocol: argv, env, cwd, END (sent after the setup part). */
export function encodeCommand(argv: readonly string[], env: Readonly<Record<string, string>>, cwd: string): Buffer {
  const w = new WireWriter();
  for (const a of argv) w.record(Tag.arg, a);
  for (const [k, v] of Object.entries(env)) w.record(Tag.env, `${k}=${v}`);
  w.record(Tag.cwd, path.resolve(cwd));
  w.record(Tag.end, '');
  return w.toBuffer();
}

// cordon – the mount tree of a Policy (parents before children; deny wins), encoded once and reused across compiles while its inputs and the filesystem facts it read are the same.
//
// A Sandbox per task compiles the same profile again and again, and since the compile-speed work a
// compile hands back the same frozen `fs.deny` and `fs.protected` arrays while nothing changed. The
// tree follows from the policy's lists and a few filesystem facts: which read roots are symlinks
// (and to what) and which parents of protected paths are files. Those facts are read again on every
// plan (a dozen lstats); the tree and its wire encoding are reused only while the lists and every
// fact are what they were, so a reused plan is always the plan a fresh process would make.
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

import { lstatOrUndefined } from '../policy/realpaths.js';
import type { Policy } from '../policy/policy.js';
import { Tag, type MountOp } from './wire.js';

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const SPECIAL_DIRS: ReadonlySet<string> = new Set(['/tmp', '/dev', '/proc']);

const READ = 1;
const WRITE = 2;
const SPECIAL = 4;
const DENY = 8;
const LINK = 16;
const VISIBLE = READ | WRITE | SPECIAL;

/** Sort rank of each kind among the binds of one depth (see planTree). */
const RANK: Partial<Record<MountOp['kind'], number>> = { symlink: 0, 'bind-ro': 1, 'bind-rw': 2, pin: 3, 'remount-ro': 4, mask: 5 };
const RANKS = 7; // 0..5, and 6 for any other kind

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

  /** Flags of the roots at `p` itself. */
  here(p: string): number {
    return this.at.get(p) ?? 0;
  }

  /** Flags of the roots strictly above `p`. */
  above(p: string): number {
    return p === '/' ? 0 : this.atOrAbove(parentOf(p));
  }

  /** Flags of the roots at `p` or above it (remembered: for directories, asked again and again). */
  atOrAbove(p: string): number {
    let f = this.upTo.get(p);
    if (f === undefined) {
      f = (this.at.get(p) ?? 0) | this.above(p);
      this.upTo.set(p, f);
    }
    return f;
  }
}

/** Where a read root points when it is a symlink (undefined: not a link, or not reachable). */
function linkOf(p: string): string | undefined {
  try {
    // lstat first: readlink on a directory would throw (an exception costs more than the syscall).
    return lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(p) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the tree depends on besides the lists: the read roots that are bound (a symlink among them
 * is recreated as a link) and the parents of protected paths that are not protected themselves (a
 * file there, a git worktree's `.git`, is protected in their place). Pure in the lists.
 */
interface Lookups {
  readonly readRoots: readonly string[];
  readonly protectedParents: readonly string[];
}

/** The facts read for `lookups`: each read root's link target, each protected parent's being a file. */
interface Facts {
  readonly links: ReadonlyArray<string | undefined>;
  readonly parentFiles: readonly boolean[];
}

function readFacts(l: Lookups): Facts {
  return { links: l.readRoots.map(linkOf), parentFiles: l.protectedParents.map((p) => lstatOrUndefined(p)?.isFile() === true) };
}

function sameFacts(a: Facts, b: Facts): boolean {
  return sameList(a.links, b.links) && sameList(a.parentFiles, b.parentFiles);
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The mount tree and its MOUNT records, as planLinux sends them. */
export interface MountTree {
  readonly ops: readonly MountOp[];
  /** The ops encoded (Tag.mount records, in order). */
  readonly encoded: Buffer;
}

/** A tree with copies of the lists it was planned from (compared entry by entry: a caller's array may change in place). */
interface Built {
  readonly deny: readonly string[];
  readonly read: readonly string[];
  readonly write: readonly string[];
  readonly protected: readonly string[];
  readonly tmpBytes: number;
  readonly lookups: Lookups;
  readonly facts: Facts;
  readonly tree: MountTree;
}

/** The last tree per deny list (a compile hands back the same frozen array while nothing changed; looked up by identity, checked by content). */
const built = new WeakMap<readonly string[], Built>();

/** The mount tree of `policy`: reused while the lists and the facts read for it now are the same. */
export function mountTree(policy: Policy): MountTree {
  const { fs } = policy;
  const last = built.get(fs.deny);
  let facts: Facts | undefined;
  if (last && last.tmpBytes === policy.limits.tmpBytes && sameList(last.deny, fs.deny) && sameList(last.read, fs.read) && sameList(last.write, fs.write) && sameList(last.protected, fs.protected)) {
    facts = readFacts(last.lookups);
    if (sameFacts(facts, last.facts)) return last.tree;
  }
  const roots = rootsOf(policy);
  const lookups = facts && last ? last.lookups : lookupsOf(policy, roots);
  facts ??= readFacts(lookups);
  const ops = planTree(policy, roots, lookups, facts);
  const tree: MountTree = Object.freeze({ ops, encoded: encodeMounts(ops) });
  built.set(fs.deny, { deny: [...fs.deny], read: [...fs.read], write: [...fs.write], protected: [...fs.protected], tmpBytes: policy.limits.tmpBytes, lookups, facts, tree });
  return tree;
}

function rootsOf(policy: Policy): Roots {
  const roots = new Roots();
  roots.add(policy.fs.read, READ);
  roots.add(policy.fs.write, WRITE);
  roots.add(SPECIAL_DIRS, SPECIAL);
  roots.add(policy.fs.deny, DENY);
  return roots;
}

/** A read root is bound unless it is special, denied, inside a writable root or inside another read root. */
function boundReadRoot(roots: Roots, r: string): boolean {
  if (SPECIAL_DIRS.has(r)) return false;
  const f = roots.atOrAbove(r);
  return !(f & (DENY | WRITE)) && !(roots.above(r) & READ);
}

function lookupsOf(policy: Policy, roots: Roots): Lookups {
  const readRoots = policy.fs.read.filter((r) => boundReadRoot(roots, r));
  const prot = new Set(policy.fs.protected);
  const parents = new Set<string>();
  for (const p of policy.fs.protected) {
    const parent = path.dirname(p);
    if (!prot.has(parent)) parents.add(parent);
  }
  return { readRoots, protectedParents: [...parents] };
}

/** The mount tree, parents before children; deny wins over every bind at the same or a deeper path. */
function planTree(policy: Policy, roots: Roots, lookups: Lookups, facts: Facts): readonly MountOp[] {
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
  // Binds by depth, then by kind (RANK); each bucket is sorted by path at the end (most arrive sorted).
  const buckets: MountOp[][] = [];
  const put = (b: MountOp) => {
    const i = depth(b.dst) * RANKS + (RANK[b.kind] ?? 6);
    (buckets[i] ??= []).push(b);
  };
  const links: string[] = [];
  lookups.readRoots.forEach((r, i) => {
    const link = facts.links[i];
    if (link !== undefined) links.push(r);
    put(link !== undefined ? { kind: 'symlink', src: link, dst: r, opt: '' } : { kind: 'bind-ro', src: r, dst: r, opt: '' });
  });
  for (const w of fs.write) if (!SPECIAL_DIRS.has(w) && !(roots.atOrAbove(w) & DENY)) put({ kind: 'bind-rw', src: w, dst: w, opt: '' });
  const pinned = new Set<string>();
  // Pin the parent (e.g. .git) so it cannot be renamed away and replaced by an unprotected copy,
  // and every directory above it up to the writable root, as above a mask: the walk for masks
  // below stops at the first pinned directory, so a pinned directory has its ancestors pinned.
  const pinFrom = (parent: string) => {
    for (let dir = parent; !pinned.has(dir) && roots.above(dir) & WRITE; dir = parentOf(dir)) {
      pinned.add(dir);
      put({ kind: 'pin', src: '', dst: dir, opt: '' });
    }
  };
  // A protected path under a *file* (`.git/hooks` where `.git` is a git worktree's pointer file,
  // `gitdir: …`) cannot exist; the file itself is what must stay as it is, or a command could
  // point git at a directory of its own making, hooks included.
  const protectedPaths = [...fs.protected, ...lookups.protectedParents.filter((_, i) => facts.parentFiles[i])];
  for (const p of protectedPaths) {
    const f = roots.atOrAbove(p);
    if (f & DENY || !(f & WRITE)) continue;
    put({ kind: 'remount-ro', src: '', dst: p, opt: '' });
    pinFrom(parentOf(p));
  }
  // Masks: only where the path would otherwise be visible; a mask under another mask is redundant.
  // Inside a writable tree, every directory between the tree and a mask is pinned too: a command
  // can then rename neither a masked file nor anything above it (EBUSY), so a concurrent command
  // of the same Sandbox cannot move a secret out from under the mask another is about to place.
  // A denied path's own flags are not remembered (only directories are asked about twice), and
  // consecutive paths in one directory (a sorted list) share its flags without slicing its name again.
  let lastParent = '';
  let lastUp = 0;
  for (const d of fs.deny) {
    const slash = d.lastIndexOf('/');
    let parent = '/';
    let up = 0;
    if (slash <= 0) {
      up = d === '/' ? 0 : roots.atOrAbove('/');
    } else {
      if (slash !== lastParent.length || !d.startsWith(lastParent)) {
        lastParent = d.slice(0, slash);
        lastUp = roots.atOrAbove(lastParent);
      }
      parent = lastParent;
      up = lastUp;
    }
    if (!((roots.here(d) | up) & VISIBLE) || up & DENY) continue;
    put({ kind: 'mask', src: '', dst: d, opt: '' });
    pinFrom(parent);
  }
  const sorted: MountOp[] = [];
  for (const bucket of buckets) {
    if (!bucket) continue;
    let inOrder = true;
    for (let i = 1; i < bucket.length && inOrder; i++) inOrder = (bucket[i - 1] as MountOp).dst <= (bucket[i] as MountOp).dst;
    // Stable, as the single sort it replaces: equal paths keep the order they were planned in.
    if (!inOrder) bucket.sort((x, y) => (x.dst < y.dst ? -1 : x.dst > y.dst ? 1 : 0));
    for (const b of bucket) sorted.push(b);
  }
  // A bind of the whole root (a read root of /) is the base everything else is mounted on: first,
  // before /tmp, /dev and /proc, which would otherwise lie hidden under it (mounts.cc).
  const rootBind = sorted.findIndex((b) => b.dst === '/');
  if (rootBind >= 0) base.unshift(...sorted.splice(rootBind, 1));
  // A symlinked read root makes its children unreachable as paths; drop binds below one (its own
  // Roots, so the memo of the one above stays valid).
  const linked = new Roots();
  linked.add(links, LINK);
  const out = base;
  for (const b of sorted) if (links.length === 0 || !(linked.above(b.dst) & LINK)) out.push(b);
  for (const o of out) Object.freeze(o);
  return Object.freeze(out);
}

/** The MOUNT records of `ops`, as WireWriter.fields writes them (kind, src, dst, opt joined by NUL), in one allocation. */
function encodeMounts(ops: readonly MountOp[]): Buffer {
  const payloads = ops.map((m) => `${m.kind}\0${m.src}\0${m.dst}\0${m.opt}`);
  const lengths = payloads.map((p) => Buffer.byteLength(p, 'utf8'));
  let size = 0;
  for (const n of lengths) size += 8 + n;
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  payloads.forEach((p, i) => {
    const n = lengths[i] as number;
    buf.writeUInt32LE(Tag.mount, at);
    buf.writeUInt32LE(n, at + 4);
    at += 8;
    if (buf.write(p, at, n, 'utf8') !== n) throw new Error('mount record: short write');
    at += n;
  });
  return buf;
}

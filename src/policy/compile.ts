// cordon – compiles a loaded Profile into a Policy: its entries (entries.ts) resolved on this filesystem (real paths, symlinks, deny-glob hits), provenance kept.
//
// A Sandbox per task compiles the same profile again and again: the entries are kept per loaded
// profile, and what this file derives from them and the filesystem (the deny list, the glob scans)
// is kept with them and reused only while its inputs are the same, so a compile always gives what
// a compile from scratch would.
import { lstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CordonError } from '../errors.js';
import type { Profile } from '../profile/load.js';
import { GLOB_CHARS, isBroadWrite } from '../profile/rules.js';
import { HOME_SECRET_GLOBS, TREE_SECRET_GLOBS, TREE_SECRET_PRUNE } from './defaults.js';
import { inodeSnapshot, inodesUnchanged, passFullyWatched, type InodeSnapshot } from './dircache.js';
import { changeCount } from './dirwatch.js';
import { builtin, profileEntries, type DenyEntries, type Entry, type ProfileEntries } from './entries.js';
import { deepFreeze } from './freeze.js';
import { GlobIndex } from './globscan.js';
import { findSockets } from './sockets.js';
import { realOrUndefined, realPaths } from './realpaths.js';
import type { Policy, RuleOrigin } from './policy.js';

export interface CompileOptions {
  /** The workspace directory (must exist). */
  workspace: string;
  /** The caller's home; defaults to os.homedir(). */
  home?: string;
  /** Environment used for ${env:NAME}; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Cache for deny-glob scans, shared across compiles of one Sandbox (see refreshGlobDenies). */
  globIndex?: GlobIndex;
}

function isUnder(p: string, root: string): boolean {
  return p === root || root === '/' || p.startsWith(root + '/');
}

/** Finds files under `roots` whose path matches one of `globs` (no symlinks followed). */
export function matchGlobs(roots: readonly string[], globs: readonly string[], limit = 200_000): string[] {
  return new GlobIndex(limit).match(roots, globs);
}

/** What compile needs to redo the glob part of `fs.deny` later without recompiling. */
interface GlobPlan {
  /** Deny entries that are not glob hits. */
  literal: readonly string[];
  scans: ReadonlyArray<{ roots: readonly string[]; glob: string; origin: RuleOrigin; prune?: readonly string[] }>;
  /** Trees whose unix sockets are masked (the home when readable): re-walked with the globs, so a socket that appears later is masked from the next command on. */
  socketRoots: ReadonlyArray<{ root: string; origin: RuleOrigin }>;
  allowSecrets: ReadonlySet<string>;
  /** Host sockets the profile lets the command reach (network.unixSockets): never masked. */
  unixSockets: ReadonlySet<string>;
  index: GlobIndex;
  /** Every root the walk starts from (scan roots and socket roots, once each). */
  walkRoots: readonly string[];
  /** What the hits depend on (scans, socket roots, allowed secrets), as a key of `quietWalks` (see globScans). */
  readonly key: string;
}

/**
 * The last walk's hits per glob plan key, when every directory it listed was watched (dirwatch.ts):
 * valid while no watched directory changed and the roots are the same directories. Shared by every
 * compile of the process, so a second Sandbox with the same profile walks nothing.
 */
interface QuietWalk {
  changes: number;
  roots: InodeSnapshot;
  hits: ReadonlyMap<string, RuleOrigin>;
}
const quietWalks = new Map<string, QuietWalk>();
const MAX_QUIET_WALKS = 64;

function walkRootsOf(scans: GlobPlan['scans'], socketRoots: GlobPlan['socketRoots']): string[] {
  return [...new Set([...scans.flatMap((s) => s.roots), ...socketRoots.map((s) => s.root)])];
}
/**
 * Each compiled policy's glob plan, with the glob hits its deny list holds (`walked`: the walk's
 * answer they came from; the same answer again means the same hits, without comparing them).
 */
const globPlans = new WeakMap<Policy, { plan: GlobPlan; hits: ReadonlySet<string>; walked: ReadonlyMap<string, RuleOrigin> }>();

/** The glob hits now, less the sockets the profile lets the command reach; `pass` as in dircache.ts. */
function globHits(plan: GlobPlan, pass: object): { hits: ReadonlyMap<string, RuleOrigin>; walked: ReadonlyMap<string, RuleOrigin> } {
  const walked = walkedHits(plan, pass);
  if (![...plan.unixSockets].some((s) => walked.has(s))) return { hits: walked, walked };
  const hits = new Map(walked);
  for (const s of plan.unixSockets) hits.delete(s);
  return { hits, walked };
}

/**
 * The glob hits and found sockets now; `pass` as in dircache.ts (one per compile, one per refresh).
 * While nothing changed, the same (read-only) map as the last time.
 */
function walkedHits(plan: GlobPlan, pass: object): ReadonlyMap<string, RuleOrigin> {
  // Nothing changed under the walked trees since the last walk: its hits stand (one stat per root).
  const changes = changeCount();
  const roots = plan.walkRoots;
  const q = changes === undefined ? undefined : quietWalks.get(plan.key);
  // The same key means the same scans and socket roots, so the same walk roots (walkRootsOf).
  if (q && q.changes === changes && inodesUnchanged(q.roots)) return q.hits;
  const rootsNow = changes === undefined ? undefined : inodeSnapshot(roots);
  const hits = new Map<string, RuleOrigin>();
  // One walk per set of roots, with all of its globs; each hit is attributed to its first glob.
  const groups = new Map<string, GlobPlan['scans'][number][]>();
  for (const s of plan.scans) {
    const key = [...s.roots, '\u0001', ...(s.prune ?? [])].join('\u0000');
    const group = groups.get(key);
    if (group) group.push(s);
    else groups.set(key, [s]);
  }
  for (const scans of groups.values()) {
    const found = plan.index.matchAttributed(scans[0]!.roots, scans.map((s) => s.glob), scans[0]!.prune, pass);
    for (const [hit, gi] of found) {
      if (plan.allowSecrets.has(hit) || hits.has(hit)) continue;
      hits.set(hit, (scans[gi] ?? scans[0]!).origin);
    }
  }
  for (const { root, origin } of plan.socketRoots) {
    for (const sock of findSockets(root, undefined, undefined, pass).sockets) {
      if (!plan.allowSecrets.has(sock) && !hits.has(sock)) hits.set(sock, origin);
    }
  }
  if (changes !== undefined && rootsNow) {
    const key = plan.key;
    quietWalks.delete(key); // re-inserted last: the map stays in least-recently-walked order
    if (passFullyWatched(pass)) {
      if (quietWalks.size >= MAX_QUIET_WALKS) quietWalks.delete(quietWalks.keys().next().value as string);
      quietWalks.set(key, { changes, roots: rootsNow, hits });
    }
  }
  return hits;
}

/**
 * Brings the glob part of a policy's deny list up to date (files created or removed since it was
 * compiled). Returns the same object when nothing changed; otherwise a new frozen Policy.
 * The cost when nothing changed: an inotify drain and one stat per scanned root (dirwatch.ts), or one
 * stat per directory under the scanned trees where inotify cannot vouch for them.
 */
export function refreshGlobDenies(policy: Policy): Policy {
  const known = globPlans.get(policy);
  if (!known || (known.plan.scans.length === 0 && known.plan.socketRoots.length === 0)) return policy;
  const { plan } = known;
  const { hits, walked } = globHits(plan, {});
  // The same hits make the same deny list (literal ∪ hits): nothing to rebuild.
  if (walked === known.walked || (hits.size === known.hits.size && [...hits.keys()].every((h) => known.hits.has(h)))) return policy;
  const deny = [...new Set([...plan.literal, ...hits.keys()])].sort();
  const provenance = policy.provenance && { ...policy.provenance, deny: { ...policy.provenance.deny, ...Object.fromEntries(hits) } };
  const next = deepFreeze({ ...policy, fs: { ...policy.fs, deny }, ...(provenance ? { provenance } : {}) });
  globPlans.set(next, { plan, hits: new Set(hits.keys()), walked });
  return next;
}

export function compilePolicy(profile: Profile, options: CompileOptions): Policy {
  const workspace = realOrUndefined(options.workspace);
  if (!workspace) {
    throw new CordonError('BAD_ARGUMENT', `workspace does not exist: ${options.workspace}`);
  }
  const home = realOrUndefined(options.home ?? os.homedir()) ?? options.home ?? os.homedir();
  const entries = profileEntries(profile, workspace, home, options.env ?? process.env);
  const roots = entries.roots();

  const prov = { read: {} as Record<string, RuleOrigin>, write: {} as Record<string, RuleOrigin>, protected: {} as Record<string, RuleOrigin> };
  // One look at the filesystem for the whole compile: each directory is stat'ed once (dircache.ts).
  const pass = {};
  const links = new Set<string>(); // the paths resolved below that are symlinks themselves
  // Read and write roots are resolved to real paths; a root that does not exist grants nothing.
  const rootReals = realPaths(roots.rootPaths, pass, links);
  const resolveRoots = (list: readonly Entry[], field: 'read' | 'write'): string[] => {
    const out = new Set<string>();
    for (const { path: p, origin: o } of list) {
      const real = rootReals.get(p);
      if (!real) continue;
      out.add(real);
      prov[field][real] ??= o;
    }
    return [...out].sort();
  };
  // ${tmp} names the sandbox's private /tmp, which is always writable; never bind the host's.
  const write = resolveRoots(roots.write, 'write').filter((p) => p !== '/tmp');
  const read = resolveRoots(roots.read, 'read');
  // Read roots that are symlinks (merged /usr: /bin -> usr/bin) stay visible as links.
  const readSet = new Set(read);
  for (const { path: p, linkOrigin } of roots.read) {
    if (links.has(p) && !readSet.has(p)) {
      readSet.add(p);
      read.push(p);
      prov.read[p] ??= linkOrigin;
    }
  }
  read.sort();
  // network.unixSockets: existing sockets only (a missing one grants nothing); anything else there is a mistake.
  const unixSockets: string[] = [];
  for (const { path: p, origin: o } of roots.unixSockets) {
    const real = rootReals.get(p);
    if (!real) continue;
    if (!lstatSync(real).isSocket()) {
      throw new CordonError('POLICY_INVALID', `${o.source}: not a unix socket: ${p}${real !== p ? ` (-> ${real})` : ''}`, {
        path: 'network.unixSockets',
        hint: 'name the socket file itself (e.g. "${env:SSH_AUTH_SOCK}")',
      });
    }
    unixSockets.push(real);
  }

  // Protected paths: a symlink there could redirect the host's later use of it; refuse to run.
  realPaths(roots.protectedPaths, pass, links);
  for (const { path: p, origin: o } of roots.protected) {
    prov.protected[p] ??= o;
    // A missing path is protected all the same (nothing to follow).
    if (links.has(p)) {
      throw new CordonError('POLICY_INVALID', `${o.source}: protected path is a symlink: ${p} -> refusing to run`, {
        path: 'filesystem.protected',
        hint: 'remove the link or its target from the workspace',
      });
    }
  }

  // Deny: literal paths (and their real targets), globs, and the built-in secrets.
  const denied = entries.deny();
  const memo = memoOf(entries);
  // Literal paths are denied together with their real targets, resolved in one batch (realpaths.ts).
  const literal = literalDenies(memo, denied, realPaths(denied.literalPaths, pass));
  const { denyGlobs, scans, socketRoots, planKey } = globScans(memo, entries, denied, read, write);
  const plan: GlobPlan = { literal: literal.paths, scans, socketRoots, allowSecrets: denied.allowSecrets, unixSockets: new Set(unixSockets), index: options.globIndex ?? new GlobIndex(), walkRoots: walkRootsOf(scans, socketRoots), key: planKey };
  const { hits, walked } = globHits(plan, pass);
  const denyList = denyListOf(memo, literal, hits);

  const rest = entries.rest();
  const policy: Policy = {
    name: profile.name,
    workspace,
    home,
    fs: {
      read,
      write,
      protected: roots.protectedSorted,
      deny: denyList.deny,
      denyGlobs,
    },
    network: unixSockets.length ? { ...rest.network, unixSockets: reachableSockets(unixSockets, denyList.deny) } : rest.network,
    env: rest.env,
    limits: rest.limits,
    weaker: rest.weaker,
    secrets: rest.secrets,
    provenance: { ...prov, deny: denyList.provenance, env: rest.envProvenance, fields: rest.fields },
  };
  const frozen = deepFreeze(policy);
  globPlans.set(frozen, { plan, hits: new Set(hits.keys()), walked });
  return frozen;
}

/** Deny wins: a listed socket at or under a denied path stays hidden (its mask) and refused. */
function reachableSockets(sockets: readonly string[], deny: readonly string[]): string[] {
  return [...new Set(sockets)].filter((s) => !deny.some((d) => isUnder(s, d))).sort();
}

/**
 * What a compile derived from its entries and the filesystem, kept for the next compile of the same
 * entries: each part is reused only while what it was derived from is the same (identical objects,
 * or equal roots and hits), so the result is always that of a compile from scratch.
 */
interface Memo {
  scans?: Scans;
  literal?: LiteralDenies;
  denyList?: DenyList;
}
const memos = new WeakMap<ProfileEntries, Memo>();

function memoOf(entries: ProfileEntries): Memo {
  let memo = memos.get(entries);
  if (!memo) memos.set(entries, (memo = {}));
  return memo;
}

/** The literal deny paths with their real targets, each with its first origin; follows from the real paths (realpaths.ts hands back the same Map while they are the same). */
interface LiteralDenies {
  readonly reals: ReadonlyMap<string, string | undefined>;
  readonly paths: readonly string[];
  readonly origins: ReadonlyArray<readonly [string, RuleOrigin]>;
}

function literalDenies(memo: Memo, denied: DenyEntries, reals: ReadonlyMap<string, string | undefined>): LiteralDenies {
  if (memo.literal?.reals === reals) return memo.literal;
  const origins = new Map<string, RuleOrigin>();
  for (const [p, o] of denied.literal) {
    if (!origins.has(p)) origins.set(p, o);
    const real = reals.get(p);
    if (real && real !== p && !origins.has(real)) origins.set(real, o);
  }
  memo.literal = deepFreeze({ reals, paths: [...origins.keys()], origins: [...origins] });
  return memo.literal;
}

/** The policy's deny list (literal paths and glob hits, sorted) and its provenance. */
interface DenyList {
  readonly literal: LiteralDenies;
  readonly hits: ReadonlyArray<readonly [string, RuleOrigin]>;
  readonly deny: readonly string[];
  readonly provenance: Readonly<Record<string, RuleOrigin>>;
}

function denyListOf(memo: Memo, literal: LiteralDenies, hits: ReadonlyMap<string, RuleOrigin>): DenyList {
  const last = memo.denyList;
  if (last && last.literal === literal && last.hits.length === hits.size) {
    let i = 0;
    let same = true;
    // In order: the provenance's keys are in insertion order.
    for (const [hit, o] of hits) {
      const h = last.hits[i++] as readonly [string, RuleOrigin];
      if (h[0] !== hit || h[1] !== o) {
        same = false;
        break;
      }
    }
    if (same) return last;
  }
  const provenance: Record<string, RuleOrigin> = {};
  for (const [p, o] of literal.origins) provenance[p] = o;
  for (const [hit, o] of hits) provenance[hit] ??= o;
  const deny = [...new Set([...literal.paths, ...hits.keys()])].sort();
  memo.denyList = deepFreeze({ literal, hits: [...hits], deny, provenance });
  return memo.denyList;
}

/** The deny globs of a compile and where each is scanned: they follow from the entries and the visible roots. */
interface Scans {
  readonly key: string;
  readonly denyGlobs: readonly string[];
  readonly scans: GlobPlan['scans'];
  readonly socketRoots: GlobPlan['socketRoots'];
  /** The glob plan's key (see GlobPlan.key). */
  readonly planKey: string;
}

/** Adds the built-in dotenv globs to the profile's deny globs and plans the scans; kept while the roots are the same. */
function globScans(memo: Memo, entries: ProfileEntries, denied: DenyEntries, read: readonly string[], write: readonly string[]): Scans {
  const { home, workspace } = entries;
  const key = `${read.join('\u0000')}\u0001${write.join('\u0000')}`;
  if (memo.scans?.key === key) return memo.scans;
  const visibleRoots = [...read, ...write];
  const homeVisible = visibleRoots.some((r) => isUnder(home, r));
  // Unix sockets in a readable home (agents, daemons) would be connectable by the same uid: mask
  // them, found with the glob hits (globHits), so one that appears later is masked from the next
  // command on.
  const socketRoots = homeVisible ? [{ root: home, origin: builtin('unix sockets in the home', `${home}/**`) }] : [];
  // prune: directory names the walk does not enter (built-in dotenv globs only; a profile's own globs are exact).
  const denyGlobs: Array<{ glob: string; origin: RuleOrigin; prune?: readonly string[] }> = [...denied.globs];
  // Dotenv globs cover the workspace and the writable trees; not a broad root (/, /usr, the home): scanning those is unbounded.
  const globRoots = [...new Set([...write.filter((w) => !isBroadWrite(w, home)), workspace])];
  for (const g of TREE_SECRET_GLOBS) for (const root of globRoots) denyGlobs.push({ glob: path.join(root, g), origin: builtin('dotenv files (TREE_SECRET_GLOBS)', g), prune: TREE_SECRET_PRUNE });
  if (homeVisible) {
    for (const g of HOME_SECRET_GLOBS) if (!denied.allowSecrets.has(path.join(home, g))) denyGlobs.push({ glob: path.join(home, g), origin: builtin('dotenv files in the home (HOME_SECRET_GLOBS)', g) });
  }
  const scans: Array<{ roots: string[]; glob: string; origin: RuleOrigin; prune?: readonly string[] }> = [];
  for (const { glob, origin: o, prune } of denyGlobs) {
    // Globs with a literal directory prefix are matched only below it, and only where it is visible.
    const segs = glob.split('/');
    const base = segs.findIndex((seg) => GLOB_CHARS.test(seg));
    const prefix = segs.slice(0, base).join('/') || '/';
    const roots = visibleRoots.filter((r) => isUnder(prefix, r) || isUnder(r, prefix));
    if (roots.length === 0) continue;
    scans.push({ roots: [...new Set(roots.map((r) => (isUnder(prefix, r) ? prefix : r)))], glob, origin: o, prune });
  }
  const planKey = JSON.stringify([scans.map((s) => [s.roots, s.glob, s.prune, s.origin]), socketRoots, [...denied.allowSecrets]]);
  const out: Scans = deepFreeze({ key, denyGlobs: denyGlobs.map((g) => g.glob), scans, socketRoots, planKey });
  memo.scans = out;
  return out;
}

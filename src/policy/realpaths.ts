// cordon – the real paths of many paths at once (roots, denied paths): each directory on the way is looked at once, not once per path.
//
// realpath(dir/name) is realpath(dir)/name unless `name` itself is a symlink. So the parents of all
// paths are resolved first (the same way, recursively, up to /), then each name is looked up in its
// resolved parent: with one lstat, or, where many names share a parent, in that directory's listing
// (dircache.ts: reused while the directory is unchanged), as is any directory whose listing is
// cached and current. Only symlinks cost a realpath(3) call.
// A thousand paths under ~/.config cost one listing of ~/.config, not a thousand realpath walks.
//
// A frozen array (a compiled profile's entries, entries.ts) is grouped by parent once, and each
// group keeps its last answer with the listing it came from: while dircache hands back that same
// listing (the directory is unchanged) and the parent resolves to the same real path, the names'
// answers stand without a lookup. Symlinks among them are resolved again every time (their targets
// can change where no listing sees it), and names looked up by lstat are looked up again.
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

import { entryNamed, listDir, listingIfCurrent, type Listing } from './dircache.js';

/** From this many names in one directory on, its listing is read instead of an lstat per name. */
const LISTING_FROM = 8;

/** realpath(3) of `p` (one call, not an lstat per component), or undefined when it does not resolve. */
export function realOrUndefined(p: string): string | undefined {
  try {
    return realpathSync.native(p);
  } catch {
    return undefined;
  }
}

/** lstat, or undefined when the path cannot be reached (ENOENT, ENOTDIR — `.git` a file in a worktree —, EACCES …). */
export function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES …: not reachable, as realpath(3) would say
  }
}

/** The paths of one parent directory, with the answer of their last lookup in its listing. */
interface Group {
  readonly parent: string;
  readonly children: readonly string[];
  last?: {
    readonly realParent: string;
    readonly listing: Listing;
    readonly reals: ReadonlyArray<string | undefined>;
    /** Indexes of the children that are symlinks. */
    readonly links: readonly number[];
  };
}

/** Paths grouped by parent; `parents` is resolved first (recursively, the same way). */
interface Plan {
  readonly groups: readonly Group[];
  readonly parents: readonly string[];
  /** The last result of realPaths() for this array (handed back while every answer is the same). */
  result?: Map<string, string | undefined>;
}

const plans = new WeakMap<readonly string[], Plan>();

function planFor(paths: readonly string[]): Plan {
  const known = plans.get(paths);
  if (known) return known;
  const byParent = new Map<string, Set<string>>();
  for (const p of paths) {
    if (p === '/') continue;
    const parent = path.dirname(p);
    const names = byParent.get(parent);
    if (names) names.add(p);
    else byParent.set(parent, new Set([p]));
  }
  const plan: Plan = {
    groups: [...byParent].map(([parent, children]) => ({ parent, children: [...children] })),
    parents: Object.freeze([...byParent.keys()]),
  };
  // Only an array that cannot change keeps its plan (and the answers in it).
  if (Object.isFrozen(paths)) plans.set(paths, plan);
  return plan;
}

/** Resolves every path of `paths` into `known` (undefined: does not exist); symlinks among them go into `links`. */
function resolveInto(paths: readonly string[], known: Map<string, string | undefined>, links: Set<string>, pass?: object): void {
  const plan = planFor(paths);
  if (plan.groups.length === 0) return;
  resolveInto(plan.parents, known, links, pass);
  for (const group of plan.groups) {
    const { parent, children } = group;
    const realParent = known.get(parent);
    if (realParent === undefined) {
      for (const p of children) known.set(p, undefined);
      continue;
    }
    // A cached listing known current with at most one stat (none when watched, dircache.ts) serves even one name.
    const listed = children.length >= LISTING_FROM ? listDir(parent, { pass }) : pass ? listingIfCurrent(parent, pass) : undefined;
    const listing = listed?.readable ? listed : undefined; // searchable but unreadable: lstat each
    const last = group.last;
    if (listing && last && last.listing === listing && last.realParent === realParent) {
      // The same directory, unchanged since the last answer: only its symlinks are followed again.
      for (let i = 0; i < children.length; i++) known.set(children[i] as string, last.reals[i]);
      for (const i of last.links) {
        const p = children[i] as string;
        links.add(p);
        known.set(p, realOrUndefined(p));
      }
      continue;
    }
    const reals: Array<string | undefined> = [];
    const linkIndexes: number[] = [];
    for (let i = 0; i < children.length; i++) {
      const p = children[i] as string;
      const name = p.slice(parent === '/' ? 1 : parent.length + 1);
      let exists: boolean;
      let link: boolean;
      if (listing) {
        const e = entryNamed(listing, name);
        exists = e !== undefined;
        link = e?.isSymlink ?? false;
      } else if (known.has(p)) {
        // Already resolved as a parent of a deeper path in this call.
        reals.push(known.get(p));
        continue;
      } else {
        const st = lstatOrUndefined(p);
        exists = st !== undefined;
        link = st?.isSymbolicLink() ?? false;
      }
      if (link) {
        links.add(p);
        linkIndexes.push(i);
      }
      const real = !exists ? undefined : link ? realOrUndefined(p) : realParent === '/' ? `/${name}` : `${realParent}/${name}`;
      reals.push(real);
      known.set(p, real);
    }
    group.last = listing ? { realParent, listing, reals, links: linkIndexes } : undefined;
  }
}

/**
 * realpath of each absolute, normalised path (undefined when it does not exist, a dangling symlink
 * included). `pass`: see dircache.ts. `links`, when given, receives the paths (of these and their
 * ancestors) that are symlinks themselves. For a frozen array, the same Map is returned as long as
 * every answer is the same (callers may keep what they derived from it).
 */
export function realPaths(paths: readonly string[], pass?: object, links = new Set<string>()): ReadonlyMap<string, string | undefined> {
  const known = new Map<string, string | undefined>([['/', '/']]);
  resolveInto(paths, known, links, pass);
  const plan = planFor(paths);
  const last = plan.result;
  if (last && paths.every((p) => last.get(p) === known.get(p))) return last;
  const result = new Map(paths.map((p) => [p, known.get(p)]));
  if (plans.get(paths) === plan) plan.result = result;
  return result;
}

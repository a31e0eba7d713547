// cordon – the real paths of many paths at once (roots, denied paths): each directory on the way is looked at once, not once per path.
//
// realpath(dir/name) is realpath(dir)/name unless `name` itself is a symlink. So the parents of all
// paths are resolved first (the same way, recursively, up to /), then each name is looked up in its
// resolved parent: with one lstat, or, where many names share a parent, in that directory's listing
// (dircache.ts: reused while the directory is unchanged). Only symlinks cost a realpath(3) call.
// A thousand paths under ~/.config cost one listing of ~/.config, not a thousand realpath walks.
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

import { entryNamed, listDir, listingIfFree } from './dircache.js';

/** From this many names in one directory on, its listing is read instead of an lstat per name. */
const LISTING_FROM = 8;

function realOrUndefined(p: string): string | undefined {
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

/** Resolves every path of `paths` not in `known` into it (undefined: does not exist); symlinks among them go into `links`. */
function resolveInto(paths: readonly string[], known: Map<string, string | undefined>, links: Set<string>, pass?: object): void {
  const byParent = new Map<string, string[]>();
  for (const p of paths) {
    if (known.has(p)) continue;
    const parent = path.dirname(p);
    const names = byParent.get(parent);
    if (names) names.push(p);
    else byParent.set(parent, [p]);
  }
  if (byParent.size === 0) return;
  resolveInto([...byParent.keys()], known, links, pass);
  for (const [parent, children] of byParent) {
    const realParent = known.get(parent);
    // A listing known current at no cost (watched, dircache.ts) serves even one name.
    const listed =
      realParent === undefined ? undefined : children.length >= LISTING_FROM ? listDir(parent, { pass }) : pass ? listingIfFree(parent, pass) : undefined;
    const listing = listed?.readable ? listed : undefined; // searchable but unreadable: lstat each
    for (const p of children) {
      if (realParent === undefined) {
        known.set(p, undefined);
        continue;
      }
      const name = p.slice(parent === '/' ? 1 : parent.length + 1);
      let exists: boolean;
      let link: boolean;
      if (listing) {
        const e = entryNamed(listing, name);
        exists = e !== undefined;
        link = e?.isSymlink ?? false;
      } else {
        const st = lstatOrUndefined(p);
        exists = st !== undefined;
        link = st?.isSymbolicLink() ?? false;
      }
      if (link) links.add(p);
      if (!exists) known.set(p, undefined);
      else if (link) known.set(p, realOrUndefined(p));
      else known.set(p, realParent === '/' ? `/${name}` : `${realParent}/${name}`);
    }
  }
}

/**
 * realpath of each absolute, normalised path (undefined when it does not exist, a dangling symlink
 * included). `pass`: see dircache.ts. `links`, when given, receives the paths (of these and their
 * ancestors) that are symlinks themselves.
 */
export function realPaths(paths: readonly string[], pass?: object, links = new Set<string>()): Map<string, string | undefined> {
  const known = new Map<string, string | undefined>([['/', '/']]);
  resolveInto(paths, known, links, pass);
  return new Map(paths.map((p) => [p, known.get(p)]));
}

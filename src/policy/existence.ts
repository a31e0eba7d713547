// cordon – which of many paths exist (lstat would succeed), answered from the directory listing cache rather than an lstat each.
//
// A path exists when its parent directory lists it. Parents come from dircache.ts, which on Linux
// vouches for a listing by inotify: checking the ~100 protected and denied paths of a policy before
// each command costs a map lookup per path and a stat per top-level parent, and while no watched
// directory changes, the answer of the last look stands after those stats alone. A parent we may
// search but not read falls back to an lstat of the path.
import path from 'node:path';

import { entryNamed, inodeOf, inodesUnchanged, listDir, listedIn, passFullyWatched, type InodeSnapshot } from './dircache.js';
import { changeCount } from './dirwatch.js';
import { lstatOrUndefined } from './realpaths.js';

interface Look {
  /** changeCount() when it was taken. */
  changes: number;
  /** The inode of each parent nothing else in the look vouched for. */
  tops: InodeSnapshot;
  result: readonly boolean[];
}
const lastLook = new WeakMap<readonly string[], Look>();

/** For each path, whether it exists now (without following a final symlink). Pass the same array each time to reuse a quiet answer. */
export function existingPaths(paths: readonly string[]): readonly boolean[] {
  const changes = changeCount();
  const last = lastLook.get(paths);
  if (last && last.changes === changes && inodesUnchanged(last.tops)) return last.result;

  const pass = {}; // one look: each parent listed (or found current) once
  const byParent = new Map<string, number[]>();
  for (let i = 0; i < paths.length; i++) {
    const parent = path.dirname(paths[i] as string);
    const list = byParent.get(parent);
    if (list) list.push(i);
    else byParent.set(parent, [i]);
  }
  const out = new Array<boolean>(paths.length).fill(false);
  const tops: string[] = [];
  const topInodes: bigint[] = []; // taken before the directory is listed, as the check later compares
  let exact = true; // every answer came from a listing (no lstat): it stays true while nothing changes
  // Shallow parents first: a directory found unchanged vouches for its children's paths (dircache.ts).
  const parents = [...byParent.keys()].sort((a, b) => a.length - b.length);
  for (const parent of parents) {
    const indexes = byParent.get(parent) as number[];
    // A parent that its own parent, listed earlier in this look, does not hold as a directory (or a
    // link to one) does not exist: no lookup at all (most denied paths are in absent directories).
    const up = listedIn(path.dirname(parent), pass);
    const entry = up?.readable ? entryNamed(up, path.basename(parent)) : undefined;
    // Nothing here vouches for what the path leads to (no listed parent, or a symlink whose target
    // may be replaced without an event we see): its inode is checked again before a reuse.
    if (!up || entry?.isSymlink) {
      tops.push(parent);
      topInodes.push(inodeOf(parent) ?? 0n);
    }
    const absent = up?.readable === true && parent !== '/' && (!entry || (!entry.isDir && !entry.isSymlink));
    const listing = absent ? undefined : listDir(parent, { pass });
    for (const i of indexes) {
      const p = paths[i] as string;
      if (p === '/' || p === parent || (listing && !listing.readable)) {
        out[i] = lstatOrUndefined(p) !== undefined;
        exact = false;
      } else if (listing) {
        out[i] = entryNamed(listing, path.basename(p)) !== undefined;
      } // else: no parent directory, nothing below it exists
    }
  }
  if (changes !== undefined && exact && passFullyWatched(pass)) lastLook.set(paths, { changes, tops: { paths: tops, inodes: BigUint64Array.from(topInodes) }, result: out });
  else lastLook.delete(paths);
  return out;
}

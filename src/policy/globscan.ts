// cordon – finds the files deny globs (`**/.env`) match: one walk for all globs of a tree, with listings and verdicts reused per unchanged directory.
//
// Listings come from the process-wide cache (dircache.ts: inotify or one stat per directory to reuse one), and
// the verdicts for a listing (which entries match, which subdirectories to enter) are kept with it,
// so a rescan of an unchanged tree re-reads nothing.
import path from 'node:path';

import { Minimatch } from 'minimatch';

import { CordonError } from '../errors.js';
import { listDir } from './dircache.js';
import { GlobSet, type GlobState } from './globset.js';

export interface GlobScanStats {
  /** Directories visited in the last match(). */
  dirs: number;
  /** Of those, directories whose listing had to be read again. */
  reread: number;
}

/** What a listing yields for one glob set: hits (with the index of their first glob) and where to descend. */
interface Verdicts {
  readonly hits: ReadonlyArray<readonly [string, number]>;
  readonly descend: ReadonlyArray<readonly [string, GlobState]>;
}

/** A glob set with one of its prune lists: the key its verdicts are stored under. */
interface Scan {
  readonly set: GlobSet;
  readonly prune: ReadonlySet<string>;
}

/** Glob sets are shared by every GlobIndex of the process, so their verdicts are too. */
const scans = new Map<string, Scan>();
const MAX_SCANS = 256;

function scanFor(globs: readonly string[], prune: readonly string[]): Scan {
  const key = [...globs, '\u0001', ...prune].join('\u0000');
  let scan = scans.get(key);
  if (!scan) {
    if (scans.size >= MAX_SCANS) scans.clear();
    scan = { set: new GlobSet(globs), prune: new Set(prune) };
    scans.set(key, scan);
  }
  return scan;
}

export class GlobIndex {
  private readonly matchers = new Map<string, Minimatch>();
  readonly stats: GlobScanStats = { dirs: 0, reread: 0 };

  constructor(private readonly limit = 200_000) {}

  /** Whether one glob matches a path (same options as match()). */
  matches(glob: string, p: string): boolean {
    let m = this.matchers.get(glob);
    if (!m) this.matchers.set(glob, (m = new Minimatch(glob, { dot: true })));
    return m.match(p);
  }

  /**
   * Paths under `roots` matching any of `globs` (absolute minimatch patterns, dotfiles included).
   * Symlinks are not followed; a matching directory is returned and not descended into; directories
   * named in `prune` are not entered.
   */
  match(roots: readonly string[], globs: readonly string[], prune: readonly string[] = [], pass?: object): string[] {
    return this.matchAttributed(roots, globs, prune, pass).map(([p]) => p);
  }

  /**
   * Like match(), each hit with the index in `globs` of the first glob that matches it; sorted by
   * path. `pass`: see dircache.ts (directories found current earlier in the same pass are not stat'ed).
   */
  matchAttributed(roots: readonly string[], globs: readonly string[], prune: readonly string[] = [], pass?: object): Array<[string, number]> {
    const scan = scanFor(globs, prune);
    const out: Array<[string, number]> = [];
    let seen = 0;
    this.stats.dirs = 0;
    this.stats.reread = 0;
    const walk = (dir: string, state: GlobState): void => {
      const listing = listDir(dir, { onRead: () => this.stats.reread++, pass });
      this.stats.dirs++;
      if (!listing) return;
      seen += listing.entries.length;
      if (seen > this.limit) {
        throw new CordonError('POLICY_INVALID', `deny globs: more than ${this.limit} entries under ${roots.join(', ')}`, {
          hint: 'narrow the writable trees or the deny globs',
        });
      }
      let verdicts = listing.derived.get(scan) as Verdicts | undefined;
      if (!verdicts) {
        const hits: Array<readonly [string, number]> = [];
        const descend: Array<readonly [string, GlobState]> = [];
        for (const e of listing.entries) {
          const next = scan.set.step(state, e.name);
          const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
          const gi = scan.set.firstMatch(next, p);
          if (gi >= 0) hits.push([p, gi]);
          // Descend only where a glob could still match below: a depth-bounded glob such as
          // ~/*/*/.env never walks the whole tree; `**` patterns walk everything.
          else if (e.isDir && !scan.prune.has(e.name) && scan.set.descends(next, p)) descend.push([p, next]);
        }
        verdicts = { hits, descend };
        listing.derived.set(scan, verdicts);
      }
      for (const h of verdicts.hits) out.push([h[0], h[1]]);
      for (const [sub, next] of verdicts.descend) walk(sub, next);
    };
    for (const root of new Set(roots)) {
      const dir = path.resolve(root);
      walk(dir, scan.set.stateAt(dir));
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

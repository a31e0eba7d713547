// cordon – finds the files a deny glob (`**/.env`) matches, keeping a per-directory cache so a rescan costs one stat per directory.
//
// A directory's mtime changes whenever an entry is created, removed or renamed in it, so a directory
// whose mtime is unchanged since it was read has the same entries: its listing and its glob hits are
// reused. A watcher (watch.ts) may also mark directories dirty; in `trusted` mode only those are
// re-read and the stat walk is skipped altogether.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { Minimatch } from 'minimatch';

import { CordonError } from '../errors.js';

interface DirEntry {
  readonly name: string;
  readonly isDir: boolean;
}

interface CachedDir {
  /** mtime and inode (as bigint ns) when the listing was taken; -1n when unreadable. */
  mtime: bigint;
  ino: bigint;
  entries: readonly DirEntry[];
  /** Per glob set: the entries that match, and the subdirectories to descend into. */
  results: Map<string, { hits: readonly string[]; descend: readonly string[] }>;
  /** The directory had changed just before it was read: the listing may miss a same-tick change. */
  recent: boolean;
}

export interface GlobScanStats {
  /** Directories visited in the last match(). */
  dirs: number;
  /** Of those, directories whose listing had to be read again. */
  reread: number;
}

export class GlobIndex {
  private readonly dirs = new Map<string, CachedDir>();
  private readonly dirty = new Set<string>();
  private readonly matchers = new Map<string, Minimatch>();
  /** Set by a watcher once it covers every root: skip the stat walk, re-read only dirty directories. */
  trusted = false;
  readonly stats: GlobScanStats = { dirs: 0, reread: 0 };

  constructor(private readonly limit = 200_000) {}

  /** Marks a directory (and so its listing) as changed. */
  markDirty(dir: string): void {
    this.dirty.add(dir);
  }

  private matcher(glob: string): Minimatch {
    let m = this.matchers.get(glob);
    if (!m) {
      m = new Minimatch(glob, { dot: true });
      this.matchers.set(glob, m);
    }
    return m;
  }

  /** Whether one glob matches a path (same options as match()). */
  matches(glob: string, p: string): boolean {
    return this.matcher(glob).match(p);
  }

  private listing(dir: string): CachedDir | undefined {
    const cached = this.dirs.get(dir);
    if (cached && this.trusted && !this.dirty.has(dir)) return cached;
    let st;
    try {
      st = statSync(dir, { bigint: true });
    } catch {
      this.dirs.delete(dir);
      return undefined;
    }
    if (cached && !cached.recent && !this.dirty.has(dir) && cached.mtime === st.mtimeNs && cached.ino === st.ino) return cached;
    this.dirty.delete(dir);
    this.stats.reread++;
    let entries: DirEntry[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).map((e) => ({ name: e.name, isDir: e.isDirectory() }));
    } catch {
      entries = [];
    }
    // The stat before readdir: a change in between shows up as a newer mtime next time.
    // Timestamps advance in timer ticks (~4 ms): an entry created in the same tick as this read would
    // leave the mtime unchanged. A listing of a directory changed within the last 100 ms is therefore
    // read again next time rather than trusted.
    const recent = BigInt(Date.now()) * 1_000_000n - st.mtimeNs < 100_000_000n;
    const fresh: CachedDir = { mtime: st.mtimeNs, ino: st.ino, entries, results: new Map(), recent };
    this.dirs.set(dir, fresh);
    return fresh;
  }

  /**
   * Paths under `roots` matching any of `globs` (absolute minimatch patterns, dotfiles included).
   * Symlinks are not followed; a matching directory is returned and not descended into; directories
   * named in `prune` are not entered.
   */
  match(roots: readonly string[], globs: readonly string[], prune: readonly string[] = []): string[] {
    const matchers = globs.map((g) => this.matcher(g));
    const pruned = new Set(prune);
    const key = [...globs, '\u0001', ...prune].join('\u0000');
    const out: string[] = [];
    let seen = 0;
    this.stats.dirs = 0;
    this.stats.reread = 0;
    const walk = (dir: string): void => {
      const cached = this.listing(dir);
      this.stats.dirs++;
      if (!cached) return;
      seen += cached.entries.length;
      if (seen > this.limit) {
        throw new CordonError('POLICY_INVALID', `deny globs: more than ${this.limit} entries under ${roots.join(', ')}`, {
          hint: 'narrow the writable trees or the deny globs',
        });
      }
      // Matching is per directory listing too: an unchanged directory reuses its verdicts.
      let result = cached.results.get(key);
      if (!result) {
        const hits: string[] = [];
        const descend: string[] = [];
        for (const e of cached.entries) {
          const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
          if (matchers.some((m) => m.match(p))) hits.push(p);
          // Descend only where a pattern could still match below (partial match): a depth-bounded
          // glob such as ~/*/*/.env never walks the whole tree; `**` patterns walk everything.
          else if (e.isDir && !pruned.has(e.name) && matchers.some((m) => m.match(p, true))) descend.push(p);
        }
        result = { hits, descend };
        cached.results.set(key, result);
      }
      out.push(...result.hits);
      for (const sub of result.descend) walk(sub);
    };
    for (const root of new Set(roots)) walk(path.resolve(root));
    return out.sort();
  }
}

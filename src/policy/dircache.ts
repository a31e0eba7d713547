// cordon – directory listings shared by every scan in the process, each re-checked with one stat (mtime + inode) before reuse.
//
// A directory's mtime changes whenever an entry is created, removed or renamed in it, so a directory
// whose mtime and inode are unchanged since it was read has the same entries: its listing (and what
// was derived from it, see `derived`) is reused. Timestamps advance in timer ticks (~4 ms): an entry
// created in the same tick as the read would leave the mtime unchanged, so a listing of a directory
// changed within the last 100 ms is read again next time rather than trusted.
//
// The cache is per process, not per Sandbox: a second Sandbox on the same trees (or the same home)
// pays one stat per directory instead of a readdir. It is bounded by the number of entries it holds.
import { readdirSync, statSync } from 'node:fs';

export interface DirEntry {
  readonly name: string;
  readonly isDir: boolean;
  readonly isSymlink: boolean;
  readonly isSocket: boolean;
}

export interface Listing {
  /** mtime and inode (as bigint ns) when the listing was taken. */
  readonly mtime: bigint;
  readonly ino: bigint;
  readonly entries: readonly DirEntry[];
  /** readdir succeeded (an unreadable directory lists as empty). */
  readonly readable: boolean;
  /** The directory had changed just before it was read: the listing may miss a same-tick change. */
  readonly recent: boolean;
  /** Results computed from this listing by its users (glob verdicts), keyed by what computed them. */
  readonly derived: WeakMap<object, unknown>;
  /** The pass (see ListOptions.pass) that last found it current. */
  checkedIn?: object;
}

/** Above this many cached entries the whole cache is dropped (it refills at one readdir per directory). */
const MAX_ENTRIES = 1_000_000;
const cache = new Map<string, Listing>();
let held = 0;

function drop(dir: string): void {
  const old = cache.get(dir);
  if (old) held -= old.entries.length;
  cache.delete(dir);
}

export interface ListOptions {
  /** Reuse a cached listing without the stat (a watcher vouches that it is current). */
  trust?: boolean;
  /** Read the directory again even if its stat is unchanged (a watcher saw it change). */
  force?: boolean;
  /** Called when the directory had to be read (not served from the cache). */
  onRead?: () => void;
  /**
   * One look at the tree (a compile, or one command's refresh): a listing found current earlier in
   * the same pass is not stat'ed again, so walks that overlap (the home's socket and dotenv walks,
   * a profile's globs and the built-in ones over the workspace) stat each directory once. The pass
   * is a snapshot either way: one walk already sees different directories at different moments.
   */
  pass?: object;
}

/** The directory's entries, from the cache when its stat is unchanged; undefined when it cannot be stat'ed. */
export function listDir(dir: string, options: ListOptions = {}): Listing | undefined {
  const cached = cache.get(dir);
  if (cached && !options.force && (options.trust || (options.pass && cached.checkedIn === options.pass))) return cached;
  let st;
  try {
    st = statSync(dir, { bigint: true });
  } catch {
    drop(dir);
    return undefined;
  }
  if (cached && !cached.recent && !options.force && cached.mtime === st.mtimeNs && cached.ino === st.ino) {
    cached.checkedIn = options.pass;
    return cached;
  }
  options.onRead?.();
  let entries: DirEntry[];
  let readable = true;
  try {
    entries = readdirSync(dir, { withFileTypes: true }).map((e) => ({ name: e.name, isDir: e.isDirectory(), isSymlink: e.isSymbolicLink(), isSocket: e.isSocket() }));
  } catch {
    entries = [];
    readable = false;
  }
  // The stat before readdir: a change in between shows up as a newer mtime next time. An unreadable
  // directory is read again next time too (a chmod changes its ctime, not its mtime).
  const recent = !readable || BigInt(Date.now()) * 1_000_000n - st.mtimeNs < 100_000_000n;
  const fresh: Listing = { mtime: st.mtimeNs, ino: st.ino, entries, readable, recent, derived: new WeakMap(), checkedIn: options.pass };
  drop(dir);
  if (held + entries.length > MAX_ENTRIES) {
    cache.clear();
    held = 0;
  }
  cache.set(dir, fresh);
  held += entries.length;
  return fresh;
}

const BY_NAME = {};

/** The entry called `name` in a listing (an index built on first use). */
export function entryNamed(listing: Listing, name: string): DirEntry | undefined {
  let index = listing.derived.get(BY_NAME) as Map<string, DirEntry> | undefined;
  if (!index) listing.derived.set(BY_NAME, (index = new Map(listing.entries.map((e) => [e.name, e]))));
  return index.get(name);
}

/** Forgets every listing (tests). */
export function clearDirCache(): void {
  cache.clear();
  held = 0;
}

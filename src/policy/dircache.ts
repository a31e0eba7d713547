// cordon – directory listings shared by every scan in the process, each re-checked with one stat (mtime + inode) before reuse.
//
// A directory's mtime changes whenever an entry is created, removed or renamed in it, so a directory
// whose mtime and inode are unchanged since it was read has the same entries: its listing (and what
// was derived from it, see `derived`) is reused. Timestamps advance in timer ticks (~4 ms): an entry
// created in the same tick as the read would leave the mtime unchanged, so a listing of a directory
// changed within the last 100 ms is read again next time rather than trusted.
//
// On Linux a listing is read with an inotify watch on the directory (dirwatch.ts) and then needs no
// stat at all: it stays current until an event names it. Its path still leads to the same directory
// when the parent's listing was found unchanged in the same pass (walks go top-down); otherwise one
// stat compares the inode. Listings without a watch (no addon, NFS/FUSE, no watches left) keep the
// stat check above.
//
// The cache is per process, not per Sandbox: a second Sandbox on the same trees (or the same home)
// pays one stat per directory (none when watched) instead of a readdir. It is bounded by the number
// of entries it holds.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { current, drain, generation, nativeSameInodes, readWatched, resetWatches, watcherAvailable } from './dirwatch.js';

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
  /** The pass that found it current without reading it again (its children's paths are unchanged too). */
  unchangedIn?: object;
  /** Its inotify watch (-1: none, checked by stat) and the watcher generation it was read in. */
  readonly wd: number;
  readonly generation: number;
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

let drainedIn: object | undefined;

/** Takes the watcher's events once per pass (every time without one): every change made before now is then known. */
function drainFor(pass: object | undefined): void {
  if (pass !== undefined && pass === drainedIn) return;
  drain();
  drainedIn = pass;
}

/** The inode `p` leads to now (symlinks followed), or undefined when it cannot be stat'ed. */
export function inodeOf(p: string): bigint | undefined {
  try {
    return statSync(p, { bigint: true, throwIfNoEntry: false })?.ino; // absent is common: no exception
  } catch {
    return undefined; // ENOTDIR, EACCES
  }
}

/** Inode numbers of a few paths, taken together (0: the path did not resolve). */
export interface InodeSnapshot {
  readonly paths: readonly string[];
  readonly inodes: BigUint64Array;
}

export function inodeSnapshot(paths: readonly string[]): InodeSnapshot {
  return { paths, inodes: BigUint64Array.from(paths, (p) => inodeOf(p) ?? 0n) };
}

/**
 * Whether every path still resolves to the inode of the snapshot: checked before each command, so
 * one native call (no Stats object per path) where the addon is built.
 */
export function inodesUnchanged(s: InodeSnapshot): boolean {
  return nativeSameInodes(s.paths, s.inodes) ?? s.paths.every((p, i) => (inodeOf(p) ?? 0n) === s.inodes[i]);
}

/**
 * Whether the parent of `dir` was found unchanged in this pass and lists `dir` as a real directory:
 * then `dir` names the same directory as before. Not through a symlink: the link is the same, but
 * what it leads to may have been replaced by a rename higher up its target's path, which no watch
 * here sees (review 3, H1) — such a path gets the inode check.
 */
function parentUnchanged(dir: string, pass: object | undefined): boolean {
  if (pass === undefined) return false;
  const parent = cache.get(path.dirname(dir));
  return parent?.unchangedIn === pass && entryNamed(parent, path.basename(dir))?.isDir === true;
}

function found(listing: Listing, pass: object | undefined): Listing {
  listing.checkedIn = pass;
  listing.unchangedIn = pass;
  return note(listing, pass);
}

/** Passes that used a listing without a watch (so no event would tell that their result changed). */
const unwatchedPasses = new WeakSet<object>();

function note(listing: Listing, pass: object | undefined): Listing {
  if (pass && listing.wd < 0) unwatchedPasses.add(pass);
  return listing;
}

/** Whether every listing of `pass` was watched: then its walks' results hold until changeCount() moves. */
export function passFullyWatched(pass: object): boolean {
  return !unwatchedPasses.has(pass);
}

/**
 * Whether a watched listing is current: no event named it since it was read, and its path still
 * leads to that directory (the parent was found unchanged in this pass, or the inode is the same).
 */
function watchedCurrent(dir: string, cached: Listing, pass: object | undefined): boolean {
  // The path may lead elsewhere now (a parent renamed): the same inode means the same directory.
  return current(dir, cached.wd, cached.generation) && (parentUnchanged(dir, pass) || inodeOf(dir) === cached.ino);
}

/** Whether an unwatched listing is current by the directory's stat now: same mtime and inode, and not read in the same tick as a change. */
function statCurrent(cached: Listing, st: { mtimeNs: bigint; ino: bigint }): boolean {
  return !cached.recent && cached.mtime === st.mtimeNs && cached.ino === st.ino;
}

/** The directory's entries, from the cache when it is unchanged; undefined when it cannot be stat'ed. */
export function listDir(dir: string, options: ListOptions = {}): Listing | undefined {
  const cached = cache.get(dir);
  if (cached && options.pass && cached.checkedIn === options.pass) return note(cached, options.pass);
  if (watcherAvailable()) {
    drainFor(options.pass);
    if (cached && watchedCurrent(dir, cached, options.pass)) return found(cached, options.pass);
    if (!cached || cached.wd >= 0) return readWithWatch(dir, options);
  }
  let st;
  try {
    st = statSync(dir, { bigint: true });
  } catch {
    drop(dir);
    return undefined;
  }
  if (cached && statCurrent(cached, st)) return found(cached, options.pass);
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
  return note(store(dir, { mtime: st.mtimeNs, ino: st.ino, entries, readable, recent, derived: new WeakMap(), checkedIn: options.pass, wd: -1, generation: 0 }), options.pass);
}

/** Reads the directory with a watch on it (dirwatch.ts); falls back to the stat check's bookkeeping when unwatched. */
function readWithWatch(dir: string, options: ListOptions): Listing | undefined {
  options.onRead?.();
  const r = readWatched(dir);
  if (typeof r === 'number') {
    drop(dir);
    return undefined;
  }
  const entries: DirEntry[] = [];
  if (r.types.length > 0) {
    const names = r.names.split('\0');
    for (let i = 0; i < names.length; i++) {
      const t = r.types[i];
      entries.push({ name: names[i] as string, isDir: t === 'd', isSymlink: t === 'l', isSocket: t === 's' });
    }
  }
  // Unwatched: the stat check applies next time, with its same-tick rule.
  const recent = r.wd < 0 && (!r.readable || BigInt(Date.now()) * 1_000_000n - r.mtimeNs < 100_000_000n);
  return note(store(dir, { mtime: r.mtimeNs, ino: r.ino, entries, readable: r.readable, recent, derived: new WeakMap(), checkedIn: options.pass, wd: r.wd, generation: generation() }), options.pass);
}

function store(dir: string, fresh: Listing): Listing {
  drop(dir);
  if (held + fresh.entries.length > MAX_ENTRIES) {
    clearDirCache();
  }
  cache.set(dir, fresh);
  held += fresh.entries.length;
  return fresh;
}

/**
 * The cached listing of `dir` when it is current, told with at most one stat (none when watched and
 * its parent was found unchanged in `pass`); never reads the directory: undefined when it is not
 * cached or changed.
 */
export function listingIfCurrent(dir: string, pass: object): Listing | undefined {
  const cached = cache.get(dir);
  if (!cached) return undefined;
  if (cached.checkedIn === pass) return note(cached, pass);
  if (watcherAvailable()) {
    drainFor(pass);
    if (watchedCurrent(dir, cached, pass)) return found(cached, pass);
    if (cached.wd >= 0) return undefined;
  }
  let st;
  try {
    st = statSync(dir, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  return st && statCurrent(cached, st) ? found(cached, pass) : undefined;
}

/** The cached listing of `dir` if it was found current in `pass` (no lookup, no syscall). */
export function listedIn(dir: string, pass: object): Listing | undefined {
  const cached = cache.get(dir);
  return cached && cached.checkedIn === pass ? cached : undefined;
}

const BY_NAME = {};

/** The entry called `name` in a listing (an index built on first use). */
export function entryNamed(listing: Listing, name: string): DirEntry | undefined {
  let index = listing.derived.get(BY_NAME) as Map<string, DirEntry> | undefined;
  if (!index) listing.derived.set(BY_NAME, (index = new Map(listing.entries.map((e) => [e.name, e]))));
  return index.get(name);
}

/** Forgets every listing (and its watch). */
export function clearDirCache(): void {
  cache.clear();
  held = 0;
  resetWatches();
}

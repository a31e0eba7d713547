// cordon – which cached directory listings are still current, told by inotify (native/addon/dirwatch.cc) instead of a stat per directory.
//
// A listing read with a watch stays current until an event names its watch: one non-blocking drain
// per pass replaces the pass's stat of every directory. Anything the watch cannot vouch for falls
// back to the stat check in dircache.ts: no addon (Windows, not built), a filesystem whose changes
// may bypass inotify (NFS, FUSE), no watches left, a queue overflow or a change of the mount table.
import { optionalAddon } from '../net/addon.js';

export interface WatchedListing {
  wd: number;
  ino: bigint;
  mtimeNs: bigint;
  readable: boolean;
  /** Entry names joined with '\0'. */
  names: string;
  /** One char per entry: d directory, l symlink, s socket, f anything else. */
  types: string;
}

interface DirWatchAddon {
  readDirWatched(path: string, watch: boolean): WatchedListing | number;
  watchDrain(): number[];
  watchReset(): void;
  sameInodes?(paths: readonly string[], inodes: BigUint64Array): boolean;
}

/** Watches held at most (the per-user inotify limit is shared with editors and other tools). */
const MAX_WATCHES = 65_536;

let addon: DirWatchAddon | null | undefined;

function load(): DirWatchAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.CORDON_DIRWATCH === '0') return addon;
  const a = optionalAddon() as Partial<DirWatchAddon> | undefined;
  if (typeof a?.readDirWatched === 'function') addon = a as DirWatchAddon;
  return addon;
}

/** Paths per watch (one inode can be listed under several paths), and the watch per path. */
const pathsOf = new Map<number, Set<string>>();
const watchOf = new Map<string, number>();
const stale = new Set<string>();
let everything = 0; // bumped when every watched listing must be re-read
let changes = 0; // bumped by every drain that finds a change, and by a reset

export function watcherAvailable(): boolean {
  return load() !== null;
}

/** sameInodes() of the addon (dirwatch.cc); undefined without it. */
export function nativeSameInodes(paths: readonly string[], inodes: BigUint64Array): boolean | undefined {
  return load()?.sameInodes?.(paths, inodes);
}

/** Whether the listing of `dir` is watched now. */
export function isWatched(dir: string): boolean {
  return watchOf.has(dir);
}

/** Turns the watcher off (every listing is then checked by stat, as on other platforms) or back on; clear the listing cache after. */
export function setDirWatch(enabled: boolean): void {
  resetWatches();
  addon = enabled ? undefined : null;
}

/** Reads a directory and, when `watch` and possible, watches it; a number is the errno of a failed open. */
export function readWatched(dir: string): WatchedListing | number {
  const a = load() as DirWatchAddon;
  const r = a.readDirWatched(dir, watchOf.size < MAX_WATCHES);
  if (typeof r === 'number') return r;
  const old = watchOf.get(dir);
  if (old !== undefined && old !== r.wd) pathsOf.get(old)?.delete(dir);
  stale.delete(dir);
  if (r.wd >= 0) {
    watchOf.set(dir, r.wd);
    let set = pathsOf.get(r.wd);
    if (!set) pathsOf.set(r.wd, (set = new Set()));
    set.add(dir);
  } else {
    watchOf.delete(dir);
  }
  return r;
}

/** Takes the events queued since the last drain: marks the listings they name stale. */
export function drain(): void {
  const a = load();
  if (!a) return;
  const wds = a.watchDrain();
  if (wds.length > 0) changes++;
  for (const wd of wds) {
    if (wd < 0) {
      everything++;
      for (const p of watchOf.keys()) stale.add(p);
      continue;
    }
    for (const p of pathsOf.get(wd) ?? []) stale.add(p);
  }
}

/**
 * A number that stays the same exactly as long as no watched directory changed (after a drain):
 * a walk that saw only watched listings gives the same result while it holds. Undefined without
 * the watcher.
 */
export function changeCount(): number | undefined {
  if (!load()) return undefined;
  drain();
  return changes;
}

/**
 * Whether the listing read for `dir` under watch `wd` in generation `generation` is current: the
 * watch is still this path's, no event named it and no overflow happened since.
 */
export function current(dir: string, wd: number, generation: number): boolean {
  return wd >= 0 && generation === everything && watchOf.get(dir) === wd && !stale.has(dir);
}

/** The generation a listing read now belongs to (see current()). */
export function generation(): number {
  return everything;
}

/** Drops every watch (the listing cache was cleared). */
export function resetWatches(): void {
  load()?.watchReset();
  pathsOf.clear();
  watchOf.clear();
  stale.clear();
  everything++;
  changes++;
}

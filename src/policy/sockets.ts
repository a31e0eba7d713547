// cordon – finds unix socket files in a readable tree (agents, daemons, IDE helpers), so they can be masked.
//
// Connecting to a path socket needs only write permission on the socket file, which the sandboxed
// command has (same uid); a read-only mount does not stop it, and Landlock governs path sockets only
// from ABI 9. So the sockets a readable home holds are found here and masked like denied files.
// The walk is bounded (depth and directories visited), skips trees that never hold live sockets
// worth reaching (node_modules, git object stores), and does not follow symlinks. Listings come from
// the process-wide cache (dircache.ts), so a second compile re-reads only directories that changed.
import path from 'node:path';

import { listDir } from './dircache.js';

const SKIP = new Set(['node_modules', '.git', '.npm', '.cargo', '.rustup', '.pyenv', '.nvm', '.m2', '.gradle']);

export interface SocketScan {
  sockets: string[];
  /** The walk stopped at its directory budget: sockets deeper in the tree were not looked for. */
  truncated: boolean;
}

/** What a listing holds for this walk (kept with the listing while the directory is unchanged). */
interface Found {
  sockets: string[];
  dirs: string[];
}
const SOCKETS = {};

/** `pass`: see dircache.ts (directories found current earlier in the same pass are not stat'ed again). */
export function findSockets(root: string, maxDepth = 4, maxDirs = 5000, pass?: object): SocketScan {
  const sockets: string[] = [];
  let dirs = 0;
  let truncated = false;
  const walk = (dir: string, depth: number): void => {
    if (++dirs > maxDirs) {
      truncated = true;
      return;
    }
    const listing = listDir(dir, { pass });
    if (!listing) return;
    let found = listing.derived.get(SOCKETS) as Found | undefined;
    if (!found) {
      found = { sockets: [], dirs: [] };
      for (const e of listing.entries) {
        if (e.isSocket) found.sockets.push(e.name);
        else if (e.isDir && !SKIP.has(e.name)) found.dirs.push(e.name);
      }
      listing.derived.set(SOCKETS, found);
    }
    for (const name of found.sockets) sockets.push(path.join(dir, name));
    if (depth < maxDepth) for (const name of found.dirs) walk(path.join(dir, name), depth + 1);
  };
  walk(root, 1);
  return { sockets: sockets.sort(), truncated };
}

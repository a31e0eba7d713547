// cordon – finds unix socket files in a readable tree (agents, daemons, IDE helpers), so they can be masked.
//
// Connecting to a path socket needs only write permission on the socket file, which the sandboxed
// command has (same uid); a read-only mount does not stop it, and Landlock governs path sockets only
// from ABI 9. So the sockets a readable home holds are found here and masked like denied files.
// The walk is bounded (depth and directories visited), skips trees that never hold live sockets
// worth reaching (node_modules, git object stores), and does not follow symlinks.
import { readdirSync } from 'node:fs';
import path from 'node:path';

const SKIP = new Set(['node_modules', '.git', '.npm', '.cargo', '.rustup', '.pyenv', '.nvm', '.m2', '.gradle']);

export interface SocketScan {
  sockets: string[];
  /** The walk stopped at its directory budget: sockets deeper in the tree were not looked for. */
  truncated: boolean;
}

export function findSockets(root: string, maxDepth = 4, maxDirs = 5000): SocketScan {
  const sockets: string[] = [];
  let dirs = 0;
  let truncated = false;
  const walk = (dir: string, depth: number): void => {
    if (++dirs > maxDirs) {
      truncated = true;
      return;
    }
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isSocket()) sockets.push(p);
      else if (e.isDirectory() && depth < maxDepth && !SKIP.has(e.name)) walk(p, depth + 1);
    }
  };
  walk(root, 1);
  return { sockets: sockets.sort(), truncated };
}

// cordon – the network supervisor's native addon (build/Release/cordon_net.node), loaded on first use
// (allowlist mode only), so other modes never need it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { CordonError } from '../errors.js';
import { packageRoot } from '../paths.js';

export interface NetAddon {
  socketpair(): [number, number];
  receiveFds(fd: number): { names: string; fds: number[] } | null;
  originalDst(fd: number): { address: string; port: number; family: 4 | 6 } | null;
  /** Splices a⇄b in native threads (after writing the prefixes); the fds are dup'ed, close yours. */
  relay(a: number, b: number, preAB: Buffer | undefined, preBA: Buffer | undefined, group: number): void;
  relayCount(group: number): number;
  /** Resets every relay of a group; returns how many. */
  abortRelays(group: number): number;
  /** Answers a supervised connect on the launcher's status socket; false if it could not be sent. */
  sendConnected(fd: number, request: number, error: number, socketFd: number): boolean;
  close(fd: number): void;
  /** The launch server's fd plumbing (fds.cc). */
  pipe(): [number, number];
  streamPair(): [number, number];
  /** A close-on-exec copy of `fd`. */
  dup(fd: number): number;
  sendFds(fd: number, payload: Buffer, fds: readonly number[]): boolean;
}

let addon: NetAddon | undefined;

export function addonPath(): string {
  return process.env.CORDON_NET_ADDON ?? path.join(packageRoot(), 'build', 'Release', 'cordon_net.node');
}

/** The addon's exports when it is built and loads (Linux), else null: for the parts other code can do without. */
export function optionalAddon(): Record<string, unknown> | null {
  if (process.platform !== 'linux') return null;
  try {
    const p = addonPath();
    return existsSync(p) ? (createRequire(import.meta.url)(p) as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function loadNetAddon(): NetAddon {
  if (addon) return addon;
  const p = addonPath();
  if (!existsSync(p)) {
    throw new CordonError('NATIVE_MISSING', 'the network addon is not built (build/Release/cordon_net.node missing); network mode "allowlist" needs it', {
      step: 'network',
      hint: 'run `npm install` (or `npm run build`) in the cordon package',
    });
  }
  addon = createRequire(import.meta.url)(p) as NetAddon;
  return addon;
}

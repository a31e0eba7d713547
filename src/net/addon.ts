// cordon – the native addon (build/Release/cordon_net.node), loaded on first use: required by the
// network supervisor (allowlist mode); the launch server, the listing cache and the environment cache
// use it when it is there and do without it otherwise.
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
  /** Changes whenever the process environment does (environ.cc). */
  environGeneration(): number;
}

let addon: NetAddon | undefined;

export function addonPath(): string {
  return process.env.CORDON_NET_ADDON ?? path.join(packageRoot(), 'build', 'Release', 'cordon_net.node');
}

/** The addon when it is built and loads (Linux), else undefined: for the parts that can do without it. */
export function optionalAddon(): NetAddon | undefined {
  try {
    return loadNetAddon();
  } catch {
    return undefined;
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

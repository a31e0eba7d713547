// cordon tests – profiles: temp dirs with profile files, a fake home, and whether real sandboxes run here.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Sandbox } from '../../dist/index.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

export interface Dir {
  root: string;
  ws: string;
  home: string;
  /** Writes a file (JSON for objects) under root; returns its path. */
  write(rel: string, content: string | object): string;
  cleanup(): void;
}

export function makeDir(): Dir {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cordon-prof-'));
  chmodSync(root, 0o755);
  const ws = path.join(root, 'ws');
  const home = path.join(root, 'home');
  mkdirSync(ws, { recursive: true });
  mkdirSync(home, { recursive: true });
  const write = (rel: string, content: string | object) => {
    const p = path.join(root, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return p;
  };
  return { root, ws, home, write, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

let probed: string | null | undefined;

/** undefined when real sandboxes run here, else why not (printed by the caller's skip). */
export async function sandboxUnavailable(): Promise<string | undefined> {
  if (probed !== undefined) return probed ?? undefined;
  const d = makeDir();
  try {
    const sb = await Sandbox.create({ workspace: d.ws, home: d.home, prespawn: false });
    const r = await sb.exec(['true']);
    sb.close();
    probed = r.exitCode === 0 ? null : `sandboxed true exited ${r.exitCode}`;
  } catch (err) {
    probed = `real sandboxes are not available here: ${(err as Error).message}`;
  } finally {
    d.cleanup();
  }
  if (probed) process.stdout.write(`# skipping real-sandbox profile tests: ${probed}\n`);
  return probed ?? undefined;
}

export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: opts.cwd ?? repoRoot, env: opts.env ?? process.env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

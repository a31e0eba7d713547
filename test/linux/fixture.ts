// cordon tests – a throwaway world for real-sandbox tests: a workspace, a fake home full of secrets,
// the attack helper compiled into it, and a way to run the same thing on the host as a positive control.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Sandbox, type SandboxOptions } from '../../dist/index.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface World {
  root: string;
  ws: string;
  home: string;
  /** The attack helper, inside the (read-only) fake home so the sandbox can execute it. */
  attack: string;
  sandbox(extra?: SandboxOptions): Promise<Sandbox>;
  cleanup(): void;
}

let compiled: string | undefined;

/** Compiles test/fixtures/attack.c once per process. */
export function attackBinary(): string {
  if (compiled) return compiled;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cordon-attack-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true })); // nothing left on the host
  const out = path.join(dir, 'attack');
  const r = spawnSync('cc', ['-O1', '-o', out, path.join(repoRoot, 'test', 'fixtures', 'attack.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot compile the attack helper (cc missing?): ${r.stderr}`);
  compiled = out;
  return out;
}

export function makeWorld(): World {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cordon-world-'));
  chmodSync(root, 0o755);
  const ws = path.join(root, 'ws');
  const home = path.join(root, 'home');
  const files: Record<string, string> = {
    'home/.ssh/id_ed25519': 'PRIVATE KEY\n',
    'home/.aws/credentials': '[default]\naws_secret_access_key=SECRET\n',
    'home/.bash_history': 'export TOKEN=SECRET\n',
    'home/.npmrc': '//registry.npmjs.org/:_authToken=SECRET\n',
    'home/notes.txt': 'harmless\n',
    'home/other-project/.env': 'API_KEY=SECRET\n',
    'home/src/org/proj/.env.local': 'API_KEY=SECRET\n',
    'ws/README.md': 'hello\n',
    'ws/.env': 'API_KEY=SECRET\n',
    'ws/sub/.env.local': 'API_KEY=SECRET\n',
    'ws/.git/config': '[core]\n',
    'ws/.git/hooks/pre-commit': '#!/bin/sh\nexit 0\n',
  };
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  mkdirSync(path.join(home, 'bin'), { recursive: true });
  const attack = path.join(home, 'bin', 'attack');
  cpSync(attackBinary(), attack);
  return {
    root,
    ws,
    home,
    attack,
    sandbox: (extra = {}) => Sandbox.create({ workspace: ws, home, ...extra }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Runs `fn` with a throwaway world (e.g. for a host-side control that must not touch the shared one). */
export async function withWorld<T>(fn: (w: World) => T | Promise<T>): Promise<T> {
  const w = makeWorld();
  try {
    return await fn(w);
  } finally {
    w.cleanup();
  }
}

/** Runs argv on the host (the positive control). */
export function host(argv: string[], options: { cwd?: string; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', cwd: options.cwd, input: options.input, timeout: 20_000 });
}

export const isRoot = process.getuid?.() === 0;
export const hasUnshare = existsSync('/usr/bin/unshare');

/** `name.with.dots = value` when the sysctl /proc/sys/NAME exists and `refuses` its value, else undefined. */
function refusingSetting(name: string, refuses: (value: number) => boolean): string | undefined {
  let value: number;
  try {
    value = Number(readFileSync(`/proc/sys/${name}`, 'utf8').trim());
  } catch {
    return undefined;
  }
  return refuses(value) ? `${name.replaceAll('/', '.')} = ${value}` : undefined;
}

const USERNS_ATTACKS = ['unshare-user', 'unshare-mount', 'clone-newuser', 'setns', 'socket-packet', 'socket-raw'];

/**
 * Why this host refuses an attack even outside any sandbox (a kernel setting), or undefined. A
 * positive control that fails for one of these reasons cannot be run here; any other failure is a
 * broken control and must fail its test.
 */
export function hostRefusal(attack: string, control: SpawnSyncReturns<string>): string | undefined {
  if (attack === 'io-uring') return refusingSetting('kernel/io_uring_disabled', (v) => v !== 0);
  if (attack === 'perf') return isRoot ? undefined : refusingSetting('kernel/perf_event_paranoid', (v) => v > 2);
  if (attack === 'ptrace-attach') return refusingSetting('kernel/yama/ptrace_scope', (v) => v >= (isRoot ? 3 : 1));
  if (USERNS_ATTACKS.includes(attack)) {
    const unprivileged = isRoot
      ? undefined
      : (refusingSetting('kernel/unprivileged_userns_clone', (v) => v === 0) ?? refusingSetting('kernel/apparmor_restrict_unprivileged_userns', (v) => v === 1));
    return unprivileged ?? refusingSetting('user/max_user_namespaces', (v) => v === 0);
  }
  // With IA32 emulation off (ia32_emulation=0, or a kernel built without it) int 0x80 faults.
  if (attack === 'int80' && control.signal === 'SIGSEGV') return 'IA32 emulation is off on this kernel (int 0x80 faults outside the sandbox too)';
  return undefined;
}

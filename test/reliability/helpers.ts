// cordon tests – reliability helpers: which limit mechanism applies here, survivors seen from outside,
// cordon cgroup directories left behind, and the load bench (bench/load.mjs) shared with `npm run bench`.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { limitSupport, type LimitName, type LimitSupport } from '../../dist/linux/limits.js';
import { probeLinux } from '../../dist/linux/probe.js';
import { repoRoot } from '../linux/fixture.js';

export const probe = probeLinux()!;
export const support: Record<LimitName, LimitSupport> = limitSupport(probe.uid, probe.kernel);
export const cgroupMemory = support.memory.mechanism.startsWith('cgroup');
export const cgroupPids = support.pids.mechanism.startsWith('cgroup');

/** Host pids whose command line contains `marker` (pgrep, i.e. checked from outside the sandbox). */
export function survivors(marker: string): string[] {
  const r = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((p) => p && Number(p) !== process.pid);
}

export async function waitGone(marker: string, ms = 3000): Promise<string[]> {
  const end = Date.now() + ms;
  let left = survivors(marker);
  while (left.length && Date.now() < end) {
    await sleep(25);
    left = survivors(marker);
  }
  return left;
}

/** A marker unique to this test process, for argv that pgrep can find. */
export function marker(tag: string): string {
  return `cordon-rel-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface LoadBench {
  runLoadBench(opts?: Record<string, unknown>): Promise<{ results: Record<string, any>; markdown: string }>;
  cgroupLeftovers(caller?: number): Promise<string[]>;
  childProcesses(): Array<{ pid: number; state: string; comm: string }>;
  procStat(pid: number): { state: string; ppid: number; comm: string } | undefined;
  fdCount(): number;
  mountTable(ownRoots?: string[]): string[];
}

/** bench/load.mjs (plain JS, loaded at run time). */
export async function loadBench(): Promise<LoadBench> {
  const p = path.join(repoRoot, 'bench', 'load.mjs');
  return (await import(p)) as LoadBench;
}

// cordon bench – timing shared by the sections: samples of one thing, several things taking turns, their summary, and CPU pinning.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** `['taskset', '-c', cpu]` to prefix an argv with, or [] with one CPU or no working taskset (run unpinned). */
export function pinnedTo(cpu) {
  const argv = ['taskset', '-c', String(cpu)];
  return availableParallelism() > 1 && spawnSync(argv[0], [...argv.slice(1), 'true']).status === 0 ? argv : [];
}

/** Median, p10, p90 and minimum of times in ms. */
export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: q(0.5), p10: q(0.1), p90: q(0.9), min: s[0] };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `n` timed runs of `fn` (ms), each after `gapMs`, following `warmup` unmeasured ones. */
export async function samples(n, fn, { warmup = 5, gapMs = 0 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const xs = [];
  for (let i = 0; i < n; i++) {
    if (gapMs) await sleep(gapMs);
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return xs;
}

/**
 * Several things (`{ fn, gapMs }`) measured in turns: each warmed first (`warmup` runs), then
 * `rounds` rounds in which each takes ceil(n / rounds) samples after `roundWarmup` unmeasured runs,
 * a different one starting each round. The host's slow and fast phases (±20-45 % on this VM) then
 * fall on all of them alike, and comparing them compares the things, not two stretches of load.
 * `settleMs`: a pause before each turn, so the last turn's sandbox is torn down (or the next one
 * built ahead) before this one starts. Returns each thing's times, in order.
 */
export async function takeTurns(things, { n, rounds, warmup, roundWarmup = 0, settleMs = 0 }) {
  for (const t of things) await samples(0, t.fn, { warmup });
  const times = things.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < things.length; k++) {
      const i = (k + round) % things.length;
      if (settleMs) await sleep(settleMs);
      times[i].push(...(await samples(Math.ceil(n / rounds), things[i].fn, { warmup: roundWarmup, gapMs: things[i].gapMs ?? 0 })));
    }
  }
  return times;
}

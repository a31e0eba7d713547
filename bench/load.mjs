// cordon bench – load: N sequential and M concurrent execs through one Sandbox, then checks that
// nothing leaked (fds, child processes/zombies, mounts, cgroup directories, temp files) and that
// memory stayed flat. Used by bench/run.mjs (full counts) and test/reliability (small counts).
//
//   import { runLoadBench } from './load.mjs';
//   const { results, markdown } = await runLoadBench({ sequential: 1000, concurrent: 64 });
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Open fds of this process. */
export function fdCount() {
  return readdirSync('/proc/self/fd').length;
}

/** {state, ppid, comm} of a process from /proc/PID/stat (state Z = zombie); undefined once it is gone. */
export function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    return { state, ppid: Number(ppid), comm: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

/**
 * Processes this process started, directly or through its launch server: [{pid, state, comm}]
 * (state Z = zombie). The launch server itself (one per Node process, resident by design:
 * src/linux/launch-server.ts) and its standby (the next launcher, forked ahead and waiting, named
 * cordon-standby) are not leftovers; the launchers it forks are, if any remain.
 */
export function childProcesses() {
  const procs = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    try {
      if (stat) procs.push({ pid: Number(name), ...stat, server: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes('--server') });
    } catch {
      // exited meanwhile
    }
  }
  const servers = new Set(procs.filter((p) => p.ppid === process.pid && p.server && p.state !== 'Z').map((p) => p.pid));
  return procs
    .filter((p) => (p.ppid === process.pid && !servers.has(p.pid)) || (servers.has(p.ppid) && !(p.comm === 'cordon-standby' && p.state !== 'Z')))
    .map(({ pid, state, comm }) => ({ pid, state, comm }));
}

/** The temp directory other test files use: read at import, before a run points TMPDIR at its own (withPrivateTmp). */
const HOST_TMP = os.tmpdir();

/**
 * The mount table as this process sees it, without mount ids (stable across reads). `ownRoots`:
 * mounts under another cordon-* temp directory (a concurrently running test file's fixture, e.g. a
 * bind or tmpfs mount it makes on the host on purpose) are left out, unless under one of these.
 */
export function mountTable(ownRoots = [path.join(HOST_TMP, 'cordon-load-')]) {
  const foreign = path.join(HOST_TMP, 'cordon-');
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((l) => {
      const point = l.split(' ')[4] ?? '';
      return !point.startsWith(foreign) || ownRoots.some((r) => point.startsWith(r));
    })
    .map((l) => l.split(' ').slice(2).join(' '))
    .sort();
}

/**
 * cordon-* cgroup directories of launchers started by `caller` (default: this process) that still
 * exist. Checked when none of its runs is in flight, every one is a leftover. Other processes' runs
 * share the parent directories and are not counted.
 */
export async function cgroupLeftovers(caller = process.pid) {
  const { detectCgroups, CGROUP_PREFIX } = await import(path.join(root, 'dist', 'linux', 'limits.js'));
  const sites = detectCgroups();
  const parents = [sites.v2?.dir, sites.v1.memory, sites.v1.pids].filter(Boolean);
  const out = [];
  for (const p of new Set(parents)) {
    try {
      for (const n of readdirSync(p)) if (n.startsWith(CGROUP_PREFIX) && n.endsWith(`-${caller}`)) out.push(path.join(p, n));
    } catch {
      // parent vanished
    }
  }
  return out;
}

function tmpEntries() {
  try {
    return new Set(readdirSync(os.tmpdir()));
  } catch {
    return new Set();
  }
}

/** Runs fn with TMPDIR pointing at a fresh private directory, so temp files cordon made are ours to see. */
async function withPrivateTmp(fn) {
  const saved = process.env.TMPDIR;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cordon-load-tmp-'));
  process.env.TMPDIR = dir;
  try {
    return await fn(dir);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function snapshot() {
  return {
    fds: fdCount(),
    children: childProcesses(),
    mounts: mountTable(),
    cgroups: await cgroupLeftovers(),
    tmp: tmpEntries(),
    rss: process.memoryUsage().rss,
    heap: process.memoryUsage().heapUsed,
  };
}

/** Waits (bounded) until this process has no child processes left: launchers exit after the result. */
async function settle(ms = 5000) {
  const end = Date.now() + ms;
  while (childProcesses().length > 0 && Date.now() < end) await sleep(20);
}

let gcFn = typeof globalThis.gc === 'function' ? globalThis.gc : undefined;
function gc() {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc');
  }
  gcFn();
  gcFn();
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
}

/**
 * @param {{sequential?: number, concurrent?: number, rounds?: number, limits?: object, warmup?: number}} [opts]
 *   limits: passed to Sandbox.create (default pids 256 + memory 512m, so cgroups are created and
 *   removed on every exec where they are available).
 */
export async function runLoadBench(opts = {}) {
  return withPrivateTmp((tmp) => loadRun(opts, tmp));
}

async function loadRun(opts, tmp) {
  const sequential = opts.sequential ?? 1000;
  const concurrent = opts.concurrent ?? 64;
  const rounds = opts.rounds ?? 1;
  const warmup = opts.warmup ?? 20;
  const { Sandbox } = await import(path.join(root, 'dist', 'index.js'));
  const ws = mkdtempSync(path.join(path.dirname(tmp), 'cordon-load-ws-'));
  // Resources are compared with the state before the Sandbox existed (it may keep a spare launcher
  // while open), after a throwaway Sandbox has run a few commands (Node opens some fds lazily, e.g.
  // one /dev/null); memory after a warm-up, when the allocator and JIT have settled.
  const limits = opts.limits ?? { pids: 256, memory: '512m' };
  const pre = await Sandbox.create({ workspace: ws, limits });
  for (let i = 0; i < 50; i++) await pre.exec(['true']);
  await pre.close();
  await settle();
  const before = await snapshot();
  const sb = await Sandbox.create({ workspace: ws, limits });
  const failures = [];
  const check = (r, i, want) => {
    if (r.exitCode !== 0 || r.stdout.toString() !== want) failures.push({ i, exitCode: r.exitCode, signal: r.signal, stderr: r.stderr.toString().slice(0, 200) });
  };
  try {
    for (let i = 0; i < warmup; i++) check(await sb.exec(['echo', `w${i}`]), -1, `w${i}\n`);
    await settle();
    gc();
    const warm = process.memoryUsage();

    const seqMs = [];
    const t0 = performance.now();
    for (let i = 0; i < sequential; i++) {
      const s = performance.now();
      check(await sb.exec(['echo', `s${i}`]), i, `s${i}\n`);
      seqMs.push(performance.now() - s);
    }
    const seqTotal = performance.now() - t0;
    await settle();
    gc();
    const midRss = process.memoryUsage().rss;

    const conMs = [];
    const t1 = performance.now();
    for (let r = 0; r < rounds; r++) {
      await Promise.all(
        Array.from({ length: concurrent }, async (_, i) => {
          const s = performance.now();
          check(await sb.exec(['sh', '-c', 'echo "c$1"', 'sh', String(i)]), i, `c${i}\n`);
          conMs.push(performance.now() - s);
        }),
      );
    }
    const conTotal = performance.now() - t1;

    await sb.close();
    await settle();
    gc();
    // A stream's close is handed to libuv and completes on a later turn: give those (bounded) time,
    // so a close still in flight is not counted as a leak; a leaked fd stays and is reported.
    for (const end = Date.now() + 2000; fdCount() > before.fds && Date.now() < end; ) await sleep(20);
    const after = await snapshot();
    seqMs.sort((a, b) => a - b);
    conMs.sort((a, b) => a - b);
    const newTmp = [...after.tmp].filter((n) => !before.tmp.has(n));
    const results = {
      sequential,
      concurrent,
      rounds,
      failures,
      sequentialTotalMs: seqTotal,
      sequentialP50Ms: quantile(seqMs, 0.5),
      sequentialP95Ms: quantile(seqMs, 0.95),
      concurrentTotalMs: conTotal,
      concurrentP50Ms: quantile(conMs, 0.5),
      concurrentP95Ms: quantile(conMs, 0.95),
      fds: { before: before.fds, after: after.fds },
      children: { before: before.children.length, after: after.children, zombies: after.children.filter((c) => c.state === 'Z').length },
      mountsChanged: JSON.stringify(before.mounts) !== JSON.stringify(after.mounts),
      cgroups: { before: before.cgroups, after: after.cgroups },
      newTmpEntries: newTmp,
      rssMB: { before: warm.rss / 2 ** 20, afterSequential: midRss / 2 ** 20, after: after.rss / 2 ** 20 },
      heapMB: { before: warm.heapUsed / 2 ** 20, after: after.heap / 2 ** 20 },
    };
    const f = (n) => n.toFixed(1);
    const markdown = [
      `| load (${sequential} sequential, ${rounds}×${concurrent} concurrent, one Sandbox) | value |`,
      '|---|---|',
      `| sequential: total / p50 / p95 | ${f(seqTotal)} ms / ${f(results.sequentialP50Ms)} ms / ${f(results.sequentialP95Ms)} ms |`,
      `| concurrent: wall / p50 / p95 per exec | ${f(conTotal)} ms / ${f(results.concurrentP50Ms)} ms / ${f(results.concurrentP95Ms)} ms |`,
      `| failed execs | ${failures.length} |`,
      `| fds before → after | ${before.fds} → ${after.fds} |`,
      `| child processes / zombies after | ${after.children.length} / ${results.children.zombies} |`,
      `| host mount table changed | ${results.mountsChanged ? 'yes' : 'no'} |`,
      `| cordon cgroup dirs after | ${after.cgroups.length} |`,
      `| new entries in TMPDIR | ${newTmp.length} |`,
      `| RSS before → after sequential → after all | ${f(results.rssMB.before)} → ${f(results.rssMB.afterSequential)} → ${f(results.rssMB.after)} MB |`,
      `| JS heap used before → after | ${f(results.heapMB.before)} → ${f(results.heapMB.after)} MB |`,
    ].join('\n');
    return { results, markdown };
  } finally {
    await sb.close();
    rmSync(ws, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { markdown, results } = await runLoadBench({
    sequential: Number(process.env.LOAD_SEQUENTIAL ?? 1000),
    concurrent: Number(process.env.LOAD_CONCURRENT ?? 64),
  });
  console.log(markdown);
  if (results.failures.length) console.log(JSON.stringify(results.failures.slice(0, 5), null, 2));
}

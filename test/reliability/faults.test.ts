// cordon tests – faults: the caller SIGKILLed (no survivors, no cgroup left once cordon runs again),
// the launcher SIGKILLed (fails closed), commands that close their stdio and keep running, and the
// audit log: every exec has exec.start and exec.end with one run id, whatever happened, and a log
// that cannot be written never breaks a command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeWorld, repoRoot, type World } from '../linux/fixture.js';
import { cgroupMemory, cgroupPids, loadBench, marker, survivors, waitGone } from './helpers.js';

const LIMITS = { pids: 64, memory: '256m' };

/**
 * Starts a Node caller that runs `argv` in a sandbox (the command prints `ready`); resolves once it
 * runs. `onReady` is code the caller runs then (e.g. process.exit).
 */
async function startCaller(w: World, argv: string[], opts: { log?: string; onReady?: string } = {}): Promise<ReturnType<typeof spawn>> {
  const script = `
    import { Sandbox } from ${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))};
    const sb = await Sandbox.create({ workspace: ${JSON.stringify(w.ws)}, home: ${JSON.stringify(w.home)}, limits: ${JSON.stringify(LIMITS)},
      log: ${opts.log ? JSON.stringify({ file: opts.log }) : 'undefined'} });
    const p = sb.spawn(${JSON.stringify(argv)});
    p.stdout.on('data', (d) => {
      process.stdout.write(d);
      if (String(d).includes('ready')) { ${opts.onReady ?? ''} }
    });
    await p.result;`;
  const caller = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    caller.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    caller.on('exit', () => reject(new Error('caller exited early')));
  });
  return caller;
}

function auditEvents(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** For each run id: how many exec.start and exec.end events. */
function pairs(events: Array<Record<string, unknown>>): Map<string, { start: number; end: number }> {
  const m = new Map<string, { start: number; end: number }>();
  for (const e of events) {
    if (e.event !== 'exec.start' && e.event !== 'exec.end') continue;
    const k = String(e.runId);
    const p = m.get(k) ?? { start: 0, end: 0 };
    if (e.event === 'exec.start') p.start++;
    else p.end++;
    m.set(k, p);
  }
  return m;
}

describe('faults', () => {
  let w: World;
  before(() => {
    w = makeWorld();
  });
  after(() => w.cleanup());

  it('SIGKILL of the caller: no process survives; its cgroups go at the next start', async (t) => {
    const m = marker('caller');
    const caller = await startCaller(w, ['sh', '-c', `sleep 600 & setsid sh -c 'sleep 600' & echo ready; wait`, m]);
    // sh -c keeps its $0 (the marker) in every forked copy; sleep itself is matched by the parent.
    assert.ok(survivors(m).length >= 1, 'control: the sandboxed shell was running');
    const exited = new Promise((r) => caller.on('exit', r));
    caller.kill('SIGKILL');
    assert.deepEqual(await waitGone(m), [], 'nothing of the sandbox outlives its caller');
    await exited;
    const { cgroupLeftovers, procStat } = await loadBench();
    if (!cgroupMemory && !cgroupPids) return t.skip('no cgroups here (rlimits only): nothing to leave behind');
    // The dead launcher could not remove its groups; the next launcher sweeps them once the dead
    // launcher has been reaped by whoever inherited it (a zombie still counts as alive).
    const sb = await w.sandbox({ limits: LIMITS });
    let left: string[] = [];
    for (let i = 0; i < 30; i++) {
      assert.equal((await sb.exec(['true'])).exitCode, 0);
      left = await cgroupLeftovers(caller.pid);
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    sb.close();
    // A host whose pid 1 (a container's, say) does not reap orphans keeps the dead launcher a zombie
    // for ever: the sweep rightly leaves its groups. That is the host's, not cordon's, to fix.
    const zombies = left.map((dir) => Number(/cordon-(\d+)-/.exec(path.basename(dir))?.[1])).filter((pid) => procStat(pid)?.state === 'Z');
    if (left.length > 0 && zombies.length === left.length) {
      return t.skip(`the dead launchers (${zombies.join(', ')}) are zombies nobody reaps (the host's pid 1 does not reap orphans); their groups are swept once they are reaped`);
    }
    assert.deepEqual(left, []);
  });

  it('SIGKILL of the launcher fails closed: the command dies, the result says so, nothing is left', async () => {
    const { childProcesses, cgroupLeftovers } = await loadBench();
    const sb = await w.sandbox({ limits: LIMITS });
    const m = marker('launcher');
    const p = sb.spawn(['sh', '-c', 'sleep 600 & echo ready; wait', m]);
    await new Promise<void>((resolve) => p.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    const launchers = childProcesses().filter((c) => c.comm.startsWith('cordon-launch'));
    assert.ok(launchers.length >= 1, 'control: the launcher is our child');
    for (const l of launchers) process.kill(l.pid, 'SIGKILL');
    const r = await p.result;
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(r.exitCode, null);
    assert.deepEqual(await waitGone(m), []);
    sb.close();
    // close() discards the spare launcher asynchronously; its groups go when it has exited.
    let left = await cgroupLeftovers();
    for (let i = 0; i < 60 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = await cgroupLeftovers();
    }
    assert.deepEqual(left, []);
  });

  it('a command that closes its stdio and keeps running is still torn down (end of command, timeout)', async () => {
    const sb = await w.sandbox();
    const m1 = marker('daemon');
    const bg = await sb.exec(['sh', '-c', '(exec >&- 2>&- <&-; while :; do sleep 0.1; done) & echo started', m1], { timeoutMs: 10_000 });
    assert.equal(bg.exitCode, 0);
    assert.equal(bg.stdout.toString(), 'started\n');
    assert.ok(bg.durationMs < 5000, 'the result does not wait for the detached child');
    assert.deepEqual(await waitGone(m1), []);
    const m2 = marker('closed');
    const fg = await sb.exec(['sh', '-c', 'exec >&- 2>&- <&-; while :; do sleep 0.1; done', m2], { timeoutMs: 400 });
    assert.equal(fg.limit, 'timeout');
    assert.deepEqual(await waitGone(m2), []);
    sb.close();
  });

  it('audit: start and end with one run id for ok, failure, timeout, abort, output cap, setup failure', async () => {
    const log = path.join(w.root, 'audit.jsonl');
    const sb = await w.sandbox({ log: { file: log } });
    await sb.exec(['true']);
    await sb.exec(['sh', '-c', 'exit 3']);
    await sb.exec(['no-such-command-here']);
    await sb.exec(['sleep', '5'], { timeoutMs: 100 });
    await sb.exec(['sleep', '5'], { signal: AbortSignal.timeout(100) });
    await sb.exec(['yes'], { maxOutputBytes: 1000 });
    await assert.rejects(sb.exec(['true'], { cwd: path.join(w.ws, 'does-not-exist') }), { code: 'SETUP_FAILED' });
    sb.close();
    const events = auditEvents(log);
    const p = pairs(events);
    assert.equal(p.size, 7, JSON.stringify(events.map((e) => e.event)));
    for (const [id, c] of p) assert.deepEqual(c, { start: 1, end: 1 }, `run ${id}`);
    const ends = events.filter((e) => e.event === 'exec.end');
    assert.deepEqual(ends.map((e) => e.limit).filter(Boolean).sort(), ['abort', 'output', 'timeout']);
    assert.equal(ends.filter((e) => e.setupFailed).length, 1);
  });

  it('audit: a caller that exits mid-run still writes exec.end, and the run is killed', async () => {
    const log = path.join(w.root, 'exit.jsonl');
    const m = marker('exit');
    const caller = await startCaller(w, ['sh', '-c', 'echo ready; sleep 600', m], { log, onReady: 'process.exit(0);' });
    await new Promise((r) => caller.on('exit', r));
    assert.deepEqual(await waitGone(m), []);
    const events = auditEvents(log);
    const p = pairs(events);
    assert.equal(p.size, 1);
    for (const c of p.values()) assert.deepEqual(c, { start: 1, end: 1 });
    assert.ok(events.some((e) => e.event === 'exec.end' && e.reason === 'caller_exit'), JSON.stringify(events));
  });

  it('audit: an unwritable or full log never breaks a command', async () => {
    // /dev/full fails every write with ENOSPC; a path under a regular file cannot be created (ENOTDIR).
    for (const file of ['/dev/full', path.join(w.ws, 'README.md', 'sub', 'audit.jsonl')]) {
      const sb = await w.sandbox({ log: { file } });
      const r = await sb.exec(['echo', 'still works']);
      assert.equal(r.exitCode, 0, file);
      assert.equal(r.stdout.toString(), 'still works\n', file);
      sb.close();
    }
  });
});

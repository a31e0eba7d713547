// cordon tests – each resource limit hit and reported: memory (oom with a memory cgroup, ENOMEM with
// RLIMIT_DATA without one), pids (a fork bomb, bounded and torn down), CPU time, open files, the
// private /tmp size, wall-clock timeout and output cap; the CLI's exit statuses; no cgroup left behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Sandbox } from '../../dist/index.js';
import { makeWorld, repoRoot, type World } from '../linux/fixture.js';
import { cgroupMemory, cgroupPids, loadBench, marker, support, survivors, waitGone } from './helpers.js';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined;

describe('resource limits', () => {
  let w: World;
  before(() => {
    w = makeWorld();
  });
  after(async () => {
    w.cleanup();
  });

  it('memory: a hog is stopped at the limit and reported (oom with a memory cgroup)', async (t) => {
    if (!PY) return t.skip('python3 is not installed');
    t.diagnostic(`memory limit mechanism here: ${support.memory.mechanism} (${support.memory.detail})`);
    const sb = await w.sandbox({ limits: { memory: '128m' } });
    t.after(() => sb.close());
    const ok = await sb.exec([PY, '-c', 'a = bytearray(32 * 2**20); print(len(a))']);
    assert.equal(ok.exitCode, 0, `control: 32 MiB fits under 128m: ${ok.stderr}`);
    const hog = await sb.exec([PY, '-c', 'a = bytearray(1024 * 2**20); print("allocated")'], { timeoutMs: 20_000 });
    assert.doesNotMatch(hog.stdout.toString(), /allocated/);
    if (cgroupMemory) {
      assert.equal(hog.limit, 'oom');
      assert.equal(hog.signal, 'SIGKILL');
      assert.ok(hog.violations.some((v) => v.kind === 'limit' && v.what === 'oom'), JSON.stringify(hog.violations));
    } else {
      // RLIMIT_DATA: the allocation fails inside the command, which exits on its own; no oom kill.
      assert.notEqual(hog.exitCode, 0);
      assert.match(hog.stderr.toString(), /MemoryError/);
      assert.equal(hog.limit, null);
    }
  });

  it('pids: a fork bomb is bounded by the limit and nothing of it survives', async (t) => {
    t.diagnostic(`pids limit mechanism here: ${support.pids.mechanism} (${support.pids.detail})`);
    if (support.pids.mechanism === 'unavailable') {
      // Fail closed: asking for a pids limit that cannot be enforced refuses to create the sandbox.
      await assert.rejects(w.sandbox({ limits: { pids: 32 } }), { code: 'LAYER_UNAVAILABLE' });
      return t.skip(`no pids mechanism here: ${support.pids.detail}`);
    }
    const PIDS = 32;
    const sb = await w.sandbox({ limits: { pids: PIDS } });
    t.after(() => sb.close());
    const m = marker('bomb');
    // The outer shell forks only before the bomb exists (a sleep to wait on, then the bomb) and
    // then waits (a builtin, no fork), so it outlives its bomb whatever the timing: a dash that
    // must fork while the bomb holds every pid dies with "Cannot fork", which would end the command
    // by the pids limit instead. The bomb (python) keeps forking, and each copy whose fork is
    // refused says so once and retries, so the tree stays at the limit until the timeout ends it.
    // Without python, a shell bomb: its copies die at the first refused fork, so it collapses
    // within milliseconds and the sampler below cannot catch it. The marker is in every copy's argv.
    const bomb = PY
      ? `${PY} -c 'import os, sys, time
said = False
while True:
    try:
        os.fork()
    except OSError as e:
        if not said:
            print("fork:", e, file=sys.stderr, flush=True)
            said = True
        time.sleep(0.02)' "$0"`
      : '( b() { b | b & }; b )';
    const run = sb.exec(['sh', '-c', `sleep 5 & s=$!; ${bomb} & wait $s`, m], { timeoutMs: 1500 });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, survivors(m).length)), 50);
    const r = await run;
    clearInterval(sampler);
    assert.equal(r.limit, 'timeout', `the shell outlived its bomb and the timeout ended it: ${r.stderr.toString().slice(0, 300)}`);
    if (PY) assert.ok(peak > 2, `control: the bomb was running beside the outer shell (peak ${peak})`);
    else t.diagnostic('python3 is not installed: the shell bomb collapses too fast to be sampled; the limit is shown by the violation or stderr below');
    assert.ok(peak <= PIDS + 1, `at most ${PIDS} processes at once (+ init), saw ${peak}`);
    assert.deepEqual(await waitGone(m), [], 'nothing of the bomb survives');
    if (cgroupPids) assert.ok(r.violations.some((v) => v.kind === 'limit' && v.what === 'pids'), JSON.stringify(r.violations));
    else assert.match(r.stderr.toString(), /fork|Resource temporarily unavailable/i);
    // A command that dies of refused forks is reported as ended by the pids limit.
    const fail = await sb.exec(['sh', '-c', `for i in $(seq ${PIDS * 2}); do sleep 1 & done; wait`, m]);
    assert.notEqual(fail.exitCode, 0);
    if (cgroupPids) assert.equal(fail.limit, 'pids');
    assert.deepEqual(await waitGone(m), []);
  });

  it('cpu: a busy loop is ended at the CPU limit (SIGXCPU, or SIGKILL when it ignores that)', async (t) => {
    const sb = await w.sandbox({ limits: { cpuSeconds: 1 } });
    t.after(() => sb.close());
    const r = await sb.exec(['sh', '-c', 'while :; do :; done'], { timeoutMs: 15_000 });
    assert.equal(r.limit, 'cpu');
    assert.equal(r.signal, 'SIGXCPU');
    assert.ok(r.durationMs < 10_000, `ended by CPU time, not the timeout (${r.durationMs} ms)`);
    if (!PY) return t.skip('python3 is not installed (SIGXCPU-ignoring variant)');
    const stubborn = await sb.exec([PY, '-c', 'import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass'], { timeoutMs: 15_000 });
    assert.equal(stubborn.signal, 'SIGKILL');
    assert.equal(stubborn.limit, 'cpu');
    const idle = await sb.exec(['sleep', '1.5']);
    assert.equal(idle.exitCode, 0, 'control: wall time is not CPU time');
  });

  it('files: open files beyond the limit fail with EMFILE', async (t) => {
    if (!PY) return t.skip('python3 is not installed');
    const sb = await w.sandbox({ limits: { maxFiles: 32 } });
    t.after(() => sb.close());
    const ok = await sb.exec([PY, '-c', 'fs = [open("/dev/null") for _ in range(20)]; print("ok")']);
    assert.equal(ok.stdout.toString(), 'ok\n', ok.stderr.toString());
    const r = await sb.exec([PY, '-c', 'fs = [open("/dev/null") for _ in range(200)]']);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr.toString(), /Too many open files/);
  });

  it('tmp: a full private /tmp gives the command ENOSPC and nothing else', async (t) => {
    const sb = await w.sandbox({ limits: { tmpSize: '4m' } });
    t.after(() => sb.close());
    // Names of this test process only: other test files create and remove /tmp entries meanwhile.
    const [fill, written] = [`/tmp/cordon-fill-${process.pid}`, `/tmp/cordon-written-${process.pid}`];
    const r = await sb.exec([
      'sh',
      '-c',
      `export LC_ALL=C; out=$(dd if=/dev/zero of=${fill} bs=1M count=16 2>&1); rc=$?; echo "$out" | grep -c "No space left"; echo rc=$rc; rm ${fill}; echo small > ${written} && cat ${written}; echo ws > fill-ok && cat fill-ok`,
    ]);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), '1\nrc=1\nsmall\nws\n');
    assert.equal(r.limit, null);
    assert.equal(existsSync(written), false, 'the host /tmp is untouched (the file went to the private /tmp)');
    const shm = await sb.exec(['sh', '-c', 'export LC_ALL=C; dd if=/dev/zero of=/dev/shm/fill bs=1M count=16 2>&1 | grep -c "No space left"']);
    assert.equal(shm.stdout.toString(), '1\n');
  });

  it('timeout and output: wall clock and output floods end the whole tree', async (t) => {
    const sb = await w.sandbox();
    t.after(() => sb.close());
    const m = marker('timeout');
    const r = await sb.exec(['sh', '-c', 'sleep 30 & while :; do sleep 0.1; done', m], { timeoutMs: 300 });
    assert.equal(r.limit, 'timeout');
    assert.equal(r.timedOut, true);
    assert.deepEqual(await waitGone(m), []);
    const flood = await sb.exec(['yes'], { maxOutputBytes: 65536 });
    assert.equal(flood.limit, 'output');
    assert.equal(flood.truncated, true);
    assert.equal(flood.stdout.length, 65536);
    assert.equal(flood.stdout.toString(), 'y\n'.repeat(32768));
  });

  it('CLI: limit flags and exit statuses (124 timeout, 137 oom/output, 152 cpu)', async (t) => {
    const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
    const run = (args: string[]) => spawnSync(process.execPath, [cli, 'run', ...args], { cwd: w.ws, encoding: 'utf8', timeout: 30_000 });
    const cpu = run(['--cpu-seconds', '1', '--', 'sh', '-c', 'while :; do :; done']);
    assert.equal(cpu.status, 152, cpu.stderr);
    assert.match(cpu.stderr, /CPU time limit/);
    assert.equal(run(['--timeout', '0.3', '--', 'sleep', '5']).status, 124);
    const bad = run(['--memory', 'lots', '--', 'true']);
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /--memory/);
    const tmp = run(['--tmp-size', '1m', '--max-files', '64', '--', 'sh', '-c', 'dd if=/dev/zero of=/tmp/x bs=1k count=2048 2>/dev/null; echo $?']);
    assert.equal(tmp.stdout, '1\n', tmp.stderr);
    if (!cgroupMemory || !PY) return t.skip(`no memory cgroup here (${support.memory.mechanism}): the oom exit status does not apply`);
    const oom = run(['--memory', '64m', '--', PY, '-c', 'a = bytearray(512 * 2**20)']);
    assert.equal(oom.status, 137, oom.stderr);
    assert.match(oom.stderr, /memory limit reached/);
  });

  it('no cordon cgroup directory is left behind', async () => {
    const { cgroupLeftovers } = await loadBench();
    assert.deepEqual(await cgroupLeftovers(), []);
  });
});

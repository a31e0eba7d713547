// cordon tests – process lifecycle in a real sandbox: exit codes, signals, stdin, big output, env,
// tree teardown after exit, timeout, abort and caller death; everyday tools keep working.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import type { Sandbox } from '../../dist/index.js';
import { makeWorld, repoRoot, type World } from './fixture.js';

/** Pids of host processes whose command line contains `marker` (the check "from outside"). */
function survivors(marker: string): string[] {
  const r = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

async function waitGone(marker: string, ms = 3000): Promise<string[]> {
  const end = Date.now() + ms;
  let left = survivors(marker);
  while (left.length && Date.now() < end) {
    await sleep(50);
    left = survivors(marker);
  }
  return left;
}

describe('process lifecycle', () => {
  let w: World;
  let sb: Sandbox;
  before(async () => {
    w = makeWorld();
    sb = await w.sandbox({ env: { CORDON_ALLOWED: 'yes' } });
  });
  after(() => {
    sb.close();
    w.cleanup();
  });

  it('returns exact exit codes and signals', async () => {
    assert.equal((await sb.exec(['sh', '-c', 'exit 42'])).exitCode, 42);
    const term = await sb.exec(['sh', '-c', 'kill -TERM $$']);
    assert.equal(term.exitCode, null);
    assert.equal(term.signal, 'SIGTERM');
    const nf = await sb.exec(['no-such-command-xyz']);
    assert.equal(nf.exitCode, 127);
    assert.match(nf.execError ?? '', /command not found/);
    const noexec = await sb.exec([path.join(w.ws, 'README.md')]);
    assert.equal(noexec.exitCode, 126);
  });

  it('feeds stdin and streams output through spawn()', async () => {
    const r = await sb.exec(['cat'], { stdin: 'from stdin\n' });
    assert.equal(r.stdout.toString(), 'from stdin\n');
    const p = sb.spawn(['sh', '-c', 'read line; echo "got $line"; echo err >&2']);
    let streamed = '';
    p.stdout.on('data', (d: Buffer) => (streamed += d));
    p.write('hello\n');
    p.end();
    const res = await p.result;
    assert.equal(res.stdout.toString(), 'got hello\n');
    assert.equal(streamed, 'got hello\n');
    assert.equal(res.stderr.toString(), 'err\n');
  });

  it('keeps a 20 MB output byte-exact', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const file = path.join(w.ws, 'big.bin');
    writeFileSync(file, data);
    const r = await sb.exec(['cat', file]);
    assert.equal(r.truncated, false);
    assert.equal(r.stdout.length, data.length);
    assert.equal(createHash('sha256').update(r.stdout).digest('hex'), createHash('sha256').update(data).digest('hex'));
  });

  it('caps output exactly and marks it truncated', async () => {
    const r = await sb.exec(['sh', '-c', 'yes 0123456789 | head -c 1000000'], { maxOutputBytes: 4096 });
    assert.equal(r.stdout.length, 4096);
    assert.equal(r.truncated, true);
    assert.equal(r.stdout.toString(), '0123456789\n'.repeat(400).slice(0, 4096));
    assert.equal(r.limit, 'output');
  });

  it('scrubs the environment to an allowlist (control: the variable is set in the caller)', async () => {
    const callerEnv = { ...process.env, AWS_SECRET_ACCESS_KEY: 'leak', GITHUB_TOKEN: 'leak', PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const s = await w.sandbox({ callerEnv });
    const r = await s.exec(['env']);
    const env = r.stdout.toString();
    assert.doesNotMatch(env, /AWS_SECRET_ACCESS_KEY|GITHUB_TOKEN|leak/);
    assert.match(env, /^PATH=/m);
    assert.match(env, /^TMPDIR=\/tmp$/m);
    s.close();
    const set = await sb.exec(['sh', '-c', 'echo $CORDON_ALLOWED $EXTRA'], { env: { EXTRA: 'x' } });
    assert.equal(set.stdout.toString(), 'yes x\n');
  });

  it('kills everything the command started when it exits', async () => {
    const marker = `sleep 987.${process.pid}1`;
    const r = await sb.exec(['sh', '-c', `(${marker} &) ; (setsid ${marker} &); echo started`]);
    assert.equal(r.stdout.toString(), 'started\n');
    assert.deepEqual(await waitGone(`987.${process.pid}1`), []);
  });

  it('a command that closes its stdio and keeps running is still torn down', async () => {
    const marker = `988.${process.pid}`;
    const r = await sb.exec(['sh', '-c', `exec >&- 2>&- <&-; sleep ${marker} & sleep 0.2`]);
    assert.equal(r.exitCode, 0);
    assert.deepEqual(await waitGone(marker), []);
  });

  it('a timeout kills the whole tree', async () => {
    const marker = `989.${process.pid}`;
    const t0 = Date.now();
    const r = await sb.exec(['sh', '-c', `sleep ${marker} & sleep ${marker}`], { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.equal(r.limit, 'timeout');
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(await waitGone(marker), []);
  });

  it('an AbortSignal kills the whole tree', async () => {
    const marker = `990.${process.pid}`;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r = await sb.exec(['sh', '-c', `sleep ${marker} & sleep ${marker}`], { signal: ac.signal });
    assert.equal(r.limit, 'abort');
    assert.equal(r.signal, 'SIGKILL');
    assert.deepEqual(await waitGone(marker), []);
  });

  it('SIGKILL of the calling process leaves nothing of the sandbox alive (checked from outside)', async () => {
    const marker = `991.${process.pid}`;
    const script = `
      import { Sandbox } from ${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))};
      const sb = await Sandbox.create({ workspace: ${JSON.stringify(w.ws)}, home: ${JSON.stringify(w.home)} });
      const p = sb.spawn(['sh', '-c', 'sleep ${marker} & setsid sleep ${marker} & echo ready; wait']);
      p.stdout.on('data', (d) => process.stdout.write(d));
      await p.result;`;
    const caller = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      caller.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      caller.on('exit', () => reject(new Error('caller exited early')));
    });
    assert.ok(survivors(marker).length >= 2, 'control: the sandboxed processes were running');
    caller.kill('SIGKILL');
    assert.deepEqual(await waitGone(marker), []);
  });

  it('a process limit applies by default, root included: the sandbox\'s own pid_max (Linux 6.14+) or RLIMIT_NPROC; a fork bomb stops there (control: the host\'s pid_max is untouched)', async (t) => {
    const probe = JSON.parse(spawnSync(path.join(repoRoot, 'build', 'Release', 'cordon-launcher'), ['--probe'], { encoding: 'utf8' }).stdout) as { pidMax?: number };
    const hostPidMax = readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim();
    if (probe.pidMax !== 0) {
      if (process.getuid?.() === 0) {
        t.skip(`no namespaced pid_max here (probe errno ${probe.pidMax}) and RLIMIT_NPROC does not apply to uid 0: root callers set limits.pids`);
        return;
      }
      assert.equal((await sb.exec(['bash', '-c', 'ulimit -u'])).stdout.toString().trim(), '4097');
      return;
    }
    assert.equal((await sb.exec(['cat', '/proc/sys/kernel/pid_max'])).stdout.toString().trim(), '4097');
    // The children outlive the bomb (init kills them when it exits): were they to exit first, a slow
    // host could free pids as fast as the bomb takes them and it would never reach the cap.
    const bomb = await sb.exec(['python3', '-c', 'import os, time\nn = 0\ntry:\n    while n < 10000:\n        if os.fork() == 0:\n            time.sleep(120)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)'], { timeoutMs: 30_000 });
    const [forked, errno] = bomb.stdout.toString().trim().split(' ').map(Number);
    assert.equal(errno, 11, `the bomb hit EAGAIN: ${bomb.stdout} ${bomb.stderr}`);
    assert.ok((forked ?? 0) > 3000 && (forked ?? 0) < 4097, `stopped below the cap: ${forked}`);
    assert.equal(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim(), hostPidMax, 'the host value is unchanged');
    assert.notEqual(hostPidMax, '4097', 'control: the host allows more');
  });

  it('signals sent with kill() reach the command', async () => {
    const p = sb.spawn(['sh', '-c', 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.05; done']);
    await new Promise<void>((resolve) => p.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    p.kill('SIGTERM');
    const r = await p.result;
    assert.equal(r.exitCode, 3);
    assert.match(r.stdout.toString(), /got-term/);
  });

  it('everyday tools work: git, python asyncio, node child processes, mktemp, make', async () => {
    const git = await sb.exec(['sh', '-c', 'git init -q proj && cd proj && echo x > f && git add f && git -c user.email=a@b -c user.name=n commit -qm one && git log --format=%s']);
    assert.equal(git.stdout.toString(), 'one\n', git.stderr.toString());
    const py = await sb.exec(['/usr/bin/python3', '-c', 'import asyncio\nasync def main():\n  p = await asyncio.create_subprocess_exec("echo","sub",stdout=asyncio.subprocess.PIPE)\n  o,_ = await p.communicate(); print(o.decode().strip())\nasyncio.run(main())']);
    assert.equal(py.stdout.toString(), 'sub\n', py.stderr.toString());
    const node = await sb.exec([process.execPath, '-e', 'const {execFileSync}=require("child_process"); console.log(execFileSync("sh",["-c","echo child"]).toString().trim())']);
    assert.equal(node.stdout.toString(), 'child\n', node.stderr.toString());
    const tmp = await sb.exec(['sh', '-c', 'd=$(mktemp -d) && echo x > $d/f && cat $d/f']);
    assert.equal(tmp.stdout.toString(), 'x\n');
    if (existsSync('/usr/bin/make')) {
      writeFileSync(path.join(w.ws, 'Makefile'), 'all:\n\t@echo built > out.txt\n');
      const mk = await sb.exec(['make', '-s']);
      assert.equal(mk.exitCode, 0, mk.stderr.toString());
      assert.ok(statSync(path.join(w.ws, 'out.txt')).size > 0);
    }
  });
  it('each command reads process.env as it is then; a bad per-command value fails the call before anything starts', async () => {
    const s = await w.sandbox({ env: ['CORDON_TEST_LIVE'] });
    try {
      process.env.CORDON_TEST_LIVE = 'one';
      assert.equal((await s.exec(['sh', '-c', 'echo $CORDON_TEST_LIVE'])).stdout.toString(), 'one\n');
      process.env.CORDON_TEST_LIVE = 'two';
      assert.equal((await s.exec(['sh', '-c', 'echo $CORDON_TEST_LIVE'])).stdout.toString(), 'two\n');
      delete process.env.CORDON_TEST_LIVE;
      assert.equal((await s.exec(['sh', '-c', 'echo "[$CORDON_TEST_LIVE]"'])).stdout.toString(), '[]\n');
      await assert.rejects(s.exec(['true'], { env: { 'A=B': 'x' } }), /invalid environment variable name/);
      assert.throws(() => s.spawn(['true'], { env: { X: 'a\0b' } }), /NUL byte/);
    } finally {
      delete process.env.CORDON_TEST_LIVE;
      s.close();
    }
  });

  it('a protected path created after quiet commands is still reported, in every way of running (cold, built ahead, session)', async () => {
    for (const how of ['cold', 'ahead', 'session'] as const) {
      const w2 = makeWorld();
      rmSync(path.join(w2.ws, '.git'), { recursive: true });
      const s = await w2.sandbox({ prespawn: how !== 'cold' });
      const session = how === 'session' ? await s.session() : undefined;
      try {
        const run = (argv: string[]) => (session ?? s).exec(argv);
        for (let i = 0; i < 3; i++) {
          const quiet = await run(['true']);
          assert.deepEqual(quiet.violations, [], `${how}: ${JSON.stringify(quiet.violations)}`);
          await sleep(20); // a sandbox built ahead is ready
        }
        const init = await run(['git', 'init', '-q']);
        assert.equal(init.exitCode, 0, init.stderr.toString());
        assert.ok(init.violations.some((v) => v.what === path.join(w2.ws, '.git', 'hooks') && v.source === 'cordon'), `${how}: ${JSON.stringify(init.violations)}`);
        const after = await run(['true']);
        assert.deepEqual(after.violations, [], `${how}: reported once, not again`);
      } finally {
        await session?.close();
        await s.close();
        w2.cleanup();
      }
    }
  });
});

// cordon tests – warm sessions: one sandbox built once, many commands inside it, each with its own
// stdio, exit status, timeout and process tree, under the same policy as exec().
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { CordonError, type Sandbox, type SandboxSession } from '../../dist/index.js';
import { makeWorld, repoRoot, type World } from './fixture.js';

const launcher = path.join(repoRoot, 'build', 'Release', 'cordon-launcher');

const survivors = (marker: string) => spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

describe('sessions', () => {
  let w: World;
  let sb: Sandbox;
  let s: SandboxSession;
  before(async () => {
    w = makeWorld();
    sb = await w.sandbox();
    s = await sb.session();
  });
  after(() => {
    s.close();
    sb.close();
    w.cleanup();
  });

  it('runs many commands, each with its own exit status and output', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await s.exec(['sh', '-c', `echo run ${i}; exit ${i}`]);
      assert.equal(r.exitCode, i);
      assert.equal(r.stdout.toString(), `run ${i}\n`);
    }
    const cat = await s.exec(['cat'], { stdin: 'in\n' });
    assert.equal(cat.stdout.toString(), 'in\n');
  });

  it('shares /tmp between commands but not processes', async () => {
    const file = `/tmp/session-file-${process.pid}`; // unique: no other test file can have made it on the host
    await s.exec(['sh', '-c', `echo kept > ${file}`]);
    assert.equal((await s.exec(['cat', file])).stdout.toString(), 'kept\n');
    assert.equal(existsSync(file), false, 'the host /tmp is untouched');
    const long = s.spawn(['sleep', '30']);
    const ps = await s.exec(['sh', '-c', 'ls /proc | grep -c "^[0-9]"; echo $$']);
    const [count, pid] = ps.stdout.toString().trim().split('\n');
    assert.ok(Number(count) <= 4, `a command sees only its own pid namespace: ${count}`);
    // Init is pid 1; its connect broker's first worker thread (made before the command) takes 2.
    assert.equal(pid, '3');
    long.kill('SIGKILL');
    await long.result;
  });

  it('keeps the policy: read-only system, masked secrets, denied syscalls reported', async () => {
    const r = await s.exec([w.attack, 'write', '/usr/session-escape']);
    assert.match(r.stdout.toString(), /EROFS/);
    const sec = await s.exec(['cat', path.join(w.home, '.ssh', 'id_ed25519')]);
    assert.doesNotMatch(sec.stdout.toString(), /PRIVATE KEY/);
    const u = await s.exec([w.attack, 'unshare-user']);
    assert.match(u.stdout.toString(), /EPERM/);
    assert.ok(u.violations.some((v) => v.what === 'unshare'));
    const sys = await s.exec([w.attack, 'write', '/proc/sys/kernel/hostname']);
    assert.doesNotMatch(sys.stdout.toString(), /: ok/);
    const caps = await s.exec(['grep', '-E', '^(CapEff|NoNewPrivs|Seccomp):', '/proc/self/status']);
    assert.match(caps.stdout.toString(), /CapEff:\s+0{16}/);
    assert.match(caps.stdout.toString(), /NoNewPrivs:\s+1/);
  });

  it('protects paths that earlier session commands created', async () => {
    const w2 = makeWorld();
    rmSync(path.join(w2.ws, '.git'), { recursive: true });
    const sb2 = await w2.sandbox();
    const s2 = await sb2.session();
    try {
      const init = await s2.exec(['git', 'init', '-q']);
      assert.equal(init.exitCode, 0, init.stderr.toString());
      assert.ok(init.violations.some((v) => v.what === path.join(w2.ws, '.git', 'hooks')), JSON.stringify(init.violations));
      const r = await s2.exec([w2.attack, 'write', path.join(w2.ws, '.git', 'hooks', 'pre-commit')]);
      assert.match(r.stdout.toString(), /EROFS/);
    } finally {
      s2.close();
      sb2.close();
      w2.cleanup();
    }
  });

  it('tears down each command tree at exit and on timeout', async () => {
    const marker = `sleep 555.${process.pid}`;
    await s.exec(['sh', '-c', `${marker} & setsid ${marker} & echo started`]);
    await sleep(200);
    assert.deepEqual(survivors(marker), []);
    const t = await s.exec(['sh', '-c', `${marker} & ${marker}`], { timeoutMs: 200 });
    assert.equal(t.timedOut, true);
    await sleep(300);
    assert.deepEqual(survivors(marker), []);
  });

  it('runs commands concurrently', async () => {
    const rs = await Promise.all([1, 2, 3].map((i) => s.exec(['sh', '-c', `sleep 0.1; echo ${i}`])));
    assert.deepEqual(rs.map((r) => r.stdout.toString()), ['1\n', '2\n', '3\n']);
  });

  it('a join naming any process but the keeper fails closed (a recycled pid cannot be joined)', async () => {
    const { planLinux, setupPart, encodeCommand } = await import('../../dist/linux/plan.js');
    const { probeLinux } = await import('../../dist/linux/probe.js');
    const plan = planLinux(sb.policy, probeLinux()!);
    // A keeper of our own, to learn real inodes.
    const keeper = spawn(launcher, [], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    const ks = keeper.stdio[3] as unknown as NodeJS.ReadWriteStream;
    ks.write(setupPart(plan, { kind: 'keeper' }));
    let text = '';
    const ready = await new Promise<string[]>((resolve) =>
      ks.on('data', (d: Buffer) => {
        text += d.toString();
        const init = /INIT (\d+)/.exec(text);
        const m = /READY ([\d ]+)\n/.exec(text);
        if (init && m) resolve([init[1] as string, ...(m[1] as string).split(' ')]);
      }),
    );
    const [initPid, ...inodes] = ready;
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const join = (pid: number) =>
      new Promise<string>((resolve) => {
        const c = spawn(launcher, [], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
        let out = '';
        (c.stdio[3] as unknown as NodeJS.ReadWriteStream).on('data', (d: Buffer) => (out += d.toString()));
        c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        (c.stdio[3] as unknown as NodeJS.ReadWriteStream).write(Buffer.concat([setupPart(plan, { kind: 'join', initPid: pid, inodes }), encodeCommand(['echo', 'joined'], { PATH: '/usr/bin:/bin' }, '/')]));
        c.on('close', () => resolve(out));
      });
    try {
      assert.match(await join(stranger.pid!), /SETUP join (verify|open) /, 'another process of ours is never joined');
      assert.match(await join(Number(initPid)), /joined/, 'control: the keeper itself is joined');
    } finally {
      stranger.kill('SIGKILL');
      keeper.kill('SIGKILL');
    }
  });

  it('refuses commands after close, and leaves nothing running', async () => {
    const other = await sb.session();
    await other.exec(['true']);
    other.close();
    assert.throws(() => other.spawn(['true']), (e: unknown) => e instanceof CordonError && e.code === 'CLOSED');
  });
});

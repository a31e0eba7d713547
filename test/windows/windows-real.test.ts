// cordon tests – Windows integration and escape suite: real enforcement, so real Windows only (windows.yml).
//
// Off Windows every test skips with the reason. Under Wine (CORDON_UNDER_WINE=1, used to check this
// file's plumbing) the enforcement assertions skip: Wine enforces no token, ACL or job limit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';

import type { BackendExit, PlatformBackend, PreparedPolicy } from '../../dist/platform/backend.js';
import type { Policy } from '../../dist/policy/policy.js';

const onWindows = process.platform === 'win32';
const underWine = process.env.CORDON_UNDER_WINE === '1';
const NOT_WINDOWS = `real-Windows test: platform is ${process.platform} (runs in .github/workflows/windows.yml)`;
const WINE = 'Wine enforces no security (tokens, ACLs, job limits): enforcement not checked';

const sysroot = process.env.SystemRoot ?? 'C:\\Windows';
const CMD = path.join(sysroot, 'System32', 'cmd.exe');
const baseEnv = { SystemRoot: sysroot, PATH: path.join(sysroot, 'System32'), PATHEXT: '.COM;.EXE' };

interface World {
  root: string;
  ws: string;
  outside: string;
  state: string;
  policy: (over?: Partial<Policy['limits']>, net?: Policy['network']['mode']) => Policy;
}

function makeWorld(): World {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cordon-win-'));
  const ws = path.join(root, 'ws');
  const outside = path.join(root, 'outside');
  for (const d of [ws, outside, path.join(ws, '.git', 'hooks'), path.join(ws, 'src')]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(ws, '.git', 'config'), '[core]\n');
  writeFileSync(path.join(ws, '.env'), 'TOKEN=secret\n');
  writeFileSync(path.join(outside, 'keep.txt'), 'host file\n');
  return {
    root, ws, outside, state: path.join(root, 'state'),
    policy: (limits = {}, mode = 'none') => ({
      name: 'windows-real', workspace: ws, home: os.homedir(),
      fs: { read: [sysroot, path.dirname(process.execPath)], write: [ws], protected: [path.join(ws, '.git', 'hooks'), path.join(ws, '.git', 'config')],
        deny: [path.join(ws, '.env')], denyGlobs: [] },
      network: { mode, rules: [], hosts: {}, unixSockets: [] },
      env: { allow: [], deny: [], set: {} },
      limits: { tmpBytes: 1 << 26, ...limits },
      weaker: {},
    }),
  };
}

interface Ran { exit: BackendExit; stdout: string; stderr: string }

async function run(b: PlatformBackend, p: PreparedPolicy, argv: string[], o: { cwd?: string; env?: Record<string, string>; killAfterMs?: number } = {}): Promise<Ran> {
  const r = b.start(p, { argv, cwd: o.cwd ?? p.policy.workspace, env: { ...baseEnv, ...o.env }, runId: `t${Date.now()}${Math.random().toString(16).slice(2, 8)}` });
  const take = (s: NodeJS.ReadableStream) => new Promise<string>((res) => { const c: Buffer[] = []; s.on('data', (d: Buffer) => c.push(d)); s.on('end', () => res(Buffer.concat(c).toString())); });
  const [out, err] = [take(r.stdout), take(r.stderr)];
  r.stdin.end();
  if (o.killAfterMs !== undefined) setTimeout(() => r.kill('SIGKILL'), o.killAfterMs);
  const exit = await r.exited;
  return { exit, stdout: await out, stderr: await err };
}

const cmd = (line: string) => [CMD, '/d', '/s', '/c', line];

function enforcing(t: TestContext): boolean {
  if (underWine) t.skip(WINE);
  return !underWine;
}

describe('windows default mode (write-restricted token + job)', { skip: onWindows ? false : NOT_WINDOWS }, () => {
  let w: World;
  let b: PlatformBackend;
  let p: PreparedPolicy;
  before(async () => {
    const { createWindowsBackend } = await import('../../dist/windows/backend.js');
    w = makeWorld();
    b = createWindowsBackend({ mode: 'default', allowUnenforcedReads: true, stateDir: w.state });
    p = await b.prepare(w.policy({ pids: 16, memoryBytes: 512 << 20 }));
  });
  after(async () => {
    const { windowsTeardown } = await import('../../dist/windows/setup.js');
    if (w) {
      windowsTeardown({ stateDir: w.state, grants: true });
      rmSync(w.root, { recursive: true, force: true });
    }
  });

  it('runs a command: stdout, exit code', async () => {
    const r = await run(b, p, cmd('echo hello& exit 42'));
    assert.equal(r.stdout.trim(), 'hello');
    assert.equal(r.exit.exitCode, 42);
  });

  it('stdin reaches the command and EOF ends it', async () => {
    const upper = 'process.stdin.on("data", (d) => process.stdout.write(String(d).toUpperCase()))';
    const r = b.start(p, { argv: [process.execPath, '-e', upper], cwd: w.ws, env: { ...baseEnv, NODE_SKIP_PLATFORM_CHECK: '1' }, runId: 'stdin' });
    const chunks: Buffer[] = [];
    r.stdout.on('data', (d: Buffer) => chunks.push(d));
    r.stdin.end('through stdin');
    const exit = await r.exited;
    assert.equal(exit.exitCode, 0);
    assert.equal(Buffer.concat(chunks).toString(), 'THROUGH STDIN');
  });

  it('the environment is exactly the allowlist plus TEMP and proxy variables', async () => {
    process.env.CORDON_TEST_SECRET = 'leak';
    const r = await run(b, p, cmd('set'), { env: { FOO: 'bar' } });
    assert.match(r.stdout, /^FOO=bar\r?$/m);
    assert.doesNotMatch(r.stdout, /CORDON_TEST_SECRET|USERPROFILE/);
    assert.match(r.stdout, /^HTTPS_PROXY=http:\/\/127\.0\.0\.1:9\r?$/m);
    assert.match(r.stdout, new RegExp(`^TEMP=${w.state.replace(/\\/g, '\\\\')}`, 'im'));
  });

  it('writes inside the workspace land on the host', async () => {
    const r = await run(b, p, cmd('echo data> out.txt'));
    assert.equal(r.exit.exitCode, 0, r.stderr);
    assert.equal(readFileSync(path.join(w.ws, 'out.txt'), 'utf8').trim(), 'data');
  });

  it('escape: writing outside the workspace is denied', async (t) => {
    if (!enforcing(t)) return;
    const target = path.join(w.outside, 'pwned.txt');
    const r = await run(b, p, cmd(`echo x> "${target}"`));
    assert.notEqual(r.exit.exitCode, 0);
    assert.equal(existsSync(target), false);
    const home = path.join(os.homedir(), `cordon-pwned-${process.pid}.txt`);
    await run(b, p, cmd(`echo x> "${home}"`));
    assert.equal(existsSync(home), false);
  });

  it('escape: protected paths (and case variants, ADS, rename of the parent) are not writable', async (t) => {
    if (!enforcing(t)) return;
    for (const line of [
      'echo evil>> .git\\config', 'echo evil>> .GiT\\CONFIG', 'echo evil> .git\\hooks\\pre-commit', 'echo evil> .git\\config:ads',
      'del /f /q .git\\config', 'rd /s /q .git\\hooks', 'ren .git git-moved', 'move .git\\config cfg',
    ]) {
      await run(b, p, cmd(line));
    }
    assert.equal(readFileSync(path.join(w.ws, '.git', 'config'), 'utf8'), '[core]\n');
    assert.equal(existsSync(path.join(w.ws, '.git', 'hooks', 'pre-commit')), false);
    assert.equal(existsSync(path.join(w.ws, 'git-moved')), false);
    assert.equal(existsSync(path.join(w.ws, '.git', 'hooks')), true);
  });

  it('kill ends the whole tree (stdout reaches EOF only when every holder is dead)', async () => {
    const t0 = Date.now();
    const r = await run(b, p, cmd(`start /b ${CMD} /c ping -n 60 127.0.0.1 & ping -n 60 127.0.0.1`), { killAfterMs: 1000 });
    assert.equal(r.exit.signal, 'SIGKILL');
    assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
  });

  it('the job caps the number of processes', async (t) => {
    if (!enforcing(t)) return;
    const small = await b.prepare(w.policy({ pids: 1 }));
    const r = await run(b, small, cmd(`${CMD} /c echo nested`));
    assert.doesNotMatch(r.stdout, /nested/);
  });

  it('a missing program is an execError, not a setup error', async () => {
    const r = await run(b, p, ['definitely-not-a-program-xyz']);
    assert.equal(r.exit.execError?.errno, 2);
  });

  it('doctor reports the layers', async () => {
    const caps = await b.probe();
    assert.ok(caps.layers.some((l) => l.name === 'job objects' && l.available));
  });
});

describe('windows strict mode (AppContainer, no capabilities)', { skip: onWindows && !underWine ? false : onWindows ? WINE : NOT_WINDOWS }, () => {
  let w: World;
  let b: PlatformBackend;
  let p: PreparedPolicy;
  before(async () => {
    const { createWindowsBackend } = await import('../../dist/windows/backend.js');
    w = makeWorld();
    b = createWindowsBackend({ mode: 'strict', stateDir: w.state });
    p = await b.prepare(w.policy());
  });
  after(async () => {
    const { windowsTeardown } = await import('../../dist/windows/setup.js');
    if (w) {
      windowsTeardown({ stateDir: w.state, grants: true });
      rmSync(w.root, { recursive: true, force: true });
    }
  });

  it('runs cmd.exe and writes into the workspace', async () => {
    const r = await run(b, p, cmd('echo strict> s.txt& type s.txt'));
    assert.equal(r.exit.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'strict');
  });

  it('escape: files outside the grants are unreadable and unwritable', async () => {
    const r = await run(b, p, cmd(`type "${path.join(w.outside, 'keep.txt')}"`));
    assert.doesNotMatch(r.stdout, /host file/);
    await run(b, p, cmd(`echo x> "${path.join(w.outside, 'pwned.txt')}"`));
    assert.equal(existsSync(path.join(w.outside, 'pwned.txt')), false);
  });

  it('escape: a masked path inside the workspace is unreadable (deny ACE for the AppContainer SID)', async () => {
    const r = await run(b, p, cmd('type .env'));
    assert.doesNotMatch(r.stdout, /secret/);
  });

  it('escape: no network at all (curl to a public host and to a loopback listener fails)', async () => {
    const server = net.createServer((s) => s.end('reached')).listen(0, '127.0.0.1');
    await new Promise((res) => server.once('listening', res));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const curl = path.join(sysroot, 'System32', 'curl.exe');
      const local = await run(b, p, [curl, '-s', '--max-time', '5', `http://127.0.0.1:${port}/`]);
      assert.doesNotMatch(local.stdout, /reached/);
      const remote = await run(b, p, [curl, '-s', '-o', 'NUL', '-w', '%{http_code}', '--max-time', '10', 'https://example.com/']);
      assert.notEqual(remote.exit.exitCode, 0);
    } finally {
      server.close();
    }
  });
});

describe('windows elevated network setup (WFP)', { skip: !onWindows ? NOT_WINDOWS : underWine ? WINE : false }, () => {
  it('setup lets the AppContainer reach only the proxy ports on 127.0.0.1; teardown removes it', async (t) => {
    if (spawnSync('net', ['session'], { stdio: 'ignore' }).status !== 0) {
      t.skip('not elevated: `cordon windows setup` needs Administrator');
      return;
    }
    const { createWindowsBackend } = await import('../../dist/windows/backend.js');
    const { windowsSetup, windowsTeardown, DEFAULT_PROXY_PORTS } = await import('../../dist/windows/setup.js');
    const w = makeWorld();
    const proxy = net.createServer((s) => s.end('proxy')).listen(DEFAULT_PROXY_PORTS[0], '127.0.0.1');
    const other = net.createServer((s) => s.end('other')).listen(0, '127.0.0.1');
    await Promise.all([proxy, other].map((s) => new Promise((res) => s.once('listening', res))));
    try {
      windowsSetup({ workspaces: [w.ws], stateDir: w.state });
      const b = createWindowsBackend({ mode: 'strict', stateDir: w.state, proxy: { host: '127.0.0.1', port: DEFAULT_PROXY_PORTS[0] } });
      const p = await b.prepare(w.policy({}, 'allowlist'));
      const curl = path.join(sysroot, 'System32', 'curl.exe');
      const ok = await run(b, p, [curl, '-s', '--max-time', '5', `http://127.0.0.1:${DEFAULT_PROXY_PORTS[0]}/`]);
      assert.match(ok.stdout, /proxy/);
      const blocked = await run(b, p, [curl, '-s', '--max-time', '5', `http://127.0.0.1:${(other.address() as net.AddressInfo).port}/`]);
      assert.doesNotMatch(blocked.stdout, /other/);
    } finally {
      windowsTeardown({ stateDir: w.state, grants: true });
      proxy.close();
      other.close();
      rmSync(w.root, { recursive: true, force: true });
    }
  });
});

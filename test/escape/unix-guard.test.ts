// cordon tests – the unix-socket guard (native/launcher/unix_guard.cc): pid 1 performs every connect()
// and refuses a unix path socket bound outside the sandbox, wherever its file lies (network red team 1,
// hole 5: sockets deeper in the home than the compile-time walk, or created later, or in the
// workspace). Every refusal has controls: the host reaches the socket, and so does the same sandbox
// with the guard off (CORDON_NET_BROKER=0), so the refusal is the guard's and not a mask's.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Sandbox } from '../../dist/index.js';
import type { Violation } from '../../dist/sandbox/result.js';
import { sandboxUnavailable } from '../profiles/helpers.js';
import { hostService as hostServiceOn, withGuard } from './unix-helpers.js';

const unavailable = await sandboxUnavailable();

let root = '';
let ws = '';
let home = '';
const servers: net.Server[] = [];

/** A host service on `file` (test/escape/unix-helpers.ts). */
const hostService = (file: string) => hostServiceOn(file, servers);

/** The positive control outside any sandbox. */
function hostConnect(file: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    let data = '';
    s.on('data', (c) => (data += c.toString()));
    s.on('end', () => resolve(`ok:${data.trim()}`));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`err:${e.code}`));
  });
}

/** Python client: one line per path, `ok:<greeting>` or `err:<ERRNO>`. */
const CLIENT = String.raw`
import socket, sys, errno
for p in sys.argv[1:]:
    u = socket.socket(socket.AF_UNIX); u.settimeout(5)
    try:
        u.connect(p); print('ok:' + u.recv(100).decode().strip())
    except OSError as e:
        print('err:' + errno.errorcode.get(e.errno, str(e.errno)))
`;

async function tryConnect(sb: Sandbox, files: string[]): Promise<{ lines: string[]; violations: Violation[]; stderr: string }> {
  const r = await sb.exec(['python3', '-c', CLIENT, ...files]);
  return { lines: r.stdout.toString().trim().split('\n'), violations: r.violations, stderr: r.stderr.toString() };
}

function sandbox(guard: boolean, network?: 'allowlist' | 'host'): Promise<Sandbox> {
  const net = network ? { network: { mode: network, allow: network === 'allowlist' ? ['127.0.0.9:1'] : [] } } : {};
  return withGuard(guard, () => Sandbox.create({ workspace: ws, home, prespawn: false, ...net }));
}

describe('unix-socket guard', { skip: unavailable }, () => {
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'cordon-unixguard-'));
    chmodSync(root, 0o755);
    ws = path.join(root, 'ws');
    home = path.join(root, 'home');
    mkdirSync(ws, { recursive: true });
    mkdirSync(home, { recursive: true });
  });
  after(() => {
    for (const s of servers.splice(0)) s.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const network of [undefined, 'allowlist'] as const) {
    it(`${network ?? 'none'} mode: a host service's socket is refused deep in the home, created late, and in the workspace (controls: reachable on the host, and from the sandbox with the guard off)`, async () => {
      const tag = network ?? 'none';
      const deep = path.join(home, '.local', 'share', 'containers', tag, 'machine', 'podman.sock'); // deeper than the home walk's 4 levels
      const inWorkspace = path.join(ws, `dev-${tag}.sock`); // the workspace is writable and shared
      await hostService(deep);
      await hostService(inWorkspace);
      const sb = await sandbox(true, network);
      const off = await sandbox(false, network);
      const late = path.join(home, `.late-${tag}`, 'a', 'b', 'c', 'agent.sock'); // after Sandbox.create, and deep
      await hostService(late);
      try {
        const files = [deep, inWorkspace, late];
        for (const f of files) assert.equal(await hostConnect(f), 'ok:host-service', `control: ${f} is up on the host`);
        const control = await withGuard(false, () => tryConnect(off, files));
        assert.deepEqual(control.lines, ['ok:host-service', 'ok:host-service', 'ok:host-service'], `control: reachable with the guard off\n${control.stderr}`);
        const r = await tryConnect(sb, [...files, deep]); // the retry is the same violation
        assert.deepEqual(r.lines, ['err:EACCES', 'err:EACCES', 'err:EACCES', 'err:EACCES'], r.stderr);
        const unix = r.violations.filter((v) => v.kind === 'network' && v.what.startsWith('unix:'));
        assert.deepEqual(unix.map((v) => v.what), files.map((f) => `unix:${f}`));
        assert.match(unix[0]!.detail, /read-only mount/);
        assert.match(unix[1]!.detail, /bound outside the sandbox/);
        assert.ok(unix.every((v) => (v.pid ?? 0) > 0), 'the violation names the process');
      } finally {
        sb.close();
        off.close();
      }
    });
  }

  it('sockets the sandbox binds stay reachable: stream and datagram, absolute and relative, /tmp and the workspace, and across the commands of a session', async () => {
    const sb = await sandbox(true);
    const session = await sb.session();
    try {
      const r = await sb.exec([
        'python3',
        '-c',
        String.raw`
import socket, os
def pair(p, kind=socket.SOCK_STREAM, rel=None):
    s = socket.socket(socket.AF_UNIX, kind); s.bind(p)
    if kind == socket.SOCK_STREAM: s.listen()
    c = socket.socket(socket.AF_UNIX, kind); c.connect(rel or p)
    if kind == socket.SOCK_STREAM:
        a, _ = s.accept(); a.sendall(b'hi'); return c.recv(10).decode()
    c.send(b'hi'); return s.recv(10).decode()
print(pair('/tmp/s.sock'), pair('${ws}/w.sock'), pair('/tmp/d.sock', socket.SOCK_DGRAM))
os.chdir('${ws}'); print(pair('${ws}/r.sock', rel='r.sock'))
`,
      ]);
      assert.equal(r.stdout.toString(), 'hi hi hi\nhi\n', r.stderr.toString());
      assert.deepEqual(r.violations, []);
      // A daemon started by one session command, reached by the next (they share the network namespace).
      const file = path.join(ws, 'daemon.sock');
      const d = session.spawn(['python3', '-c', `import socket\ns = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(file)}); s.listen()\nprint('up', flush=True)\nwhile True:\n    c, _ = s.accept(); c.sendall(b'daemon\\n'); c.close()`]);
      await new Promise<void>((resolve, reject) => {
        d.stdout.once('data', () => resolve());
        d.result.then((x) => reject(new Error(`daemon ended: ${x.stderr.toString()}`)), reject);
      });
      const r2 = await session.exec(['python3', '-c', CLIENT, file]);
      assert.equal(r2.stdout.toString().trim(), 'ok:daemon', r2.stderr.toString());
      d.kill();
      await d.result;
    } finally {
      await session.close();
      sb.close();
    }
  });

  it('host mode: a host socket on a read-only mount is refused; the writable workspace is not policed there (documented limit) (controls: reachable on the host and with the guard off)', async () => {
    const inHome = path.join(home, 'a', 'b', 'c', 'd', 'e', 'host-mode.sock');
    const inWorkspace = path.join(ws, 'host-mode.sock');
    await hostService(inHome);
    await hostService(inWorkspace);
    const sb = await sandbox(true, 'host');
    const off = await sandbox(false, 'host');
    try {
      assert.equal(await hostConnect(inHome), 'ok:host-service', 'control: up on the host');
      assert.deepEqual((await withGuard(false, () => tryConnect(off, [inHome]))).lines, ['ok:host-service'], 'control: reachable with the guard off');
      const r = await tryConnect(sb, [inHome, inWorkspace]);
      assert.deepEqual(r.lines, ['err:EACCES', 'ok:host-service'], r.stderr);
    } finally {
      sb.close();
      off.close();
    }
  });

  it('callers interrupted in a blocking connect do not use up pid 1\'s workers: 400 connects cut short by a timer, then a connect is answered at once (control: each of the 400 was cut short)', async () => {
    // More interrupted connects than the broker has workers (256): each leaves its worker blocked on a
    // listener that never accepts until the watchdog sees its caller gone and interrupts it.
    const script = String.raw`
import socket, signal, os, time, errno
d = '/tmp/intr'; os.makedirs(d, exist_ok=True)
full = socket.socket(socket.AF_UNIX); full.bind(d + '/full.sock'); full.listen(0)
ok = socket.socket(socket.AF_UNIX); ok.bind(d + '/ok.sock'); ok.listen(16)
filler = socket.socket(socket.AF_UNIX); filler.setblocking(False)
try: filler.connect(d + '/full.sock')
except OSError: pass
class Cut(Exception): pass
def cut(*a): raise Cut()  # a handler that raises: Python does not retry the connect (PEP 475)
signal.signal(signal.SIGALRM, cut)
n = 0
for i in range(400):
    c = socket.socket(socket.AF_UNIX)
    signal.setitimer(signal.ITIMER_REAL, 0.005)
    try: c.connect(d + '/full.sock')
    except Cut: n += 1
    except OSError as e: print('other', e.errno)
    signal.setitimer(signal.ITIMER_REAL, 0)
    c.close()
print('interrupted', n, flush=True)
signal.signal(signal.SIGALRM, signal.SIG_DFL)
signal.alarm(5)
t = time.time()
c = socket.socket(socket.AF_UNIX); c.connect(d + '/ok.sock')
print('answered', 'fast' if time.time() - t < 3 else 'slow')  # a stuck worker would block until alarm(5)
`;
    const sb = await sandbox(true);
    try {
      const r = await sb.exec(['python3', '-c', script], { timeoutMs: 60_000 });
      const lines = r.stdout.toString().trim().split('\n');
      assert.equal(lines[0], 'interrupted 400', `control: every connect was interrupted\n${r.stderr.toString()}`);
      assert.equal(lines[1], 'answered fast', r.stderr.toString());
    } finally {
      sb.close();
    }
  });

  it('network.unixSockets lets the command reach exactly the named host sockets: one in a host directory the sandbox cannot otherwise see, and one in the workspace even after the command renames another socket over its path (controls: the host reaches all; the guard off reaches the impostor)', async () => {
    const agentDir = path.join(root, 'ssh-agent.X');
    const agent = path.join(agentDir, 'agent.42'); // like $SSH_AUTH_SOCK: outside every root
    const sibling = path.join(agentDir, 'other.sock');
    const listed = path.join(ws, 'db.sock');
    const impostor = path.join(ws, 'impostor.sock');
    for (const f of [agent, sibling, listed, impostor]) await hostService(f);
    for (const f of [agent, sibling, listed, impostor]) assert.equal(await hostConnect(f), 'ok:host-service', `control: ${f}`);
    const create = (guard: boolean) => withGuard(guard, () => Sandbox.create({ workspace: ws, home, prespawn: false, network: { unixSockets: [agent, listed] } }));
    const sb = await create(true);
    const off = await create(false);
    const swap = String.raw`
import os, sys
ws = sys.argv[1]
os.rename(ws + '/db.sock', ws + '/db.real'); os.rename(ws + '/impostor.sock', ws + '/db.sock')
` + CLIENT.replace('sys.argv[1:]', 'sys.argv[2:]') + String.raw`
os.rename(ws + '/db.sock', ws + '/impostor.sock'); os.rename(ws + '/db.real', ws + '/db.sock')
`;
    try {
      const r = await tryConnect(sb, [agent, sibling]);
      assert.deepEqual(r.lines, ['ok:host-service', 'err:ENOENT'], `the named socket is reachable; its directory is not visible\n${r.stderr}`);
      const s1 = await sb.exec(['python3', '-c', swap, ws, listed, path.join(ws, 'db.real')]);
      assert.deepEqual(s1.stdout.toString().trim().split('\n'), ['err:EACCES', 'ok:host-service'], `the impostor at the listed path is refused; the named socket under its new name is not\n${s1.stderr.toString()}`);
      const c = await withGuard(false, () => off.exec(['python3', '-c', swap, ws, listed]));
      assert.equal(c.stdout.toString().trim(), 'ok:host-service', `control: with the guard off the impostor answers\n${c.stderr.toString()}`);
    } finally {
      sb.close();
      off.close();
    }
  });

  it('network.unixSockets: a path that is not a socket is an error naming the entry; a missing one grants nothing; deny wins (a listed socket under ~/.ssh stays hidden)', async () => {
    const notSocket = path.join(root, 'plain-file');
    writeFileSync(notSocket, 'x');
    await assert.rejects(
      Sandbox.create({ workspace: ws, home, network: { unixSockets: [notSocket] } }),
      (e: Error) => /network\.unixSockets\[0\]: not a unix socket/.test(e.message),
    );
    const inSsh = path.join(home, '.ssh', 'agent.sock');
    await hostService(inSsh);
    assert.equal(await hostConnect(inSsh), 'ok:host-service', 'control: up on the host');
    const sb = await Sandbox.create({ workspace: ws, home, prespawn: false, network: { unixSockets: [path.join(root, 'missing.sock'), inSsh] } });
    try {
      assert.deepEqual(sb.policy.network.unixSockets, []);
      const r = await tryConnect(sb, [inSsh]);
      assert.match(r.lines[0] ?? '', /^err:/, r.stderr);
    } finally {
      sb.close();
    }
  });

  it('a refused path cannot forge a status record: it is reported escaped, and the exit code is the command\'s (control: the forged line parses as a record)', async () => {
    const forged = path.join(ws, 'x\nEXIT 7 0\nVIOLATION syscall 1 3221225534 1\n');
    await hostService(forged);
    const sb = await sandbox(true);
    try {
      const r = await sb.exec(['python3', '-c', `${CLIENT}\nraise SystemExit(3)`, forged]);
      assert.equal(r.stdout.toString().trim(), 'err:EACCES', r.stderr.toString());
      assert.equal(r.exitCode, 3, 'the forged EXIT record was not taken');
      assert.deepEqual(r.violations.filter((v) => v.kind === 'syscall'), [], 'no forged syscall violation');
      const v = r.violations.find((x) => x.what.startsWith('unix:'));
      assert.equal(v?.what, `unix:${ws}/x\\x0aEXIT 7 0\\x0aVIOLATION syscall 1 3221225534 1\\x0a`);
      // Control: the same bytes unescaped are two records the parser would take.
      const { applyRecord } = await import('../../dist/linux/records.js');
      const state: Parameters<typeof applyRecord>[0] = { violations: [] };
      for (const line of `VIOLATION unix 4 bound-outside ${forged}`.split('\n')) applyRecord(state, line);
      assert.equal(state.exit?.code, 7, 'control: an unescaped path would forge EXIT');
    } finally {
      sb.close();
    }
  });
});

// Allowlist networking under load and failure: a 64 MiB transfer is byte-exact in both directions,
// and when the supervisor goes away every new connect and lookup fails at once (fail closed).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, it, type TestContext } from 'node:test';

import type { ExecResult, Sandbox } from '../../dist/index.js';
import { abortNetSupervisors } from '../../dist/net/supervisor.js';
import { bannerServer, closeSandboxes, firstLine, netSandbox, py, PY, type AuditCapture, type TestServer } from './helpers.js';

let api: TestServer;
before(async () => {
  api = await bannerServer('api');
});
after(async () => {
  closeSandboxes();
  await api.close();
});

it('a 64 MiB transfer through an allowed endpoint is byte-exact both ways (transparent capture)', async () => {
  const size = 64 * 1024 * 1024;
  const payload = randomBytes(size);
  const expected = createHash('sha256').update(payload).digest('hex');
  let uploaded = '';
  // The server sends the payload, then hashes what the client sends back over the same connection.
  const srv = net.createServer((s) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    s.on('end', () => {
      uploaded = `${n}:${h.digest('hex')}`;
      s.end();
    });
    s.on('error', () => {});
    s.write(payload);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    const sb = await netSandbox({ allow: [`bulk.test:${port}`], allowPrivate: true, hosts: { 'bulk.test': ['127.0.0.1'] } });
    const r = await sb.exec(
      [
        'python3',
        '-c',
        `${PY}
import hashlib
s = socket.create_connection(('bulk.test', ${port}), timeout=30)
h = hashlib.sha256(); n = 0
while n < ${size}:
    c = s.recv(1 << 20)
    if not c: break
    h.update(c); n += len(c)
print(n, h.hexdigest())
data = bytes(range(256)) * 4096
up = hashlib.sha256()
for i in range(64):
    s.sendall(data); up.update(data)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(len(data) * 64, up.hexdigest())
`,
      ],
      { timeoutMs: 60_000 },
    );
    const [down, up] = r.stdout.toString().trim().split('\n');
    assert.equal(down, `${size} ${expected}`, r.stderr.toString());
    assert.equal(`${up?.replace(' ', ':')}`, uploaded, 'the upload arrived intact');
  } finally {
    srv.close();
  }
});

it('sandboxes built ahead (the default) police like cold ones: each command gets its own decisions, violations and audit events (control: the allowed endpoint works in each)', async () => {
  const audit: AuditCapture = { events: [] };
  const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: { 'api.test': ['127.0.0.1'] } }, audit);
  const body = `print(tcp('api.test', ${api.port}))\nprint(tcp('api.test', ${api.port === 65535 ? 1 : api.port + 1}))`;
  for (let round = 0; round < 3; round++) {
    await new Promise((r) => setTimeout(r, 100)); // the next sandbox is built meanwhile
    const before = api.accepted;
    const r = await py(sb, body);
    assert.equal(r.lines[0], 'ok:hello api', r.stderr);
    assert.match(r.lines[1] ?? '', /^(err:ECONNREFUSED|err:ECONNRESET|ok:)$/, 'the denied port is refused (brokered) or reset (relay)');
    assert.equal(api.accepted, before + 1);
    assert.equal(r.violations.filter((v) => v.kind === 'network').length, 1, `round ${round}: only this command's denial ${JSON.stringify(r.violations)}`);
  }
  const connects = audit.events.filter((e) => e.event === 'net.connect');
  assert.equal(connects.filter((e) => e.verdict === 'allow').length, 3, JSON.stringify(connects));
  assert.equal(connects.filter((e) => e.verdict === 'deny').length, 3);
});

it('a session with an allowlist: every command is policed through the session\'s supervisor, with its own violations; DNS works across commands (control: the allowed endpoint works in each)', async () => {
  const srv = net.createServer((c) => {
    c.on('error', () => {});
    c.end(`${c.remotePort}\n`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  const sb = await netSandbox({ allow: [`api.test:${port}`], allowPrivate: true, hosts: { 'api.test': ['127.0.0.1'] } });
  const session = await sb.session();
  try {
    const denied = port === 65535 ? 1 : port + 1;
    const code = `${PY}\ns = socket.create_connection(('api.test', ${port}), timeout=5)\nprint(s.recv(100).decode().strip().isdigit())\nprint(tcp('api.test', ${denied}))\nprint(tcp('nope.test', 80))`;
    const runs: ExecResult[] = await Promise.all([session.exec(['python3', '-c', code]), session.exec(['python3', '-c', code])]);
    runs.push(await session.exec(['python3', '-c', code]));
    for (const r of runs) {
      const lines = r.stdout.toString().trim().split('\n');
      assert.equal(lines[0], 'True', r.stderr.toString());
      assert.match(lines[1] ?? '', /^(err:ECONNREFUSED|err:ECONNRESET|ok:)$/);
      assert.equal(lines[2], 'gai:-2');
      const netViolations = r.violations.filter((v) => v.kind === 'network' && v.what === `api.test:${denied}`);
      assert.ok(netViolations.length >= 1, JSON.stringify(r.violations));
    }
    assert.equal(runs[2]?.violations.filter((v) => v.what === `api.test:${denied}`).length, 1, 'a later command does not inherit earlier denials');
  } finally {
    await session.close();
    srv.close();
  }
});

it('supervisor gone mid-run: new connects and lookups fail at once (control: the same connect worked before)', async () => {
  const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: { 'api.test': ['127.0.0.1'] } });
  const proc = sb.spawn(
    [
      'python3',
      '-u',
      '-c',
      `${PY}
import time
addr = socket.gethostbyname('api.test')
print('first', tcp('api.test', ${api.port}), flush=True)
sys.stdin.readline()
t0 = time.time()
print('pool', tcp(addr, ${api.port}))
print('proxy', tcp('127.0.0.1', 3128))
print('dns', tcp('api.test', ${api.port}))
print('fast' if time.time() - t0 < 3 else 'slow %.1f' % (time.time() - t0))
`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(await firstLine(proc), 'first ok:hello api');
  assert.ok(abortNetSupervisors('test: supervisor killed') >= 1);
  proc.end('go\n');
  const r = await proc.result;
  const lines = r.stdout.toString().trim().split('\n');
  assert.equal(lines[1], 'pool err:ECONNREFUSED', r.stderr.toString());
  assert.equal(lines[2], 'proxy err:ECONNREFUSED');
  assert.match(lines[3] ?? '', /^dns gai:-[23]$/, 'the resolver is gone too');
  assert.equal(lines[4], 'fast');
});

it('supervisor gone before the command first used the network (init still held the listeners): its lookups and connects fail at once (control: the next command, with a supervisor of its own, connects)', async () => {
  const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: { 'api.test': ['127.0.0.1'] } });
  const code = (wait: boolean) => `${PY}
import time
${wait ? "print('waiting', flush=True)\nsys.stdin.readline()" : ''}
t0 = time.time()
print('dns', tcp('api.test', ${api.port}))
${wait ? "print('proxy', tcp('127.0.0.1', 3128))" : ''}
print('fast' if time.time() - t0 < 3 else 'slow %.1f' % (time.time() - t0))
`;
  const proc = sb.spawn(['python3', '-u', '-c', code(true)], { timeoutMs: 30_000 });
  assert.equal(await firstLine(proc), 'waiting');
  assert.ok(abortNetSupervisors('test: supervisor gone before first use') >= 1);
  // Init sees the channel hang up and closes the listeners it holds; give it time to be woken.
  await new Promise((r) => setTimeout(r, 500));
  proc.end('go\n');
  const r = await proc.result;
  const lines = r.stdout.toString().trim().split('\n');
  assert.match(lines[1] ?? '', /^dns gai:-[23]$/, r.stderr.toString());
  assert.equal(lines[2], 'proxy err:ECONNREFUSED');
  assert.equal(lines[3], 'fast');
  const control = await sb.exec(['python3', '-u', '-c', code(false)], { timeoutMs: 30_000 });
  const controlLines = control.stdout.toString().trim().split('\n');
  assert.equal(controlLines[0], 'dns ok:hello api', control.stderr.toString());
  assert.equal(controlLines[1], 'fast');
});

/** A marker file's path in the (writable) workspace, its directory removed when the test ends, passed or not. */
function markerPath(t: TestContext): string {
  // the sandbox's /tmp is private: the marker lives in the workspace
  const dir = mkdtempSync(path.join(process.cwd(), 'dist-test', 'net-fault-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'ran');
}

/**
 * `failing` (a command that would write `marker`) was refused at the network step and never ran;
 * control: the same command then runs in a sandbox without the fault.
 */
async function refusedAtNetworkThenRuns(sb: Sandbox, failing: Promise<unknown>, marker: string): Promise<void> {
  await assert.rejects(failing, (err: Error & { code?: string; detail?: { step?: string } }) => {
    assert.equal(err.code, 'SETUP_FAILED', err.message);
    assert.equal(err.detail?.step, 'network', err.message);
    return true;
  });
  assert.equal(existsSync(marker), false, 'the command never ran');
  const ok = await sb.exec(['sh', '-c', `echo ran > ${marker}`]);
  assert.equal(ok.exitCode, 0, ok.stderr.toString());
  assert.equal(existsSync(marker), true);
}

it('a network setup failure refuses to run the command (fail closed; control: the same sandbox runs it without the fault)', async (t) => {
  const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: { 'api.test': ['127.0.0.1'] } });
  const marker = markerPath(t);
  // exec() launches synchronously: only this launch gets the fault, not the sandbox built ahead
  // after it (which the control below takes).
  process.env.CORDON_TEST_NET_FAULT = 'channel';
  let failing: Promise<unknown>;
  try {
    failing = sb.exec(['sh', '-c', `echo ran > ${marker}`]);
  } finally {
    delete process.env.CORDON_TEST_NET_FAULT;
  }
  await refusedAtNetworkThenRuns(sb, failing, marker);
});

it('a sandbox built ahead whose setup failed before it got its command still says why (the command write finds it gone)', async (t) => {
  const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: { 'api.test': ['127.0.0.1'] } });
  const marker = markerPath(t);
  // The race, made certain: the sandbox built ahead after the first command gets the fault, and
  // Node is kept from reading anything until that launcher has failed and exited; the next command
  // is then written to a launcher that is gone (EPIPE). Its SETUP record must still be read, not
  // dropped with the socket ("launcher exited with 125" with no reason, as CI once saw).
  // The fault is read once per launch (NetSupervisor's constructor); reading it from the refill
  // is the moment the spare is launched. process.env is swapped for a proxy to see that read.
  const realEnv = process.env;
  const first = sb.exec(['true']); // launched now, before the proxy: no fault
  let taken: Promise<unknown> | undefined;
  let faultReads = 0;
  process.env = new Proxy(realEnv, {
    get(target, key) {
      if (key !== 'CORDON_TEST_NET_FAULT') return Reflect.get(target, key);
      faultReads++;
      // After this turn (the refill, which launches synchronously) and before any I/O is read.
      queueMicrotask(() => {
        if (taken) return;
        process.env = realEnv;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400); // the launcher fails and exits meanwhile
        taken = sb.exec(['sh', '-c', `echo ran > ${marker}`]);
      });
      return 'channel';
    },
  });
  try {
    const r = await first;
    assert.equal(r.exitCode, 0, r.stderr.toString());
    for (let i = 0; i < 100 && !taken; i++) await new Promise((r) => setTimeout(r, 10));
  } finally {
    process.env = realEnv;
  }
  assert.ok(taken, `the sandbox built ahead was launched (fault reads: ${faultReads})`);
  await refusedAtNetworkThenRuns(sb, taken, marker);
});

// cordon tests – the connect broker (native/launcher/connect_broker.cc): pid 1 performs every connect()
// of an allowlist sandbox; allowed TCP gets a socket connected on the host (no relay), which can then
// not be re-pointed. Each attack has a positive control (the same steps on the host, or the relay
// path with CORDON_NET_BROKER=0) showing it can fail.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import type { Sandbox } from '../../dist/index.js';
import { closeSandboxes, netSandbox, PY, type TestServer } from './helpers.js';

/** A server greeting each connection with `hello <tag>`; close() also destroys connections still open. */
async function bannerServer(tag: string, host: string): Promise<TestServer> {
  const state = { accepted: 0 };
  const open = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    state.accepted++;
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => {});
    s.resume();
    s.end(`hello ${tag}\n`);
  });
  const port = await listen(srv, host);
  return {
    port,
    host,
    get accepted() {
      return state.accepted;
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

let A: TestServer; // 127.0.0.3: allowed by an IP rule
let B: TestServer; // 127.0.0.4: never allowed
let echo: net.Server; // 127.0.0.3: answers with the client port it sees
let bulk: net.Server; // 127.0.0.3: reads N bytes, answers their SHA-256, then sends N bytes of a pattern
let rst: net.Server; // 127.0.0.3: resets every connection at once
const ports = { echo: 0, bulk: 0, rst: 0 };
const BULK = 32 << 20;

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n / 4; k++) b.writeUInt32LE((k * 31 + 7) >>> 0, k * 4);
  return b;
}

async function listen(srv: net.Server, host: string): Promise<number> {
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  return (srv.address() as AddressInfo).port;
}

before(async () => {
  A = await bannerServer('a', '127.0.0.3');
  B = await bannerServer('b', '127.0.0.4');
  echo = net.createServer((s) => {
    s.on('error', () => {});
    s.end(`${s.remotePort}\n`);
  });
  ports.echo = await listen(echo, '127.0.0.3');
  const data = pattern(BULK);
  bulk = net.createServer((s) => {
    s.on('error', () => {});
    const h = createHash('sha256');
    let got = 0;
    s.on('data', (c: Buffer) => {
      h.update(c);
      got += c.length;
      if (got === BULK) {
        s.write(h.digest('hex') + '\n');
        s.end(data);
      }
    });
  });
  ports.bulk = await listen(bulk, '127.0.0.3');
  rst = net.createServer((s) => {
    s.on('error', () => {});
    setTimeout(() => s.resetAndDestroy(), 50); // the client waits 1 s for it (time.sleep below): slack for a loaded host
  });
  ports.rst = await listen(rst, '127.0.0.3');
});

after(async () => {
  closeSandboxes();
  for (const s of [A, B]) await s.close();
  for (const s of [echo, bulk, rst]) s.close();
});

const allowA = () => ({ allow: [`127.0.0.3:${ports.echo},${ports.bulk},${ports.rst},${A.port}`] });

async function py(sb: Sandbox, body: string): Promise<{ lines: string[]; stderr: string }> {
  const r = await sb.exec(['python3', '-c', `${PY}\n${RAW}\n${body}`], { timeoutMs: 60_000 });
  return { lines: r.stdout.toString().trim().split('\n'), stderr: r.stderr.toString() };
}

function pyHost(body: string): Promise<string[]> {
  return new Promise((resolve) => {
    const c = spawn('python3', ['-c', `${PY}\n${RAW}\n${body}`], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 20_000 });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out.trim().split('\n')));
  });
}

/** Raw syscalls from Python: connect(AF_UNSPEC), MSG_FASTOPEN, results as `ok` / `err:<ERRNO>`. */
const RAW = String.raw`
import ctypes, os, select, struct, time
libc = ctypes.CDLL(None, use_errno=True)
def en(e): return errno.errorcode.get(e, str(e))
def oserr(e): return 'err:' + en(e.errno)
def unspec(s):
    buf = ctypes.create_string_buffer(b'\0' * 16, 16)
    return 'ok' if libc.connect(s.fileno(), buf, 16) == 0 else 'err:' + en(ctypes.get_errno())
def tfo(s, ip, port):
    try:
        s.sendto(b'x', socket.MSG_FASTOPEN, (ip, port))
        return 'ok'
    except OSError as e:
        return oserr(e)
def readall(s, timeout=5):
    s.settimeout(timeout)
    data = b''
    try:
        while True:
            c = s.recv(65536)
            if not c: return 'ok:' + data.decode(errors='replace').strip()
            data += c
    except OSError as e:
        return oserr(e)
def attempt(f):
    try: return f()
    except OSError as e: return oserr(e)
`;

describe('the connect broker: relay-free and byte-exact', () => {
  it('an allowed connect gets the host\'s connected socket: getpeername is the real server, the server sees the client\'s own port (control: with CORDON_NET_BROKER=0 the relay stands between, the ports differ)', async () => {
    const body = `s = socket.create_connection(('127.0.0.3', ${ports.echo}), timeout=5)
print(s.getpeername()[0], s.recv(100).decode().strip() == str(s.getsockname()[1]))`;
    const sb = await netSandbox(allowA());
    const r = await py(sb, body);
    assert.deepEqual(r.lines, ['127.0.0.3 True'], r.stderr);
    process.env.CORDON_NET_BROKER = '0';
    let relayed: Sandbox;
    try {
      relayed = await netSandbox(allowA());
    } finally {
      delete process.env.CORDON_NET_BROKER;
    }
    const c = await py(relayed, body);
    assert.deepEqual(c.lines, ['127.0.0.3 False'], `control: the relay path\n${c.stderr}`);
  });

  it('32 MiB each way is byte-exact on the brokered socket (SHA-256 both ways), blocking and non-blocking; flags are the caller\'s', async () => {
    const sb = await netSandbox(allowA());
    const r = await py(
      sb,
      `import hashlib
def pat(n):
    import array
    a = array.array('I', ((k * 31 + 7) & 0xffffffff for k in range(n // 4)))
    return a.tobytes()
data = pat(${BULK})
want = hashlib.sha256(data).hexdigest()
for nonblock in (False, True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | (socket.SOCK_NONBLOCK if nonblock else 0))
    rc = s.connect_ex(('127.0.0.3', ${ports.bulk}))
    print('connect', rc in (0, errno.EINPROGRESS), s.getblocking() == (not nonblock), os.get_inheritable(s.fileno()))
    s.setblocking(True); s.settimeout(30)
    s.sendall(data)
    got = b''
    while True:
        c = s.recv(1 << 20)
        if not c: break
        got += c
    line, _, rest = got.partition(b'\\n')
    print(line.decode() == want, hashlib.sha256(rest).hexdigest() == want, len(rest))`,
    );
    assert.deepEqual(r.lines, [
      'connect True True False',
      `True True ${BULK}`,
      'connect True True False',
      `True True ${BULK}`,
    ], r.stderr);
  });

  it('AF_UNIX path (absolute and relative) and abstract connects still work in the sandbox; errors are the kernel\'s (ENOENT, ECONNREFUSED for a non-socket); UDP and loopback TCP inside stay inside', async () => {
    const sb = await netSandbox(allowA());
    const r = await py(
      sb,
      `import tempfile, threading
d = tempfile.mkdtemp(dir='/tmp')
l = socket.socket(socket.AF_UNIX); l.bind(d + '/s.sock'); l.listen(8)
c = socket.socket(socket.AF_UNIX); c.connect(d + '/s.sock'); print('abs ok')
os.chdir(d); c = socket.socket(socket.AF_UNIX); c.connect('s.sock'); print('rel ok')
os.mkdir('sub'); os.chdir('sub'); c = socket.socket(socket.AF_UNIX); c.connect('../s.sock'); print('dotdot ok')
a = socket.socket(socket.AF_UNIX); a.bind('\\0cordon-broker-test'); a.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect('\\0cordon-broker-test'); print('abstract ok')
print('missing', attempt(lambda: socket.socket(socket.AF_UNIX).connect(d + '/nope')))
open(d + '/file', 'w').close()
print('file', attempt(lambda: socket.socket(socket.AF_UNIX).connect(d + '/file')))
g = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); g.bind(d + '/g.sock')
h = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); h.connect(d + '/g.sock'); h.send(b'hi'); print('dgram', g.recv(10))
t = socket.socket(); t.bind(('127.0.0.1', 0)); t.listen(1)
c = socket.create_connection(('127.0.0.1', t.getsockname()[1])); print('lo', c.getpeername()[0])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(('127.0.0.3', ${ports.echo})); print('udp', u.getsockname()[0])
print('unrouted', attempt(lambda: socket.create_connection(('192.0.2.1', 80), timeout=2)))`,
    );
    assert.deepEqual(r.lines, [
      'abs ok',
      'rel ok',
      'dotdot ok',
      'abstract ok',
      'missing err:ENOENT',
      'file err:ECONNREFUSED',
      "dgram b'hi'",
      'lo 127.0.0.1',
      'udp 127.0.0.1',
      'unrouted err:ENETUNREACH',
    ], r.stderr);
  });
});

describe('the connect broker: an installed host socket cannot be re-pointed', () => {
  it('connect(AF_UNSPEC) on an installed socket gives a fresh sandbox socket: a connect elsewhere never leaves the sandbox; the old connection is untouched on its other fd (control: on the host the same steps reach the forbidden server)', async () => {
    const body = `s = socket.create_connection(('127.0.0.3', ${A.port}), timeout=5)
d = os.dup(s.fileno())
print(readall(s))
print(unspec(s))
print(attempt(lambda: socket.getaddrinfo and s.getpeername()))
s.settimeout(5)
print(attempt(lambda: s.connect(('127.0.0.4', ${B.port})) or 'connected'))
print(socket.socket(fileno=d).getpeername()[0])`;
    const h = await pyHost(body);
    assert.equal(h[3], 'connected', `control: on the host the disconnected socket reaches the forbidden server (${h.join(' | ')})`);
    const sb = await netSandbox(allowA());
    const b0 = B.accepted;
    const r = await py(sb, body);
    assert.equal(r.lines[0], 'ok:hello a', r.stderr);
    assert.equal(r.lines[1], 'ok', 'AF_UNSPEC succeeds (a fresh socket is installed)');
    assert.equal(r.lines[2], 'err:ENOTCONN', 'the fd now holds an unconnected socket');
    assert.equal(r.lines[3], 'err:ECONNREFUSED', 'the re-connect stays in the sandbox (127.0.0.4 is the sandbox\'s own loopback there)');
    assert.equal(r.lines[4], '127.0.0.3', 'the dup still holds the installed, connected socket');
    assert.equal(B.accepted, b0, 'the forbidden server was contacted');
  });

  it('listen(), bind(), connect() and sendto(MSG_FASTOPEN) on an installed socket fail, also after shutdown() (control: a fresh sandbox socket can listen)', async () => {
    const sb = await netSandbox(allowA());
    const b0 = B.accepted;
    const r = await py(
      sb,
      `s = socket.create_connection(('127.0.0.3', ${A.port}), timeout=5)
print('listen', attempt(lambda: s.listen(1) or 'ok'))
print('bind', attempt(lambda: s.bind(('0.0.0.0', 0)) or 'ok'))
print('connect', attempt(lambda: s.connect(('127.0.0.4', ${B.port})) or 'ok'))
print('tfo', tfo(s, '127.0.0.4', ${B.port}))
s.shutdown(socket.SHUT_RDWR)
print('tfo-after-shutdown', tfo(s, '127.0.0.4', ${B.port}))
print('listen-after-shutdown', attempt(lambda: s.listen(1) or 'ok'))
f = socket.socket(); print('fresh-listen', attempt(lambda: f.listen(1) or 'ok'))`,
    );
    assert.deepEqual(r.lines, [
      'listen err:EINVAL',
      'bind err:EINVAL',
      'connect err:EISCONN',
      'tfo err:EISCONN',
      'tfo-after-shutdown err:EISCONN',
      'listen-after-shutdown err:EINVAL',
      'fresh-listen ok',
    ], r.stderr);
    assert.equal(B.accepted, b0, 'the forbidden server was contacted');
  });

  it('once the connection has ended, bind() on the installed socket takes no port in the host namespace (control: on the host the same dead socket binds one)', async () => {
    // The server sends its banner and closes; we close our side too (LAST_ACK, then CLOSE).
    const body = `s = socket.create_connection(('127.0.0.3', ${A.port}), timeout=5)
print(readall(s))
s.shutdown(socket.SHUT_WR)
time.sleep(0.3)
print('bind', attempt(lambda: s.bind(('127.0.0.1', 0)) or 'ok'))`;
    const h = await pyHost(body);
    assert.deepEqual(h, ['ok:hello a', 'bind ok'], `control: on the host the dead socket's port was released and bind() takes a new one (${h.join(' | ')})`);
    const sb = await netSandbox(allowA());
    const r = await py(sb, body);
    assert.deepEqual(r.lines, ['ok:hello a', 'bind err:EINVAL'], r.stderr);
  });

  it('after the server resets the installed socket, MSG_FASTOPEN and listen() still go nowhere (control: on the host, a socket left SS_CONNECTING by a non-blocking connect is disconnected by MSG_FASTOPEN after a reset and then reaches the forbidden server)', async (t) => {
    const body = `s = socket.socket(); s.setblocking(False)
s.connect_ex(('127.0.0.3', ${ports.rst}))
select.select([], [s], [], 5)
s.setblocking(True)
time.sleep(1.0)
print(tfo(s, '127.0.0.4', ${B.port}))
print(tfo(s, '127.0.0.4', ${B.port}))
print(readall(s, 2))
print('listen', attempt(lambda: s.listen(1) or 'ok'))`;
    const tfoOn = Number(existsSync('/proc/sys/net/ipv4/tcp_fastopen') ? readFileSync('/proc/sys/net/ipv4/tcp_fastopen', 'utf8') : '0') & 1;
    if (tfoOn) {
      const b0 = B.accepted;
      const h = await pyHost(body);
      assert.ok(B.accepted > b0 || h[2] === 'ok:hello b', `control: on the host the reset socket is re-pointed by MSG_FASTOPEN (${h.join(' | ')})`);
    } else {
      t.diagnostic('TCP Fast Open client mode is off on the host: no host control');
    }
    const sb = await netSandbox(allowA());
    const b0 = B.accepted;
    const r = await py(sb, body);
    assert.equal(r.lines[0], 'err:EISCONN', r.stderr);
    assert.equal(r.lines[1], 'err:EISCONN');
    assert.match(r.lines[2] ?? '', /^err:|^ok:$/);
    assert.equal(r.lines[3], 'listen err:EINVAL');
    assert.equal(B.accepted, b0, 'the forbidden server was contacted');
  });

  it('a non-blocking connect through the broker: 0 once connected, or the errno; a denied port is refused with a violation', async () => {
    const sb = await netSandbox(allowA());
    const other = B.port;
    const r = await sb.exec(
      [
        'python3',
        '-c',
        `${PY}\n${RAW}
s = socket.socket(); s.setblocking(False)
print(s.connect_ex(('127.0.0.3', ${A.port})) in (0, errno.EINPROGRESS))
select.select([s], [], [], 5); s.setblocking(True); print(readall(s))
s = socket.socket(); s.setblocking(False)
print(en(s.connect_ex(('127.0.0.3', ${other}))))`,
      ],
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(r.stdout.toString().trim().split('\n'), ['True', 'ok:hello a', 'ECONNREFUSED'], r.stderr.toString());
    assert.ok(r.violations.some((v) => v.kind === 'network' && v.what === `127.0.0.3:${other}`), JSON.stringify(r.violations));
  });
});

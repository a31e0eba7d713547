// cordon tests – red team 2: attacks on the connect broker (docs/network-redteam-2.md).
//
// Every attack runs in a real allowlist sandbox against servers on the host's loopback and has a
// positive control (the same steps on a host socket outside the sandbox, or a rule that allows it).
// Tests named `HOLE (<severity>) …` are holes this review found: they assert the SECURE behaviour and
// FAIL until fixed. Where a root-only probe is used (an AF_PACKET sniffer on `lo`, to see packets
// addressed to a destination the rules do not allow), the unprivileged run checks the same hole through
// its other symptom (the allowed server stops receiving the connection's bytes).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Sandbox } from '../../dist/index.js';
import { abortNetSupervisors } from '../../dist/net/supervisor.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const isRoot = process.geteuid?.() === 0;

interface Collector {
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Everything received, all connections concatenated (latin1). */
  readonly data: string;
  close(): Promise<void>;
}

/** A TCP server that greets with `hello <tag>` (no close) and records every byte it receives. */
async function collector(tag: string, host: string): Promise<Collector> {
  const st = { n: 0, data: '' };
  const open = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    st.n++;
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => {});
    s.on('data', (d: Buffer) => (st.data += d.toString('latin1')));
    s.write(`hello ${tag}\n`);
    s.setTimeout(20_000, () => s.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  return {
    host,
    port: (srv.address() as AddressInfo).port,
    get accepted() {
      return st.n;
    },
    get data() {
      return st.data;
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

/** A non-loopback, non-link-local IPv6 address of this host (packets to it stay on `lo`), if any. */
function localV6(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv6' && !a.internal && !a.address.toLowerCase().startsWith('fe80')) return a.address;
    }
  }
  return undefined;
}

/**
 * Root only: an AF_PACKET sniffer on `lo` counting received IPv4/IPv6 packets addressed to `dst` whose
 * bytes contain `marker`. `stop()` resolves the count.
 */
async function sniffer(dst: string, marker: string): Promise<{ stop(): Promise<number> }> {
  const code = String.raw`
import socket, sys, select
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
want = socket.inet_pton(fam, sys.argv[1]); marker = sys.argv[2].encode()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(('lo', 0))
print('ready', flush=True)
n = 0
while True:
    r, _, _ = select.select([s, sys.stdin], [], [], 1)
    if sys.stdin in r:
        break
    if s in r:
        p, a = s.recvfrom(65535)
        if a[2] == socket.PACKET_OUTGOING: continue
        ip = p[14:]
        if fam == socket.AF_INET6 and ip[:1] and ip[0] >> 4 == 6 and ip[24:40] == want and marker in ip: n += 1
        if fam == socket.AF_INET and ip[:1] and ip[0] >> 4 == 4 and ip[16:20] == want and marker in ip: n += 1
print('hits', n, flush=True)
`;
  const c: ChildProcess = spawn(PYTHON, ['-c', code, dst, marker], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    c.on('exit', () => reject(new Error(`sniffer exited: ${out}`)));
  });
  return {
    stop: () =>
      new Promise<number>((resolve) => {
        c.on('close', () => resolve(Number(/hits (\d+)/.exec(out)?.[1] ?? -1)));
        c.stdin!.end('x');
      }),
  };
}

let root = '';
let ws = '';
const sandboxes: Sandbox[] = [];
let A: Collector; // 127.0.0.3: allowed by an IP rule
let B: Collector; // 127.0.0.4: never allowed
let V6: Collector | undefined; // [::1]: allowed by an IPv6 IP rule

async function sandbox(allow: string[], relay = false): Promise<Sandbox> {
  if (relay) process.env.CORDON_NET_BROKER = '0';
  let sb: Sandbox;
  try {
    sb = await Sandbox.create({ workspace: ws, network: { mode: 'allowlist', allow } });
  } finally {
    if (relay) delete process.env.CORDON_NET_BROKER;
  }
  sandboxes.push(sb);
  return sb;
}

const PRE = String.raw`
import socket, sys, errno, ctypes, struct, time, os, threading
libc = ctypes.CDLL(None, use_errno=True)
def en(e): return errno.errorcode.get(e, str(e)) if e else 'None'
def oserr(e): return 'err:' + (en(e.errno) if getattr(e, 'errno', None) else type(e).__name__)
def attempt(f):
    try: return f()
    except OSError as e: return oserr(e)
def unspec(fd):
    buf = ctypes.create_string_buffer(b'\0' * 16, 16)
    return 'ok' if libc.connect(fd, buf, 16) == 0 else 'err:' + en(ctypes.get_errno())
def tcp(host, port, timeout=5):
    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return 'ok:' + s.recv(100).decode(errors='replace').strip()
    except OSError as e:
        return oserr(e)
    finally:
        s.close()
`;

async function py(sb: Sandbox, body: string): Promise<{ lines: string[]; out: string }> {
  const r = await sb.exec([PYTHON, '-c', `${PRE}\n${body}`], { timeoutMs: 60_000 });
  const out = `${r.stdout.toString()}\n--- stderr ---\n${r.stderr.toString()}`;
  return { lines: r.stdout.toString().trim().split('\n'), out };
}

function pyHost(body: string): Promise<{ lines: string[]; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(PYTHON, ['-c', `${PRE}\n${body}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', () => resolve({ lines: out.trim().split('\n'), out: `${out}\n--- stderr ---\n${err}` }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits up to `ms` for `cond`. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'cordon-rt2-'));
  ws = path.join(root, 'ws');
  (await import('node:fs')).mkdirSync(ws);
  A = await collector('a', '127.0.0.3');
  B = await collector('b', '127.0.0.4');
  try {
    V6 = await collector('v6', '::1');
  } catch {
    V6 = undefined;
  }
});

after(async () => {
  for (const sb of sandboxes.splice(0)) sb.close();
  for (const s of [A, B, V6]) await s?.close();
  rmSync(root, { recursive: true, force: true });
});

// The attack on a connected IPv6 TCP socket: an IPv6 Segment Routing header (IPV6_RTHDR, type 4; allowed
// without privileges) whose active segment is `via`. The kernel resets the socket's route and sends every
// later segment of the connection with the IPv6 destination `via` (the allowed peer goes in the SRH).
const srhAttack = (peer: string, port: number, via: string, marker: string) => String.raw`
s = socket.create_connection((${JSON.stringify(peer)}, ${port}), timeout=5)
s.recv(100)
s.sendall(b'before-${marker}\n'); time.sleep(0.3)
segs = [socket.inet_pton(socket.AF_INET6, ${JSON.stringify(peer)}), socket.inet_pton(socket.AF_INET6, ${JSON.stringify(via)})]
hdr = struct.pack('!BBBBBBH', 0, 2 * len(segs), 4, 1, len(segs) - 1, 0, 0) + b''.join(segs)
print('rthdr', attempt(lambda: s.setsockopt(socket.IPPROTO_IPV6, 57, hdr) or 'ok'))
print('send', attempt(lambda: s.sendall(b'after-${marker}\n') or 'ok'))
time.sleep(2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
`;

// The IPv4 analogue: loose source routing through `via` (IP_OPTIONS), then an IP_TOS change, which
// drops the socket's cached route so the next segment is routed to the first hop of the source route.
const lsrrAttack = (port: number, via: string, marker: string) => String.raw`
s = socket.create_connection(('127.0.0.3', ${port}), timeout=5)
s.recv(100)
s.sendall(b'before-${marker}\n'); time.sleep(0.3)
opt = bytes([1, 0x83, 7, 4]) + socket.inet_aton(${JSON.stringify(via)})
print('options', attempt(lambda: s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, opt) or 'ok'))
print('tos', attempt(lambda: s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10) or 'ok'))
print('send', attempt(lambda: s.sendall(b'after-${marker}\n') or 'ok'))
time.sleep(2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
`;


/**
 * A host listener on 127.0.0.3 with backlog 0 and its queue filled, so a SYN to it is dropped and
 * retried until it reads a line on stdin; then it accepts and greets `hello slow`.
 */
async function slowListener(): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(PYTHON, ['-c', String.raw`
import socket, sys
l = socket.socket(); l.bind(('127.0.0.3', 0)); l.listen(0)
fill = []
for i in range(2):
    c = socket.socket(); c.setblocking(False); c.connect_ex(l.getsockname()); fill.append(c)
print(l.getsockname()[1], flush=True)
sys.stdin.readline()
# Stop the fillers before draining: the second one's SYN is still being retried, and with backlog 0
# the kernel answers SYNs with cookies (no SYN-ACK retries); were it to complete in the same instant
# as the connect under test, that one's final ACK would be dropped and it would wait forever.
for c in fill: c.close()
l.settimeout(0.2); acc = []
import time
end = time.time() + 40
while time.time() < end:
    try:
        a = l.accept()[0]; a.sendall(b'hello slow\n'); acc.append(a)
    except OSError: pass
`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => proc.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  return { proc, port };
}

describe('red team 2: host sockets installed by the connect broker', () => {
  it('fixed (H1, high) an IPv6 routing header (IPV6_RTHDR type 4, unprivileged) on a brokered socket re-addresses the connection\'s packets to any IPv6 address: data leaves for a destination no rule allows', async (t) => {
    const via = localV6();
    if (!V6 || !via) return t.skip('needs ::1 and a non-loopback IPv6 address on this host');
    // Control: the same steps on a host socket outside the sandbox. The allowed server stops
    // receiving (the bytes now go to `via`), and as root the sniffer sees them addressed to `via`.
    const ctrlSniff = isRoot ? await sniffer(via, 'after-CTRL') : undefined;
    const c = await pyHost(srhAttack('::1', V6.port, via, 'CTRL'));
    const ctrlHits = await ctrlSniff?.stop();
    assert.equal(c.lines[0], 'rthdr ok', `control: the option is unprivileged\n${c.out}`);
    assert.ok(V6.data.includes('before-CTRL'), `control: connected\n${c.out}`);
    assert.ok(!V6.data.includes('after-CTRL'), `control: the bytes after the routing header did not reach ::1 — they went to ${via}`);
    if (ctrlSniff) assert.ok((ctrlHits ?? 0) > 0, `control: the sniffer saw the bytes addressed to ${via}`);

    const sb = await sandbox([`[::1]:${V6.port}`]);
    const sniff = isRoot ? await sniffer(via, 'after-SBOX') : undefined;
    const r = await py(sb, srhAttack('::1', V6.port, via, 'SBOX'));
    await until(() => V6!.data.includes('after-SBOX'), 3000);
    const hits = await sniff?.stop();
    assert.ok(V6.data.includes('before-SBOX'), `the allowed connection works (brokered)\n${r.out}`);
    // Secure: the option is refused on a host socket, or has no effect outside the rules.
    if (sniff) assert.equal(hits, 0, `packets carrying the sandbox's bytes were sent to ${via}, which no rule allows\n${r.out}`);
    assert.ok(V6.data.includes('after-SBOX'), `the sandbox's bytes after the routing header never reached the allowed peer (they were sent to ${via})\n${r.out}`);
  });

  it('IPv4 source routing (IP_OPTIONS LSRR + an IP_TOS change to drop the cached route) on a brokered socket is refused (EPERM: CAP_NET_RAW over the host\'s namespace); the bytes still reach only the allowed peer (control, root: the same on a host socket re-addresses them)', async (t) => {
    if (isRoot) {
      const ctrlSniff = await sniffer('127.0.0.4', 'after-CTRL4');
      const c = await pyHost(lsrrAttack(A.port, '127.0.0.4', 'CTRL4'));
      const hits = await ctrlSniff.stop();
      assert.deepEqual(c.lines.slice(0, 2), ['options ok', 'tos ok'], c.out);
      assert.ok(hits > 0, `control: root's host socket sends to 127.0.0.4\n${c.out}`);
      assert.ok(!A.data.includes('after-CTRL4'), 'control: rerouted away from the allowed peer');
    } else {
      t.diagnostic('control skipped: IP_OPTIONS source routing needs CAP_NET_RAW, so only root can show it working on the host');
    }
    const sb = await sandbox([`127.0.0.3:${A.port}`]);
    const sniff = isRoot ? await sniffer('127.0.0.4', 'after-SBOX4') : undefined;
    const r = await py(sb, lsrrAttack(A.port, '127.0.0.4', 'SBOX4'));
    await until(() => A.data.includes('after-SBOX4'), 3000);
    const hits = await sniff?.stop();
    assert.equal(r.lines[0], 'options err:EPERM', r.out);
    if (sniff) assert.equal(hits, 0, r.out);
    assert.ok(A.data.includes('after-SBOX4'), r.out);
  });

  it('SCM_RIGHTS: a brokered socket passed to another process, which disconnects it (AF_UNSPEC) and re-connects to a forbidden server, never reaches it (control: the same script on the host does)', async () => {
    const body = String.raw`
s = socket.create_connection(('127.0.0.3', ${A.port}), timeout=5)
print('first', s.recv(100).decode().strip())
a, b = socket.socketpair()
pid = os.fork()
if pid == 0:
    msg, anc, flags, addr = b.recvmsg(10, socket.CMSG_SPACE(4))
    fd = struct.unpack('i', anc[0][2][:4])[0]
    r1 = unspec(fd)
    x = socket.socket(fileno=fd); x.settimeout(3)
    r2 = attempt(lambda: x.connect(('127.0.0.4', ${B.port})) or 'ok')
    r3 = attempt(lambda: x.recv(100).decode().strip() or 'eof')
    d = os.dup(fd); r4 = attempt(lambda: socket.socket(fileno=d).connect(('127.0.0.4', ${B.port})) or 'ok')
    b.sendall(('%s %s %s %s' % (r1, r2, r3, r4)).encode()); os._exit(0)
a.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', s.fileno()))])
print('child', a.recv(200).decode())
os.waitpid(pid, 0)
print('parent', attempt(lambda: s.connect(('127.0.0.4', ${B.port})) or 'ok'))
`;
    const before = B.accepted;
    const c = await pyHost(body);
    assert.ok(B.accepted > before, `control: on the host the passed socket re-connects to B\n${c.out}`);
    const sb = await sandbox([`127.0.0.3:${A.port}`]);
    const mid = B.accepted;
    const r = await py(sb, body);
    assert.equal(r.lines[0], 'first hello a', r.out);
    await sleep(300);
    assert.equal(B.accepted, mid, `the forbidden server was contacted\n${r.out}`);
    assert.ok(!r.out.includes('hello b'), r.out);
  });

  it('UDP to an allowed address:port never gets a host socket: connect()+send and sendto() stay in the sandbox (control: the TCP rule works, and the host\'s datagram arrives)', async () => {
    const u = dgram.createSocket('udp4');
    const got: string[] = [];
    u.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => u.bind(0, '127.0.0.3', () => r()));
    const uport = u.address().port;
    const tsrv = await collector('udpcontrol', '127.0.0.3');
    try {
      const body = String.raw`
print('tcp', tcp('127.0.0.3', ${tsrv.port}))
x = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print('connect', attempt(lambda: x.connect(('127.0.0.3', ${uport})) or 'ok'))
print('send', attempt(lambda: x.send(b'udp-connected') and 'ok'))
y = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print('sendto', attempt(lambda: y.sendto(b'udp-sendto', ('127.0.0.3', ${uport})) and 'ok'))
z = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print('sendmsg', attempt(lambda: z.sendmsg([b'udp-sendmsg'], [], 0, ('127.0.0.3', ${uport})) and 'ok'))
`;
      const sb = await sandbox([`127.0.0.3:${tsrv.port},${uport}`]);
      const r = await py(sb, body);
      assert.equal(r.lines[0], 'tcp ok:hello udpcontrol', r.out);
      await sleep(500);
      assert.equal(got.length, 0, `a datagram from the sandbox reached the host: ${got.join(',')}\n${r.out}`);
      const c = await pyHost(body);
      await until(() => got.length > 0, 3000);
      assert.ok(got.includes('udp-connected') && got.includes('udp-sendto'), `control: from the host they arrive\n${c.out}`);
    } finally {
      u.close();
      await tsrv.close();
    }
  });

  it('exhausting the broker\'s 256 workers (blocking unix connects to a full backlog) fails closed: a connect to a forbidden server queued behind them never gets through; once released, allowed connects work again', async () => {
    const body = String.raw`
path = '/tmp/rt2-pool.sock'
try: os.unlink(path)
except OSError: pass
l = socket.socket(socket.AF_UNIX); l.bind(path); l.listen(0)
def blocker():
    c = socket.socket(socket.AF_UNIX)
    try: c.connect(path)
    except OSError: pass
    held.append(c)
held = []
threading.stack_size(256 * 1024)
for i in range(300): threading.Thread(target=blocker, daemon=True).start()
time.sleep(3)
res = {}
def tryb(): res['b'] = tcp('127.0.0.4', ${B.port}, timeout=3)
t = threading.Thread(target=tryb, daemon=True); t.start(); t.join(4)
print('b', res.get('b', 'waiting'))
l.settimeout(1); acc = []
while True:
    try: acc.append(l.accept()[0])
    except OSError: break
t.join(10)
print('b-after', res.get('b', 'waiting'))
print('a', tcp('127.0.0.3', ${A.port}))
print('accepted', len(acc) >= 250)
`;
    const sb = await sandbox([`127.0.0.3:${A.port}`]);
    const before = B.accepted;
    const r = await py(sb, body);
    assert.equal(B.accepted, before, `the forbidden server was contacted\n${r.out}`);
    assert.ok(!r.out.includes('hello b'), r.out);
    assert.ok(r.lines.includes('a ok:hello a'), `control: allowed connects work once the workers are free\n${r.out}`);
    assert.ok(r.lines.includes('accepted True'), r.out);
    // The workers were all busy: the queued connect did not run before they were released.
    assert.ok(r.lines.includes('b waiting'), `the pool was not exhausted\n${r.out}`);
    const after = r.lines.find((l) => l.startsWith('b-after '));
    assert.ok(after && !after.includes('ok:'), r.out);
  });

  it('connect() on odd fds and arguments (pipe, netlink, fd -1, NULL address, bad lengths, a huge length, AF_INET address on an AF_INET6 socket, v4-mapped to a forbidden host) answers errors and pid 1 keeps serving (control: the allowed connect after them)', async () => {
    const body = String.raw`
rp, wp = os.pipe()
sa = struct.pack('<H', socket.AF_INET) + struct.pack('>H', ${A.port}) + socket.inet_aton('127.0.0.3') + b'\0' * 8
buf = ctypes.create_string_buffer(sa, 128)
def rc(fd, p, n):
    r = libc.connect(fd, p, n)
    return 'ok' if r == 0 else 'err:' + en(ctypes.get_errno())
print('pipe', rc(rp, buf, 16))
n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
print('netlink', rc(n.fileno(), buf, 16))
print('badfd', rc(-1, buf, 16))
s = socket.socket()
print('null', rc(s.fileno(), None, 16))
print('short', rc(s.fileno(), buf, 3))
print('huge', rc(s.fileno(), buf, 1 << 20))
print('negative', rc(s.fileno(), buf, -1))
s6 = socket.socket(socket.AF_INET6)
print('v4-on-v6', rc(s6.fileno(), buf, 16))
m = socket.socket(socket.AF_INET6); m.settimeout(3)
print('mapped', attempt(lambda: m.connect(('::ffff:127.0.0.4', ${B.port})) or 'ok:' + m.recv(100).decode().strip()))
print('a', tcp('127.0.0.3', ${A.port}))
`;
    const sb = await sandbox([`127.0.0.3:${A.port}`]);
    const before = B.accepted;
    const r = await py(sb, body);
    const get = (k: string) => r.lines.find((l) => l.startsWith(`${k} `))?.slice(k.length + 1);
    assert.equal(get('pipe'), 'err:ENOTSOCK', r.out);
    assert.equal(get('badfd'), 'err:EBADF', r.out);
    assert.notEqual(get('null'), 'ok', r.out);
    assert.notEqual(get('short'), 'ok', r.out);
    assert.notEqual(get('huge'), 'ok', r.out);
    assert.notEqual(get('negative'), 'ok', r.out);
    assert.notEqual(get('v4-on-v6'), 'ok', r.out);
    assert.ok(!get('mapped')?.startsWith('ok'), r.out);
    assert.equal(B.accepted, before, r.out);
    assert.equal(get('a'), 'ok:hello a', `control\n${r.out}`);
  });
  it('fixed (H2, low) SO_BINDTODEVICE (unprivileged while unbound) on a brokered socket binds a HOST socket to a host interface the sandbox cannot see: it re-routes an allowed connection through another interface (VRF/VPN bypass) and enumerates the host\'s interface names', async () => {
    const hostIf = Object.keys(os.networkInterfaces()).find((n) => n !== 'lo');
    if (!hostIf) return; // nothing to show without a second interface
    const body = String.raw`
s = socket.create_connection(('127.0.0.3', ${A.port}), timeout=5)
print('first', s.recv(100).decode().strip())
print('bind', attempt(lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ${JSON.stringify(hostIf)}.encode()) or 'ok'))
print('bound', s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b'\0').decode())
print('probe-missing', attempt(lambda: socket.socket().setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'nosuchif0') or 'ok'))
print('ifaces', ' '.join(n for _, n in socket.if_nameindex()))
`;
    const c = await pyHost(body);
    assert.equal(c.lines[1], 'bind ok', `control: unprivileged on a host socket\n${c.out}`);
    assert.equal(c.lines[2], `bound ${hostIf}`, c.out);
    const sb = await sandbox([`127.0.0.3:${A.port}`]);
    const r = await py(sb, body);
    assert.equal(r.lines[0], 'first hello a', r.out);
    assert.ok(!r.lines.find((l) => l.startsWith('ifaces'))?.includes(hostIf), `the sandbox's own namespace does not have ${hostIf}\n${r.out}`);
    assert.notEqual(r.lines[1], 'bind ok', `a brokered (host) socket was bound to the host's interface ${hostIf}, which the sandbox cannot see\n${r.out}`);
  });

  it('sendto(MSG_FASTOPEN) on a fresh socket (no connect() for pid 1 to see) stays in the sandbox: the forbidden server is not reached, the allowed one only through the capture (control: the same TFO reaches B from the host)', async () => {
    const body = String.raw`
def tfo(ip, port):
    x = socket.socket()
    try:
        x.sendto(b'tfo', socket.MSG_FASTOPEN, (ip, port))
        x.settimeout(3)
        return 'ok:' + x.recv(100).decode().strip()
    except OSError as e: return oserr(e)
print('b', tfo('127.0.0.4', ${B.port}))
print('a', tfo('127.0.0.3', ${A.port}))
`;
    const before = B.accepted;
    const c = await pyHost(body);
    assert.equal(c.lines[0], 'b ok:hello b', `control\n${c.out}`);
    const sb = await sandbox([`127.0.0.3:${A.port}`]);
    const mid = B.accepted;
    assert.ok(mid > before);
    const r = await py(sb, body);
    await sleep(200);
    assert.equal(B.accepted, mid, r.out);
    assert.ok(!(r.lines[0] ?? "").startsWith('b ok'), r.out);
  });

  it('the supervisor stopped while a brokered connect waits for the host (SYN dropped by a full accept queue): the connect fails once the host side completes, and later connects are refused (control: without the abort the same connect succeeds)', async () => {
    // A host listener with backlog 0 whose queue the test fills, so the supervisor's SYN is dropped and retried.
    const { proc: holder, port: slowPort } = await slowListener();
    const body = String.raw`
print('slow', tcp('127.0.0.3', ${slowPort}, timeout=30))
print('a', tcp('127.0.0.3', ${A.port}))
`;
    try {
      // Control: no abort; the queue is drained after 1.5 s and the connect completes.
      const sbc = await sandbox([`127.0.0.3:${A.port},${slowPort}`]);
      const pc = py(sbc, body);
      await sleep(1500);
      holder.stdin!.write('go\n');
      const c = await pc;
      assert.deepEqual(c.lines, ['slow ok:hello slow', 'a ok:hello a'], `control\n${c.out}`);
    } finally {
      holder.stdin!.end();
      holder.kill();
    }
    const { proc: holder2, port: slow2 } = await slowListener();
    try {
      const sb = await sandbox([`127.0.0.3:${A.port},${slow2}`]);
      const p = py(sb, body.replace(String(slowPort), String(slow2)));
      await sleep(1500);
      assert.ok(abortNetSupervisors('red team 2: supervisor stopped mid-connect') >= 1);
      holder2.stdin!.write('go\n');
      const r = await p;
      assert.ok(!(r.lines[0] ?? "").startsWith('slow ok'), `a connect in flight when the supervisor stopped got a working host connection\n${r.out}`);
      assert.ok(!(r.lines[1] ?? "").startsWith('a ok'), r.out);
    } finally {
      holder2.stdin!.end();
      holder2.kill();
    }
  });

  // Accepted as a documented limit (docs/network.md, Fail closed): a brokered connection is the
  // command's own socket, which the supervisor holds no handle on (a copy would keep the connection
  // open after the command closes it); an abort refuses every new connect. The test pins that down.
  it('limit (H3, documented): an established brokered connection outlives abortNetSupervisors() while new connects are refused at once (control: on the relay path, CORDON_NET_BROKER=0, the same connection is reset)', async () => {
    const flag = (tag: string) => path.join(ws, `aborted-${tag}`);
    const body = (tag: string) => String.raw`
s = socket.create_connection(('127.0.0.3', ${A.port}), timeout=5)
s.recv(100)
s.sendall(b'pre-${tag}\n')
for i in range(400):
    if os.path.exists(${JSON.stringify(flag(tag))}): break
    time.sleep(0.05)
time.sleep(0.3)
print('post', attempt(lambda: s.sendall(b'post-${tag}\n') or 'ok'))
time.sleep(0.5)
print('post2', attempt(lambda: s.sendall(b'again-${tag}\n') or 'ok'))
print('new', attempt(lambda: socket.create_connection(('127.0.0.3', ${A.port}), timeout=5) and 'ok'))
`;
    const run = async (tag: string, relay: boolean) => {
      const sb = await sandbox([`127.0.0.3:${A.port}`], relay);
      const p = py(sb, body(tag));
      assert.ok(await until(() => A.data.includes(`pre-${tag}`), 15_000), 'connected');
      abortNetSupervisors('red team 2: abort with a connection open');
      writeFileSync(flag(tag), '');
      const r = await p;
      await sleep(300);
      return r;
    };
    const c = await run('RELAY', true);
    assert.ok(!A.data.includes('post-RELAY') && !A.data.includes('again-RELAY'), `control: the relay is reset at abort\n${c.out}`);
    const r = await run('BROKER', false);
    assert.ok(A.data.includes('post-BROKER'), `the brokered connection is the command's own and goes on\n${r.out}`);
    assert.match(r.out, /new err:ECONNREFUSED/, `a new connect after the abort is refused\n${r.out}`);
  });
});

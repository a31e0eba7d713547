// Shared helpers for the network tests: loopback test servers, a sandbox factory, Python clients.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import pino from 'pino';

import { Sandbox, type SandboxProcess } from '../../dist/index.js';

export interface TestServer {
  port: number;
  host: string;
  /** Connections the server accepted. */
  accepted: number;
  close(): Promise<void>;
}

/** A server on a loopback address that greets each connection with `hello <tag>` and closes. */
export async function bannerServer(tag: string, host = '127.0.0.1', port = 0): Promise<TestServer> {
  const state = { accepted: 0 };
  const srv = net.createServer((s) => {
    state.accepted++;
    s.on('error', () => {});
    s.end(`hello ${tag}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
  const addr = srv.address() as net.AddressInfo;
  return {
    port: addr.port,
    host,
    get accepted() {
      return state.accepted;
    },
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

/** Connects from the test process itself (the positive control "without the sandbox"). */
export function hostConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let data = '';
    s.on('data', (c) => (data += c.toString()));
    s.on('end', () => resolve(`ok:${data.trim()}`));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`err:${e.code}`));
  });
}

export interface NetOptions {
  allow?: string[];
  deny?: string[];
  allowPrivate?: boolean;
  hosts?: Record<string, string[]>;
}

export interface AuditCapture {
  events: Array<Record<string, unknown>>;
}

const open: Sandbox[] = [];

/** Closes every sandbox netSandbox() made (call from `after`). */
export function closeSandboxes(): void {
  for (const sb of open.splice(0)) sb.close();
}

/** A sandbox in allowlist mode with an audit log captured in memory (`anyHost`: the profile acknowledges a `*` rule). */
export async function netSandbox(network: NetOptions, audit?: AuditCapture, anyHost = false): Promise<Sandbox> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) audit?.events.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  let profile: string | undefined;
  if (anyHost) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cordon-net-profile-'));
    profile = path.join(dir, 'any-host.json');
    writeFileSync(profile, JSON.stringify({ version: 1, extends: 'workspace', unsafe: { allowAnyHost: true } }));
  }
  const created = Sandbox.create({
    ...(profile ? { profile } : {}),
    workspace: process.cwd(),
    network: { mode: 'allowlist', ...network },
    ...(audit ? { log: pino({ level: 'info' }, sink) } : {}),
  });
  void created.then((sb) => open.push(sb), () => {});
  return profile ? created.finally(() => rmSync(path.dirname(profile), { recursive: true, force: true })) : created;
}

/**
 * Python prelude for sandboxed clients: tcp(host, port) returns `ok:<data>` / `gai:<code>` /
 * `err:<ERRNO>`; each result is printed as one line.
 */
export const PY = String.raw`
import socket, sys, errno, json
def tcp(host, port, timeout=5, family=0):
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except socket.gaierror as e:
        return 'gai:%d' % e.errno
    af, st, pr, _, sa = infos[0]
    s = socket.socket(af, st, pr)
    s.settimeout(timeout)
    try:
        s.connect(sa)
        data = b''
        while True:
            c = s.recv(65536)
            if not c: break
            data += c
        return 'ok:' + data.decode(errors='replace').strip()
    except OSError as e:
        return 'err:' + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__)
    finally:
        s.close()

def _all(s):
    data = b''
    while True:
        c = s.recv(65536)
        if not c: return data
        data += c

def _body(raw):
    head, _, body = raw.partition(b'\r\n\r\n')
    return head.split(b' ')[1].decode() + ':' + body.decode(errors='replace').strip()

def via_proxy(kind, host, port, path='/'):
    '''A proxy-aware client on cordon's proxy: connect (HTTP CONNECT), forward (plain HTTP) or socks (SOCKS5, remote DNS).
    Returns <status>:<body>: 200:... when through, else the proxy's refusal (403:cordon: ..., socks:2).'''
    s = socket.create_connection(('127.0.0.1', 3128), timeout=10)
    req = ('GET %s HTTP/1.0\r\nHost: %s:%d\r\n\r\n' % (path, host, port)).encode()
    if kind == 'forward':
        s.sendall(('GET http://%s:%d%s HTTP/1.1\r\nHost: %s:%d\r\n\r\n' % (host, port, path, host, port)).encode())
        return _body(_all(s))
    if kind == 'connect':
        s.sendall(('CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n' % (host, port, host, port)).encode())
        head = b''
        while b'\r\n\r\n' not in head:
            c = s.recv(1)
            if not c: break
            head += c
        if b' 200 ' not in head.split(b'\r\n')[0]:
            return _body(head + _all(s))
    else:
        s.sendall(b'\x05\x01\x00')
        assert s.recv(2) == b'\x05\x00'
        s.sendall(b'\x05\x01\x00\x03' + bytes([len(host)]) + host.encode() + port.to_bytes(2, 'big'))
        rep = s.recv(10)
        if rep[1] != 0: return 'socks:%d' % rep[1]
    s.sendall(req)
    return _body(_all(s))
`;

/** Runs Python in the sandbox; returns its stdout lines. */
export async function py(sb: Sandbox, body: string, env: Record<string, string> = {}): Promise<{ lines: string[]; violations: Array<{ kind: string; what: string; detail: string }>; stderr: string; exitCode: number | null }> {
  const r = await sb.exec(['python3', '-c', `${PY}\n${body}`], { env, timeoutMs: 30_000 });
  return { lines: r.stdout.toString().trim().split('\n'), violations: r.violations, stderr: r.stderr.toString(), exitCode: r.exitCode };
}

/** The first line a spawned command prints (trimmed); rejects if the command ends before printing one. */
export function firstLine(proc: SandboxProcess): Promise<string> {
  let out = '';
  return new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    proc.result.then(() => reject(new Error(`ended early: ${out}`)), reject);
  });
}

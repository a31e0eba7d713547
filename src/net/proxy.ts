// cordon – the proxy protocols served on the sandbox's proxy listener: HTTP CONNECT, plain HTTP
// forwarding (absolute-form requests) and SOCKS5 with remote DNS. Parsing only; the supervisor
// decides and connects. Each handler gets the first bytes the client sent and asks `open` for an
// upstream; it writes the protocol's success or refusal and returns the socket to splice, if any.
import type { Socket } from 'node:net';

export type OpenResult =
  | { ok: true; upstream: Socket }
  | { ok: false; denied: boolean; reason: string; code?: string; /** brokered connect: no address of the caller's family */ useRelay?: boolean };
export type Opener = (host: string, port: number, via: string) => Promise<OpenResult>;

const MAX_HEAD = 64 * 1024;

/** Reads from a paused socket until `complete` returns the length of a full head (or rejects). */
export function readHead(sock: Socket, complete: (buf: Buffer) => number, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err?: Error) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onEnd);
      sock.pause();
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (complete(buf) > 0) done();
      else if (buf.length > MAX_HEAD) done(new Error('request head too large'));
    };
    const onEnd = () => done(new Error('client closed before sending a request'));
    const timer = setTimeout(() => done(new Error('timed out waiting for the request')), timeoutMs);
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onEnd);
    sock.resume();
  });
}

function headLength(buf: Buffer): number {
  const i = buf.indexOf('\r\n\r\n');
  return i < 0 ? 0 : i + 4;
}

function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) return undefined;
  return { host: (m[1] ?? m[2] ?? '').toLowerCase(), port };
}

function httpError(sock: Socket, status: string, text: string): void {
  const body = `cordon: ${text}\n`;
  sock.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Asks for an upstream; on refusal answers 403 (policy) or 502 (resolution/connect failure). */
async function openOrRefuse(sock: Socket, open: Opener, hp: { host: string; port: number } | undefined, bad: string, via: string): Promise<Socket | undefined> {
  if (!hp) {
    httpError(sock, '400 Bad Request', bad);
    return undefined;
  }
  const r = await open(hp.host, hp.port, via);
  if (r.ok) return r.upstream;
  httpError(sock, r.denied ? '403 Forbidden' : '502 Bad Gateway', r.reason);
  return undefined;
}

/** HTTP CONNECT or an absolute-form request. Returns the upstream to splice with, or undefined. */
export async function serveHttp(sock: Socket, open: Opener): Promise<{ upstream: Socket; rest: Buffer } | undefined> {
  const buf = await readHead(sock, headLength);
  const end = headLength(buf);
  const head = buf.toString('latin1', 0, end);
  const rest = buf.subarray(end);
  const lines = head.split('\r\n');
  const [method = '', target = '', version = ''] = (lines[0] ?? '').split(' ');
  if (!/^HTTP\/1\.[01]$/.test(version)) {
    httpError(sock, '400 Bad Request', 'not an HTTP/1.x proxy request');
    return undefined;
  }
  if (method === 'CONNECT') {
    const upstream = await openOrRefuse(sock, open, splitHostPort(target, 443), `bad CONNECT target "${target}"`, 'http-connect');
    if (!upstream) return undefined;
    sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    return { upstream, rest };
  }
  const url = /^http:\/\/([^/?#]+)([^#]*)$/i.exec(target);
  if (!url) {
    httpError(sock, '400 Bad Request', `only CONNECT and http:// absolute-form requests are proxied (got "${method} ${target.slice(0, 80)}")`);
    return undefined;
  }
  const upstream = await openOrRefuse(sock, open, splitHostPort(url[1] ?? '', 80), `bad host in "${target.slice(0, 80)}"`, 'http-forward');
  if (!upstream) return undefined;
  // Origin-form request line; proxy headers dropped; one request per connection (the next request
  // on this connection may name another host, so the upstream connection is not reused).
  const headers = lines
    .slice(1)
    .filter((l) => l !== '' && !/^(proxy-connection|proxy-authorization|connection|keep-alive)\s*:/i.test(l));
  const path = url[2] || '/';
  const rewritten = `${method} ${path.startsWith('/') ? path : `/${path}`} ${version}\r\n${headers.join('\r\n')}${headers.length ? '\r\n' : ''}Connection: close\r\n\r\n`;
  upstream.write(rewritten, 'latin1');
  return { upstream, rest };
}

function socksRequestLength(buf: Buffer): number {
  if (buf.length < 5) return 0;
  const atyp = buf[3];
  const len = atyp === 1 ? 10 : atyp === 4 ? 22 : atyp === 3 ? 7 + (buf[4] ?? 0) : -1;
  if (len < 0) return 1; // malformed: let the caller answer
  return buf.length >= len ? len : 0;
}

/** SOCKS5, no authentication, CONNECT only (hostnames resolved by cordon: socks5h). */
export async function serveSocks5(sock: Socket, open: Opener): Promise<{ upstream: Socket; rest: Buffer } | undefined> {
  const greeting = await readHead(sock, (b) => (b.length >= 2 && b.length >= 2 + (b[1] ?? 0) ? 2 + (b[1] ?? 0) : 0));
  const methods = greeting.subarray(2, 2 + (greeting[1] ?? 0));
  if (!methods.includes(0)) {
    sock.end(Buffer.from([5, 0xff]));
    return undefined;
  }
  sock.write(Buffer.from([5, 0]));
  const extra = greeting.subarray(2 + (greeting[1] ?? 0));
  if (extra.length) sock.unshift(extra);
  const req = await readHead(sock, socksRequestLength);
  const reply = (code: number) => Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
  const len = socksRequestLength(req);
  if (req[0] !== 5 || len <= 1) {
    sock.end(reply(1));
    return undefined;
  }
  if (req[1] !== 1) {
    sock.end(reply(7)); // command not supported (BIND, UDP ASSOCIATE)
    return undefined;
  }
  let host: string;
  if (req[3] === 1) host = [...req.subarray(4, 8)].join('.');
  else if (req[3] === 4) {
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(req.readUInt16BE(4 + i).toString(16));
    host = parts.join(':');
  } else host = req.toString('latin1', 5, 5 + (req[4] ?? 0));
  const port = req.readUInt16BE(len - 2);
  const r = await open(host, port, 'socks5');
  if (!r.ok) {
    sock.end(reply(r.denied ? 2 : 5)); // 2: connection not allowed by ruleset; 5: refused
    return undefined;
  }
  sock.write(reply(0));
  return { upstream: r.upstream, rest: req.subarray(len) };
}

// cordon – the network supervisor of one sandboxed command (allowlist mode), running in the caller's
// Node process, in the host network namespace.
//
// The launcher creates the listeners inside the sandbox's empty netns and sends them here over a
// socketpair (SCM_RIGHTS); only this process holds them afterwards. Every path ends in `open()`:
//   capture listener   connections the sandbox's nftables chain redirected (SO_ORIGINAL_DST gives the
//                      pool address → the name the DNS answerer handed it out for, or an IP literal)
//   proxy listener     HTTP CONNECT, plain HTTP forwarding, SOCKS5 (remote DNS)
//   DNS (UDP/TCP)      allowed names → pool addresses; others NXDOMAIN; nothing forwarded
//   brokered connect   the relay-free path: the sandbox's pid 1 performs every connect(); one to a
//                      captured destination is asked here ("NET CONNECT" record on the launcher's
//                      status socket), decided exactly like a captured connection, connected here and
//                      sent back to be installed in place of the caller's socket, so the bytes flow
//                      kernel to kernel (launcher: connect_broker.cc)
// open(): rules (deny wins) → resolve on the host (the policy's `hosts` map first) → refuse
// loopback/private/link-local/metadata answers unless the rule allows private targets or an IP rule
// names the address → connect → splice. Each decision is an audit event; each denial a violation.
// Fail closed: on any internal error (and when the command ends) the listeners are closed, so every
// new connect in the sandbox is refused at once.
import dgram from 'node:dgram';
import { openSync, readFileSync } from 'node:fs';
import { promises as dnsPromises } from 'node:dns';
import net from 'node:net';

import type { NetworkPolicy } from '../policy/policy.js';
import type { Violation } from '../sandbox/result.js';
import { privateReason } from './address.js';
import { loadNetAddon, type NetAddon } from './addon.js';
import { AddressPool, answer } from './dns.js';
import { readHead, serveHttp, serveSocks5, type OpenResult } from './proxy.js';
import { normalizeHost, RuleEngine } from './rules.js';

/** Where the supervisor's audit events go (Sandbox binds this to its pino logger). */
export type NetAudit = (level: 'info' | 'warn' | 'error', event: Record<string, unknown>, msg: string) => void;

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_VIOLATIONS = 1000;
/** Open relayed connections per command (each holds two small native threads). */
const MAX_RELAYS = 512;

const ECONNREFUSED = 111;
/** The reply that sends a brokered connect to the capture + relay path instead (no socket of its family). */
const USE_RELAY = -1;
/** errno values for connect failures on the host, passed on to the sandboxed caller. */
const ERRNO_OF: Record<string, number> = {
  ECONNREFUSED,
  ETIMEDOUT: 110,
  ENETUNREACH: 101,
  EHOSTUNREACH: 113,
  ECONNRESET: 104,
};

const active = new Set<NetSupervisor>();

/**
 * Closes the listeners of every running supervisor, as if the supervisor had died: every new
 * connection and name lookup in those sandboxes fails at once. For tests and emergency stops.
 */
export function abortNetSupervisors(reason = 'aborted'): number {
  const n = active.size;
  for (const s of [...active]) s.abort(reason);
  return n;
}

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function fdOf(s: net.Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** Bytes Node already buffered from a paused socket (they go first on the relay). */
function drain(s: net.Socket): Buffer {
  const parts: Buffer[] = [];
  let chunk: Buffer | null;
  while ((chunk = s.read() as Buffer | null) !== null) parts.push(chunk);
  return Buffer.concat(parts);
}

let nextGroup = 1;

export class NetSupervisor {
  readonly violations: Violation[] = [];
  /** The launcher's end of the channel: pass it in the spawn's stdio at index CHANNEL_FD. */
  readonly childFd: number;
  private readonly addon: NetAddon;
  private readonly engine: RuleEngine;
  private readonly pool = new AddressPool();
  private readonly refusedNames = new Set<string>();
  private readonly servers: Array<net.Server | dgram.Socket> = [];
  /** Relays of this supervisor (native, zero-copy) are reset together on abort. */
  private readonly group = nextGroup++;
  private channel: number;
  private closed = false;

  /** Whether the listeners keep Node alive: not while this is a sandbox built ahead, still idle. */
  private referenced = true;

  constructor(policy: NetworkPolicy, private audit?: NetAudit) {
    this.addon = loadNetAddon();
    this.engine = RuleEngine.for(policy);
    const [ours, theirs] = this.addon.socketpair();
    this.channel = ours;
    this.childFd = theirs;
    if (process.env.CORDON_TEST_NET_FAULT === 'channel') {
      // Fault injection for the fail-closed test: the launcher gets something that is not a socket.
      this.addon.close(theirs);
      this.childFd = openSync('/dev/null', 'r');
    }
    active.add(this);
  }

  /** A sandbox built ahead gets its command (and the caller's audit log) later. */
  setAudit(audit: NetAudit | undefined): void {
    this.audit = audit;
  }

  /** Lets Node exit while this belongs to an idle sandbox built ahead (ref/unref of the listeners). */
  setRef(on: boolean): void {
    this.referenced = on;
    for (const s of this.servers) {
      if (on) s.ref();
      else s.unref();
    }
  }

  /** After spawn: the launcher has its copy of the channel. */
  spawned(): void {
    this.addon.close(this.childFd);
  }

  /**
   * A status record from a launcher (`NET …`); `replyFd` is that launcher's status socket, where its
   * pid 1 waits for the answers to its brokered connects (a session's commands each have their own).
   */
  onRecord(line: string, replyFd = -1): void {
    if (line === 'NET READY') {
      this.receive();
      return;
    }
    const m = /^NET CONNECT (\d+) (\S+) (\d+) ([46])$/.exec(line);
    if (m) void this.onBrokeredConnect(Number(m[1]), m[2] ?? '', Number(m[3]), Number(m[4]) as 4 | 6, replyFd);
  }

  /** Connections brokered so far (relay-free): for tests and diagnostics. */
  brokered = 0;

  /** A connect() from inside that the capture would redirect: decide, connect here, hand the socket over (or an errno). */
  private async onBrokeredConnect(request: number, address: string, port: number, family: 4 | 6, replyFd: number): Promise<void> {
    const reply = (error: number, fd = -1): boolean => {
      try {
        return replyFd >= 0 && this.addon.sendConnected(replyFd, request, error, fd);
      } catch {
        return false;
      }
    };
    if (this.closed) {
      reply(ECONNREFUSED);
      return;
    }
    let r: OpenResult;
    try {
      const host = this.capturedHost(address, port);
      if (host === undefined) {
        reply(ECONNREFUSED);
        return;
      }
      r = await this.open(host, port, 'transparent', family, true);
    } catch (err) {
      this.audit?.('error', { event: 'net.error', error: String(err) }, 'network supervisor error');
      reply(ECONNREFUSED);
      return;
    }
    if (!r.ok) {
      reply(r.useRelay ? USE_RELAY : r.denied ? ECONNREFUSED : (ERRNO_OF[r.code ?? ''] ?? ECONNREFUSED));
      return;
    }
    // Node only ever closes its handle (no shutdown): the connection lives on in the sandbox.
    if (reply(0, fdOf(r.upstream))) this.brokered++;
    else this.audit?.('error', { event: 'net.error', error: 'could not hand a connected socket to the sandbox' }, 'network supervisor error');
    r.upstream.destroy();
  }

  /**
   * The host a captured destination stands for: a pool address maps back to the name cordon's DNS
   * handed it out for (undefined, and a denial, if it handed out no such address); any other address
   * is itself. Shared by the capture listener and brokered connects.
   */
  private capturedHost(address: string, port: number): string | undefined {
    if (!AddressPool.contains(address)) return address;
    const name = this.pool.nameFor(address);
    if (!name) this.deny('transparent', address, port, 'this address was not handed out by cordon\'s DNS');
    return name;
  }

  private receive(): void {
    if (this.closed) return;
    let msg: ReturnType<NetAddon['receiveFds']>;
    try {
      msg = this.addon.receiveFds(this.channel);
    } catch (err) {
      this.abort(`could not receive the listeners: ${String(err)}`);
      return;
    }
    this.addon.close(this.channel);
    this.channel = -1;
    if (!msg) {
      this.abort('the launcher reported its listeners but none arrived');
      return;
    }
    const names = msg.names.split(' ');
    msg.fds.forEach((fd, i) => {
      try {
        this.serve(names[i] ?? '?', fd);
      } catch (err) {
        this.addon.close(fd);
        this.abort(`could not serve ${names[i] ?? '?'}: ${String(err)}`);
      }
    });
  }

  private serve(name: string, fd: number): void {
    if (this.closed) {
      this.addon.close(fd);
      return;
    }
    const onError = (err: Error) => this.abort(`${name} listener failed: ${err.message}`);
    if (name === 'dns-udp') {
      const sock = dgram.createSocket('udp4');
      sock.on('error', onError);
      sock.on('message', (msg, rinfo) => {
        const out = this.dns(msg);
        if (out) sock.send(out, rinfo.port, rinfo.address);
      });
      sock.bind({ fd });
      if (!this.referenced) sock.unref();
      this.servers.push(sock);
      return;
    }
    const handlers: Record<string, (s: net.Socket) => void> = {
      capture4: (s) => this.guard(this.onCapture(s), s),
      capture6: (s) => this.guard(this.onCapture(s), s),
      proxy: (s) => this.guard(this.onProxy(s), s),
      'dns-tcp': (s) => this.onDnsTcp(s),
    };
    const handler = handlers[name];
    if (!handler) throw new Error(`unknown listener "${name}"`);
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, handler);
    server.on('error', onError);
    server.listen({ fd });
    if (!this.referenced) server.unref();
    this.servers.push(server);
  }

  /** A handler that throws is a bug: that connection is reset, and the supervisor keeps going. */
  private guard(p: Promise<void>, s: net.Socket): void {
    p.catch((err: unknown) => {
      this.audit?.('error', { event: 'net.error', error: String(err) }, 'network supervisor error');
      s.resetAndDestroy();
    });
  }

  private deny(via: string, host: string, port: number, reason: string, extra: Record<string, unknown> = {}): void {
    const what = hostPort(host, port);
    this.audit?.('warn', { event: 'net.connect', via, host, port, verdict: 'deny', reason, ...extra }, `network: denied ${what}`);
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push({ kind: 'network', what, detail: reason, source: 'network' });
  }

  private async resolve(host: string): Promise<string[]> {
    const pinned = this.engine.pinned(host);
    if (pinned) return [...pinned];
    const found = await dnsPromises.lookup(host, { all: true, verbatim: true });
    return found.map((a) => a.address);
  }

  /**
   * The one decision point: rules, resolution, SSRF guard, connect. `family` (brokered connects) asks
   * for an address of that family; when the usable addresses have none, nothing is connected or
   * audited and the result says `useRelay` (the caller's connect then goes through the capture).
   */
  /**
   * Decides and connects one destination. `forSandbox`: the socket goes into the sandbox (the
   * broker), so its local port is pinned (see connect()).
   */
  async open(hostIn: string, port: number, via: string, family?: 4 | 6, forSandbox = false): Promise<OpenResult> {
    const host = normalizeHost(hostIn);
    const decision = this.engine.decide(host, port);
    if (!decision.allowed) {
      this.deny(via, host, port, decision.reason, decision.rule ? { rule: decision.rule.source } : {});
      return { ok: false, denied: true, reason: decision.reason };
    }
    const rule = decision.rule;
    const literal = net.isIP(host) !== 0;
    let addresses: string[];
    try {
      addresses = literal ? [host] : await this.resolve(host);
    } catch (err) {
      const reason = `could not resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
      this.audit?.('warn', { event: 'net.connect', via, host, port, verdict: 'error', reason }, `network: ${reason}`);
      return { ok: false, denied: false, reason };
    }
    const refused: string[] = [];
    // An IP/CIDR rule allows exactly the addresses it names; `*` and /0 name no address in
    // particular, so private targets reached through them are guarded like a hostname's.
    const named = literal && rule !== undefined && rule.host !== '*' && !/\/0$/.test(rule.host);
    const usable = addresses.filter((addr) => {
      if (named) return true;
      const denyRule = this.engine.ipRuleDenies(addr, port);
      if (denyRule) {
        refused.push(`${addr} is denied by rule "${denyRule.host}" (${denyRule.source})`);
        return false;
      }
      const why = privateReason(addr);
      if (why && !rule?.allowPrivate && !this.engine.ipRuleAllows(addr, port)) {
        refused.push(`${host} resolves to ${addr}, ${why}: refused (DNS rebinding/SSRF guard; the rule does not allow private targets)`);
        return false;
      }
      return true;
    });
    if (usable.length === 0) {
      const reason = refused.join('; ') || `${host} has no addresses`;
      this.deny(via, host, port, reason, { addresses, rule: rule?.source });
      return { ok: false, denied: refused.length > 0, reason };
    }
    let candidates = usable;
    if (family !== undefined) {
      candidates = usable.filter((a) => net.isIP(a) === family);
      if (candidates.length === 0) return { ok: false, denied: false, reason: `no IPv${family} address`, useRelay: true };
    }
    let lastError = '';
    let lastCode: string | undefined;
    for (const address of candidates) {
      try {
        const upstream = await connect(address, port, forSandbox);
        if (this.closed) {
          upstream.destroy();
          return { ok: false, denied: false, reason: 'the network supervisor is shut down' };
        }
        this.audit?.('info', { event: 'net.connect', via, host, address, port, rule: rule?.source, verdict: 'allow' }, `network: ${hostPort(host, port)} via ${address}`);
        return { ok: true, upstream };
      } catch (err) {
        lastCode = (err as NodeJS.ErrnoException).code;
        lastError = `${address}: ${lastCode ?? String(err)}`;
      }
    }
    const reason = `could not connect to ${hostPort(host, port)} (${lastError})`;
    this.audit?.('warn', { event: 'net.connect', via, host, port, rule: rule?.source, verdict: 'error', reason }, `network: ${reason}`);
    return { ok: false, denied: false, reason, code: lastCode };
  }

  private async onCapture(client: net.Socket): Promise<void> {
    const handle = (client as unknown as { _handle?: { fd?: number } })._handle;
    const dst = handle?.fd !== undefined && handle.fd >= 0 ? this.addon.originalDst(handle.fd) : null;
    if (!dst) {
      this.deny('transparent', client.localAddress ?? '?', client.localPort ?? 0, 'a direct connection to cordon\'s capture port');
      client.resetAndDestroy();
      return;
    }
    const host = this.capturedHost(dst.address, dst.port);
    if (host === undefined) {
      client.resetAndDestroy();
      return;
    }
    const r = await this.open(host, dst.port, 'transparent');
    if (!r.ok || client.destroyed) {
      if (r.ok) r.upstream.destroy();
      client.resetAndDestroy();
      return;
    }
    this.splice(client, r.upstream, Buffer.alloc(0));
  }

  /** Hands both sockets to a native relay and closes Node's handles on them. */
  private splice(client: net.Socket, upstream: net.Socket, rest: Buffer): void {
    const a = fdOf(client);
    const b = fdOf(upstream);
    try {
      if (a < 0 || b < 0) throw new Error('socket without a file descriptor');
      if (this.addon.relayCount(this.group) >= MAX_RELAYS) throw new Error(`more than ${MAX_RELAYS} open connections`);
      client.pause();
      upstream.pause();
      this.addon.relay(a, b, Buffer.concat([rest, drain(client)]), drain(upstream), this.group);
    } catch (err) {
      this.audit?.('error', { event: 'net.error', error: String(err) }, 'could not start a relay');
      client.resetAndDestroy();
      upstream.resetAndDestroy();
      return;
    }
    client.destroy();
    upstream.destroy();
  }

  private async onProxy(client: net.Socket): Promise<void> {
    client.on('error', () => client.destroy());
    const open = (h: string, p: number, via: string) => this.open(h, p, via);
    let served;
    try {
      const first = await readHead(client, (b) => (b.length > 0 ? 1 : 0));
      client.unshift(first);
      served = first[0] === 5 ? await serveSocks5(client, open) : await serveHttp(client, open);
    } catch {
      client.destroy();
      return;
    }
    if (!served) return;
    if (client.destroyed) {
      served.upstream.destroy();
      return;
    }
    this.splice(client, served.upstream, served.rest);
  }

  /** One DNS query → the answer bytes (undefined: not a query, dropped). */
  private dns(msg: Buffer): Buffer | undefined {
    const out = answer(msg, this.pool, (name) => this.engine.nameResolvable(name));
    if (!out) return undefined;
    if (out.answered) {
      this.audit?.('info', { event: 'net.dns', name: out.answered.name, address: out.answered.address, verdict: 'allow' }, `dns: ${out.answered.name}`);
    }
    if (out.refused && !this.refusedNames.has(out.refused.name) && this.refusedNames.size < MAX_VIOLATIONS) {
      this.refusedNames.add(out.refused.name);
      const { name, reason } = out.refused;
      this.audit?.('warn', { event: 'net.dns', name, verdict: 'deny', reason }, `dns: refused ${name}`);
      if (this.violations.length < MAX_VIOLATIONS) {
        this.violations.push({ kind: 'network', what: name, detail: `name lookup refused (NXDOMAIN): ${reason}`, source: 'network' });
      }
    }
    return out.response;
  }

  private onDnsTcp(s: net.Socket): void {
    let buf: Buffer = Buffer.alloc(0);
    s.on('error', () => s.destroy());
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const resp = this.dns(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (!resp) {
          s.destroy();
          return;
        }
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(resp.length);
        s.write(Buffer.concat([prefix, resp]));
      }
      if (buf.length > 70_000) s.destroy();
    });
    s.resume();
  }

  /** Fail closed: close every listener (new connects are refused) and every spliced connection. */
  abort(reason: string): void {
    if (this.closed) return;
    this.audit?.('error', { event: 'net.abort', reason }, `network supervisor stopped: ${reason}`);
    this.shutdown();
  }

  /** The command ended. */
  close(): void {
    this.shutdown();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    active.delete(this);
    if (this.channel >= 0) this.addon.close(this.channel);
    this.channel = -1;
    for (const s of this.servers) s.close();
    this.addon.abortRelays(this.group);
  }
}

/** The host's ephemeral port range (where pinned local ports are drawn from). */
let portRange: [number, number] | undefined;
function ephemeralPorts(): [number, number] {
  if (!portRange) {
    let text = '';
    try {
      text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    } catch {
      text = ''; // the kernel's default below
    }
    const m = /^\s*(\d+)\s+(\d+)/.exec(text);
    portRange = m ? [Number(m[1]), Number(m[2])] : [32768, 60999];
  }
  return portRange;
}

/**
 * Connects to address:port from the host. `pinned`: the socket will live in the sandbox, so it is
 * bound to an explicit local port first. The kernel then keeps that port bound (SOCK_BINDPORT_LOCK)
 * once the connection has ended, so bind() on the dead socket fails (EINVAL) instead of taking a
 * port in the host's network namespace. A port in use is retried with another.
 */
async function connect(address: string, port: number, pinned = false): Promise<net.Socket> {
  if (!pinned) return connectOnce(address, port);
  const [lo, hi] = ephemeralPorts();
  let last: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const localPort = lo + Math.floor(Math.random() * (hi - lo + 1));
    try {
      return await connectOnce(address, port, localPort);
    } catch (err) {
      last = err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL') throw err;
    }
  }
  throw last;
}

function connectOnce(address: string, port: number, localPort?: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: address, port, allowHalfOpen: true, ...(localPort ? { localPort } : {}) });
    s.pause(); // nothing is read into Node: the relay gets every byte
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, CONNECT_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      s.on('error', () => s.destroy()); // until splice() takes over
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

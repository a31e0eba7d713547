// cordon – set relations on compiled network rules: does a rule match an endpoint, does one rule cover another (explain, diff, managed floor).
import { isIP } from 'node:net';

import type { NetRule } from '../policy/policy.js';

function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(ip);
  if (family === 4) return { family: 4, value: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (family !== 6) return undefined;
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBigInt(v4[1] as string)!.value;
    text = text.slice(0, -(v4[1] as string).length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
}

interface Range {
  family: 4 | 6;
  lo: bigint;
  hi: bigint;
}

/** Ranges by host pattern: comparing a profile with a 1,000-rule floor asks about each host often. */
const ranges = new Map<string, Range | null>();

/** The address range of an IP or CIDR host pattern; undefined for hostnames and `*`. */
function ipRange(host: string): Range | undefined {
  let r = ranges.get(host);
  if (r === undefined) {
    r = parseRange(host) ?? null;
    if (ranges.size >= 20_000) ranges.clear();
    ranges.set(host, r);
  }
  return r ?? undefined;
}

function parseRange(host: string): Range | undefined {
  const [ip, bits] = host.split('/') as [string, string | undefined];
  const parsed = ipToBigInt(ip);
  if (!parsed) return undefined;
  const width = parsed.family === 4 ? 32 : 128;
  const prefix = bits === undefined ? width : Number(bits);
  const hostBits = BigInt(width - prefix);
  const lo = (parsed.value >> hostBits) << hostBits;
  return { family: parsed.family, lo, hi: lo + (1n << hostBits) - 1n };
}

/** Whether host pattern `a` matches everything host pattern `b` matches. */
export function hostCovers(a: string, b: string): boolean {
  if (a === '*') return true;
  if (b === '*') return false;
  if (a === b) return true;
  const ra = ipRange(a);
  const rb = ipRange(b);
  if (ra || rb) return !!ra && !!rb && ra.family === rb.family && ra.lo <= rb.lo && rb.hi <= ra.hi;
  if (a.startsWith('*.')) {
    const suffix = a.slice(1); // ".example.com"
    return b.endsWith(suffix);
  }
  return false;
}

/** Whether a host pattern matches a concrete name or address. */
export function hostMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (pattern === '*') return true;
  const rp = ipRange(pattern);
  if (rp) {
    const rh = ipRange(h);
    return !!rh && rh.family === rp.family && rp.lo <= rh.lo && rh.hi <= rp.hi;
  }
  if (pattern.startsWith('*.')) return h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1;
  return h === pattern;
}

export function portsCover(a: NetRule['ports'], b: NetRule['ports']): boolean {
  return b.every(([lo, hi]) => a.some(([alo, ahi]) => alo <= lo && hi <= ahi));
}

export function portMatches(ports: NetRule['ports'], port: number): boolean {
  return ports.some(([lo, hi]) => lo <= port && port <= hi);
}

/** Whether rule `a` matches every endpoint rule `b` matches (and, for allow rules, no more private reach). */
export function ruleCovers(a: NetRule, b: NetRule): boolean {
  return hostCovers(a.host, b.host) && portsCover(a.ports, b.ports) && (!b.allowPrivate || !!a.allowPrivate);
}

/**
 * Rules indexed by host, to ask "does any of them cover this rule?" without trying every one: only
 * rules whose host could cover it by hostCovers are tried (the same host, `*`, a `*.domain` whose
 * suffix the host ends with, or, for an address, the address rules).
 */
export class RuleIndex {
  private readonly byHost = new Map<string, NetRule[]>();
  private readonly any: NetRule[] = [];
  private readonly addresses: NetRule[] = [];

  constructor(readonly rules: readonly NetRule[]) {
    for (const r of rules) {
      if (r.host === '*') this.any.push(r);
      else if (ipRange(r.host)) this.addresses.push(r);
      else {
        const list = this.byHost.get(r.host);
        if (list) list.push(r);
        else this.byHost.set(r.host, [r]);
      }
    }
  }

  /** Whether some rule covers `b` (ruleCovers); `ignorePrivate` drops the allowPrivate condition. */
  covers(b: NetRule, ignorePrivate = false): boolean {
    const ok = (a: NetRule) => hostCovers(a.host, b.host) && portsCover(a.ports, b.ports) && (ignorePrivate || !b.allowPrivate || !!a.allowPrivate);
    if (this.any.some(ok)) return true;
    if (b.host === '*') return false;
    if (ipRange(b.host)) return this.addresses.some(ok);
    if (this.byHost.get(b.host)?.some(ok)) return true;
    // `*.example.com` covers hosts ending in `.example.com`: try the wildcard of every such suffix.
    for (let i = b.host.indexOf('.'); i >= 0; i = b.host.indexOf('.', i + 1)) {
      if (this.byHost.get(`*${b.host.slice(i)}`)?.some(ok)) return true;
    }
    return false;
  }
}

export function ruleMatches(rule: NetRule, host: string, port: number): boolean {
  return hostMatches(rule.host, host) && portMatches(rule.ports, port);
}

export function formatPorts(ports: NetRule['ports']): string {
  if (ports.length === 1 && ports[0]?.[0] === 1 && ports[0]?.[1] === 65535) return '*';
  return ports.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',');
}

export function formatRule(rule: NetRule): string {
  const host = rule.host.includes(':') ? `[${rule.host}]` : rule.host;
  return `${host}:${formatPorts(rule.ports)}`;
}

// cordon – parses network rules written as HOST[:PORTS] (host, *.domain, IPv4/IPv6, CIDR; port, range, list or any).
import { isIP } from 'node:net';

import type { NetRule } from './policy.js';

export type RuleParse = { ok: true; rule: NetRule } | { ok: false; reason: string };

/** Host names as rules may write them (and as every name is checked before it is matched or resolved). */
export const HOSTNAME = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

function parsePorts(text: string | undefined): Array<[number, number]> | string {
  if (text === undefined || text === '' || text === '*') return [[1, 65535]];
  const out: Array<[number, number]> = [];
  for (const part of text.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part.trim());
    if (!m) return `bad port "${part}" (use 443, 8000-8100, 80,443 or *)`;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || lo > hi) return `port range "${part}" is outside 1-65535 or reversed`;
    out.push([lo, hi]);
  }
  return out;
}

function validHost(host: string): string | undefined {
  if (host === '*') return undefined;
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const ip = host.slice(0, slash);
    const bits = Number(host.slice(slash + 1));
    const family = isIP(ip);
    if (family === 0) return `"${ip}" in CIDR "${host}" is not an IP address`;
    const max = family === 4 ? 32 : 128;
    if (!Number.isInteger(bits) || bits < 0 || bits > max) return `prefix length in "${host}" must be 0-${max}`;
    return undefined;
  }
  if (isIP(host)) return undefined;
  if (!HOSTNAME.test(host)) return `"${host}" is not a hostname, *.domain, IP address or CIDR`;
  return undefined;
}

/** Host and ports of a rule text, or why it is not one; parsed once per text (a profile is linted, then compiled). */
type Parsed = { host: string; ports: ReadonlyArray<readonly [number, number]> } | { reason: string };
const parsedTexts = new Map<string, Parsed>();
const MAX_PARSED = 20_000;

/** Parses `example.com`, `*.example.com:443`, `10.0.0.0/8:5432`, `[::1]:8080`, `host:8000-8100`, `*`. */
export function parseNetRule(text: string, action: 'allow' | 'deny', source: string, allowPrivate = false): RuleParse {
  let parsed = parsedTexts.get(text);
  if (!parsed) {
    parsed = parseText(text);
    if (parsedTexts.size >= MAX_PARSED) parsedTexts.clear();
    parsedTexts.set(text, parsed);
  }
  if ('reason' in parsed) return { ok: false, reason: parsed.reason };
  return { ok: true, rule: { action, host: parsed.host, ports: parsed.ports, allowPrivate, source } };
}

function parseText(text: string): Parsed {
  const spec = text.trim();
  let host: string;
  let ports: string | undefined;
  const bracket = /^\[([^\]]+)\](\/\d+)?(?::(.*))?$/.exec(spec);
  if (bracket) {
    host = (bracket[1] ?? '') + (bracket[2] ?? '');
    ports = bracket[3];
  } else if ((spec.match(/:/g) ?? []).length > 1) {
    host = spec; // a bare IPv6 literal or CIDR: no port
  } else {
    const colon = spec.lastIndexOf(':');
    host = colon >= 0 ? spec.slice(0, colon) : spec;
    ports = colon >= 0 ? spec.slice(colon + 1) : undefined;
  }
  host = host.toLowerCase().replace(/\.$/, '');
  const hostError = validHost(host);
  if (hostError) return { reason: hostError };
  const parsedPorts = parsePorts(ports);
  if (typeof parsedPorts === 'string') return { reason: parsedPorts };
  // Frozen, so every rule parsed from this text can share them.
  return { host, ports: Object.freeze(parsedPorts.map((range) => Object.freeze(range))) };
}

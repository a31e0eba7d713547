// cordon – the network rule engine shared by every path (transparent capture, HTTP proxy, SOCKS5, DNS).
//
// Hosts: `example.com` (exactly), `*.example.com` (subdomains only, never example.com itself), an IP
// literal or CIDR (matches IP destinations only), `*` (anything). Ports: inclusive ranges. Deny wins:
// a connection is allowed when some allow rule matches and no deny rule does.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

import type { NetRule, NetworkPolicy } from '../policy/policy.js';
import { HOSTNAME } from '../policy/netrules.js';
import { canonicalIp, CidrSet } from './address.js';

export interface Decision {
  allowed: boolean;
  /** The rule that decided (the matching deny rule, or the allow rule); absent when none matched. */
  rule?: NetRule;
  reason: string;
}

interface CompiledRule {
  rule: NetRule;
  /** For IP/CIDR rules. */
  cidr?: CidrSet;
  /** For `*.domain` rules: the suffix including the leading dot. */
  suffix?: string;
}

function isIpRule(host: string): boolean {
  const slash = host.indexOf('/');
  return isIP(slash >= 0 ? host.slice(0, slash) : host) !== 0;
}

/** Lower-case, without a trailing dot, IPv6 brackets or IPv4-mapped wrapping. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (isIP(h)) return canonicalIp(h);
  // An international name is matched (and resolved) in its ASCII (punycode) form, the only form a
  // rule can be written in; what has no valid ASCII form becomes '' and is refused below.
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(h)) h = domainToASCII(h);
  return h;
}

/**
 * Why a (normalised) name may not be matched or resolved at all: anything outside the rule grammar —
 * a NUL byte (a C resolver would stop there and look up a different name), control characters,
 * spaces, empty labels — is refused before any rule sees it.
 */
export function invalidHost(host: string): string | undefined {
  if (isIP(host)) return undefined;
  return host !== '' && host.length <= 253 && HOSTNAME.test(host) && !host.startsWith('*') ? undefined : `"${printable(host)}" is not a valid host name`;
}

function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).slice(0, 300);
}

function portMatches(rule: NetRule, port: number): boolean {
  return rule.ports.some(([lo, hi]) => port >= lo && port <= hi);
}

function anyPort(rule: NetRule): boolean {
  return rule.ports.some(([lo, hi]) => lo <= 1 && hi >= 65535);
}

/** One engine per network policy (policies are frozen): every command's supervisor shares it. */
const engines = new WeakMap<NetworkPolicy, RuleEngine>();

export class RuleEngine {
  /** The engine of `policy`, compiled once (~0.3 ms for 500 rules, otherwise paid per command). */
  static for(policy: NetworkPolicy): RuleEngine {
    let engine = engines.get(policy);
    if (!engine) engines.set(policy, (engine = new RuleEngine(policy)));
    return engine;
  }

  private readonly rules: CompiledRule[];

  /** The `hosts` map with normalised names. */
  private readonly hosts = new Map<string, readonly string[]>();

  constructor(readonly policy: NetworkPolicy) {
    for (const [name, addrs] of Object.entries(policy.hosts)) this.hosts.set(normalizeHost(name), addrs);
    this.rules = policy.rules.map((rule) => {
      if (rule.host === '*') return { rule };
      if (isIpRule(rule.host)) return { rule, cidr: new CidrSet().add(rule.host) };
      if (rule.host.startsWith('*.')) return { rule, suffix: rule.host.slice(1) };
      return { rule };
    });
  }

  private hostMatches(c: CompiledRule, host: string, hostIsIp: boolean): boolean {
    if (c.rule.host === '*') return true;
    if (c.cidr) return hostIsIp && c.cidr.has(host);
    if (hostIsIp) return false;
    if (c.suffix) return host.endsWith(c.suffix) && host.length > c.suffix.length;
    return host === c.rule.host;
  }

  /** The verdict for a connection to `host` (a name or an IP literal) on `port`. */
  decide(hostIn: string, port: number): Decision {
    const host = normalizeHost(hostIn);
    const invalid = invalidHost(host);
    if (invalid) return { allowed: false, reason: invalid };
    const hostIsIp = isIP(host) !== 0;
    const deny = this.rules.find((c) => c.rule.action === 'deny' && this.hostMatches(c, host, hostIsIp) && portMatches(c.rule, port));
    if (deny) return { allowed: false, rule: deny.rule, reason: `denied by rule "${deny.rule.host}" (${deny.rule.source})` };
    const allow = this.rules.find((c) => c.rule.action === 'allow' && this.hostMatches(c, host, hostIsIp) && portMatches(c.rule, port));
    if (allow) return { allowed: true, rule: allow.rule, reason: `allowed by rule "${allow.rule.host}" (${allow.rule.source})` };
    const otherPort = this.rules.some((c) => c.rule.action === 'allow' && this.hostMatches(c, host, hostIsIp));
    return {
      allowed: false,
      reason: otherPort ? `port ${port} is not allowed for ${host}` : `no allow rule matches ${host}`,
    };
  }

  /**
   * Whether a name gets an answer from the sandbox's DNS: some allow rule names it (on any port) and
   * no deny rule takes every port of it away.
   */
  nameResolvable(nameIn: string): Decision {
    const name = normalizeHost(nameIn);
    if (isIP(name)) return { allowed: false, reason: 'an IP literal is not a name' };
    const invalid = invalidHost(name);
    if (invalid) return { allowed: false, reason: invalid };
    const deny = this.rules.find((c) => c.rule.action === 'deny' && this.hostMatches(c, name, false) && anyPort(c.rule));
    if (deny) return { allowed: false, rule: deny.rule, reason: `denied by rule "${deny.rule.host}" (${deny.rule.source})` };
    const allow = this.rules.find((c) => c.rule.action === 'allow' && this.hostMatches(c, name, false));
    if (allow) return { allowed: true, rule: allow.rule, reason: `allowed by rule "${allow.rule.host}" (${allow.rule.source})` };
    return { allowed: false, reason: 'no allow rule matches this name' };
  }

  /** An IP allow rule (not `*`, not a /0) that names this address and port exactly: private targets it names are fine. */
  ipRuleAllows(ip: string, port: number): NetRule | undefined {
    const found = this.rules.find((c) => c.rule.action === 'allow' && c.cidr && !c.rule.host.endsWith('/0') && c.cidr.has(ip) && portMatches(c.rule, port));
    return found?.rule;
  }

  /** A deny rule matching the resolved address (IP rules and `*`). */
  ipRuleDenies(ip: string, port: number): NetRule | undefined {
    const found = this.rules.find((c) => c.rule.action === 'deny' && (c.cidr ? c.cidr.has(ip) : c.rule.host === '*') && portMatches(c.rule, port));
    return found?.rule;
  }

  /** The policy's pinned addresses for a name (the `hosts` map), if any. */
  pinned(name: string): readonly string[] | undefined {
    return this.hosts.get(normalizeHost(name));
  }
}

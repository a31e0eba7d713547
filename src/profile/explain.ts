// cordon – explains a compiled policy: the effective rules with where each came from, and the verdict for one path or endpoint.
import { realpathSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import type { Policy, RuleOrigin } from '../policy/policy.js';
import { accessOf, isUnder, type Access } from './compare.js';
import { formatRule, ruleMatches } from './netmatch.js';

export interface PathVerdict {
  path: string;
  /** The real path the verdict is about, when it differs (symlinks). */
  resolved?: string;
  access: Access;
  /** The rule that decided, and why in words. */
  rule?: RuleOrigin;
  reason: string;
}

export interface HostVerdict {
  host: string;
  port: number;
  allowed: boolean;
  rule?: RuleOrigin;
  reason: string;
}

const SPECIAL: Record<string, string> = {
  '/tmp': 'a private, size-limited tmpfs (empty at start, writable, not the host /tmp)',
  '/dev': 'a minimal /dev (null, zero, full, random, urandom, tty, pts, shm)',
  '/proc': "the sandbox's own /proc (its processes only)",
};

function deepest(roots: readonly string[], p: string): string | undefined {
  return roots.filter((r) => isUnder(p, r)).sort((a, b) => b.length - a.length)[0];
}

/** Expands `~`, resolves relative paths against the workspace, and follows symlinks where the path exists. */
export function resolveQueryPath(policy: Policy, raw: string): { path: string; resolved?: string } {
  let p = raw === '~' || raw.startsWith('~/') ? policy.home + raw.slice(1) : raw;
  p = path.resolve(policy.workspace, p);
  let real: string | undefined;
  try {
    real = realpathSync(p);
  } catch {
    real = undefined;
  }
  return real && real !== p ? { path: p, resolved: real } : { path: p };
}

export function explainPath(policy: Policy, raw: string): PathVerdict {
  const { path: p, resolved } = resolveQueryPath(policy, raw);
  const target = resolved ?? p;
  const prov = policy.provenance;
  const base = { path: p, ...(resolved ? { resolved } : {}) };
  // The sandbox's own /tmp, /dev and /proc, unless a root of the policy is bound there (a workspace under /tmp).
  const bound = [...policy.fs.read, ...policy.fs.write, ...policy.fs.deny].some((r) => isUnder(target, r) && r !== '/');
  for (const [root, what] of Object.entries(SPECIAL)) {
    if (isUnder(target, root) && !bound) return { ...base, access: root === '/tmp' ? 'write' : 'read', reason: `${root} is ${what}` };
  }
  const access = accessOf(policy, target);
  const deny = policy.fs.deny.filter((d) => isUnder(target, d)).sort((a, b) => a.length - b.length)[0];
  if (deny !== undefined) {
    const rule = prov?.deny[deny] ?? { rule: deny, source: 'filesystem.deny' };
    return { ...base, access, rule, reason: `masked by deny ${deny === target ? '' : `of ${deny} `}(deny wins over read, write and protected)` };
  }
  const write = deepest(policy.fs.write, target);
  if (write !== undefined) {
    const prot = policy.fs.protected.filter((x) => isUnder(target, x)).sort((a, b) => a.length - b.length)[0];
    if (prot !== undefined) {
      return { ...base, access, rule: prov?.protected[prot] ?? { rule: prot, source: 'filesystem.protected' }, reason: `read-only: protected ${prot} inside the writable ${write}` };
    }
    return { ...base, access, rule: prov?.write[write] ?? { rule: write, source: 'filesystem.write' }, reason: `writable: inside ${write}` };
  }
  const read = deepest(policy.fs.read, target);
  if (read !== undefined) return { ...base, access, rule: prov?.read[read] ?? { rule: read, source: 'filesystem.read' }, reason: `read-only: inside ${read}` };
  return { ...base, access, reason: 'absent: not under any read or write root' };
}

/** Parses `host:port`, `[v6]:port`; a missing port is an error (rules are per port). */
export function parseEndpoint(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CordonError('BAD_ARGUMENT', `--host "${text}": expected HOST:PORT (e.g. registry.npmjs.org:443 or [::1]:8080)`);
  }
  return { host: (m[1] as string).toLowerCase(), port };
}

export function explainHost(policy: Policy, host: string, port: number): HostVerdict {
  const net = policy.network;
  const modeRule = policy.provenance?.fields['network.mode'] ?? { rule: `network.mode ${net.mode}`, source: 'default (no network rules)' };
  if (net.mode === 'none') return { host, port, allowed: false, rule: modeRule, reason: 'network mode "none": loopback only' };
  if (net.mode === 'host') return { host, port, allowed: true, rule: modeRule, reason: 'network mode "host": the host network, unpoliced' };
  const deny = net.rules.find((r) => r.action === 'deny' && ruleMatches(r, host, port));
  if (deny) return { host, port, allowed: false, rule: { rule: formatRule(deny), source: deny.source }, reason: `denied by ${formatRule(deny)} (deny wins over allow)` };
  const allow = net.rules.find((r) => r.action === 'allow' && ruleMatches(r, host, port));
  if (allow) {
    const priv = allow.allowPrivate ? '' : '; private, loopback and metadata addresses it resolves to are still refused';
    return { host, port, allowed: true, rule: { rule: formatRule(allow), source: allow.source }, reason: `allowed by ${formatRule(allow)}${priv}` };
  }
  return { host, port, allowed: false, reason: 'no allow rule matches (allowlist mode)' };
}

function fmtBytes(n: number | undefined): string {
  if (n === undefined) return 'unlimited';
  for (const [unit, size] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) if (n >= size && n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

/** The effective policy as text, one rule a line, each with where it came from. */
export function formatPolicy(policy: Policy): string {
  const prov = policy.provenance;
  const lines: string[] = [`profile: ${policy.name}`, `workspace: ${policy.workspace}`, `home: ${policy.home}`, ''];
  const from = (o: RuleOrigin | undefined) => (o ? `   ← ${o.rule === '' ? '' : `${o.rule} `}[${o.source}]` : '');
  const section = (title: string, list: readonly string[], origins: Readonly<Record<string, RuleOrigin>> | undefined) => {
    lines.push(`${title}:`);
    if (list.length === 0) lines.push('  (none)');
    for (const p of list) lines.push(`  ${p}${from(origins?.[p])}`);
  };
  section('read (read-only trees)', policy.fs.read, prov?.read);
  section('write (read-write trees)', policy.fs.write, prov?.write);
  lines.push('  /tmp   ← private tmpfs, always writable');
  section('protected (read-only inside writable trees)', policy.fs.protected, prov?.protected);
  section('deny (masked; deny wins)', policy.fs.deny, prov?.deny);
  lines.push('deny globs (rematched before every command):');
  for (const g of policy.fs.denyGlobs) lines.push(`  ${g}`);
  lines.push('', `network: mode ${policy.network.mode}${from(prov?.fields['network.mode'])}`);
  for (const r of policy.network.rules) lines.push(`  ${r.action} ${formatRule(r)}${r.allowPrivate ? ' (private addresses allowed)' : ''}   ← [${r.source}]`);
  for (const [name, addrs] of Object.entries(policy.network.hosts)) lines.push(`  pin ${name} → ${addrs.join(', ')}`);
  for (const s of policy.network.unixSockets) lines.push(`  unix socket ${s}${from(prov?.read[s])}`);
  lines.push('', 'environment:');
  for (const n of policy.env.allow) lines.push(`  pass ${n}${from(prov?.env[`allow:${n}`])}`);
  for (const n of policy.env.deny) lines.push(`  never ${n}${from(prov?.env[`deny:${n}`])}`);
  for (const n of Object.keys(policy.env.set)) lines.push(`  set ${n}=${JSON.stringify(policy.env.set[n])}${from(prov?.env[`set:${n}`])}`);
  for (const s of policy.secrets ?? []) lines.push(`  secret ${s.name} from ${s.fromEnv ? `$${s.fromEnv}` : s.fromFile} (value redacted from output)   ← [${s.source}]`);
  const l = policy.limits;
  lines.push('', 'limits:');
  lines.push(`  tmpSize ${fmtBytes(l.tmpBytes)}, memory ${fmtBytes(l.memoryBytes)}, pids ${l.pids ?? 'unlimited'}, cpuSeconds ${l.cpuSeconds ?? 'unlimited'}, maxFiles ${l.maxFiles ?? 'default'}, timeout ${l.timeoutMs === undefined ? 'none' : `${l.timeoutMs / 1000} s`}, maxOutput ${fmtBytes(l.maxOutputBytes)}`);
  const weaker = Object.entries(policy.weaker).filter(([, v]) => v);
  lines.push('', `unsafe opt-ins: ${weaker.length ? weaker.map(([k]) => k).join(', ') : 'none'}`);
  return lines.join('\n');
}

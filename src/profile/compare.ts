// cordon – what one compiled policy allows that another does not: the engine behind `profile diff` and the managed floor.
import type { NetRule, Policy, RuleOrigin } from '../policy/policy.js';
import { formatRule, RuleIndex } from './netmatch.js';

export type WideningKind = 'read' | 'write' | 'deny' | 'protected' | 'network' | 'env' | 'secret' | 'limit' | 'unsafe';

/** One thing `wider` allows that `base` does not. */
export interface Widening {
  kind: WideningKind;
  /** The path, endpoint, variable or field. */
  what: string;
  /** A sentence: what is allowed, and what the base says. */
  detail: string;
  /** The rule in the wider policy that allows it, when there is one. */
  rule?: RuleOrigin;
  /** The rule(s) of the base policy it goes beyond (or that it drops). */
  base?: RuleOrigin[];
}

export function isUnder(p: string, root: string): boolean {
  return p === root || root === '/' || p.startsWith(root + '/');
}

/** How a policy treats a path: hidden (absent or masked), read-only, or writable. */
export type Access = 'none' | 'read' | 'write';

const DENY = 1;
const WRITE = 2;
const PROTECTED = 4;
const READ = 8;
/** Per (frozen) policy: its paths with the kinds of rule at each, so a path costs one walk up its ancestors. */
const pathKinds = new WeakMap<Policy, Map<string, number>>();

function kindsOf(policy: Policy): Map<string, number> {
  let kinds = pathKinds.get(policy);
  if (!kinds) {
    kinds = new Map();
    for (const [list, flag] of [[policy.fs.deny, DENY], [policy.fs.write, WRITE], [policy.fs.protected, PROTECTED], [policy.fs.read, READ]] as const) {
      for (const p of list) kinds.set(p, (kinds.get(p) ?? 0) | flag);
    }
    if (Object.isFrozen(policy.fs)) pathKinds.set(policy, kinds);
  }
  return kinds;
}

export function accessOf(policy: Policy, p: string): Access {
  // The kinds of every rule at `p` or above it (isUnder: p itself, every prefix of p before a '/', and /).
  const kinds = kindsOf(policy);
  let f = (kinds.get(p) ?? 0) | (kinds.get('/') ?? 0);
  for (let i = p.lastIndexOf('/'); i >= 0; i = i > 0 ? p.lastIndexOf('/', i - 1) : -1) f |= kinds.get(p.slice(0, i)) ?? 0;
  if (f & DENY) return 'none';
  if (f & WRITE) return f & PROTECTED ? 'read' : 'write';
  if (f & READ) return 'read';
  return 'none';
}

const RANK: Record<Access, number> = { none: 0, read: 1, write: 2 };
const MODE_RANK = { none: 0, allowlist: 1, host: 2 } as const;

/** Whether env pattern `a` (NAME, PREFIX_* or *) matches every name pattern `b` matches. */
export function envCovers(a: string, b: string): boolean {
  if (a === '*') return true;
  if (!a.endsWith('*')) return a === b;
  return b.startsWith(a.slice(0, -1));
}

function rootsOrigins(policy: Policy, kind: 'read' | 'write', p: string): RuleOrigin[] {
  const roots = kind === 'read' ? [...policy.fs.read, ...policy.fs.write] : policy.fs.write;
  const covering = roots.filter((r) => isUnder(p, r));
  const list = covering.length ? covering : roots;
  const prov = policy.provenance;
  return list.map((r) => prov?.[kind === 'read' && !policy.fs.write.includes(r) ? 'read' : 'write'][r] ?? { rule: r, source: r });
}

/** Everything `wider` allows that `base` does not (an empty list means `wider` is at most `base`). */
export function widenings(base: Policy, wider: Policy): Widening[] {
  const out: Widening[] = [];
  const bp = base.provenance;
  const wp = wider.provenance;

  // Filesystem: the roots the wider policy grants, and the base's restrictions it lifts.
  const candidates = new Set<string>([...wider.fs.read, ...wider.fs.write, ...wider.fs.protected, ...base.fs.deny, ...base.fs.protected]);
  for (const p of [...candidates].sort()) {
    const a = accessOf(base, p);
    const b = accessOf(wider, p);
    if (RANK[b] <= RANK[a]) continue;
    const deniedBy = base.fs.deny.find((d) => isUnder(p, d));
    const protectedBy = base.fs.protected.find((x) => isUnder(p, x));
    const rule = b === 'write' ? wp?.write[wider.fs.write.find((w) => isUnder(p, w)) ?? ''] : wp?.read[wider.fs.read.find((r) => isUnder(p, r)) ?? ''] ?? wp?.write[wider.fs.write.find((w) => isUnder(p, w)) ?? ''];
    if (deniedBy !== undefined) {
      out.push({ kind: 'deny', what: p, detail: `${b === 'write' ? 'writes' : 'reads'} ${p}, which the base masks`, ...(rule ? { rule } : {}), base: [bp?.deny[deniedBy] ?? { rule: deniedBy, source: deniedBy }] });
    } else if (a === 'read' && b === 'write' && protectedBy !== undefined) {
      out.push({ kind: 'protected', what: p, detail: `writes ${p}, which the base keeps read-only`, ...(rule ? { rule } : {}), base: [bp?.protected[protectedBy] ?? { rule: protectedBy, source: protectedBy }] });
    } else {
      const kind = b === 'write' ? 'write' : 'read';
      out.push({ kind, what: p, detail: `${kind === 'write' ? 'writes' : 'reads'} ${p}, outside the base's ${kind === 'write' ? 'writable' : 'readable'} trees`, ...(rule ? { rule } : {}), base: rootsOrigins(base, kind, p) });
    }
  }

  // Network.
  const modeOrigin = (p: Policy) => p.provenance?.fields['network.mode'] ?? { rule: `network.mode ${p.network.mode}`, source: 'default' };
  if (MODE_RANK[wider.network.mode] > MODE_RANK[base.network.mode]) {
    out.push({ kind: 'network', what: `network.mode ${wider.network.mode}`, detail: `network mode "${wider.network.mode}" where the base has "${base.network.mode}"`, rule: modeOrigin(wider), base: [modeOrigin(base)] });
  }
  const allows = (p: Policy) => (p.network.mode === 'allowlist' ? p.network.rules.filter((r) => r.action === 'allow') : []);
  const ruleOrigin = (r: NetRule): RuleOrigin => ({ rule: formatRule(r), source: r.source });
  if (wider.network.mode === 'allowlist' && base.network.mode !== 'host') {
    const baseAllows = new RuleIndex(allows(base));
    for (const r of allows(wider)) {
      if (baseAllows.covers(r)) continue;
      out.push({ kind: 'network', what: formatRule(r), detail: `allows ${formatRule(r)}${r.allowPrivate ? ' (private addresses too)' : ''}, which no base allow rule covers`, rule: ruleOrigin(r), base: baseAllows.rules.map(ruleOrigin) });
    }
  }
  if (wider.network.mode !== 'none') {
    const wDeny = new RuleIndex(wider.network.rules.filter((r) => r.action === 'deny'));
    for (const d of base.network.rules.filter((r) => r.action === 'deny')) {
      if (wDeny.covers(d, true)) continue;
      out.push({ kind: 'network', what: formatRule(d), detail: `does not deny ${formatRule(d)}, which the base denies`, base: [ruleOrigin(d)] });
    }
    for (const [name, addrs] of Object.entries(wider.network.hosts)) {
      if (JSON.stringify(base.network.hosts[name] ?? null) === JSON.stringify(addrs)) continue;
      out.push({ kind: 'network', what: name, detail: `pins ${name} to ${addrs.join(', ')}, which the base does not` });
    }
  }

  // Environment and secrets.
  const envRule = (p: Policy, key: string): RuleOrigin | undefined => p.provenance?.env[key];
  for (const pattern of wider.env.allow) {
    if (base.env.allow.some((b) => envCovers(b, pattern))) continue;
    const rule = envRule(wider, `allow:${pattern}`);
    out.push({ kind: 'env', what: pattern, detail: `passes the caller's ${pattern} variable(s), which the base does not`, ...(rule ? { rule } : {}), base: base.env.allow.map((n) => envRule(base, `allow:${n}`) ?? { rule: n, source: 'env.allow' }) });
  }
  for (const d of base.env.deny) {
    if (wider.env.deny.some((w) => envCovers(w, d))) continue;
    out.push({ kind: 'env', what: d, detail: `does not deny ${d}, which the base denies`, base: [envRule(base, `deny:${d}`) ?? { rule: d, source: 'env.deny' }] });
  }
  const baseSecrets = new Set((base.secrets ?? []).map((s) => s.name));
  for (const s of wider.secrets ?? []) {
    if (baseSecrets.has(s.name) || base.env.allow.some((b) => envCovers(b, s.name))) continue;
    out.push({ kind: 'secret', what: s.name, detail: `hands the secret ${s.name} to commands, which the base neither declares nor lets through env.allow`, rule: { rule: s.name, source: s.source } });
  }

  // Limits: a limit the base sets must be set no higher.
  const limits: Array<[keyof Policy['limits'], string]> = [
    ['tmpBytes', 'tmpSize'],
    ['memoryBytes', 'memory'],
    ['pids', 'pids'],
    ['cpuSeconds', 'cpuSeconds'],
    ['maxFiles', 'maxFiles'],
    ['timeoutMs', 'timeout'],
    ['maxOutputBytes', 'maxOutput'],
  ];
  for (const [key, field] of limits) {
    const b = base.limits[key];
    const w = wider.limits[key];
    if (b === undefined || (w !== undefined && w <= b)) continue;
    const bRule = bp?.fields[`limits.${field}`];
    const wRule = wp?.fields[`limits.${field}`];
    out.push({ kind: 'limit', what: `limits.${field}`, detail: `limits.${field} is ${w === undefined ? 'unlimited' : w} where the base caps it at ${b}`, ...(wRule ? { rule: wRule } : {}), ...(bRule ? { base: [bRule] } : {}) });
  }

  // Explicit opt-ins to weaker layers.
  for (const key of ['allowMissingLandlock', 'allowBroadWrite', 'allowAnyHost', 'allowAllEnv'] as const) {
    if (!wider.weaker[key] || base.weaker[key]) continue;
    const wRule = wp?.fields[`unsafe.${key}`];
    out.push({ kind: 'unsafe', what: `unsafe.${key}`, detail: `opts in to unsafe.${key}, which the base does not`, ...(wRule ? { rule: wRule } : {}) });
  }
  return out;
}

/** `reads /x (from file:3:5 filesystem.read[1]); base: …`, one line. */
export function formatWidening(w: Widening): string {
  const from = w.rule ? ` [${w.rule.source}]` : '';
  const base = w.base?.length ? `; base: ${w.base.slice(0, 4).map((o) => `${o.rule} [${o.source}]`).join(', ')}${w.base.length > 4 ? ', …' : ''}` : '';
  return `${w.kind}: ${w.detail}${from}${base}`;
}

// cordon – compiles a loaded Profile into a Policy: variables and ~ expanded, paths resolved, secrets and globs applied, provenance kept.
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CordonError } from '../errors.js';
import { describeOrigin, originOf, type Profile } from '../profile/load.js';
import { expandedPathProblem, GLOB_CHARS, isAnyHost, isBroadWrite, lintDocument, type Problem } from '../profile/rules.js';
import { formatRule } from '../profile/netmatch.js';
import { formatPath } from '../profile/source.js';
import {
  DEFAULT_ENV_ALLOW,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TMP_BYTES,
  HOME_SECRETS,
  HOME_SECRET_GLOBS,
  SYSTEM_READ,
  SYSTEM_SECRETS,
  TREE_SECRET_GLOBS,
  TREE_SECRET_PRUNE,
} from './defaults.js';
import { inodeOf, passFullyWatched } from './dircache.js';
import { changeCount } from './dirwatch.js';
import { deepFreeze } from './freeze.js';
import { GlobIndex } from './globscan.js';
import { findSockets } from './sockets.js';
import { parseNetRule } from './netrules.js';
import { realPaths } from './realpaths.js';
import type { NetRule, Policy, RuleOrigin, SecretRef } from './policy.js';
import { parseSize } from './sizes.js';

export interface CompileOptions {
  /** The workspace directory (must exist). */
  workspace: string;
  /** The caller's home; defaults to os.homedir(). */
  home?: string;
  /** Environment used for ${env:NAME}; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Cache for deny-glob scans, shared across compiles of one Sandbox (see refreshGlobDenies). */
  globIndex?: GlobIndex;
}

interface Ctx {
  workspace: string;
  home: string;
  env: NodeJS.ProcessEnv;
  source: string;
}

function failAt(where: string, raw: string, problem: Problem): never {
  throw new CordonError('POLICY_INVALID', `${where}: "${raw}": ${problem.message}`, { path: where, hint: problem.hint });
}

const NOT_NORMAL = /\/\/|\/\.(?:\/|$)|.\/$/;

/** Expands ~ and ${…} variables; the result must be an absolute path without `..` segments. `field` names the entry in errors. */
export function expandPath(raw: string, ctx: Ctx, field: string | (() => string)): string {
  function fail(r: string, problem: Problem): never {
    return failAt(typeof field === 'string' ? field : field(), r, problem);
  }
  let p = raw;
  if (p === '~' || p.startsWith('~/')) p = ctx.home + p.slice(1);
  if (p.includes('${')) p = p.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    if (name === 'workspace') return ctx.workspace;
    if (name === 'home') return ctx.home;
    if (name === 'tmp') return '/tmp';
    if (name.startsWith('env:')) {
      const v = ctx.env[name.slice(4)];
      if (v === undefined || v === '') {
        fail(raw, { message: `environment variable ${name.slice(4)} is not set`, hint: 'set it in the environment cordon runs in, or drop the rule' });
      }
      return v;
    }
    fail(raw, { message: `unknown variable \${${name}}`, hint: 'known variables: ${workspace}, ${home}, ${tmp}, ${env:NAME}' });
  });
  const problem = expandedPathProblem(p);
  if (problem) fail(raw, problem);
  // Already normal (the common case): no `//`, no `.` segment, no trailing slash.
  if (!NOT_NORMAL.test(p)) return p;
  return path.normalize(p).replace(/(.)\/$/, '$1');
}

function realOrUndefined(p: string): string | undefined {
  try {
    return realpathSync.native(p); // one realpath(3) call, not an lstat per component
  } catch {
    return undefined;
  }
}

function isUnder(p: string, root: string): boolean {
  return p === root || root === '/' || p.startsWith(root + '/');
}

/** Finds files under `roots` whose path matches one of `globs` (no symlinks followed). */
export function matchGlobs(roots: readonly string[], globs: readonly string[], limit = 200_000): string[] {
  return new GlobIndex(limit).match(roots, globs);
}

/** What compile needs to redo the glob part of `fs.deny` later without recompiling. */
interface GlobPlan {
  /** Deny entries that are not glob hits. */
  literal: readonly string[];
  scans: ReadonlyArray<{ roots: readonly string[]; glob: string; origin: RuleOrigin; prune?: readonly string[] }>;
  /** Trees whose unix sockets are masked (the home when readable): re-walked with the globs, so a socket that appears later is masked from the next command on. */
  socketRoots: ReadonlyArray<{ root: string; origin: RuleOrigin }>;
  allowSecrets: ReadonlySet<string>;
  index: GlobIndex;
  /** What the hits depend on (scans, socket roots, allowed secrets), as a key of `quietWalks`; made on first use. */
  key?: string;
}

/**
 * The last walk's hits per glob plan key, when every directory it listed was watched (dirwatch.ts):
 * valid while no watched directory changed and the roots are the same directories. Shared by every
 * compile of the process, so a second Sandbox with the same profile walks nothing.
 */
interface QuietWalk {
  changes: number;
  roots: ReadonlyMap<string, bigint | undefined>;
  hits: Map<string, RuleOrigin>;
}
const quietWalks = new Map<string, QuietWalk>();
const MAX_QUIET_WALKS = 64;

function planKey(plan: GlobPlan): string {
  plan.key ??= JSON.stringify([plan.scans.map((s) => [s.roots, s.glob, s.prune, s.origin]), plan.socketRoots, [...plan.allowSecrets]]);
  return plan.key;
}

function rootInodes(roots: readonly string[]): Map<string, bigint | undefined> {
  return new Map(roots.map((r) => [r, inodeOf(r)]));
}
/** Each compiled policy's glob plan, with the glob hits its deny list holds. */
const globPlans = new WeakMap<Policy, { plan: GlobPlan; hits: ReadonlySet<string> }>();

/** The glob hits now; `pass` as in dircache.ts (one per compile, one per refresh). */
function globHits(plan: GlobPlan, pass: object): Map<string, RuleOrigin> {
  // Nothing changed under the walked trees since the last walk: its hits stand (one stat per root).
  const changes = changeCount();
  const roots = [...new Set([...plan.scans.flatMap((s) => s.roots), ...plan.socketRoots.map((s) => s.root)])];
  const rootsNow = changes === undefined ? undefined : rootInodes(roots);
  const q = rootsNow && quietWalks.get(planKey(plan));
  if (q && rootsNow && q.changes === changes && roots.every((r) => q.roots.get(r) === rootsNow.get(r))) return new Map(q.hits);
  const hits = new Map<string, RuleOrigin>();
  // One walk per set of roots, with all of its globs; each hit is attributed to its first glob.
  const groups = new Map<string, GlobPlan['scans'][number][]>();
  for (const s of plan.scans) {
    const key = [...s.roots, '\u0001', ...(s.prune ?? [])].join('\u0000');
    const group = groups.get(key);
    if (group) group.push(s);
    else groups.set(key, [s]);
  }
  for (const scans of groups.values()) {
    const found = plan.index.matchAttributed(scans[0]!.roots, scans.map((s) => s.glob), scans[0]!.prune, pass);
    for (const [hit, gi] of found) {
      if (plan.allowSecrets.has(hit) || hits.has(hit)) continue;
      hits.set(hit, (scans[gi] ?? scans[0]!).origin);
    }
  }
  for (const { root, origin } of plan.socketRoots) {
    for (const sock of findSockets(root, undefined, undefined, pass).sockets) {
      if (!plan.allowSecrets.has(sock) && !hits.has(sock)) hits.set(sock, origin);
    }
  }
  if (changes !== undefined && rootsNow) {
    const key = planKey(plan);
    quietWalks.delete(key); // re-inserted last: the map stays in least-recently-walked order
    if (passFullyWatched(pass)) {
      if (quietWalks.size >= MAX_QUIET_WALKS) quietWalks.delete(quietWalks.keys().next().value as string);
      quietWalks.set(key, { changes, roots: rootsNow, hits: new Map(hits) });
    }
  }
  return hits;
}

/**
 * Brings the glob part of a policy's deny list up to date (files created or removed since it was
 * compiled). Returns the same object when nothing changed; otherwise a new frozen Policy.
 * The cost when nothing changed: an inotify drain and one stat per scanned root (dirwatch.ts), or one
 * stat per directory under the scanned trees where inotify cannot vouch for them.
 */
export function refreshGlobDenies(policy: Policy): Policy {
  const known = globPlans.get(policy);
  if (!known || (known.plan.scans.length === 0 && known.plan.socketRoots.length === 0)) return policy;
  const { plan } = known;
  const hits = globHits(plan, {});
  // The same hits make the same deny list (literal ∪ hits): nothing to rebuild.
  if (hits.size === known.hits.size && [...hits.keys()].every((h) => known.hits.has(h))) return policy;
  const deny = [...new Set([...plan.literal, ...hits.keys()])].sort();
  const provenance = policy.provenance && { ...policy.provenance, deny: { ...policy.provenance.deny, ...Object.fromEntries(hits) } };
  const next = deepFreeze({ ...policy, fs: { ...policy.fs, deny }, ...(provenance ? { provenance } : {}) });
  globPlans.set(next, { plan, hits: new Set(hits.keys()) });
  return next;
}

export function compilePolicy(profile: Profile, options: CompileOptions): Policy {
  const workspace = realOrUndefined(options.workspace);
  if (!workspace) {
    throw new CordonError('BAD_ARGUMENT', `workspace does not exist: ${options.workspace}`);
  }
  const home = realOrUndefined(options.home ?? os.homedir()) ?? options.home ?? os.homedir();
  const ctx: Ctx = { workspace, home, env: options.env ?? process.env, source: profile.files.at(-1) ?? profile.name };
  const doc = profile.doc;
  const fs = doc.filesystem ?? {};
  const unsafe = doc.unsafe ?? {};

  // Entry-level problems (API and CLI overrides never went through the file loader).
  const problems = lintDocument(doc);
  if (problems.length > 0) {
    const located = (path: (string | number)[]) => {
      const [section, field, i] = path;
      const list = (doc as unknown as Record<string, Record<string, unknown> | undefined>)[String(section)]?.[String(field)];
      return Array.isArray(list) && typeof i === 'number' ? where(`${String(section)}.${String(field)}`, String(list[i])) : where(formatPath(path));
    };
    const lines = problems.map((p) => `${located(p.path)}: ${p.message}`);
    throw new CordonError('POLICY_INVALID', lines.join('\n'), { path: formatPath(problems[0]!.path), hint: problems[0]!.hint });
  }

  /** `file:line:col filesystem.write[0]` of an entry, or the field name when its origin is unknown. */
  function where(field: string, value?: string): string {
    const base = field.endsWith(']') ? field.replace(/\[\d+\]$/, '') : field;
    const o = originOf(profile, base, value) ?? originOf(profile, field);
    return o ? describeOrigin(o) : `${ctx.source}: ${field}`;
  }
  const origin = (field: string, value: string): RuleOrigin => ({ rule: value, source: where(field, value) });
  const builtin = (what: string, value: string): RuleOrigin => ({ rule: value, source: `built-in: ${what}` });

  const expandAll = (list: readonly string[] | undefined, field: string): Array<[string, string]> =>
    (list ?? []).map((raw) => [raw, expandPath(raw, ctx, () => where(field, raw))]);
  const literal = (list: Array<[string, string]>, field: string): Array<[string, string]> => {
    for (const [raw, p] of list) if (GLOB_CHARS.test(p)) failAt(where(field, raw), raw, { message: `globs are only allowed in filesystem.deny` });
    return list;
  };

  // Read and write roots are resolved to real paths; a root that does not exist grants nothing.
  const readRaw = literal(
    fs.read ? expandAll(fs.read, 'filesystem.read') : SYSTEM_READ.map((p): [string, string] => [p, p]),
    'filesystem.read',
  );
  const writeRaw = literal(expandAll(fs.write, 'filesystem.write'), 'filesystem.write');
  for (const [raw, p] of writeRaw) {
    if (isBroadWrite(p, home) && !unsafe.allowBroadWrite) {
      failAt(where('filesystem.write', raw), raw, {
        message: `makes ${p === '/' ? 'the whole host' : `${p} (a system or home tree)`} writable`,
        hint: 'name the directories that need writing; to mean it, set "unsafe": {"allowBroadWrite": true}',
      });
    }
  }
  const prov = { read: {} as Record<string, RuleOrigin>, write: {} as Record<string, RuleOrigin>, protected: {} as Record<string, RuleOrigin>, deny: {} as Record<string, RuleOrigin> };
  // One look at the filesystem for the whole compile: each directory is stat'ed once (dircache.ts).
  const pass = {};
  const links = new Set<string>(); // the paths resolved below that are symlinks themselves
  const rootReals = realPaths([...readRaw, ...writeRaw].map(([, p]) => p), pass, links);
  const resolveRoots = (list: Array<[string, string]>, field: 'read' | 'write', dflt: boolean): string[] => {
    const out = new Set<string>();
    for (const [raw, p] of list) {
      const real = rootReals.get(p);
      if (!real) continue;
      out.add(real);
      prov[field][real] ??= dflt ? builtin('default system paths (no filesystem.read in the profile)', raw) : origin(`filesystem.${field}`, raw);
    }
    return [...out].sort();
  };
  // ${tmp} names the sandbox's private /tmp, which is always writable; never bind the host's.
  const write = resolveRoots(writeRaw, 'write', false).filter((p) => p !== '/tmp');
  const read = resolveRoots(readRaw, 'read', !fs.read);
  // Read roots that are symlinks (merged /usr: /bin -> usr/bin) stay visible as links.
  const readSet = new Set(read);
  for (const [raw, p] of readRaw) {
    if (links.has(p) && !readSet.has(p)) {
      readSet.add(p);
      read.push(p);
      prov.read[p] ??= fs.read ? origin('filesystem.read', raw) : builtin('default system paths', raw);
    }
  }
  read.sort();

  // Protected paths: a symlink there could redirect the host's later use of it; refuse to run.
  const protectedPaths = literal(expandAll(fs.protected, 'filesystem.protected'), 'filesystem.protected');
  realPaths(protectedPaths.map(([, p]) => p), pass, links);
  for (const [raw, p] of protectedPaths) {
    prov.protected[p] ??= origin('filesystem.protected', raw);
    // A missing path is protected all the same (nothing to follow).
    if (links.has(p)) {
      throw new CordonError('POLICY_INVALID', `${where('filesystem.protected', raw)}: protected path is a symlink: ${p} -> refusing to run`, {
        path: 'filesystem.protected',
        hint: 'remove the link or its target from the workspace',
      });
    }
  }

  // Deny: literal paths (and their real targets), globs, and the built-in secrets.
  const allowSecrets = new Set(expandAll(fs.allowSecrets, 'filesystem.allowSecrets').map(([, p]) => p));
  const deny = new Set<string>();
  // prune: directory names the walk does not enter (built-in dotenv globs only; a profile's own globs are exact).
  const denyGlobs: Array<{ glob: string; origin: RuleOrigin; prune?: readonly string[] }> = [];
  // Literal paths are denied together with their real targets, resolved in one batch (realpaths.ts).
  const literalDeny: Array<[string, RuleOrigin]> = [];
  const addDeny = (p: string, o: RuleOrigin) => {
    if (GLOB_CHARS.test(p)) denyGlobs.push({ glob: p, origin: o });
    else literalDeny.push([p, o]);
  };
  for (const [raw, p] of expandAll(fs.deny, 'filesystem.deny')) addDeny(p, origin('filesystem.deny', raw));
  for (const rel of HOME_SECRETS) {
    const p = path.join(home, rel);
    if (!allowSecrets.has(p)) addDeny(p, builtin('home credentials (HOME_SECRETS)', `~/${rel}`));
  }
  for (const p of SYSTEM_SECRETS) if (!allowSecrets.has(p)) addDeny(p, builtin('system secrets (SYSTEM_SECRETS)', p));
  // Unix sockets in a readable home (agents, daemons) would be connectable by the same uid: mask
  // them, found with the glob hits (globHits), so one that appears later is masked from the next
  // command on.
  const socketRoots = [...read, ...write].some((r) => isUnder(home, r)) ? [{ root: home, origin: builtin('unix sockets in the home', `${home}/**`) }] : [];
  const reals = realPaths(literalDeny.map(([p]) => p), pass);
  for (const [p, o] of literalDeny) {
    deny.add(p);
    prov.deny[p] ??= o;
    const real = reals.get(p);
    if (real && real !== p) {
      deny.add(real);
      prov.deny[real] ??= o;
    }
  }
  // Dotenv globs cover the workspace and the writable trees; not a broad root (/, /usr, the home): scanning those is unbounded.
  const globRoots = [...new Set([...write.filter((w) => !isBroadWrite(w, home)), workspace])];
  for (const g of TREE_SECRET_GLOBS) for (const root of globRoots) denyGlobs.push({ glob: path.join(root, g), origin: builtin('dotenv files (TREE_SECRET_GLOBS)', g), prune: TREE_SECRET_PRUNE });
  if ([...read, ...write].some((r) => isUnder(home, r))) {
    for (const g of HOME_SECRET_GLOBS) if (!allowSecrets.has(path.join(home, g))) denyGlobs.push({ glob: path.join(home, g), origin: builtin('dotenv files in the home (HOME_SECRET_GLOBS)', g) });
  }
  const scans: Array<{ roots: string[]; glob: string; origin: RuleOrigin; prune?: readonly string[] }> = [];
  const visibleRoots = [...read, ...write];
  for (const { glob, origin: o, prune } of denyGlobs) {
    // Globs with a literal directory prefix are matched only below it, and only where it is visible.
    const segs = glob.split('/');
    const base = segs.findIndex((seg) => GLOB_CHARS.test(seg));
    const prefix = segs.slice(0, base).join('/') || '/';
    const roots = visibleRoots.filter((r) => isUnder(prefix, r) || isUnder(r, prefix));
    if (roots.length === 0) continue;
    scans.push({ roots: [...new Set(roots.map((r) => (isUnder(prefix, r) ? prefix : r)))], glob, origin: o, prune });
  }
  const plan: GlobPlan = { literal: [...deny], scans, socketRoots, allowSecrets, index: options.globIndex ?? new GlobIndex() };
  const hits = globHits(plan, pass);
  for (const [hit, o] of hits) {
    deny.add(hit);
    prov.deny[hit] ??= o;
  }

  const net = doc.network ?? {};
  const rules: NetRule[] = [];
  const addRules = (list: readonly string[] | undefined, action: 'allow' | 'deny') =>
    (list ?? []).forEach((text, i) => {
      const src = where(`network.${action}[${i}]`, text);
      const parsed = parseNetRule(text, action, src, net.allowPrivate ?? false);
      if (!parsed.ok) failAt(src, text, { message: parsed.reason });
      if (action === 'allow' && isAnyHost(parsed.rule.host) && !unsafe.allowAnyHost) {
        failAt(src, text, { message: 'allows every host', hint: 'to mean it, set "unsafe": {"allowAnyHost": true}' });
      }
      rules.push(parsed.rule);
    });
  addRules(net.allow, 'allow');
  addRules(net.deny, 'deny');
  const mode = net.mode ?? (rules.some((r) => r.action === 'allow') ? 'allowlist' : 'none');
  const firstAllow = rules.find((r) => r.action === 'allow');
  if (mode === 'none' && firstAllow) {
    // Inert rules are a reviewer's trap: the profile reads as if it allowed something.
    failAt(firstAllow.source, formatRule(firstAllow), {
      message: `network allow rules have no effect: network.mode is "none" (${where('network.mode')})`,
      hint: 'set "network": {"mode": "allowlist"} to use them, or drop them',
    });
  }

  const limits = doc.limits ?? {};
  const size = (v: number | string | undefined, field: string, dflt?: number): number | undefined => {
    if (v === undefined) return dflt;
    const n = parseSize(v);
    if (n === undefined) failAt(where(`limits.${field}`), String(v), { message: 'bad size', hint: 'a size like 512m, 2g or 65536' });
    return n;
  };

  // Environment and secrets.
  const envAllow = [...new Set([...DEFAULT_ENV_ALLOW, ...(doc.env?.allow ?? [])])];
  const envDeny = doc.env?.deny ?? [];
  const envProv: Record<string, RuleOrigin> = {};
  for (const n of DEFAULT_ENV_ALLOW) envProv[`allow:${n}`] = builtin('default environment (DEFAULT_ENV_ALLOW)', n);
  for (const n of doc.env?.allow ?? []) envProv[`allow:${n}`] = origin('env.allow', n);
  for (const n of envDeny) envProv[`deny:${n}`] = origin('env.deny', n);
  for (const n of Object.keys(doc.env?.set ?? {})) envProv[`set:${n}`] = { rule: n, source: where(`env.set.${n}`) };
  const secrets: SecretRef[] = [];
  for (const [name, src] of Object.entries(doc.secrets ?? {})) {
    const source = where(`secrets.${name}`);
    const matchesDeny = envDeny.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
    if (matchesDeny) failAt(source, name, { message: 'the secret is handed over as a variable that env.deny refuses', hint: 'rename the secret or drop the env.deny entry' });
    secrets.push(
      'fromEnv' in src
        ? { name, fromEnv: src.fromEnv, source }
        : { name, fromFile: expandPath(src.fromFile, ctx, `${source}.fromFile`), source },
    );
  }

  const fields: Record<string, RuleOrigin> = {};
  for (const key of ['network.mode', 'network.allowPrivate', ...Object.keys(limits).map((k) => `limits.${k}`), ...Object.keys(unsafe).map((k) => `unsafe.${k}`)]) {
    const o = originOf(profile, key);
    const [section, name] = key.split('.') as [string, string];
    const value = (doc as unknown as Record<string, Record<string, unknown> | undefined>)[section]?.[name];
    if (o) fields[key] = { rule: `${key}: ${JSON.stringify(value)}`, source: describeOrigin(o) };
  }

  const policy: Policy = {
    name: profile.name,
    workspace,
    home,
    fs: {
      read,
      write,
      protected: [...new Set(protectedPaths.map(([, p]) => p))].sort(),
      deny: [...deny].sort(),
      denyGlobs: denyGlobs.map((g) => g.glob),
    },
    network: { mode, rules, hosts: net.hosts ?? {} },
    env: { allow: envAllow, deny: envDeny, set: { ...(doc.env?.set ?? {}) } },
    limits: {
      tmpBytes: size(limits.tmpSize, 'tmpSize', DEFAULT_TMP_BYTES) ?? DEFAULT_TMP_BYTES,
      memoryBytes: size(limits.memory, 'memory'),
      pids: limits.pids,
      cpuSeconds: limits.cpuSeconds,
      maxFiles: limits.maxFiles,
      timeoutMs: limits.timeout === undefined ? undefined : limits.timeout * 1000,
      maxOutputBytes: size(limits.maxOutput, 'maxOutput', DEFAULT_MAX_OUTPUT_BYTES),
    },
    weaker: {
      allowMissingLandlock: unsafe.allowMissingLandlock ?? false,
      allowBroadWrite: unsafe.allowBroadWrite ?? false,
      allowAnyHost: unsafe.allowAnyHost ?? false,
      allowAllEnv: unsafe.allowAllEnv ?? false,
    },
    secrets,
    provenance: { ...prov, env: envProv, fields },
  };
  const frozen = deepFreeze(policy);
  globPlans.set(frozen, { plan, hits: new Set(hits.keys()) });
  return frozen;
}

// cordon – the part of a compile that reads no filesystem: a profile's entries expanded for one workspace, home and environment, with their origins, network rules, env, secrets and limits; kept per loaded profile.
//
// A loaded profile's document is frozen and shared while its files are unchanged (load.ts), so
// what follows from it alone is computed once per (document, origins, workspace, home, variables
// read) and reused by every later compile: a Sandbox per task then only redoes the filesystem part
// (compile.ts). The stages run in compile order (roots, then deny, then the rest) and each is kept
// only once it succeeded: an invalid profile is re-checked and throws afresh every time, with the
// same first error as a compile that does it all in one go.
import path from 'node:path';

import { CordonError } from '../errors.js';
import { describeOrigin, originOf, type Origin, type Profile, type ProfileBody } from '../profile/load.js';
import { expandedPathProblem, GLOB_CHARS, isAnyHost, isBroadWrite, lintDocument, type Problem } from '../profile/rules.js';
import { formatRule } from '../profile/netmatch.js';
import { formatPath } from '../profile/source.js';
import { DEFAULT_ENV_ALLOW, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TMP_BYTES, HOME_SECRETS, SYSTEM_READ, SYSTEM_SECRETS } from './defaults.js';
import { deepFreeze } from './freeze.js';
import { parseNetRule } from './netrules.js';
import type { EnvPolicy, LimitsPolicy, NetRule, NetworkPolicy, RuleOrigin, SecretRef, WeakerPolicy } from './policy.js';
import { parseSize } from './sizes.js';

/** What a path expands with: the real workspace and home, and the environment for ${env:NAME}. */
export interface Ctx {
  workspace: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** The profile file named when an entry's origin is unknown. */
  source: string;
  /** Called with each variable read from `env` (so a kept result can be checked against a later environment). */
  onEnv?: (name: string, value: string | undefined) => void;
}

export function failAt(where: string, raw: string, problem: Problem): never {
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
      ctx.onEnv?.(name.slice(4), v);
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

/** An entry as written (`raw`), expanded (`path`), and where it came from. */
export interface Entry {
  readonly raw: string;
  readonly path: string;
  readonly origin: RuleOrigin;
}

/** Read, write and protected entries (the profile's own checks done). */
export interface RootEntries {
  /** Read roots; `linkOrigin` is the provenance of a root kept as a symlink. */
  readonly read: ReadonlyArray<Entry & { readonly linkOrigin: RuleOrigin }>;
  readonly write: readonly Entry[];
  /** The expanded read and write paths, in that order (one array per entries: see realpaths.ts). */
  readonly rootPaths: readonly string[];
  readonly protected: readonly Entry[];
  readonly protectedPaths: readonly string[];
  /** The policy's `fs.protected`: sorted, without duplicates. */
  readonly protectedSorted: readonly string[];
  /** network.unixSockets: host sockets the command may connect to (also among `read`, so they are bound). */
  readonly unixSockets: readonly Entry[];
}

/** Deny entries: literal paths (the built-in secrets included) and globs, before the filesystem is looked at. */
export interface DenyEntries {
  readonly allowSecrets: ReadonlySet<string>;
  readonly literal: ReadonlyArray<readonly [string, RuleOrigin]>;
  readonly literalPaths: readonly string[];
  readonly globs: ReadonlyArray<{ readonly glob: string; readonly origin: RuleOrigin }>;
}

/** Everything else: network, environment, secrets, limits, acknowledgements and field provenance. */
export interface RestEntries {
  readonly network: NetworkPolicy;
  readonly env: EnvPolicy;
  readonly envProvenance: Readonly<Record<string, RuleOrigin>>;
  readonly secrets: readonly SecretRef[];
  readonly fields: Readonly<Record<string, RuleOrigin>>;
  readonly limits: LimitsPolicy;
  readonly weaker: WeakerPolicy;
}

/** A profile's entries for one workspace, home and environment; each stage computed on first use. */
export class ProfileEntries {
  /** Variables read while expanding, with their values then. */
  readonly envUsed = new Map<string, string | undefined>();
  private rootsDone?: RootEntries;
  private denyDone?: DenyEntries;
  private restDone?: RestEntries;
  private readonly ctx: Ctx;

  constructor(
    readonly profile: Profile,
    readonly workspace: string,
    readonly home: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.ctx = { workspace, home, env, source: profile.files.at(-1) ?? profile.name, onEnv: (name, value) => this.envUsed.set(name, value) };
  }

  /** Whether these entries were made from `profile` for this workspace, home and environment. */
  matches(profile: Profile, workspace: string, home: string, env: NodeJS.ProcessEnv): boolean {
    const p = this.profile;
    if (p.origins !== profile.origins || p.name !== profile.name || (p.files.at(-1) ?? p.name) !== (profile.files.at(-1) ?? profile.name)) return false;
    if (this.workspace !== workspace || this.home !== home) return false;
    for (const [name, value] of this.envUsed) if (env[name] !== value) return false;
    return true;
  }

  /** The environment stages not computed yet read from: the current compile's (the variables read so far match it). */
  useEnv(env: NodeJS.ProcessEnv): this {
    this.ctx.env = env;
    return this;
  }

  /** `file:line:col filesystem.write[0]` of an entry, or the field name when its origin is unknown. */
  private where(field: string, value?: string): string {
    const base = field.endsWith(']') ? field.replace(/\[\d+\]$/, '') : field;
    const o: Origin | undefined = originOf(this.profile, base, value) ?? originOf(this.profile, field);
    return o ? describeOrigin(o) : `${this.ctx.source}: ${field}`;
  }

  private origin(field: string, value: string): RuleOrigin {
    return { rule: value, source: this.where(field, value) };
  }

  private expandAll(list: readonly string[] | undefined, field: string): Array<[string, string]> {
    return (list ?? []).map((raw) => [raw, expandPath(raw, this.ctx, () => this.where(field, raw))]);
  }

  private literal(list: Array<[string, string]>, field: string): Array<[string, string]> {
    for (const [raw, p] of list) if (GLOB_CHARS.test(p)) failAt(this.where(field, raw), raw, { message: `globs are only allowed in filesystem.deny` });
    return list;
  }

  /** Lint, then read, write and protected entries; throws the first problem. */
  roots(): RootEntries {
    if (this.rootsDone) return this.rootsDone;
    const doc = this.profile.doc;
    const fs = doc.filesystem ?? {};
    const unsafe = doc.unsafe ?? {};
    const home = this.home;
    // Entry-level problems (API and CLI overrides never went through the file loader).
    const problems = lintDocument(doc);
    if (problems.length > 0) {
      const located = (p: (string | number)[]) => {
        const [section, field, i] = p;
        const list = (doc as unknown as Record<string, Record<string, unknown> | undefined>)[String(section)]?.[String(field)];
        return Array.isArray(list) && typeof i === 'number' ? this.where(`${String(section)}.${String(field)}`, String(list[i])) : this.where(formatPath(p));
      };
      const lines = problems.map((p) => `${located(p.path)}: ${p.message}`);
      throw new CordonError('POLICY_INVALID', lines.join('\n'), { path: formatPath(problems[0]!.path), hint: problems[0]!.hint });
    }
    const readRaw = this.literal(
      fs.read ? this.expandAll(fs.read, 'filesystem.read') : SYSTEM_READ.map((p): [string, string] => [p, p]),
      'filesystem.read',
    );
    const writeRaw = this.literal(this.expandAll(fs.write, 'filesystem.write'), 'filesystem.write');
    for (const [raw, p] of writeRaw) {
      if (isBroadWrite(p, home) && !unsafe.allowBroadWrite) {
        failAt(this.where('filesystem.write', raw), raw, {
          message: `makes ${p === '/' ? 'the whole host' : `${p} (a system or home tree)`} writable`,
          hint: 'name the directories that need writing; to mean it, set "unsafe": {"allowBroadWrite": true}',
        });
      }
    }
    const protectedRaw = this.literal(this.expandAll(fs.protected, 'filesystem.protected'), 'filesystem.protected');
    const read = readRaw.map(([raw, p]) => ({
      raw,
      path: p,
      origin: fs.read ? this.origin('filesystem.read', raw) : builtin('default system paths (no filesystem.read in the profile)', raw),
      linkOrigin: fs.read ? this.origin('filesystem.read', raw) : builtin('default system paths', raw),
    }));
    const write = writeRaw.map(([raw, p]) => ({ raw, path: p, origin: this.origin('filesystem.write', raw) }));
    const prot = protectedRaw.map(([raw, p]) => ({ raw, path: p, origin: this.origin('filesystem.protected', raw) }));
    const sockets = this.literal(this.expandAll(doc.network?.unixSockets, 'network.unixSockets'), 'network.unixSockets').map(([raw, p]) => {
      const origin = this.origin('network.unixSockets', raw);
      return { raw, path: p, origin, linkOrigin: origin };
    });
    read.push(...sockets);
    const protectedPaths = prot.map((e) => e.path);
    this.rootsDone = deepFreeze({
      read,
      write,
      rootPaths: [...read, ...write].map((e) => e.path),
      protected: prot,
      protectedPaths,
      protectedSorted: [...new Set(protectedPaths)].sort(),
      unixSockets: sockets,
    });
    return this.rootsDone;
  }

  /** allowSecrets and deny entries (the built-in secrets added); throws the first problem. */
  deny(): DenyEntries {
    if (this.denyDone) return this.denyDone;
    const fs = this.profile.doc.filesystem ?? {};
    const allowSecrets = new Set(this.expandAll(fs.allowSecrets, 'filesystem.allowSecrets').map(([, p]) => p));
    const literal: Array<readonly [string, RuleOrigin]> = [];
    const globs: Array<{ glob: string; origin: RuleOrigin }> = [];
    const add = (p: string, o: RuleOrigin) => {
      if (GLOB_CHARS.test(p)) globs.push({ glob: p, origin: o });
      else literal.push([p, o]);
    };
    for (const [raw, p] of this.expandAll(fs.deny, 'filesystem.deny')) add(p, this.origin('filesystem.deny', raw));
    for (const rel of HOME_SECRETS) {
      const p = path.join(this.home, rel);
      if (!allowSecrets.has(p)) add(p, builtin('home credentials (HOME_SECRETS)', `~/${rel}`));
    }
    for (const p of SYSTEM_SECRETS) if (!allowSecrets.has(p)) add(p, builtin('system secrets (SYSTEM_SECRETS)', p));
    this.denyDone = deepFreeze({ allowSecrets, literal, literalPaths: literal.map(([p]) => p), globs });
    return this.denyDone;
  }

  /** Network rules, environment, secrets, field provenance and limits; throws the first problem. */
  rest(): RestEntries {
    if (this.restDone) return this.restDone;
    const doc = this.profile.doc;
    const unsafe = doc.unsafe ?? {};
    const net = doc.network ?? {};
    const rules: NetRule[] = [];
    const addRules = (list: readonly string[] | undefined, action: 'allow' | 'deny') =>
      (list ?? []).forEach((text, i) => {
        const src = this.where(`network.${action}[${i}]`, text);
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
        message: `network allow rules have no effect: network.mode is "none" (${this.where('network.mode')})`,
        hint: 'set "network": {"mode": "allowlist"} to use them, or drop them',
      });
    }

    // Environment and secrets.
    const envAllow = [...new Set([...DEFAULT_ENV_ALLOW, ...(doc.env?.allow ?? [])])];
    const envDeny = doc.env?.deny ?? [];
    const envProvenance: Record<string, RuleOrigin> = {};
    for (const n of DEFAULT_ENV_ALLOW) envProvenance[`allow:${n}`] = builtin('default environment (DEFAULT_ENV_ALLOW)', n);
    for (const n of doc.env?.allow ?? []) envProvenance[`allow:${n}`] = this.origin('env.allow', n);
    for (const n of envDeny) envProvenance[`deny:${n}`] = this.origin('env.deny', n);
    for (const n of Object.keys(doc.env?.set ?? {})) envProvenance[`set:${n}`] = { rule: n, source: this.where(`env.set.${n}`) };
    const secrets: SecretRef[] = [];
    for (const [name, src] of Object.entries(doc.secrets ?? {})) {
      const source = this.where(`secrets.${name}`);
      const matchesDeny = envDeny.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
      if (matchesDeny) failAt(source, name, { message: 'the secret is handed over as a variable that env.deny refuses', hint: 'rename the secret or drop the env.deny entry' });
      secrets.push(
        'fromEnv' in src
          ? { name, fromEnv: src.fromEnv, source }
          : { name, fromFile: expandPath(src.fromFile, this.ctx, `${source}.fromFile`), source },
      );
    }

    const limits = doc.limits ?? {};
    const fields: Record<string, RuleOrigin> = {};
    for (const key of ['network.mode', 'network.allowPrivate', ...Object.keys(limits).map((k) => `limits.${k}`), ...Object.keys(unsafe).map((k) => `unsafe.${k}`)]) {
      const o = originOf(this.profile, key);
      const [section, name] = key.split('.') as [string, string];
      const value = (doc as unknown as Record<string, Record<string, unknown> | undefined>)[section]?.[name];
      if (o) fields[key] = { rule: `${key}: ${JSON.stringify(value)}`, source: describeOrigin(o) };
    }
    const size = (v: number | string | undefined, field: string, dflt?: number): number | undefined => {
      if (v === undefined) return dflt;
      const n = parseSize(v);
      if (n === undefined) failAt(this.where(`limits.${field}`), String(v), { message: 'bad size', hint: 'a size like 512m, 2g or 65536' });
      return n;
    };
    this.restDone = deepFreeze({
      network: { mode, rules, hosts: net.hosts ?? {}, unixSockets: [] },
      env: { allow: envAllow, deny: envDeny, set: { ...(doc.env?.set ?? {}) } },
      envProvenance,
      secrets,
      fields,
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
    });
    return this.restDone;
  }
}

export function builtin(what: string, value: string): RuleOrigin {
  return { rule: value, source: `built-in: ${what}` };
}

/** Entries kept per frozen document: a few (workspace, home, environment) each, latest last. */
const kept = new WeakMap<ProfileBody, ProfileEntries[]>();
const PER_DOCUMENT = 4;

/**
 * The entries of `profile` for this workspace and home (both real paths) and environment: reused
 * when the document is frozen (a loaded profile's is) and was expanded with the same origins,
 * workspace, home and values of every variable it read.
 */
export function profileEntries(profile: Profile, workspace: string, home: string, env: NodeJS.ProcessEnv): ProfileEntries {
  const doc = profile.doc;
  if (!Object.isFrozen(doc)) return new ProfileEntries(profile, workspace, home, env);
  let list = kept.get(doc);
  if (!list) kept.set(doc, (list = []));
  const i = list.findIndex((e) => e.matches(profile, workspace, home, env));
  const entries = i >= 0 ? list.splice(i, 1)[0]!.useEnv(env) : new ProfileEntries(profile, workspace, home, env);
  if (list.length >= PER_DOCUMENT) list.shift();
  list.push(entries);
  return entries;
}

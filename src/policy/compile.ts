// cordon – compiles a loaded Profile into a Policy: variables and ~ expanded, paths resolved, secrets and globs applied.
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { minimatch } from 'minimatch';

import { CordonError } from '../errors.js';
import type { Profile } from '../profile/load.js';
import {
  DEFAULT_ENV_ALLOW,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TMP_BYTES,
  HOME_SECRETS,
  SYSTEM_READ,
  SYSTEM_SECRETS,
  TREE_SECRET_GLOBS,
} from './defaults.js';
import { parseNetRule } from './netrules.js';
import type { NetRule, Policy } from './policy.js';
import { parseSize } from './sizes.js';

export interface CompileOptions {
  /** The workspace directory (must exist). */
  workspace: string;
  /** The caller's home; defaults to os.homedir(). */
  home?: string;
  /** Environment used for ${env:NAME}; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

const GLOB_CHARS = /[*?[\]{}]/;

interface Ctx {
  workspace: string;
  home: string;
  env: NodeJS.ProcessEnv;
  source: string;
}

/** Expands ~ and ${…} variables; the result must be an absolute path without `..` segments. */
export function expandPath(raw: string, ctx: Ctx, field: string): string {
  let p = raw;
  if (p === '~' || p.startsWith('~/')) p = ctx.home + p.slice(1);
  p = p.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    if (name === 'workspace') return ctx.workspace;
    if (name === 'home') return ctx.home;
    if (name === 'tmp') return '/tmp';
    if (name.startsWith('env:')) {
      const v = ctx.env[name.slice(4)];
      if (v === undefined || v === '') {
        throw new CordonError('POLICY_INVALID', `${ctx.source}: ${field}: "${raw}": environment variable ${name.slice(4)} is not set`, {
          file: ctx.source,
          path: field,
        });
      }
      return v;
    }
    throw new CordonError('POLICY_INVALID', `${ctx.source}: ${field}: "${raw}": unknown variable \${${name}}`, {
      file: ctx.source,
      path: field,
      hint: 'known variables: ${workspace}, ${home}, ${tmp}, ${env:NAME}',
    });
  });
  if (!path.isAbsolute(p)) {
    throw new CordonError('POLICY_INVALID', `${ctx.source}: ${field}: "${raw}" is not absolute`, {
      file: ctx.source,
      path: field,
      hint: 'start paths with /, ~/ or a variable such as ${workspace}',
    });
  }
  if (p.split('/').includes('..')) {
    throw new CordonError('POLICY_INVALID', `${ctx.source}: ${field}: "${raw}" contains ".." segments`, {
      file: ctx.source,
      path: field,
      hint: 'write the path without .. so what it grants is plain to see',
    });
  }
  return path.normalize(p).replace(/(.)\/$/, '$1');
}

function realOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

function isUnder(p: string, root: string): boolean {
  return p === root || root === '/' || p.startsWith(root + '/');
}

/** Finds files under `roots` whose path matches one of `globs` (no symlinks followed). */
export function matchGlobs(roots: readonly string[], globs: readonly string[], limit = 200_000): string[] {
  const out: string[] = [];
  let seen = 0;
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (++seen > limit) {
        throw new CordonError('POLICY_INVALID', `deny globs: more than ${limit} entries under ${roots.join(', ')}`, {
          hint: 'narrow the writable trees or the deny globs',
        });
      }
      if (globs.some((g) => minimatch(p, g, { dot: true }))) out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  for (const root of roots) walk(root);
  return out;
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

  const expandAll = (list: readonly string[] | undefined, field: string): string[] =>
    (list ?? []).map((raw, i) => expandPath(raw, ctx, `${field}[${i}]`));
  const literal = (list: string[], field: string): string[] => {
    for (const p of list) {
      if (GLOB_CHARS.test(p)) {
        throw new CordonError('POLICY_INVALID', `${ctx.source}: ${field}: "${p}": globs are only allowed in filesystem.deny`, {
          file: ctx.source,
          path: field,
        });
      }
    }
    return list;
  };

  // Read and write roots are resolved to real paths; a root that does not exist grants nothing.
  const readRaw = literal(fs.read ? expandAll(fs.read, 'filesystem.read') : [...SYSTEM_READ], 'filesystem.read');
  const writeRaw = literal(expandAll(fs.write, 'filesystem.write'), 'filesystem.write');
  for (const p of writeRaw) {
    if (p === '/') {
      throw new CordonError('POLICY_INVALID', `${ctx.source}: filesystem.write: "/" makes the whole host writable`, {
        file: ctx.source,
        path: 'filesystem.write',
      });
    }
  }
  const resolveRoots = (list: string[]) => [...new Set(list.map(realOrUndefined).filter((p): p is string => !!p))].sort();
  // ${tmp} names the sandbox's private /tmp, which is always writable; never bind the host's.
  const write = resolveRoots(writeRaw).filter((p) => p !== '/tmp');
  const read = resolveRoots(readRaw);
  // Read roots that are symlinks (merged /usr: /bin -> usr/bin) stay visible as links.
  for (const p of readRaw) {
    try {
      if (lstatSync(p).isSymbolicLink() && !read.includes(p)) read.push(p);
    } catch {
      /* missing: grants nothing */
    }
  }
  read.sort();

  // Protected paths: a symlink there could redirect the host's later use of it; refuse to run.
  const protectedPaths = literal(expandAll(fs.protected, 'filesystem.protected'), 'filesystem.protected');
  for (const p of protectedPaths) {
    try {
      if (lstatSync(p).isSymbolicLink()) {
        throw new CordonError('POLICY_INVALID', `protected path is a symlink: ${p} -> refusing to run`, {
          path: 'filesystem.protected',
          hint: 'remove the link or its target from the workspace',
        });
      }
    } catch (err) {
      if (err instanceof CordonError) throw err;
    }
  }

  // Deny: literal paths (and their real targets), globs, and the built-in secrets.
  const allowSecrets = new Set(expandAll(fs.allowSecrets, 'filesystem.allowSecrets'));
  const deny = new Set<string>();
  const denyGlobs: string[] = [];
  const addDeny = (p: string) => {
    if (GLOB_CHARS.test(p)) {
      denyGlobs.push(p);
      return;
    }
    deny.add(p);
    const real = realOrUndefined(p);
    if (real && real !== p) deny.add(real);
  };
  expandAll(fs.deny, 'filesystem.deny').forEach(addDeny);
  for (const rel of HOME_SECRETS) {
    const p = path.join(home, rel);
    if (!allowSecrets.has(p)) addDeny(p);
  }
  for (const p of SYSTEM_SECRETS) if (!allowSecrets.has(p)) addDeny(p);
  const globRoots = [...new Set([...write, workspace])];
  for (const g of TREE_SECRET_GLOBS) for (const root of globRoots) denyGlobs.push(path.join(root, g));
  for (const g of denyGlobs) {
    // Globs with a literal directory prefix are matched only below it.
    const base = g.split('/').findIndex((seg) => GLOB_CHARS.test(seg));
    const prefix = g.split('/').slice(0, base).join('/') || '/';
    if (!existsSync(prefix)) continue;
    const roots = [...read, ...write].filter((r) => isUnder(prefix, r) || isUnder(r, prefix));
    if (roots.length === 0) continue;
    const scanRoots = roots.map((r) => (isUnder(prefix, r) ? prefix : r));
    for (const hit of matchGlobs([...new Set(scanRoots)], [g])) if (!allowSecrets.has(hit)) deny.add(hit);
  }

  const net = doc.network ?? {};
  const rules: NetRule[] = [];
  const addRules = (list: readonly string[] | undefined, action: 'allow' | 'deny') =>
    (list ?? []).forEach((text, i) => {
      const parsed = parseNetRule(text, action, `${ctx.source}: network.${action}[${i}]`, net.allowPrivate ?? false);
      if (!parsed.ok) {
        throw new CordonError('POLICY_INVALID', `${ctx.source}: network.${action}[${i}]: ${parsed.reason}`, {
          file: ctx.source,
          path: `network.${action}[${i}]`,
        });
      }
      rules.push(parsed.rule);
    });
  addRules(net.allow, 'allow');
  addRules(net.deny, 'deny');
  const mode = net.mode ?? (rules.some((r) => r.action === 'allow') ? 'allowlist' : 'none');

  const limits = doc.limits ?? {};
  const size = (v: number | string | undefined, field: string, dflt?: number): number | undefined => {
    if (v === undefined) return dflt;
    const n = parseSize(v);
    if (n === undefined) throw new CordonError('POLICY_INVALID', `${ctx.source}: limits.${field}: bad size "${v}"`, { path: `limits.${field}` });
    return n;
  };

  const policy: Policy = {
    name: profile.name,
    workspace,
    home,
    fs: {
      read,
      write,
      protected: [...new Set(protectedPaths)].sort(),
      deny: [...deny].sort(),
      denyGlobs,
    },
    network: { mode, rules, hosts: net.hosts ?? {} },
    env: {
      allow: [...new Set([...DEFAULT_ENV_ALLOW, ...(doc.env?.allow ?? [])])],
      deny: doc.env?.deny ?? [],
      set: { ...(doc.env?.set ?? {}) },
    },
    limits: {
      tmpBytes: size(limits.tmpSize, 'tmpSize', DEFAULT_TMP_BYTES) ?? DEFAULT_TMP_BYTES,
      memoryBytes: size(limits.memory, 'memory'),
      pids: limits.pids,
      cpuSeconds: limits.cpuSeconds,
      maxFiles: limits.maxFiles,
      timeoutMs: limits.timeout === undefined ? undefined : limits.timeout * 1000,
      maxOutputBytes: size(limits.maxOutput, 'maxOutput', DEFAULT_MAX_OUTPUT_BYTES),
    },
    weaker: { allowMissingLandlock: doc.unsafe?.allowMissingLandlock ?? false },
  };
  return deepFreeze(policy);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

// cordon – builds a command's environment: the policy's allowlist of the caller's variables, fixed values, caller overrides.
import { CordonError } from '../errors.js';
import type { EnvPolicy } from '../policy/policy.js';
import { environGeneration } from './environ-generation.js';

export interface EnvInput {
  policy: EnvPolicy;
  /** The caller's environment the allowlist draws from. */
  inherited: NodeJS.ProcessEnv;
  /** Per-command values from the caller (exec option `env`): explicit, so set as given. */
  overrides?: Readonly<Record<string, string | undefined>>;
  home: string;
  cwd: string;
}

/** A list of names and `PREFIX*` patterns, as a set and a prefix list (built once per policy). */
interface NameMatcher {
  exact: ReadonlySet<string>;
  prefixes: readonly string[];
}
const matchers = new WeakMap<readonly string[], NameMatcher>();

function matcher(patterns: readonly string[]): NameMatcher {
  let m = matchers.get(patterns);
  if (!m) {
    m = { exact: new Set(patterns.filter((p) => !p.endsWith('*'))), prefixes: patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1)) };
    matchers.set(patterns, m);
  }
  return m;
}

function matchesAny(name: string, m: NameMatcher): boolean {
  return m.exact.has(name) || m.prefixes.some((p) => name.startsWith(p));
}

/** Throws when a per-command value is not allowed (checked when the command is asked for, before anything starts). */
export function checkOverrides(policy: EnvPolicy, overrides: EnvInput['overrides']): void {
  if (!overrides) return;
  const deny = matcher(policy.deny);
  for (const [name, value] of Object.entries(overrides)) {
    if (!/^[^=\0]+$/.test(name)) throw new CordonError('BAD_ARGUMENT', `invalid environment variable name: ${JSON.stringify(name)}`);
    if (matchesAny(name, deny)) throw new CordonError('BAD_ARGUMENT', `environment variable ${name} is denied by the profile (env.deny)`);
    if (value?.includes('\0')) throw new CordonError('BAD_ARGUMENT', `environment variable ${name} contains a NUL byte`);
  }
}

/**
 * The names in the caller's environment. For process.env, Reflect.ownKeys: Object.keys asks Node
 * once more per name whether it is enumerable (every variable is), a getenv() each.
 */
function namesOf(inherited: NodeJS.ProcessEnv): readonly string[] {
  if (inherited !== process.env) return Object.keys(inherited);
  return Reflect.ownKeys(inherited).filter((k): k is string => typeof k === 'string');
}

/** The caller's variables the policy lets through, per policy, with the environment generation they were read at. */
const allowedCache = new WeakMap<EnvPolicy, { generation: number; entries: readonly (readonly [string, string])[] }>();

/** The caller's variables the policy lets through; for process.env, read again only when it changed (environ-generation.ts). */
function allowedInherited(policy: EnvPolicy, inherited: NodeJS.ProcessEnv): readonly (readonly [string, string])[] {
  const generation = inherited === process.env ? environGeneration() : undefined;
  const cached = generation === undefined ? undefined : allowedCache.get(policy);
  if (cached && cached.generation === generation) return cached.entries;
  const allow = matcher(policy.allow);
  const deny = matcher(policy.deny);
  const entries: (readonly [string, string])[] = [];
  // Names first, values only for the allowed ones: each read of process.env is a getenv() in C++.
  for (const name of namesOf(inherited)) {
    if (!matchesAny(name, allow) || matchesAny(name, deny)) continue;
    const value = inherited[name];
    if (value !== undefined) entries.push([name, value]);
  }
  if (generation !== undefined) allowedCache.set(policy, { generation, entries });
  return entries;
}

export function buildEnv(input: EnvInput): Record<string, string> {
  const { policy, inherited } = input;
  checkOverrides(policy, input.overrides);
  const env: Record<string, string> = {};
  for (const [name, value] of allowedInherited(policy, inherited)) env[name] = value;
  Object.assign(env, policy.set);
  if (input.overrides) {
    for (const [name, value] of Object.entries(input.overrides)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
  }
  env.HOME ??= input.home;
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.TMPDIR = '/tmp';
  env.PWD = input.cwd;
  return env;
}

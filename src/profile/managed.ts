// cordon – the managed floor: an administrator's profile every run is held to; local profiles and overrides may only narrow it.
//
// Sources, all of which apply when present: /etc/cordon/managed.json, then the file named by
// CORDON_MANAGED_PROFILE. The managed profile is a normal profile compiled with the run's workspace
// and home; the run's own policy must be a subset of it (see compare.ts). Its restrictions (deny,
// protected, env.deny, network.deny, limits) are also merged into the run's profile, so a local
// profile cannot drop them by omission.
import { existsSync } from 'node:fs';

import { CordonError } from '../errors.js';
import { compilePolicy, type CompileOptions } from '../policy/compile.js';
import type { Policy } from '../policy/policy.js';
import { formatWidening, widenings } from './compare.js';
import { inspectProfile, type Profile } from './load.js';
import { formatDiagnostic } from './source.js';

export const MANAGED_SYSTEM_FILE = '/etc/cordon/managed.json';
export const MANAGED_ENV = 'CORDON_MANAGED_PROFILE';

/** The managed profile files that apply to this process, system file first. */
export function managedSources(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (existsSync(MANAGED_SYSTEM_FILE)) out.push(MANAGED_SYSTEM_FILE);
  const fromEnv = env[MANAGED_ENV];
  if (fromEnv) out.push(fromEnv);
  return out;
}

/** Loads one managed profile; any problem is a MANAGED_POLICY error (a broken floor never means no floor). */
export function loadManaged(file: string): Profile {
  if (!existsSync(file)) {
    throw new CordonError('MANAGED_POLICY', `managed profile ${file} does not exist; refusing to run without it`, {
      file,
      hint: `fix or unset ${MANAGED_ENV}`,
    });
  }
  const report = inspectProfile(file.includes('/') ? file : `./${file}`);
  if (!report.profile) {
    throw new CordonError('MANAGED_POLICY', `managed profile ${file} is invalid; refusing to run:\n${report.diagnostics.map(formatDiagnostic).join('\n')}`, {
      file,
      hint: 'ask the administrator who owns it',
    });
  }
  return report.profile;
}

/** Adds the managed profile's restrictions to a run's profile (they hold whatever the local profile says). */
export function withManagedRestrictions(profile: Profile, managed: Profile): Profile {
  const m = managed.doc;
  const origins = new Map(profile.origins ?? []);
  for (const [k, o] of managed.origins ?? []) if (k.startsWith('filesystem.deny') || k.startsWith('filesystem.protected') || k.startsWith('network.deny') || k.startsWith('env.deny')) origins.set(k, o);
  const f = profile.doc.filesystem ?? {};
  const n = profile.doc.network ?? {};
  const e = profile.doc.env ?? {};
  const union = (a?: readonly string[], b?: readonly string[]) => (a || b ? [...new Set([...(a ?? []), ...(b ?? [])])] : undefined);
  // Limits the local profile leaves unset are taken from the managed profile.
  const limits = { ...(m.limits ?? {}), ...(profile.doc.limits ?? {}) };
  for (const key of Object.keys(m.limits ?? {})) {
    if (profile.doc.limits?.[key as keyof typeof limits] === undefined) {
      const o = managed.origins?.get(`limits.${key}`);
      if (o) origins.set(`limits.${key}`, o);
    }
  }
  return {
    ...profile,
    doc: {
      ...profile.doc,
      filesystem: { ...f, deny: union(f.deny, m.filesystem?.deny), protected: union(f.protected, m.filesystem?.protected) },
      network: { ...n, deny: union(n.deny, m.network?.deny) },
      env: { ...e, deny: union(e.deny, m.env?.deny) },
      limits,
    },
    origins,
  };
}

/** Throws MANAGED_POLICY naming every way `policy` goes beyond the managed one. */
export function assertWithinManaged(policy: Policy, managedPolicy: Policy, file: string): void {
  const found = widenings(managedPolicy, policy);
  if (found.length === 0) return;
  const lines = found.map((w) => `  ${formatWidening(w)}`);
  const first = found[0]!;
  throw new CordonError(
    'MANAGED_POLICY',
    `the managed policy ${file} does not allow this run (${found.length} problem${found.length > 1 ? 's' : ''}):\n${lines.join('\n')}`,
    {
      file,
      path: first.base?.[0]?.source,
      hint: 'local profiles, --write/--read/--allow-net flags and API options may only narrow the managed policy; ask its administrator to widen it',
    },
  );
}

/**
 * Holds a run's profile to every managed profile that applies: merges their restrictions in,
 * compiles, and checks the result is within each. Returns the compiled policy.
 */
export function compileUnderManaged(profile: Profile, options: CompileOptions, sources: readonly string[] = managedSources()): Policy {
  const managed = sources.map((file) => ({ file, profile: loadManaged(file) }));
  let effective = profile;
  for (const m of managed) effective = withManagedRestrictions(effective, m.profile);
  const policy = compilePolicy(effective, options);
  for (const m of managed) {
    let managedPolicy: Policy;
    try {
      managedPolicy = compilePolicy(m.profile, options);
    } catch (err) {
      throw new CordonError('MANAGED_POLICY', `managed profile ${m.file} cannot be compiled here; refusing to run: ${(err as Error).message}`, { file: m.file });
    }
    assertWithinManaged(policy, managedPolicy, m.file);
  }
  return policy;
}

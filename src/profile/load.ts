// cordon – loads a profile by name or path: parse, schema validation, `extends` resolution (cycles detected), merge with provenance.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import { profilesDir } from '../paths.js';
import { deepFreeze } from '../policy/freeze.js';
import type { ProfileDocument } from './schema.js';
import { formatDiagnostic, formatPath, readProfileSource, type Diagnostic, type ProfileSource } from './source.js';

/** A profile document without the keys that only matter in a file (`extends`, `$schema`). */
export type ProfileBody = Omit<ProfileDocument, 'extends' | '$schema'>;

/** Where an entry of the merged profile was written: file, JSON path and position. */
export interface Origin {
  readonly file: string;
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
}

/** A loaded profile with its `extends` chain merged (parents first, this file last). */
export interface Profile {
  /** Name or file of the profile that was asked for. */
  readonly name: string;
  /** Every file that contributed, parents first. */
  readonly files: readonly string[];
  readonly doc: ProfileBody;
  /** Where each entry came from, keyed by `originKey(field, value)`; see `originOf`. */
  readonly origins?: ReadonlyMap<string, Origin>;
}

/** Key of a list entry (`filesystem.write`, `${workspace}`) or of a scalar or record entry (`limits.memory`). */
export function originKey(field: string, value?: string): string {
  return value === undefined ? field : `${field}\u0000${value}`;
}

/** `file:line:col filesystem.write[0]`, for explain, diff and errors. */
export function describeOrigin(o: Origin): string {
  return `${o.file}${o.line !== undefined ? `:${o.line}:${o.column}` : ''} ${o.path}`;
}

export function originOf(profile: Profile, field: string, value?: string): Origin | undefined {
  return profile.origins?.get(originKey(field, value));
}

/** Resolves a profile reference: a path (contains a slash or ends in .json) or a shipped profile name. */
export function resolveProfileRef(ref: string, fromDir: string = process.cwd()): string {
  const looksLikePath = ref.includes('/') || ref.includes('\\') || ref.endsWith('.json');
  if (!looksLikePath && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(ref)) {
    throw new CordonError('PROFILE_INVALID', `"${ref}" is not a profile name or a path`, { hint: 'names are like workspace or ci; paths contain a / or end in .json' });
  }
  const file = looksLikePath ? path.resolve(fromDir, ref) : path.join(profilesDir(), `${ref}.json`);
  if (!existsSync(file)) {
    throw new CordonError(
      'PROFILE_INVALID',
      looksLikePath ? `profile file not found: ${file}` : `unknown profile "${ref}" (no ${file})`,
      { file, hint: looksLikePath ? undefined : 'shipped profiles live in profiles/; pass a path to use your own' },
    );
  }
  return file;
}

function mergeLists(a: readonly string[] | undefined, b: readonly string[] | undefined): string[] | undefined {
  if (!a && !b) return undefined;
  return [...new Set([...(a ?? []), ...(b ?? [])])];
}

/** Merges child over parent: lists are unioned (deny wins later), scalars and record entries from the child win. */
export function mergeProfiles(parent: ProfileBody, child: ProfileBody): ProfileBody {
  const pf = parent.filesystem ?? {};
  const cf = child.filesystem ?? {};
  const pn = parent.network ?? {};
  const cn = child.network ?? {};
  const pe = parent.env ?? {};
  const ce = child.env ?? {};
  return {
    version: 1,
    description: child.description ?? parent.description,
    filesystem: {
      read: mergeLists(pf.read, cf.read),
      write: mergeLists(pf.write, cf.write),
      protected: mergeLists(pf.protected, cf.protected),
      deny: mergeLists(pf.deny, cf.deny),
      allowSecrets: mergeLists(pf.allowSecrets, cf.allowSecrets),
    },
    network: {
      mode: cn.mode ?? pn.mode,
      allow: mergeLists(pn.allow, cn.allow),
      deny: mergeLists(pn.deny, cn.deny),
      allowPrivate: cn.allowPrivate ?? pn.allowPrivate,
      unixSockets: mergeLists(pn.unixSockets, cn.unixSockets),
      hosts: { ...(pn.hosts ?? {}), ...(cn.hosts ?? {}) },
    },
    env: { allow: mergeLists(pe.allow, ce.allow), deny: mergeLists(pe.deny, ce.deny), set: { ...(pe.set ?? {}), ...(ce.set ?? {}) } },
    limits: { ...(parent.limits ?? {}), ...(child.limits ?? {}) },
    secrets: { ...(parent.secrets ?? {}), ...(child.secrets ?? {}) },
    unsafe: { ...(parent.unsafe ?? {}), ...(child.unsafe ?? {}) },
  };
}

type Locate = (p: readonly (string | number)[]) => { line: number; column: number } | undefined;

/** Records where each entry of `doc` was written; list entries keep their first origin, scalars their last. */
export function recordOrigins(doc: ProfileBody, file: string, locate: Locate, into: Map<string, Origin>): void {
  const at = (p: (string | number)[]): Origin => ({ file, path: formatPath(p), ...locate(p) });
  const lists: Array<[string, string, readonly string[] | undefined]> = [
    ['filesystem', 'read', doc.filesystem?.read],
    ['filesystem', 'write', doc.filesystem?.write],
    ['filesystem', 'protected', doc.filesystem?.protected],
    ['filesystem', 'deny', doc.filesystem?.deny],
    ['filesystem', 'allowSecrets', doc.filesystem?.allowSecrets],
    ['network', 'allow', doc.network?.allow],
    ['network', 'deny', doc.network?.deny],
    ['network', 'unixSockets', doc.network?.unixSockets],
    ['env', 'allow', doc.env?.allow],
    ['env', 'deny', doc.env?.deny],
  ];
  for (const [section, field, list] of lists) {
    (list ?? []).forEach((v, i) => {
      const key = originKey(`${section}.${field}`, v);
      if (!into.has(key)) into.set(key, at([section, field, i]));
    });
  }
  const scalars: Array<[string, Record<string, unknown> | undefined]> = [
    ['network', doc.network],
    ['limits', doc.limits],
    ['unsafe', doc.unsafe],
  ];
  for (const [section, obj] of scalars) {
    for (const [k, v] of Object.entries(obj ?? {})) if (k !== '//' && v !== undefined && !Array.isArray(v) && typeof v !== 'object') into.set(`${section}.${k}`, at([section, k]));
  }
  for (const k of Object.keys(doc.env?.set ?? {})) into.set(`env.set.${k}`, at(['env', 'set', k]));
  for (const k of Object.keys(doc.network?.hosts ?? {})) into.set(`network.hosts.${k}`, at(['network', 'hosts', k]));
  for (const k of Object.keys(doc.secrets ?? {})) into.set(`secrets.${k}`, at(['secrets', k]));
}

/** The result of loading with every problem collected instead of thrown (for `cordon profile check`). */
export interface LoadReport {
  profile?: Profile;
  diagnostics: Diagnostic[];
}

/** The merge of a file with its parents, reused while the file's text and every parent are the same. */
const merges = new WeakMap<ProfileSource, { parents: readonly Profile[]; profile: Profile }>();

function loadFile(file: string, chain: string[], diagnostics: Diagnostic[], seen: Set<string>): Profile | undefined {
  const source = readProfileSource(file);
  // Each file's problems are reported once, even when several profiles extend it.
  if (!seen.has(file)) diagnostics.push(...source.diagnostics);
  seen.add(file);
  const doc = source.doc;
  if (!doc) return undefined;
  const refs = doc.extends === undefined ? [] : Array.isArray(doc.extends) ? doc.extends : [doc.extends];
  const parents: Profile[] = [];
  let ok = true;
  refs.forEach((ref, i) => {
    const jsonPath = Array.isArray(doc.extends) ? ['extends', i] : ['extends'];
    const fail = (message: string, hint?: string) => {
      diagnostics.push({ severity: 'error', file, ...source.locate(jsonPath), path: formatPath(jsonPath), message, ...(hint ? { hint } : {}) });
      ok = false;
    };
    let parentFile: string;
    try {
      parentFile = resolveProfileRef(ref, path.dirname(file));
    } catch (err) {
      fail((err as CordonError).message, (err as CordonError).detail?.hint);
      return;
    }
    if (parentFile === file || chain.includes(parentFile)) {
      fail(`extends cycle: ${[...chain, file, parentFile].join(' → ')}`, 'a profile cannot build on itself; remove one link of the cycle');
      return;
    }
    const parent = loadFile(parentFile, [...chain, file], diagnostics, seen);
    if (!parent) {
      ok = false;
      return;
    }
    parents.push(parent);
  });
  if (!ok) return undefined;
  const known = merges.get(source);
  if (known && known.parents.length === parents.length && known.parents.every((p, i) => p === parents[i])) return known.profile;
  let merged: ProfileBody = { version: 1 };
  const files: string[] = [];
  const origins = new Map<string, Origin>();
  for (const parent of parents) {
    merged = mergeProfiles(merged, parent.doc);
    files.push(...parent.files.filter((f) => !files.includes(f)));
    for (const [k, o] of parent.origins ?? []) if (!origins.has(k) || !k.includes('\u0000')) origins.set(k, o);
  }
  const { extends: _extends, $schema: _schema, ...own } = doc;
  recordOrigins(own, file, source.locate, origins);
  // Frozen: it is shared by every later load of the same files (and lint results are kept per document).
  const profile: Profile = { name: file, files: [...files, file], doc: deepFreeze(mergeProfiles(merged, own)), origins };
  merges.set(source, { parents, profile });
  return profile;
}

/** Loads a profile and collects every problem of every file in its `extends` chain; never throws. */
export function inspectProfile(ref: string, fromDir?: string): LoadReport {
  const diagnostics: Diagnostic[] = [];
  let file: string;
  try {
    file = resolveProfileRef(ref, fromDir);
  } catch (err) {
    const e = err as CordonError;
    return { diagnostics: [{ severity: 'error', file: e.detail.file ?? ref, path: '', message: e.message, ...(e.detail.hint ? { hint: e.detail.hint } : {}) }] };
  }
  const profile = loadFile(file, [], diagnostics, new Set());
  const failed = diagnostics.some((d) => d.severity === 'error');
  return { profile: profile && !failed ? { ...profile, name: ref } : undefined, diagnostics };
}

/** A CordonError listing every diagnostic (first one in `detail`). */
export function diagnosticsError(diagnostics: readonly Diagnostic[], code: 'PROFILE_INVALID' | 'MANAGED_POLICY' = 'PROFILE_INVALID'): CordonError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  return new CordonError(code, errors.map(formatDiagnostic).join('\n'), {
    file: first?.file,
    path: first?.path || undefined,
    line: first?.line,
    column: first?.column,
    hint: first?.hint,
  });
}

/** Loads a profile by shipped name (`workspace`) or by path, following `extends`; throws every problem at once. */
export function loadProfile(ref: string, fromDir?: string): Profile {
  const report = inspectProfile(ref, fromDir);
  if (!report.profile) throw diagnosticsError(report.diagnostics);
  return report.profile;
}

/** Whether a value holds nothing: undefined, empty lists, objects of such (`version` aside). */
function holdsNothing(v: unknown): boolean {
  if (v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => k === 'version' || holdsNothing(x));
  return false;
}

/** Overlaid documents per loaded (frozen) document, by label and options: the same options give the same frozen document, whose compile is then reused too (entries.ts). */
const overlays = new WeakMap<ProfileBody, Map<string, { from: Profile['origins']; doc: ProfileBody; origins: ReadonlyMap<string, Origin> }>>();
const OVERLAYS_PER_DOCUMENT = 8;

/** Layers API or CLI options over a profile; their entries are attributed to `label`. No options: the profile itself. */
export function overlayProfile(profile: Profile, overlay: ProfileBody, label: string): Profile {
  if (holdsNothing(overlay)) return profile;
  const frozen = Object.isFrozen(profile.doc);
  const key = frozen ? `${label}\u0000${JSON.stringify(overlay)}` : '';
  let kept = frozen ? overlays.get(profile.doc) : undefined;
  const known = kept?.get(key);
  if (known && known.from === profile.origins) return { ...profile, doc: known.doc, origins: known.origins };
  const origins = new Map(profile.origins ?? []);
  recordOrigins(overlay, label, () => undefined, origins);
  if (!frozen) return { ...profile, doc: mergeProfiles(profile.doc, overlay), origins };
  // A copy of the options is merged and frozen, never the caller's own arrays and objects.
  const doc = deepFreeze(mergeProfiles(profile.doc, structuredClone(overlay)));
  if (!kept) overlays.set(profile.doc, (kept = new Map()));
  if (kept.size >= OVERLAYS_PER_DOCUMENT) kept.clear();
  kept.set(key, { from: profile.origins, doc, origins });
  return { ...profile, doc, origins };
}

/** Kept for callers of the earlier API: reads and validates one file without following `extends`. */
export function readProfileFile(file: string): ProfileDocument {
  const source = readProfileSource(file);
  if (!source.doc) throw diagnosticsError(source.diagnostics);
  return source.doc;
}

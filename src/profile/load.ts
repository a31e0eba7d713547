// cordon – loads a profile by name or path: JSON parse, schema validation, `extends` resolution (cycles detected), merge.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import { profilesDir } from '../paths.js';
import { profileSchema, type ProfileDocument } from './schema.js';

/** A loaded profile with its `extends` chain merged (parents first, this file last). */
export interface Profile {
  /** Name or file of the profile that was asked for. */
  readonly name: string;
  /** Every file that contributed, parents first. */
  readonly files: readonly string[];
  readonly doc: Omit<ProfileDocument, 'extends' | '$schema'>;
}

const MAX_PROFILE_BYTES = 1 << 20;

/** Resolves a profile reference: a path (contains a slash or ends in .json) or a shipped profile name. */
export function resolveProfileRef(ref: string, fromDir: string = process.cwd()): string {
  const looksLikePath = ref.includes('/') || ref.includes('\\') || ref.endsWith('.json');
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

/** Line and column (1-based) of a character offset in text. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** Reads and validates one profile file (without following `extends`). */
export function readProfileFile(file: string): ProfileDocument {
  const size = statSync(file).size;
  if (size > MAX_PROFILE_BYTES) {
    throw new CordonError('PROFILE_INVALID', `${file}: profile is ${size} bytes; the limit is ${MAX_PROFILE_BYTES}`, { file });
  }
  const text = readFileSync(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const m = /position (\d+)/.exec(msg);
    const pos = m ? position(text, Number(m[1])) : undefined;
    const where = pos ? `:${pos.line}:${pos.column}` : '';
    throw new CordonError('PROFILE_INVALID', `${file}${where}: invalid JSON: ${msg}`, { file, ...pos });
  }
  const parsed = profileSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const jsonPath = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
      return `${file}: ${jsonPath}: ${issue.message}`;
    });
    const first = parsed.error.issues[0];
    throw new CordonError('PROFILE_INVALID', lines.join('\n'), {
      file,
      path: first ? first.path.map(String).join('.') : undefined,
    });
  }
  return parsed.data;
}

function mergeLists(a: readonly string[] | undefined, b: readonly string[] | undefined): string[] | undefined {
  if (!a && !b) return undefined;
  return [...new Set([...(a ?? []), ...(b ?? [])])];
}

/** Merges child over parent: lists are unioned (deny wins later), scalars from the child win. */
export function mergeProfiles(parent: Profile['doc'], child: Profile['doc']): Profile['doc'] {
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
      hosts: { ...(pn.hosts ?? {}), ...(cn.hosts ?? {}) },
    },
    env: { allow: mergeLists(pe.allow, ce.allow), deny: mergeLists(pe.deny, ce.deny), set: { ...(pe.set ?? {}), ...(ce.set ?? {}) } },
    limits: { ...(parent.limits ?? {}), ...(child.limits ?? {}) },
    unsafe: { ...(parent.unsafe ?? {}), ...(child.unsafe ?? {}) },
  };
}

function loadFile(file: string, chain: string[]): Profile {
  if (chain.includes(file)) {
    throw new CordonError('PROFILE_INVALID', `extends cycle: ${[...chain, file].join(' → ')}`, { file, path: 'extends' });
  }
  const doc = readProfileFile(file);
  const parents = doc.extends === undefined ? [] : Array.isArray(doc.extends) ? doc.extends : [doc.extends];
  let merged: Profile['doc'] = { version: 1 };
  const files: string[] = [];
  for (const ref of parents) {
    let parentFile: string;
    try {
      parentFile = resolveProfileRef(ref, path.dirname(file));
    } catch (err) {
      throw new CordonError('PROFILE_INVALID', `${file}: extends: ${(err as Error).message}`, { file, path: 'extends' });
    }
    const parent = loadFile(parentFile, [...chain, file]);
    merged = mergeProfiles(merged, parent.doc);
    files.push(...parent.files.filter((f) => !files.includes(f)));
  }
  const { extends: _extends, $schema: _schema, ...own } = doc;
  return { name: file, files: [...files, file], doc: mergeProfiles(merged, own) };
}

/** Loads a profile by shipped name (`workspace`) or by path, following `extends`. */
export function loadProfile(ref: string, fromDir?: string): Profile {
  const file = resolveProfileRef(ref, fromDir);
  const profile = loadFile(file, []);
  return { ...profile, name: ref };
}

// cordon – reads one profile file into a document plus every problem in it, each with line:column and JSON path.
import { readFileSync, statSync } from 'node:fs';

import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import type { z } from 'zod';

import { deepFreeze } from '../policy/freeze.js';
import { lintDocument } from './rules.js';
import { profileSchema, type ProfileDocument } from './schema.js';

export const MAX_PROFILE_BYTES = 1 << 20;
/** Deeper nesting than this is never a real profile (and would cost a recursive parser its stack). */
const MAX_DEPTH = 32;

export interface Diagnostic {
  severity: 'error' | 'warning';
  file: string;
  line?: number;
  column?: number;
  /** JSON path such as `filesystem.write[2]`; empty for the whole file. */
  path: string;
  message: string;
  hint?: string;
}

/** A profile file as text, its syntax tree and, when it is valid, its document. */
export interface ProfileSource {
  file: string;
  text: string;
  doc?: ProfileDocument;
  diagnostics: Diagnostic[];
  /** line:column of a JSON path (the nearest existing ancestor when the path is absent). */
  locate(path: readonly (string | number)[]): { line: number; column: number } | undefined;
}

/** `filesystem.write[2]`, `env.set.NAME`, `network.hosts["a.b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** One line per diagnostic: `file:line:col: error: path: message (hint: …)`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line !== undefined ? `${d.file}:${d.line}:${d.column}` : d.file;
  return `${where}: ${d.severity}: ${d.path ? `${d.path}: ` : ''}${d.message}${d.hint ? `\n    hint: ${d.hint}` : ''}`;
}

/** line:column (1-based) of offsets in `text`: line starts indexed once, then a binary search each. */
function lineColumnIndex(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] as number) + 1 };
  };
}

/** Nesting depth of brackets outside strings; stops counting past the limit. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > max) max = depth;
      if (max > MAX_DEPTH) return max;
    } else if (c === '}' || c === ']') depth--;
  }
  return max;
}

const SYNTAX_HINTS: Record<string, string> = {
  CommaExpected: 'a comma is missing between two entries',
  PropertyNameExpected: 'keys are double-quoted; a trailing comma before } is not allowed',
  ValueExpected: 'a value is missing (or a trailing comma before ] or })',
  InvalidSymbol: 'JSON has no comments: use a "//" key for notes',
  InvalidCommentToken: 'JSON has no comments: use a "//" key for notes',
  CloseBraceExpected: 'an object is not closed with }',
  CloseBracketExpected: 'a list is not closed with ]',
};

/** Key names an object at `path` accepts, for "did you mean". */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = profileSchema;
  for (const seg of path) {
    const unwrapped = unwrap(schema);
    const shape = (unwrapped as unknown as { shape?: Record<string, z.ZodType> }).shape;
    const next = shape?.[String(seg)];
    if (!next) return [];
    schema = next;
  }
  const shape = (unwrap(schema) as unknown as { shape?: Record<string, z.ZodType> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s as unknown as { def?: { type?: string; innerType?: z.ZodType } };
  while (cur.def && (cur.def.type === 'optional' || cur.def.type === 'default') && cur.def.innerType) {
    cur = cur.def.innerType as unknown as typeof cur;
  }
  return cur as unknown as z.ZodType;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

function unknownKeyHint(path: readonly PropertyKey[], key: string): string | undefined {
  const keys = knownKeys(path).filter((k) => k !== '//');
  if (keys.length === 0) return undefined;
  const close = keys.filter((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return close.length ? `did you mean "${close[0]}"? known keys here: ${keys.join(', ')}` : `known keys here: ${keys.join(', ')}`;
}

function issueHint(issue: z.core.$ZodIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'invalid_value':
      return issue.path.at(-1) === 'version' ? 'this cordon reads version 1 profiles: "version": 1' : undefined;
    case 'invalid_union':
      return issue.path[0] === 'secrets' ? 'a secret is {"fromEnv": "VAR"} or {"fromFile": "/path"}' : undefined;
    default:
      return undefined;
  }
}

function valueAt(value: unknown, path: readonly (string | number)[]): unknown {
  let cur = value;
  for (const seg of path) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[seg] : undefined;
  return cur;
}

function byPosition(list: Diagnostic[]): void {
  list.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/** Parses profile text; never throws. */
export function parseProfileText(text: string, file: string): ProfileSource {
  const diagnostics: Diagnostic[] = [];
  let root: Node | undefined;
  const at = lineColumnIndex(text);
  const locate = (path: readonly (string | number)[]) => {
    if (!root) return undefined;
    for (let n = path.length; n >= 0; n--) {
      const node = findNodeAtLocation(root, path.slice(0, n) as (string | number)[]);
      if (node) return at(node.parent?.type === 'property' ? node.parent.offset : node.offset);
    }
    return undefined;
  };
  const src: ProfileSource = { file, text, diagnostics, locate };
  const error = (path: readonly (string | number)[], message: string, hint?: string, pos = locate(path)) =>
    diagnostics.push({ severity: 'error', file, ...pos, path: formatPath(path), message, ...(hint ? { hint } : {}) });

  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const depth = nestingDepth(text);
  if (depth > MAX_DEPTH) {
    error([], `nested more than ${MAX_DEPTH} levels deep`, 'a profile is at most a few levels deep', { line: 1, column: 1 });
    return src;
  }
  const errors: ParseError[] = [];
  root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0 || !root) {
    for (const e of errors.length ? errors : [{ error: 1, offset: 0, length: 0 } as unknown as ParseError]) {
      const code = printParseErrorCode(e.error);
      error([], `invalid JSON: ${code}`, SYNTAX_HINTS[code], at(e.offset));
    }
    root = undefined;
    return src;
  }
  // Duplicate keys: JSON.parse would silently keep the last one, which a reviewer may never see.
  const walk = (node: Node, path: (string | number)[]) => {
    if (node.type === 'object') {
      const seen = new Set<string>();
      for (const prop of node.children ?? []) {
        const [k, v] = prop.children ?? [];
        const key = String(k?.value);
        if (seen.has(key)) error([...path, key], `duplicate key "${key}"`, 'JSON keeps only the last one; merge the two', at(prop.offset));
        seen.add(key);
        if (v) walk(v, [...path, key]);
      }
    } else if (node.type === 'array') {
      (node.children ?? []).forEach((c, i) => walk(c, [...path, i]));
    }
  };
  walk(root, []);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    error([], `invalid JSON: ${(err as Error).message}`, undefined, { line: 1, column: 1 });
    return src;
  }
  const parsed = profileSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path as (string | number)[];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) error([...path, key], `unknown key "${key}"`, unknownKeyHint(path, key));
      } else if (path.length > 0 && valueAt(value, path) === undefined) {
        error(path, `missing required key "${String(path.at(-1))}"`, issueHint(issue));
      } else {
        error(path, issue.message, issueHint(issue));
      }
    }
    // Also check the entries of the sections that are well-formed on their own, so one run shows every mistake.
    const partial: Record<string, unknown> = { version: 1 };
    const shape = profileSchema.shape as Record<string, z.ZodType>;
    for (const [key, v] of Object.entries(value && typeof value === 'object' ? value : {})) {
      if (key !== 'version' && key !== 'extends' && shape[key]?.safeParse(v).success) partial[key] = v;
    }
    for (const p of lintDocument(partial as ProfileDocument)) error(p.path, p.message, p.hint);
    byPosition(diagnostics);
    return src;
  }
  for (const p of lintDocument(parsed.data)) error(p.path, p.message, p.hint);
  byPosition(diagnostics);
  if (diagnostics.length === 0) src.doc = parsed.data;
  return src;
}

/** Reads and parses a profile file: size and type checked first; never throws. */
export function readProfileSource(file: string): ProfileSource {
  const fail = (message: string, hint?: string): ProfileSource => ({
    file,
    text: '',
    diagnostics: [{ severity: 'error', file, path: '', message, ...(hint ? { hint } : {}) }],
    locate: () => undefined,
  });
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    return fail(`cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!st.isFile()) return fail('not a regular file');
  if (st.size > MAX_PROFILE_BYTES) return fail(`profile is ${st.size} bytes; the limit is ${MAX_PROFILE_BYTES}`, 'a profile this large is not reviewable; split it with extends');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.length > MAX_PROFILE_BYTES) return fail(`profile is larger than ${MAX_PROFILE_BYTES} bytes`);
  // The same text parses to the same result: reuse it (a Sandbox per task re-reads the same files).
  const known = parsed.get(file);
  if (known && known.text === text) return known;
  const source = parseProfileText(text, file);
  if (source.doc) deepFreeze(source.doc);
  if (parsed.size >= MAX_PARSED) parsed.clear();
  parsed.set(file, source);
  return source;
}

/** Parsed files by path, reused only while their text is the same (compared in full, not by mtime). */
const parsed = new Map<string, ProfileSource>();
const MAX_PARSED = 64;


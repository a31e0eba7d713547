// cordon – checks on single profile entries that need no machine state: variables, absolute paths, `..`, globs, acknowledgements.
//
// Used twice: by the loader on every file (so `cordon profile check` reports each mistake with its
// position) and by the compiler on the merged profile (API overrides never went through a file).
import { parseNetRule } from '../policy/netrules.js';
import { parseSize } from '../policy/sizes.js';
import type { ProfileDocument } from './schema.js';

/** A problem with one entry: what is wrong and how to fix it. */
export interface Problem {
  message: string;
  hint?: string;
}

export const KNOWN_VARIABLES = '${workspace}, ${home}, ${tmp}, ${env:NAME}';
const VARIABLE = /\$\{([^}]*)\}/g;
export const GLOB_CHARS = /[*?[\]{}]/;

/** Top-level directories whose write access amounts to owning the machine (or, for home, the user). */
const BROAD_WRITE = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/opt', '/proc', '/root', '/sbin', '/srv', '/sys', '/usr', '/var']);

/** The variable names in a path, or a problem naming the first unknown one. */
export function variableProblem(raw: string): Problem | undefined {
  for (const m of raw.matchAll(VARIABLE)) {
    const name = m[1] ?? '';
    if (name === 'workspace' || name === 'home' || name === 'tmp') continue;
    if (name.startsWith('env:') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name.slice(4))) continue;
    return { message: `unknown variable \${${name}}`, hint: `known variables: ${KNOWN_VARIABLES}` };
  }
  if (/\$\{[^}]*$/.test(raw)) return { message: 'unterminated ${', hint: `known variables: ${KNOWN_VARIABLES}` };
  return undefined;
}

/** Problems of an expanded path (absolute, no `..`); also used after variables are substituted. */
const DOTDOT_SEGMENT = /(?:^|\/)\.\.(?:\/|$)/;

export function expandedPathProblem(p: string): Problem | undefined {
  if (!p.startsWith('/')) return { message: 'is not absolute', hint: 'start paths with /, ~/ or a variable such as ${workspace}' };
  if (DOTDOT_SEGMENT.test(p)) return { message: 'contains ".." segments', hint: 'write the path without .. so what it grants is plain to see' };
  if (p.includes('\0')) return { message: 'contains a NUL byte' };
  return undefined;
}

/** Verdicts of pathProblem by text: a profile's entries are linted when loaded and again when compiled. */
const pathVerdicts = new Map<string, Problem | null>();
const MAX_VERDICTS = 20_000;

/** Checks a raw path rule: known variables, absolute once expanded, no `..`, globs only where allowed. */
export function pathProblem(raw: string, globsAllowed: boolean): Problem | undefined {
  const key = (globsAllowed ? 'g' : 'l') + raw;
  let verdict = pathVerdicts.get(key);
  if (verdict === undefined) {
    const problem = checkPath(raw, globsAllowed);
    verdict = problem ? Object.freeze(problem) : null;
    if (pathVerdicts.size >= MAX_VERDICTS) pathVerdicts.clear();
    pathVerdicts.set(key, verdict);
  }
  return verdict ?? undefined;
}

function checkPath(raw: string, globsAllowed: boolean): Problem | undefined {
  const v = variableProblem(raw);
  if (v) return v;
  // Variables expand to absolute paths; `~` to the home directory.
  let shaped = raw.replace(VARIABLE, '/v');
  if (shaped === '~' || shaped.startsWith('~/')) shaped = '/v' + shaped.slice(1);
  const p = expandedPathProblem(shaped);
  if (p) return p;
  if (!globsAllowed && GLOB_CHARS.test(raw.replace(VARIABLE, ''))) {
    return { message: 'globs are only allowed in filesystem.deny', hint: 'list the directory itself; a grant covers everything below it' };
  }
  return undefined;
}

/** A writable root so broad it needs `unsafe.allowBroadWrite` (raw or expanded form). */
export function isBroadWrite(p: string, home?: string): boolean {
  const norm = p.length > 1 ? p.replace(/\/+$/, '') : p;
  return BROAD_WRITE.has(norm) || norm === '~' || norm === '${home}' || (home !== undefined && norm === home);
}

/** A parsed network rule host that matches every address: `*` or a /0 CIDR. */
export function isAnyHost(host: string): boolean {
  return host === '*' || /\/0$/.test(host);
}

/** One entry of a document with the problem found there. `path` is the JSON path of the entry. */
export interface EntryProblem extends Problem {
  path: (string | number)[];
}

/** Problems of frozen documents (loaded profiles are frozen and shared): linted once. */
const lintedDocs = new WeakMap<object, readonly EntryProblem[]>();

/** Every entry-level problem in one profile document (positions are added by the caller). */
export function lintDocument(doc: ProfileDocument): EntryProblem[] {
  if (!Object.isFrozen(doc)) return lintEntries(doc);
  let problems = lintedDocs.get(doc);
  if (!problems) lintedDocs.set(doc, (problems = lintEntries(doc)));
  return [...problems];
}

function lintEntries(doc: ProfileDocument): EntryProblem[] {
  const out: EntryProblem[] = [];
  const fs = doc.filesystem ?? {};
  const ack = doc.unsafe ?? {};
  const lists = ['read', 'write', 'protected', 'deny', 'allowSecrets'] as const;
  for (const field of lists) {
    (fs[field] ?? []).forEach((raw, i) => {
      const p = pathProblem(raw, field === 'deny');
      if (p) out.push({ path: ['filesystem', field, i], message: `"${raw}": ${p.message}`, ...(p.hint ? { hint: p.hint } : {}) });
      else if (field === 'write' && isBroadWrite(raw) && !ack.allowBroadWrite) {
        out.push({
          path: ['filesystem', field, i],
          message: `"${raw}" makes ${raw === '/' ? 'the whole host' : 'a system or home tree'} writable`,
          hint: 'name the directories that need writing; to mean it, set "unsafe": {"allowBroadWrite": true}',
        });
      }
    });
  }
  const net = doc.network ?? {};
  for (const action of ['allow', 'deny'] as const) {
    (net[action] ?? []).forEach((text, i) => {
      const parsed = parseNetRule(text, action, '', false);
      if (!parsed.ok) out.push({ path: ['network', action, i], message: parsed.reason, hint: 'rules look like example.com, *.example.com:443, 10.0.0.0/8, [::1]:8080' });
      else if (action === 'allow' && isAnyHost(parsed.rule.host) && !ack.allowAnyHost) {
        out.push({ path: ['network', action, i], message: `"${text}" allows every host`, hint: 'list the hosts; to mean it, set "unsafe": {"allowAnyHost": true} (or use network.mode "host")' });
      }
    });
  }
  for (const [name, addrs] of Object.entries(net.hosts ?? {})) {
    addrs.forEach((a, i) => {
      if (!/^[\d.]+$|:/.test(a) || !parseNetRule(a, 'allow', '', false).ok) out.push({ path: ['network', 'hosts', name, i], message: `"${a}" is not an IP address` });
    });
  }
  const env = doc.env ?? {};
  (env.allow ?? []).forEach((n, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$/.test(n)) out.push({ path: ['env', 'allow', i], message: `"${n}" is not a variable name or PREFIX_*` });
    else if (n === '*' && !ack.allowAllEnv) out.push({ path: ['env', 'allow', i], message: '"*" passes the whole caller environment, secrets included', hint: 'list the variables; to mean it, set "unsafe": {"allowAllEnv": true}' });
  });
  (env.deny ?? []).forEach((n, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$/.test(n)) out.push({ path: ['env', 'deny', i], message: `"${n}" is not a variable name or PREFIX_*` });
  });
  for (const name of Object.keys(env.set ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) out.push({ path: ['env', 'set', name], message: `"${name}" is not a variable name` });
    else if ((env.set?.[name] ?? '').includes('\0')) out.push({ path: ['env', 'set', name], message: 'the value contains a NUL byte' });
  }
  for (const [name, src] of Object.entries(doc.secrets ?? {})) {
    if ('fromFile' in src) {
      const p = pathProblem(src.fromFile, false);
      if (p) out.push({ path: ['secrets', name, 'fromFile'], message: `"${src.fromFile}": ${p.message}`, ...(p.hint ? { hint: p.hint } : {}) });
    }
    if ((env.set ?? {})[name] !== undefined) out.push({ path: ['secrets', name], message: `env.set also sets ${name}`, hint: 'a variable is either a fixed value or a secret' });
  }
  const limits = doc.limits ?? {};
  for (const key of ['tmpSize', 'memory', 'maxOutput'] as const) {
    const v = limits[key];
    if (v !== undefined && parseSize(v) === undefined) out.push({ path: ['limits', key], message: `bad size "${v}"`, hint: 'a size like 512m, 2g or 65536' });
  }
  return out;
}

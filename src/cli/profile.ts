// cordon – `cordon profile check|explain|diff|init|schema`: tooling for the people who write and review profiles.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import { compilePolicy, type CompileOptions } from '../policy/compile.js';
import type { Policy } from '../policy/policy.js';
import { formatWidening, widenings, type Widening } from '../profile/compare.js';
import { explainHost, explainPath, formatPolicy, parseEndpoint } from '../profile/explain.js';
import { inspectProfile, loadProfile, type Profile } from '../profile/load.js';
import { loadManaged, managedSources, withManagedRestrictions } from '../profile/managed.js';
import { formatDiagnostic, type Diagnostic } from '../profile/source.js';
import { schemaFile, schemaText, starterProfile, writeSchemaFile } from '../profile/starter.js';

export const PROFILE_HELP = `cordon profile – write, check and review profiles

  cordon profile check FILE…             every problem: file:line:column, JSON path, reason, hint (exit 1 if any)
  cordon profile explain FILE [--path P]… [--host H:PORT]…
                                         the effective policy after extends and variables, each rule with
                                         its origin; for a path or endpoint: allowed or not, by which rule
  cordon profile diff A B                what B allows that A does not, and the reverse (exit 1 if they differ)
  cordon profile init [FILE] [--force]   a commented starter profile (stdout without FILE)
  cordon profile schema [--write|--check]  the JSON Schema (profiles/schema.json)

  common flags: --workspace DIR (default: current directory)  --home DIR  --json
  A managed profile (/etc/cordon/managed.json, $CORDON_MANAGED_PROFILE) is applied by check and explain;
  --no-managed leaves it out.
`;

interface Flags {
  files: string[];
  paths: string[];
  hosts: string[];
  workspace: string;
  home?: string;
  json: boolean;
  force: boolean;
  managed: boolean;
  write: boolean;
  check: boolean;
}

function parseFlags(argv: readonly string[]): Flags {
  const f: Flags = { files: [], paths: [], hosts: [], workspace: process.cwd(), json: false, force: false, managed: true, write: false, check: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new CordonError('BAD_ARGUMENT', `${flag} needs a value`, { hint: 'see `cordon profile help`' });
      return v;
    };
    switch (flag) {
      case '--path':
        f.paths.push(value());
        break;
      case '--host':
        f.hosts.push(value());
        break;
      case '--workspace':
        f.workspace = path.resolve(value());
        break;
      case '--home':
        f.home = path.resolve(value());
        break;
      case '--json':
        f.json = true;
        break;
      case '--force':
        f.force = true;
        break;
      case '--no-managed':
        f.managed = false;
        break;
      case '--write':
        f.write = true;
        break;
      case '--check':
        f.check = true;
        break;
      case '--':
        f.files.push(...argv.slice(i + 1));
        i = argv.length;
        break;
      default:
        if (arg.startsWith('-')) throw new CordonError('BAD_ARGUMENT', `unknown flag ${arg}`, { hint: 'see `cordon profile help`' });
        f.files.push(arg);
    }
  }
  return f;
}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

function compileOptions(f: Flags): CompileOptions {
  return { workspace: f.workspace, ...(f.home ? { home: f.home } : {}) };
}

/** A profile reference as the user typed it: a path when it names an existing file, else a shipped name. */
function ref(arg: string): string {
  return existsSync(arg) && !arg.includes('/') ? `./${arg}` : arg;
}

/** Loads and compiles a profile with the managed restrictions merged in; returns the widenings beyond each managed profile. */
function compileWithFloor(arg: string, f: Flags): { profile: Profile; policy: Policy; beyond: Array<{ file: string; found: Widening[] }> } {
  let profile = loadProfile(ref(arg));
  const managed = f.managed ? managedSources().map((file) => ({ file, profile: loadManaged(file) })) : [];
  for (const m of managed) profile = withManagedRestrictions(profile, m.profile);
  const policy = compilePolicy(profile, compileOptions(f));
  const beyond = managed.map((m) => ({ file: m.file, found: widenings(compilePolicy(m.profile, compileOptions(f)), policy) })).filter((b) => b.found.length > 0);
  return { profile, policy, beyond };
}

function check(f: Flags): number {
  if (f.files.length === 0) throw new CordonError('BAD_ARGUMENT', 'usage: cordon profile check FILE…');
  const all: Diagnostic[] = [];
  for (const file of f.files) {
    const report = inspectProfile(ref(file));
    const diagnostics = [...report.diagnostics];
    if (report.profile) {
      // What only compiling shows: unset ${env:…} variables, symlinked protected paths, the managed floor.
      try {
        const { beyond } = compileWithFloor(file, f);
        for (const b of beyond) {
          for (const w of b.found) {
            diagnostics.push({ severity: 'error', file: path.resolve(file), path: w.rule?.source ?? '', message: `beyond the managed profile ${b.file}: ${formatWidening(w)}`, hint: 'a managed profile can only be narrowed' });
          }
        }
      } catch (err) {
        const e = err as CordonError;
        diagnostics.push({
          severity: 'error',
          file: e.detail?.file ?? path.resolve(file),
          path: e.detail?.path ?? '',
          message: e.message,
          ...(e.detail?.hint ? { hint: e.detail.hint } : {}),
        });
      }
    }
    all.push(...diagnostics);
    if (!f.json) {
      for (const d of diagnostics) out(formatDiagnostic(d));
      if (diagnostics.every((d) => d.severity !== 'error')) out(`${file}: ok`);
    }
  }
  const errors = all.filter((d) => d.severity === 'error').length;
  if (f.json) out(JSON.stringify({ ok: errors === 0, diagnostics: all }, null, 2));
  else if (errors) process.stderr.write(`cordon: ${errors} problem${errors > 1 ? 's' : ''} in ${f.files.length} file${f.files.length > 1 ? 's' : ''}\n`);
  return errors ? 1 : 0;
}

function explain(f: Flags): number {
  if (f.files.length !== 1) throw new CordonError('BAD_ARGUMENT', 'usage: cordon profile explain FILE [--path P]… [--host H:PORT]…');
  const { policy, beyond } = compileWithFloor(f.files[0] as string, f);
  const paths = f.paths.map((p) => explainPath(policy, p));
  const hosts = f.hosts.map((h) => {
    const { host, port } = parseEndpoint(h);
    return explainHost(policy, host, port);
  });
  if (f.json) {
    out(JSON.stringify({ policy: f.paths.length || f.hosts.length ? undefined : policy, paths, hosts, managed: beyond }, null, 2));
  } else {
    if (paths.length === 0 && hosts.length === 0) out(formatPolicy(policy));
    for (const v of paths) {
      out(`${v.path}${v.resolved ? ` (→ ${v.resolved})` : ''}: ${v.access === 'none' ? 'NOT accessible' : v.access === 'read' ? 'read-only' : 'read-write'} — ${v.reason}`);
      if (v.rule) out(`  rule: ${v.rule.rule} [${v.rule.source}]`);
    }
    for (const v of hosts) {
      out(`${v.host}:${v.port}: ${v.allowed ? 'allowed' : 'DENIED'} — ${v.reason}`);
      if (v.rule) out(`  rule: ${v.rule.rule} [${v.rule.source}]`);
    }
    for (const b of beyond) {
      out(`\nthis profile goes beyond the managed profile ${b.file}; runs with it will be refused:`);
      for (const w of b.found) out(`  ${formatWidening(w)}`);
    }
  }
  // Queries answer with the exit status too: 0 when everything asked about is reachable.
  const denied = paths.some((v) => v.access === 'none') || hosts.some((v) => !v.allowed);
  return (f.paths.length || f.hosts.length) && denied ? 1 : 0;
}

function diff(f: Flags): number {
  if (f.files.length !== 2) throw new CordonError('BAD_ARGUMENT', 'usage: cordon profile diff A B');
  const [a, b] = f.files as [string, string];
  const pa = compilePolicy(loadProfile(ref(a)), compileOptions(f));
  const pb = compilePolicy(loadProfile(ref(b)), compileOptions(f));
  const bMore = widenings(pa, pb);
  const aMore = widenings(pb, pa);
  if (f.json) {
    out(JSON.stringify({ [`${b} allows, ${a} does not`]: bMore, [`${a} allows, ${b} does not`]: aMore }, null, 2));
  } else {
    const show = (title: string, list: Widening[]) => {
      out(`${title}:`);
      if (list.length === 0) out('  (nothing)');
      for (const w of list) out(`  ${formatWidening(w)}`);
    };
    show(`${b} allows what ${a} does not`, bMore);
    show(`${a} allows what ${b} does not`, aMore);
  }
  return bMore.length || aMore.length ? 1 : 0;
}

function init(f: Flags): number {
  const file = f.files[0];
  if (!file) {
    out(starterProfile(schemaFile()));
    return 0;
  }
  if (existsSync(file) && !f.force) throw new CordonError('BAD_ARGUMENT', `${file} exists; pass --force to overwrite it`);
  writeFileSync(file, starterProfile(path.relative(path.dirname(path.resolve(file)), schemaFile()) || schemaFile()));
  process.stderr.write(`cordon: wrote ${file}; check it with \`cordon profile check ${file}\`\n`);
  return 0;
}

function schema(f: Flags): number {
  if (f.write) {
    writeSchemaFile();
    process.stderr.write(`cordon: wrote ${schemaFile()}\n`);
    return 0;
  }
  if (f.check) {
    const current = existsSync(schemaFile()) ? readFileSync(schemaFile(), 'utf8') : '';
    if (current === schemaText()) return 0;
    process.stderr.write(`cordon: ${schemaFile()} is stale; run \`cordon profile schema --write\`\n`);
    return 1;
  }
  out(schemaText());
  return 0;
}

export async function profileCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const f = parseFlags(rest);
  switch (sub) {
    case 'check':
      return check(f);
    case 'explain':
      return explain(f);
    case 'diff':
      return diff(f);
    case 'init':
      return init(f);
    case 'schema':
      return schema(f);
    case undefined:
    case 'help':
    case '--help':
      out(PROFILE_HELP);
      return sub === undefined ? 2 : 0;
    default:
      throw new CordonError('BAD_ARGUMENT', `unknown profile command "${sub}"`, { hint: 'see `cordon profile help`' });
  }
}

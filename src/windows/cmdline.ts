// cordon – argv → a Windows command line, program lookup without the current directory, and the env block.
//
// Pure functions (path.win32), unit-tested on every OS. CreateProcess takes one command-line string that
// each program re-splits with the C runtime's rules; `quoteArg` is the inverse of those rules.
import path from 'node:path';

const win = path.win32;

/** Quote one argument so that CommandLineToArgvW / the MSVC CRT give it back unchanged. */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('argument contains a NUL character');
  if (arg !== '' && !/[ \t\n\v"]/.test(arg)) return arg;
  let out = '"';
  let slashes = 0;
  for (const ch of arg) {
    if (ch === '\\') {
      slashes++;
      continue;
    }
    out += ch === '"' ? '\\'.repeat(slashes * 2 + 1) + '"' : '\\'.repeat(slashes) + ch;
    slashes = 0;
  }
  return out + '\\'.repeat(slashes * 2) + '"';
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(quoteArg).join(' ');
}

export interface ResolveOptions {
  cwd: string;
  /** The sandbox's PATH and PATHEXT (not the host's). */
  path: string | undefined;
  pathext: string | undefined;
  isFile: (p: string) => boolean;
}

export type Resolved = { kind: 'exe'; path: string } | { kind: 'batch'; path: string } | { kind: 'missing' };

const BATCH = new Set(['.bat', '.cmd']);

/**
 * Finds the program for argv[0]. Unlike CreateProcess's own search, the current directory is never
 * searched for a bare name (a workspace cannot plant `git.exe`); names with a separator are taken
 * relative to cwd. `.bat`/`.cmd` are reported as `batch`: they run only through an explicit `cmd.exe /c`.
 */
export function resolveProgram(argv0: string, o: ResolveOptions): Resolved {
  const exts = (o.pathext ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean).map((e) => e.toLowerCase());
  const candidates = (base: string): string[] =>
    win.extname(base) !== '' ? [base, ...exts.map((e) => base + e)] : exts.map((e) => base + e);
  const hasDir = /[\\/]/.test(argv0) || /^[a-z]:/i.test(argv0);
  const dirs = hasDir ? [''] : (o.path ?? '').split(';').filter((d) => d !== '' && win.isAbsolute(d));
  for (const dir of dirs) {
    const base = hasDir ? win.resolve(o.cwd, argv0) : win.join(dir, argv0);
    for (const c of candidates(base)) {
      if (!o.isFile(c)) continue;
      return BATCH.has(win.extname(c).toLowerCase()) ? { kind: 'batch', path: c } : { kind: 'exe', path: c };
    }
  }
  return { kind: 'missing' };
}

/**
 * The CREATE_UNICODE_ENVIRONMENT block: `NAME=value\0…\0\0` in UTF-16LE, names unique ignoring case,
 * sorted by upper-cased name as Windows expects.
 */
export function envBlock(env: Readonly<Record<string, string>>): Buffer {
  const byUpper = new Map<string, [string, string]>();
  for (const [k, v] of Object.entries(env)) {
    if (k === '' || k.slice(1).includes('=') || k.includes('\0') || v.includes('\0')) {
      throw new Error(`invalid environment variable name or value: ${JSON.stringify(k)}`);
    }
    byUpper.set(k.toUpperCase(), [k, v]);
  }
  const keys = [...byUpper.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const text = keys.map((u) => {
    const [k, v] = byUpper.get(u)!;
    return `${k}=${v}\0`;
  });
  return Buffer.from(text.join('') + (keys.length === 0 ? '\0\0' : '\0'), 'utf16le');
}

/** Case-insensitive lookup, as Windows does for environment names. */
export function getEnv(env: Readonly<Record<string, string>>, name: string): string | undefined {
  const u = name.toUpperCase();
  for (const [k, v] of Object.entries(env)) if (k.toUpperCase() === u) return v;
  return undefined;
}

// cordon – derives filesystem violations from the error messages tools print (EROFS/EACCES with a path).
//
// The kernel does not tell an unprivileged supervisor which write Landlock or a read-only mount
// refused (Landlock's audit records need CAP_AUDIT_READ), but every libc tool names the path in
// its error. These violations carry source "stderr" so consumers know how they were learned.
import type { Violation } from './result.js';

const PATTERNS: Array<{ re: RegExp; kind: Violation['kind']; detail: string }> = [
  { re: /['"‘`]?(\/[^'"’`:\n]*)['"’`]?[^\n]*?: Read-only file system/g, kind: 'fs-write', detail: 'read-only in the sandbox (EROFS)' },
  { re: /Read-only file system[^\n]*?['"‘`](\/[^'"’`\n]+)['"’`]/g, kind: 'fs-write', detail: 'read-only in the sandbox (EROFS)' },
  { re: /['"‘`]?(\/[^'"’`:\n]*)['"’`]?[^\n]*?: Permission denied/g, kind: 'fs-write', detail: 'permission denied in the sandbox (EACCES)' },
];

const SCAN_LIMIT = 1 << 20;

export function violationsFromStderr(stderr: Buffer): Violation[] {
  if (stderr.length === 0) return [];
  const text = stderr.subarray(0, SCAN_LIMIT).toString('utf8');
  // Every pattern needs one of these phrases: most stderr has neither, and one search is cheaper than three regexes.
  if (!text.includes('Read-only file system') && !text.includes(': Permission denied')) return [];
  const seen = new Set<string>();
  const out: Violation[] = [];
  for (const { re, kind, detail } of PATTERNS) {
    for (const m of text.matchAll(re)) {
      const what = m[1]?.trim();
      if (!what || seen.has(what)) continue;
      seen.add(what);
      out.push({ kind, what, detail, source: 'stderr' });
    }
  }
  return out;
}

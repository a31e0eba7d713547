// cordon – applies the plan's ACL entries to the disk once per workspace, journalled and reversible.
//
// Grants go to a SID only cordon uses (capability or AppContainer SID), so revoking is REVOKE_ACCESS
// for that SID on each recorded path: the user's own ACEs are never touched. Entries are diffed per
// path against the journal; a path whose entries changed is revoked and re-applied as a whole.
import { existsSync, lstatSync } from 'node:fs';

import { C } from './consts.js';
import type { AclEntry } from './plan.js';
import { sidToBytes } from './sid.js';
import { saveWorkspace, type WorkspaceRecord } from './state.js';
import { explicitAccess } from './token.js';
import { checkCode, wide, Win32Error, type Win32 } from './win32.js';

const key = (e: AclEntry) => e.path.toLowerCase();

function byPath(entries: readonly AclEntry[]): Map<string, AclEntry[]> {
  const m = new Map<string, AclEntry[]>();
  for (const e of entries) m.set(key(e), [...(m.get(key(e)) ?? []), e]);
  return m;
}

const same = (a: readonly AclEntry[] = [], b: readonly AclEntry[] = []) =>
  JSON.stringify(a.map((e) => [e.sid, e.mode, e.mask, e.inherit])) === JSON.stringify(b.map((e) => [e.sid, e.mode, e.mask, e.inherit]));

export interface AclDiff {
  /** Paths whose cordon ACEs must be removed (changed or no longer planned). */
  revoke: { path: string; sids: string[] }[];
  /** Entries to apply, grouped by path (denies after grants: SetEntriesInAcl merges in order). */
  apply: AclEntry[][];
  unchanged: number;
}

/** Pure: what to change on disk to go from the journal's `applied` entries to `planned` (existing paths only). */
export function diffAcl(applied: readonly AclEntry[], planned: readonly AclEntry[]): AclDiff {
  const old = byPath(applied);
  const want = byPath(planned);
  const diff: AclDiff = { revoke: [], apply: [], unchanged: 0 };
  for (const [p, entries] of old) {
    if (same(entries, want.get(p))) continue;
    diff.revoke.push({ path: entries[0]!.path, sids: [...new Set(entries.map((e) => e.sid))] });
  }
  for (const [p, entries] of want) {
    if (same(old.get(p), entries)) {
      diff.unchanged++;
      continue;
    }
    diff.apply.push([...entries].sort((a, b) => (a.mode === b.mode ? 0 : a.mode === 'grant' ? -1 : 1)));
  }
  return diff;
}

type Ea = ReturnType<typeof explicitAccess>;

/** Reads a DACL, merges `ea` into it with SetEntriesInAclW, writes it back; frees everything. */
export function editDacl(w: Win32, what: string, get: (dacl: unknown[], sd: unknown[]) => number, set: (acl: unknown) => number, ea: Ea): void {
  const dacl = [null];
  const sd = [null];
  checkCode(`GetSecurityInfo(${what})`, get(dacl, sd));
  const next = [null];
  try {
    checkCode('SetEntriesInAclW', w.advapi32.SetEntriesInAclW!(ea.length, ea, dacl[0], next));
    checkCode(`SetSecurityInfo(${what})`, set(next[0]));
  } finally {
    if (next[0]) w.kernel32.LocalFree!(next[0]);
    if (sd[0]) w.kernel32.LocalFree!(sd[0]);
  }
}

function setEntries(w: Win32, path: string, ea: Ea): void {
  const name = `\\\\?\\${path}`;
  const info = C.DACL_SECURITY_INFORMATION;
  editDacl(w, path,
    (dacl, sd) => w.advapi32.GetNamedSecurityInfoW!(name, C.SE_FILE_OBJECT, info, null, null, dacl, null, sd),
    (acl) => w.advapi32.SetNamedSecurityInfoW!(name, C.SE_FILE_OBJECT, info, null, null, acl, null),
    ea);
}

export function applyEntries(w: Win32, entries: readonly AclEntry[]): void {
  const first = entries[0];
  if (!first) return;
  const ea = entries.flatMap((e) => explicitAccess([sidToBytes(e.sid)], e.mask,
    e.mode === 'grant' ? C.GRANT_ACCESS : C.DENY_ACCESS, e.inherit ? C.SUB_CONTAINERS_AND_OBJECTS_INHERIT : C.NO_INHERITANCE));
  setEntries(w, first.path, ea);
}

export function revokeSids(w: Win32, path: string, sids: readonly string[]): void {
  if (!existsSync(path)) return;
  setEntries(w, path, sids.flatMap((s) => explicitAccess([sidToBytes(s)], 0, C.REVOKE_ACCESS, C.NO_INHERITANCE)));
}

/** Refuses to put an inheritable grant on a reparse point: it would land on whatever the link targets. */
function assertNotReparse(path: string): void {
  if (lstatSync(path).isSymbolicLink()) {
    throw new Win32Error(`ACL grant on ${path}`, 4390, '(a symbolic link or junction; grant its target instead)');
  }
}

/**
 * Brings the disk in line with `planned`, journalling in `rec` (pending first, then applied).
 * Entries whose path does not exist yet are skipped (returned) and applied by a later call.
 */
export function ensureAcl(w: Win32, stateDir: string, rec: WorkspaceRecord, planned: readonly AclEntry[]): { applied: number; absent: string[] } {
  const present = planned.filter((e) => existsSync(e.path));
  const absent = [...new Set(planned.filter((e) => !existsSync(e.path)).map((e) => e.path))];
  const diff = diffAcl(rec.grants, present);
  if (diff.revoke.length === 0 && diff.apply.length === 0) return { applied: 0, absent };
  rec.pending = diff.apply.flat();
  saveWorkspace(stateDir, rec);
  for (const r of diff.revoke) revokeSids(w, r.path, r.sids);
  const revoked = new Set(diff.revoke.map((r) => r.path.toLowerCase()));
  rec.grants = rec.grants.filter((g) => !revoked.has(key(g)));
  for (const group of diff.apply) {
    assertNotReparse(group[0]!.path);
    applyEntries(w, group);
    rec.grants.push(...group);
    saveWorkspace(stateDir, rec);
  }
  rec.pending = [];
  saveWorkspace(stateDir, rec);
  return { applied: diff.apply.length, absent };
}

/** Removes every ACE recorded for the workspace. */
export function revokeAll(w: Win32, stateDir: string, rec: WorkspaceRecord): void {
  for (const [, entries] of byPath([...rec.grants, ...rec.pending])) {
    revokeSids(w, entries[0]!.path, [...new Set(entries.map((e) => e.sid))]);
  }
  rec.grants = [];
  rec.pending = [];
  saveWorkspace(stateDir, rec);
}

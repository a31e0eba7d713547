// cordon – security identifiers: well-known SIDs, per-workspace capability SIDs, string ⇄ binary SIDs.
//
// Pure TypeScript (no Win32 calls): the binary form is what the kernel stores, so the ACL, token and
// WFP code can build SIDs without ConvertStringSidToSidW/LocalFree, and the planner can run on Linux.
import { createHash, randomBytes } from 'node:crypto';

export const WELL_KNOWN_SIDS = {
  everyone: 'S-1-1-0',
  system: 'S-1-5-18',
  restricted: 'S-1-5-12',
  administrators: 'S-1-5-32-544',
  users: 'S-1-5-32-545',
  allApplicationPackages: 'S-1-15-2-1',
  /** AppContainer capability `internetClient` (WinCapabilityInternetClientSid). */
  internetClient: 'S-1-15-3-1',
  /** AppContainer capability `privateNetworkClientServer`. */
  privateNetworkClientServer: 'S-1-15-3-3',
} as const;

const SID_RE = /^S-1-(\d+)((?:-\d+)+)$/i;

export function isSidString(s: string): boolean {
  const m = SID_RE.exec(s);
  if (!m) return false;
  const subs = m[2]!.slice(1).split('-');
  return subs.length >= 1 && subs.length <= 15 && subs.every((x) => Number(x) <= 0xffffffff);
}

/** `S-1-5-21-1-2-3-4` → the self-relative binary SID (revision, count, 48-bit authority, sub-authorities). */
export function sidToBytes(sid: string): Buffer {
  const m = SID_RE.exec(sid);
  if (!m || !isSidString(sid)) throw new Error(`not a SID: ${sid}`);
  const authority = BigInt(m[1]!);
  const subs = m[2]!.slice(1).split('-').map(Number);
  const out = Buffer.alloc(8 + 4 * subs.length);
  out[0] = 1;
  out[1] = subs.length;
  for (let i = 0; i < 6; i++) out[2 + i] = Number((authority >> BigInt(8 * (5 - i))) & 0xffn);
  subs.forEach((v, i) => out.writeUInt32LE(v, 8 + 4 * i));
  return out;
}

export function sidFromBytes(buf: Uint8Array): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8 || b[0] !== 1) throw new Error('not a binary SID');
  const count = b[1]!;
  let authority = 0n;
  for (let i = 0; i < 6; i++) authority = (authority << 8n) | BigInt(b[2 + i]!);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-1-${authority}-${subs.join('-')}`;
}

/** Length in bytes of a binary SID given its sub-authority count byte. */
export function sidLength(subAuthorityCount: number): number {
  return 8 + 4 * subAuthorityCount;
}

/**
 * A fresh synthetic capability SID `S-1-5-21-a-b-c-d` (Codex's scheme): it appears in no account and no
 * group, so only a token that lists it as a restricting SID can use ACEs granted to it.
 */
export function randomCapabilitySid(random: (n: number) => Buffer = randomBytes): string {
  const r = random(16);
  return `S-1-5-21-${[0, 4, 8, 12].map((o) => r.readUInt32LE(o)).join('-')}`;
}

/** Stable short id of a workspace: paths compare case-insensitively on Windows. */
export function workspaceId(workspace: string): string {
  return createHash('sha256').update(workspace.toLowerCase(), 'utf8').digest('hex').slice(0, 16);
}

/** AppContainer profile name for a workspace: ≤ 64 characters, no path separators, stable. */
export function appContainerName(workspace: string): string {
  return `cordon.${workspaceId(workspace)}`;
}

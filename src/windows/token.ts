// cordon – the default-mode token: the caller's token, write-restricted to {capability SID, logon SID, Everyone}.
//
// A write succeeds only if the user may write AND one restricting SID is granted, so the child writes
// only where acl.ts granted the workspace's capability SID (plus the rare Everyone-writable object).
// Its default DACL grants the capability and logon SIDs, so objects the child creates stay usable to it.
import { C } from './consts.js';
import { LOGON_SID, USER_SID, type TokenPlan } from './plan.js';
import { sidFromBytes, sidToBytes } from './sid.js';
import { check, checkCode, readSid, Win32Error, type Win32 } from './win32.js';

export interface CallerSids {
  user: string;
  logon: string;
}

function tokenInfo(w: Win32, token: unknown, cls: number): Buffer {
  const need = [0];
  w.advapi32.GetTokenInformation!(token, cls, null, 0, need);
  if (need[0] === 0) throw new Win32Error('GetTokenInformation', w.kernel32.GetLastError!());
  const buf = Buffer.alloc(need[0]!);
  check(w, 'GetTokenInformation', w.advapi32.GetTokenInformation!(token, cls, buf, buf.length, need));
  return buf;
}

/** The caller's user SID and logon-session SID (the one group with SE_GROUP_LOGON_ID). */
export function callerSids(w: Win32, token: unknown): CallerSids {
  const user = sidFromBytes(readSid(w, w.koffi.decode(tokenInfo(w, token, C.TokenUser), 'void *')));
  const groups = tokenInfo(w, token, C.TokenGroups);
  const count = groups.readUInt32LE(0);
  for (let i = 0; i < count; i++) {
    const attrs = groups.readUInt32LE(8 + 16 * i + 8);
    if ((attrs & C.SE_GROUP_LOGON_ID) >>> 0 === C.SE_GROUP_LOGON_ID) {
      const sid = w.koffi.decode(groups, 8 + 16 * i, 'void *');
      return { user, logon: sidFromBytes(readSid(w, sid)) };
    }
  }
  throw new Win32Error('GetTokenInformation', 0, '(no logon SID in the caller token)');
}

export function openCallerToken(w: Win32): unknown {
  const out = [null];
  const access = C.TOKEN_DUPLICATE | C.TOKEN_QUERY | C.TOKEN_ASSIGN_PRIMARY | C.TOKEN_ADJUST_DEFAULT |
    C.TOKEN_ADJUST_SESSIONID | C.TOKEN_ADJUST_PRIVILEGES;
  check(w, 'OpenProcessToken', w.advapi32.OpenProcessToken!(w.kernel32.GetCurrentProcess!(), access, out));
  return out[0];
}

function resolve(sid: string, caller: CallerSids): string {
  return sid === LOGON_SID ? caller.logon : sid === USER_SID ? caller.user : sid;
}

/** EXPLICIT_ACCESS_W entries for `sids`, each a TRUSTEE_IS_SID pointing at a Buffer kept by the caller. */
export function explicitAccess(sids: readonly Buffer[], mask: number, mode: number, inheritance: number) {
  return sids.map((sid) => ({
    grfAccessPermissions: mask >>> 0,
    grfAccessMode: mode,
    grfInheritance: inheritance,
    Trustee: { pMultipleTrustee: null, MultipleTrusteeOperation: 0, TrusteeForm: C.TRUSTEE_IS_SID, TrusteeType: C.TRUSTEE_IS_UNKNOWN, ptstrName: sid },
  }));
}

/** CreateRestrictedToken per the plan, with the default DACL replaced. The caller closes the handle. */
export function createRestrictedToken(w: Win32, plan: TokenPlan): { token: unknown; caller: CallerSids } {
  const base = openCallerToken(w);
  try {
    const caller = callerSids(w, base);
    const attrs = (sids: readonly string[]) => sids.map((s) => ({ Sid: sidToBytes(resolve(s, caller)), Attributes: 0 }));
    const disable = attrs(plan.disableSids);
    const restrict = attrs(plan.restrictingSids);
    const out = [null];
    check(w, 'CreateRestrictedToken', w.advapi32.CreateRestrictedToken!(
      base, plan.flags, disable.length, disable, 0, null, restrict.length, restrict, out));
    const token = out[0];
    try {
      setDefaultDacl(w, token, plan.defaultDaclSids.map((s) => sidToBytes(resolve(s, caller))));
    } catch (e) {
      w.kernel32.CloseHandle!(token);
      throw e;
    }
    return { token, caller };
  } finally {
    w.kernel32.CloseHandle!(base);
  }
}

function setDefaultDacl(w: Win32, token: unknown, sids: Buffer[]): void {
  const acl = [null];
  const ea = explicitAccess(sids, C.GENERIC_ALL, C.SET_ACCESS, C.NO_INHERITANCE);
  checkCode('SetEntriesInAclW', w.advapi32.SetEntriesInAclW!(ea.length, ea, null, acl));
  try {
    const info = Buffer.alloc(8);
    w.koffi.encode(info, 0, w.t.TOKEN_DEFAULT_DACL, { DefaultDacl: acl[0] });
    check(w, 'SetTokenInformation', w.advapi32.SetTokenInformation!(token, C.TokenDefaultDacl, info, info.length));
  } finally {
    w.kernel32.LocalFree!(acl[0]);
  }
}

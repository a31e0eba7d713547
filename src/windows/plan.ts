// cordon – Policy → WindowsPlan: pure data (ACL entries, token, job, AppContainer, env, network), no Win32 calls.
//
// Everything Windows-specific that can be decided without touching the machine is decided here, so it
// is unit-tested on any OS with path.win32. `refusals` are fail-closed reasons: the backend refuses to
// run while any is present. `unenforced` lists what the policy asks for and this mode cannot enforce.
import path from 'node:path';

import type { NetworkMode, Policy } from '../policy/policy.js';
import { C, MITIGATIONS } from './consts.js';
import { WELL_KNOWN_SIDS } from './sid.js';

const win = path.win32;

export type WindowsMode = 'default' | 'strict';

/** Backend options (`createWindowsBackend(options)`); Sandbox wires them from the caller. */
export interface WindowsOptions {
  /** `default`: write-restricted token + job. `strict`: AppContainer without capabilities. */
  mode?: WindowsMode;
  /**
   * Default mode cannot hide anything from reads (a write-restricted token reads as the user). Without
   * this explicit opt-in a default-mode policy with read restrictions is refused (fail closed).
   */
  allowUnenforcedReads?: boolean;
  /** cordon's local filtering proxy, when the caller runs one (network `allowlist`). */
  proxy?: { host: string; port: number };
  /** Overrides `%LOCALAPPDATA%\cordon` (tests). */
  stateDir?: string;
}

/** Placeholders resolved from the caller's token at launch. */
export const LOGON_SID = 'logon';
export const USER_SID = 'user';

export type AclReason = 'read' | 'write' | 'temp' | 'protected' | 'pin' | 'deny';

export interface AclEntry {
  readonly path: string;
  readonly sid: string;
  readonly mode: 'grant' | 'deny';
  readonly mask: number;
  /** Inherited by everything below `path` (SUB_CONTAINERS_AND_OBJECTS_INHERIT) or this object only. */
  readonly inherit: boolean;
  readonly reason: AclReason;
}

export interface TokenPlan {
  readonly flags: number;
  /** Restricting SIDs; `logon` is the caller's logon-session SID. */
  readonly restrictingSids: readonly string[];
  readonly disableSids: readonly string[];
  /** SIDs granted GENERIC_ALL in the token's default DACL (objects the child creates stay usable). */
  readonly defaultDaclSids: readonly string[];
}

export interface JobPlan {
  readonly limitFlags: number;
  readonly activeProcessLimit: number;
  readonly jobMemoryLimit: number;
  /** 100-ns units, for JOB_OBJECT_LIMIT_JOB_TIME. */
  readonly perJobUserTimeLimit: bigint;
  readonly uiRestrictions: number;
}

export interface AppContainerPlan {
  readonly name: string;
  readonly sid: string;
  readonly capabilities: readonly string[];
}

export type NetworkEnforcement = 'kernel' | 'wfp' | 'advisory' | 'unrestricted';

export interface NetworkPlan {
  readonly mode: NetworkMode;
  readonly enforcement: NetworkEnforcement;
  readonly proxyEnv: Readonly<Record<string, string>>;
}

export interface WindowsPlan {
  readonly mode: WindowsMode;
  readonly workspace: string;
  /** The SID every ACL entry is written for: the capability SID or the AppContainer SID. */
  readonly aclSid: string;
  readonly acl: readonly AclEntry[];
  readonly token: TokenPlan | null;
  readonly appContainer: AppContainerPlan | null;
  readonly job: JobPlan;
  readonly mitigations: bigint;
  /** Per-workspace temp root (granted); each run gets its own subdirectory as TEMP/TMP. */
  readonly tempDir: string;
  /** Variables added to the request's env when missing (essentials) or always (proxy). */
  readonly envDefaults: Readonly<Record<string, string>>;
  readonly network: NetworkPlan;
  readonly unenforced: readonly string[];
  readonly refusals: readonly string[];
  readonly warnings: readonly string[];
}

export interface PlanIdentity {
  /** Per-workspace synthetic capability SID (default mode). */
  capabilitySid: string;
  appContainerName: string;
  /** Resolved by appcontainer.ts (strict mode); absent when the APIs are missing. */
  appContainerSid?: string;
}

export interface PlanHost {
  /** `%SystemRoot%` and Program Files dirs: readable by ALL APPLICATION PACKAGES, never re-ACLed. */
  systemReadable: readonly string[];
  /** `<stateDir>\tmp\<workspace id>`. */
  tempDir: string;
  /** AppContainer SIDs with the elevated WFP filters installed (`cordon windows setup`). */
  wfpSids: readonly string[];
  /** The caller's environment, for the few non-secret variables Windows programs need. */
  env: Readonly<Record<string, string>>;
}

/** Read + execute (and traverse/list). */
export const READ_MASK = C.FILE_GENERIC_READ | C.FILE_GENERIC_EXECUTE;
/** Everything but FILE_DELETE_CHILD: deleting needs DELETE on the object, which protected paths deny. */
export const WRITE_MASK = READ_MASK | C.FILE_GENERIC_WRITE | C.DELETE;
/** Rights denied on protected paths: any change of data, attributes, ACL, owner, or deletion. */
export const PROTECT_MASK =
  C.FILE_WRITE_DATA | C.FILE_APPEND_DATA | C.FILE_WRITE_EA | C.FILE_WRITE_ATTRIBUTES |
  C.DELETE | C.FILE_DELETE_CHILD | C.WRITE_DAC | C.WRITE_OWNER;

export const JOB_UI_RESTRICTIONS =
  C.JOB_OBJECT_UILIMIT_DESKTOP | C.JOB_OBJECT_UILIMIT_DISPLAYSETTINGS | C.JOB_OBJECT_UILIMIT_EXITWINDOWS |
  C.JOB_OBJECT_UILIMIT_GLOBALATOMS | C.JOB_OBJECT_UILIMIT_READCLIPBOARD | C.JOB_OBJECT_UILIMIT_WRITECLIPBOARD |
  C.JOB_OBJECT_UILIMIT_SYSTEMPARAMETERS;

export const DEFAULT_MITIGATIONS = Object.values(MITIGATIONS).reduce((a, b) => a | b, 0n);

/** Variables copied from the host when the request lacks them: Windows programs fail without them. */
const ESSENTIAL_ENV = ['SystemRoot', 'SystemDrive', 'windir', 'ComSpec', 'PATHEXT', 'OS',
  'PROCESSOR_ARCHITECTURE', 'NUMBER_OF_PROCESSORS'];

/** A proxy nobody listens on (Codex's choice): proxy-aware tools fail fast instead of going direct. */
const DEAD_PROXY = 'http://127.0.0.1:9';

function norm(p: string): string {
  const n = win.normalize(p);
  return n.length > 3 ? n.replace(/[\\/]+$/, '') : n;
}

/** `child` is `parent` or below it, ignoring case (NTFS default). */
export function isWithin(child: string, parent: string): boolean {
  const c = norm(child).toLowerCase();
  const p = norm(parent).toLowerCase();
  return c === p || c.startsWith(p.endsWith('\\') ? p : p + '\\');
}

function uniq(paths: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const p of paths.map(norm)) if (!seen.has(p.toLowerCase())) seen.set(p.toLowerCase(), p);
  return [...seen.values()].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
}

/** Directories strictly between `root` and `target`: renaming one would carry a protected path away. */
function ancestorsBelow(root: string, target: string): string[] {
  const out: string[] = [];
  for (let d = win.dirname(norm(target)); isWithin(d, root) && d.toLowerCase() !== norm(root).toLowerCase(); d = win.dirname(d)) {
    out.push(d);
  }
  return out;
}

function protectEntries(sid: string, protectedPaths: string[], writeRoots: string[]): AclEntry[] {
  const out: AclEntry[] = [];
  const pinned = new Set<string>();
  for (const p of protectedPaths) {
    const root = writeRoots.find((w) => isWithin(p, w));
    if (!root) continue; // outside every writable tree: already read-only
    out.push({ path: p, sid, mode: 'deny', mask: PROTECT_MASK, inherit: true, reason: 'protected' });
    for (const a of ancestorsBelow(root, p)) {
      if (pinned.has(a.toLowerCase())) continue;
      pinned.add(a.toLowerCase());
      out.push({ path: a, sid, mode: 'deny', mask: C.DELETE, inherit: false, reason: 'pin' });
    }
  }
  return out;
}

function planAcl(policy: Policy, mode: WindowsMode, sid: string, host: PlanHost): { acl: AclEntry[]; skipped: string[] } {
  const write = uniq(policy.fs.write);
  const read = uniq(policy.fs.read).filter((r) => !write.some((w) => isWithin(r, w)));
  const acl: AclEntry[] = [];
  const skipped: string[] = [];
  if (mode === 'strict') {
    for (const r of read) {
      if (host.systemReadable.some((s) => isWithin(r, s))) skipped.push(r);
      else acl.push({ path: r, sid, mode: 'grant', mask: READ_MASK, inherit: true, reason: 'read' });
    }
  }
  for (const w of write) acl.push({ path: w, sid, mode: 'grant', mask: WRITE_MASK, inherit: true, reason: 'write' });
  acl.push({ path: norm(host.tempDir), sid, mode: 'grant', mask: WRITE_MASK, inherit: true, reason: 'temp' });
  acl.push(...protectEntries(sid, uniq(policy.fs.protected), write));
  // Masked paths: only those inside a tree this SID can reach need an ACE; elsewhere they are already out
  // of reach (strict) or not writable (default). In default mode the deny only stops writes.
  const reachable = mode === 'strict' ? [...read, ...write] : write;
  for (const d of uniq(policy.fs.deny)) {
    if (!reachable.some((r) => isWithin(d, r))) continue;
    acl.push({ path: d, sid, mode: 'deny', mask: mode === 'strict' ? C.FILE_ALL_ACCESS : PROTECT_MASK, inherit: true, reason: 'deny' });
  }
  return { acl, skipped };
}

function planJob(policy: Policy): JobPlan {
  const l = policy.limits;
  let flags = C.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | C.JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
  if (l.pids !== undefined) flags |= C.JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
  if (l.memoryBytes !== undefined) flags |= C.JOB_OBJECT_LIMIT_JOB_MEMORY;
  if (l.cpuSeconds !== undefined) flags |= C.JOB_OBJECT_LIMIT_JOB_TIME;
  return {
    limitFlags: flags,
    activeProcessLimit: l.pids ?? 0,
    jobMemoryLimit: l.memoryBytes ?? 0,
    perJobUserTimeLimit: BigInt(Math.round((l.cpuSeconds ?? 0) * 1e7)),
    uiRestrictions: JOB_UI_RESTRICTIONS,
  };
}

/** Windows environment names are case-insensitive: one spelling each (getenv finds `https_proxy` too). */
function proxyVars(url: string): Record<string, string> {
  return { HTTP_PROXY: url, HTTPS_PROXY: url, ALL_PROXY: url, NO_PROXY: '' };
}

function planNetwork(policy: Policy, mode: WindowsMode, options: WindowsOptions, acSid: string | undefined,
  host: PlanHost, refusals: string[], unenforced: string[]): { net: NetworkPlan; caps: string[] } {
  const m = policy.network.mode;
  const proxyUrl = options.proxy ? `http://${options.proxy.host}:${options.proxy.port}` : undefined;
  if (m === 'host') {
    const caps = mode === 'strict' ? [WELL_KNOWN_SIDS.internetClient, WELL_KNOWN_SIDS.privateNetworkClientServer] : [];
    return { net: { mode: m, enforcement: 'unrestricted', proxyEnv: {} }, caps };
  }
  if (mode === 'strict' && m === 'none') return { net: { mode: m, enforcement: 'kernel', proxyEnv: {} }, caps: [] };
  if (mode === 'strict') {
    if (!proxyUrl) refusals.push('network allowlist: no cordon proxy is running for this sandbox');
    if (!acSid || !host.wfpSids.includes(acSid)) {
      refusals.push('network allowlist in strict mode needs the WFP filters: run `cordon windows setup` (elevated, once per workspace)');
    }
    return { net: { mode: m, enforcement: 'wfp', proxyEnv: proxyUrl ? proxyVars(proxyUrl) : {} }, caps: [] };
  }
  unenforced.push(m === 'none'
    ? 'network none: default mode cannot block sockets; proxy variables point at a dead proxy (advisory)'
    : 'network allowlist: default mode only points proxy variables at cordon\'s proxy (advisory; tools that ignore them go direct)');
  const url = m === 'allowlist' && proxyUrl ? proxyUrl : DEAD_PROXY;
  return { net: { mode: m, enforcement: 'advisory', proxyEnv: proxyVars(url) }, caps: [] };
}

export function planWindows(policy: Policy, identity: PlanIdentity, host: PlanHost, options: WindowsOptions = {}): WindowsPlan {
  const mode = options.mode ?? 'default';
  const refusals: string[] = [];
  const unenforced: string[] = [];
  const warnings: string[] = [];
  const acSid = identity.appContainerSid;
  if (mode === 'strict' && !acSid) refusals.push('AppContainer: the AppContainer APIs are not available on this system');
  const aclSid = mode === 'strict' ? acSid ?? 'S-1-15-2-0' : identity.capabilitySid;

  const { acl, skipped } = planAcl(policy, mode, aclSid, host);
  if (skipped.length > 0) warnings.push(`readable through ALL APPLICATION PACKAGES, not re-ACLed: ${skipped.join(', ')}`);
  if (mode === 'default') {
    unenforced.push('reads: a write-restricted token reads everything the user can; the read allowlist and masked paths only stop writes');
    if (!options.allowUnenforcedReads) {
      refusals.push('read restrictions need strict mode (AppContainer); default mode enforces writes only — opt in with allowUnenforcedReads');
    }
  }
  const { net, caps } = planNetwork(policy, mode, options, acSid, host, refusals, unenforced);
  // The unix-socket guard is the Linux launcher's (pid 1 performs connect()); nothing here could let
  // exactly the named sockets through, so a policy that names some is refused rather than widened.
  if (policy.network.unixSockets.length > 0) refusals.push('network.unixSockets: host unix sockets are a Linux feature (the connect broker)');
  if (policy.limits.maxFiles !== undefined) unenforced.push('maxFiles: Windows has no per-process handle limit');
  unenforced.push('tmpBytes: the per-run temp directory has no size quota on Windows');

  const envDefaults: Record<string, string> = {};
  for (const k of ESSENTIAL_ENV) {
    const v = Object.entries(host.env).find(([n]) => n.toUpperCase() === k.toUpperCase())?.[1];
    if (v !== undefined) envDefaults[k] = v;
  }
  const token: TokenPlan | null = mode === 'default'
    ? {
        flags: C.DISABLE_MAX_PRIVILEGE | C.LUA_TOKEN | C.WRITE_RESTRICTED,
        restrictingSids: [identity.capabilitySid, LOGON_SID, WELL_KNOWN_SIDS.everyone],
        disableSids: [WELL_KNOWN_SIDS.administrators],
        defaultDaclSids: [USER_SID, WELL_KNOWN_SIDS.system, identity.capabilitySid, LOGON_SID],
      }
    : null;
  return {
    mode,
    workspace: norm(policy.workspace),
    aclSid,
    acl,
    token,
    appContainer: mode === 'strict' ? { name: identity.appContainerName, sid: aclSid, capabilities: caps } : null,
    job: planJob(policy),
    mitigations: DEFAULT_MITIGATIONS,
    tempDir: norm(host.tempDir),
    envDefaults,
    network: net,
    unenforced,
    refusals,
    warnings,
  };
}

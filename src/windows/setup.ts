// cordon – `cordon windows setup|teardown`: the one-time elevated network setup and its removal; grant revocation.
//
// setup: for each workspace's AppContainer SID, a loopback exemption (so it can reach 127.0.0.1 at all)
// and persistent WFP filters narrowing that to cordon's proxy ports; recorded in the state dir so
// strict mode can enforce network allowlists. teardown removes exactly what setup recorded and, with
// `grants`, every ACL entry cordon added (workspace journals), plus the AppContainer profiles.
import { CordonError } from '../errors.js';
import { revokeAll } from './acl.js';
import { deleteAppContainer, ensureAppContainer } from './appcontainer.js';
import { appContainerName, sidFromBytes, sidToBytes } from './sid.js';
import { defaultStateDir, forgetWorkspace, listWorkspaces, readWfpRecord, writeWfpRecord } from './state.js';
import { installFilters, planFilters, removeFilters } from './wfp.js';
import { optional, readSid, Win32Error, win32, type Win32 } from './win32.js';

/** Fixed loopback port range cordon's proxy binds on Windows (a fixed range avoids re-running setup). */
export const DEFAULT_PROXY_PORTS: [number, number] = [47000, 47009];

export interface SetupOptions {
  workspaces: readonly string[];
  proxyPorts?: [number, number];
  stateDir?: string;
}

const FIREWALLAPI = [
  'uint32 __stdcall NetworkIsolationGetAppContainerConfig(_Out_ uint32 *count, _Out_ void **sids)',
  'uint32 __stdcall NetworkIsolationSetAppContainerConfig(uint32 count, SID_AND_ATTRIBUTES *sids)',
] as const;

function loopbackExempt(w: Win32, add: readonly string[], remove: readonly string[]): void {
  const api = optional(w.koffi, 'FirewallAPI.dll', FIREWALLAPI);
  if (typeof api === 'string') throw new Win32Error('NetworkIsolationSetAppContainerConfig', 127, `(${api})`);
  const count = [0];
  const ptr = [null];
  const rc = api.NetworkIsolationGetAppContainerConfig!(count, ptr) as number;
  if (rc !== 0) throw new Win32Error('NetworkIsolationGetAppContainerConfig', rc);
  const current = count[0] && ptr[0]
    ? (w.koffi.decode(ptr[0], w.koffi.array(w.t.SID_AND_ATTRIBUTES, count[0])) as { Sid: unknown }[]).map((e) => sidFromBytes(readSid(w, e.Sid)))
    : [];
  // The returned array is owned by FirewallAPI's allocator; this one-shot elevated command leaves it.
  const drop = new Set(remove.map((s) => s.toUpperCase()));
  const next = [...new Set([...current, ...add].map((s) => s.toUpperCase()))].filter((s) => !drop.has(s));
  const entries = next.map((s) => ({ Sid: sidToBytes(s), Attributes: 0 }));
  const set = api.NetworkIsolationSetAppContainerConfig!(entries.length, entries.length ? entries : null) as number;
  if (set !== 0) throw new Win32Error('NetworkIsolationSetAppContainerConfig', set);
}

function elevatedError(step: string, e: unknown): CordonError {
  const code = e instanceof Win32Error ? e.code >>> 0 : undefined;
  return new CordonError('SETUP_FAILED', `cordon windows ${step} failed: ${(e as Error).message}`, {
    step, syscall: e instanceof Win32Error ? e.fn : undefined, errno: code,
    hint: code === 5 || code === 0x80070005 ? 'run it from an elevated (Administrator) prompt' : undefined,
  });
}

export function windowsSetup(o: SetupOptions): { sids: string[]; filters: number; proxyPorts: [number, number] } {
  const w = win32();
  const stateDir = o.stateDir ?? defaultStateDir();
  const ports = o.proxyPorts ?? readWfpRecord(stateDir)?.proxyPorts ?? DEFAULT_PROXY_PORTS;
  const previous = readWfpRecord(stateDir)?.sids ?? [];
  try {
    const sids = [...new Set([...previous, ...o.workspaces.map((ws) => ensureAppContainer(w, appContainerName(ws)))])];
    const filters = planFilters(sids, ports);
    installFilters(w, filters);
    loopbackExempt(w, sids, []);
    writeWfpRecord(stateDir, { version: 1, sids, proxyPorts: ports });
    return { sids, filters: filters.length, proxyPorts: ports };
  } catch (e) {
    throw elevatedError('setup', e);
  }
}

export function windowsTeardown(o: { stateDir?: string; grants?: boolean } = {}): { sids: string[]; workspaces: number } {
  const w = win32();
  const stateDir = o.stateDir ?? defaultStateDir();
  const rec = readWfpRecord(stateDir);
  try {
    if (rec) {
      removeFilters(w, planFilters(rec.sids, rec.proxyPorts));
      loopbackExempt(w, [], rec.sids);
      writeWfpRecord(stateDir, undefined);
    }
  } catch (e) {
    throw elevatedError('teardown', e);
  }
  const workspaces = o.grants ? listWorkspaces(stateDir) : [];
  for (const ws of workspaces) {
    revokeAll(w, stateDir, ws);
    deleteAppContainer(w, ws.appContainerName);
    forgetWorkspace(stateDir, ws.workspace);
  }
  return { sids: rec?.sids ?? [], workspaces: workspaces.length };
}

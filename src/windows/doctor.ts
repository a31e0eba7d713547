// cordon – what the Windows backend can enforce on this machine (`cordon doctor` on Windows).
import type { Capabilities, LayerReport } from '../platform/backend.js';
import { appContainerAvailable } from './appcontainer.js';
import type { WindowsOptions } from './plan.js';
import { defaultStateDir, readWfpRecord } from './state.js';
import { optional, win32, type Win32 } from './win32.js';

function osVersion(w: Win32): { major: number; minor: number; build: number } | undefined {
  const ntdll = optional(w.koffi, 'ntdll.dll', ['int32 __stdcall RtlGetVersion(_Inout_ OSVERSIONINFOW *info)']);
  if (typeof ntdll === 'string') return undefined;
  const info: Record<string, any> = { dwOSVersionInfoSize: w.koffi.sizeof(w.t.OSVERSIONINFOW) };
  if (ntdll.RtlGetVersion!(info) !== 0) return undefined;
  return { major: info.dwMajorVersion, minor: info.dwMinorVersion, build: info.dwBuildNumber };
}

/** Windows 10 1809 (build 17763): JOB_LIST attribute, ConPTY, AF_UNIX. */
const MIN_BUILD = 17763;

export function windowsLayers(w: Win32, options: WindowsOptions = {}): LayerReport[] {
  const mode = options.mode ?? 'default';
  const v = osVersion(w);
  const versionOk = !!v && (v.major > 10 || (v.major === 10 && v.build >= MIN_BUILD));
  const ac = appContainerAvailable(w);
  const wfp = readWfpRecord(options.stateDir ?? defaultStateDir());
  const networkDetail = mode === 'strict'
    ? wfp
      ? `WFP filters installed for ${wfp.sids.length} AppContainer(s), proxy ports ${wfp.proxyPorts.join('-')}: allowlist enforced`
      : 'no WFP filters: network none is enforced (no capabilities); allowlist needs `cordon windows setup` (elevated, once)'
    : 'advisory only: default mode sets proxy variables, a tool that ignores them reaches the network';
  return [
    { name: 'windows version', available: versionOk, detail: v ? `${v.major}.${v.minor}.${v.build} (need 10.0.${MIN_BUILD}+)` : 'RtlGetVersion unavailable', required: true },
    { name: 'job objects', available: true, detail: 'kill-on-close, process/memory/CPU limits, UI restrictions, JOB_LIST', required: true },
    { name: 'restricted token', available: true, detail: 'WRITE_RESTRICTED + per-workspace capability SID (writes only; reads stay at user level)', required: mode === 'default' },
    { name: 'appcontainer', available: ac === true, detail: ac === true ? 'userenv AppContainer APIs present (strict mode: read allowlist, no network)' : ac, required: mode === 'strict' },
    { name: 'private desktop', available: true, detail: 'CreateDesktopW on WinSta0 (skipped outside the interactive window station)', required: true },
    { name: 'network enforcement', available: mode === 'strict', detail: networkDetail, required: false },
    { name: 'win32 bindings', available: true, detail: `koffi (prebuilt ${process.arch} binary), no compiler needed`, required: true },
  ];
}

export async function probeWindows(options: WindowsOptions = {}): Promise<Capabilities> {
  try {
    return { platform: 'win32', layers: windowsLayers(win32(), options) };
  } catch (e) {
    return { platform: 'win32', layers: [{ name: 'win32 bindings', available: false, detail: (e as Error).message, required: true }] };
  }
}

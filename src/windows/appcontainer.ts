// cordon – strict mode's AppContainer profile: one stable profile (and SID) per workspace, no capabilities.
//
// The userenv APIs are looked up at run time: Wine and Windows before 8 lack them, and a missing one
// is reported (doctor, LAYER_UNAVAILABLE) instead of aborting the process.
import { sidFromBytes } from './sid.js';
import { readSid, Win32Error, type Win32 } from './win32.js';

const HRESULT_ALREADY_EXISTS = 0x800700b7 | 0;

export function appContainerAvailable(w: Win32): string | true {
  return typeof w.userenv === 'string' ? w.userenv : true;
}

function takeSid(w: Win32, ptr: unknown): string {
  try {
    return sidFromBytes(readSid(w, ptr));
  } finally {
    w.advapi32.FreeSid!(ptr);
  }
}

/** Creates the profile if needed and returns its SID (`S-1-15-2-…`). */
export function ensureAppContainer(w: Win32, name: string): string {
  if (typeof w.userenv === 'string') throw new Win32Error('CreateAppContainerProfile', 127, `(${w.userenv})`);
  const out = [null];
  const hr = w.userenv.CreateAppContainerProfile!(name, name, 'cordon sandbox (strict mode)', null, 0, out) as number;
  if (hr === 0) return takeSid(w, out[0]);
  if (hr !== HRESULT_ALREADY_EXISTS) throw new Win32Error('CreateAppContainerProfile', hr);
  const derived = [null];
  const hr2 = w.userenv.DeriveAppContainerSidFromAppContainerName!(name, derived) as number;
  if (hr2 !== 0) throw new Win32Error('DeriveAppContainerSidFromAppContainerName', hr2);
  return takeSid(w, derived[0]);
}

export function deleteAppContainer(w: Win32, name: string): void {
  if (typeof w.userenv !== 'string') w.userenv.DeleteAppContainerProfile!(name);
}

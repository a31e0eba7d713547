// cordon – a private desktop per command, so sandboxed windows cannot message (shatter) the user's desktop.
//
// Created on the caller's window station and opened to the sandbox SID only. Outside the interactive
// window station (services, SSH) there is no user desktop to protect and the station's default is used.
import { randomBytes } from 'node:crypto';

import { C } from './consts.js';
import { sidToBytes } from './sid.js';
import { explicitAccess } from './token.js';
import { editDacl } from './acl.js';
import { check, type Win32 } from './win32.js';

export interface Desktop {
  /** `WinSta0\cordon-…` for STARTUPINFO.lpDesktop. */
  name: string;
  handle: unknown | null;
}

export function windowStationName(w: Win32): string {
  const station = w.user32.GetProcessWindowStation!();
  const buf = Buffer.alloc(512);
  const need = [0];
  check(w, 'GetUserObjectInformationW', w.user32.GetUserObjectInformationW!(station, C.UOI_NAME, buf, buf.length, need));
  return buf.toString('utf16le').replace(/\0.*$/s, '');
}

export function createDesktop(w: Win32, sids: readonly string[]): Desktop {
  const station = windowStationName(w);
  if (station.toLowerCase() !== 'winsta0') return { name: `${station}\\Default`, handle: null };
  const name = `cordon-${randomBytes(8).toString('hex')}`;
  const handle = check(w, 'CreateDesktopW', w.user32.CreateDesktopW!(name, null, null, 0, C.GENERIC_ALL, null));
  try {
    const info = C.DACL_SECURITY_INFORMATION;
    editDacl(w, 'desktop',
      (dacl, sd) => w.advapi32.GetSecurityInfo!(handle, C.SE_WINDOW_OBJECT, info, null, null, dacl, null, sd),
      (acl) => w.advapi32.SetSecurityInfo!(handle, C.SE_WINDOW_OBJECT, info, null, null, acl, null),
      explicitAccess(sids.map(sidToBytes), C.GENERIC_ALL, C.GRANT_ACCESS, C.NO_INHERITANCE));
  } catch (e) {
    w.user32.CloseDesktop!(handle);
    throw e;
  }
  return { name: `${station}\\${name}`, handle };
}

export function closeDesktop(w: Win32, d: Desktop): void {
  if (d.handle) w.user32.CloseDesktop!(d.handle);
}

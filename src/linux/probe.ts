// cordon – asks the launcher once per process which kernel layers this machine can enforce.
import { execFileSync } from 'node:child_process';

import { launcherPath } from '../paths.js';

export interface LinuxProbe {
  /** errno of unshare(CLONE_NEWUSER), 0 when it works. */
  userns: number;
  /** errno of unshare(user|mount|pid|net|ipc|uts), 0 when it works. */
  namespaces: number;
  /** errno of installing a seccomp filter, 0 when it works. */
  seccomp: number;
  landlockAbi: number;
  landlockErrno: number;
  /** errno of pid 1 of a new user+pid namespace writing its own pid_max (0: Linux 6.14+ namespaced pid_max works). */
  pidMax?: number;
  kernel: string;
  machine: string;
  uid: number;
}

let cached: LinuxProbe | undefined;

/** Runs `cordon-launcher --probe` (a few ms) the first time; later calls are free. */
export function probeLinux(): LinuxProbe | undefined {
  if (cached) return cached;
  const launcher = launcherPath();
  if (!launcher) return undefined;
  const out = execFileSync(launcher, ['--probe'], { encoding: 'utf8', env: {}, timeout: 10_000 });
  cached = JSON.parse(out) as LinuxProbe;
  return cached;
}

// cordon – `cordon doctor` for Linux: which layers this machine can enforce, and why not where not.
import { existsSync, readFileSync } from 'node:fs';

import type { Capabilities, LayerReport } from '../platform/backend.js';
import { LANDLOCK_ABI_USED } from './landlock.js';
import { errnoName } from '../errors.js';
import type { LinuxProbe } from './probe.js';
import { networkLayers } from '../net/doctor.js';
import { limitSupport } from './limits.js';

function sysctl(name: string): string | undefined {
  const p = `/proc/sys/${name.replace(/\./g, '/')}`;
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined;
}

export function linuxCapabilities(probe: LinuxProbe | undefined): Capabilities {
  if (!probe) {
    return {
      platform: 'linux',
      layers: [{ name: 'native launcher', available: false, detail: 'not built: run `npm install` (needs g++, make, python3)', required: true }],
    };
  }
  const layers: LayerReport[] = [
    { name: 'native launcher', available: true, detail: `kernel ${probe.kernel} ${probe.machine}, uid ${probe.uid}`, required: true },
    {
      name: 'user namespaces',
      available: probe.userns === 0,
      detail: probe.userns === 0 ? 'unprivileged user namespaces work' : `unshare(CLONE_NEWUSER) failed: ${errnoName(probe.userns)}`,
      required: true,
    },
    {
      name: 'mount/pid/net/ipc/uts namespaces',
      available: probe.namespaces === 0,
      detail: probe.namespaces === 0 ? 'all can be created together' : `unshare failed: ${errnoName(probe.namespaces)}`,
      required: true,
    },
    {
      name: 'landlock',
      available: probe.landlockAbi > 0,
      detail:
        probe.landlockAbi > 0
          ? `ABI ${probe.landlockAbi} (cordon uses up to ${LANDLOCK_ABI_USED}: ${probe.landlockAbi >= 6 ? 'scoping of abstract unix sockets and signals; the mount tree enforces the file policy' : 'no scoping below ABI 6, so the write side of the mount plan is mirrored'})`
          : `unavailable (${errnoName(probe.landlockErrno)}); enable CONFIG_SECURITY_LANDLOCK and lsm=landlock,…`,
      required: true,
    },
    {
      name: 'seccomp',
      available: probe.seccomp === 0,
      detail: probe.seccomp === 0 ? 'filters with user notification' : `seccomp() failed: ${errnoName(probe.seccomp)}`,
      required: true,
    },
  ];
  const tiocsti = sysctl('dev.tty.legacy_tiocsti');
  layers.push({
    name: 'terminal injection (TIOCSTI)',
    available: true,
    detail: `commands run in a new session with pipes for stdio${tiocsti === '1' ? ' (legacy_tiocsti=1 on this host, harmless inside)' : ''}`,
    required: false,
  });
  const iouring = sysctl('kernel.io_uring_disabled');
  layers.push({
    name: 'io_uring',
    available: true,
    detail: `blocked by the seccomp filter${iouring !== undefined ? ` (host kernel.io_uring_disabled=${iouring})` : ''}`,
    required: false,
  });
  // Resource limits: which mechanism enforces each one here (a requested limit with none refuses to run).
  for (const [name, s] of Object.entries(limitSupport(probe.uid, probe.kernel))) {
    layers.push({ name: `limit ${name}`, available: s.mechanism !== 'unavailable', detail: `${s.mechanism}: ${s.detail}`, required: false });
  }
  const pidCap = probe.pidMax === 0 ? 'the sandbox\'s own pid_max (namespaced, Linux 6.14+)' : probe.uid !== 0 ? 'RLIMIT_NPROC (per sandbox user namespace)' : undefined;
  layers.push({
    name: 'default process cap (4096)',
    available: pidCap !== undefined,
    detail: pidCap ?? `no namespaced pid_max (${errnoName(probe.pidMax ?? 0)}) and RLIMIT_NPROC does not apply to root: set limits.pids`,
    required: false,
  });
  layers.push(...networkLayers());
  return { platform: 'linux', layers };
}

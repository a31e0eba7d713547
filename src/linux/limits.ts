// cordon – resource limits on Linux: which mechanism enforces each limit on this machine, and the
// launcher records (tags 40..59, native/launcher/limits.h) that apply them.
//
// Mechanisms, best first:
//   cgroup v2   a delegated, writable cgroup2 directory whose subtree_control has the controller
//               (CORDON_CGROUP names one explicitly; otherwise our own cgroup if it qualifies);
//   cgroup v1   our own cgroup in the v1 hierarchy of the controller, when writable (root);
//   rlimits     per process: RLIMIT_DATA (memory, best effort), RLIMIT_CPU, RLIMIT_NOFILE, and
//               RLIMIT_NPROC for pids — which the kernel (5.14+) counts per user namespace, i.e.
//               per sandbox, but does not enforce for uid 0, so root without a pids cgroup has none.
// A limit the policy asks for and no mechanism can enforce fails closed (LAYER_UNAVAILABLE).
import { accessSync, constants, existsSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import type { LimitsPolicy } from '../policy/policy.js';
import type { LimitKind } from '../sandbox/result.js';
import { Tag, type WireWriter } from './wire.js';

export type LimitName = 'memory' | 'pids' | 'cpu' | 'files' | 'tmp' | 'timeout' | 'output';
export type Mechanism = 'cgroup-v2' | 'cgroup-v1' | 'rlimit' | 'tmpfs' | 'supervisor' | 'unavailable';

export interface LimitSupport {
  mechanism: Mechanism;
  detail: string;
}

/** Where cgroups can be made: parent directories per controller. */
export interface CgroupSites {
  v2?: { dir: string; memory: boolean; pids: boolean };
  v1: { memory?: string; pids?: string };
  notes: string[];
}

const RLIMIT = { CPU: 0, DATA: 2, CORE: 4, NPROC: 6, NOFILE: 7 } as const;
/** Prefix of every cgroup directory cordon creates (…/cordon-<launcher pid>-<caller pid>). */
export const CGROUP_PREFIX = 'cordon-';

/** The directory name of launcher `pid`'s groups (its caller is this process). */
export function cgroupLeaf(pid: number, caller = process.pid): string {
  return `${CGROUP_PREFIX}${pid}-${caller}`;
}

interface Mount {
  root: string;
  point: string;
  fstype: string;
  superOpts: string[];
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function cgroupMounts(): Mount[] {
  const out: Mount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const pre = line.slice(0, dash).split(' ');
    const [fstype = '', , superOpts = ''] = line.slice(dash + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ root: unescapeMount(pre[3] ?? '/'), point: unescapeMount(pre[4] ?? ''), fstype, superOpts: superOpts.split(',') });
  }
  return out;
}

function under(mount: Mount, cgPath: string): string {
  const rel = mount.root !== '/' && (cgPath === mount.root || cgPath.startsWith(mount.root + '/')) ? cgPath.slice(mount.root.length) : cgPath;
  const dir = path.join(mount.point, rel);
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    accessSync(path.join(dir, 'cgroup.procs'), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function read(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

let cachedSites: CgroupSites | undefined;

/** Finds the cgroup directories this process may create limit groups under (cached per process). */
export function detectCgroups(): CgroupSites {
  if (cachedSites) return cachedSites;
  const sites: CgroupSites = { v1: {}, notes: [] };
  let mounts: Mount[] = [];
  let own: string[] = [];
  try {
    mounts = cgroupMounts();
    own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').filter(Boolean);
  } catch {
    sites.notes.push('cannot read /proc/self/cgroup or mountinfo');
  }
  // cgroup v2: an explicit delegated directory, or our own cgroup when it can have children with controllers.
  const v2mount = mounts.find((m) => m.fstype === 'cgroup2');
  const v2own = own.find((l) => l.startsWith('0::'))?.slice(3);
  const candidates = [process.env.CORDON_CGROUP, v2mount && v2own !== undefined ? under(v2mount, v2own) : undefined].filter(
    (d): d is string => typeof d === 'string' && path.isAbsolute(d),
  );
  for (const dir of candidates) {
    const enabled = (read(path.join(dir, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
    const memory = enabled.includes('memory');
    const pids = enabled.includes('pids');
    if ((memory || pids) && writable(dir)) {
      sites.v2 = { dir, memory, pids };
      break;
    }
    sites.notes.push(`cgroup v2 ${dir}: ${memory || pids ? 'not writable' : 'memory/pids not enabled in cgroup.subtree_control'}`);
  }
  // cgroup v1: our own group in each controller's hierarchy.
  for (const ctrl of ['memory', 'pids'] as const) {
    const mount = mounts.find((m) => m.fstype === 'cgroup' && m.superOpts.includes(ctrl));
    const line = own.map((l) => l.split(':')).find((f) => f.length >= 3 && (f[1] ?? '').split(',').includes(ctrl));
    if (!mount || !line) continue;
    const dir = under(mount, line.slice(2).join(':'));
    if (writable(dir)) sites.v1[ctrl] = dir;
    else sites.notes.push(`cgroup v1 ${ctrl} ${dir}: not writable by uid ${process.getuid?.()}`);
  }
  cachedSites = sites;
  return sites;
}

function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/** Which mechanism enforces each limit here, and how. */
export function limitSupport(uid: number, kernel: string, sites: CgroupSites = detectCgroups()): Record<LimitName, LimitSupport> {
  const cg = (ctrl: 'memory' | 'pids'): LimitSupport | undefined => {
    if (sites.v2?.[ctrl]) return { mechanism: 'cgroup-v2', detail: `cgroup v2 under ${sites.v2.dir}` };
    const v1 = sites.v1[ctrl];
    if (v1) return { mechanism: 'cgroup-v1', detail: `cgroup v1 ${ctrl} controller under ${v1}` };
    return undefined;
  };
  const nproc: LimitSupport =
    uid !== 0 && kernelAtLeast(kernel, 5, 14)
      ? { mechanism: 'rlimit', detail: 'RLIMIT_NPROC, counted in the sandbox user namespace (no writable pids cgroup)' }
      : {
          mechanism: 'unavailable',
          detail: uid === 0 ? 'no writable pids cgroup, and the kernel does not apply RLIMIT_NPROC to uid 0' : `kernel ${kernel} counts RLIMIT_NPROC per user, not per sandbox (needs 5.14+)`,
        };
  return {
    memory: cg('memory') ?? { mechanism: 'rlimit', detail: 'RLIMIT_DATA per process, best effort: allocations fail with ENOMEM, no oom report (no writable memory cgroup)' },
    pids: cg('pids') ?? nproc,
    cpu: { mechanism: 'rlimit', detail: 'RLIMIT_CPU per process: SIGXCPU at the limit, SIGKILL one second later' },
    files: { mechanism: 'rlimit', detail: 'RLIMIT_NOFILE per process' },
    tmp: { mechanism: 'tmpfs', detail: 'size of the private /tmp and /dev/shm tmpfs (ENOSPC when full)' },
    timeout: { mechanism: 'supervisor', detail: 'wall clock, the whole tree is killed' },
    output: { mechanism: 'supervisor', detail: 'stdout/stderr cap, the whole tree is killed' },
  };
}

/** What planLinux needs to remember per Sandbox about the limits. */
export interface LimitsPlan {
  /** Cgroup parent directories the launcher creates cordon-<pid> in (for cleanup after a SIGKILL). */
  cgroupParents: string[];
  /** Whether the launcher reports counters after the run (the result must wait for it). */
  counters: boolean;
  /** The same counters, for Node to read itself when the launcher was killed before it could. */
  counterFiles: Array<{ parent: string; file: string; key: string; label: LimitKind }>;
  cpuSeconds?: number;
}

/** Appends the limit records for `limits` (fails closed when one cannot be enforced). */
export function encodeLimits(w: WireWriter, limits: LimitsPolicy, support: Record<LimitName, LimitSupport>, sites: CgroupSites): LimitsPlan {
  const plan: LimitsPlan = { cgroupParents: [], counters: false, counterFiles: [] };
  const parentOf = new Map<string, string>(); // group name → parent dir
  const rlimit = (res: number, soft: number | 'inf', hard: number | 'inf') => w.fields(Tag.limitRlimit, String(res), String(soft), String(hard));
  const groups = new Map<string, string>(); // parent dir → group name (co-mounted controllers share one)
  const group = (name: string, dir: string): string => {
    const known = groups.get(dir);
    if (known) return known;
    groups.set(dir, name);
    parentOf.set(name, dir);
    plan.cgroupParents.push(dir);
    w.fields(Tag.limitCgroup, name, dir);
    return name;
  };
  const set = (name: string, file: string, value: string) => w.fields(Tag.limitCgset, name, file, value);
  const counter = (name: string, file: string, key: string, label: LimitKind) => {
    plan.counters = true;
    plan.counterFiles.push({ parent: parentOf.get(name) ?? '', file, key, label });
    w.fields(Tag.limitCounter, name, file, key, label);
  };
  const need = (name: LimitName, what: string): LimitSupport => {
    const s = support[name];
    if (s.mechanism === 'unavailable') {
      throw new CordonError('LAYER_UNAVAILABLE', `the ${what} limit cannot be enforced on this machine: ${s.detail}`, {
        step: 'limits',
        hint: 'run `cordon doctor`; delegate a cgroup v2 subtree with the controller (CORDON_CGROUP=dir) or drop the limit',
      });
    }
    return s;
  };
  rlimit(RLIMIT.CORE, 0, 0); // a core dump would land in the workspace or the host's core_pattern helper

  if (limits.memoryBytes !== undefined) {
    const s = need('memory', 'memory');
    const bytes = String(limits.memoryBytes);
    if (s.mechanism === 'cgroup-v2' && sites.v2) {
      const g = group('unified', sites.v2.dir);
      set(g, 'memory.max', bytes);
      set(g, 'memory.oom.group', '1');
      counter(g, 'memory.events', 'oom_kill', 'oom');
    } else if (s.mechanism === 'cgroup-v1' && sites.v1.memory) {
      const g = group('memory', sites.v1.memory);
      set(g, 'memory.limit_in_bytes', bytes);
      if (existsSync(path.join(sites.v1.memory, 'memory.memsw.limit_in_bytes'))) set(g, 'memory.memsw.limit_in_bytes', bytes);
      counter(g, 'memory.oom_control', 'oom_kill', 'oom');
    } else {
      rlimit(RLIMIT.DATA, limits.memoryBytes, limits.memoryBytes);
    }
  }
  if (limits.pids !== undefined) {
    const s = need('pids', 'pids');
    const max = String(limits.pids + 1); // + init, which lives in the same group / user namespace
    if (s.mechanism === 'cgroup-v2' && sites.v2) {
      const g = group('unified', sites.v2.dir);
      set(g, 'pids.max', max);
      counter(g, 'pids.events', 'max', 'pids');
    } else if (s.mechanism === 'cgroup-v1' && sites.v1.pids) {
      const g = group('pids', sites.v1.pids);
      set(g, 'pids.max', max);
      counter(g, 'pids.events', 'max', 'pids');
    } else {
      rlimit(RLIMIT.NPROC, limits.pids + 1, limits.pids + 1);
    }
  }
  if (limits.cpuSeconds !== undefined) {
    const soft = Math.max(1, Math.ceil(limits.cpuSeconds));
    rlimit(RLIMIT.CPU, soft, soft + 1);
    plan.cpuSeconds = soft;
  }
  if (limits.maxFiles !== undefined) rlimit(RLIMIT.NOFILE, limits.maxFiles, limits.maxFiles);
  return plan;
}

/** How the launcher's records say a kernel-enforced limit ended the command (null: none did). */
export function limitFromRecords(
  exit: { exitCode: number | null; signal: NodeJS.Signals | null },
  hits: ReadonlyMap<string, number>,
  cpuTimeUs: number | undefined,
  plan: LimitsPlan,
): LimitKind | null {
  const failed = exit.signal !== null || (exit.exitCode ?? 0) !== 0;
  if (!failed) return null;
  if (hits.get('oom')) return 'oom';
  if (exit.signal === 'SIGXCPU') return 'cpu';
  if (exit.signal === 'SIGKILL' && plan.cpuSeconds !== undefined && (cpuTimeUs ?? 0) >= plan.cpuSeconds * 1e6) return 'cpu';
  if (hits.get('pids')) return 'pids';
  return null;
}

const guarded = new Map<number, readonly string[]>();
let exitHook = false;

/**
 * Until `release()`, the launcher `pid` owns cgroups under `parents`: if this process exits first,
 * the launcher is killed and its directories removed synchronously (waiting up to ~1 s for the
 * sandbox's tree to die). A SIGKILLed caller cannot do this; the next launcher sweeps them instead.
 */
export function guardLauncherCgroups(parents: readonly string[], pid: number | undefined): () => void {
  if (parents.length === 0 || pid === undefined) return () => {};
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      const pause = new Int32Array(new SharedArrayBuffer(4));
      for (const p of guarded.keys()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const [p, dirs] of guarded) {
        for (const parent of dirs) {
          const dir = path.join(parent, cgroupLeaf(p));
          for (let i = 0; i < 200; i++) {
            try {
              rmdirSync(dir);
              break;
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code !== 'EBUSY') break;
              Atomics.wait(pause, 0, 0, 5);
            }
          }
        }
      }
    });
  }
  guarded.set(pid, parents);
  return () => guarded.delete(pid);
}

/**
 * Removes cgroup directories a SIGKILLed launcher left behind (its tree dies with it; wait for that),
 * first reading the counters it had no chance to report. Returns them as [label, count] pairs.
 */
export async function removeLauncherCgroups(limits: LimitsPlan, launcherPid: number | undefined): Promise<Array<[string, number]>> {
  const hits: Array<[string, number]> = [];
  if (launcherPid === undefined) return hits;
  for (const c of limits.counterFiles) {
    const text = read(path.join(c.parent, cgroupLeaf(launcherPid), c.file));
    const m = text && new RegExp(`^${c.key} (\\d+)$`, 'm').exec(text);
    if (m && Number(m[1]) > 0) hits.push([c.label, Number(m[1])]);
  }
  for (const parent of limits.cgroupParents) {
    const dir = path.join(parent, cgroupLeaf(launcherPid));
    for (let i = 0; i < 200; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY') break; // ENOENT: the launcher removed it
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
  return hits;
}

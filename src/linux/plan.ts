// cordon – turns a Policy into the Linux launch plan: namespaces, the mount tree, Landlock rules, seccomp.
//
// The static part (everything but argv/env/cwd) is computed and encoded once per Sandbox; a command
// only adds its own records in front of it, so the per-command cost is one Buffer.concat.
import path from 'node:path';

import { CordonError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { LANDLOCK_ABI_USED, landlockRules, scopes, writeRights } from './landlock.js';
import { detectCgroups, encodeLimits, limitSupport, type LimitsPlan } from './limits.js';
import type { LinuxProbe } from './probe.js';
import { loadNetAddon } from '../net/addon.js';
import { brokerUnusableReason, captures, CAPTURE_PORT, CHANNEL_FD, PROXY_PORT, resolvConfMount } from '../net/plan.js';
import { mountTree } from './mountplan.js';
import { buildSeccompFilter } from './seccomp/index.js';
import { Tag, WireWriter, type MountOp } from './wire.js';

export const CLONE = {
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  NEWNS: 0x00020000,
} as const;

export interface LinuxPlan {
  namespaces: number;
  mounts: MountOp[];
  landlockAbi: number;
  landlockFs: bigint;
  landlockScope: bigint;
  landlockRules: { access: bigint; path: string }[];
  seccomp: Buffer;
  notifyErrno: Array<[number, number]>;
  /** Resource limits: cgroup parents (for cleanup), whether counters are reported, the CPU limit. */
  limits: LimitsPlan;
  /** The setup records, encoded, without END_SETUP (see setupPart). */
  body: Buffer;
  warnings: string[];
}

/** The process limit applied when a profile sets none and it can be enforced for free (see planLinux). */
export const DEFAULT_PIDS = 4096;

/** The mount tree of `policy` (mountplan.ts): a new array of frozen ops. */
export function mountOps(policy: Policy): MountOp[] {
  return [...mountTree(policy).ops];
}

export function planLinux(policy: Policy, probe: LinuxProbe): LinuxPlan {
  const warnings: string[] = [];
  if (probe.namespaces !== 0) {
    throw new CordonError(
      'LAYER_UNAVAILABLE',
      `user namespaces are not available to this user (unshare failed with errno ${probe.namespaces}); cordon cannot build a sandbox here`,
      { step: 'namespaces', errno: probe.namespaces, hint: 'run `cordon doctor`; on Debian/Ubuntu check kernel.unprivileged_userns_clone and AppArmor userns restrictions' },
    );
  }
  if (probe.seccomp !== 0) {
    throw new CordonError('LAYER_UNAVAILABLE', `seccomp filters are not available (errno ${probe.seccomp})`, { step: 'seccomp' });
  }
  let abi = Math.min(probe.landlockAbi, LANDLOCK_ABI_USED);
  if (abi < 1) {
    if (!policy.weaker.allowMissingLandlock) {
      throw new CordonError(
        'LAYER_UNAVAILABLE',
        'Landlock is not available in this kernel; refusing to run without it',
        { step: 'landlock', errno: probe.landlockErrno, hint: 'set "unsafe": {"allowMissingLandlock": true} in the profile to run with the mount namespace alone' },
      );
    }
    warnings.push('running WITHOUT Landlock (profile opt-in unsafe.allowMissingLandlock): writes are confined by the mount namespace only');
    abi = 0;
  }
  let namespaces = CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWCGROUP;
  if (policy.network.mode === 'host') warnings.push('network mode "host": the command shares the host network, unpoliced');
  else namespaces |= CLONE.NEWNET;

  const tree = mountTree(policy);
  const mounts = [...tree.ops];
  const allowlist = policy.network.mode === 'allowlist';
  let resolv: MountOp | undefined;
  if (allowlist) {
    loadNetAddon(); // fail closed now, not per command, when the supervisor's addon is missing
    resolv = resolvConfMount(policy);
    if (resolv) mounts.push(resolv);
  }
  // Landlock's job is what no other layer does: scoping abstract unix sockets and signals (ABI 6+).
  // The write side of the filesystem is the mount tree's (read-only binds, read-only /proc); a
  // ruleset handling any filesystem right costs ~150 ns on every open() (landlock.ts), so the
  // mirror of the write plan is used only where there is no scoping to do (ABI 1-5).
  const landlockScope = abi > 0 ? scopes(abi) : 0n;
  const landlockFs = abi > 0 && landlockScope === 0n ? writeRights(abi) : 0n;
  const rules = landlockFs !== 0n ? landlockRules(abi, policy.fs.write) : [];
  // Pid 1 performs every connect() (the connect broker): it refuses unix sockets bound outside the
  // sandbox (unix_guard.h) and, in allowlist mode, connects allowed TCP from the host (relay-free,
  // docs/network.md). Where it could not act for the caller the kernel connects: allowlist traffic is
  // relayed, and host sockets are masked only where the compile-time walk of the home found them.
  const brokerOff = brokerUnusableReason();
  const broker = brokerOff === '';
  if (!broker) warnings.push(`the unix-socket guard is off (${brokerOff}): a host service's unix socket is refused only where a mask hides it (sockets found in the home when the profile was compiled)`);
  const { program, notifyErrno } = buildSeccompFilter({ network: policy.network.mode, guardSetid: probe.uid === 0, superviseConnect: broker });

  const w = new WireWriter();
  w.record(Tag.namespaces, String(namespaces));
  w.raw(tree.encoded);
  if (resolv) w.fields(Tag.mount, resolv.kind, resolv.src, resolv.dst, resolv.opt);
  w.record(Tag.landlockAbi, String(abi));
  w.record(Tag.landlockFs, landlockFs.toString());
  w.record(Tag.landlockScope, landlockScope.toString());
  for (const r of rules) w.fields(Tag.landlockRule, r.access.toString(), r.path);
  w.record(Tag.seccomp, program);
  for (const [nr, errno] of notifyErrno) w.fields(Tag.notifyErrno, String(nr), String(errno));
  // With its own network namespace the sandbox knows its sockets exactly; sharing the host's, a socket
  // on a read-only mount is still known to be the host's.
  if (broker) {
    w.record(Tag.unixGuard, policy.network.mode === 'host' ? 'readonly' : 'netns');
    for (const s of policy.network.unixSockets) w.record(Tag.unixAllow, s);
  }
  if (allowlist) {
    w.fields(Tag.netConfig, String(CHANNEL_FD), String(CAPTURE_PORT), String(PROXY_PORT), broker ? 'broker' : 'relay');
    for (const c of captures(policy.network)) w.fields(Tag.netCapture, c.action, c.cidr, String(c.ports[0]), String(c.ports[1]));
  }
  const sites = detectCgroups();
  const support = limitSupport(probe.uid, probe.kernel, sites);
  // A profile without a process limit still gets one where it costs nothing, so a fork bomb stops
  // at DEFAULT_PIDS instead of filling the host's process table: the sandbox's own pid_max (Linux
  // 6.14+ keeps it per pid namespace; pid 1 writes it, for root callers too), or else RLIMIT_NPROC,
  // which the kernel counts per user namespace for callers other than root.
  const noPidsLimit = policy.limits.pids === undefined;
  const pidMaxByDefault = noPidsLimit && probe.pidMax === 0;
  const pidsByDefault = noPidsLimit && !pidMaxByDefault && support.pids.mechanism === 'rlimit';
  const limitsPolicy = pidsByDefault ? { ...policy.limits, pids: DEFAULT_PIDS } : policy.limits;
  const limits = encodeLimits(w, limitsPolicy, support, sites);
  if (pidMaxByDefault) w.record(Tag.limitPidMax, String(DEFAULT_PIDS + 1)); // + init
  return {
    namespaces,
    mounts,
    landlockAbi: abi,
    landlockFs,
    landlockScope,
    landlockRules: rules,
    seccomp: program,
    notifyErrno,
    limits,
    body: w.toBuffer(),
    warnings,
  };
}

export type SetupRole =
  | { kind: 'sandbox' }
  | { kind: 'keeper' }
  /** A session command: the keeper's init pid and its namespace inodes (from READY), checked on join. */
  | { kind: 'join'; initPid: number; inodes: readonly string[] };

/** The setup part for one launch: a sandbox of its own, a session keeper, or a session command. */
export function setupPart(plan: LinuxPlan, role: SetupRole = { kind: 'sandbox' }): Buffer {
  const w = new WireWriter().raw(plan.body);
  if (role.kind === 'keeper') w.record(Tag.keeper, '');
  if (role.kind === 'join') w.record(Tag.join, [String(role.initPid), ...role.inodes].join(' '));
  return w.record(Tag.endSetup, '').toBuffer();
}

/** The command part of the wire protocol: argv, env, cwd, END (sent after the setup part). */
export function encodeCommand(argv: readonly string[], env: Readonly<Record<string, string>>, cwd: string): Buffer {
  const w = new WireWriter();
  for (const a of argv) w.record(Tag.arg, a);
  for (const [k, v] of Object.entries(env)) w.record(Tag.env, `${k}=${v}`);
  w.record(Tag.cwd, path.resolve(cwd));
  w.record(Tag.end, '');
  return w.toBuffer();
}

// cordon – the Linux backend: prepares a plan once per policy and drives the native launcher per command.
import { spawn, type ChildProcessWithoutNullStreams, type StdioOptions } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

import { CordonError } from '../errors.js';
import { launcherPath } from '../paths.js';
import type { Policy } from '../policy/policy.js';
import { existingPaths } from '../policy/existence.js';
import type {
  BackendExit,
  Capabilities,
  PlatformBackend,
  PreparedPolicy,
  PrepareOptions,
  BackendSession,
  RunningCommand,
  StartRequest,
} from '../platform/backend.js';
import { describeSetupError } from '../platform/backend.js';
import { optionalAddon } from '../net/addon.js';
import { proxyEnv } from '../net/plan.js';
import { NetSupervisor } from '../net/supervisor.js';
import { encodeCommand, planLinux, setupPart, type LinuxPlan, type SetupRole } from './plan.js';
import { probeLinux, type LinuxProbe } from './probe.js';
import { applyRecord, type RecordState } from './records.js';
import { linuxCapabilities } from './doctor.js';
import { launchServer } from './launch-server.js';
import { SpawnedLaunch } from './spawned-launch.js';
import { fdOfStream, StatusWriter } from './status-writer.js';
import { guardLauncherCgroups, limitFromRecords, removeLauncherCgroups, type LimitsPlan } from './limits.js';

export interface LinuxPrepared extends PreparedPolicy {
  readonly plan: LinuxPlan;
  /** Build the next command's sandbox ahead of time (after each command ends). */
  readonly prespawn: boolean;
}

let launcherFound: { env: string | undefined; path: string } | undefined;

function requireLauncher(): string {
  // Found once per process (and per CORDON_LAUNCHER value): a launcher removed later fails its
  // spawn/fork with its own error; there is no need to stat it before every command.
  if (launcherFound && launcherFound.env === process.env.CORDON_LAUNCHER) return launcherFound.path;
  const p = launcherPath();
  if (!p) {
    throw new CordonError('NATIVE_MISSING', 'the native launcher is not built (build/Release/cordon-launcher missing)', {
      hint: 'run `npm install` (or `npm run build`) in the cordon package; it needs g++ and make',
    });
  }
  launcherFound = { env: process.env.CORDON_LAUNCHER, path: p };
  return p;
}

function requireProbe(): LinuxProbe {
  requireLauncher();
  const probe = probeLinux();
  if (!probe) throw new CordonError('NATIVE_MISSING', 'the native launcher could not be probed');
  return probe;
}

/** One launcher process: a sandbox being built (or built) and, once sent, the command in it. */
interface Launch {
  readonly child: ChildProcessWithoutNullStreams;
  /** The launcher's status socket, read for its records. */
  readonly status: Readable & Writable;
  /** Writes the plan and the command into it (never through `status`: status-writer.ts says why). */
  readonly writer: StatusWriter;
  readonly state: RecordState;
  readonly exited: Promise<BackendExit>;
  readonly net?: NetSupervisor;
  /** The network supervisor belongs to this launch (false: a session's, shared by its commands). */
  readonly netOwned: boolean;
  /** Where this command's violations start in a shared supervisor's list (set when the command is sent). */
  netMark: number;
  /** The command part was sent (before that, the launch is a sandbox built ahead, idle). */
  commandSent: boolean;
  /** Marks a kill as ours (timeout, abort, output cap, kill()) and sends it. */
  kill(sig: NodeJS.Signals): void;
}

/**
 * A launcher with pipes for stdio and a status socket on fd 3 (+ extras): forked by the launch
 * server, else spawned. `sent`: whether `setup` is already in the status socket (the server path
 * writes it before the fork, so the launcher never waits for it); otherwise the caller writes it.
 */
function forkLauncher(extraFds: number[], setup: Buffer): { child: ChildProcessWithoutNullStreams; sent: boolean } {
  const launcher = requireLauncher();
  const server = launchServer(launcher);
  if (server) {
    try {
      const l = server.launch(extraFds, setup);
      return { child: l as unknown as ChildProcessWithoutNullStreams, sent: l.initialSent };
    } catch {
      // the server died between launches: spawn this one; the next launch starts a new server
    }
  }
  // Spawned: with pipes for stdio when the addon can make them (spawned-launch.ts says why); without
  // it, Node's socketpairs (the host-namespace abstract-name caveat in docs/network.md applies).
  const addon = optionalAddon();
  if (addon) return { child: new SpawnedLaunch(launcher, extraFds, addon) as unknown as ChildProcessWithoutNullStreams, sent: false };
  const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', ...extraFds];
  return { child: spawn(launcher, [], { stdio, env: {} }) as ChildProcessWithoutNullStreams, sent: false };
}

/** Starts a launcher and sends the setup part of the plan; the command follows later. */
function launch(plan: LinuxPlan, net: NetSupervisor | undefined, role?: SetupRole): Launch {
  // A session command uses its session's supervisor (made with the keeper, which received the
  // listeners): it gets no channel of its own.
  const netOwned = net !== undefined && role?.kind !== 'join';
  let child: ChildProcessWithoutNullStreams;
  const setup = setupPart(plan, role);
  let setupSent: boolean;
  try {
    ({ child, sent: setupSent } = forkLauncher(net && netOwned ? [net.childFd] : [], setup));
  } finally {
    if (netOwned) net?.spawned();
  }
  let unguard = () => {};
  const guard = () => {
    unguard = guardLauncherCgroups(plan.limits.cgroupParents, child.pid);
  };
  if (child.pid !== undefined) guard();
  else child.once('spawn', guard);
  const status = child.stdio[3] as unknown as Readable & Writable;
  const state: RecordState = { violations: [] };
  let pending = '';
  let onExitRecord = () => {};
  let killed = false;
  status.setEncoding('utf8');
  status.on('data', (chunk: string) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      if (net && line.startsWith('NET ')) net.onRecord(line, fdOfStream(status));
      applyRecord(state, line);
      pending = pending.slice(nl + 1);
      if (state.exit) onExitRecord();
    }
  });
  status.on('error', () => {}); // ECONNRESET once the launcher is gone without reading the command
  const addon = optionalAddon();
  const writer = new StatusWriter(status as unknown as Socket, addon ? (fd) => addon.dup(fd) : undefined);
  if (!setupSent) writer.write(setup);
  child.stdin.on('error', () => {}); // the command may exit without reading its stdin

  // Settles as soon as init reported EXIT (it reaps every process first) and the output has
  // ended; the launcher's own exit waits for namespace teardown, which callers need not wait for.
  const exited = new Promise<BackendExit>((resolve, reject) => {
    let settled = false;
    let openStreams = 2;
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      writer.destroy();
      if (net && netOwned) {
        net.close(); // the command's tree is gone: stop serving, keep what was decided
        state.violations.push(...net.violations);
      } else if (net) {
        state.violations.push(...net.violations.slice(launchObj.netMark)); // while this command ran
      }
      resolve(toBackendExit(state, code, signal, plan.limits, killed));
    };
    const settleEarly = () => {
      // Limit counters arrive from the launcher after EXIT: then wait for it.
      if (state.exit && openStreams === 0 && !plan.limits.counters) settle(null, null);
    };
    onExitRecord = settleEarly;
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('close', () => {
        openStreams--;
        settleEarly();
      });
    }
    child.on('error', (err) => {
      if (netOwned) net?.close();
      reject(new CordonError('SETUP_FAILED', `could not start the launcher: ${err.message}`, { step: 'spawn' }));
    });
    child.on('close', (code, signal) => {
      if (pending) applyRecord(state, pending);
      // A SIGKILLed launcher could not remove its cgroups; its tree is dying with it.
      void removeLauncherCgroups(plan.limits, child.pid).then((hits) => {
        unguard();
        for (const [label, count] of hits) if (!state.limitHits?.has(label)) applyRecord(state, `LIMIT ${label} ${count}`);
        settle(code, signal);
      });
    });
  });
  exited.catch(() => {}); // a spare discarded unused has nobody awaiting it
  const launchObj: Launch = {
    child,
    status,
    writer,
    state,
    exited,
    net,
    netOwned,
    netMark: 0,
    commandSent: false,
    kill(sig) {
      if (child.exitCode === null && child.signalCode === null) {
        killed ||= sig === 'SIGKILL';
        child.kill(sig);
      }
    },
  };
  return launchObj;
}

type Handle = { ref(): void; unref(): void };
/** Lets Node exit while only a spare is alive (it dies with us by PDEATHSIG), or holds it again. */
function setRef(l: Launch, on: boolean): void {
  for (const h of [l.child, l.child.stdin, l.child.stdout, l.child.stderr, l.status] as unknown as Handle[]) {
    if (on) h.ref?.();
    else h.unref?.();
  }
  if (l.netOwned) l.net?.setRef(on); // a session's supervisor follows its keeper
}

function usable(l: Launch): boolean {
  return l.child.exitCode === null && l.child.signalCode === null && !l.state.setupError;
}

/**
 * Which of the paths a sandbox protects or masks exist right now. Masks and read-only re-binds are
 * only made for paths that exist when the sandbox is built, so one built ahead is stale once this
 * changes (e.g. the previous command ran `git init`, creating .git/hooks).
 */
const fingerprintPaths = new WeakMap<Policy, readonly string[]>();

function pathsFingerprint(policy: Policy): string {
  // From the listing cache (existence.ts): this runs on every command that uses a sandbox built
  // ahead. The same array each time, so a quiet answer is reused.
  let paths = fingerprintPaths.get(policy);
  if (!paths) fingerprintPaths.set(policy, (paths = [...policy.fs.protected, ...policy.fs.deny]));
  let out = '';
  for (const e of existingPaths(paths)) out += e ? '1' : '0';
  return out;
}

/** At most one launch built ahead for the next command (a sandbox, or a session member). */
class SpareSlot {
  private spare: Launch | undefined;
  private spareFingerprint = '';
  private closed = false;

  constructor(
    private readonly make: () => Launch,
    private readonly policy: Policy,
  ) {}

  /** The spare if it is still usable and current, else a fresh launch. */
  take(): Launch {
    let l = this.spare;
    this.spare = undefined;
    if (l && (!usable(l) || this.spareFingerprint !== pathsFingerprint(this.policy))) {
      void gone(l);
      l = undefined;
    }
    if (!l) return this.make();
    setRef(l, true);
    return l;
  }

  /**
   * Builds the next one ahead, once the current command is over (so they do not compete) and after
   * its caller has had the result: spawning is ~1 ms of synchronous work in Node, so it waits for
   * the next turn of the event loop rather than running in a callback ahead of the caller's.
   */
  refillAfter(done: Promise<unknown>): void {
    void done.finally(() => setImmediate(() => this.refill()));
  }

  private refill(): void {
    if (this.closed || this.spare) return;
    try {
      this.spareFingerprint = pathsFingerprint(this.policy);
      this.spare = this.make();
      setRef(this.spare, false);
    } catch {
      // Building ahead is an optimisation: if it cannot start (e.g. the launcher is being
      // rebuilt), the next command launches normally and reports the problem itself.
      this.spare = undefined;
    }
  }

  /** Discards the spare; resolves once its process and pipes are gone. */
  close(): Promise<void> {
    this.closed = true;
    const l = this.spare;
    this.spare = undefined;
    return l ? gone(l) : Promise.resolve();
  }
}

/**
 * Ends a launch and resolves when its process has exited and its pipes closed. A sandbox that never
 * got a command is ended by closing its plan socket: init reads EOF and exits, and every process is
 * reaped by its own parent (a SIGKILLed launcher would leave its init to be reaped by the host's
 * pid 1). SIGKILL is the fallback, and the way to end a running command.
 */
function gone(l: Launch): Promise<void> {
  setRef(l, true); // whoever awaits this must not see Node exit first
  let fallback: NodeJS.Timeout | undefined;
  if (l.commandSent) {
    l.kill('SIGKILL');
  } else {
    l.writer.end();
    fallback = setTimeout(() => l.kill('SIGKILL'), 2000);
  }
  return l.exited.then(
    () => clearTimeout(fallback),
    () => clearTimeout(fallback),
  );
}

/** Sends the command to a launch and hands its streams out. */
function run(l: Launch, request: StartRequest): RunningCommand {
  if (l.net) {
    l.net.setAudit(request.audit);
    l.netMark = l.net.violations.length;
  }
  const env = l.net ? { ...request.env, ...proxyEnv() } : request.env;
  l.writer.write(encodeCommand(request.argv, env, request.cwd));
  l.commandSent = true;
  return {
    stdin: l.child.stdin,
    stdout: l.child.stdout,
    stderr: l.child.stderr,
    kill: (sig: NodeJS.Signals = 'SIGKILL') => l.kill(sig),
    exited: l.exited,
  };
}

/** Waits until a session keeper reports READY (its sandbox is built) or fails; its join role. */
function keeperReady(keeper: Launch): Promise<SetupRole & { kind: 'join' }> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const { ready, initPid } = keeper.state;
      if (ready && initPid) {
        keeper.status.off('data', check);
        resolve({ kind: 'join', initPid, inodes: ready });
      }
    };
    keeper.status.on('data', check);
    check();
    void keeper.exited.then((exit) => {
      const e = exit.setupError;
      reject(new CordonError('SETUP_FAILED', e ? `session setup failed at ${describeSetupError(e)}` : 'the session keeper exited', e ? { step: e.step, syscall: e.syscall, errno: e.errno } : {}));
    }, reject);
  });
}

export function createLinuxBackend(): PlatformBackend {
  // One sandbox built ahead per prepared policy: the next command only sends its argv to it.
  const slots = new Map<LinuxPrepared, SpareSlot>();
  // A released policy never gets a slot again (a command that began under it just launches).
  const released = new WeakSet<LinuxPrepared>();
  // Allowlist networking: one supervisor per launch (so per command), wired at launch time; a
  // sandbox built ahead gets its command's audit log when the command arrives (run()).
  const perLaunchNet = (p: LinuxPrepared) => (p.policy.network.mode === 'allowlist' ? new NetSupervisor(p.policy.network) : undefined);
  return {
    name: 'linux',
    async probe(): Promise<Capabilities> {
      return linuxCapabilities(probeLinux());
    },
    async prepare(policy: Policy, options: PrepareOptions = {}): Promise<LinuxPrepared> {
      const plan = planLinux(policy, requireProbe());
      const prespawn = options.prespawn ?? false;
      return { policy, warnings: plan.warnings, plan, prespawn };
    },
    release(prepared: PreparedPolicy): Promise<void> {
      const slot = slots.get(prepared as LinuxPrepared);
      slots.delete(prepared as LinuxPrepared);
      released.add(prepared as LinuxPrepared);
      return slot ? slot.close() : Promise.resolve();
    },
    start(prepared: PreparedPolicy, request: StartRequest): RunningCommand {
      const p = prepared as LinuxPrepared;
      if (!p.prespawn || released.has(p)) return run(launch(p.plan, perLaunchNet(p)), request);
      let slot = slots.get(p);
      if (!slot) slots.set(p, (slot = new SpareSlot(() => launch(p.plan, perLaunchNet(p)), p.policy)));
      const l = slot.take();
      slot.refillAfter(l.exited);
      return run(l, request);
    },
    async openSession(prepared: PreparedPolicy): Promise<BackendSession> {
      const p = prepared as LinuxPrepared;
      // With an allowlist the session has one network supervisor, made with its keeper (which builds
      // the listeners and the capture chain in the session's network namespace) and shared by its
      // commands; each command's result takes the violations recorded while it ran.
      const net = perLaunchNet(p);
      const keeper = launch(p.plan, net, { kind: 'keeper' });
      let join: SetupRole;
      try {
        join = await keeperReady(keeper);
      } catch (err) {
        keeper.kill('SIGKILL');
        throw err;
      }
      setRef(keeper, false); // an idle session does not keep Node alive; it dies with us (PDEATHSIG)
      const slot = new SpareSlot(() => launch(p.plan, net, join), p.policy);
      return {
        start(request: StartRequest): RunningCommand {
          if (!usable(keeper)) throw new CordonError('CLOSED', 'the session ended (its keeper is gone)');
          const l = slot.take();
          slot.refillAfter(l.exited);
          return run(l, request);
        },
        async close(): Promise<void> {
          await Promise.all([slot.close(), gone(keeper)]);
        },
      };
    },
  };
}

/** The command's end as the launcher's records (or, lacking them, its own exit) describe it. */
function toBackendExit(state: RecordState, code: number | null, signal: NodeJS.Signals | null, limits: LimitsPlan, killed: boolean): BackendExit {
  const exit: BackendExit = { exitCode: null, signal: null, violations: state.violations };
  if (state.setupError) {
    exit.setupError = state.setupError;
    exit.exitCode = 125;
  } else if (state.exit) {
    exit.exitCode = state.exit.code;
    exit.signal = state.exit.signal;
    if (state.execError) exit.execError = state.execError;
    exit.limit = limitFromRecords(exit, state.limitHits ?? new Map(), state.cpuTimeUs, limits);
  } else if (signal) {
    exit.signal = signal; // the launcher itself was killed (timeout, abort, kill())
    if (!killed && state.started === undefined) {
      // Killed by someone else before the command ran: the sandbox never existed (fail closed).
      exit.setupError = { step: 'launcher', syscall: '-', errno: 0, detail: `the launcher was killed by ${signal} before the command started` };
    }
  } else {
    exit.exitCode = code;
    if (state.started === undefined && code !== 0) {
      exit.setupError = { step: 'launcher', syscall: '-', errno: 0, detail: `launcher exited with ${code} before the command started` };
    }
  }
  return exit;
}

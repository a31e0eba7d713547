// cordon – the launch server: one resident launcher per Node process forks a launcher per command.
//
// child_process.spawn blocks Node's event loop ~1-1.5 ms per command (it waits for the exec); the
// server (`cordon-launcher --server`, native/launcher/server.cc) forks a small static process
// instead. Each launch sends the command's fds (stdin, stdout, stderr, the status socket and the
// network channel, made here) over SCM_RIGHTS; the forked launcher is the same program doing the
// same thing as a spawned one. ServerLaunch is the part of ChildProcess that backend.ts uses.
//
// Lifetime: the server dies with Node (PDEATHSIG, and EOF on its control socket) and every
// launcher dies with the server (its own PDEATHSIG). An ended launcher stays a zombie until we have
// seen its exit ("X") and asked for the reap, so a kill() can never reach a recycled pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';
import net from 'node:net';
import { constants } from 'node:os';

import { loadNetAddon, type NetAddon } from '../net/addon.js';
import { LauncherProcess } from './launcher-process.js';

const LAUNCH_MAGIC = 0x31524c43; // "CLR1"
/** The largest first message written before the fork: well within a unix socket's send buffer. */
const INITIAL_MAX = 64 * 1024;
const REAP_MAGIC = 0x315a4c43; // "CLZ1"

function request(magic: number, id: number, nfds: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(magic, 0);
  b.writeUInt32LE(id, 4);
  b.writeUInt32LE(nfds, 8);
  return b;
}

/** One launch's stdio pipes ([read, write]) and status socket pair ([ours, theirs]). */
interface LaunchFds {
  stdin: [number, number];
  stdout: [number, number];
  stderr: [number, number];
  status: [number, number];
}

function allFds(fds: LaunchFds): number[] {
  return [...fds.stdin, ...fds.stdout, ...fds.stderr, ...fds.status];
}

/** A launcher forked by the server: what backend.ts needs of a ChildProcess. */
export class ServerLaunch extends LauncherProcess {
  readonly stdin: net.Socket;
  readonly stdout: net.Socket;
  readonly stderr: net.Socket;
  readonly stdio: [net.Socket, net.Socket, net.Socket, net.Socket];
  /** The setup part was written into the status socket before the launcher was forked. */
  initialSent = false;
  private pendingSignal: NodeJS.Signals | undefined;
  private openStreams = 3;
  private exited = false;

  constructor(
    readonly id: number,
    fds: { stdin: number; stdout: number; stderr: number; status: number },
    private readonly server: LaunchServer,
  ) {
    super();
    this.stdin = new net.Socket({ fd: fds.stdin, readable: false, writable: true });
    this.stdout = new net.Socket({ fd: fds.stdout, readable: true, writable: false });
    this.stderr = new net.Socket({ fd: fds.stderr, readable: true, writable: false });
    const status = new net.Socket({ fd: fds.status, readable: true, writable: true });
    this.stdio = [this.stdin, this.stdout, this.stderr, status];
    for (const s of [this.stdout, this.stderr, status]) {
      s.on('close', () => {
        this.openStreams--;
        this.maybeClose();
      });
    }
  }

  /** "S": the launcher runs as `pid`. */
  started(pid: number): void {
    this.pid = pid;
    this.emit('spawn');
    if (this.pendingSignal) this.kill(this.pendingSignal);
  }

  /** "X": it ended (still a zombie until reaped). */
  ended(code: number, signal: number): void {
    if (this.exited) return;
    this.exited = true;
    this.exitCode = code >= 0 ? code : null;
    this.signalCode = signal > 0 ? (signalName(signal) ?? 'SIGKILL') : null;
    this.stdin.destroy(); // as ChildProcess does: nobody reads it any more
    this.emit('exit', this.exitCode, this.signalCode);
    this.server.reap(this.id);
    this.maybeClose();
  }

  /** The server is gone, so is this launcher (PDEATHSIG); or it could not be forked. */
  lost(err?: Error): void {
    if (err) this.emit('error', err);
    this.ended(-1, 9);
  }

  kill(sig: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exited) return false;
    if (this.pid === undefined) {
      this.pendingSignal = sig;
      return true;
    }
    try {
      process.kill(this.pid, sig); // a zombie until reaped: the pid cannot be someone else's
      return true;
    } catch {
      return false;
    }
  }

  ref(): void {
    this.server.hold(this, true);
  }

  unref(): void {
    this.server.hold(this, false);
  }

  private maybeClose(): void {
    if (!this.exited || this.openStreams > 0) return;
    this.server.forget(this);
    this.emit('close', this.exitCode, this.signalCode);
  }
}

function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(constants.signals) as Array<[NodeJS.Signals, number]>).find(([, v]) => v === n)?.[0];
}

/** The resident server; one per launcher binary and Node process. */
export class LaunchServer {
  private readonly addon: NetAddon;
  private readonly proc: ChildProcess;
  private readonly control: net.Socket;
  private readonly controlFd: number;
  private readonly launches = new Map<number, ServerLaunch>();
  private readonly held = new Set<ServerLaunch>();
  private nextId = 1;
  private pending = '';
  /** The next launch's pipes and status socket, made while Node waits for the current command. */
  private spare: LaunchFds | undefined;
  private spareQueued = false;
  dead = false;

  constructor(launcher: string) {
    this.addon = loadNetAddon();
    const [ours, theirs] = this.addon.streamPair();
    try {
      this.proc = spawn(launcher, ['--server'], { stdio: ['ignore', 'ignore', 'ignore', theirs], env: {} });
    } finally {
      this.addon.close(theirs);
    }
    this.proc.on('error', () => this.die());
    this.proc.on('exit', () => this.die());
    this.proc.unref();
    this.controlFd = ours;
    this.control = new net.Socket({ fd: ours, readable: true, writable: true });
    this.control.setEncoding('utf8');
    this.control.on('data', (chunk: string) => this.onData(chunk));
    this.control.on('error', () => this.die());
    this.control.on('close', () => this.die());
    this.control.unref();
  }

  /**
   * Forks a launcher with fresh stdio pipes and status socket, plus `extraFds` (fd 4 …). A small
   * `initial` message (the plan's setup part) is written into the status socket first, so the
   * launcher reads it as it starts, while we are still wrapping the fds in streams.
   */
  launch(extraFds: readonly number[], initial?: Buffer): ServerLaunch {
    if (this.dead) throw new Error('the launch server is gone');
    const a = this.addon;
    const fds = this.spare ?? this.makeFds();
    this.spare = undefined;
    this.prepareSpare();
    const made = allFds(fds);
    try {
      const [stdinR, stdinW] = fds.stdin;
      const [stdoutR, stdoutW] = fds.stdout;
      const [stderrR, stderrW] = fds.stderr;
      const [statusOurs, statusTheirs] = fds.status;
      // The socket buffer takes it at once (nobody reads yet, so a larger one could block us).
      const initialSent = initial !== undefined && initial.length <= INITIAL_MAX && writeSync(statusOurs, initial) === initial.length;
      const id = this.nextId++;
      const theirs = [stdinR, stdoutW, stderrW, statusTheirs, ...extraFds];
      if (!a.sendFds(this.controlFd, request(LAUNCH_MAGIC, id, theirs.length), theirs)) throw new Error('could not reach the launch server');
      for (const fd of [stdinR, stdoutW, stderrW, statusTheirs]) a.close(fd);
      const l = new ServerLaunch(id, { stdin: stdinW, stdout: stdoutR, stderr: stderrR, status: statusOurs }, this);
      l.initialSent = initialSent;
      this.launches.set(id, l);
      this.hold(l, true);
      return l;
    } catch (err) {
      for (const fd of made) a.close(fd);
      throw err;
    }
  }

  /** Fresh pipes for stdin, stdout, stderr and a status socket pair (all close-on-exec). */
  private makeFds(): LaunchFds {
    const a = this.addon;
    const made: number[] = [];
    try {
      const pair = <T extends [number, number]>(p: T): T => (made.push(...p), p);
      return { stdin: pair(a.pipe()), stdout: pair(a.pipe()), stderr: pair(a.pipe()), status: pair(a.streamPair()) };
    } catch (err) {
      for (const fd of made) a.close(fd);
      throw err;
    }
  }

  /** Makes the next launch's fds once this turn of the event loop is over (~35 µs off the next launch). */
  private prepareSpare(): void {
    if (this.spareQueued) return;
    this.spareQueued = true;
    setImmediate(() => {
      this.spareQueued = false;
      if (this.dead || this.spare) return;
      try {
        this.spare = this.makeFds();
      } catch {
        // made at launch time instead, which reports the error
      }
    }).unref();
  }

  reap(id: number): void {
    if (!this.dead) this.addon.sendFds(this.controlFd, request(REAP_MAGIC, id, 0), []);
  }

  forget(l: ServerLaunch): void {
    this.launches.delete(l.id);
    this.hold(l, false);
  }

  /** Node stays alive while a held launch is outstanding (its exit arrives on the control socket). */
  hold(l: ServerLaunch, on: boolean): void {
    if (on && !this.launches.has(l.id)) return;
    if (on) this.held.add(l);
    else this.held.delete(l);
    if (this.held.size > 0) this.control.ref();
    else this.control.unref();
  }

  private onData(chunk: string): void {
    this.pending += chunk;
    let nl;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const [kind, id, a, b] = this.pending.slice(0, nl).split(' ');
      this.pending = this.pending.slice(nl + 1);
      const l = this.launches.get(Number(id));
      if (!l) continue;
      if (kind === 'S') l.started(Number(a));
      else if (kind === 'X') l.ended(Number(a), Number(b));
      else if (kind === 'F') {
        this.launches.delete(l.id);
        l.lost(new Error(`the launch server could not fork a launcher (errno ${a})`));
      }
    }
  }

  private die(): void {
    if (this.dead) return;
    this.dead = true;
    const spare = this.spare;
    this.spare = undefined;
    if (spare) for (const fd of allFds(spare)) this.addon.close(fd);
    if (servers.get(this.launcher) === this) servers.delete(this.launcher);
    for (const l of [...this.launches.values()]) l.lost();
    this.launches.clear();
    this.control.destroy();
  }

  private get launcher(): string {
    return this.proc.spawnfile;
  }
}

const servers = new Map<string, LaunchServer>();
let launchesAsked = 0;

/**
 * The launch server for `launcher`, started when a process asks for its second launcher (a
 * one-command process such as `cordon run` never pays for starting it); undefined before that and
 * where it cannot run (no addon, or CORDON_LAUNCH_SERVER=0): launchers are then spawned directly,
 * the same sandbox, slower.
 */
export function launchServer(launcher: string): LaunchServer | undefined {
  if (process.env.CORDON_LAUNCH_SERVER === '0' || ++launchesAsked < 2) return undefined;
  let s = servers.get(launcher);
  if (s && !s.dead) return s;
  try {
    s = new LaunchServer(launcher);
  } catch {
    return undefined;
  }
  servers.set(launcher, s);
  return s;
}

// cordon – a launcher spawned by Node (no launch server: a process's first launch, or the server off), with pipes for stdio.
//
// Node's `stdio: 'pipe'` gives a child AF_UNIX socketpairs, sockets of the host's network namespace,
// and the command inherits them as fds 0-2: bind() on one registered an abstract name in the *host's*
// namespace from a sandbox without network (red team 3, finding 4). Pipes carry the same bytes and
// belong to no namespace, as the launch server's do. SpawnedLaunch is the part of ChildProcess that
// backend.ts uses, like ServerLaunch: 'close' comes once the launcher has exited and every stream
// has ended, so no output is cut short.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

import type { NetAddon } from '../net/addon.js';
import { LauncherProcess } from './launcher-process.js';

export class SpawnedLaunch extends LauncherProcess {
  readonly stdin: net.Socket;
  readonly stdout: net.Socket;
  readonly stderr: net.Socket;
  readonly stdio: [net.Socket, net.Socket, net.Socket, net.Socket];
  private readonly child: ChildProcess;
  /** stdout, stderr and the child's own close (its exit and the status socket). */
  private open = 3;

  constructor(launcher: string, extraFds: readonly number[], addon: NetAddon) {
    super();
    const made: number[] = [];
    const pair = (): [number, number] => {
      const p = addon.pipe();
      made.push(...p);
      return p;
    };
    let theirs: number[] = [];
    try {
      const [inR, inW] = pair();
      const [outR, outW] = pair();
      const [errR, errW] = pair();
      theirs = [inR, outW, errW];
      // spawn() returns once the launcher has exec'd: its copies are made, ours of its ends can go.
      this.child = spawn(launcher, [], { stdio: [inR, outW, errW, 'pipe', ...extraFds], env: {} });
      this.stdin = new net.Socket({ fd: inW, readable: false, writable: true });
      this.stdout = new net.Socket({ fd: outR, readable: true, writable: false });
      this.stderr = new net.Socket({ fd: errR, readable: true, writable: false });
    } catch (err) {
      for (const fd of made) addon.close(fd);
      throw err;
    } finally {
      for (const fd of theirs) addon.close(fd);
    }
    this.stdio = [this.stdin, this.stdout, this.stderr, this.child.stdio[3] as net.Socket];
    this.pid = this.child.pid;
    this.child.once('spawn', () => {
      this.pid = this.child.pid;
      this.emit('spawn');
    });
    this.child.on('error', (err) => {
      for (const s of [this.stdin, this.stdout, this.stderr]) s.destroy();
      this.emit('error', err);
    });
    this.child.on('exit', (code, signal) => {
      this.exitCode = code;
      this.signalCode = signal;
      this.stdin.destroy(); // as ChildProcess does: nobody reads it any more
      this.emit('exit', code, signal);
    });
    for (const s of [this.stdout, this.stderr]) s.on('close', () => this.ended());
    this.child.on('close', () => this.ended());
  }

  kill(sig: NodeJS.Signals = 'SIGTERM'): boolean {
    return this.child.kill(sig);
  }

  ref(): void {
    this.child.ref();
  }

  unref(): void {
    this.child.unref();
  }

  private ended(): void {
    if (--this.open === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}

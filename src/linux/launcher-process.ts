// cordon – what backend.ts uses of a launcher's process, whether the launch server forked it or Node spawned it.
import { EventEmitter } from 'node:events';
import type net from 'node:net';

/**
 * The part of ChildProcess a launch needs: stdio streams (pipes) and the status socket (fd 3), the
 * pid once known ('spawn'), the exit ('exit'), and 'close' once it exited and its output ended.
 */
export abstract class LauncherProcess extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  abstract readonly stdin: net.Socket;
  abstract readonly stdout: net.Socket;
  abstract readonly stderr: net.Socket;
  abstract readonly stdio: [net.Socket, net.Socket, net.Socket, net.Socket];
  abstract kill(sig?: NodeJS.Signals): boolean;
}

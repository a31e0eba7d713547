// cordon – stdio for the sandboxed process: one named pipe per stream, Node's end a net.Socket, the child's an inheritable handle.
//
// Node serves `\\.\pipe\cordon-<random>` (libuv: overlapped I/O, no thread per stream); cordon opens
// the client end with CreateFileW as an inheritable handle for STARTUPINFO and the handle list, then
// stops listening, so the one connection accepted is its own.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

import { C } from './consts.js';
import { check, type Win32 } from './win32.js';

export interface StdioPipe {
  /** Inheritable client handle for the child (close in the parent once the child has it). */
  handle: unknown;
  socket: net.Socket;
}

export async function openPipe(w: Win32, tag: string): Promise<StdioPipe> {
  const name = `\\\\.\\pipe\\cordon-${tag}-${randomBytes(12).toString('hex')}`;
  const server = net.createServer();
  server.maxConnections = 1;
  const connected = new Promise<net.Socket>((resolve, reject) => {
    server.once('connection', resolve);
    server.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(name, resolve);
  });
  try {
    const sa = { nLength: w.koffi.sizeof(w.t.SECURITY_ATTRIBUTES), lpSecurityDescriptor: null, bInheritHandle: 1 };
    const handle = check(w, 'CreateFileW(pipe)', w.kernel32.CreateFileW!(
      name, (C.GENERIC_READ | C.GENERIC_WRITE) >>> 0, 0, sa, C.OPEN_EXISTING, 0, null));
    const socket = await connected;
    return { handle, socket };
  } finally {
    server.close();
  }
}

export async function openStdio(w: Win32, runId: string): Promise<StdioPipe[]> {
  const pipes: StdioPipe[] = [];
  try {
    for (const s of ['in', 'out', 'err']) pipes.push(await openPipe(w, `${runId.slice(0, 12)}-${s}`));
    return pipes;
  } catch (e) {
    closePipes(w, pipes);
    throw e;
  }
}

/** Closes the parent's copies of the child ends (after CreateProcess, or on failure). */
export function closeClientHandles(w: Win32, pipes: StdioPipe[]): void {
  for (const p of pipes) {
    if (p.handle) w.kernel32.CloseHandle!(p.handle);
    p.handle = null;
  }
}

export function closePipes(w: Win32, pipes: StdioPipe[]): void {
  closeClientHandles(w, pipes);
  for (const p of pipes) p.socket.destroy();
}

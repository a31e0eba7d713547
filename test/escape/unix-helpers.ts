// cordon tests – helpers shared by the unix-socket guard tests (unix-guard.test.ts, unixguard-battery.test.ts).
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A host service: listens on `file` (outside any sandbox) and greets each connection with `host-service`. */
export async function hostService(file: string, servers: net.Server[]): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const srv = net.createServer((s) => s.end('host-service\n'));
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(file, () => resolve());
  });
  servers.push(srv);
}

/**
 * Runs `fn` with the guard on (default) or off (CORDON_NET_BROKER=0, the control). The variable is
 * read whenever a plan is made, and a Sandbox re-plans when the home's socket walk finds a new
 * socket, so the control keeps it set across create and exec.
 */
export async function withGuard<T>(guard: boolean, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.CORDON_NET_BROKER;
  if (!guard) process.env.CORDON_NET_BROKER = '0';
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.CORDON_NET_BROKER;
    else process.env.CORDON_NET_BROKER = saved;
  }
}

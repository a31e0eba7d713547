// cordon – a RunningCommand whose real start waits for a promise (a policy being re-prepared); streams and kill() work at once.
import { PassThrough } from 'node:stream';

import type { BackendExit, RunningCommand } from '../platform/backend.js';

export function deferredRunning(start: Promise<RunningCommand>): RunningCommand {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let real: RunningCommand | undefined;
  let killed: NodeJS.Signals | undefined;
  const exited = start.then(
    (r): Promise<BackendExit> => {
      real = r;
      stdin.pipe(r.stdin);
      r.stdout.pipe(stdout);
      r.stderr.pipe(stderr);
      if (killed) r.kill(killed);
      return r.exited;
    },
    (err: unknown) => {
      stdout.end();
      stderr.end();
      stdin.resume();
      throw err;
    },
  );
  return {
    stdin,
    stdout,
    stderr,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (real) real.kill(signal);
      else killed = signal;
    },
    exited,
  };
}

// cordon – one sandboxed command on Windows: token, job, desktop, stdio, launch, wait, kill, clean up.
//
// `startCommand` returns at once; setup runs asynchronously and a failure resolves `exited` with a
// setupError (never a thrown error), like the Linux launcher's status records. When the command's
// main process exits, the job is closed (KILL_ON_JOB_CLOSE ends any descendant), then stdio drains.
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import type { BackendExit, RunningCommand, StartRequest } from '../platform/backend.js';
import type { Violation } from '../sandbox/result.js';
import { commandLine, envBlock, getEnv, resolveProgram } from './cmdline.js';
import { closeDesktop, createDesktop, type Desktop } from './desktop.js';
import { createJob, jobUsage, terminateJob } from './job.js';
import type { WindowsPlan } from './plan.js';
import { closeClientHandles, closePipes, openStdio, type StdioPipe } from './pipes.js';
import { launch, waitForExit } from './process.js';
import { createRestrictedToken } from './token.js';
import { Win32Error, win32, type Win32 } from './win32.js';

const ERROR_NOT_ENOUGH_QUOTA = 1816;
/** Exit code given to processes cordon terminates (reported as a signal, not as this code). */
const KILLED = 0xc000013a; // STATUS_CONTROL_C_EXIT

/** Windows error → errno for execError (ENOENT, EACCES, ENOEXEC). */
function execErrno(code: number): number | undefined {
  return ({ 2: 2, 3: 2, 5: 13, 193: 8, 216: 8 } as Record<number, number>)[code];
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The environment the child sees: essentials if missing, the request's env, per-run TEMP, proxy variables. */
export function childEnv(plan: WindowsPlan, request: StartRequest, runTemp: string): Record<string, string> {
  return { ...plan.envDefaults, ...request.env, TEMP: runTemp, TMP: runTemp, ...plan.network.proxyEnv };
}

function limitViolations(plan: WindowsPlan, exitCode: number, usage: ReturnType<typeof jobUsage> | undefined): Violation[] {
  const out: Violation[] = [];
  const mem = plan.job.jobMemoryLimit;
  if (usage && mem > 0 && usage.peakJobMemory >= mem * 0.95) {
    out.push({ kind: 'limit', what: 'memory', detail: `job memory reached its limit (${mem} bytes); allocations beyond it failed`, source: 'windows' });
  }
  if (plan.job.perJobUserTimeLimit > 0n && exitCode === ERROR_NOT_ENOUGH_QUOTA) {
    out.push({ kind: 'limit', what: 'cpu', detail: 'the job used up its CPU time limit and was terminated', source: 'windows' });
  }
  return out;
}

interface Resources {
  token: unknown | null;
  job: unknown | null;
  desktop: Desktop | null;
  pipes: StdioPipe[];
  process: unknown | null;
}

function release(w: Win32, r: Resources): void {
  if (r.process) w.kernel32.CloseHandle!(r.process);
  if (r.job) w.kernel32.CloseHandle!(r.job); // KILL_ON_JOB_CLOSE: nothing in the job survives this
  if (r.token) w.kernel32.CloseHandle!(r.token);
  closeClientHandles(w, r.pipes);
  if (r.desktop) closeDesktop(w, r.desktop);
  r.process = r.job = r.token = r.desktop = null;
}

export function startCommand(plan: WindowsPlan, request: StartRequest): RunningCommand {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let killedWith: NodeJS.Signals | null = null;
  let onKill: (() => void) | null = null;

  const exited = (async (): Promise<BackendExit> => {
    const w = win32();
    const r: Resources = { token: null, job: null, desktop: null, pipes: [], process: null };
    const runTemp = path.join(plan.tempDir, request.runId.replace(/[^\w.-]/g, '_'));
    const env = childEnv(plan, request, runTemp);
    const resolved = resolveProgram(request.argv[0]!, { cwd: request.cwd, path: getEnv(env, 'PATH'), pathext: getEnv(env, 'PATHEXT'), isFile });
    if (resolved.kind !== 'exe') {
      if (resolved.kind === 'batch') {
        stderr.write(`cordon: ${resolved.path} is a batch file; run it explicitly as cmd.exe /d /s /c …\n`);
      }
      stdout.end();
      stderr.end();
      return { exitCode: null, signal: null, execError: { errno: resolved.kind === 'missing' ? 2 : 8, path: request.argv[0]! }, violations: [] };
    }
    let step = 'job';
    try {
      mkdirSync(runTemp, { recursive: true });
      r.job = createJob(w, plan.job);
      step = 'token';
      if (plan.token) r.token = createRestrictedToken(w, plan.token).token;
      step = 'desktop';
      r.desktop = createDesktop(w, [plan.aclSid]);
      step = 'stdio';
      r.pipes = await openStdio(w, request.runId);
      const [pin, pout, perr] = r.pipes as [StdioPipe, StdioPipe, StdioPipe];
      step = 'launch';
      const child = launch(w, {
        token: r.token,
        appContainer: plan.appContainer,
        job: r.job,
        desktop: r.desktop.name,
        application: resolved.path,
        commandLine: commandLine(request.argv),
        env: envBlock(env),
        cwd: request.cwd,
        stdio: [pin.handle, pout.handle, perr.handle],
        mitigations: plan.mitigations,
      });
      r.process = child.process;
      closeClientHandles(w, r.pipes);
      pout.socket.pipe(stdout);
      perr.socket.pipe(stderr);
      stdin.pipe(pin.socket);
      pin.socket.on('error', () => {}); // the child may exit without reading its stdin
      pin.socket.on('finish', () => pin.socket.destroy()); // EOF for the child: close our end
      onKill = () => terminateJob(w, r.job, KILLED);
      if (killedWith) onKill();
      const code = await waitForExit(w, child.process);
      const usage = safeUsage(w, r.job);
      release(w, r); // closes the job: descendants die, the pipes reach EOF
      await Promise.all([drained(pout.socket), drained(perr.socket)]);
      pin.socket.destroy();
      const violations = limitViolations(plan, code, usage);
      if (killedWith) return { exitCode: null, signal: killedWith, violations };
      return { exitCode: code, signal: null, violations };
    } catch (e) {
      release(w, r);
      closePipes(w, r.pipes);
      stdout.end();
      stderr.end();
      const err = e instanceof Win32Error ? e : new Win32Error(step, 0, String((e as Error)?.message ?? e));
      const errno = execErrno(err.code);
      if (step === 'launch' && errno !== undefined && /CreateProcess/.test(err.fn)) {
        return { exitCode: null, signal: null, execError: { errno, path: resolved.path }, violations: [] };
      }
      return { exitCode: null, signal: null, setupError: { step, syscall: err.fn, errno: err.code, detail: err.message }, violations: [] };
    } finally {
      rmSync(runTemp, { recursive: true, force: true });
    }
  })();

  return {
    stdin,
    stdout,
    stderr,
    exited,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (killedWith) return;
      killedWith = signal;
      onKill?.();
    },
  };
}

function safeUsage(w: Win32, job: unknown): ReturnType<typeof jobUsage> | undefined {
  try {
    return jobUsage(w, job);
  } catch {
    return undefined;
  }
}

function drained(s: NodeJS.ReadableStream & { destroyed?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if ((s as { readableEnded?: boolean }).readableEnded || s.destroyed) return resolve();
    s.once('end', resolve);
    s.once('close', resolve);
    s.once('error', () => resolve());
  });
}

// cordon – the Linux backend: prepares a plan once per policy and drives the native launcher per command.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

import { CordonError, errnoName } from '../errors.js';
import { launcherPath } from '../paths.js';
import type { Policy } from '../policy/policy.js';
import type {
  BackendExit,
  Capabilities,
  PlatformBackend,
  PreparedPolicy,
  RunningCommand,
  StartRequest,
} from '../platform/backend.js';
import { encodeCommand, planLinux, type LinuxPlan } from './plan.js';
import { probeLinux, type LinuxProbe } from './probe.js';
import { applyRecord, type RecordState } from './records.js';
import { linuxCapabilities } from './doctor.js';
import { limitFromRecords, removeLauncherCgroups } from './limits.js';

export interface LinuxPrepared extends PreparedPolicy {
  readonly plan: LinuxPlan;
}

function requireLauncher(): string {
  const p = launcherPath();
  if (!p) {
    throw new CordonError('NATIVE_MISSING', 'the native launcher is not built (build/Release/cordon-launcher missing)', {
      hint: 'run `npm install` (or `npm run build`) in the cordon package; it needs g++ and make',
    });
  }
  return p;
}

function requireProbe(): LinuxProbe {
  requireLauncher();
  const probe = probeLinux();
  if (!probe) throw new CordonError('NATIVE_MISSING', 'the native launcher could not be probed');
  return probe;
}

export function createLinuxBackend(): PlatformBackend {
  return {
    name: 'linux',
    async probe(): Promise<Capabilities> {
      return linuxCapabilities(probeLinux());
    },
    async prepare(policy: Policy): Promise<LinuxPrepared> {
      const plan = planLinux(policy, requireProbe());
      return { policy, warnings: plan.warnings, plan };
    },
    start(prepared: PreparedPolicy, request: StartRequest): RunningCommand {
      const { plan } = prepared as LinuxPrepared;
      const child = spawn(requireLauncher(), [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: {} });
      const status = child.stdio[3] as unknown as Readable & Writable;
      const state: RecordState = { violations: [] };
      let pending = '';
      let killed = false; // by us (timeout, abort, output cap, kill())
      status.setEncoding('utf8');
      status.on('data', (chunk: string) => {
        pending += chunk;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          applyRecord(state, pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      });
      status.on('error', () => {}); // EPIPE when the launcher fails before reading the whole plan
      status.write(encodeCommand(plan, request.argv, request.env, request.cwd));
      child.stdin.on('error', () => {}); // the command may exit without reading its stdin

      const exited = new Promise<BackendExit>((resolve, reject) => {
        child.on('error', (err) => reject(new CordonError('SETUP_FAILED', `could not start the launcher: ${err.message}`, { step: 'spawn' })));
        child.on('close', (code, signal) => {
          if (pending) applyRecord(state, pending);
          // A SIGKILLed launcher could not remove its cgroups; its tree is dying with it.
          void removeLauncherCgroups(plan.limits.cgroupParents, child.pid).then(() => resolve(toExit(code, signal)));
        });
      });
      const toExit = (code: number | null, signal: NodeJS.Signals | null): BackendExit => {
        const exit: BackendExit = { exitCode: null, signal: null, violations: state.violations };
        if (state.setupError) {
          exit.setupError = state.setupError;
          exit.exitCode = 125;
        } else if (state.exit) {
          exit.exitCode = state.exit.code;
          exit.signal = state.exit.signal;
          if (state.execError) exit.execError = state.execError;
          exit.limit = limitFromRecords(exit, state.limitHits ?? new Map(), state.cpuTimeUs, plan.limits);
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
      };
      return {
        stdin: child.stdin,
        stdout: child.stdout,
        stderr: child.stderr,
        kill(sig: NodeJS.Signals = 'SIGKILL') {
          if (child.exitCode === null && child.signalCode === null) {
            killed ||= sig === 'SIGKILL';
            child.kill(sig);
          }
        },
        exited,
      };
    },
  };
}

/** "mount: move_mount failed with EPERM (…)" for a setup failure. */
export function describeSetupError(e: NonNullable<BackendExit['setupError']>): string {
  return `${e.step}: ${e.syscall} failed with ${errnoName(e.errno)}${e.detail ? ` (${e.detail})` : ''}`;
}

// cordon – parses the launcher's status records (native/launcher/report.h) into a BackendExit.
import os from 'node:os';

import type { BackendExit } from '../platform/backend.js';
import type { Violation } from '../sandbox/result.js';
import { SYSCALLS_X86_64 } from './seccomp/syscalls-x86_64.js';

const AUDIT_ARCH_X86_64 = 0xc000003e;

let names: Map<number, string> | undefined;
function syscallName(nr: number): string | undefined {
  names ??= new Map(SYSCALLS_X86_64.map(([name, n]) => [n, name]));
  return names.get(nr);
}

export interface RecordState {
  setupError?: BackendExit['setupError'];
  execError?: BackendExit['execError'];
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  started?: number;
  /** Host pid of the sandbox's init (INIT record). */
  initPid?: number;
  /** A session keeper finished building its sandbox (READY record): its namespaces' inode numbers. */
  ready?: string[];
  violations: Violation[];
  /** `LIMIT <label> <count>`: kernel limit counters that moved (oom kills, refused forks). */
  limitHits?: Map<string, number>;
  /** `CPUTIME <µs>`: the command process's own CPU time. */
  cpuTimeUs?: number;
  /** Violations past MAX_RECORD_VIOLATIONS: counted, not kept (the first dropped one's kind). */
  dropped?: { count: number; kind: Violation['kind'] };
}

/** Violations kept per command from the launcher's records (the network supervisor keeps as many). */
export const MAX_RECORD_VIOLATIONS = 1000;

function addViolation(state: RecordState, v: Violation): void {
  if (state.violations.length < MAX_RECORD_VIOLATIONS) state.violations.push(v);
  else if (state.dropped) state.dropped.count++;
  else state.dropped = { count: 1, kind: v.kind };
}

/** Why pid 1 refused a connect() to a unix path socket (native/launcher/unix_guard.h). */
const UNIX_REFUSALS: Record<string, string> = {
  'read-only-mount': "a host service's unix socket (on a read-only mount, where nothing in the sandbox can bind one): refused",
  'bound-outside': "a unix socket bound outside the sandbox (a host service's): refused",
  unverifiable: 'a unix socket whose owner could not be checked: refused',
};

function signalName(n: number): NodeJS.Signals | null {
  for (const [name, value] of Object.entries(os.constants.signals)) if (value === n) return name as NodeJS.Signals;
  return null;
}

/** Applies one record line to the state. Unknown lines are ignored (forward compatible). */
export function applyRecord(state: RecordState, line: string): void {
  const [type, ...rest] = line.split(' ');
  switch (type) {
    case 'SETUP': {
      const [step = '?', syscall = '?', errno = '0', ...detail] = rest;
      state.setupError ??= { step, syscall, errno: Number(errno), detail: detail.join(' ') };
      break;
    }
    case 'EXECFAIL': {
      const [errno = '0', ...p] = rest;
      state.execError = { errno: Number(errno), path: p.join(' ') };
      break;
    }
    case 'INIT':
      state.initPid = Number(rest[0]);
      break;
    case 'READY':
      state.ready = rest;
      break;
    case 'STARTED':
      state.started = Number(rest[0]);
      break;
    case 'EXIT': {
      const code = Number(rest[0]);
      const sig = Number(rest[1]);
      if (state.dropped) {
        const { count, kind } = state.dropped;
        state.violations.push({ kind, what: '…', detail: `${count} more violation(s) of this command were not kept (at most ${MAX_RECORD_VIOLATIONS} are)`, source: 'cordon' });
        state.dropped = undefined;
      }
      state.exit = sig > 0 ? { code: null, signal: signalName(sig) } : { code, signal: null };
      if (sig === os.constants.signals.SIGSYS) {
        addViolation(state, {
          kind: 'syscall',
          what: 'foreign syscall ABI (i386 int 0x80 or x32)',
          detail: 'the process was killed by the seccomp architecture check',
          source: 'seccomp',
        });
      }
      break;
    }
    case 'VIOLATION': {
      if (rest[0] === 'syscall') {
        const nr = Number(rest[1]);
        const arch = Number(rest[2]);
        const name = arch === AUDIT_ARCH_X86_64 ? syscallName(nr) ?? `syscall ${nr}` : `syscall ${nr} (arch 0x${arch.toString(16)})`;
        addViolation(state, { kind: 'syscall', what: name, detail: 'denied by the seccomp filter', pid: Number(rest[3]), source: 'seccomp' });
      } else if (rest[0] === 'unix') {
        // VIOLATION unix <pid> <why> <path as the caller gave it, escaped>; once per path and command
        // (a client retrying in a loop is one violation).
        const [, pid = '0', why = '', ...p] = rest;
        const what = `unix:${p.join(' ')}`;
        if (!state.violations.some((v) => v.what === what && v.kind === 'network')) {
          addViolation(state, { kind: 'network', what, detail: UNIX_REFUSALS[why] ?? `unix socket refused (${why})`, pid: Number(pid), source: 'network' });
        }
      }
      break;
    }
    case 'LIMIT': {
      const [label = '?', count = '0'] = rest;
      (state.limitHits ??= new Map()).set(label, Number(count));
      const detail =
        label === 'oom' ? `the memory limit was reached; the kernel killed ${count} process(es)` : label === 'pids' ? `the pids limit refused ${count} fork(s)` : `${label} limit hit ${count} time(s)`;
      addViolation(state, { kind: 'limit', what: label, detail, source: 'limit' });
      break;
    }
    case 'CPUTIME':
      state.cpuTimeUs = Number(rest[0]);
      break;
    default:
      break;
  }
}

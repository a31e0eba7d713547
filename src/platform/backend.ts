// cordon – the interface every platform backend (linux/, windows/) implements behind `Sandbox`.
import type { Readable, Writable } from 'node:stream';

import { errnoName } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import type { LimitKind, Violation } from '../sandbox/result.js';

/** What a backend can enforce on this machine (`cordon doctor`). */
export interface LayerReport {
  /** Layer name, e.g. `user namespaces`, `landlock`, `seccomp`, `job objects`. */
  name: string;
  available: boolean;
  /** Why not, or a version / detail when it is. */
  detail: string;
  /** Whether the default profile needs it (a missing required layer refuses to run). */
  required: boolean;
}

export interface Capabilities {
  platform: NodeJS.Platform;
  layers: LayerReport[];
}

/** One command to start, already checked by Sandbox: argv non-empty, env filtered by the policy. */
export interface StartRequest {
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  runId: string;
  /** Audit sink for events the backend produces while the command runs (network decisions). */
  audit?: (level: 'info' | 'warn' | 'error', event: Record<string, unknown>, msg: string) => void;
}

/** How a command ended, as the backend saw it (Sandbox adds output capture, limits and timing). */
export interface BackendExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the sandbox could not be built; the command never ran. */
  setupError?: { step: string; syscall: string; errno: number; detail: string };
  /** Set when the command itself could not be executed (126/127). */
  execError?: { errno: number; path: string };
  violations: Violation[];
  /** A limit the kernel enforced (oom, pids, cpu) that ended the command, when the backend can tell. */
  limit?: LimitKind | null;
}

export interface RunningCommand {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Sends a signal to the command (SIGKILL ends the whole sandbox tree). */
  kill(signal?: NodeJS.Signals): void;
  readonly exited: Promise<BackendExit>;
}

/** A policy turned into whatever the backend needs per command, computed once per Sandbox. */
export interface PreparedPolicy {
  readonly policy: Policy;
  /** Free-form notes worth logging (e.g. an explicit opt-in to run weaker). */
  readonly warnings: readonly string[];
}

/** Commands sharing one sandbox (filesystem view, /tmp, network namespace), each with its own process tree. */
export interface BackendSession {
  start(request: StartRequest): RunningCommand;
  /** Ends the session; resolves when its processes are gone. */
  close(): Promise<void>;
}

export interface PrepareOptions {
  /**
   * Build each command's sandbox ahead of time, right after the previous command ends, so the
   * next command only has to be sent to it (every command still gets fresh namespaces).
   */
  prespawn?: boolean;
}

export interface PlatformBackend {
  readonly name: string;
  probe(): Promise<Capabilities>;
  /** Checks the policy against the machine (fail closed) and precomputes per-command data. */
  prepare(policy: Policy, options?: PrepareOptions): Promise<PreparedPolicy>;
  /** Frees what prepare() or start() keeps for this policy (e.g. a sandbox built ahead). */
  release?(prepared: PreparedPolicy): Promise<void> | void;
  /** Builds the sandbox once and returns a session whose commands run inside it. */
  openSession?(prepared: PreparedPolicy): Promise<BackendSession>;
  start(prepared: PreparedPolicy, request: StartRequest): RunningCommand;
}

/** "mount: move_mount failed with EPERM (/usr)" — one readable line for a setup failure. */
export function describeSetupError(e: NonNullable<BackendExit['setupError']>): string {
  return `${e.step}: ${e.syscall} failed with ${errnoName(e.errno)}${e.detail ? ` (${e.detail})` : ''}`;
}

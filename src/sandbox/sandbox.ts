// cordon – the public Sandbox: a compiled policy bound to a backend; exec() and spawn() run commands in it.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';

import { CordonError, errnoName } from '../errors.js';
import { createAuditLogger, type AuditLogger, type AuditOption } from '../log/audit.js';
import { describeSetupError, type PlatformBackend, type PreparedPolicy, type BackendExit, type RunningCommand, type StartRequest } from '../platform/backend.js';
import { selectBackend } from '../platform/select.js';
import type { WindowsOptions } from '../windows/plan.js';
import type { Policy } from '../policy/policy.js';
import { existingPaths } from '../policy/existence.js';
import type { ProfileDocument } from '../profile/schema.js';
import { CappedCapture } from './capture.js';
import { buildEnv, checkOverrides } from './env.js';
import { PolicyHost, type SecretOption } from './policy-host.js';
import type { ExecResult, LimitKind, Violation } from './result.js';
import { violationsFromStderr } from './stderr-violations.js';

export interface SandboxOptions {
  /** Shipped profile name or path to a profile file. Default: `workspace`. */
  profile?: string;
  /** The workspace directory. Default: the current directory. */
  workspace?: string;
  /** The caller's home directory (for ${home} and the credential list). Default: os.homedir(). */
  home?: string;
  /** Extra rules layered on the profile (same meaning as the profile fields). */
  read?: string[];
  write?: string[];
  deny?: string[];
  protected?: string[];
  /** Environment: names to pass from the caller (`NAME`), or fixed values (`{NAME: value}`). */
  env?: string[] | Record<string, string>;
  network?: NonNullable<ProfileDocument['network']>;
  limits?: NonNullable<ProfileDocument['limits']>;
  /** Audit log: a pino logger, or `{ file }`. Off when absent. */
  log?: AuditOption;
  /**
   * Build each command's sandbox ahead of time, right after the previous command ends, so the next
   * exec() only sends its argv (every command still gets fresh namespaces). Default: true. The CLI,
   * which runs one command, turns it off.
   */
  prespawn?: boolean;
  /** Windows only: `mode` ('default' write-restricted token, or 'strict' AppContainer) and opt-ins. */
  windows?: WindowsOptions;
  /** Environment the allowlist draws from. Default: process.env. */
  callerEnv?: NodeJS.ProcessEnv;
  /** Named secrets handed to every command as variables and redacted from its output, the log and errors. */
  secrets?: Record<string, SecretOption>;
  /**
   * Watch the profile files and reload on change: later commands get the new policy; an invalid edit
   * keeps the last good one and emits `error`. Call close() to stop watching.
   */
  watch?: boolean;
}

export interface ExecOptions {
  /** Working directory inside the sandbox (absolute, or relative to the workspace). */
  cwd?: string;
  /** Per-command environment values (explicit, so passed as given unless the profile denies the name). */
  env?: Record<string, string | undefined>;
  /** Data for stdin; when absent, exec() closes stdin and spawn() leaves it open for write()/end(). */
  stdin?: string | Buffer | Readable;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Cap for each of stdout and stderr; crossing it ends the command (limit `output`). */
  maxOutputBytes?: number;
  /** spawn() only: keep stdout/stderr in the result too (default true). */
  capture?: boolean;
}

export interface SandboxProcess {
  readonly runId: string;
  readonly stdout: Readable;
  readonly stderr: Readable;
  write(data: string | Buffer): boolean;
  end(data?: string | Buffer): void;
  kill(signal?: NodeJS.Signals): void;
  readonly result: Promise<ExecResult>;
}

/** Audit writes never fail or block a command: a throwing logger (full disk, closed fd) is ignored. */
function audit(log: AuditLogger | undefined, level: 'info' | 'warn' | 'error', obj: object, msg: string): void {
  try {
    log?.[level](obj, msg);
  } catch {
    // the command's result matters more than its log line
  }
}

/** Runs in flight in this process: on exit, each is killed and gets its exec.end (sync file logs). */
const inFlight = new Set<(reason: string) => void>();
let exitHook = false;
function trackRun(onExit: (reason: string) => void): () => void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const f of [...inFlight]) f('caller_exit');
    });
  }
  inFlight.add(onExit);
  return () => inFlight.delete(onExit);
}

function overlay(options: SandboxOptions): ProfileDocument {
  const env = options.env;
  return {
    version: 1,
    filesystem: { read: options.read, write: options.write, deny: options.deny, protected: options.protected },
    network: options.network,
    env: Array.isArray(env) ? { allow: env } : env ? { set: env } : undefined,
    limits: options.limits,
  };
}

/**
 * The paths of `paths` that do not exist now. While nothing changed, existingPaths returns the same
 * answer, and this the same array: checking it again after the command is then a cached look too.
 */
const missingOf = new WeakMap<readonly boolean[], readonly string[]>();
function missingPaths(paths: readonly string[]): readonly string[] {
  const exists = existingPaths(paths);
  let missing = missingOf.get(exists);
  if (!missing) missingOf.set(exists, (missing = paths.filter((_, i) => !exists[i])));
  return missing;
}

/**
 * Events: `reload` (policy) after a watched profile changed; `error` (CordonError) when an edit is
 * invalid and the last good policy stays (without an `error` listener it is logged and emitted as a
 * process warning instead of throwing).
 */
function createdProtected(missingBefore: readonly string[]): Violation[] {
  if (missingBefore.length === 0) return [];
  const now = existingPaths(missingBefore);
  return missingBefore
    .filter((_, i) => now[i])
    .map((p) => ({
      kind: 'fs-write',
      what: p,
      detail: 'a protected path was created during the command (it did not exist, so it could not be read-only yet); review it before trusting it',
      source: 'cordon',
    }));
}

/** Commands sharing one sandbox built once (see Sandbox.session()). */
export interface SandboxSession {
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  spawn(argv: readonly string[], options?: ExecOptions): SandboxProcess;
  /** Ends the session; resolves when its processes are gone (awaiting it is optional). */
  close(): Promise<void>;
}

export class Sandbox extends EventEmitter {
  private closed = false;

  private constructor(
    private readonly host: PolicyHost,
    private readonly backend: PlatformBackend,
    private readonly log: AuditLogger | undefined,
    private readonly callerEnv: NodeJS.ProcessEnv,
  ) {
    super();
    host.onReload = (policy) => {
      audit(log, 'info', { event: 'sandbox.reload', profile: policy.name }, 'profile reloaded');
      this.emit('reload', policy);
    };
    host.onError = (err) => {
      audit(log, 'error', { event: 'sandbox.reload_failed', error: err.message }, 'profile reload failed; keeping the last good policy');
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else process.emitWarning(`cordon: profile reload failed; keeping the last good policy: ${err.message}`, { code: 'CORDON_RELOAD' });
    };
  }

  /** The policy new commands run under (it changes on reload and when deny globs match new files). */
  get policy(): Policy {
    return this.host.current.policy;
  }

  private get prepared(): PreparedPolicy {
    return this.host.current.prepared;
  }

  /** Loads the profile, compiles the policy, checks this machine can enforce it (fail closed). */
  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    const callerEnv = options.callerEnv ?? process.env;
    const backend = await selectBackend(process.platform, { windows: options.windows });
    const host = await PolicyHost.create(
      {
        profile: options.profile ?? 'workspace',
        overlay: overlay(options),
        workspace: path.resolve(options.workspace ?? process.cwd()),
        home: options.home,
        callerEnv,
        secrets: options.secrets,
        watch: options.watch,
        prepare: { prespawn: options.prespawn ?? true },
      },
      backend,
    );
    const { policy, prepared } = host.current;
    let log: AuditLogger | undefined;
    try {
      log = createAuditLogger(options.log);
    } catch (e) {
      // An unwritable log path must not stop commands; say so once, where the caller sees it.
      process.emitWarning(`cordon: audit log disabled: ${(e as Error).message}`, { code: 'CORDON_AUDIT_LOG' });
    }
    for (const warning of prepared.warnings) audit(log, 'warn', { event: 'sandbox.weaker', profile: policy.name, warning }, warning);
    return new Sandbox(host, backend, log, callerEnv);
  }

  /** Warnings about this sandbox (explicit opt-ins to weaker layers). */
  get warnings(): readonly string[] {
    return this.prepared.warnings;
  }

  /** Runs a command to completion and returns its result with stdout/stderr captured. */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.execWith(argv, options, (request) => this.host.start(request));
  }

  private execWith(argv: readonly string[], options: ExecOptions, start: (request: StartRequest) => RunningCommand): Promise<ExecResult> {
    try {
      // Only the result is handed out: the output is captured, not streamed (no pass-through streams).
      return this.launch(argv, { ...options, capture: true, stdin: options.stdin ?? '' }, start, false).result;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Starts a command; stream its output, feed its stdin, await `result`. */
  spawn(argv: readonly string[], options: ExecOptions = {}): SandboxProcess {
    return this.launch(argv, options, (request) => this.host.start(request));
  }

  /**
   * Opens a warm session: the sandbox is built once and its commands run inside it, each with its
   * own stdio, exit status, timeout and process tree (its own pid namespace), under the same
   * policy as exec(). Commands of a session share the filesystem view, /tmp and the network
   * namespace. The session keeps the policy it was opened with; close() ends it.
   */
  async session(): Promise<SandboxSession> {
    if (this.closed) throw new CordonError('CLOSED', 'this Sandbox was closed');
    if (!this.backend.openSession) throw new CordonError('PLATFORM_UNSUPPORTED', `sessions are not available on ${this.backend.name}`);
    const backendSession = await this.backend.openSession(this.prepared);
    let open = true;
    const start = (request: StartRequest) => {
      if (!open) throw new CordonError('CLOSED', 'this session was closed');
      return backendSession.start(request);
    };
    return {
      spawn: (argv, options = {}) => this.launch(argv, options, start),
      exec: (argv, options = {}) => this.execWith(argv, options, start),
      close: () => {
        open = false;
        return backendSession.close();
      },
    };
  }

  /** `streams`: the caller reads stdout/stderr (spawn); exec() only wants the captured result. */
  private launch(argv: readonly string[], options: ExecOptions, start: (request: StartRequest) => RunningCommand, streams = true): SandboxProcess {
    if (this.closed) throw new CordonError('CLOSED', 'this Sandbox was closed');
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw new CordonError('BAD_ARGUMENT', 'argv must be a non-empty array of strings without NUL bytes');
    }
    if (argv[0] === '') throw new CordonError('BAD_ARGUMENT', 'argv[0] (the command) is empty');
    const policy = this.policy;
    const cwd = path.resolve(policy.workspace, options.cwd ?? '.');
    const { redactor, secretEnv } = this.host.current;
    checkOverrides(policy.env, options.env); // a bad value fails the call before anything starts
    const runId = randomUUID();
    // The environment and the protected paths' snapshot are taken when the backend sends the command
    // (request.env), after it started the launcher: on a cold launch the sandbox is built meanwhile.
    // Protected paths that do not exist yet cannot be re-bound read-only; if the command creates one
    // (e.g. `git init` makes .git/hooks), the caller is told, and later commands protect it.
    let missingProtected: readonly string[] = [];
    let env: Record<string, string> | undefined;
    const commandEnv = (): Record<string, string> => {
      if (env) return env;
      missingProtected = missingPaths(policy.fs.protected);
      env = { ...buildEnv({ policy: policy.env, inherited: this.callerEnv, overrides: options.env, home: policy.home, cwd }), ...secretEnv };
      return env;
    };
    const started = performance.now();
    const maxOutput = options.maxOutputBytes ?? this.policy.limits.maxOutputBytes ?? 64 * 1024 * 1024;
    const timeoutMs = options.timeoutMs ?? this.policy.limits.timeoutMs;
    const log = this.log && redactor.logger(this.log).child({ runId, profile: this.policy.name });
    audit(log, 'info', { event: 'exec.start', argv, cwd }, 'exec start');
    let ended = false;
    const logEnd = (fields: object) => {
      if (ended) return;
      ended = true;
      untrack();
      audit(log, 'info', { event: 'exec.end', durationMs: performance.now() - started, ...fields }, 'exec end');
    };
    let current: RunningCommand | undefined;
    const untrack = trackRun((reason) => {
      current?.kill('SIGKILL');
      logEnd({ exitCode: null, signal: null, limit: null, reason });
    });
    const running = (() => {
      try {
        // Network decisions (allowlist mode) are audit events of this run.
        return start({
          argv,
          cwd,
          get env() {
            return commandEnv();
          },
          runId,
          audit: (level, event, msg) => audit(log, level, event, msg),
        });
      } catch (e) {
        audit(log, 'error', { event: 'exec.setup_failed', error: String(e) }, 'sandbox setup failed');
        logEnd({ exitCode: null, signal: null, limit: null, setupFailed: true });
        throw e;
      }
    })();
    current = running;
    let limit: LimitKind | null = null;
    const end = (why: LimitKind) => {
      limit ??= why;
      running.kill('SIGKILL');
    };
    const capture = options.capture !== false;
    const out = new CappedCapture(maxOutput, () => end('output'));
    const err = new CappedCapture(maxOutput, () => end('output'));
    const piped = streams ? { stdout: new PassThrough(), stderr: new PassThrough() } : undefined;
    running.stdout.on('data', (c: Buffer) => {
      if (capture) out.push(c);
    });
    running.stderr.on('data', (c: Buffer) => {
      if (capture) err.push(c);
    });
    if (piped) {
      redactor.pipe(running.stdout, piped.stdout);
      redactor.pipe(running.stderr, piped.stderr);
    }

    const timer = timeoutMs !== undefined && timeoutMs > 0 ? setTimeout(() => end('timeout'), timeoutMs) : undefined;
    const onAbort = () => end('abort');
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    feedStdin(running.stdin, options.stdin);

    const result = running.exited.then(
      (exit: BackendExit): ExecResult => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const durationMs = performance.now() - started;
        if (exit.setupError) {
          const e = exit.setupError;
          audit(log, 'error', { event: 'exec.setup_failed', ...e, durationMs }, 'sandbox setup failed');
          logEnd({ exitCode: exit.exitCode, signal: null, limit, setupFailed: true });
          throw new CordonError('SETUP_FAILED', `sandbox setup failed at ${describeSetupError(e)}`, {
            step: e.step,
            syscall: e.syscall,
            errno: e.errno,
          });
        }
        const stderrBuf = redactor.redactBuffer(err.toBuffer(), err.truncated);
        const execError = exit.execError
          ? `${exit.execError.path}: ${exit.execError.errno === 2 ? 'command not found' : `cannot execute (${errnoName(exit.execError.errno)})`}`
          : undefined;
        const violations: Violation[] = [...exit.violations, ...violationsFromStderr(stderrBuf), ...createdProtected(missingProtected)];
        // Limits cordon enforced itself; kernel-enforced ones (oom, pids) come with their own violation.
        if (limit && limit !== 'abort') violations.push({ kind: 'limit', what: limit, detail: `the ${limit} limit ended the command`, source: 'limit' });
        limit ??= exit.limit ?? null;
        if (limit === 'cpu' && !violations.some((v) => v.kind === 'limit'))
          violations.push({ kind: 'limit', what: 'cpu', detail: 'the CPU time limit ended the command', source: 'limit' });
        const res: ExecResult = {
          exitCode: exit.exitCode,
          signal: exit.signal,
          stdout: redactor.redactBuffer(out.toBuffer(), out.truncated),
          stderr: stderrBuf,
          durationMs,
          timedOut: limit === 'timeout',
          truncated: out.truncated || err.truncated,
          limit,
          violations,
          ...(execError ? { execError: redactor.redactString(execError) } : {}),
          runId,
        };
        for (const v of violations) audit(log, 'warn', { event: 'violation', ...v }, `violation: ${v.kind} ${v.what}`);
        logEnd({ exitCode: res.exitCode, signal: res.signal, limit, truncated: res.truncated, violations: violations.length });
        return res;
      },
      (e: unknown) => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        audit(log, 'error', { event: 'exec.setup_failed', error: String(e) }, 'sandbox setup failed');
        logEnd({ exitCode: null, signal: null, limit, setupFailed: true });
        throw e;
      },
    ).catch((e: unknown) => {
      throw redactor.redactError(e);
    });
    return {
      runId,
      stdout: piped?.stdout ?? running.stdout,
      stderr: piped?.stderr ?? running.stderr,
      write: (data) => running.stdin.write(data),
      end: (data) => {
        running.stdin.end(data);
      },
      kill: (signal = 'SIGTERM') => {
        if (signal === 'SIGKILL') end('abort');
        else running.kill(signal);
      },
      result,
    };
  }

  /**
   * Refuses further commands and frees what the Sandbox holds (the sandbox built ahead, profile
   * watchers). Running commands are not affected. Resolves when those are gone; awaiting is optional.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.backend.release?.(this.prepared), this.host.close()]);
  }

  /** Resolves when a watched Sandbox is watching (a reload in progress has finished). */
  async ready(): Promise<void> {
    await this.host.ready();
    await this.host.settled();
  }
}

function feedStdin(stdin: Writable, input: ExecOptions['stdin']): void {
  if (input === undefined) return;
  if (input instanceof Readable) {
    input.pipe(stdin);
    return;
  }
  stdin.end(input);
}

// cordon – the result of one sandboxed command and the violations it caused (shared by all backends).

export type ViolationKind =
  | 'syscall'      // a denied system call (seccomp)
  | 'fs-write'     // a write to a read-only or protected path
  | 'fs-read'      // a read of a masked path
  | 'network'      // a denied connection or name lookup
  | 'limit';       // a resource limit ended the command

export interface Violation {
  kind: ViolationKind;
  /** What was attempted: a syscall name, a path, `host:port`. */
  what: string;
  /** Why it was refused, readable. */
  detail: string;
  /** Pid inside the sandbox, when known. */
  pid?: number;
  /** Where cordon learned of it: `seccomp`, `stderr`, `network`, `limit`, `windows`. */
  source: string;
}

export type LimitKind = 'timeout' | 'oom' | 'pids' | 'cpu' | 'output' | 'abort';

export interface ExecResult {
  /** The command's exit code, or null when it was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended the command (e.g. `SIGKILL`), or null. */
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
  timedOut: boolean;
  /** stdout or stderr exceeded maxOutputBytes; bytes up to the cap are kept exactly. */
  truncated: boolean;
  /** Which limit ended the command, if one did. */
  limit: LimitKind | null;
  violations: Violation[];
  /** Set when the command could not be executed at all (exit 126/127): why, readably. */
  execError?: string;
  /** Run id shared with the audit log events of this command. */
  runId: string;
}

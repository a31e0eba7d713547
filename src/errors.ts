// cordon – the one error class cordon throws, with a stable code and, for setup failures, the step.
import os from 'node:os';

export type CordonErrorCode =
  | 'PROFILE_INVALID'       // a profile failed to load or validate (file, JSON path, reason)
  | 'POLICY_INVALID'        // a profile is valid JSON but cannot be compiled (paths, rules)
  | 'BAD_ARGUMENT'          // an API or CLI argument is wrong
  | 'PLATFORM_UNSUPPORTED'  // no backend for this OS
  | 'LAYER_UNAVAILABLE'     // a layer the policy needs is missing on this machine (fail closed)
  | 'SETUP_FAILED'          // the launcher could not build the sandbox (step, syscall, errno)
  | 'NATIVE_MISSING'        // the native launcher was not built
  | 'MANAGED_POLICY'        // a local profile or flag tried to widen the managed floor
  | 'CLOSED';               // the Sandbox was disposed

export interface CordonErrorDetail {
  /** Setup step that failed (e.g. `mount`, `landlock`), for SETUP_FAILED. */
  step?: string;
  /** The syscall that failed in that step. */
  syscall?: string;
  /** errno as a number and as its name (EPERM, ENOENT, …). */
  errno?: number;
  errnoName?: string;
  /** File the error is about (profiles), with a JSON path and position when known. */
  file?: string;
  path?: string;
  line?: number;
  column?: number;
  hint?: string;
}

export class CordonError extends Error {
  readonly code: CordonErrorCode;
  readonly detail: CordonErrorDetail;
  constructor(code: CordonErrorCode, message: string, detail: CordonErrorDetail = {}) {
    super(message);
    this.name = 'CordonError';
    this.code = code;
    this.detail = detail;
  }
}

/** errno number → name (EPERM, …), for messages. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(os.constants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

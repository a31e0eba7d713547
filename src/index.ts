// cordon – the public API: Sandbox, profiles and policies, errors and result types.
export { Sandbox, type SandboxOptions, type ExecOptions, type SandboxProcess, type SandboxSession } from './sandbox/sandbox.js';
export type { ExecResult, Violation, ViolationKind, LimitKind } from './sandbox/result.js';
export { CordonError, type CordonErrorCode, type CordonErrorDetail } from './errors.js';
export { loadProfile, type Profile } from './profile/load.js';
export { compilePolicy, type CompileOptions } from './policy/compile.js';
export type { Policy } from './policy/policy.js';
export { selectBackend } from './platform/select.js';

// cordon – builds a command's environment: the policy's allowlist of the caller's variables, fixed values, caller overrides.
import { CordonError } from '../errors.js';
import type { EnvPolicy } from '../policy/policy.js';

function matches(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

export interface EnvInput {
  policy: EnvPolicy;
  /** The caller's environment the allowlist draws from. */
  inherited: NodeJS.ProcessEnv;
  /** Per-command values from the caller (exec option `env`): explicit, so set as given. */
  overrides?: Readonly<Record<string, string | undefined>>;
  home: string;
  cwd: string;
}

export function buildEnv(input: EnvInput): Record<string, string> {
  const { policy, inherited } = input;
  const denied = (name: string) => policy.deny.some((p) => matches(name, p));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value !== undefined && policy.allow.some((p) => matches(name, p)) && !denied(name)) env[name] = value;
  }
  Object.assign(env, policy.set);
  for (const [name, value] of Object.entries(input.overrides ?? {})) {
    if (!/^[^=\0]+$/.test(name)) throw new CordonError('BAD_ARGUMENT', `invalid environment variable name: ${JSON.stringify(name)}`);
    if (denied(name)) throw new CordonError('BAD_ARGUMENT', `environment variable ${name} is denied by the profile (env.deny)`);
    if (value === undefined) delete env[name];
    else if (value.includes('\0')) throw new CordonError('BAD_ARGUMENT', `environment variable ${name} contains a NUL byte`);
    else env[name] = value;
  }
  env.HOME ??= input.home;
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.TMPDIR = '/tmp';
  env.PWD = input.cwd;
  return env;
}

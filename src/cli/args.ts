// cordon – parses `cordon run` flags strictly: every flag known, every value checked, errors name the flag.
import { CordonError } from '../errors.js';
import { parseSize } from '../policy/sizes.js';

export interface RunArgs {
  profile?: string;
  write: string[];
  read: string[];
  deny: string[];
  env: string[];
  allowNet: string[];
  allowUnix: string[];
  denyNet: string[];
  timeoutSeconds?: number;
  json: boolean;
  logFile?: string;
  maxOutput?: string;
  /** Resource limits (sizes as given, e.g. `512m`; checked here). */
  memory?: string;
  tmpSize?: string;
  pids?: number;
  cpuSeconds?: number;
  maxFiles?: number;
  command: string[];
}

const LIST_FLAGS = {
  '--write': 'write',
  '--read': 'read',
  '--deny': 'deny',
  '--env': 'env',
  '--allow-net': 'allowNet',
  '--deny-net': 'denyNet',
  '--allow-unix': 'allowUnix',
} as const;

function bad(message: string): never {
  throw new CordonError('BAD_ARGUMENT', message, { hint: 'see `cordon help`' });
}

function size(flag: string, v: string): string {
  if (parseSize(v) === undefined) bad(`${flag}: "${v}" is not a size (e.g. 512m, 2g, 65536)`);
  return v;
}

function count(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) bad(`${flag}: "${v}" is not a positive whole number`);
  return n;
}

/** Parses the arguments after `run`. The command follows `--` (or the first non-flag word). */
export function parseRunArgs(argv: readonly string[]): RunArgs {
  const out: RunArgs = { write: [], read: [], deny: [], env: [], allowNet: [], denyNet: [], allowUnix: [], json: false, command: [] };
  let i = 0;
  const value = (flag: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const v = argv[++i];
    if (v === undefined) bad(`${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.command = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith('-')) {
      out.command = argv.slice(i);
      break;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const inline = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : undefined;
    if (flag in LIST_FLAGS) {
      out[LIST_FLAGS[flag as keyof typeof LIST_FLAGS]].push(value(flag, inline));
    } else if (flag === '--profile' || flag === '-p') {
      out.profile = value(flag, inline);
    } else if (flag === '--timeout') {
      const v = value(flag, inline);
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) bad(`--timeout: "${v}" is not a positive number of seconds`);
      out.timeoutSeconds = n;
    } else if (flag === '--json') {
      if (inline !== undefined) bad('--json takes no value');
      out.json = true;
    } else if (flag === '--log-file') {
      out.logFile = value(flag, inline);
    } else if (flag === '--max-output') {
      out.maxOutput = size(flag, value(flag, inline));
    } else if (flag === '--memory') {
      out.memory = size(flag, value(flag, inline));
    } else if (flag === '--tmp-size') {
      out.tmpSize = size(flag, value(flag, inline));
    } else if (flag === '--pids') {
      out.pids = count(flag, value(flag, inline));
    } else if (flag === '--max-files') {
      out.maxFiles = count(flag, value(flag, inline));
    } else if (flag === '--cpu-seconds') {
      const v = value(flag, inline);
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n) || n <= 0) bad(`--cpu-seconds: "${v}" is not a positive number of seconds`);
      out.cpuSeconds = n;
    } else {
      bad(`unknown flag ${flag}`);
    }
  }
  if (out.command.length === 0) bad('no command given: cordon run [flags] -- CMD [ARGS…]');
  return out;
}

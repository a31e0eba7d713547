// cordon – `cordon run`: runs one command in a sandbox, streaming its output; exits with its status.
import { constants as osConstants } from 'node:os';

import { CordonError } from '../errors.js';
import { parseSize } from '../policy/sizes.js';
import type { ExecResult } from '../sandbox/result.js';
import { Sandbox, type SandboxOptions } from '../sandbox/sandbox.js';
import type { RunArgs } from './args.js';

/** Exit status conventions (documented in the README). */
export const EXIT = { setupFailed: 125, cannotExecute: 126, notFound: 127, timeout: 124 } as const;

function describe(v: ExecResult['violations'][number]): string {
  if (v.kind === 'limit') return `cordon: limit ${v.what}: ${v.detail}`;
  return `cordon: denied ${v.kind} ${v.what}: ${v.detail}${v.pid ? ` (pid ${v.pid})` : ''}`;
}

function encodeOutput(buf: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  const text = buf.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buf) ? { text, encoding: 'utf8' } : { text: buf.toString('base64'), encoding: 'base64' };
}

/** The CLI's exit status for a result: 124 timeout, 128+N for a signal, else the command's code. */
export function exitStatus(r: ExecResult): number {
  if (r.timedOut) return EXIT.timeout;
  if (r.signal) return 128 + (osConstants.signals[r.signal] ?? 0);
  return r.exitCode ?? 1;
}

function limitsFromArgs(a: RunArgs): SandboxOptions['limits'] {
  const l: NonNullable<SandboxOptions['limits']> = {};
  if (a.memory !== undefined) l.memory = a.memory;
  if (a.tmpSize !== undefined) l.tmpSize = a.tmpSize;
  if (a.pids !== undefined) l.pids = a.pids;
  if (a.cpuSeconds !== undefined) l.cpuSeconds = a.cpuSeconds;
  if (a.maxFiles !== undefined) l.maxFiles = a.maxFiles;
  return Object.keys(l).length ? l : undefined;
}

/** What the CLI says on stderr when a limit ended the command. */
const LIMIT_MESSAGE: Record<string, string> = {
  output: 'output limit reached; the command was ended',
  oom: 'memory limit reached; the kernel killed the command (out of memory)',
  pids: 'process limit reached (forks were refused); the command failed',
  cpu: 'CPU time limit reached; the command was killed',
};

export async function runCommand(args: RunArgs): Promise<number> {
  const envNames = args.env.filter((e) => !e.includes('='));
  const envValues: Record<string, string> = {};
  for (const e of args.env.filter((x) => x.includes('='))) {
    const eq = e.indexOf('=');
    envValues[e.slice(0, eq)] = e.slice(eq + 1);
  }
  let maxOutputBytes: number | undefined;
  if (args.maxOutput !== undefined) {
    maxOutputBytes = parseSize(args.maxOutput);
    if (maxOutputBytes === undefined) throw new CordonError('BAD_ARGUMENT', `--max-output: bad size "${args.maxOutput}"`);
  }
  const sandbox = await Sandbox.create({
    profile: args.profile,
    workspace: process.cwd(),
    write: args.write,
    read: args.read,
    deny: args.deny,
    env: envNames,
    network:
      args.allowNet.length || args.denyNet.length || args.allowUnix.length
        ? { allow: args.allowNet, deny: args.denyNet, ...(args.allowUnix.length ? { unixSockets: args.allowUnix } : {}) }
        : undefined,
    log: args.logFile ? { file: args.logFile } : undefined,
    limits: limitsFromArgs(args),
    prespawn: false,
  });
  for (const w of sandbox.warnings) process.stderr.write(`cordon: warning: ${w}\n`);
  const proc = sandbox.spawn(args.command, {
    env: envValues,
    timeoutMs: args.timeoutSeconds === undefined ? undefined : args.timeoutSeconds * 1000,
    maxOutputBytes,
    capture: args.json,
    stdin: process.stdin.isTTY ? undefined : process.stdin,
  });
  if (args.json) {
    proc.stdout.resume();
    proc.stderr.resume();
  } else {
    proc.stdout.pipe(process.stdout);
    proc.stderr.pipe(process.stderr);
  }
  const forward = (sig: NodeJS.Signals) => () => proc.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, forward(sig));
  if (process.stdin.isTTY) proc.end();

  const result = await proc.result;
  process.stdin.unpipe();
  process.stdin.destroy();
  if (args.json) {
    const out = encodeOutput(result.stdout);
    const err = encodeOutput(result.stderr);
    const json = {
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: Math.round(result.durationMs * 1000) / 1000,
      timedOut: result.timedOut,
      truncated: result.truncated,
      limit: result.limit,
      violations: result.violations,
      execError: result.execError,
      runId: result.runId,
      stdout: out.text,
      stdoutEncoding: out.encoding,
      stderr: err.text,
      stderrEncoding: err.encoding,
    };
    process.stdout.write(JSON.stringify(json) + '\n');
  } else {
    if (result.execError) process.stderr.write(`cordon: ${result.execError}\n`);
    for (const v of result.violations) process.stderr.write(describe(v) + '\n');
    if (result.timedOut) process.stderr.write(`cordon: timed out after ${args.timeoutSeconds} s; the command's process tree was killed\n`);
    const said = result.limit ? LIMIT_MESSAGE[result.limit] : undefined;
    if (said) process.stderr.write(`cordon: ${said}\n`);
  }
  return exitStatus(result);
}

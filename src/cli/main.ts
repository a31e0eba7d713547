#!/usr/bin/env node
// cordon – the command-line entry point: dispatches subcommands and maps errors to exit statuses.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { parseRunArgs } from './args.js';
import { doctor } from './doctor.js';
import { EXIT, runCommand } from './run.js';

const HELP = `cordon – run an agent's commands in an OS sandbox

usage:
  cordon run [flags] -- CMD [ARGS…]   run CMD in the sandbox (workspace = current directory)
      --profile NAME|FILE     profile (default: workspace)
      --write PATH            also writable          --read PATH   also readable
      --deny PATH             masked (deny wins)     --env NAME[=VALUE]  pass or set a variable
      --allow-net HOST[:PORTS]  --deny-net HOST[:PORTS]   network rules
      --allow-unix SOCKET     a host unix socket the command may use (e.g. "$SSH_AUTH_SOCK")
      --timeout SECONDS       kill the whole process tree after this long (exit 124)
      --max-output SIZE       cap on stdout/stderr when capturing (--json)
      --memory SIZE  --pids N  --cpu-seconds N  --max-files N  --tmp-size SIZE
                              resource limits (see \`cordon doctor\` for how each is enforced here)
      --json                  print one JSON result instead of streaming
      --log-file FILE         append audit events (JSON lines)
  cordon doctor [--json]       which layers this machine can enforce
  cordon profile check|explain|diff|init|schema   write and review profiles (cordon profile help)
  cordon explain --seccomp [--network allowlist]   the syscall filter, readably
  cordon windows setup|teardown  (Windows, elevated) enforced per-endpoint network via WFP
  cordon help | --version

exit status of run: the command's own; 128+N if a signal N ended it; 124 on timeout;
125 if cordon itself failed first (a bad flag or profile, a sandbox it could not set up: the reason
on stderr); 126 not executable; 127 not found. Other commands exit 2 on bad input.
A limit that ends the command: timeout 124; memory (oom) and output 137 (SIGKILL); cpu 152 (SIGXCPU)
or 137; pids: the command's own status. --json's "limit" field names the limit.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return runCommand(parseRunArgs(rest));
    case 'profile':
      return (await import('./profile.js')).profileCommand(rest);
    case 'doctor':
      return doctor(rest.includes('--json'));
    case 'explain': {
      const usage = 'usage: cordon explain --seccomp [--network none|allowlist|host]';
      if (rest[0] !== '--seccomp') throw new CordonError('BAD_ARGUMENT', usage);
      const network = rest[1] === '--network' ? rest[2] : rest.length === 1 ? 'none' : undefined;
      if (network !== 'none' && network !== 'allowlist' && network !== 'host') throw new CordonError('BAD_ARGUMENT', usage);
      const { explainSeccomp } = await import('../linux/seccomp/index.js');
      // allowlist: connect() is shown brokered by pid 1 (the default; the kernel connects where it cannot be).
      process.stdout.write(explainSeccomp({ network }) + '\n');
      return 0;
    }
    case 'windows':
      return (await import('./windows.js')).windowsCommand(rest);
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    case '--version':
      process.stdout.write(version() + '\n');
      return 0;
    default:
      throw new CordonError('BAD_ARGUMENT', `unknown command "${cmd}"`, { hint: 'see `cordon help`' });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CordonError) {
      process.stderr.write(`cordon: ${err.message}\n`);
      // A profile error's message already ends with its located hint.
      if (err.detail.hint && !err.message.includes(err.detail.hint)) process.stderr.write(`cordon: hint: ${err.detail.hint}\n`);
    } else {
      process.stderr.write(`cordon: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    }
    process.exitCode = process.argv[2] === 'run' ? EXIT.setupFailed : 2;
  },
);

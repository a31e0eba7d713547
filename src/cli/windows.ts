// cordon – `cordon windows setup|teardown`: the one-time elevated WFP setup for enforced network on Windows.
import path from 'node:path';

import { CordonError } from '../errors.js';

const USAGE = 'usage: cordon windows setup [--workspace DIR]… | cordon windows teardown [--grants]';

export async function windowsCommand(args: readonly string[]): Promise<number> {
  if (process.platform !== 'win32') {
    throw new CordonError('PLATFORM_UNSUPPORTED', '`cordon windows` configures Windows Filtering Platform filters and only runs on Windows');
  }
  const [verb, ...rest] = args;
  const { windowsSetup, windowsTeardown } = await import('../windows/setup.js');
  if (verb === 'setup') {
    const workspaces: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] !== '--workspace' || rest[i + 1] === undefined) throw new CordonError('BAD_ARGUMENT', USAGE);
      workspaces.push(path.resolve(rest[++i] as string));
    }
    const r = windowsSetup({ workspaces: workspaces.length ? workspaces : [process.cwd()] });
    process.stdout.write(`installed ${r.filters} WFP filters for ${r.sids.length} sandbox identities; proxy ports ${r.proxyPorts.join('-')}\n`);
    return 0;
  }
  if (verb === 'teardown') {
    if (rest.some((a) => a !== '--grants')) throw new CordonError('BAD_ARGUMENT', USAGE);
    const r = windowsTeardown({ grants: rest.includes('--grants') });
    process.stdout.write(`removed filters for ${r.sids.length} identities; ${r.workspaces} workspace records\n`);
    return 0;
  }
  throw new CordonError('BAD_ARGUMENT', USAGE);
}

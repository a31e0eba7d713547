// cordon tests – a Windows-shaped Policy (path.win32) for the planner tests.
import type { Policy } from '../../dist/policy/policy.js';
import type { PlanHost } from '../../dist/windows/plan.js';

export const WS = 'C:\\Users\\dev\\proj';
export const HOME = 'C:\\Users\\dev';
export const CAP = 'S-1-5-21-11-22-33-44';
export const AC = 'S-1-15-2-1-2-3-4-5-6-7';

export function policy(over: Partial<{ fs: Partial<Policy['fs']>; network: Partial<Policy['network']>; limits: Partial<Policy['limits']> }> = {}): Policy {
  return {
    name: 'test',
    workspace: WS,
    home: HOME,
    fs: {
      read: ['C:\\Windows', 'C:\\Program Files\\nodejs', HOME],
      write: [WS],
      protected: [`${WS}\\.git\\hooks`, `${WS}\\.git\\config`],
      deny: [`${HOME}\\.ssh`, `${WS}\\.env`, 'D:\\elsewhere\\secret'],
      denyGlobs: [],
      ...over.fs,
    },
    network: { mode: 'none', rules: [], hosts: {}, unixSockets: [], ...over.network },
    env: { allow: [], deny: [], set: {} },
    limits: { tmpBytes: 64 << 20, ...over.limits },
    weaker: {},
  };
}

export const host: PlanHost = {
  systemReadable: ['C:\\Windows', 'C:\\Program Files', 'C:\\Program Files (x86)'],
  tempDir: 'C:\\Users\\dev\\AppData\\Local\\cordon\\tmp\\abc',
  wfpSids: [],
  env: { SystemRoot: 'C:\\Windows', PATHEXT: '.COM;.EXE', USERPROFILE: HOME, AWS_SECRET_ACCESS_KEY: 'x' },
};

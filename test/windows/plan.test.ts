// cordon tests – Policy → Windows plan: ACL entries, token SIDs, job limits, capabilities, env, refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { C } from '../../dist/windows/consts.js';
import {
  DEFAULT_MITIGATIONS, JOB_UI_RESTRICTIONS, LOGON_SID, PROTECT_MASK, READ_MASK, USER_SID, WRITE_MASK,
  isWithin, planWindows, type AclEntry,
} from '../../dist/windows/plan.js';
import { WELL_KNOWN_SIDS } from '../../dist/windows/sid.js';
import { AC, CAP, WS, HOME, host, policy } from './policy-fixture.js';

const ids = { capabilitySid: CAP, appContainerName: 'cordon.abc', appContainerSid: AC };
const find = (acl: readonly AclEntry[], reason: string) => acl.filter((e) => e.reason === reason);

describe('windows plan: default mode (write-restricted token)', () => {
  const plan = planWindows(policy(), ids, host, { allowUnenforcedReads: true });

  it('grants the capability SID write on the workspace and the temp root, inheritable', () => {
    assert.deepEqual(find(plan.acl, 'write'), [{ path: WS, sid: CAP, mode: 'grant', mask: WRITE_MASK, inherit: true, reason: 'write' }]);
    assert.deepEqual(find(plan.acl, 'temp').map((e) => [e.path, e.sid, e.mask]), [[host.tempDir, CAP, WRITE_MASK]]);
    assert.equal(WRITE_MASK & C.FILE_DELETE_CHILD, 0, 'no FILE_DELETE_CHILD: deleting needs DELETE on the object itself');
    assert.equal(find(plan.acl, 'read').length, 0, 'reads are not ACL-controlled in default mode');
  });

  it('denies writes on protected paths and pins their ancestors against rename', () => {
    assert.deepEqual(find(plan.acl, 'protected').map((e) => [e.path, e.mode, e.mask, e.inherit]), [
      [`${WS}\\.git\\config`, 'deny', PROTECT_MASK, true],
      [`${WS}\\.git\\hooks`, 'deny', PROTECT_MASK, true],
    ]);
    assert.deepEqual(find(plan.acl, 'pin').map((e) => [e.path, e.mask, e.inherit]), [[`${WS}\\.git`, C.DELETE, false]]);
  });

  it('masked paths inside writable trees get a write deny; others need no ACE', () => {
    assert.deepEqual(find(plan.acl, 'deny').map((e) => [e.path, e.mask]), [[`${WS}\\.env`, PROTECT_MASK]]);
  });

  it('restricting SIDs are {capability, logon, Everyone}; Administrators deny-only', () => {
    assert.deepEqual(plan.token, {
      flags: C.DISABLE_MAX_PRIVILEGE | C.LUA_TOKEN | C.WRITE_RESTRICTED,
      restrictingSids: [CAP, LOGON_SID, WELL_KNOWN_SIDS.everyone],
      disableSids: [WELL_KNOWN_SIDS.administrators],
      defaultDaclSids: [USER_SID, WELL_KNOWN_SIDS.system, CAP, LOGON_SID],
    });
    assert.equal(plan.appContainer, null);
  });

  it('network none is advisory: a dead proxy in every proxy variable, and it says so', () => {
    assert.equal(plan.network.enforcement, 'advisory');
    assert.equal(plan.network.proxyEnv.HTTPS_PROXY, 'http://127.0.0.1:9');
    assert.deepEqual(Object.keys(plan.network.proxyEnv), ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY'], 'one spelling: names are case-insensitive on Windows');
    assert.ok(plan.unenforced.some((u) => /network none/.test(u)));
  });

  it('network allowlist points proxy variables at cordon\'s proxy', () => {
    const p = planWindows(policy({ network: { mode: 'allowlist' } }), ids, host, { allowUnenforcedReads: true, proxy: { host: '127.0.0.1', port: 47001 } });
    assert.equal(p.network.proxyEnv.HTTP_PROXY, 'http://127.0.0.1:47001');
    assert.equal(p.refusals.length, 0);
  });

  it('refuses (fail closed) without the explicit read opt-in', () => {
    const p = planWindows(policy(), ids, host);
    assert.equal(p.refusals.length, 1);
    assert.match(p.refusals[0]!, /read restrictions need strict mode/);
  });

  it('copies only non-secret essentials from the host env', () => {
    assert.deepEqual(plan.envDefaults, { SystemRoot: 'C:\\Windows', PATHEXT: '.COM;.EXE' });
  });

  it('sets mitigations and UI limits, never breakaway', () => {
    assert.equal(plan.mitigations, DEFAULT_MITIGATIONS);
    assert.equal(plan.job.uiRestrictions, JOB_UI_RESTRICTIONS);
    assert.equal(plan.job.uiRestrictions & C.JOB_OBJECT_UILIMIT_HANDLES, 0, 'HANDLES breaks PowerShell');
    assert.equal(plan.job.limitFlags & (C.JOB_OBJECT_LIMIT_BREAKAWAY_OK | C.JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK), 0);
  });
});

describe('windows plan: job limits', () => {
  it('always kill-on-close; limits only when the policy sets them', () => {
    const none = planWindows(policy(), ids, host, { allowUnenforcedReads: true }).job;
    assert.equal(none.limitFlags, C.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | C.JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION);
    const all = planWindows(policy({ limits: { pids: 128, memoryBytes: 1 << 30, cpuSeconds: 2.5 } }), ids, host, { allowUnenforcedReads: true }).job;
    assert.equal(all.limitFlags, none.limitFlags | C.JOB_OBJECT_LIMIT_ACTIVE_PROCESS | C.JOB_OBJECT_LIMIT_JOB_MEMORY | C.JOB_OBJECT_LIMIT_JOB_TIME);
    assert.equal(all.activeProcessLimit, 128);
    assert.equal(all.jobMemoryLimit, 1 << 30);
    assert.equal(all.perJobUserTimeLimit, 25_000_000n);
  });
});

describe('windows plan: strict mode (AppContainer)', () => {
  const plan = planWindows(policy(), ids, host, { mode: 'strict' });

  it('grants the AppContainer SID read on non-system read roots only', () => {
    assert.deepEqual(find(plan.acl, 'read').map((e) => [e.path, e.sid, e.mask]), [[HOME, AC, READ_MASK]]);
    assert.ok(plan.warnings.some((w) => w.includes('C:\\Program Files\\nodejs')));
  });

  it('masks denied paths inside reachable trees with a full deny', () => {
    assert.deepEqual(find(plan.acl, 'deny').map((e) => [e.path, e.mask]), [[`${HOME}\\.ssh`, C.FILE_ALL_ACCESS], [`${WS}\\.env`, C.FILE_ALL_ACCESS]]);
  });

  it('has no token, no capabilities, kernel-enforced no network, and no refusal', () => {
    assert.equal(plan.token, null);
    assert.deepEqual(plan.appContainer, { name: 'cordon.abc', sid: AC, capabilities: [] });
    assert.equal(plan.network.enforcement, 'kernel');
    assert.deepEqual(plan.network.proxyEnv, {});
    assert.deepEqual(plan.refusals, []);
  });

  it('network host grants internetClient + privateNetworkClientServer', () => {
    const p = planWindows(policy({ network: { mode: 'host' } }), ids, host, { mode: 'strict' });
    assert.deepEqual(p.appContainer?.capabilities, ['S-1-15-3-1', 'S-1-15-3-3']);
  });

  it('network allowlist needs the WFP setup for this AppContainer and a proxy', () => {
    const p = planWindows(policy({ network: { mode: 'allowlist' } }), ids, host, { mode: 'strict' });
    assert.equal(p.refusals.length, 2);
    const ok = planWindows(policy({ network: { mode: 'allowlist' } }), ids, { ...host, wfpSids: [AC] }, { mode: 'strict', proxy: { host: '127.0.0.1', port: 47001 } });
    assert.deepEqual(ok.refusals, []);
    assert.equal(ok.network.enforcement, 'wfp');
    assert.deepEqual(ok.appContainer?.capabilities, [], 'loopback to the proxy needs no capability');
  });

  it('refuses when the AppContainer APIs are missing', () => {
    const p = planWindows(policy(), { capabilitySid: CAP, appContainerName: 'x' }, host, { mode: 'strict' });
    assert.match(p.refusals.join(), /AppContainer/);
  });
});

describe('windows plan: paths', () => {
  it('compares case-insensitively and by whole components', () => {
    assert.ok(isWithin('C:\\Users\\Dev\\Proj\\.GIT', 'c:\\users\\dev\\proj'));
    assert.ok(!isWithin('C:\\Users\\dev\\project', 'C:\\Users\\dev\\proj'));
    assert.ok(isWithin('C:\\x', 'C:\\'));
  });

  it('protects case variants of the same path once (Codex `.GiT`)', () => {
    const p = planWindows(policy({ fs: { protected: [`${WS}\\.git\\hooks`, `${WS}\\.GIT\\HOOKS`] } }), ids, host, { allowUnenforcedReads: true });
    assert.equal(find(p.acl, 'protected').length, 1);
  });

  it('protected paths outside writable trees need no ACE', () => {
    const p = planWindows(policy({ fs: { protected: ['D:\\other\\.git\\hooks'] } }), ids, host, { allowUnenforcedReads: true });
    assert.equal(find(p.acl, 'protected').length, 0);
  });
});

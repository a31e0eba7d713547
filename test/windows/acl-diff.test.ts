// cordon tests – the once-per-workspace ACL journal: what changes on disk when the plan changes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { diffAcl } from '../../dist/windows/acl.js';
import type { AclEntry } from '../../dist/windows/plan.js';
import { listWorkspaces, loadOrCreateWorkspace, readWorkspace, saveWorkspace } from '../../dist/windows/state.js';

const g = (p: string, mask = 1, reason: AclEntry['reason'] = 'write'): AclEntry => ({ path: p, sid: 'S-1-5-21-1-2-3-4', mode: 'grant', mask, inherit: true, reason });
const d = (p: string): AclEntry => ({ path: p, sid: 'S-1-5-21-1-2-3-4', mode: 'deny', mask: 2, inherit: true, reason: 'protected' });

describe('windows ACL diff', () => {
  it('an unchanged plan changes nothing (applied once per workspace)', () => {
    const plan = [g('C:\\w'), d('C:\\w\\.git\\hooks')];
    assert.deepEqual(diffAcl(plan, plan), { revoke: [], apply: [], unchanged: 2 });
  });

  it('first run applies everything, grants before denies per path', () => {
    const diff = diffAcl([], [d('C:\\w'), g('C:\\w')]);
    assert.deepEqual(diff.apply, [[g('C:\\w'), d('C:\\w')]]);
  });

  it('a changed path is revoked and re-applied; a dropped path is revoked; paths compare ignoring case', () => {
    const diff = diffAcl([g('C:\\w'), g('C:\\old'), g('C:\\Same')], [g('C:\\w', 3), g('c:\\same')]);
    assert.deepEqual(diff.revoke.map((r) => r.path), ['C:\\w', 'C:\\old']);
    assert.deepEqual(diff.apply, [[g('C:\\w', 3)]]);
    assert.equal(diff.unchanged, 1);
  });
});

describe('windows state records', () => {
  it('creates a workspace identity once and keeps it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cordon-state-'));
    try {
      const a = loadOrCreateWorkspace(dir, 'C:\\w');
      assert.match(a.capabilitySid, /^S-1-5-21-/);
      const b = loadOrCreateWorkspace(dir, 'C:\\w');
      assert.equal(b.capabilitySid, a.capabilitySid);
      b.grants.push(g('C:\\w'));
      saveWorkspace(dir, b);
      assert.deepEqual(readWorkspace(dir, 'C:\\w')?.grants, [g('C:\\w')]);
      assert.equal(listWorkspaces(dir).length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

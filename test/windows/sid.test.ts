// cordon tests – SID string ⇄ binary, capability SIDs, per-workspace names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { appContainerName, isSidString, randomCapabilitySid, sidFromBytes, sidToBytes, workspaceId } from '../../dist/windows/sid.js';

describe('windows SIDs', () => {
  it('encodes Everyone and a domain-style SID exactly as the kernel stores them', () => {
    assert.equal(sidToBytes('S-1-1-0').toString('hex'), '010100000000000100000000');
    assert.equal(sidToBytes('S-1-5-32-544').toString('hex'), '01020000000000052000000020020000');
    assert.equal(sidToBytes('S-1-15-3-1').length, 16, 'two sub-authorities');
  });

  it('round-trips', () => {
    for (const s of ['S-1-5-18', 'S-1-5-21-4294967295-1-2-3', 'S-1-15-2-1', 'S-1-5-5-0-123456']) {
      assert.equal(sidFromBytes(sidToBytes(s)), s);
    }
  });

  it('rejects malformed SIDs', () => {
    for (const s of ['S-1', 'S-2-5-18', 'S-1-5-4294967296', 'X-1-5-18', 'S-1-5-']) assert.equal(isSidString(s), false, s);
    assert.throws(() => sidToBytes('S-1-5-'));
  });

  it('capability SIDs are random S-1-5-21-a-b-c-d', () => {
    const a = randomCapabilitySid();
    assert.match(a, /^S-1-5-21-\d+-\d+-\d+-\d+$/);
    assert.notEqual(a, randomCapabilitySid());
    assert.equal(randomCapabilitySid(() => Buffer.alloc(16, 1)), 'S-1-5-21-16843009-16843009-16843009-16843009');
  });

  it('workspace ids and AppContainer names are stable, case-insensitive and short', () => {
    assert.equal(workspaceId('C:\\Proj'), workspaceId('c:\\proj'));
    const n = appContainerName('C:\\Users\\dev\\a very long workspace path\\'.repeat(5));
    assert.ok(n.length <= 64 && !/[\\/]/.test(n), n);
  });
});

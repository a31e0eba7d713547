// cordon tests – importing the Windows backend on any OS loads neither koffi nor a Windows DLL.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

describe('windows backend import', () => {
  it('every src/windows module imports without loading koffi', () => {
    const mods = ['backend', 'plan', 'acl', 'appcontainer', 'command', 'desktop', 'doctor', 'job', 'pipes', 'process', 'setup', 'token', 'wfp', 'win32'];
    const script = `
      import { createRequire } from 'node:module';
      for (const m of ${JSON.stringify(mods)}) await import('./dist/windows/' + m + '.js');
      const { createWindowsBackend } = await import('./dist/windows/backend.js');
      const b = createWindowsBackend({ mode: 'strict' });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('koffi'));
      console.log(JSON.stringify({ name: b.name, loaded }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { name: 'windows-strict', loaded: [] });
  });

  it('off Windows, prepare fails closed with LAYER_UNAVAILABLE', async (t) => {
    if (process.platform === 'win32') {
      t.skip('on Windows the bindings load; covered by windows-real.test');
      return;
    }
    const { createWindowsBackend } = await import('../../dist/windows/backend.js');
    const { policy } = await import('./policy-fixture.js');
    await assert.rejects(createWindowsBackend().prepare(policy()), (e: { code?: string }) => e.code === 'LAYER_UNAVAILABLE');
  });
});

// cordon tests – the caller's environment is read again whenever it changes: the cached allowlist (native/addon/environ.cc) never hands a command a stale or deleted variable.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Sandbox } from '../../dist/index.js';
import { optionalAddon } from '../../dist/net/addon.js';
import { environGeneration } from '../../dist/sandbox/environ-generation.js';
import { makeDir, sandboxUnavailable } from './helpers.js';

const d = makeDir();
let unavailable: string | undefined;
before(async () => {
  unavailable = await sandboxUnavailable();
});
after(() => {
  for (const name of Object.keys(process.env)) if (name.startsWith('CORDON_ENVT_')) delete process.env[name];
  d.cleanup();
});

test('environGeneration() moves with every change of the environment and stays put otherwise', (t) => {
  if (typeof optionalAddon()?.environGeneration !== 'function') return t.skip('the native addon is not built: env.ts reads process.env afresh for every command');
  const g0 = environGeneration();
  assert.equal(typeof g0, 'number');
  assert.equal(environGeneration(), g0, 'no change, same generation');
  process.env.CORDON_ENVT_GEN = 'a';
  const g1 = environGeneration();
  assert.notEqual(g1, g0, 'a new variable');
  process.env.CORDON_ENVT_GEN = 'b';
  const g2 = environGeneration();
  assert.notEqual(g2, g1, 'a new value');
  delete process.env.CORDON_ENVT_GEN;
  const g3 = environGeneration();
  assert.notEqual(g3, g2, 'a deleted variable');
  assert.equal(environGeneration(), g3);
});

for (const kind of ['exec (sandbox built ahead)', 'session'] as const) {
  test(`${kind}: each command gets the caller's variables as they are when it is asked for`, async (t) => {
    if (unavailable) return t.skip(unavailable);
    const sb = await Sandbox.create({ workspace: d.ws, home: d.home, env: ['CORDON_ENVT_A', 'CORDON_ENVT_P*'] });
    const session = kind === 'session' ? await sb.session() : undefined;
    const runner = session ?? sb;
    const show = async () => {
      const r = await runner.exec(['sh', '-c', 'printf "%s|%s|%s" "${CORDON_ENVT_A-unset}" "${CORDON_ENVT_P1-unset}" "${CORDON_ENVT_OTHER-unset}"']);
      assert.equal(r.exitCode, 0, String(r.stderr));
      return String(r.stdout);
    };
    try {
      delete process.env.CORDON_ENVT_A;
      delete process.env.CORDON_ENVT_P1;
      process.env.CORDON_ENVT_OTHER = 'not-allowed';
      assert.equal(await show(), 'unset|unset|unset');
      process.env.CORDON_ENVT_A = 'one';
      assert.equal(await show(), 'one|unset|unset', 'a variable set after the first command');
      assert.equal(await show(), 'one|unset|unset', 'unchanged (served from the cache)');
      process.env.CORDON_ENVT_A = 'two';
      process.env.CORDON_ENVT_P1 = 'prefixed';
      assert.equal(await show(), 'two|prefixed|unset', 'a new value, and a new name matching a pattern');
      delete process.env.CORDON_ENVT_A;
      assert.equal(await show(), 'unset|prefixed|unset', 'a deleted variable never reaches a later command');
    } finally {
      await session?.close();
      await sb.close();
    }
  });
}

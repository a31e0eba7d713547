// cordon tests – the shipped profile library: each loads, compiles, and shows its key property in a real sandbox.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';

import { Sandbox } from '../../dist/index.js';
import { compilePolicy } from '../../dist/policy/compile.js';
import { explainHost } from '../../dist/profile/explain.js';
import { loadProfile } from '../../dist/profile/load.js';
import { makeDir, sandboxUnavailable } from './helpers.js';

const d = makeDir();
let unavailable: string | undefined;
before(async () => {
  unavailable = await sandboxUnavailable();
  writeFileSync(path.join(d.ws, 'src.txt'), 'source\n');
  writeFileSync(path.join(d.home, 'notes.txt'), 'home notes\n');
  mkdirSync(path.join(d.home, '.aws'), { recursive: true });
  writeFileSync(path.join(d.home, '.aws', 'credentials'), 'aws_secret_access_key=SECRET\n');
  mkdirSync(path.join(d.ws, '.git', 'hooks'), { recursive: true });
  writeFileSync(path.join(d.ws, '.git', 'config'), '[core]\n');
});
after(() => d.cleanup());

function skip(t: TestContext): boolean {
  if (!unavailable) return false;
  t.skip(unavailable);
  return true;
}

async function run(profile: string, script: string) {
  const sb = await Sandbox.create({ profile, workspace: d.ws, home: d.home, prespawn: false, callerEnv: { ...process.env, HOME: d.home } });
  try {
    const r = await sb.exec(['sh', '-c', script]);
    return { ...r, out: r.stdout.toString(), err: r.stderr.toString() };
  } finally {
    sb.close();
  }
}

test('every shipped profile loads and compiles', () => {
  for (const name of ['workspace', 'read-only', 'ci', 'offline-build', 'strict']) {
    const profile = loadProfile(name);
    assert.ok((profile.doc.description ?? '').length > 0, name);
    const policy = compilePolicy(profile, { workspace: d.ws, home: d.home });
    assert.ok(policy.fs.deny.includes(path.join(d.home, '.aws')), `${name}: home credentials stay masked`);
  }
});

test('workspace: the workspace is writable, home readable, credentials and .git/config not', async (t) => {
  if (skip(t)) return;
  const r = await run('workspace', 'echo new > made.txt && cat made.txt; cat ~/notes.txt; cat ~/.aws/credentials 2>/dev/null || echo aws-hidden; echo x >> .git/config 2>/dev/null || echo config-ro');
  assert.equal(r.out, 'new\nhome notes\naws-hidden\nconfig-ro\n', r.err);
});

test('read-only: everything readable stays read-only', async (t) => {
  if (skip(t)) return;
  const r = await run('read-only', 'cat src.txt; echo x > src.txt 2>/dev/null || echo ws-ro; echo x > /tmp/ok && echo tmp-rw');
  assert.equal(r.out, 'source\nws-ro\ntmp-rw\n', r.err);
});

test('strict: the workspace only; the home directory is absent', async (t) => {
  if (skip(t)) return;
  const r = await run('strict', `cat src.txt; echo w > w.txt && echo ws-rw; ls ${d.home} 2>/dev/null || echo home-absent; echo "HOME=$HOME"`);
  assert.equal(r.out, `source\nws-rw\nhome-absent\nHOME=/tmp\n`, r.err);
  // Positive control: the workspace profile does see that home.
  const control = await run('workspace', `ls ${d.home}`);
  assert.match(control.out, /notes\.txt/);
});

test('offline-build: package caches writable, package managers told to stay offline, no network', async (t) => {
  if (skip(t)) return;
  mkdirSync(path.join(d.home, '.cache'), { recursive: true });
  const r = await run('offline-build', 'echo c > ~/.cache/x && echo cache-rw; echo x > ~/y 2>/dev/null || echo home-ro; echo "$npm_config_offline $PIP_NO_INDEX $CARGO_NET_OFFLINE"');
  const lines = r.out.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['cache-rw', 'home-ro', 'true 1 true'], r.err);
});

test('ci: npm, PyPI, crates and GitHub endpoints are allowed, nothing else (checked with explain)', () => {
  // The network allowlist is enforced by the network layer; here the profile's rules are checked
  // as data, which needs no outside network (the test machines have none).
  const policy = compilePolicy(loadProfile('ci'), { workspace: d.ws, home: d.home });
  assert.equal(policy.network.mode, 'allowlist');
  for (const ep of ['registry.npmjs.org', 'pypi.org', 'files.pythonhosted.org', 'crates.io', 'static.crates.io', 'index.crates.io', 'github.com', 'api.github.com', 'objects.githubusercontent.com']) {
    const v = explainHost(policy, ep, 443);
    assert.equal(v.allowed, true, `${ep}:443 ${v.reason}`);
    assert.match(v.rule?.source ?? '', /ci\.json:\d+:\d+ network\.allow\[\d+\]/);
    assert.equal(explainHost(policy, ep, 80).allowed, false, `${ep}:80 is not allowed`);
  }
  for (const ep of ['example.com', 'evil.github.com.attacker.net', '169.254.169.254', 'registry.npmjs.org.evil.com']) {
    assert.equal(explainHost(policy, ep, 443).allowed, false, ep);
  }
  assert.ok(policy.network.rules.every((r) => !r.allowPrivate), 'no private reach');
});

// cordon tests – what a compile reuses from the last one (entries, real paths, deny lists) never makes it differ from a compile from scratch: churned trees, symlinks, variables, errors.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { compilePolicy, type CompileOptions } from '../../dist/policy/compile.js';
import { clearDirCache } from '../../dist/policy/dircache.js';
import { setDirWatch } from '../../dist/policy/dirwatch.js';
import { loadProfile, overlayProfile, type Profile, type ProfileBody } from '../../dist/profile/load.js';
import { makeDir } from './helpers.js';

const d = makeDir();
after(() => {
  setDirWatch(true);
  clearDirCache();
  d.cleanup();
});

/** The same profile with a document that is not frozen: nothing is kept for it, every step is done afresh. */
const fresh = (profile: Profile): Profile => ({ ...profile, doc: structuredClone(profile.doc) });

/** The compile as JSON (key order included) or the error it throws. */
function outcome(profile: Profile, options: CompileOptions): string {
  try {
    return JSON.stringify(compilePolicy(profile, options));
  } catch (e) {
    const err = e as Error & { code?: string; detail?: unknown };
    return JSON.stringify({ code: err.code, message: err.message, detail: err.detail });
  }
}

test('random churn: a loaded profile compiled again and again equals a compile from scratch (watched and by stat)', () => {
  for (const watched of [true, false]) {
    setDirWatch(watched);
    clearDirCache();
    const ws = path.join(d.root, `churn-${watched}`);
    const dirs = ['a', 'b', 'c', 'a/x', 'b/y'];
    for (const dir of dirs) mkdirSync(path.join(ws, dir), { recursive: true });
    const names = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9'];
    // Literal denies (many in one directory, a few alone), protected paths, and a glob.
    const deny = [...dirs.flatMap((dir) => names.map((n) => `\${workspace}/${dir}/${n}`)), '${workspace}/l/s0', '${workspace}/l/x/s1', '${workspace}/**/*.pem'];
    const file = d.write(`churn-${watched}.json`, {
      version: 1,
      extends: 'workspace',
      filesystem: { deny, protected: ['${workspace}/p/hook', '${workspace}/a/x/hook'], read: ['/usr', '${workspace}/r'] },
    });
    const options = { workspace: ws, home: d.home, env: {} };
    let seed = watched ? 5 : 9;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const somewhere = () => path.join(ws, ['a', 'b', 'c', 'a/x', 'b/y', 'l', 'l/x', 'p', 'r'][rnd(9)]!);
    const ops: Array<() => void> = [
      () => writeFileSync(path.join(somewhere(), names[rnd(10)]!), 'x'),
      () => rmSync(path.join(somewhere(), names[rnd(10)]!), { force: true, recursive: true }),
      () => writeFileSync(path.join(somewhere(), `k${rnd(3)}.pem`), 'x'),
      // A directory (or file) replaced by a symlink to another one, and back.
      () => {
        const p = somewhere();
        rmSync(p, { recursive: true, force: true });
        mkdirSync(path.dirname(p), { recursive: true });
        symlinkSync(somewhere(), p);
      },
      () => {
        const p = somewhere();
        rmSync(p, { recursive: true, force: true });
        mkdirSync(p, { recursive: true });
      },
      // Renamed away and replaced: the same path, another directory.
      () => {
        const p = somewhere();
        try {
          renameSync(p, `${p}-old${rnd(100)}`);
        } catch {
          // already gone
        }
        mkdirSync(p, { recursive: true });
        writeFileSync(path.join(p, names[rnd(10)]!), 'x');
      },
      () => {
        const p = path.join(ws, 'p', 'hook');
        mkdirSync(path.dirname(p), { recursive: true });
        rmSync(p, { force: true, recursive: true });
        if (rnd(2)) symlinkSync('/etc/hostname', p);
      },
    ];
    for (let step = 0; step < 150; step++) {
      try {
        ops[rnd(ops.length)]!();
      } catch {
        // not applicable to the tree as it is now (a file where a directory would be): skip it
      }
      const profile = loadProfile(file);
      const reused = outcome(profile, options);
      assert.equal(reused, outcome(fresh(profile), options), `step ${step} (${watched ? 'watched' : 'by stat'})`);
      // And again, now with everything kept from the compile before.
      assert.equal(outcome(loadProfile(file), options), reused, `step ${step} again`);
    }
  }
  setDirWatch(true);
  clearDirCache();
});

test('variables, workspaces and homes: entries are kept per value, and an invalid profile throws every time', () => {
  const ws1 = path.join(d.root, 'v-ws1');
  const ws2 = path.join(d.root, 'v-ws2');
  for (const w of [ws1, ws2, path.join(d.root, 'out1'), path.join(d.root, 'out2'), path.join(ws1, 'scripts')]) mkdirSync(w, { recursive: true });
  const file = d.write('vars.json', {
    version: 1,
    extends: 'workspace',
    filesystem: { write: ['${env:OUT}'], deny: ['${env:SECRETS}/key', '${workspace}/scripts/key'], protected: ['${workspace}/scripts/hook'] },
  });
  const out1 = path.join(d.root, 'out1');
  const out2 = path.join(d.root, 'out2');
  const cases: Array<[string, CompileOptions]> = [
    ['first', { workspace: ws1, home: d.home, env: { OUT: out1, SECRETS: '/s1' } }],
    ['same again', { workspace: ws1, home: d.home, env: { OUT: out1, SECRETS: '/s1' } }],
    ['other OUT', { workspace: ws1, home: d.home, env: { OUT: out2, SECRETS: '/s1' } }],
    ['other SECRETS', { workspace: ws1, home: d.home, env: { OUT: out2, SECRETS: '/s2' } }],
    ['SECRETS unset', { workspace: ws1, home: d.home, env: { OUT: out2 } }],
    ['OUT unset', { workspace: ws1, home: d.home, env: { SECRETS: '/s2' } }],
    ['OUT broad', { workspace: ws1, home: d.home, env: { OUT: '/', SECRETS: '/s2' } }],
    ['other workspace', { workspace: ws2, home: d.home, env: { OUT: out1, SECRETS: '/s1' } }],
    ['other home', { workspace: ws1, home: ws2, env: { OUT: out1, SECRETS: '/s1' } }],
    ['back to first', { workspace: ws1, home: d.home, env: { OUT: out1, SECRETS: '/s1' } }],
  ];
  for (const [label, options] of cases) {
    const profile = loadProfile(file);
    assert.equal(outcome(profile, options), outcome(fresh(profile), options), label);
  }
  assert.match(outcome(loadProfile(file), cases[4]![1]), /environment variable SECRETS is not set/);
  // A protected symlink refuses the run on every compile, and compiles again once it is gone.
  const hook = path.join(ws1, 'scripts', 'hook');
  symlinkSync('/etc/hostname', hook);
  const options = { workspace: ws1, home: d.home, env: { OUT: out2, SECRETS: '/s3' } };
  for (let i = 0; i < 3; i++) assert.match(outcome(loadProfile(file), options), /protected path is a symlink/);
  unlinkSync(hook);
  // The entries of the refused compiles stopped before the deny list: it is expanded with the
  // variables of the compile that gets there.
  const later = { ...options, env: { OUT: out2, SECRETS: '/s9' } };
  const profile = loadProfile(file);
  assert.equal(outcome(profile, later), outcome(fresh(profile), later));
  assert.match(outcome(profile, later), /"\/s9\/key"/);
  assert.equal(outcome(profile, options), outcome(fresh(profile), options));
  assert.doesNotMatch(outcome(profile, options), /symlink/);
});

test('API options over a loaded profile: kept per options, never freezing the caller\'s objects, equal to a compile from scratch', () => {
  const ws = path.join(d.root, 'o-ws');
  mkdirSync(path.join(ws, 'out'), { recursive: true });
  const options = { workspace: ws, home: d.home, env: {} };
  const make = (extra: string): ProfileBody => ({
    version: 1,
    filesystem: { write: ['${workspace}/out'], deny: ['${workspace}/.env', extra] },
    network: { mode: 'allowlist', allow: ['example.com:443'], hosts: { 'example.com': ['192.0.2.1'] } },
    env: { set: { A: 'b' } },
  });
  const file = d.write('overlaid.json', { version: 1, extends: 'workspace' });
  for (const extra of ['${workspace}/a', '${workspace}/a', '${workspace}/b', '${workspace}/a']) {
    const overlay = make(extra);
    const profile = overlayProfile(loadProfile(file), overlay, 'API/CLI option');
    const scratch = overlayProfile(fresh(loadProfile(file)), make(extra), 'API/CLI option');
    assert.equal(outcome(profile, options), outcome(scratch, options), extra);
    assert.ok(outcome(profile, options).includes(`${ws}/${extra.slice(-1)}`));
    assert.ok(!Object.isFrozen(overlay.filesystem!.deny) && !Object.isFrozen(overlay.network!.hosts!['example.com']), 'the options stay the caller\'s');
  }
});

// cordon tests – deny globs kept current by inotify-watched listings: renamed ancestors, mounts, random churn against a naive walk, and a real sandbox.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Sandbox } from '../../dist/index.js';
import { compilePolicy, refreshGlobDenies } from '../../dist/policy/compile.js';
import { clearDirCache, inodeSnapshot, inodesUnchanged } from '../../dist/policy/dircache.js';
import { isWatched, setDirWatch, watcherAvailable } from '../../dist/policy/dirwatch.js';
import { existingPaths } from '../../dist/policy/existence.js';
import { GlobIndex } from '../../dist/policy/globscan.js';
import { loadProfile } from '../../dist/profile/load.js';
import type { Policy } from '../../dist/policy/policy.js';
import { makeDir, sandboxUnavailable } from './helpers.js';

const d = makeDir();
let unavailable: string | undefined;
before(async () => {
  unavailable = await sandboxUnavailable();
  setDirWatch(true);
  clearDirCache();
});
after(() => d.cleanup());

/** The ground truth: every *.pem under root, by a plain recursive readdir (no cache, no watch). */
function naivePems(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.name.endsWith('.pem')) out.push(p);
      else if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

/** The workspace profile plus a deny glob for *.pem files. */
const pemProfile = () => d.write('pem.json', { version: 1, extends: 'workspace', filesystem: { deny: ['${workspace}/**/*.pem'] } });

function pemPolicy(ws: string): Policy {
  return compilePolicy(loadProfile(pemProfile()), { workspace: ws, home: d.home });
}

const pemsIn = (policy: Policy, ws: string) => policy.fs.deny.filter((p) => p.startsWith(ws + '/') && p.endsWith('.pem')).sort();

test('a renamed ancestor: the path now leads to a new directory, whose secret is found', (t) => {
  if (!watcherAvailable()) return t.skip('no inotify watcher here (addon not built): listings are checked by stat');
  const tree = path.join(d.root, 'rename');
  mkdirSync(path.join(tree, 'a', 'b', 'c'), { recursive: true });
  const index = new GlobIndex();
  const glob = [`${tree}/**/*.pem`];
  assert.deepEqual(index.match([tree], glob, [], {}), []);
  if (!isWatched(path.join(tree, 'a', 'b'))) return t.skip('this filesystem is not watched (checked by stat instead)');
  // a/b keeps its watch (it moved with a, no event of its own); the new a/b is another directory.
  renameSync(path.join(tree, 'a'), path.join(tree, 'x'));
  mkdirSync(path.join(tree, 'a', 'b', 'c'), { recursive: true });
  writeFileSync(path.join(tree, 'a', 'b', 'c', 'key.pem'), 'SECRET');
  writeFileSync(path.join(tree, 'x', 'b', 'moved.pem'), 'SECRET');
  assert.deepEqual(index.match([tree], glob, [], {}), naivePems(tree));
  assert.deepEqual(naivePems(tree), [path.join(tree, 'a', 'b', 'c', 'key.pem'), path.join(tree, 'x', 'b', 'moved.pem')]);
});

test('random churn: refreshed deny lists always equal a naive walk (watched and by stat)', async () => {
  for (const watched of [true, false]) {
    setDirWatch(watched);
    clearDirCache();
    const ws = path.join(d.root, `churn-${watched}`);
    mkdirSync(ws, { recursive: true });
    let policy = pemPolicy(ws);
    let seed = watched ? 7 : 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const dirs = () => {
      const out = [ws];
      const walk = (dir: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(path.join(dir, e.name)), walk(path.join(dir, e.name));
      };
      walk(ws);
      return out;
    };
    for (let step = 0; step < 300; step++) {
      const all = dirs();
      const dir = all[rnd(all.length)]!;
      const name = `n${rnd(6)}`;
      const target = path.join(dir, name + (rnd(2) ? '.pem' : ''));
      switch (rnd(6)) {
        case 0: // a new directory
          mkdirSync(path.join(dir, name), { recursive: true });
          break;
        case 1: // a new file, secret or not
          try {
            writeFileSync(target, 'x');
          } catch {}
          break;
        case 2: // remove something
          rmSync(target, { recursive: true, force: true });
          break;
        case 3: // rename a directory elsewhere (ancestors move with their watches)
          if (dir !== ws) {
            const to = path.join(all[rnd(all.length)]!, `r${step}`);
            if (!to.startsWith(dir + '/')) renameSync(dir, to);
          }
          break;
        case 4: // replace a directory by a fresh one of the same name
          if (dir !== ws) {
            rmSync(dir, { recursive: true, force: true });
            mkdirSync(dir);
            writeFileSync(path.join(dir, 'fresh.pem'), 'x');
          }
          break;
        default: // nothing changed: the quiet path
          break;
      }
      policy = refreshGlobDenies(policy);
      assert.deepEqual(pemsIn(policy, ws), naivePems(ws), `step ${step} (${watched ? 'watched' : 'stat'})`);
    }
  }
  setDirWatch(true);
  clearDirCache();
});

test('a mount over a watched directory (no inotify event) is seen through the mount table', (t) => {
  if (!watcherAvailable()) return t.skip('no inotify watcher here (addon not built)');
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const ws = path.join(d.root, 'mountws');
  mkdirSync(path.join(ws, 'm'), { recursive: true });
  let policy = pemPolicy(ws);
  policy = refreshGlobDenies(policy);
  assert.deepEqual(pemsIn(policy, ws), []);
  const m = path.join(ws, 'm');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', m]);
  if (mounted.status !== 0) return t.skip(`mount failed here: ${mounted.stderr}`);
  try {
    writeFileSync(path.join(m, 'k.pem'), 'SECRET');
    assert.equal(readFileSync(path.join(m, 'k.pem'), 'utf8'), 'SECRET', 'control: the file is there on the host');
    policy = refreshGlobDenies(policy);
    assert.deepEqual(pemsIn(policy, ws), [path.join(m, 'k.pem')]);
  } finally {
    spawnSync('umount', [m]);
  }
  policy = refreshGlobDenies(policy);
  assert.deepEqual(pemsIn(policy, ws), []);
});

test('real sandbox: a secret that appears under a renamed-and-recreated path is masked for the next command', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const ws = path.join(d.root, 'sbws');
  mkdirSync(path.join(ws, 'a', 'b'), { recursive: true });
  const sb = await Sandbox.create({ workspace: ws, home: d.home, profile: pemProfile(), prespawn: true });
  try {
    assert.equal((await sb.exec(['ls', 'a/b'])).exitCode, 0);
    renameSync(path.join(ws, 'a'), path.join(ws, 'old'));
    mkdirSync(path.join(ws, 'a', 'b'), { recursive: true });
    writeFileSync(path.join(ws, 'a', 'b', 'key.pem'), 'TOPSECRET');
    writeFileSync(path.join(ws, 'a', 'b', 'plain.txt'), 'visible');
    assert.equal(readFileSync(path.join(ws, 'a', 'b', 'key.pem'), 'utf8'), 'TOPSECRET', 'positive control: readable on the host');
    const r = await sb.exec(['sh', '-c', 'cat a/b/plain.txt; cat a/b/key.pem; echo rc=$?']);
    assert.ok(r.stdout.toString().startsWith('visible'), r.stdout.toString());
    assert.ok(!r.stdout.toString().includes('TOPSECRET'), r.stdout.toString());
    assert.match(r.stdout.toString(), /rc=1/);
    // A command renames a listed tree and recreates its path with a secret in it (a/b above is
    // pinned by its mask and cannot move; e/f, listed by the previous refresh, can): the next
    // command still cannot read the new secret.
    assert.equal((await sb.exec(['mkdir', '-p', 'e/f'])).exitCode, 0);
    assert.equal((await sb.exec(['sh', '-c', 'mv e g && mkdir -p e/f && echo INNER > e/f/inner.pem'])).exitCode, 0);
    assert.equal(readFileSync(path.join(ws, 'e', 'f', 'inner.pem'), 'utf8'), 'INNER\n', 'control: the command did write it');
    const r2 = await sb.exec(['sh', '-c', 'cat e/f/inner.pem; echo rc=$?']);
    assert.ok(!r2.stdout.toString().includes('INNER'), r2.stdout.toString());
    assert.match(r2.stdout.toString(), /rc=1/);
  } finally {
    sb.close();
  }
});

test('existence of many paths from watched listings always equals lstat, through churn and renamed ancestors', () => {
  const base = path.join(d.root, 'exist');
  const root = path.join(base, 'top');
  mkdirSync(root, { recursive: true });
  const names = ['a', 'b', 'c'];
  // Paths three levels deep: most of their directories are absent at first, as for denied paths.
  const paths: string[] = [];
  for (const x of names) for (const y of names) for (const z of ['k', 'l.pem']) paths.push(path.join(root, x, y, z));
  paths.push(path.join(root, 'a'), path.join(root, 'link', 'k'));
  let seed = 5;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pick = () => path.join(root, ...Array.from({ length: 1 + rnd(3) }, () => names[rnd(3)]!));
  for (let step = 0; step < 400; step++) {
    const p = pick();
    try {
      switch (rnd(8)) {
        case 0:
          mkdirSync(p, { recursive: true });
          break;
        case 1:
          writeFileSync(path.join(p, rnd(2) ? 'k' : 'l.pem'), 'x');
          break;
        case 2:
          rmSync(p, { recursive: true, force: true });
          break;
        case 3:
          renameSync(p, path.join(root, names[rnd(3)]!, `r${step}`));
          break;
        case 4:
          rmSync(path.join(root, 'link'), { force: true });
          symlinkSync(p, path.join(root, 'link'));
          break;
        case 5: // the tree's parent moves away and a new tree takes its path: no event names `top`
          renameSync(base, `${base}-old${step}`);
          for (const x of names) {
            mkdirSync(path.join(root, x, 'a'), { recursive: true });
            writeFileSync(path.join(root, x, 'a', rnd(2) ? 'k' : 'l.pem'), 'x');
          }
          break;
        default:
          break;
      }
    } catch {
      // the random target did not exist, or the move was into itself: nothing changed
    }
    const truth = paths.map((q) => lstatSync(q, { throwIfNoEntry: false }) !== undefined);
    assert.deepEqual(existingPaths(paths), truth, `step ${step}`);
  }
  // The same directly: a quiet answer on record, then the tree's parent replaced (no event at all).
  const truth = () => paths.map((q) => lstatSync(q, { throwIfNoEntry: false }) !== undefined);
  rmSync(base, { recursive: true, force: true });
  mkdirSync(path.join(root, 'a', 'a'), { recursive: true });
  assert.deepEqual(existingPaths(paths), truth());
  assert.deepEqual(existingPaths(paths), truth());
  renameSync(base, `${base}-last`);
  mkdirSync(path.join(root, 'b', 'a'), { recursive: true });
  writeFileSync(path.join(root, 'b', 'a', 'k'), 'x');
  assert.ok(truth().some(Boolean), 'control: the new tree holds a listed path');
  assert.deepEqual(existingPaths(paths), truth());
});

test('inode snapshots (checked before each command): the native check and the stat fallback agree, and see a replaced directory', () => {
  const root = path.join(d.root, 'inode-snapshot');
  for (const n of ['a', 'b', 'c']) mkdirSync(path.join(root, n), { recursive: true });
  const paths = ['a', 'b', 'c', 'missing'].map((n) => path.join(root, n));
  const snap = inodeSnapshot(paths);
  assert.equal(snap.inodes[3], 0n, 'a path that does not resolve is 0');
  assert.equal(inodesUnchanged(snap), true);
  setDirWatch(false); // no addon: the stat fallback
  try {
    assert.equal(inodesUnchanged(snap), true);
  } finally {
    setDirWatch(true);
    clearDirCache();
  }
  // Replaced under the same name (what the check exists for): both say so.
  renameSync(path.join(root, 'b'), path.join(root, 'b-old'));
  mkdirSync(path.join(root, 'b'));
  assert.equal(inodesUnchanged(snap), false);
  setDirWatch(false);
  try {
    assert.equal(inodesUnchanged(snap), false);
  } finally {
    setDirWatch(true);
    clearDirCache();
  }
  // A path that appears is a change too.
  mkdirSync(path.join(root, 'missing'));
  assert.equal(inodesUnchanged(inodeSnapshot(paths.slice(0, 3).concat(path.join(root, 'nothing')))), true);
  assert.equal(inodesUnchanged({ paths, inodes: BigUint64Array.from([...snap.inodes.slice(0, 3), 0n]) }), false);
});

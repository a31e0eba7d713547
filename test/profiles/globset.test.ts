// cordon tests – the many-glob matcher against minimatch, one glob at a time (fixed seed): the same hits, attributed to the same glob, found by the same walk.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import fc from 'fast-check';
import { Minimatch } from 'minimatch';

import { GlobIndex } from '../../dist/policy/globscan.js';
import { GlobSet } from '../../dist/policy/globset.js';
import { makeDir } from './helpers.js';

const d = makeDir();
after(() => d.cleanup());

const NAMES = ['a', 'b', 'ab', '.env', '.env.local', 'x.pem', 'id_rsa', '.a', 'c'];
const SEGMENTS = [...NAMES, '*', '**', '*.pem', '?', '{a,b}', '[ab]', '.*', 'a*', '.env.*', '*b', '{x.pem,id_*}', '!(a)', '+(a|b)', '@(c|ab)', '[!a]'];
const segsArb = (min: number, max: number, from: string[]) => fc.array(fc.constantFrom(...from), { minLength: min, maxLength: max });
// Mostly absolute globs; now and then a relative one (walked by minimatch alone, as before).
const globArb = fc.oneof(
  { arbitrary: segsArb(1, 4, SEGMENTS).map((s) => `/r/${s.join('/')}`), weight: 9 },
  { arbitrary: segsArb(1, 3, SEGMENTS).map((s) => s.join('/')), weight: 1 },
);

/** A directory tree as nested maps: a name maps to its subtree, or to null for a file. */
type Tree = Map<string, Tree | null>;
const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc
    .uniqueArray(fc.tuple(fc.constantFrom(...NAMES), fc.oneof({ arbitrary: fc.constant(null), weight: 2 }, { arbitrary: tie('tree'), weight: 1 })), { maxLength: 4, selector: ([n]) => n })
    .map((entries) => new Map(entries)),
})).tree;

/** The walk as it was, one minimatch per glob per entry: hits with their first glob, in path order. */
function reference(tree: Tree, globs: string[], prune: Set<string>): Array<[string, number]> {
  const ms = globs.map((g) => new Minimatch(g, { dot: true }));
  const out: Array<[string, number]> = [];
  const walk = (dir: string, t: Tree) => {
    for (const [name, sub] of t) {
      const p = `${dir}/${name}`;
      const gi = ms.findIndex((m) => m.match(p));
      if (gi >= 0) out.push([p, gi]);
      else if (sub && !prune.has(name) && ms.some((m) => m.match(p, true))) walk(p, sub);
    }
  };
  walk('/r', tree);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** The same walk with the GlobSet: one step per entry. */
function withSet(tree: Tree, globs: string[], prune: Set<string>): Array<[string, number]> {
  const set = new GlobSet(globs);
  const out: Array<[string, number]> = [];
  const walk = (dir: string, t: Tree, state = set.stateAt(dir)) => {
    for (const [name, sub] of t) {
      const p = `${dir}/${name}`;
      const next = set.step(state, name);
      const gi = set.firstMatch(next, p);
      if (gi >= 0) out.push([p, gi]);
      else if (sub && !prune.has(name) && set.descends(next, p)) walk(p, sub, next);
    }
  };
  walk('/r', tree);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

test('every path minimatch matches is a candidate of the automaton, with the same first glob', () => {
  fc.assert(
    fc.property(fc.array(globArb, { minLength: 1, maxLength: 6 }), segsArb(1, 5, NAMES), (globs, segs) => {
      const set = new GlobSet(globs);
      const ms = globs.map((g) => new Minimatch(g, { dot: true }));
      let state = set.stateAt('/r');
      let p = '/r';
      for (const seg of segs) {
        p += `/${seg}`;
        state = set.step(state, seg);
        const expected = ms.findIndex((m) => m.match(p));
        if (expected >= 0 && globs[expected]!.startsWith('/')) assert.ok(state.finals.includes(expected), `${p} matches ${globs[expected]} but is no candidate`);
        assert.equal(set.firstMatch(state, p), expected, `${p}: ${JSON.stringify(globs)}`);
        // Where minimatch would look further down, so does the automaton (when it is no hit already).
        if (expected < 0 && ms.some((m) => m.match(p, true))) assert.ok(set.descends(state, p), `${p} is a partial match of ${JSON.stringify(globs)}`);
      }
    }),
    { seed: 20260301, numRuns: 3000 },
  );
});

test('a walk with the automaton finds exactly what one minimatch per glob finds', () => {
  fc.assert(
    fc.property(treeArb, fc.array(globArb, { minLength: 1, maxLength: 8 }), fc.boolean(), (tree, globs, pruneA) => {
      const prune = new Set(pruneA ? ['a'] : []);
      assert.deepEqual(withSet(tree, globs, prune), reference(tree, globs, prune));
    }),
    { seed: 20260302, numRuns: 2000 },
  );
});

test('GlobIndex on a real tree: 1,000 globs, hits attributed to their first glob; a rescan reads nothing again', async () => {
  const root = path.join(d.root, 'many');
  for (const sub of ['a/b', 'a/node_modules/x', 'keys', 'c']) mkdirSync(path.join(root, sub), { recursive: true });
  for (const f of ['a/b/.env', 'a/node_modules/x/.env', 'keys/k.pem', 'c/token-7', 'c/other']) writeFileSync(path.join(root, f), 'x');
  // Many globs that match nothing, a few that do (positive controls), several for the same file.
  const globs = Array.from({ length: 990 }, (_, i) => `${root}/**/nothing-${i}`);
  globs.push(`${root}/**/.env`, `${root}/**/*.pem`, `${root}/c/token-*`, `${root}/keys/*`, `${root}/*/b/.env`);
  await new Promise((resolve) => setTimeout(resolve, 150)); // older than the 100 ms "recent" window
  const index = new GlobIndex();
  const hits = index.matchAttributed([root], globs, ['node_modules']);
  assert.deepEqual(hits, [
    [path.join(root, 'a/b/.env'), 990],
    [path.join(root, 'c/token-7'), 992],
    [path.join(root, 'keys/k.pem'), 991],
  ]);
  assert.ok(index.stats.reread > 0);
  assert.deepEqual(index.matchAttributed([root], globs, ['node_modules']), hits);
  assert.equal(index.stats.reread, 0, 'unchanged: no directory read again');
  // A second index (another Sandbox) shares the listings: a stat per directory, no readdir.
  const other = new GlobIndex();
  assert.deepEqual(other.match([root], globs, ['node_modules']), hits.map(([p]) => p));
  assert.equal(other.stats.reread, 0);
  // Without pruning, the file under node_modules is found as well.
  assert.ok(index.match([root], globs).includes(path.join(root, 'a/node_modules/x/.env')));
});

test('one pass looks at each directory once; the next pass sees what changed since (control: the file exists)', async () => {
  const root = path.join(d.root, 'passes');
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  await new Promise((resolve) => setTimeout(resolve, 150));
  const index = new GlobIndex();
  const glob = [`${root}/**/.env`];
  const pass = {};
  assert.deepEqual(index.match([root], glob, [], pass), []);
  writeFileSync(path.join(root, 'sub', '.env'), 'x');
  assert.deepEqual(index.match([root], glob, [], pass), [], 'the same pass: the snapshot it took');
  assert.deepEqual(index.match([root], glob, [], {}), [path.join(root, 'sub', '.env')], 'a new pass (the next command) finds it');
  assert.deepEqual(index.match([root], glob), [path.join(root, 'sub', '.env')], 'and so does a call without a pass');
});

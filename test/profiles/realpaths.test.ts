// cordon tests – batch real paths (one look per directory) against realpath(3), path by path, on trees full of symlinks (fixed seed).
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import fc from 'fast-check';

import { realPaths } from '../../dist/policy/realpaths.js';
import { makeDir } from './helpers.js';

const d = makeDir();
after(() => d.cleanup());

const NAMES = ['a', 'b', 'c', 'l1', 'l2', 'f'];
type Node = { kind: 'dir' } | { kind: 'file' } | { kind: 'link'; to: string };
const nodeArb: fc.Arbitrary<Node> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'dir' as const }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'file' as const }), weight: 2 },
  // Relative and absolute targets, inside the tree or dangling, loops included.
  { arbitrary: fc.array(fc.constantFrom(...NAMES, '..', 'nope'), { minLength: 1, maxLength: 3 }).chain((segs) => fc.boolean().map((abs) => ({ kind: 'link' as const, to: (abs ? '/ROOT/' : '') + segs.join('/') }))), weight: 2 },
);
const treeArb = fc.array(fc.tuple(fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }), nodeArb), { maxLength: 12 });
const queryArb = fc.array(fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 });

function reference(p: string): string | undefined {
  try {
    return realpathSync.native(p);
  } catch {
    return undefined;
  }
}

let run = 0;
test('realPaths agrees with realpath(3) for every path, symlinks and missing components included', () => {
  fc.assert(
    fc.property(treeArb, queryArb, (nodes, queries) => {
      const root = path.join(d.root, `t${run++}`);
      mkdirSync(root);
      try {
        for (const [segs, node] of nodes) {
          const p = path.join(root, ...segs);
          try {
            mkdirSync(path.dirname(p), { recursive: true });
            if (node.kind === 'dir') mkdirSync(p);
            else if (node.kind === 'file') writeFileSync(p, 'x');
            else symlinkSync(node.to.replace('/ROOT', root), p);
          } catch {
            // an earlier entry made this one impossible (a file where a directory should be): skip it
          }
        }
        // Enough names in one directory to use its listing as well as single lookups.
        const paths = queries.map((q) => path.join(root, ...q));
        for (const n of ['', ...NAMES]) for (const m of [...NAMES, 'x0', 'x1', 'x2']) paths.push(path.join(root, n, m));
        const got = realPaths(paths);
        for (const p of paths) assert.equal(got.get(p), reference(p), p);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }),
    { seed: 20260303, numRuns: 300 },
  );
});

test('a frozen array asked again after the tree changed: every answer is that of realpath(3) now', () => {
  fc.assert(
    fc.property(treeArb, treeArb, queryArb, fc.boolean(), (nodes, later, queries, inPass) => {
      const root = path.join(d.root, `t${run++}`);
      mkdirSync(root);
      const apply = (list: typeof nodes) => {
        for (const [segs, node] of list) {
          const p = path.join(root, ...segs);
          try {
            rmSync(p, { recursive: true, force: true });
            mkdirSync(path.dirname(p), { recursive: true });
            if (node.kind === 'dir') mkdirSync(p);
            else if (node.kind === 'file') writeFileSync(p, 'x');
            else symlinkSync(node.to.replace('/ROOT', root), p);
          } catch {
            // not possible in the tree as it is (a file where a directory should be): skip it
          }
        }
      };
      try {
        apply(nodes);
        const paths = queries.map((q) => path.join(root, ...q));
        for (const n of ['', ...NAMES]) for (const m of [...NAMES, 'x0', 'x1', 'x2']) paths.push(path.join(root, n, m));
        // Frozen: its grouping and each directory's last answer are kept between the calls.
        const frozen = Object.freeze([...new Set(paths)]);
        const check = () => {
          const got = realPaths(frozen, inPass ? {} : undefined);
          for (const p of frozen) assert.equal(got.get(p), reference(p), p);
          return got;
        };
        const first = check();
        assert.equal(check(), first, 'unchanged answers: the same Map');
        apply(later);
        check();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }),
    { seed: 20261121, numRuns: 200 },
  );
});

test('a symlink whose target changes while its own directory does not is followed again on every call', () => {
  const root = path.join(d.root, 'retarget');
  for (const few of [true, false]) {
    const dir = path.join(root, few ? 'few' : 'many');
    mkdirSync(dir, { recursive: true });
    mkdirSync(path.join(root, 't'), { recursive: true });
    mkdirSync(path.join(root, 'u'), { recursive: true });
    writeFileSync(path.join(root, 'u', 'x'), 'x');
    symlinkSync('../t/x', path.join(dir, 'ln'));
    const names = few ? ['ln'] : ['ln', ...Array.from({ length: 9 }, (_, i) => `f${i}`)];
    for (const n of names.slice(1)) writeFileSync(path.join(dir, n), 'x');
    const paths = Object.freeze(names.map((n) => path.join(dir, n)));
    const check = (label: string) => {
      for (const pass of [undefined, {}]) {
        const got = realPaths(paths, pass);
        for (const p of paths) assert.equal(got.get(p), reference(p), `${label}: ${p}`);
      }
    };
    check('dangling');
    check('dangling again');
    writeFileSync(path.join(root, 't', 'x'), 'x');
    check('target created');
    rmSync(path.join(root, 't'), { recursive: true });
    symlinkSync(path.join(root, 'u'), path.join(root, 't'));
    check('target directory now a link');
    unlinkSync(path.join(root, 't'));
    check('target gone');
    rmSync(root, { recursive: true, force: true });
  }
});

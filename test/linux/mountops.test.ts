// cordon tests – the mount plan against its rules written out plainly (every pair of paths compared), on random policies (fixed seed).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { mountOps } from '../../dist/linux/plan.js';
import type { Policy } from '../../dist/policy/policy.js';

/** `p` is `root` or below it. */
const within = (p: string, root: string) => p === root || root === '/' || p.startsWith(`${root}/`);
/** `p` is strictly below `root`. */
const below = (p: string, root: string) => p !== root && within(p, root);
const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';

// Names that exist on the host as directories and links (/usr, /bin …) and names that do not.
const seg = fc.constantFrom('a', 'b', 'c', 'usr', 'bin', 'lib', 'tmp', 'proc', 'dev');
const pathArb = fc.array(seg, { maxLength: 4 }).map((s) => `/${s.join('/')}`);
const listArb = fc.uniqueArray(pathArb, { maxLength: 8 }).map((l) => l.sort());

test('masks: exactly the visible denied paths not inside another denied path; every directory above a mask or a protected path, up to its writable root, pinned', () => {
  fc.assert(
    fc.property(listArb, listArb, listArb, listArb, (read, write, deny, prot) => {
      const policy = { fs: { read, write, deny, protected: prot, denyGlobs: [] }, limits: { tmpBytes: 1 } } as unknown as Policy;
      const ops = mountOps(policy);
      const special = ['/tmp', '/dev', '/proc'];
      const links = ops.filter((o) => o.kind === 'symlink' && read.includes(o.dst)).map((o) => o.dst);
      const reachable = (p: string) => !links.some((l) => below(p, l));
      const masks = ops.filter((o) => o.kind === 'mask').map((o) => o.dst);
      const expected = deny.filter(
        (d) => [...read, ...write, ...special].some((r) => within(d, r)) && !deny.some((o) => below(d, o)) && reachable(d),
      );
      assert.deepEqual([...masks].sort(), [...expected].sort());
      const pins = new Set(ops.filter((o) => o.kind === 'pin').map((o) => o.dst));
      const guarded = [...masks, ...ops.filter((o) => o.kind === 'remount-ro').map((o) => o.dst)];
      for (const m of guarded) {
        for (let dir = parentOf(m); write.some((w) => below(dir, w)); dir = parentOf(dir)) assert.ok(pins.has(dir) || !reachable(dir), `${dir} above ${m} is pinned`);
      }
      // Parents before children: the binds after the fixed base never go back up the tree.
      const binds = ops.slice(ops.findIndex((o) => o.kind === 'proc') + 1);
      const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
      for (let i = 1; i < binds.length; i++) assert.ok(depth(binds[i - 1]!.dst) <= depth(binds[i]!.dst), JSON.stringify(binds));
      // Read roots: bound once, never below a denied path or inside a writable or another read root.
      for (const o of ops.filter((x) => x.kind === 'bind-ro')) {
        assert.ok(!deny.some((d) => within(o.dst, d)) && !write.some((w) => within(o.dst, w)) && !read.some((r) => below(o.dst, r)), o.dst);
      }
    }),
    { seed: 20260304, numRuns: 5000 },
  );
});

test('a thousand masks in one writable directory: a thousand mask ops and one pin', () => {
  const deny = Array.from({ length: 1000 }, (_, i) => `/w/d/secret${i}`);
  const policy = { fs: { read: ['/usr'], write: ['/w'], deny, protected: [], denyGlobs: [] }, limits: { tmpBytes: 1 } } as unknown as Policy;
  const ops = mountOps(policy);
  assert.equal(ops.filter((o) => o.kind === 'mask').length, 1000);
  assert.deepEqual(ops.filter((o) => o.kind === 'pin').map((o) => o.dst), ['/w/d']);
});

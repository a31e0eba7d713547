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

test('a reused mount tree is the tree planned afresh, after random filesystem changes between plans', async () => {
  const { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { planLinux } = await import('../../dist/linux/plan.js');
  const { probeLinux } = await import('../../dist/linux/probe.js');
  const probe = probeLinux();
  const dir = mkdtempSync(path.join(tmpdir(), 'cordon-mountreuse-'));
  try {
    const at = (...p: string[]) => path.join(dir, ...p);
    // Read roots that may be a directory, a symlink (to one of two targets) or missing; a writable
    // tree whose `.git` may be a directory or a worktree's pointer file (the protected paths' parent).
    const readRoots = ['r0', 'r1', 'r2'].map((r) => at(r));
    const deny = Object.freeze([...Array.from({ length: 50 }, (_, i) => at('w', 'd', `s${i}`)), at('r1', 'x'), at('w', '.git', 'config')].sort());
    const policy = Object.freeze({
      name: 't',
      workspace: at('w'),
      home: dir,
      fs: Object.freeze({ read: Object.freeze([...readRoots, '/usr']), write: Object.freeze([at('w')]), protected: Object.freeze([at('w', '.git', 'config'), at('w', '.git', 'hooks'), at('w', 'a', 'b')]), deny, denyGlobs: [] }),
      network: { mode: 'none', rules: [], hosts: {}, unixSockets: [] },
      env: { allow: [], deny: [], set: {} },
      limits: { tmpBytes: 1 << 20 },
      weaker: {},
    }) as unknown as Policy;
    const fresh = () => ({ ...policy, fs: { ...policy.fs, deny: [...policy.fs.deny], protected: [...policy.fs.protected] } }) as unknown as Policy;
    mkdirSync(at('t1'));
    mkdirSync(at('t2'));
    mkdirSync(at('w', 'a'), { recursive: true });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), fc.nat(3)), { minLength: 1, maxLength: 6 }), (changes) => {
        for (const [root, what] of changes) {
          const r = readRoots[root]!;
          rmSync(r, { recursive: true, force: true });
          if (what === 1) mkdirSync(r);
          if (what === 2) symlinkSync(at('t1'), r);
          if (what === 3) symlinkSync(at('t2'), r);
          rmSync(at('w', '.git'), { recursive: true, force: true });
          if ((root + what) % 2) writeFileSync(at('w', '.git'), 'gitdir: /elsewhere\n');
          else mkdirSync(at('w', '.git'));
          rmSync(at('w', 'a'), { recursive: true, force: true });
          if (what % 2) writeFileSync(at('w', 'a'), '');
          else mkdirSync(at('w', 'a'));
        }
        const reused = mountOps(policy);
        assert.deepEqual(reused, mountOps(fresh()));
        assert.deepEqual(mountOps(policy), reused);
        if (probe) assert.ok(planLinux(policy, probe).body.equals(planLinux(fresh(), probe).body));
      }),
      { seed: 20260305, numRuns: 300 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a deny list changed in place (a hand-built policy) is planned again, not taken from the last plan', () => {
  const deny = ['/w/a'];
  const policy = { fs: { read: ['/usr'], write: ['/w'], deny, protected: [], denyGlobs: [] }, limits: { tmpBytes: 1 } } as unknown as Policy;
  assert.deepEqual(mountOps(policy).filter((o) => o.kind === 'mask').map((o) => o.dst), ['/w/a']);
  deny.push('/w/b');
  assert.deepEqual(mountOps(policy).filter((o) => o.kind === 'mask').map((o) => o.dst), ['/w/a', '/w/b']);
});

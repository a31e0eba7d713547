// cordon tests – the indexed policy comparisons against their plain definitions (every rule, every root), on random policies (fixed seed).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import type { NetRule, Policy } from '../../dist/policy/policy.js';
import { accessOf, isUnder } from '../../dist/profile/compare.js';
import { RuleIndex, ruleCovers } from '../../dist/profile/netmatch.js';

const seg = fc.constantFrom('a', 'b', 'ab', '');
const pathArb = fc.array(seg, { maxLength: 4 }).map((s) => `/${s.join('/')}`);
const listArb = fc.uniqueArray(pathArb, { maxLength: 6 });

test('accessOf: one walk up the path gives what every root of every list says', () => {
  fc.assert(
    fc.property(listArb, listArb, listArb, listArb, pathArb, (read, write, deny, prot, p) => {
      const policy = Object.freeze({ fs: Object.freeze({ read, write, deny, protected: prot, denyGlobs: [] }) }) as unknown as Policy;
      const plain = deny.some((d) => isUnder(p, d)) ? 'none' : write.some((w) => isUnder(p, w)) ? (prot.some((x) => isUnder(p, x)) ? 'read' : 'write') : read.some((r) => isUnder(p, r)) ? 'read' : 'none';
      assert.equal(accessOf(policy, p), plain, JSON.stringify({ read, write, deny, prot, p }));
    }),
    { seed: 20260305, numRuns: 5000 },
  );
});

const host = fc.constantFrom('*', 'example.com', 'a.example.com', 'b.a.example.com', '*.example.com', '*.a.example.com', '*.com', 'other.org', '10.0.0.1', '10.0.0.0/8', '10.1.0.0/16', '::1', '::/0', '0.0.0.0/0', 'fe80::/10');
const ports = fc.constantFrom<ReadonlyArray<readonly [number, number]>>([[443, 443]], [[1, 65535]], [[80, 80], [443, 443]], [[8000, 8100]]);
const ruleArb = fc.record({ host, ports, allowPrivate: fc.boolean() }).map((r): NetRule => ({ action: 'allow', source: 'test', ...r }));

test('RuleIndex.covers: the same answer as trying ruleCovers with every rule', () => {
  fc.assert(
    fc.property(fc.array(ruleArb, { maxLength: 8 }), ruleArb, fc.boolean(), (rules, b, ignorePrivate) => {
      const plain = rules.some((a) => ruleCovers(ignorePrivate ? { ...a, allowPrivate: true } : a, b));
      assert.equal(new RuleIndex(rules).covers(b, ignorePrivate), plain, JSON.stringify({ rules, b, ignorePrivate }));
    }),
    { seed: 20260306, numRuns: 5000 },
  );
});

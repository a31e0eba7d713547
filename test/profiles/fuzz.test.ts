// cordon tests – thousands of generated profiles through the loader and compiler (fixed seed): the only outcomes are a Policy or a CordonError.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import fc from 'fast-check';

import { CordonError } from '../../dist/errors.js';
import { compilePolicy } from '../../dist/policy/compile.js';
import { HOME_SECRETS } from '../../dist/policy/defaults.js';
import type { Policy } from '../../dist/policy/policy.js';
import { loadProfile } from '../../dist/profile/load.js';
import { makeDir } from './helpers.js';

const d = makeDir();
after(() => d.cleanup());
mkdirSync(path.join(d.ws, 'a', 'b'), { recursive: true });
writeFileSync(path.join(d.ws, 'a', '.env'), 'K=1');
mkdirSync(path.join(d.home, '.ssh'), { recursive: true });

const pathAtom = fc.constantFrom('${workspace}', '${workspace}', '${home}', '/usr', '${workspace}', '${home}', '${tmp}', '~', '/usr', '/etc', '/', '${env:HOME}', '${env:NOPE}', '${bogus}', 'rel', '..', '.', '**', '*.env', '${workspace', '/a/../b', '\u0000', '', ' ');
const pathArb = fc.oneof(
  { arbitrary: fc.array(fc.oneof(pathAtom, fc.constantFrom('a', 'b', '.git', 'hooks', '.env')), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')), weight: 6 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
);
const netArb = fc.oneof(
  fc.constantFrom('*', 'example.com', '*.example.com:443', '10.0.0.0/8', '[::1]:8080', 'host:8000-8100', '0.0.0.0/0', '::/0', 'a:99999', 'x:1-', '[::1', '256.1.1.1', '*.*.com', 'host:0'),
  fc.string({ maxLength: 16 }),
);
const envName = fc.oneof(fc.constantFrom('PATH', 'AWS_*', '*', 'A-B', '', 'X'), fc.string({ maxLength: 8 }));
const anyJson = fc.jsonValue({ maxDepth: 3 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

const profileArb = fc.record(
  {
    version: fc.oneof({ arbitrary: fc.constant(1), weight: 8 }, { arbitrary: anyJson, weight: 1 }),
    description: maybe(fc.string()),
    extends: maybe(fc.oneof(fc.constantFrom('workspace', 'strict', 'read-only', 'nope', './self.json', '../x.json'), fc.array(fc.constantFrom('workspace', 'ci', './other.json'), { maxLength: 3 }))),
    filesystem: maybe(
      fc.oneof(
        { arbitrary: fc.record({ read: maybe(fc.array(pathArb, { maxLength: 4 })), write: maybe(fc.array(pathArb, { maxLength: 3 })), protected: maybe(fc.array(pathArb, { maxLength: 3 })), deny: maybe(fc.array(pathArb, { maxLength: 4 })), allowSecrets: maybe(fc.array(fc.constantFrom('~/.ssh', '~/.aws', '/etc/shadow'), { maxLength: 2 })) }, { requiredKeys: [] }), weight: 8 },
        { arbitrary: anyJson, weight: 1 },
      ),
    ),
    network: maybe(fc.oneof({ arbitrary: fc.record({ mode: maybe(fc.constantFrom('none', 'allowlist', 'host', 'open')), allow: maybe(fc.array(netArb, { maxLength: 3 })), deny: maybe(fc.array(netArb, { maxLength: 2 })), allowPrivate: maybe(fc.boolean()) }, { requiredKeys: [] }), weight: 8 }, { arbitrary: anyJson, weight: 1 })),
    env: maybe(fc.record({ allow: maybe(fc.array(envName, { maxLength: 3 })), deny: maybe(fc.array(envName, { maxLength: 2 })), set: maybe(fc.dictionary(envName, fc.string({ maxLength: 6 }), { maxKeys: 2 })) }, { requiredKeys: [] })),
    limits: maybe(fc.record({ tmpSize: maybe(fc.oneof(fc.constantFrom('1g', '512m', '0', '-1', '1e9', '12 parsecs'), fc.integer())), timeout: maybe(fc.oneof(fc.double(), fc.integer())), pids: maybe(fc.integer()) }, { requiredKeys: [] })),
    secrets: maybe(fc.dictionary(envName, fc.oneof(fc.record({ fromEnv: envName }), fc.record({ fromFile: pathArb }), anyJson), { maxKeys: 2 })),
    unsafe: maybe(fc.record({ allowBroadWrite: maybe(fc.boolean()), allowAnyHost: maybe(fc.boolean()), allowAllEnv: maybe(fc.boolean()) }, { requiredKeys: [] })),
    junk: fc.option(anyJson, { nil: undefined, freq: 20 }),
  },
  { requiredKeys: ['version'] },
);

/** Invariants a valid policy keeps whatever the profile said: never a weaker sandbox than the rules allow. */
function checkInvariants(policy: Policy, doc: Record<string, unknown>): void {
  const fs = (doc.filesystem ?? {}) as { allowSecrets?: string[] };
  const unsafe = (doc.unsafe ?? {}) as { allowBroadWrite?: boolean; allowAnyHost?: boolean };
  for (const rel of HOME_SECRETS) {
    const p = path.join(d.home, rel);
    if (!(fs.allowSecrets ?? []).some((a) => a === `~/${rel}`)) assert.ok(policy.fs.deny.includes(p), `${p} stays masked`);
  }
  if (!unsafe.allowBroadWrite) assert.ok(!policy.fs.write.includes('/') && !policy.fs.write.includes(d.home), 'no broad write without the acknowledgement');
  if (!unsafe.allowAnyHost) assert.ok(policy.network.rules.every((r) => r.action === 'deny' || (r.host !== '*' && !r.host.endsWith('/0'))));
  for (const w of policy.fs.write) assert.ok(path.isAbsolute(w) && !w.split('/').includes('..'));
  assert.ok(Object.isFrozen(policy) && Object.isFrozen(policy.fs.deny));
}

test('generated profiles: a valid Policy or a CordonError, nothing else (fixed seed)', () => {
  d.write('other.json', { version: 1, extends: 'strict' });
  let valid = 0;
  let invalid = 0;
  const codes = new Map<string, number>();
  fc.assert(
    fc.property(profileArb, fc.integer({ min: 0, max: 9 }), (doc, cut) => {
      const file = path.join(d.root, 'self.json');
      let text = JSON.stringify(doc);
      if (cut === 0) text = text.slice(0, Math.max(1, Math.floor(text.length * 0.7))); // truncated JSON too
      writeFileSync(file, text);
      try {
        const policy = compilePolicy(loadProfile(file), { workspace: d.ws, home: d.home, env: { HOME: d.home } });
        checkInvariants(policy, doc as Record<string, unknown>);
        valid++;
      } catch (err) {
        if (!(err instanceof CordonError)) throw err;
        assert.ok(err.message.length > 0 && !/undefined|\[object Object\]/.test(err.message), err.message);
        codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
        invalid++;
      }
    }),
    { seed: 424242, numRuns: 2500 },
  );
  process.stdout.write(`# fuzz: ${valid} valid policies, ${invalid} CordonErrors ${JSON.stringify(Object.fromEntries(codes))}\n`);
  assert.ok(valid > 50, `the generator reaches valid profiles too (${valid})`);
  assert.ok(invalid > 500);
});

test('generated well-formed profiles compile, and keep the invariants (fixed seed)', () => {
  const okPath = fc.constantFrom('${workspace}', '${workspace}/a', '${workspace}/a/b', '${home}/.cache', '/usr', '/etc', '${tmp}', '~/.ssh', '/nonexistent/x');
  const okDeny = fc.oneof(okPath, fc.constantFrom('${workspace}/**/.env', '${workspace}/a/*', '~/**/id_*'));
  const okNet = fc.constantFrom('example.com', '*.example.com:443', '10.0.0.0/8:5432', '[::1]:8080', 'host.test:8000-8100', '*');
  const wellFormed = fc.record(
    {
      version: fc.constant(1),
      extends: maybe(fc.constantFrom('workspace', 'strict', 'read-only', 'offline-build')),
      filesystem: maybe(fc.record({ read: maybe(fc.array(okPath, { maxLength: 3 })), write: maybe(fc.array(okPath, { maxLength: 2 })), protected: maybe(fc.array(okPath, { maxLength: 2 })), deny: maybe(fc.array(okDeny, { maxLength: 3 })), allowSecrets: maybe(fc.array(fc.constantFrom('~/.ssh', '~/.aws'), { maxLength: 1 })) }, { requiredKeys: [] })),
      network: maybe(fc.record({ mode: maybe(fc.constantFrom('none', 'allowlist', 'host')), allow: maybe(fc.array(okNet, { maxLength: 2 })), deny: maybe(fc.array(okNet, { maxLength: 2 })) }, { requiredKeys: [] })),
      env: maybe(fc.record({ allow: maybe(fc.array(fc.constantFrom('NODE_ENV', 'npm_config_*'), { maxLength: 2 })), deny: maybe(fc.array(fc.constantFrom('AWS_*', 'TOKEN'), { maxLength: 1 })) }, { requiredKeys: [] })),
      limits: maybe(fc.record({ tmpSize: maybe(fc.constantFrom('64m', '1g', 4096)), timeout: maybe(fc.integer({ min: 1, max: 9999 })) }, { requiredKeys: [] })),
      unsafe: maybe(fc.record({ allowAnyHost: maybe(fc.boolean()) }, { requiredKeys: [] })),
    },
    { requiredKeys: ['version'] },
  );
  let valid = 0;
  let invalid = 0;
  fc.assert(
    fc.property(wellFormed, (doc) => {
      const file = path.join(d.root, 'wf.json');
      writeFileSync(file, JSON.stringify(doc));
      try {
        checkInvariants(compilePolicy(loadProfile(file), { workspace: d.ws, home: d.home, env: { HOME: d.home } }), doc as Record<string, unknown>);
        valid++;
      } catch (err) {
        if (!(err instanceof CordonError)) throw err;
        invalid++;
      }
    }),
    { seed: 777, numRuns: 1000 },
  );
  process.stdout.write(`# well-formed: ${valid} valid policies, ${invalid} CordonErrors (inert allow rules, broad or symlinked paths, any-host without the ack)\n`);
  assert.ok(valid > 500, String(valid));
});

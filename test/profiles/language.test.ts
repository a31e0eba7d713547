// cordon tests – the profile language: every bad input is a clear error with file, line:column and JSON path; merge and deny-wins semantics; provenance.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { CordonError } from '../../dist/errors.js';
import { compilePolicy } from '../../dist/policy/compile.js';
import { inspectProfile, loadProfile } from '../../dist/profile/load.js';
import { makeDir } from './helpers.js';

const d = makeDir();
after(() => d.cleanup());

function problems(file: string) {
  const r = inspectProfile(file);
  assert.equal(r.profile, undefined, 'an invalid profile must not load');
  return r.diagnostics.filter((x) => x.severity === 'error');
}

function thrown(fn: () => unknown): CordonError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CordonError, `expected a CordonError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

test('malformed JSON: every syntax error with line and column, and a hint', () => {
  const f = d.write('bad-syntax.json', '{\n  "version": 1,\n  "filesystem": { "read": ["/usr",] }\n  // a comment\n}\n');
  const list = problems(f);
  assert.ok(list.length >= 2, JSON.stringify(list));
  assert.deepEqual([list[0]?.line, list[0]?.column], [3, 35], 'at the ] after the trailing comma');
  assert.match(list[0]?.message ?? '', /invalid JSON: ValueExpected/);
  assert.ok(list.some((x) => x.line === 4 && /comment|"\/\/"/i.test(x.hint ?? '')), JSON.stringify(list));
  const err = thrown(() => loadProfile(f));
  assert.equal(err.code, 'PROFILE_INVALID');
  assert.equal(err.detail.file, f);
  assert.equal(err.detail.line, 3);
});

test('schema problems are all reported, each at its position with its JSON path', () => {
  const f = d.write(
    'bad-schema.json',
    [
      '{',
      '  "version": 1,',
      '  "filesystm": {},',
      '  "filesystem": { "write": "${workspace}", "deny": [3] },',
      '  "network": { "mode": "open" },',
      '  "limits": { "pids": -1 }',
      '}',
    ].join('\n'),
  );
  const list = problems(f);
  const byPath = Object.fromEntries(list.map((x) => [x.path, x]));
  assert.deepEqual(Object.keys(byPath).sort(), ['filesystem.deny[0]', 'filesystem.write', 'filesystm', 'limits.pids', 'network.mode'].sort());
  assert.equal(byPath.filesystm?.line, 3);
  assert.match(byPath.filesystm?.hint ?? '', /did you mean "filesystem"/);
  assert.equal(byPath['filesystem.deny[0]']?.line, 4);
  assert.equal(byPath['filesystem.deny[0]']?.column, '  "filesystem": { "write": "${workspace}", "deny": [3] },'.indexOf('3') + 1);
  assert.match(byPath['filesystem.write']?.hint ?? '', /expected array/);
  assert.equal(byPath['network.mode']?.line, 5);
  const err = thrown(() => loadProfile(f));
  assert.equal(err.message.split('\n').filter((l) => l.includes(': error: ')).length, 5, err.message);
});

test('entry problems: unknown variables, relative paths, .., globs outside deny, bad rules, bad sizes, duplicate keys', () => {
  const f = d.write(
    'bad-entries.json',
    JSON.stringify(
      {
        version: 1,
        filesystem: {
          read: ['${wrkspace}/x', 'relative/dir', '/usr/../etc', '/opt/*'],
          deny: ['${workspace}/**/.env', '~/x/../../etc'],
        },
        network: { allow: ['exa mple.com', 'host:99999'] },
        env: { allow: ['BAD-NAME'] },
        limits: { memory: '12 parsecs' },
        secrets: { TOKEN: { fromFile: 'token.txt' } },
      },
      null,
      2,
    ).replace('"version": 1,', '"version": 1,\n  "version": 1,'),
  );
  const list = problems(f);
  const text = list.map((x) => `${x.path}: ${x.message}`).join('\n');
  for (const expected of [
    /filesystem\.read\[0\]: .*unknown variable \$\{wrkspace\}/,
    /filesystem\.read\[1\]: .*not absolute/,
    /filesystem\.read\[2\]: .*"\.\." segments/,
    /filesystem\.read\[3\]: .*globs are only allowed in filesystem\.deny/,
    /filesystem\.deny\[1\]: .*"\.\." segments/,
    /network\.allow\[0\]: .*not a hostname/,
    /network\.allow\[1\]: .*outside 1-65535/,
    /env\.allow\[0\]: .*not a variable name/,
    /limits\.memory: a size like/,
    /secrets\.TOKEN\.fromFile: .*not absolute/,
    /version: duplicate key "version"/,
  ]) {
    assert.match(text, expected);
  }
  assert.ok(!/filesystem\.deny\[0\]/.test(text), 'a glob in deny is fine');
  assert.ok(list.every((x) => x.line !== undefined && x.column !== undefined), 'every problem has a position');
});

test('over-broad rules need an explicit acknowledgement', () => {
  const broad = d.write('broad.json', { version: 1, filesystem: { write: ['/'] }, network: { allow: ['*'] }, env: { allow: ['*'] } });
  const list = problems(broad);
  assert.deepEqual(list.map((x) => x.path).sort(), ['env.allow[0]', 'filesystem.write[0]', 'network.allow[0]']);
  assert.ok(list.every((x) => /unsafe/.test(x.hint ?? '')), 'the hint names the acknowledgement field');
  const home = d.write('home-write.json', { version: 1, filesystem: { write: ['~'] } });
  assert.match(problems(home)[0]?.message ?? '', /system or home tree/);
  const acked = d.write('broad-ack.json', {
    version: 1,
    filesystem: { write: ['/'] },
    network: { allow: ['0.0.0.0/0'] },
    env: { allow: ['*'] },
    unsafe: { allowBroadWrite: true, allowAnyHost: true, allowAllEnv: true },
  });
  const policy = compilePolicy(loadProfile(acked), { workspace: d.ws, home: d.home });
  assert.deepEqual(policy.fs.write, ['/']);
  assert.equal(policy.weaker.allowBroadWrite, true);
  // The compiler checks what never went through a file (API overrides) the same way.
  const ws = loadProfile('workspace');
  const widened = { ...ws, doc: { ...ws.doc, filesystem: { ...ws.doc.filesystem, write: ['/usr'] } } };
  assert.equal(thrown(() => compilePolicy(widened, { workspace: d.ws, home: d.home })).code, 'POLICY_INVALID');
});

test('extends: cycles, missing parents, a list of parents by name and path', () => {
  d.write('cyc/a.json', { version: 1, extends: './b.json' });
  d.write('cyc/b.json', { version: 1, extends: ['workspace', './a.json'] });
  const cyc = problems(path.join(d.root, 'cyc/a.json'));
  assert.equal(cyc.length, 1);
  assert.match(cyc[0]?.message ?? '', /extends cycle: .*a\.json → .*b\.json → .*a\.json/);
  assert.equal(cyc[0]?.path, 'extends[1]');
  assert.equal(cyc[0]?.line, 5);

  const self = d.write('self.json', { version: 1, extends: './self.json' });
  assert.match(problems(self)[0]?.message ?? '', /cycle/);

  const missing = d.write('missing.json', { version: 1, extends: ['./nope.json', 'no-such-profile'] });
  const m = problems(missing);
  assert.equal(m.length, 2);
  assert.match(m[0]?.message ?? '', /profile file not found: .*nope\.json/);
  assert.match(m[1]?.message ?? '', /unknown profile "no-such-profile"/);

  // A broken parent is reported at its own file.
  d.write('parent-bad.json', { version: 1, filesystem: { read: ['nope'] } });
  const child = d.write('child.json', { version: 1, extends: './parent-bad.json' });
  const c = problems(child);
  assert.ok(c.some((x) => x.file.endsWith('parent-bad.json') && x.path === 'filesystem.read[0]'), JSON.stringify(c));

  d.write('lib/extra.json', { version: 1, filesystem: { deny: ['${workspace}/private'] }, limits: { timeout: 5 } });
  const multi = d.write('multi.json', { version: 1, extends: ['read-only', './lib/extra.json'], limits: { timeout: 9 } });
  const p = loadProfile(multi);
  assert.deepEqual(p.files.map((f) => path.basename(f)), ['read-only.json', 'extra.json', 'multi.json']);
  assert.ok(p.doc.filesystem?.deny?.includes('${workspace}/private'));
  assert.equal(p.doc.limits?.timeout, 9, 'scalars: the child wins');
});

test('huge, deep and non-regular files are refused without reading them whole', () => {
  const huge = d.write('huge.json', `{"version": 1, "description": "${'x'.repeat(1_100_000)}"}`);
  assert.match(problems(huge)[0]?.message ?? '', /bytes; the limit is/);
  const deep = d.write('deep.json', `{"version": 1, "env": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
  assert.match(problems(deep)[0]?.message ?? '', /nested more than/);
  assert.match(problems('/dev/zero')[0]?.message ?? '', /not a regular file/);
  const dir = path.join(d.root, 'a-dir.json');
  mkdirSync(dir);
  assert.match(problems(dir)[0]?.message ?? '', /not a regular file/);
  assert.match(problems(d.write('empty.json', ''))[0]?.message ?? '', /invalid JSON/);
});

test('compile: unset ${env:…}, symlinked protected paths and .. from a variable are errors naming the file and entry', () => {
  const f = d.write('envvar.json', { version: 1, extends: 'workspace', filesystem: { write: ['${env:CORDON_TEST_UNSET_VAR}/cache'] } });
  const err = thrown(() => compilePolicy(loadProfile(f), { workspace: d.ws, home: d.home, env: {} }));
  assert.equal(err.code, 'POLICY_INVALID');
  assert.match(err.message, /envvar\.json:\d+:\d+ filesystem\.write\[0\]: .*CORDON_TEST_UNSET_VAR is not set/);
  const dots = thrown(() => compilePolicy(loadProfile(f), { workspace: d.ws, home: d.home, env: { CORDON_TEST_UNSET_VAR: '/tmp/../etc' } }));
  assert.match(dots.message, /"\.\." segments/);

  const linked = path.join(d.root, 'linked-ws');
  mkdirSync(path.join(linked, '.git'), { recursive: true });
  symlinkSync('/etc/passwd', path.join(linked, '.git', 'config'));
  const link = thrown(() => compilePolicy(loadProfile('workspace'), { workspace: linked, home: d.home }));
  assert.match(link.message, /workspace\.json:\d+:\d+ filesystem\.protected\[1\]: protected path is a symlink/);
});

test('merge and deny wins: lists are unioned across extends, a deny in a parent masks a child grant', () => {
  mkdirSync(path.join(d.ws, 'secret'), { recursive: true });
  writeFileSync(path.join(d.ws, 'secret', 'k'), 'x');
  d.write('dw/parent.json', { version: 1, extends: 'workspace', filesystem: { deny: ['${workspace}/secret'] } });
  const child = d.write('dw/child.json', { version: 1, extends: './parent.json', filesystem: { read: ['${workspace}/secret'], write: ['${workspace}/secret'] } });
  const policy = compilePolicy(loadProfile(child), { workspace: d.ws, home: d.home });
  const secret = path.join(d.ws, 'secret');
  assert.ok(policy.fs.deny.includes(secret));
  assert.ok(policy.fs.write.includes(secret), 'the grant is there ...');
  // ... and the planner masks it anyway (deny wins at the same or a deeper path).
  assert.match(policy.provenance?.deny[secret]?.source ?? '', /parent\.json:\d+:\d+ filesystem\.deny\[0\]/);
  assert.match(policy.provenance?.write[secret]?.source ?? '', /child\.json:\d+:\d+ filesystem\.write\[0\]/);
});

test('provenance: built-ins and file entries are attributed', () => {
  const policy = compilePolicy(loadProfile('workspace'), { workspace: d.ws, home: d.home });
  assert.match(policy.provenance?.deny[path.join(d.home, '.ssh')]?.source ?? '', /built-in: home credentials/);
  assert.match(policy.provenance?.write[policy.workspace]?.source ?? '', /profiles\/workspace\.json:\d+:\d+ filesystem\.write\[0\]/);
  assert.match(policy.provenance?.fields['network.mode']?.rule ?? '', /network\.mode: "none"/);
});

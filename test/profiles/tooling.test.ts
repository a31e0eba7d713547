// cordon tests – `cordon profile check|explain|diff|init|schema` and the generated schema file.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { inspectProfile } from '../../dist/profile/load.js';
import { schemaText, starterProfile } from '../../dist/profile/starter.js';
import { makeDir, repoRoot, runCli } from './helpers.js';

const d = makeDir();
after(() => d.cleanup());
const env = { ...process.env, CORDON_MANAGED_PROFILE: '' };

test('profiles/schema.json is generated from the zod schema and up to date', () => {
  const file = path.join(repoRoot, 'profiles', 'schema.json');
  assert.equal(readFileSync(file, 'utf8'), schemaText(), 'profiles/schema.json is stale: run `node dist/cli/main.js profile schema --write`');
  assert.equal(runCli(['profile', 'schema', '--check'], { env }).status, 0);
  const schema = JSON.parse(schemaText()) as { properties: Record<string, unknown>; additionalProperties: boolean };
  assert.ok(['filesystem', 'network', 'env', 'limits', 'secrets', 'unsafe', 'extends', '//'].every((k) => k in schema.properties));
  assert.equal(schema.additionalProperties, false, 'unknown keys are errors in editors too');
});

test('every shipped profile references the schema, has a description and checks clean', () => {
  const names = readdirSync(path.join(repoRoot, 'profiles')).filter((f) => f.endsWith('.json') && f !== 'schema.json');
  assert.deepEqual(names.sort(), ['ci.json', 'offline-build.json', 'read-only.json', 'strict.json', 'workspace.json']);
  for (const name of names) {
    const doc = JSON.parse(readFileSync(path.join(repoRoot, 'profiles', name), 'utf8')) as { $schema?: string; description?: string };
    assert.equal(doc.$schema, './schema.json', name);
    assert.ok((doc.description ?? '').length > 40, `${name} describes itself`);
  }
  const r = runCli(['profile', 'check', ...names.map((n) => path.join('profiles', n))], { env, cwd: repoRoot });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(r.stdout.trim().split('\n').filter((l) => l.endsWith(': ok')).length, names.length);
});

test('check: every problem of every file with file:line:column, path, reason and hint; exit 1', () => {
  const a = d.write('a.json', '{\n  "version": 1,\n  "netwrk": {},\n  "filesystem": { "write": ["relative"] }\n}\n');
  const b = d.write('b.json', '{ "version": 1, "extends": "./missing.json" }');
  const ok = d.write('ok.json', { version: 1, extends: 'strict' });
  const r = runCli(['profile', 'check', a, b, ok], { env, cwd: d.ws });
  assert.equal(r.status, 1);
  assert.match(r.stdout, new RegExp(`${a}:3:3: error: netwrk: unknown key "netwrk"\\n    hint: did you mean "network"\\?`));
  assert.match(r.stdout, new RegExp(`${a}:4:29: error: filesystem\\.write\\[0\\]: "relative": is not absolute\\n    hint: start paths with /`));
  assert.match(r.stdout, new RegExp(`${b}:1:17: error: extends: profile file not found`));
  assert.match(r.stdout, /ok\.json: ok/);
  assert.match(r.stderr, /3 problems in 3 files/);
  const json = JSON.parse(runCli(['profile', 'check', '--json', a], { env, cwd: d.ws }).stdout) as { ok: boolean; diagnostics: Array<{ line: number }> };
  assert.equal(json.ok, false);
  assert.deepEqual(json.diagnostics.map((x) => x.line), [3, 4]);
});

test('explain: the effective policy with origins; verdicts for paths and endpoints with the deciding rule', () => {
  const f = d.write('exp/p.json', {
    version: 1,
    extends: 'workspace',
    filesystem: { deny: ['${workspace}/private'] },
    network: { mode: 'allowlist', allow: ['*.example.com:443', '10.0.0.0/8:5432'], deny: ['bad.example.com'] },
  });
  const all = runCli(['profile', 'explain', f, '--workspace', d.ws, '--home', d.home], { env });
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`${d.ws}\\s+← \\$\\{workspace\\} \\[.*workspace\\.json:\\d+:\\d+ filesystem\\.write\\[0\\]\\]`));
  assert.match(all.stdout, /\.ssh\s+← ~\/\.ssh \[built-in: home credentials/);
  assert.match(all.stdout, /allow \*\.example\.com:443\s+← \[.*p\.json:\d+:\d+ network\.allow\[0\]\]/);

  const q = runCli(
    ['profile', 'explain', f, '--workspace', d.ws, '--home', d.home, '--path', 'private/x', '--path', '.git/hooks/pre-commit', '--path', 'src/a.ts', '--path', '~/.ssh/id_rsa', '--path', '/var/lib',
      '--host', 'api.example.com:443', '--host', 'bad.example.com:443', '--host', 'api.example.com:80', '--host', '10.1.2.3:5432'],
    { env },
  );
  assert.equal(q.status, 1, 'something asked about is not reachable');
  const lines = q.stdout;
  assert.match(lines, new RegExp(`${d.ws}/private/x: NOT accessible — masked by deny of ${d.ws}/private .*\\n  rule: \\$\\{workspace\\}/private \\[.*p\\.json:\\d+:\\d+ filesystem\\.deny\\[0\\]\\]`));
  assert.match(lines, /\.git\/hooks\/pre-commit: read-only — read-only: protected .*\n  rule: \$\{workspace\}\/\.git\/hooks \[.*workspace\.json/);
  assert.match(lines, /src\/a\.ts: read-write — writable: inside/);
  assert.match(lines, /\.ssh\/id_rsa: NOT accessible — masked by deny .*\n  rule: ~\/\.ssh \[built-in/);
  assert.match(lines, /\/var\/lib: NOT accessible — absent: not under any read or write root/);
  assert.match(lines, /api\.example\.com:443: allowed — allowed by \*\.example\.com:443/);
  assert.match(lines, /bad\.example\.com:443: DENIED — denied by bad\.example\.com:\* \(deny wins over allow\)\n  rule: bad\.example\.com:\* \[.*p\.json:\d+:\d+ network\.deny\[0\]\]/);
  assert.match(lines, /api\.example\.com:80: DENIED — no allow rule matches/);
  assert.match(lines, /10\.1\.2\.3:5432: allowed — allowed by 10\.0\.0\.0\/8:5432/);
});

test('diff: what B allows that A does not, and the reverse, with the rules', () => {
  const r = runCli(['profile', 'diff', 'read-only', 'workspace', '--workspace', d.ws, '--home', d.home], { env });
  assert.equal(r.status, 1);
  const [bMore, aMore] = r.stdout.split(/\n(?=read-only allows)/);
  assert.match(bMore ?? '', /workspace allows what read-only does not:\n  write: writes .*ws, outside the base's writable trees \[.*workspace\.json:\d+:\d+ filesystem\.write\[0\]\]/);
  assert.match(aMore ?? '', /read-only allows what workspace does not:\n  \(nothing\)/);
  const strict = runCli(['profile', 'diff', 'workspace', 'strict', '--workspace', d.ws, '--home', d.home], { env });
  assert.match(strict.stdout, /workspace allows what strict does not:[\s\S]*\n  read: reads .*home, outside the base's readable trees/);
  assert.match(strict.stdout, /strict allows what workspace does not:\n  \(nothing\)/);
  assert.equal(runCli(['profile', 'diff', 'workspace', 'workspace', '--workspace', d.ws], { env }).status, 0);
});

test('init: a starter that validates, with "//" comments; refuses to overwrite', () => {
  const file = path.join(d.root, 'init', 'my.json');
  runCli(['profile', 'init', '--', file], { env }); // parent directory missing: an error, not a crash
  const target = d.write('init/my.json', '');
  assert.equal(runCli(['profile', 'init', target], { env }).status, 2, 'refuses to overwrite');
  const r = runCli(['profile', 'init', target, '--force'], { env });
  assert.equal(r.status, 0, r.stderr);
  const text = readFileSync(target, 'utf8');
  assert.match(text, /"\/\/": \[/);
  assert.match(text, /"\$schema": ".*schema\.json"/);
  const report = inspectProfile(target);
  assert.deepEqual(report.diagnostics, []);
  assert.ok(report.profile);
  assert.equal(runCli(['profile', 'check', target], { env }).status, 0);
  assert.ok(JSON.parse(starterProfile('./schema.json')));
});

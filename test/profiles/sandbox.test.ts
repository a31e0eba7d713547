// cordon tests – profiles in real sandboxes: the managed floor, secrets and their redaction, deny globs kept current, hot reload.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';

import { CordonError, Sandbox, type SandboxOptions } from '../../dist/index.js';
import { compilePolicy, refreshGlobDenies } from '../../dist/policy/compile.js';
import { clearDirCache } from '../../dist/policy/dircache.js';
import { isWatched, setDirWatch } from '../../dist/policy/dirwatch.js';
import { GlobIndex } from '../../dist/policy/globscan.js';
import { loadProfile } from '../../dist/profile/load.js';
import { makeDir, runCli, sandboxUnavailable } from './helpers.js';

const d = makeDir();
let unavailable: string | undefined;
before(async () => {
  unavailable = await sandboxUnavailable();
});
after(() => d.cleanup());

function skipIfNoSandbox(t: TestContext): boolean {
  if (!unavailable) return false;
  t.skip(unavailable);
  return true;
}

async function create(extra: SandboxOptions = {}): Promise<Sandbox> {
  return Sandbox.create({ workspace: d.ws, home: d.home, prespawn: false, ...extra });
}

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<CordonError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CordonError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected ${code}`);
}

async function withManaged<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.CORDON_MANAGED_PROFILE;
  process.env.CORDON_MANAGED_PROFILE = file;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.CORDON_MANAGED_PROFILE;
    else process.env.CORDON_MANAGED_PROFILE = before;
  }
}

test('managed floor: local profiles, API overrides and CLI flags may narrow it, never widen it', async (t) => {
  if (skipIfNoSandbox(t)) return;
  mkdirSync(path.join(d.ws, 'vendor'), { recursive: true });
  writeFileSync(path.join(d.ws, 'vendor', 'blob'), 'vendored secret\n');
  const managed = d.write('managed.json', {
    version: 1,
    description: 'org floor',
    extends: 'workspace',
    filesystem: { deny: ['${workspace}/vendor'] },
    network: { mode: 'allowlist', allow: ['*.corp.example:443'] },
    limits: { timeout: 600 },
  });
  await withManaged(managed, async () => {
    // Narrower: fine, and the managed deny holds even though the local profile never mentions it.
    const sb = await create({ profile: 'strict' });
    const r = await sb.exec(['sh', '-c', 'cat vendor/blob; echo rc=$?']);
    sb.close();
    assert.match(r.stdout.toString(), /rc=1/);
    assert.ok(!r.stdout.toString().includes('vendored secret'));
    assert.equal(sb.policy.limits.timeoutMs, 600_000, 'an unset limit comes from the managed profile');

    // Wider, each way: named managed rule in the error.
    const other = path.join(d.root, 'other');
    mkdirSync(other, { recursive: true });
    await rejects(create({ write: [other] }), 'MANAGED_POLICY', /write: writes \S+\/other, outside the base's writable trees \[API\/CLI option filesystem\.write\[0\]\]; base: \$\{workspace\} \[.*workspace\.json/);
    await rejects(create({ read: ['/var'] }), 'MANAGED_POLICY', /read: reads \/var, outside the base's readable trees/);
    await rejects(create({ network: { mode: 'host' } }), 'MANAGED_POLICY', /network mode "host" where the base has "allowlist" .*managed\.json:\d+:\d+ network\.mode/);
    await rejects(create({ network: { allow: ['evil.example:443'] } }), 'MANAGED_POLICY', /allows evil\.example:443, which no base allow rule covers.*base: \*\.corp\.example:443 \[.*managed\.json:\d+:\d+ network\.allow\[0\]\]/);
    await rejects(create({ limits: { timeout: 3600 } }), 'MANAGED_POLICY', /limits\.timeout is 3600000 where the base caps it at 600000/);
    const unmask = d.write('unmask.json', { version: 1, extends: 'workspace', filesystem: { allowSecrets: ['~/.aws'] } });
    await rejects(create({ profile: unmask }), 'MANAGED_POLICY', /deny: reads .*home\/\.aws, which the base masks .*built-in: home credentials/);
    const unsafe = d.write('unsafe.json', { version: 1, extends: 'workspace', unsafe: { allowMissingLandlock: true } });
    await rejects(create({ profile: unsafe }), 'MANAGED_POLICY', /unsafe\.allowMissingLandlock/);
    await rejects(create({ env: ['AWS_SECRET_ACCESS_KEY'] }), 'MANAGED_POLICY', /passes the caller's AWS_SECRET_ACCESS_KEY/);

    // The CLI goes through the same check (exit 125, the managed rule on stderr).
    const cli = runCli(['run', '--write', other, '--', 'true'], { cwd: d.ws, env: { ...process.env, CORDON_MANAGED_PROFILE: managed, HOME: d.home } });
    assert.equal(cli.status, 125);
    assert.match(cli.stderr, /managed policy .*managed\.json does not allow this run/);
  });
  // A broken or missing managed profile never means "no floor".
  await withManaged(path.join(d.root, 'no-such-managed.json'), () => rejects(create(), 'MANAGED_POLICY', /does not exist; refusing to run/));
  const broken = d.write('broken-managed.json', '{"version": 1, "filesystem": ');
  await withManaged(broken, () => rejects(create(), 'MANAGED_POLICY', /is invalid; refusing to run/));
});

test('secrets: handed over as variables, redacted from output, the audit log and errors', async (t) => {
  if (skipIfNoSandbox(t)) return;
  const tokenFile = d.write('secrets/token', 'file-secret-value-42\n');
  const profile = d.write('secrets.json', {
    version: 1,
    extends: 'workspace',
    secrets: { API_TOKEN: { fromEnv: 'CORDON_TEST_API_TOKEN' }, DB_PASSWORD: { fromFile: tokenFile } },
  });
  const logFile = path.join(d.root, 'audit.log');
  const callerEnv = { ...process.env, CORDON_TEST_API_TOKEN: 'env-secret-value-17' };
  const sb = await create({ profile, callerEnv, log: { file: logFile }, secrets: { LITERAL: 'literal-secret-99' } });
  const script = 'printf "%s|%s|%s\\n" "$API_TOKEN" "$DB_PASSWORD" "$LITERAL"; printf "err:%s" "$API_TOKEN" >&2; test "$API_TOKEN" = env-secret-value-17';
  const r = await sb.exec(['sh', '-c', script, 'x', 'env-secret-value-17']);
  assert.equal(r.exitCode, 0, 'the command sees the real value');
  assert.equal(r.stdout.toString(), '[REDACTED:API_TOKEN]|[REDACTED:DB_PASSWORD]|[REDACTED:LITERAL]\n');
  assert.equal(r.stderr.toString(), 'err:[REDACTED:API_TOKEN]');
  // Streamed output, a byte at a time.
  const proc = sb.spawn(['sh', '-c', 'for c in e n v - s e c r e t - v a l u e - 1 7; do printf %s $c; sleep 0.01; done'], { capture: false });
  let streamed = '';
  proc.stdout.on('data', (c: Buffer) => (streamed += c.toString()));
  await proc.result;
  assert.equal(streamed, '[REDACTED:API_TOKEN]');
  // Errors: a command whose name is the secret.
  const nf = await sb.exec(['/nonexistent/env-secret-value-17']);
  assert.equal(nf.exitCode, 127);
  assert.ok(!(nf.execError ?? '').includes('env-secret-value-17'), nf.execError);
  sb.close();
  const log = readFileSync(logFile, 'utf8');
  assert.match(log, /"event":"exec.start"/);
  for (const v of ['env-secret-value-17', 'file-secret-value-42', 'literal-secret-99']) assert.ok(!log.includes(v), `${v} in the audit log`);
  assert.match(log, /\[REDACTED:API_TOKEN\]/, 'argv in the log is redacted, not dropped');

  // Missing sources are errors naming the secret, never a value.
  await rejects(create({ profile, callerEnv: {} }), 'POLICY_INVALID', /secret API_TOKEN .*has no CORDON_TEST_API_TOKEN/);
  await rejects(create({ secrets: { X: 'abc' } }), 'POLICY_INVALID', /shorter than 4 bytes/);
  const denied = d.write('secrets-denied.json', { version: 1, extends: 'workspace', env: { deny: ['API_*'] }, secrets: { API_TOKEN: { fromEnv: 'HOME' } } });
  await rejects(create({ profile: denied }), 'POLICY_INVALID', /env\.deny refuses/);
});

test('deny globs stay current per command without rescanning unchanged directories', async (t) => {
  // The index alone: a rescan of an unchanged tree reads no directory again, whether listings are
  // checked by stat (other platforms, NFS) or told stale by inotify (Linux).
  for (const watched of [false, true]) {
    setDirWatch(watched);
    clearDirCache();
    const tree = path.join(d.root, `tree-${watched ? 'watched' : 'stat'}`);
    for (let i = 0; i < 50; i++) mkdirSync(path.join(tree, `d${i}`, 'sub'), { recursive: true });
    writeFileSync(path.join(tree, 'd7', 'sub', '.env'), 'x');
    // A directory changed in the last 100 ms is re-read rather than trusted when checked by stat
    // (timestamps tick coarsely): let the tree age past that first.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const index = new GlobIndex();
    assert.deepEqual(index.match([tree], [`${tree}/**/.env`]), [path.join(tree, 'd7', 'sub', '.env')]);
    assert.equal(index.stats.reread, 101);
    index.match([tree], [`${tree}/**/.env`]);
    assert.equal(index.stats.reread, 0, 'nothing changed: no directory re-read');
    writeFileSync(path.join(tree, 'd30', '.env'), 'x');
    const changedMs = statSync(path.join(tree, 'd30')).mtimeMs;
    const readFrom = Date.now();
    assert.deepEqual(index.match([tree], [`${tree}/**/.env`]), [path.join(tree, 'd30', '.env'), path.join(tree, 'd7', 'sub', '.env')]);
    const readUntil = Date.now();
    assert.equal(index.stats.reread, 1, 'only the changed directory is re-read');
    index.match([tree], [`${tree}/**/.env`]);
    // By stat, a directory read within 100 ms of its change is read again; a watched one is exact (a
    // filesystem inotify cannot vouch for, e.g. NFS, is checked by stat). On a host slow enough that
    // the read may have fallen either side of the 100 ms, both answers are right.
    const exact = watched && isWatched(path.join(tree, 'd30'));
    if (exact) assert.equal(index.stats.reread, 0, 'watched: no event, no re-read');
    else if (readUntil - changedMs < 100) assert.equal(index.stats.reread, 1, 'a directory changed moments ago is read again, not trusted');
    else if (readFrom - changedMs >= 100) assert.equal(index.stats.reread, 0, 'read 100 ms or more after its change: trusted');
    else t.diagnostic(`the re-read fell ${readFrom - changedMs}-${readUntil - changedMs} ms after the change: either answer is right (got ${index.stats.reread})`);
  }

  // The compiled policy: refreshGlobDenies returns the same object when nothing changed.
  const policy = compilePolicy(loadProfile('workspace'), { workspace: d.ws, home: d.home });
  assert.equal(refreshGlobDenies(policy), policy);

  if (skipIfNoSandbox(t)) return;
  const sb = await create();
  const before = await sb.exec(['sh', '-c', 'cat late/.env 2>/dev/null || echo absent']);
  assert.equal(before.stdout.toString(), 'absent\n');
  // A dotenv file that appears on the host after create() is masked for the next command.
  mkdirSync(path.join(d.ws, 'late'), { recursive: true });
  writeFileSync(path.join(d.ws, 'late', '.env'), 'LATE_KEY=1\n');
  const control = readFileSync(path.join(d.ws, 'late', '.env'), 'utf8');
  assert.equal(control, 'LATE_KEY=1\n', 'positive control: readable on the host');
  const after = await sb.exec(['sh', '-c', 'cat late/.env; echo rc=$?']);
  assert.ok(!after.stdout.toString().includes('LATE_KEY'), after.stdout.toString());
  assert.match(after.stdout.toString(), /rc=1/);
  assert.ok(sb.policy.fs.deny.includes(path.join(d.ws, 'late', '.env')));
  // And stops being masked once it is gone (no stale mask over a new directory of that name).
  rmSync(path.join(d.ws, 'late', '.env'));
  const gone = await sb.exec(['sh', '-c', 'echo NEW > late/.env.txt && cat late/.env.txt']);
  assert.equal(gone.stdout.toString(), 'NEW\n');
  sb.close();
});

test('hot reload: new commands get the edited policy, running ones keep theirs, invalid edits keep the last good one', async (t) => {
  if (skipIfNoSandbox(t)) return;
  mkdirSync(path.join(d.ws, 'data'), { recursive: true });
  writeFileSync(path.join(d.ws, 'data', 'f'), 'data\n');
  const file = d.write('reload/p.json', { version: 1, extends: 'workspace' });
  const sb = await create({ profile: file, watch: true });
  const errors: Error[] = [];
  const reloads: unknown[] = [];
  sb.on('error', (e: Error) => errors.push(e));
  sb.on('reload', (p: unknown) => reloads.push(p));
  await sb.ready();
  try {
    assert.equal((await sb.exec(['cat', 'data/f'])).stdout.toString(), 'data\n');
    // A command started before the edit keeps the old policy to its end.
    const running = sb.spawn(['sh', '-c', 'sleep 0.6; cat data/f']);
    const waitFor = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cond(), `timed out waiting for ${what}`);
    };
    writeFileSync(file, JSON.stringify({ version: 1, extends: 'workspace', filesystem: { deny: ['${workspace}/data'] } }));
    await waitFor(() => reloads.length === 1, 'the reload');
    assert.equal((await running.result).stdout.toString(), 'data\n', 'running command kept its policy');
    const denied = await sb.exec(['sh', '-c', 'cat data/f; echo rc=$?']);
    assert.match(denied.stdout.toString(), /rc=1/);
    assert.ok(!denied.stdout.toString().includes('data\n'));

    // An invalid edit: error event, the last good (stricter) policy stays.
    writeFileSync(file, '{"version": 1, "extends": "workspace", "filesystem": {"deny": [');
    await waitFor(() => errors.length === 1, 'the error event');
    assert.ok(errors[0] instanceof CordonError);
    assert.match(errors[0]?.message ?? '', /p\.json:1:\d+: error: invalid JSON/);
    const still = await sb.exec(['sh', '-c', 'cat data/f; echo rc=$?']);
    assert.match(still.stdout.toString(), /rc=1/, 'never a weaker sandbox');

    // Fixing it reloads again.
    writeFileSync(file, JSON.stringify({ version: 1, extends: 'workspace' }));
    await waitFor(() => reloads.length === 2, 'the second reload');
    assert.equal((await sb.exec(['cat', 'data/f'])).stdout.toString(), 'data\n');
  } finally {
    sb.close();
  }
});

// cordon tests – the `cordon` CLI end to end: exit statuses, --json, denials on stderr, flags, stdin, doctor.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeWorld, repoRoot, type World } from './fixture.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

describe('cordon CLI', () => {
  let w: World;
  const run = (args: string[], input?: string) =>
    spawnSync(process.execPath, [cli, ...args], {
      cwd: w.ws,
      encoding: 'utf8',
      input,
      env: { PATH: process.env.PATH, HOME: w.home, LANG: 'C.UTF-8' },
      timeout: 30_000,
    });
  before(() => {
    w = makeWorld();
  });
  after(() => w.cleanup());

  it('exits with the command status, 128+N for signals, 124 on timeout', () => {
    assert.equal(run(['run', '--', 'sh', '-c', 'exit 7']).status, 7);
    assert.equal(run(['run', '--', 'sh', '-c', 'kill -TERM $$']).status, 143);
    const t = run(['run', '--timeout', '0.3', '--', 'sleep', '10']);
    assert.equal(t.status, 124);
    assert.match(t.stderr, /timed out/);
  });

  it('exits 127 for a missing command and 126 for a non-executable one, with a message', () => {
    const nf = run(['run', '--', 'definitely-not-a-command']);
    assert.equal(nf.status, 127);
    assert.match(nf.stderr, /definitely-not-a-command: command not found/);
    assert.equal(run(['run', '--', './README.md']).status, 126);
  });

  it('exits 125 with a reason for bad flags, unknown profiles and invalid profile files', () => {
    const flag = run(['run', '--frobnicate', '--', 'true']);
    assert.equal(flag.status, 125);
    assert.match(flag.stderr, /unknown flag --frobnicate/);
    assert.match(run(['run', '--timeout', 'soon', '--', 'true']).stderr, /--timeout: "soon"/);
    assert.equal(run(['run']).status, 125);
    const unknown = run(['run', '--profile', 'no-such-profile', '--', 'true']);
    assert.equal(unknown.status, 125);
    assert.match(unknown.stderr, /unknown profile "no-such-profile"/);
    const bad = path.join(w.root, 'bad.json');
    writeFileSync(bad, '{"version": 1, "filesystem": {"write": 5}}');
    const invalid = run(['run', '--profile', bad, '--', 'true']);
    assert.equal(invalid.status, 125);
    assert.match(invalid.stderr, /bad\.json.*filesystem\.write/);
    const hints = invalid.stderr.match(/hint:/g) ?? [];
    assert.ok(hints.length <= 1, `the located hint is printed once:\n${invalid.stderr}`);
  });

  it('prints one JSON result with --json', () => {
    const r = run(['run', '--json', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.status, 3);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(j.exitCode, 3);
    assert.equal(j.stdout, 'out\n');
    assert.equal(j.stderr, 'err\n');
    assert.equal(j.timedOut, false);
    assert.ok(Array.isArray(j.violations));
    assert.equal(typeof j.runId, 'string');
  });

  it('prints each denial on stderr in one line', () => {
    const r = run(['run', '--', w.attack, 'unshare-user']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^cordon: denied syscall unshare: .*$/m);
  });

  it('streams stdin to the command', () => {
    const r = run(['run', '--', 'tr', 'a-z', 'A-Z'], 'piped input\n');
    assert.equal(r.stdout, 'PIPED INPUT\n');
  });

  it('--write grants and --deny masks extra paths; --env passes or sets variables', () => {
    const extra = path.join(w.root, 'extra');
    const r = run(['run', '--write', extra.replace(/extra$/, ''), '--', w.attack, 'write', path.join(w.root, 'granted.txt')]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(existsSync(path.join(w.root, 'granted.txt')));
    const d = run(['run', '--deny', path.join(w.ws, 'README.md'), '--', 'cat', 'README.md']);
    assert.notEqual(d.status, 0);
    assert.doesNotMatch(d.stdout, /hello/);
    const e = run(['run', '--env', 'FOO=bar', '--', 'sh', '-c', 'echo $FOO']);
    assert.equal(e.stdout, 'bar\n');
  });

  it('doctor lists the layers and exits 0 on this machine', () => {
    const r = run(['doctor']);
    assert.equal(r.status, 0, r.stdout);
    for (const layer of ['user namespaces', 'landlock', 'seccomp']) assert.match(r.stdout, new RegExp(`ok\\s+${layer}`));
    const j = JSON.parse(run(['doctor', '--json']).stdout) as { ok: boolean };
    assert.equal(j.ok, true);
  });

  it('rejects unknown subcommands with usage status 2', () => {
    const r = run(['frob']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frob"/);
  });
});

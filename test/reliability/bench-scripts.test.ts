// cordon tests – the benchmark's scripts parse: `npm run bench` is not run by CI, so a syntax error
// in one of them (an apostrophe inside a quoted note, once) would otherwise first show up there.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';

import { repoRoot } from '../linux/fixture.js';

const benchDir = path.join(repoRoot, 'bench');

function check(file: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

it('every bench/*.mjs parses (control: a script with a stray quote does not)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cordon-bench-check-'));
  try {
    const broken = path.join(dir, 'broken.mjs');
    writeFileSync(broken, "const notes = ['the sandbox's mounts'];\n");
    assert.notEqual(check(broken).status, 0, 'node --check catches a stray quote');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const scripts = readdirSync(benchDir).filter((f) => f.endsWith('.mjs'));
  assert.ok(scripts.includes('run.mjs'), `bench/run.mjs is among ${scripts.join(', ')}`);
  for (const f of scripts) {
    const r = check(path.join(benchDir, f));
    assert.equal(r.status, 0, `bench/${f}: ${r.stderr}`);
  }
});

// cordon tests – masks at scale: many denied paths per directory (one lookup of the directory for all of them), missing directories, denied symlinks found through a directory listing; each with a host control.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Sandbox } from '../../dist/index.js';
import { makeWorld, type World } from './fixture.js';

/** Writes `SECRET-<rel>` to each file under the workspace. */
function secrets(ws: string, rels: readonly string[]): void {
  for (const rel of rels) {
    mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    writeFileSync(path.join(ws, rel), `SECRET-${rel}\n`);
  }
}

/** Reads every file inside the sandbox in one command; prints each file's content or READ-FAILED. */
async function readInside(sb: { exec: Sandbox['exec'] }, files: readonly string[]): Promise<string> {
  const script = 'for f in "$@"; do cat "$f" 2>/dev/null || echo "READ-FAILED $f"; done';
  const r = await sb.exec(['sh', '-c', script, 'sh', ...files]);
  return r.stdout.toString();
}

describe('masks at scale', () => {
  let w: World;
  let sb: Sandbox;
  // 40 denied files in one directory with two readable neighbours; denied files in a directory that
  // does not exist, in a second directory, one level deeper, and under a denied directory.
  const many = Array.from({ length: 40 }, (_, i) => `a/s${String(i).padStart(2, '0')}`);
  const others = ['b/t1', 'b/t2', 'b/t3', 'a/sub/u1', 'c/inner'];
  const denied = [...many, ...others, 'missing/x', 'missing/y', 'c'];
  const neighbours = ['a/ok1', 'a/zz-ok2', 'b/ok'];
  before(async () => {
    w = makeWorld();
    secrets(w.ws, [...many, ...others]);
    for (const rel of neighbours) writeFileSync(path.join(w.ws, rel), `VISIBLE-${rel}\n`);
    sb = await w.sandbox({ deny: denied.map((rel) => path.join(w.ws, rel)), prespawn: false });
  });
  after(async () => {
    await sb.close();
    w.cleanup();
  });

  it('every denied file is unreadable inside, its neighbours are not (control: all readable on the host)', async () => {
    const files = [...many, ...others].map((rel) => path.join(w.ws, rel));
    for (const f of files) assert.match(readFileSync(f, 'utf8'), /^SECRET-/, `control: ${f} readable on the host`);
    const out = await readInside(sb, [...files, ...neighbours.map((rel) => path.join(w.ws, rel))]);
    assert.doesNotMatch(out, /SECRET-/, out);
    for (const rel of neighbours) assert.match(out, new RegExp(`VISIBLE-${rel}`), `${rel} stays readable: ${out}`);
    const ls = await sb.exec(['ls', '-A', path.join(w.ws, 'c')]);
    assert.equal(ls.stdout.toString(), '', 'a denied directory lists as empty');
  });

  it('a directory that does not exist skips its masks without hiding the next directory (control: b/t1 readable on the host)', async () => {
    assert.equal(readFileSync(path.join(w.ws, 'b/t1'), 'utf8'), 'SECRET-b/t1\n', 'control');
    const out = await readInside(sb, ['missing/x', 'b/t1', 'b/ok'].map((rel) => path.join(w.ws, rel)));
    assert.match(out, /READ-FAILED .*missing\/x/);
    assert.match(out, /READ-FAILED .*b\/t1/);
    assert.match(out, /VISIBLE-b\/ok/);
  });

  it('a session masks the denied files earlier commands created, many per directory (control: readable on the host)', async () => {
    const late = Array.from({ length: 12 }, (_, i) => `late/k${i}`);
    const own = await w.sandbox({ deny: late.map((rel) => path.join(w.ws, rel)), prespawn: false });
    const session = await own.session();
    try {
      const made = await session.exec(['sh', '-c', `mkdir -p late && for i in $(seq 0 11); do echo SECRET-late-$i > late/k$i; done; echo VISIBLE-late > late/ok`], { cwd: w.ws });
      assert.equal(made.exitCode, 0, made.stderr.toString());
      assert.equal(readFileSync(path.join(w.ws, 'late/k7'), 'utf8'), 'SECRET-late-7\n', 'control: written through to the host');
      const out = await readInside(session, [...late, 'late/ok'].map((rel) => path.join(w.ws, rel)));
      assert.doesNotMatch(out, /SECRET-/, out);
      assert.match(out, /VISIBLE-late/);
    } finally {
      await session.close();
      await own.close();
    }
  });

  it('denied symlinks among many denied paths in one directory hide their targets too (control: the target is readable on the host)', async () => {
    // Twelve denied paths share links/, so compile reads the directory's listing to tell which are
    // links. links/ is outside every tree the sandbox sees (a denied symlink inside one fails the
    // setup, as it always has: masks never follow links), so what is masked is the target.
    secrets(w.ws, ['real/target', 'real/other']);
    const links = path.join(w.root, 'links');
    mkdirSync(links, { recursive: true });
    symlinkSync(path.join(w.ws, 'real', 'target'), path.join(links, 'l0'));
    const deny = Array.from({ length: 12 }, (_, i) => path.join(links, `l${i}`));
    const own = await w.sandbox({ deny, prespawn: false });
    try {
      assert.ok(own.policy.fs.deny.includes(path.join(w.ws, 'real', 'target')), 'the link target is denied as well');
      assert.equal(readFileSync(path.join(links, 'l0'), 'utf8'), 'SECRET-real/target\n', 'control: the link works on the host');
      const out = await readInside(own, [path.join(w.ws, 'real', 'target'), path.join(w.ws, 'real', 'other')]);
      assert.doesNotMatch(out, /SECRET-real\/target/, out);
      assert.match(out, /SECRET-real\/other/, 'control: an undenied file beside the target stays readable');
    } finally {
      await own.close();
    }
  });

  it('many missing parents in one directory (listed after two lookups) skip their masks, yet the existing ones among them, before and after the listing, are masked (control: readable on the host)', async () => {
    // v0..v29 under vendors/: only v1 (looked up before the directory is listed), v17 and v29 (after)
    // exist; gone/ does not exist at all (its children are known absent after it is found missing).
    const existing = ['vendors/v1/token', 'vendors/v17/token', 'vendors/v29/token'];
    secrets(w.ws, existing);
    writeFileSync(path.join(w.ws, 'vendors', 'v17', 'neighbour'), 'VISIBLE-v17\n');
    const deny = [
      ...Array.from({ length: 30 }, (_, i) => `vendors/v${i}/token`),
      ...Array.from({ length: 10 }, (_, i) => `gone/g${i}/token`),
    ].map((rel) => path.join(w.ws, rel));
    const own = await w.sandbox({ deny, prespawn: false });
    try {
      for (const rel of existing) assert.equal(readFileSync(path.join(w.ws, rel), 'utf8'), `SECRET-${rel}\n`, 'control');
      const out = await readInside(own, [...existing, 'vendors/v17/neighbour'].map((rel) => path.join(w.ws, rel)));
      assert.doesNotMatch(out, /SECRET-/, out);
      assert.match(out, /VISIBLE-v17/, out);
      // Created after the Sandbox was made: the next launch lists the directory afresh.
      secrets(w.ws, ['vendors/v5/token', 'gone/g3/token']);
      const later = await readInside(own, ['vendors/v5/token', 'gone/g3/token'].map((rel) => path.join(w.ws, rel)));
      assert.doesNotMatch(later, /SECRET-/, later);
      assert.equal(readFileSync(path.join(w.ws, 'gone/g3/token'), 'utf8'), 'SECRET-gone/g3/token\n', 'control');
    } finally {
      await own.close();
    }
  });

  it('many protected files in one directory, a few existing: those are read-only inside, the rest of the directory writable (control: writable on the host)', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `hooks/h${String(i).padStart(2, '0')}`);
    const existing = ['hooks/h02', 'hooks/h11', 'hooks/h19'];
    secrets(w.ws, existing);
    const own = await w.sandbox({ protected: names.map((rel) => path.join(w.ws, rel)), prespawn: false });
    try {
      const script = 'for f in "$@"; do if echo x >> "$f" 2>/dev/null; then echo "WROTE $f"; else echo "REFUSED $f"; fi; done';
      const targets = [...existing, 'hooks/new-file'].map((rel) => path.join(w.ws, rel));
      const r = await own.exec(['sh', '-c', script, 'sh', ...targets]);
      const out = r.stdout.toString();
      for (const rel of existing) assert.match(out, new RegExp(`REFUSED .*${rel}`), out);
      assert.match(out, /WROTE .*hooks\/new-file/, `the directory itself stays writable: ${out}`);
      for (const rel of existing) writeFileSync(path.join(w.ws, rel), 'host\n'); // control: writable outside
    } finally {
      await own.close();
    }
  });

  it('a second Sandbox finds a .env created since the first one scanned the tree (shared listings; control: readable on the host)', async () => {
    const first = await w.sandbox({ prespawn: false });
    try {
      await new Promise((resolve) => setTimeout(resolve, 150)); // the listings are now old enough to be reused
      mkdirSync(path.join(w.ws, 'app'), { recursive: true });
      writeFileSync(path.join(w.ws, 'app', '.env'), 'LATE_TOKEN=1\n');
      assert.equal(readFileSync(path.join(w.ws, 'app', '.env'), 'utf8'), 'LATE_TOKEN=1\n', 'control');
      const second = await w.sandbox({ prespawn: false });
      try {
        assert.ok(second.policy.fs.deny.includes(path.join(w.ws, 'app', '.env')));
        const out = await readInside(second, [path.join(w.ws, 'app', '.env')]);
        assert.doesNotMatch(out, /LATE_TOKEN/, out);
      } finally {
        await second.close();
      }
      const out = await readInside(first, [path.join(w.ws, 'app', '.env')]);
      assert.doesNotMatch(out, /LATE_TOKEN/, 'the first Sandbox masks it from its next command on');
    } finally {
      await first.close();
    }
  });
});

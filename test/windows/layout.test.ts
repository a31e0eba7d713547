// cordon tests – koffi struct layouts and Win32 constants against mingw-w64's windows.h (x86_64-w64-mingw32-gcc).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { koffiStructs, layoutAssertions } from './layout.js';

const CC = 'x86_64-w64-mingw32-gcc';
const haveCc = spawnSync(CC, ['--version']).status === 0;

function compile(source: string): { ok: boolean; stderr: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cordon-layout-'));
  try {
    const file = path.join(dir, 'layout_asserts.c');
    writeFileSync(file, source);
    const r = spawnSync(CC, ['-std=c11', '-fsyntax-only', '-Wall', '-Wextra', '-Werror', file], { encoding: 'utf8' });
    return { ok: r.status === 0, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('windows koffi layouts', () => {
  it('known sizes on x64 (independent of mingw)', () => {
    const { koffi, structs: s } = koffiStructs();
    assert.equal(koffi.sizeof(s.STARTUPINFOW), 104);
    assert.equal(koffi.sizeof(s.STARTUPINFOEXW), 112);
    assert.equal(koffi.sizeof(s.PROCESS_INFORMATION), 24);
    assert.equal(koffi.sizeof(s.JOBOBJECT_EXTENDED_LIMIT_INFORMATION), 144);
    assert.equal(koffi.sizeof(s.SECURITY_CAPABILITIES), 24);
    assert.equal(koffi.sizeof(s.EXPLICIT_ACCESS_W), 48);
    assert.equal(koffi.sizeof(s.FWP_VALUE0), 16);
  });

  it('every struct, member offset, member size and constant matches mingw-w64 windows.h', (t) => {
    if (!haveCc) {
      t.skip(`${CC} not installed (apt-get install mingw-w64); layout asserts not compiled`);
      return;
    }
    const { source, count } = layoutAssertions();
    const r = compile(source);
    assert.ok(r.ok, r.stderr);
    t.diagnostic(`${count} _Static_asserts compiled against mingw-w64 headers`);
    assert.ok(count > 250, `${count} assertions`);
  });

  it('a deliberately wrong size fails to compile (the asserts are live)', (t) => {
    if (!haveCc) {
      t.skip(`${CC} not installed (apt-get install mingw-w64)`);
      return;
    }
    const r = compile(layoutAssertions({ breakOne: true }).source);
    assert.equal(r.ok, false);
    assert.match(r.stderr, /static assertion failed/);
  });
});

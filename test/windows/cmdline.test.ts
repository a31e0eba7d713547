// cordon tests – Windows command-line quoting, program lookup without cwd, and the environment block.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { commandLine, envBlock, getEnv, quoteArg, resolveProgram } from '../../dist/windows/cmdline.js';

/** CommandLineToArgvW's rules (MSVC CRT 2008+), to check that quoting round-trips. */
function parse(cmd: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < cmd.length) {
    while (cmd[i] === ' ' || cmd[i] === '\t') i++;
    if (i >= cmd.length) break;
    let arg = '';
    let quoted = false;
    for (; i < cmd.length; i++) {
      const ch = cmd[i]!;
      if (!quoted && (ch === ' ' || ch === '\t')) break;
      if (ch === '\\') {
        let n = 0;
        while (cmd[i] === '\\') { n++; i++; }
        if (cmd[i] === '"') {
          arg += '\\'.repeat(Math.floor(n / 2));
          if (n % 2 === 1) arg += '"';
          else quoted = !quoted;
        } else {
          arg += '\\'.repeat(n);
          i--;
        }
      } else if (ch === '"') {
        if (quoted && cmd[i + 1] === '"') { arg += '"'; i++; } else quoted = !quoted;
      } else arg += ch;
    }
    out.push(arg);
  }
  return out;
}

describe('windows command line', () => {
  it('leaves plain arguments alone and quotes the rest', () => {
    assert.equal(quoteArg('git'), 'git');
    assert.equal(quoteArg(''), '""');
    assert.equal(quoteArg('a b'), '"a b"');
    assert.equal(quoteArg('say "hi"'), '"say \\"hi\\""');
    assert.equal(quoteArg('C:\\dir with space\\'), '"C:\\dir with space\\\\"');
  });

  it('round-trips awkward arguments through the CRT rules', () => {
    const argv = ['prog', '', 'a b', 'tab\there', 'q"uote', 'back\\\\"slash', 'end\\', 'end space\\', '\\\\server\\share', '%PATH%', '^&|<>'];
    assert.deepEqual(parse(commandLine(argv)), argv);
  });

  it('rejects NUL', () => {
    assert.throws(() => quoteArg('a\0b'), /NUL/);
  });
});

describe('windows program lookup', () => {
  const files = new Set(['C:\\bin\\git.exe', 'C:\\proj\\git.exe', 'C:\\bin\\npm.cmd', 'C:\\proj\\tool.exe']);
  const o = { cwd: 'C:\\proj', path: 'C:\\bin;relative\\dir', pathext: '.COM;.EXE;.BAT;.CMD', isFile: (p: string) => files.has(p) };

  it('searches PATH only, never the current directory, for bare names', () => {
    assert.deepEqual(resolveProgram('git', o), { kind: 'exe', path: 'C:\\bin\\git.exe' });
    assert.deepEqual(resolveProgram('tool', o), { kind: 'missing' });
  });

  it('takes names with a separator relative to cwd', () => {
    assert.deepEqual(resolveProgram('.\\tool', o), { kind: 'exe', path: 'C:\\proj\\tool.exe' });
    assert.deepEqual(resolveProgram('C:\\bin\\git.exe', o), { kind: 'exe', path: 'C:\\bin\\git.exe' });
  });

  it('reports batch files instead of running them implicitly', () => {
    assert.deepEqual(resolveProgram('npm', o), { kind: 'batch', path: 'C:\\bin\\npm.cmd' });
  });
});

describe('windows environment block', () => {
  it('is sorted ignoring case, de-duplicated ignoring case, double-NUL terminated UTF-16LE', () => {
    const b = envBlock({ b: '2', Path: 'C:\\x', A: '1', PATH: 'C:\\y', 'Ünï': 'ç' });
    assert.equal(b.toString('utf16le'), 'A=1\0b=2\0PATH=C:\\y\0Ünï=ç\0\0');
  });

  it('an empty environment is two NULs', () => {
    assert.equal(envBlock({}).toString('utf16le'), '\0\0');
  });

  it('rejects names with = or NUL', () => {
    assert.throws(() => envBlock({ 'A=B': '1' }));
    assert.throws(() => envBlock({ A: 'x\0y' }));
  });

  it('looks names up ignoring case', () => {
    assert.equal(getEnv({ Path: 'p' }, 'PATH'), 'p');
    assert.equal(getEnv({}, 'PATH'), undefined);
  });
});

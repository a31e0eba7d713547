// cordon tests – the setuid/setgid guard for root callers: the bits are refused on chmod; creation
// stays a plain, cacheable allow (the kernel clears the bits on any content change: the real-sandbox
// test in test/linux/filesystem.test.ts proves it); every other caller's filter unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SECCOMP_RET_ALLOW, SECCOMP_RET_USER_NOTIF } from '../../dist/linux/seccomp/bpf.js';
import { generateFilter } from '../../dist/linux/seccomp/generate.js';
import { validateProgram } from '../../dist/linux/seccomp/interpreter.js';
import { filters, nr, x64 } from './helpers.js';

const guarded = generateFilter({ network: 'none', guardSetid: true });
const O_CREAT = 0o100n;
const O_TMPFILE = 0o20200000n;
const AT_FDCWD = 0xffffff9cn;

test('root callers: setuid/setgid bits are refused on chmod; open/openat/creat/mknod stay cacheable allows', () => {
  assert.deepEqual(validateProgram(guarded.insns), []);
  const deny = SECCOMP_RET_USER_NOTIF;
  const allow = SECCOMP_RET_ALLOW;
  assert.equal(x64('chmod', [0n, 0o4755n], guarded), deny);
  assert.equal(x64('chmod', [0n, 0o755n], guarded), allow);
  assert.equal(x64('fchmod', [3n, 0o2775n], guarded), deny);
  assert.equal(x64('fchmodat', [AT_FDCWD, 0n, 0o4711n], guarded), deny);
  assert.equal(x64('fchmodat2', [AT_FDCWD, 0n, 0o4711n, 0n], guarded), deny);
  for (const name of ['open', 'openat', 'openat2', 'creat', 'mknod', 'mknodat']) {
    assert.equal(guarded.policy.get(nr(name))?.action.kind, 'allow', `${name} is decided by number alone`);
  }
  assert.equal(x64('openat', [AT_FDCWD, 0n, O_CREAT, 0o4755n], guarded), allow);
  assert.equal(x64('openat', [AT_FDCWD, 0n, O_TMPFILE, 0o4700n], guarded), allow);
});

test('callers other than root keep openat, chmod and friends as plain, cacheable allows', () => {
  for (const name of ['openat', 'open', 'chmod', 'fchmod', 'fchmodat', 'creat']) {
    assert.equal(x64(name, [AT_FDCWD, 0n, O_CREAT, 0o4755n], filters.notify), SECCOMP_RET_ALLOW, name);
  }
});

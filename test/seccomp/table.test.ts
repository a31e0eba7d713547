// The syscall table and the policy's coverage of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SYSCALLS_X86_64 } from '../../dist/linux/seccomp/syscalls-x86_64.js';
import { MAX_SYSCALL, syscallName, syscallNumber, syscallPolicy } from '../../dist/linux/seccomp/policy.js';
import { buildSeccompFilter } from '../../dist/linux/seccomp/index.js';

test('table: known numbers', () => {
  const known: Record<string, number> = {
    read: 0, write: 1, getpid: 39, socket: 41, clone: 56, fork: 57, execve: 59, ptrace: 101, personality: 135,
    prctl: 157, unshare: 272, perf_event_open: 298, bpf: 321, uretprobe: 335, uprobe: 336, io_uring_setup: 425,
    clone3: 435, close_range: 436, landlock_restrict_self: 446, futex_waitv: 449, cachestat: 451, fchmodat2: 452,
    map_shadow_stack: 453, futex_wake: 454, futex_wait: 455, futex_requeue: 456, statmount: 457, listmount: 458,
    lsm_get_self_attr: 459, lsm_set_self_attr: 460, lsm_list_modules: 461, mseal: 462, setxattrat: 463,
    getxattrat: 464, listxattrat: 465, removexattrat: 466, open_tree_attr: 467, file_getattr: 468, file_setattr: 469,
  };
  for (const [name, n] of Object.entries(known)) {
    assert.equal(syscallNumber(name), n, name);
    assert.equal(syscallName(n), name, String(n));
  }
  assert.equal(MAX_SYSCALL, 469);
  assert.throws(() => syscallNumber('socketcall'), /unknown x86-64 syscall/); // i386 only
});

test('table: sorted, names and numbers unique, no x32 numbers', () => {
  const names = new Set<string>();
  const nrs = new Set<number>();
  let prev = -1;
  for (const [name, n] of SYSCALLS_X86_64) {
    assert.ok(n > prev, `${name} (${n}) out of order`);
    prev = n;
    assert.ok(!names.has(name) && !nrs.has(n), `${name} ${n} twice`);
    names.add(name);
    nrs.add(n);
    assert.ok(n < 512, `${name}: ${n} is in the x32 range`);
  }
  assert.ok(SYSCALLS_X86_64.length > 370, `only ${SYSCALLS_X86_64.length} syscalls`);
});

test('policy: every syscall in the table has exactly one decision', () => {
  for (const network of ['none', 'allowlist', 'host'] as const) {
    const policy = syscallPolicy({ network });
    const missing = SYSCALLS_X86_64.filter(([, n]) => !policy.has(n)).map(([name]) => name);
    assert.deepEqual(missing, [], `syscalls without a decision (network ${network})`);
    assert.equal(policy.size, SYSCALLS_X86_64.length);
  }
  assert.throws(() => syscallPolicy({ network: 'bogus' as 'none' }), /unknown network mode/);
});

test('buildSeccompFilter: notifyErrno, cached, copies', () => {
  const a = buildSeccompFilter({ network: 'none' });
  assert.deepEqual(a.notifyErrno, [[425, 38], [426, 38], [427, 38]]);
  assert.equal(a.program.length % 8, 0);
  a.program.fill(0);
  a.notifyErrno.length = 0;
  const b = buildSeccompFilter({ network: 'none' });
  assert.notEqual(b.program.readUInt32LE(4), 0, 'mutating a result must not touch the cache');
  assert.equal(b.notifyErrno.length, 3);
  // The same bytes for every network mode today (the mode is an input for later rules).
  assert.deepEqual(buildSeccompFilter({ network: 'host' }).program, b.program);
  assert.notDeepEqual(buildSeccompFilter({ network: 'none', denyAction: 'errno' }).program, b.program);
});

// The generated filter on the real kernel, in isolation (no sandbox around it): a small C helper
// installs it with plain seccomp() (the `errno` variant: no listener needed) and makes one syscall.
// Every attack has a positive control: the same call without the filter gets through to the kernel.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildSeccompFilter } from '../../dist/linux/seccomp/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const source = path.join(root, 'test', 'seccomp', 'try-syscall.c');

let dir = '';
let helper = '';
let unavailable: string | undefined; // why the helper could not be built
const filter = { errno: '', notify: '' };

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cordon-seccomp-'));
  helper = path.join(dir, 'try-syscall');
  const cc = spawnSync('cc', ['-O2', '-o', helper, source], { encoding: 'utf8' });
  if (cc.error) unavailable = `no C compiler (cc: ${cc.error.message})`;
  else if (cc.status !== 0) unavailable = `cc failed: ${cc.stderr}`;
  filter.errno = path.join(dir, 'filter-errno.bpf');
  filter.notify = path.join(dir, 'filter-notify.bpf');
  writeFileSync(filter.errno, buildSeccompFilter({ network: 'none', denyAction: 'errno' }).program);
  writeFileSync(filter.notify, buildSeccompFilter({ network: 'none' }).program);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  /** `ok <n>`, `err <errno>`, `killed <SIGNAL>`, or `failed <status>: <stderr>` for a helper error. */
  text: string;
  ok: boolean;
  errno?: number;
  signal?: string;
}

function outcome(r: SpawnSyncReturns<string>): Outcome {
  if (r.signal) return { text: `killed ${r.signal}`, ok: false, signal: r.signal };
  const out = r.stdout.trim();
  if (r.status !== 0) return { text: `failed ${r.status}: ${r.stderr.trim()}`, ok: false };
  const m = /^(ok|err) (-?\d+)$/.exec(out);
  if (!m) return { text: `unexpected output: ${out}`, ok: false };
  return m[1] === 'ok' ? { text: out, ok: true } : { text: out, ok: false, errno: Number(m[2]) };
}

function attempt(action: string, withFilter: 'none' | 'errno' | 'notify', userns = false): Outcome {
  const args = [...(userns ? ['--userns'] : []), withFilter === 'none' ? '-' : filter[withFilter], action];
  return outcome(spawnSync(helper, args, { encoding: 'utf8', timeout: 20_000 }));
}

/** Skips (with the reason printed) unless the helper exists; returns false when skipped. */
function ready(t: TestContext): boolean {
  if (unavailable) t.skip(unavailable);
  return !unavailable;
}

/** The positive control: without the filter the kernel does it. Skips with the reason otherwise. */
function control(t: TestContext, action: string, userns: boolean, accept: (o: Outcome) => boolean, what: string): boolean {
  const o = attempt(action, 'none', userns);
  if (accept(o)) return true;
  t.skip(`positive control failed on this machine (${what}; unfiltered ${action}${userns ? ' in a new user+net namespace' : ''}: ${o.text})`);
  return false;
}

const ENOSYS = 38;
const EPERM = 1;
const succeeds = (o: Outcome): boolean => o.ok;

// --- what must keep working --------------------------------------------------------------------
for (const action of ['getpid', 'fork', 'clone_thread_flags', 'socket_unix', 'socket_inet_stream', 'personality_query']) {
  test(`allowed under the filter: ${action}`, (t) => {
    if (!ready(t)) return;
    assert.ok(attempt(action, 'none').ok, 'control');
    const o = attempt(action, 'errno');
    assert.ok(o.ok, `${action} under the filter: ${o.text}`);
  });
}

test('the production (notify) program is accepted by the kernel', (t) => {
  if (!ready(t)) return;
  assert.ok(attempt('getpid', 'notify').ok);
  // Without a listener the kernel answers USER_NOTIF with ENOSYS: the denial is in the program.
  assert.equal(attempt('ptrace_traceme', 'notify').errno, ENOSYS);
});

// --- denied, with a positive control each ------------------------------------------------------
const denials: Array<{ action: string; errno: number; userns?: boolean; why: string }> = [
  { action: 'ptrace_traceme', errno: EPERM, why: 'ptrace(PTRACE_TRACEME) works unfiltered' },
  { action: 'io_uring_setup', errno: ENOSYS, why: 'io_uring is enabled (kernel.io_uring_disabled = 0)' },
  { action: 'clone3', errno: ENOSYS, why: 'clone3 works unfiltered' },
  { action: 'unshare_user', errno: EPERM, why: 'unprivileged user namespaces are enabled' },
  { action: 'clone_newuser', errno: EPERM, why: 'unprivileged user namespaces are enabled' },
  { action: 'personality_norandom', errno: EPERM, why: 'personality(ADDR_NO_RANDOMIZE) works unfiltered' },
  // Packet and raw sockets need CAP_NET_RAW: a fresh user+net namespace gives it, so only the filter refuses.
  { action: 'socket_packet', errno: EPERM, userns: true, why: 'AF_PACKET with CAP_NET_RAW in a user namespace' },
  { action: 'socket_inet_raw', errno: EPERM, userns: true, why: 'SOCK_RAW with CAP_NET_RAW in a user namespace' },
  { action: 'socket_inet_packet', errno: EPERM, userns: true, why: 'SOCK_PACKET with CAP_NET_RAW in a user namespace' },
];
for (const d of denials) {
  test(`denied: ${d.action} → ${d.errno === EPERM ? 'EPERM' : 'ENOSYS'}`, (t) => {
    if (!ready(t) || !control(t, d.action, d.userns ?? false, succeeds, d.why)) return;
    const o = attempt(d.action, 'errno', d.userns ?? false);
    assert.equal(o.errno, d.errno, `${d.action} under the filter: ${o.text}`);
  });
}

test('killed: i386 getpid through int $0x80', (t) => {
  if (!ready(t) || !control(t, 'int80_getpid', false, succeeds, 'IA32 emulation is on')) return;
  assert.equal(attempt('int80_getpid', 'errno').signal, 'SIGSYS');
});

test('killed: x32 getpid (nr | 0x40000000)', (t) => {
  // Unfiltered it reaches the kernel: ENOSYS without CONFIG_X86_X32_ABI (this target), a pid with it.
  if (!ready(t) || !control(t, 'x32_getpid', false, (o) => o.ok || o.errno === ENOSYS, 'the call reaches the kernel')) return;
  assert.equal(attempt('x32_getpid', 'errno').signal, 'SIGSYS');
});

test('unknown syscall numbers answer ENOSYS, like the kernel', (t) => {
  if (!ready(t)) return;
  assert.equal(attempt('unknown_syscall', 'none').errno, ENOSYS);
  assert.equal(attempt('unknown_syscall', 'errno').errno, ENOSYS);
});

// --- everyday tools under the filter ---------------------------------------------------------------
/** Runs argv plainly, then under the filter, each in a fresh directory `prepare` fills; same output. */
function tool(t: TestContext, probe: string[], argv: string[], prepare: (cwd: string) => void = () => {}): void {
  const p = spawnSync(probe[0]!, probe.slice(1), { encoding: 'utf8' });
  if (p.error || p.status !== 0) {
    t.skip(`${probe[0]} is not usable here (${p.error?.message ?? p.stderr.trim()})`);
    return;
  }
  const cwd = [scratch(), scratch()];
  for (const d of cwd) prepare(d);
  const plain = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: cwd[0], timeout: 60_000 });
  assert.equal(plain.status, 0, `control: ${plain.stderr}`);
  const r = spawnSync(helper, [filter.errno, 'exec', ...argv], { encoding: 'utf8', cwd: cwd[1], timeout: 60_000 });
  assert.equal(r.signal, null, `killed: ${r.stderr}`);
  assert.equal(r.status, 0, `under the filter: ${r.stderr}`);
  assert.equal(r.stdout, plain.stdout);
}

function scratch(): string {
  return mkdtempSync(path.join(dir, 'work-'));
}

test('tools work under the filter: sh, coreutils, a pipeline', (t) => {
  if (!ready(t)) return;
  tool(t, ['sh', '-c', 'true'], ['sh', '-c', 'mkdir -p a/b && echo x > a/b/f && cat a/b/f | tr x y && ls -la a | wc -l && sort -r < a/b/f && mktemp -d -p . >/dev/null && rm -r a && echo done']);
});

test('tools work under the filter: node (child processes, worker threads, fs, net on loopback)', (t) => {
  if (!ready(t)) return;
  const script = `
    const cp = require('node:child_process'); const fs = require('node:fs'); const net = require('node:net');
    const { Worker } = require('node:worker_threads');
    fs.writeFileSync('f.txt', 'hello'); process.stdout.write(cp.execFileSync('cat', ['f.txt']) + '\\n');
    new Worker('require("node:worker_threads").parentPort.postMessage(6*7)', { eval: true }).on('message', (m) => {
      console.log('worker', m);
      const srv = net.createServer((s) => s.end('pong')).listen(0, '127.0.0.1', () => {
        net.connect(srv.address().port, '127.0.0.1').on('data', (d) => { console.log(String(d)); srv.close(); });
      });
    });`;
  tool(t, [process.execPath, '-e', '0'], [process.execPath, '-e', script]);
});

test('tools work under the filter: python asyncio and subprocess', (t) => {
  if (!ready(t)) return;
  const script = [
    'import asyncio, subprocess, tempfile, os',
    'async def main():',
    '    p = await asyncio.create_subprocess_exec("echo", "sub", stdout=asyncio.subprocess.PIPE)',
    '    out, _ = await p.communicate()',
    '    print(out.decode().strip(), await asyncio.sleep(0, result=42))',
    'asyncio.run(main())',
    'print(subprocess.run(["true"]).returncode, os.path.isdir(tempfile.mkdtemp()))',
  ].join('\n');
  tool(t, ['python3', '-c', 'import asyncio'], ['python3', '-c', script]);
});

test('tools work under the filter: git init/add/commit/log', (t) => {
  if (!ready(t)) return;
  const git = 'git init -q . && echo a > a && git add a && git -c user.name=t -c user.email=t@e commit -q -m one && git log --format=%s && git status --porcelain';
  tool(t, ['git', '--version'], ['sh', '-c', git]);
});

test('tools work under the filter: cc compiles and runs a program, make', (t) => {
  if (!ready(t)) return;
  const prepare = (cwd: string): void => {
    writeFileSync(path.join(cwd, 'm.c'), '#include <stdio.h>\n#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; void *r; pthread_create(&t, 0, f, (void *)7); pthread_join(t, &r); printf("%ld\\n", (long)r); return 0; }\n');
    writeFileSync(path.join(cwd, 'Makefile'), 'm: m.c\n\tcc -O1 -pthread -o m m.c\n');
  };
  tool(t, ['make', '--version'], ['sh', '-c', 'make -s && ./m && rm m'], prepare);
});

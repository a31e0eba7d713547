// cordon tests – the kernel attack surface in a real sandbox: denied syscalls (with violations), host
// processes, nested namespaces and mounts, network, inherited fds. Each attack has a host control.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';
import net from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';

import type { ExecResult, Sandbox } from '../../dist/index.js';
import { hasUnshare, host, hostRefusal, isRoot, makeWorld, repoRoot, type World } from './fixture.js';

const out = (r: ExecResult) => r.stdout.toString();

/**
 * The positive control's verdict, taken after the sandboxed checks: a host whose own kernel settings
 * refuse the attack (hostRefusal) skips with that reason printed; any other failed control fails.
 */
function expectControl(t: TestContext, attack: string, c: SpawnSyncReturns<string>, worked: boolean, what: string): void {
  if (worked) return;
  const why = hostRefusal(attack, c);
  if (!why) assert.fail(`control: ${what}: status ${c.status} signal ${c.signal}: ${c.stdout}${c.stderr}`);
  t.skip(`the sandboxed checks passed, but the positive control cannot run on this host: ${why}`);
}

describe('kernel surface', () => {
  let w: World;
  let sb: Sandbox;
  let sentinel: ChildProcess;
  before(async () => {
    w = makeWorld();
    sb = await w.sandbox();
    sentinel = spawn('sleep', ['300'], { stdio: 'ignore' });
  });
  after(() => {
    sentinel.kill('SIGKILL');
    sb.close();
    w.cleanup();
  });

  // [attack, expected errno inside, syscall named in the violation, control argv prefix or undefined]
  const denied: Array<[string, string, string, string[] | undefined]> = [
    ['io-uring', 'ENOSYS', 'io_uring_setup', []],
    ['unshare-user', 'EPERM', 'unshare', []],
    ['unshare-mount', 'EPERM', 'unshare', hasUnshare ? ['unshare', '-Ur'] : undefined],
    ['clone-newuser', 'EPERM', 'clone', []],
    ['setns', 'EPERM', 'setns', hasUnshare ? ['unshare', '-Urn'] : undefined],
    ['keyctl', 'EPERM', 'add_key', []],
    ['perf', 'EPERM', 'perf_event_open', []],
    ['userfaultfd', 'EPERM', 'userfaultfd', []],
    ['process-vm-readv', 'EPERM', 'process_vm_readv', []],
    ['bpf', 'EPERM', 'bpf', isRoot ? [] : undefined],
    ['socket-packet', 'EPERM', 'socket', hasUnshare ? ['unshare', '-Urn'] : undefined],
    ['socket-raw', 'EPERM', 'socket', hasUnshare ? ['unshare', '-Urn'] : undefined],
  ];
  for (const [attack, errno, syscall, control] of denied) {
    it(`${attack} is denied with ${errno} and reported as a ${syscall} violation`, async (t) => {
      const r = await sb.exec([w.attack, attack]);
      assert.match(out(r), new RegExp(`${attack}: ${errno}`), out(r));
      assert.ok(
        r.violations.some((v) => v.kind === 'syscall' && v.what === syscall),
        `violations: ${JSON.stringify(r.violations)}`,
      );
      if (!control) {
        t.diagnostic(`no positive control for ${attack} as this user (needs root)`);
        return;
      }
      const c = host([...control, w.attack, attack]);
      expectControl(t, attack, c, c.status === 0, `${attack} works on the host`);
    });
  }

  it('clone3 answers ENOSYS (glibc falls back to clone) and fork/threads still work', async () => {
    const r = await sb.exec([w.attack, 'clone3']);
    assert.match(out(r), /clone3: ENOSYS/);
    assert.equal(host([w.attack, 'clone3']).status, 0, 'control: clone3 works on the host');
    const py = await sb.exec(['/usr/bin/python3', '-c', 'import threading,os; t=threading.Thread(target=print,args=("thread",)); t.start(); t.join(); pid=os.fork()\nif pid==0: os._exit(7)\nprint(os.waitpid(pid,0)[1]>>8)']);
    assert.equal(out(py), 'thread\n7\n', py.stderr.toString());
  });

  it('i386 int 0x80 kills the process (control: works on the host)', async (t) => {
    const r = await sb.exec([w.attack, 'int80']);
    assert.equal(r.signal, 'SIGSYS');
    assert.ok(r.violations.some((v) => v.kind === 'syscall' && /i386|x32/.test(v.what)));
    const c = host([w.attack, 'int80']);
    expectControl(t, 'int80', c, c.status === 0, 'int 0x80 works on the host');
  });

  it('x32 syscall numbers kill the process (control: the host kernel answers ENOSYS, the process lives)', async () => {
    const r = await sb.exec([w.attack, 'x32']);
    assert.equal(r.signal, 'SIGSYS');
    const c = host([w.attack, 'x32']);
    assert.equal(c.signal, null);
  });

  it('host processes are invisible: no kill, ptrace or /proc (control: all work on the host)', async (t) => {
    const pid = String(sentinel.pid);
    assert.equal(host([w.attack, 'kill', pid]).status, 0, 'control: kill(pid, 0) on the host');
    const c = host([w.attack, 'ptrace-attach', pid]);
    const kill = await sb.exec([w.attack, 'kill', pid]);
    assert.match(out(kill), /kill: ESRCH/);
    const pt = await sb.exec([w.attack, 'ptrace-attach', pid]);
    assert.doesNotMatch(out(pt), /: ok/);
    assert.ok(pt.violations.some((v) => v.what === 'ptrace'));
    const ls = await sb.exec(['sh', '-c', `ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '; echo; test -e /proc/${pid} && echo visible || echo hidden`]);
    const [count, , vis] = out(ls).split('\n');
    assert.ok(Number(count) < 10, `only sandbox pids are visible: ${count}`);
    assert.equal(vis, 'hidden');
    expectControl(t, 'ptrace-attach', c, c.status === 0, 'ptrace attach works on the host');
  });

  it('mounts cannot be changed: mount, umount of a mask, remount rw (control: works in a user namespace on the host)', async () => {
    for (const [attack, arg] of [['mount', '/tmp'], ['umount', `${w.home}/.ssh`], ['remount-rw', '/usr']] as const) {
      const r = await sb.exec([w.attack, attack, arg]);
      assert.match(out(r), new RegExp(`${attack}: EPERM`), out(r));
      assert.ok(r.violations.some((v) => v.kind === 'syscall'), JSON.stringify(r.violations));
    }
    if (hasUnshare) assert.equal(host(['unshare', '-Urm', w.attack, 'mount', '/tmp']).status, 0, 'control');
  });

  it('nested user namespaces via unshare(1) fail (control: unshare -U works on the host)', async (t) => {
    if (!hasUnshare) {
      t.skip('unshare(1) (util-linux) is not installed; the syscall-level unshare test above still runs');
      return;
    }
    assert.equal(host(['unshare', '-Ur', 'true']).status, 0);
    const r = await sb.exec(['unshare', '-Ur', 'true']);
    assert.notEqual(r.exitCode, 0);
  });

  it('/proc/sys is read-only even to a root-mapped caller', async () => {
    const r = await sb.exec([w.attack, 'write', '/proc/sys/kernel/hostname']);
    assert.doesNotMatch(out(r), /: ok/);
    const hn = await sb.exec(['cat', '/proc/sys/kernel/hostname']);
    assert.equal(out(hn), 'cordon\n');
  });

  it('no network: host loopback services are unreachable (control: reachable on the host)', async () => {
    const server = net.createServer((s) => s.end('hi'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = String((server.address() as net.AddressInfo).port);
    try {
      const c = host([w.attack, 'connect', '127.0.0.1', port]);
      assert.equal(c.status, 0, 'control: connect works on the host');
      const r = await sb.exec([w.attack, 'connect', '127.0.0.1', port]);
      assert.match(out(r), /connect: ECONNREFUSED/);
      const udp = await sb.exec([w.attack, 'udp', '8.8.8.8', '53']);
      assert.match(out(udp), /udp: ENETUNREACH/);
      const links = await sb.exec(['cat', '/proc/net/dev']);
      const ifaces = out(links).split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]);
      assert.deepEqual(ifaces, ['lo']);
    } finally {
      server.close();
    }
  });

  it('inherited fds are closed (control: an extra fd reaches a host child)', async () => {
    const c = spawn(w.attack, ['fds'], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    let text = '';
    c.stdout!.on('data', (d) => (text += d));
    await new Promise((resolve) => c.on('close', resolve));
    assert.match(text, /inherited fd 3/, 'control');
    const r = await sb.exec([w.attack, 'fds']);
    assert.match(out(r), /fds: ENOENT/, out(r));
  });

  it('no controlling terminal: /dev/tty cannot be opened and TIOCSTI has no target', async () => {
    const r = await sb.exec([w.attack, 'open-tty']);
    assert.match(out(r), /open-tty: ENXIO/);
    const s = await sb.exec([w.attack, 'tiocsti']);
    assert.doesNotMatch(out(s), /: ok/);
  });

  it('TIOCSTI cannot inject into the caller\'s terminal (pty harness; control: it can without cordon)', (t) => {
    const python = host(['python3', '--version']);
    if (python.status !== 0) {
      t.skip('python3 not installed: the pty harness needs it');
      return;
    }
    const harness = path.join(repoRoot, 'test', 'fixtures', 'pty-harness.py');
    const control = host(['python3', harness, w.attack, 'tiocsti']);
    if (!/@/.test(control.stdout)) {
      t.skip(`this kernel refuses TIOCSTI even outside a sandbox (dev.tty.legacy_tiocsti=0?): ${control.stdout.trim()}`);
      return;
    }
    const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
    for (const target of [[], ['/dev/tty']]) {
      const r = spawnSync('python3', [harness, process.execPath, cli, 'run', '--', w.attack, 'tiocsti', ...target], {
        cwd: w.ws,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: w.home },
        timeout: 30_000,
      });
      const got = r.stdout.trim().split('\n').at(-1) ?? '';
      assert.doesNotMatch(got, /@/, `nothing injected into the terminal: ${got}`);
      assert.doesNotMatch(got, /tiocsti: ok/);
    }
  });

  it('capabilities are all dropped and no_new_privs is set', async () => {
    const r = await sb.exec(['sh', '-c', 'grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status']);
    const s = out(r);
    for (const cap of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) assert.match(s, new RegExp(`${cap}:\\s+0000000000000000`));
    assert.match(s, /NoNewPrivs:\s+1/);
    assert.match(s, /Seccomp:\s+2/);
  });
});

// cordon tests – red-team regressions (docs/security-review.md): escapes found and fixed, and attacks
// that hold but were not covered by test/linux. Every attack runs in a real sandbox and, as a positive
// control, the same attack is shown to work without it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { ExecResult, Sandbox } from '../../dist/index.js';
import { hasUnshare, host, makeWorld, repoRoot, type World } from '../linux/fixture.js';

const out = (r: ExecResult) => r.stdout.toString();
const PY = '/usr/bin/python3';

// One python program, many attacks: `probe.py NAME [ARG]` prints "NAME: ok" or "NAME: ERRNO".
const PROBE = String.raw`
import ctypes, errno, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(*a): return libc.syscall(*[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
name = sys.argv[1]; arg = sys.argv[2] if len(sys.argv) > 2 else ''
def report(rc):
    if rc < 0:
        e = ctypes.get_errno()
        print('%s: %s' % (name, errno.errorcode.get(e, e))); sys.exit(1)
    print('%s: ok' % name); sys.exit(0)
def oserr(fn):
    try: fn()
    except OSError as e: print('%s: %s' % (name, errno.errorcode.get(e.errno, e.errno))); sys.exit(1)
    print('%s: ok' % name); sys.exit(0)
if name == 'seccomp-listener':
    # A filter of our own with a listener: whoever holds it could answer cordon's denials with CONTINUE.
    ins = struct.pack('HBBI', 0x20, 0, 0, 0) + struct.pack('HBBI', 0x15, 0, 1, 39) + \
          struct.pack('HBBI', 0x06, 0, 0, 0x7fc00000) + struct.pack('HBBI', 0x06, 0, 0, 0x7fff0000)
    buf = ctypes.create_string_buffer(ins)
    prog = ctypes.create_string_buffer(struct.pack('HxxxxxxQ', 4, ctypes.addressof(buf)))
    libc.prctl(38, 1, 0, 0, 0)
    report(sc(317, 1, 8, prog))  # seccomp(SET_MODE_FILTER, NEW_LISTENER)
if name == 'clone-newuser-high':
    pid = sc(56, (1 << 32) | 0x10000000 | 17, 0, 0, 0, 0)  # CLONE_NEWUSER|SIGCHLD, junk in the high half
    if pid == 0: os._exit(0)
    if pid > 0: os.waitpid(pid, 0)
    report(pid)
if name == 'socket-packet-high':
    report(sc(41, (1 << 32) | 17, 3, 0))  # AF_PACKET with junk in the high half
if name == 'personality':
    report(sc(135, 0x0040000))  # ADDR_NO_RANDOMIZE
if name == 'proc-write':
    oserr(lambda: os.write(os.open(arg, os.O_WRONLY), b'1000'))
if name == 'proc-mem-rw':
    oserr(lambda: os.close(os.open(arg, os.O_RDWR)))
if name == 'abstract-connect':
    def go():
        s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect('\0' + arg)
    oserr(go)
if name == 'unix-connect':
    def go():
        s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(arg)
    oserr(go)
if name == 'read-fds':
    # Reopen every fd another process holds, without blocking on pipes, and print what they give.
    for fd in os.listdir(arg):
        try:
            f = os.open(os.path.join(arg, fd), os.O_RDONLY | os.O_NONBLOCK)
            sys.stdout.write(os.read(f, 200).decode(errors='replace'))
        except OSError: pass
    sys.exit(0)
print('unknown attack', name); sys.exit(2)
`;

describe('red-team regressions', () => {
  let w: World;
  let sb: Sandbox;
  let probe: string;
  before(async () => {
    w = makeWorld();
    probe = path.join(w.home, 'bin', 'probe.py');
    writeFileSync(probe, PROBE);
    const files: Record<string, string> = {
      '.pgpass': 'db:5432:*:me:SECRET\n',
      '.my.cnf': '[client]\npassword=SECRET\n',
      '.local/share/fish/fish_history': '- cmd: export TOKEN=SECRET\n',
      '.config/containers/auth.json': '{"auths":{"r":{"auth":"SECRET"}}}\n',
      '.codex/auth.json': '{"key":"SECRET"}\n',
      '.mozilla/firefox/p/cookies.sqlite': 'SECRET\n',
    };
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(w.home, rel)), { recursive: true });
      writeFileSync(path.join(w.home, rel), content);
    }
    sb = await w.sandbox();
  });
  after(() => w.cleanup());

  const run = (argv: string[]) => sb.exec([PY, probe, ...argv]);
  const onHost = (argv: string[]) => host([PY, probe, ...argv]);

  // Finding F1 (fixed in init.cc): init kept every fd the caller leaked to the launcher, and the command
  // could reopen pipes and files among them through /proc/1/fd, e.g. a host file no mount shows.
  it('init holds no fd the caller leaked, so /proc/1/fd reaches nothing of the host (control: reachable from a host child)', async () => {
    const secret = path.join(w.root, 'outside.txt'); // neither in the workspace nor in home: not mounted
    writeFileSync(secret, 'HOSTSECRET\n');
    const script = `
      import { Sandbox } from ${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))};
      import { spawnSync } from 'node:child_process';
      if (process.argv[1] === 'host') {
        spawnSync('cat', ['/proc/' + process.pid + '/fd/200'], { stdio: ['ignore', 'inherit', 'ignore'] });
      } else {
        const sb = await Sandbox.create({ workspace: ${JSON.stringify(w.ws)}, home: ${JSON.stringify(w.home)}, prespawn: false });
        const r = await sb.exec([${JSON.stringify(PY)}, ${JSON.stringify(probe)}, 'read-fds', '/proc/1/fd'], { timeout: 20000 });
        process.stdout.write(r.stdout);
        sb.close();
      }`;
    const caller = (mode: string) =>
      new Promise<string>((resolve) => {
        // fd 200 of the caller: a file its own parent left open for it, without close-on-exec (Node marks
        // only the fds up to the first gap after 15 close-on-exec at startup; a shell's high fds survive).
        const c = spawn('bash', ['-c', 'exec "$0" --input-type=module -e "$1" "$2" 200<"$3"', process.execPath, script, mode, secret], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        c.stdout!.on('data', (d: Buffer) => (text += d.toString()));
        c.on('close', () => resolve(text));
      });
    assert.equal(await caller('host'), 'HOSTSECRET\n', "control: a host process reads the caller's fd 200 through /proc");
    assert.doesNotMatch(await caller('sandbox'), /HOSTSECRET/, "the sandbox read a host file through init's fds");
  });

  // Finding F2 (fixed in defaults.ts): credentials outside the built-in list were readable.
  it('more credential files in home are masked (control: readable on the host)', async () => {
    for (const rel of ['.pgpass', '.my.cnf', '.local/share/fish/fish_history', '.config/containers/auth.json', '.codex/auth.json', '.mozilla/firefox/p/cookies.sqlite']) {
      const file = path.join(w.home, rel);
      assert.match(host(['cat', file]).stdout, /SECRET/, `control: ${rel} readable on the host`);
      const r = await sb.exec(['cat', file]);
      assert.doesNotMatch(out(r), /SECRET/, `${rel} leaked`);
      assert.notEqual(r.exitCode, 0);
    }
  });

  it('a path socket of a known SSH agent in home is masked (control: connectable on the host)', async () => {
    const dir = path.join(w.home, '.1password');
    mkdirSync(dir, { recursive: true });
    const sockPath = path.join(dir, 'agent.sock');
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.end('agent');
    });
    await new Promise<void>((resolve) => server.listen(sockPath, resolve));
    try {
      const fresh = await w.sandbox({ prespawn: false });
      assert.match(onHost(['unix-connect', sockPath]).stdout, /unix-connect: ok/, 'control');
      const r = await fresh.exec([PY, probe, 'unix-connect', sockPath]);
      assert.doesNotMatch(out(r), /: ok/, out(r));
      fresh.close();
    } finally {
      server.close();
    }
  });

  it('a command cannot install its own seccomp listener to answer cordon\'s denials (control: it can on the host)', async () => {
    assert.match(onHost(['seccomp-listener']).stdout, /seccomp-listener: ok/, 'control');
    const r = await run(['seccomp-listener']);
    assert.match(out(r), /seccomp-listener: EBUSY/, out(r));
  });

  it('argument checks ignore junk in the high half: clone NEWUSER, socket AF_PACKET (controls: work on the host / in a user ns)', async () => {
    assert.match(onHost(['clone-newuser-high']).stdout, /: ok/, 'control: clone(CLONE_NEWUSER) works on the host');
    const c = await run(['clone-newuser-high']);
    assert.match(out(c), /clone-newuser-high: EPERM/, out(c));
    assert.ok(c.violations.some((v) => v.what === 'clone'), JSON.stringify(c.violations));
    const s = await run(['socket-packet-high']);
    assert.match(out(s), /socket-packet-high: EPERM/, out(s));
    assert.ok(s.violations.some((v) => v.what === 'socket'), JSON.stringify(s.violations));
    if (hasUnshare) assert.equal(host(['unshare', '-Urn', PY, probe, 'socket-packet-high']).status, 0, 'control: AF_PACKET in a user+net ns');
  });

  it('personality flags are denied (control: the host allows them)', async () => {
    assert.match(onHost(['personality']).stdout, /: ok/, 'control');
    const r = await run(['personality']);
    assert.match(out(r), /personality: EPERM/);
    assert.ok(r.violations.some((v) => v.what === 'personality'), JSON.stringify(r.violations));
  });

  it('/proc writes are refused (read-only /proc): oom_score_adj, init\'s memory, own memory (control: allowed on the host)', async () => {
    assert.match(onHost(['proc-write', '/proc/self/oom_score_adj']).stdout, /: ok/, 'control');
    assert.match(onHost(['proc-mem-rw', '/proc/self/mem']).stdout, /: ok/, 'control');
    assert.match(out(await run(['proc-write', '/proc/self/oom_score_adj'])), /proc-write: EROFS/);
    // init is not dumpable: a caller that is not root is refused before the mount is looked at
    assert.match(out(await run(['proc-mem-rw', '/proc/1/mem'])), /proc-mem-rw: (EROFS|EACCES)/);
    assert.match(out(await run(['proc-mem-rw', '/proc/self/mem'])), /proc-mem-rw: EROFS/);
  });

  it('abstract unix sockets of the host are unreachable (control: reachable on the host)', async () => {
    const name = `cordon-escape-${process.pid}`;
    const server = spawn(PY, ['-c', `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind("\\0${name}")\ns.listen(8)\nprint("ready",flush=True)\nsys.stdin.read()`], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => server.stdout!.on('data', () => resolve()));
    try {
      assert.match(onHost(['abstract-connect', name]).stdout, /abstract-connect: ok/, 'control');
      const r = await run(['abstract-connect', name]);
      assert.match(out(r), /abstract-connect: (ECONNREFUSED|EPERM)/, out(r));
    } finally {
      server.kill('SIGKILL');
    }
  });
});

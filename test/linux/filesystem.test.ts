// cordon tests – filesystem enforcement in a real sandbox: allow, deny, protected, masked, links, host unchanged.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { CordonError, type Sandbox } from '../../dist/index.js';
import { loadBench } from '../reliability/helpers.js';
import { host, isRoot, makeWorld, withWorld, type World } from './fixture.js';

describe('filesystem', () => {
  let w: World;
  let sb: Sandbox;
  before(async () => {
    w = makeWorld();
    sb = await w.sandbox();
  });
  after(() => {
    sb.close();
    w.cleanup();
  });

  it('the workspace is writable and the write lands on the host', async () => {
    const r = await sb.exec([w.attack, 'write', path.join(w.ws, 'out.txt')]);
    assert.equal(r.exitCode, 0, r.stdout.toString());
    assert.equal(readFileSync(path.join(w.ws, 'out.txt'), 'utf8'), 'pwned\n');
  });

  it('home is readable but not writable (control: writable on the host)', async () => {
    const target = path.join(w.home, 'planted.txt');
    const r = await sb.exec([w.attack, 'write', target]);
    assert.match(r.stdout.toString(), /EROFS/);
    assert.equal(existsSync(target), false, 'nothing was written on the host');
    const read = await sb.exec(['cat', path.join(w.home, 'notes.txt')]);
    assert.equal(read.stdout.toString(), 'harmless\n');
    const control = host([w.attack, 'write', target]);
    assert.equal(control.status, 0, 'control: the host path is writable');
  });

  it('system paths are read-only (control: the host /usr is writable as root or owner-only otherwise)', async () => {
    const r = await sb.exec([w.attack, 'write', '/usr/cordon-escape']);
    assert.match(r.stdout.toString(), /EROFS/);
    assert.equal(existsSync('/usr/cordon-escape'), false);
    assert.ok(r.violations.some((v) => v.kind === 'fs-write' && v.what === '/usr/cordon-escape') || /EROFS/.test(r.stdout.toString()));
  });

  it('credentials in home are masked (control: readable on the host)', async () => {
    for (const rel of ['.ssh/id_ed25519', '.aws/credentials', '.bash_history', '.npmrc']) {
      const file = path.join(w.home, rel);
      assert.equal(host([w.attack, 'read', file]).status, 0, `control: ${rel} readable on host`);
      const r = await sb.exec([w.attack, 'read', file]);
      assert.notEqual(r.exitCode, 0, `${rel} must not be readable: ${r.stdout.toString()}`);
      assert.doesNotMatch(r.stdout.toString(), /: ok/);
    }
    const ls = await sb.exec(['ls', '-A', path.join(w.home, '.ssh')]);
    assert.equal(ls.stdout.toString(), '', 'masked directories list as empty or not at all');
    assert.doesNotMatch(ls.stdout.toString() + ls.stderr.toString(), /id_ed25519/);
  });

  it('.env files in the workspace are masked (control: readable on the host)', async () => {
    for (const rel of ['.env', 'sub/.env.local']) {
      const file = path.join(w.ws, rel);
      assert.equal(host(['cat', file]).stdout, 'API_KEY=SECRET\n');
      const r = await sb.exec(['cat', file]);
      assert.notEqual(r.exitCode, 0);
      assert.doesNotMatch(r.stdout.toString(), /SECRET/);
    }
  });

  it('.env files of other projects in the home are masked (control: readable on the host)', async () => {
    for (const rel of ['other-project/.env', 'src/org/proj/.env.local']) {
      const file = path.join(w.home, rel);
      assert.equal(host(['cat', file]).stdout, 'API_KEY=SECRET\n', 'control');
      const r = await sb.exec(['cat', file]);
      assert.doesNotMatch(r.stdout.toString(), /SECRET/, rel);
    }
  });

  it('a profile\'s own deny glob reaches everywhere, node_modules and .git included (control: readable on the host)', async () => {
    const file = path.join(w.ws, 'node_modules', 'pkg', 'token.txt');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'TOKEN\n');
    assert.equal(host(['cat', file]).stdout, 'TOKEN\n', 'control');
    const own = await w.sandbox({ deny: ['${workspace}/**/token.txt'] });
    try {
      const r = await own.exec(['cat', file]);
      assert.doesNotMatch(r.stdout.toString(), /TOKEN/);
    } finally {
      await own.close();
    }
  });

  it('a masked file and the directories above it cannot be moved from inside (control: they can on the host)', async () => {
    const r = await sb.exec(['sh', '-c', 'mv sub sub2; echo dir=$?; mv sub/.env.local sub/x; echo file=$?; ls']);
    const out = r.stdout.toString();
    assert.match(out, /dir=[1-9]/, out);
    assert.match(out, /file=[1-9]/, out);
    assert.match(out, /^sub$/m);
    await withWorld(async (w2) => {
      assert.equal(host(['mv', path.join(w2.ws, 'sub'), path.join(w2.ws, 'sub2')]).status, 0, 'control');
    });
  });

  it('unix sockets listening in the home cannot be connected to (control: they can on the host)', async () => {
    const dir = path.join(w.home, '.local', 'agent');
    mkdirSync(dir, { recursive: true });
    const sockPath = path.join(dir, 'agent.sock');
    const server = net.createServer((c) => c.end('secret-agent\n'));
    await new Promise<void>((resolve) => server.listen(sockPath, resolve));
    try {
      const control = await new Promise<string>((resolve, reject) => {
        const c = net.connect(sockPath);
        let got = '';
        c.on('data', (d) => (got += d));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
      assert.equal(control, 'secret-agent\n', 'control: the socket answers on the host');
      const fresh = await w.sandbox(); // sockets are looked for when the policy is compiled
      try {
        const r = await fresh.exec(['python3', '-c', `import socket; s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(sockPath)}); print(s.recv(64))`]);
        assert.notEqual(r.exitCode, 0, r.stdout.toString());
        assert.doesNotMatch(r.stdout.toString(), /secret-agent/);
      } finally {
        await fresh.close();
      }
    } finally {
      server.close();
    }
  });

  it('/etc/shadow is masked (the host file is not empty)', async () => {
    const r = await sb.exec(['sh', '-c', 'cat /etc/shadow; stat -c %s /etc/shadow']);
    assert.doesNotMatch(r.stdout.toString(), /root:/);
    assert.match(r.stdout.toString(), /^0\n$/m, 'the sandbox sees an empty masked file');
    assert.ok(statSync('/etc/shadow').size > 0, 'control: the host file has content');
    if (isRoot) assert.match(host(['cat', '/etc/shadow']).stdout, /root:/, 'control: root reads it on the host');
  });

  it('protected paths inside the workspace stay read-only (control: writable on the host)', async () => {
    for (const rel of ['.git/hooks/pre-commit', '.git/config', '.git/hooks/post-checkout']) {
      const file = path.join(w.ws, rel);
      const r = await sb.exec([w.attack, 'write', file]);
      assert.match(r.stdout.toString(), /EROFS/, `${rel}: ${r.stdout}`);
    }
    assert.equal(readFileSync(path.join(w.ws, '.git/hooks/pre-commit'), 'utf8'), '#!/bin/sh\nexit 0\n');
    assert.equal(existsSync(path.join(w.ws, '.git/hooks/post-checkout')), false);
    assert.equal(host([w.attack, 'write', path.join(w.ws, '.git/description')]).status, 0, 'control');
  });

  it('the directories above a nested protected path cannot be moved from inside (control: they can on the host)', async () => {
    await withWorld(async (w2) => {
      mkdirSync(path.join(w2.ws, 'vendor', 'lib', '.git', 'hooks'), { recursive: true });
      const own = await w2.sandbox({ protected: [path.join(w2.ws, 'vendor', 'lib', '.git', 'hooks')], prespawn: false });
      try {
        // Moving vendor/ would take the protected hooks with it, and a sandbox being built at that
        // moment would find nothing to protect at the old path.
        const r = await own.exec(['sh', '-c', 'mv vendor vendor2; echo top=$?; mv vendor/lib vendor/lib2; echo mid=$?; ls']);
        const out = r.stdout.toString();
        assert.match(out, /top=[1-9]/, out);
        assert.match(out, /mid=[1-9]/, out);
        assert.match(out, /^vendor$/m);
      } finally {
        await own.close();
      }
      assert.equal(host(['mv', path.join(w2.ws, 'vendor'), path.join(w2.ws, 'vendor2')]).status, 0, 'control');
    });
  });

  it('a symlink in the workspace does not reach a masked secret (control: it does on the host)', async () => {
    const link = path.join(w.ws, 'innocent');
    symlinkSync(path.join(w.home, '.ssh', 'id_ed25519'), link);
    assert.equal(host(['cat', link]).stdout, 'PRIVATE KEY\n');
    const r = await sb.exec(['cat', link]);
    assert.doesNotMatch(r.stdout.toString(), /PRIVATE KEY/);
  });

  it('a symlink in the workspace does not make a read-only tree writable', async () => {
    const link = path.join(w.ws, 'homelink');
    symlinkSync(w.home, link);
    const r = await sb.exec([w.attack, 'write', path.join(link, 'via-link.txt')]);
    assert.match(r.stdout.toString(), /EROFS/);
    assert.equal(existsSync(path.join(w.home, 'via-link.txt')), false);
  });

  it('hard links from the workspace to files outside it are refused (control: allowed on the host)', async () => {
    const src = path.join(w.home, 'notes.txt');
    const r = await sb.exec([w.attack, 'hardlink', src, path.join(w.ws, 'hl')]);
    assert.notEqual(r.exitCode, 0, r.stdout.toString());
    assert.equal(existsSync(path.join(w.ws, 'hl')), false);
    const control = host([w.attack, 'hardlink', src, path.join(w.root, 'hl-control')]);
    assert.equal(control.status, 0, `control: ${control.stdout}`);
  });

  it('the host /tmp is not visible; the private /tmp is writable and gone afterwards', async () => {
    const marker = path.join(w.root, 'host-tmp-marker');
    const file = `private-file-${process.pid}`; // unique: no other test file can have made it on the host
    const r = await sb.exec(['sh', '-c', `ls ${w.root}; echo data > /tmp/${file}; ls /tmp`]);
    assert.doesNotMatch(r.stdout.toString(), /host-tmp-marker/);
    assert.match(r.stdout.toString(), new RegExp(file));
    assert.equal(existsSync(`/tmp/${file}`), false);
    assert.equal(existsSync(marker), false);
  });

  it('a protected path that is a symlink refuses to run', async () => {
    await withWorld(async (w2) => {
      // Replace .git/config with a link pointing out of the workspace.
      const cfg = path.join(w2.ws, '.git', 'config');
      rmSync(cfg);
      symlinkSync(path.join(w2.home, '.bashrc'), cfg);
      await assert.rejects(w2.sandbox(), (e: unknown) => e instanceof CordonError && /symlink/.test(e.message));
    });
  });

  it('.git cannot be renamed or removed to shed its protection (control: it can on the host)', async () => {
    const r = await sb.exec(['sh', '-c', 'mv .git .git-old; echo mv=$?; rm -rf .git; echo rm=$?; ls -a']);
    const out = r.stdout.toString();
    assert.match(out, /mv=[1-9]/, out);
    assert.match(out, /\n\.git\n/, 'the .git directory is still there');
    assert.equal(readFileSync(path.join(w.ws, '.git', 'hooks', 'pre-commit'), 'utf8'), '#!/bin/sh\nexit 0\n');
    await withWorld(async (w2) => {
      assert.equal(host(['mv', path.join(w2.ws, '.git'), path.join(w2.ws, '.git-old')]).status, 0, 'control');
    });
  });

  it('git indirection files (.git/commondir) are reported when created and read-only afterwards', async () => {
    const commondir = path.join(w.ws, '.git', 'commondir');
    const r = await sb.exec(['sh', '-c', 'echo /tmp/elsewhere > .git/commondir']);
    assert.ok(r.violations.some((v) => v.what === commondir), JSON.stringify(r.violations));
    const next = await sb.exec([w.attack, 'write', commondir]);
    assert.match(next.stdout.toString(), /EROFS/);
    rmSync(commondir);
  });

  it('a protected path created by a command is reported, and read-only for the next command', async () => {
    await withWorld(async (w2) => {
      rmSync(path.join(w2.ws, '.git'), { recursive: true });
      const sb2 = await w2.sandbox();
      const init = await sb2.exec(['git', 'init', '-q']);
      assert.equal(init.exitCode, 0, init.stderr.toString());
      assert.ok(init.violations.some((v) => v.what === path.join(w2.ws, '.git', 'hooks')), JSON.stringify(init.violations));
      // The next command (even one built ahead, before .git existed) protects it.
      const r = await sb2.exec([w2.attack, 'write', path.join(w2.ws, '.git', 'hooks', 'pre-commit')]);
      assert.match(r.stdout.toString(), /EROFS/);
      assert.equal(host([w2.attack, 'write', path.join(w2.ws, '.git', 'hooks', 'control')]).status, 0, 'control');
      sb2.close();
    });
  });

  it('the host mount table is unchanged by a run', async () => {
    // Other test files running meanwhile mount on the host under their own cordon-* roots.
    const { mountTable } = await loadBench();
    const before = mountTable([w.root]);
    const r = await sb.exec(['true']);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.deepEqual(mountTable([w.root]), before);
  });

  it('the read-only profile makes the workspace read-only', async () => {
    const ro = await w.sandbox({ profile: 'read-only' });
    const r = await ro.exec([w.attack, 'write', path.join(w.ws, 'nope.txt')]);
    assert.match(r.stdout.toString(), /EROFS/);
    const cat = await ro.exec(['cat', path.join(w.ws, 'README.md')]);
    assert.equal(cat.stdout.toString(), 'hello\n');
    ro.close();
  });
});

describe('setuid guard (root callers)', () => {
  // Every way to leave a setuid/setgid file with content: create it with the bits and then write,
  // truncate, fallocate, copy_file_range, sendfile, O_TMPFILE + link, mknod; and chmod afterwards.
  const ATTEMPTS = String.raw`
import os, stat, sys
d = sys.argv[1]
def mk(name):
    return os.open(os.path.join(d, name), os.O_CREAT | os.O_RDWR, 0o6755)
def attempt(name, fn):
    try:
        fn()
    except OSError as e:
        print(name, 'error', e.errno)
src = os.open('/bin/true', os.O_RDONLY)
attempt('write', lambda: os.write(mk('write'), b'#!/bin/sh\n'))
attempt('ftruncate', lambda: os.ftruncate(mk('ftruncate'), 4096))
attempt('fallocate', lambda: os.posix_fallocate(mk('fallocate'), 0, 4096))
attempt('copy_file_range', lambda: os.copy_file_range(src, mk('copy_file_range'), 4096, 0))
attempt('sendfile', lambda: os.sendfile(mk('sendfile'), src, 0, 4096))
def tmpfile():
    fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o6755)
    os.write(fd, b'x')
    os.link('/proc/self/fd/%d' % fd, os.path.join(d, 'tmpfile'), follow_symlinks=True)
attempt('tmpfile', tmpfile)
def node():
    os.mknod(os.path.join(d, 'mknod'), 0o6755 | stat.S_IFREG)
    fd = os.open(os.path.join(d, 'mknod'), os.O_WRONLY)
    os.write(fd, b'x')
attempt('mknod', node)
def chmod_after():
    fd = os.open(os.path.join(d, 'chmod'), os.O_CREAT | os.O_WRONLY, 0o755)
    os.write(fd, b'x')
    os.chmod(os.path.join(d, 'chmod'), 0o4755)
attempt('chmod', chmod_after)
`;
  /** Files under `dir` that keep a setuid/setgid bit AND have content (a usable setuid binary). */
  const dangerous = (dir: string): string[] =>
    readdirSync(dir).filter((n) => {
      const st = lstatSync(path.join(dir, n));
      return st.isFile() && (st.mode & 0o6000) !== 0 && st.size > 0;
    });

  it('a root caller cannot leave a non-empty setuid or setgid file in the workspace: every route tried (control: the same script as root on the host leaves them)', async (t) => {
    if (!isRoot) {
      t.skip('runs as root only: for other callers a setuid file is owned by themselves and grants nothing new');
      return;
    }
    const w = makeWorld();
    const sb = await w.sandbox();
    try {
      const control = path.join(w.root, 'control');
      mkdirSync(control);
      host(['python3', '-c', ATTEMPTS, control]);
      assert.ok(dangerous(control).length >= 5, `control: root with CAP_FSETID keeps the bits (${dangerous(control).join(', ')})`);
      const dir = path.join(w.ws, 'setid');
      mkdirSync(dir);
      const r = await sb.exec(['python3', '-c', ATTEMPTS, dir]);
      assert.equal(r.exitCode, 0, r.stderr.toString());
      assert.deepEqual(dangerous(dir), [], `left behind: ${r.stdout.toString()}`);
      assert.match(r.stdout.toString(), /chmod error 1/, 'chmod u+s is refused (EPERM)');
      assert.ok(r.violations.some((v) => v.kind === 'syscall' && /chmod/.test(v.what)), JSON.stringify(r.violations));
      assert.ok(readdirSync(dir).length >= 7, 'the files themselves were created');
      assert.equal((await sb.exec(['sh', '-c', 'echo ok > plain && chmod 700 plain && cat plain'])).stdout.toString(), 'ok\n');
    } finally {
      await sb.close();
      w.cleanup();
    }
  });
});

describe('odd workspaces and denied paths', () => {
  it('a git worktree (.git is a pointer file) works, and the pointer stays read-only (control: writable on the host)', async () => {
    await withWorld(async (w) => {
      rmSync(path.join(w.ws, '.git'), { recursive: true, force: true });
      const pointer = path.join(w.ws, '.git');
      writeFileSync(pointer, 'gitdir: /nonexistent/main/.git/worktrees/ws\n');
      const sb = await w.sandbox();
      try {
        const r = await sb.exec(['sh', '-c', 'cat README.md; echo "gitdir: /tmp/evil" > .git; cat .git']);
        assert.match(r.stdout.toString(), /^hello\ngitdir: \/nonexistent/, r.stderr.toString());
        assert.match(r.stderr.toString(), /Read-only file system/);
        writeFileSync(pointer, 'gitdir: /tmp/evil\n'); // control: the host may change it
        assert.equal(readFileSync(pointer, 'utf8'), 'gitdir: /tmp/evil\n');
      } finally {
        await sb.close();
      }
    });
  });

  it('a denied path that is a symlink hides what it leads to, without breaking commands (control: readable on the host)', async () => {
    await withWorld(async (w) => {
      writeFileSync(path.join(w.ws, 'real-secret.txt'), 'SECRET\n');
      symlinkSync('real-secret.txt', path.join(w.ws, 'secret-link'));
      symlinkSync('/nonexistent/target', path.join(w.ws, 'dangling-link'));
      assert.equal(readFileSync(path.join(w.ws, 'secret-link'), 'utf8'), 'SECRET\n', 'control');
      const sb = await w.sandbox({ deny: ['${workspace}/secret-link', '${workspace}/dangling-link'] });
      try {
        const r = await sb.exec(['sh', '-c', 'cat secret-link; cat real-secret.txt; echo done']);
        assert.doesNotMatch(r.stdout.toString(), /SECRET/, r.stderr.toString());
        assert.match(r.stdout.toString(), /done/);
      } finally {
        await sb.close();
      }
    });
  });

  it('read roots under /proc and /sys: the new root is built elsewhere, and the sandbox still has its own /proc (control: the host pid namespace shows more)', async () => {
    await withWorld(async (w) => {
      const sb = await w.sandbox({ read: ['/usr', '/etc', '/proc/cpuinfo', '/sys/kernel'] });
      try {
        const r = await sb.exec(['sh', '-c', 'grep -c ^processor /proc/cpuinfo; ls /sys/kernel >/dev/null && echo sys-ok; ls /proc | grep -c "^[0-9]"']);
        assert.equal(r.exitCode, 0, r.stderr.toString());
        const [cpus, sysOk, pids] = r.stdout.toString().trim().split('\n');
        assert.ok(Number(cpus) >= 1, r.stdout.toString());
        assert.equal(sysOk, 'sys-ok');
        const hostPids = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
        assert.ok(Number(pids) <= 4 && hostPids > Number(pids), `the sandbox sees its own pids (${pids}), the host ${hostPids}`);
      } finally {
        await sb.close();
      }
    });
  });

  it('a read root of / (the whole host, read-only): denied paths stay masked, /tmp and /dev stay cordon\'s own (control: the secret is readable on the host, the host /tmp holds the marker)', async () => {
    await withWorld(async (w) => {
      // Outside /tmp, so only the mask can hide it (the sandbox's /tmp is private anyway).
      const dir = mkdtempSync(path.join('/var/tmp', 'cordon-rootread-'));
      try {
        const secret = path.join(dir, 'secret.txt');
        writeFileSync(secret, 'ROOTREAD-SECRET\n');
        const marker = path.join(os.tmpdir(), `cordon-marker-${process.pid}`);
        writeFileSync(marker, 'x');
        assert.equal(readFileSync(secret, 'utf8'), 'ROOTREAD-SECRET\n', 'control: readable on the host');
        const hostDev = readdirSync('/dev').length;
        const sb = await w.sandbox({ read: ['/'], deny: [secret] });
        try {
          const r = await sb.exec(['sh', '-c', `cat ${secret}; echo rc=$?; test -e ${marker} && echo host-tmp-visible; ls /dev | wc -l; touch /usr/cordon-x 2>/dev/null && echo usr-writable; echo done`]);
          const out = r.stdout.toString();
          assert.doesNotMatch(out, /ROOTREAD-SECRET/, out);
          assert.match(out, /rc=1/);
          assert.doesNotMatch(out, /host-tmp-visible|usr-writable/, out);
          const devCount = Number(out.split('\n')[1]);
          assert.ok(devCount < 20 && devCount < hostDev, `cordon's /dev (${devCount} entries), not the host's (${hostDev})`);
          assert.match(out, /done/);
        } finally {
          await sb.close();
          rmSync(marker, { force: true });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('a container-engine socket under a readable /run is masked (control: a host client connects to it)', async (t) => {
    // A temporary stand-in for containerd's socket; only where the host has no containerd.
    if (!isRoot) return t.skip('creating a socket under /run needs root');
    if (existsSync('/run/containerd')) return t.skip('/run/containerd exists on this host: not touching a real engine');
    const sockPath = '/run/containerd/containerd.sock';
    mkdirSync('/run/containerd');
    const server = net.createServer((c) => c.end('ENGINE\n'));
    try {
      await new Promise<void>((resolve) => server.listen(sockPath, () => resolve()));
      const control = await new Promise<string>((resolve, reject) => {
        const c = net.connect(sockPath);
        let got = '';
        c.on('data', (d) => (got += d.toString()));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
      assert.equal(control, 'ENGINE\n', 'control: the host connects');
      await withWorld(async (w) => {
        const sb = await w.sandbox({ read: ['/usr', '/etc', '/run'] });
        try {
          const r = await sb.exec(['python3', '-c', `import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(${JSON.stringify(sockPath)}); print('connected', s.recv(16))\nexcept OSError as e:\n    print('refused', e.errno)`]);
          assert.match(r.stdout.toString(), /^refused/, r.stdout.toString() + r.stderr.toString());
        } finally {
          await sb.close();
        }
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync('/run/containerd', { recursive: true, force: true });
    }
  });
});

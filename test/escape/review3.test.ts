// cordon tests – security review 3 (docs/security-review-3.md): the inotify-watched listing cache
// (dirwatch.cc/.ts, dircache.ts, existence.ts, realpaths.ts, compile.ts quiet walks) and the stage
// mount. Tests named HOLE assert the secure behaviour and fail while the hole is open; the others
// are attacks that held. Every real-sandbox test has a positive control.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { Sandbox } from '../../dist/index.js';
import { clearDirCache } from '../../dist/policy/dircache.js';
import { setDirWatch, watcherAvailable } from '../../dist/policy/dirwatch.js';
import { existingPaths } from '../../dist/policy/existence.js';
import { isRoot } from '../linux/fixture.js';
import { sandboxUnavailable } from '../profiles/helpers.js';

interface Tree {
  root: string;
  ws: string;
  home: string;
  cleanup(): void;
}

function tree(): Tree {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cordon-review3-'));
  chmodSync(root, 0o755);
  const ws = path.join(root, 'ws');
  const home = path.join(root, 'home');
  mkdirSync(ws, { recursive: true });
  mkdirSync(home, { recursive: true });
  return { root, ws, home, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

async function sh(sb: Sandbox, script: string, cwd?: string): Promise<string> {
  const r = await sb.exec(['sh', '-c', `${script} 2>&1; echo "rc=$?"`], cwd ? { cwd } : {});
  return r.stdout.toString();
}

const lstatExists = (p: string): boolean => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/**
 * ~/.config is a (stow-style, relative) symlink into a dotfiles checkout two levels down. The host
 * user replaces the checkout (`mv ~/src/dotfiles ~/src/dotfiles.old; git clone … ~/src/dotfiles`)
 * and logs in to gh. No watched directory on the path ~ → ~/.config sees an event: the listing of
 * `~/.config` is watched on the OLD target inode, and it is trusted without a stat because its
 * parent `~` was found unchanged in the pass. Before the change, one stat of ~/.config (following
 * the link) saw the new inode.
 */
function swapDotfiles(t: Tree): { secret: string; ok: string } {
  const dots = path.join(t.home, 'src', 'dotfiles');
  renameSync(dots, `${dots}.old`);
  mkdirSync(path.join(dots, 'config', 'gh'), { recursive: true });
  writeFileSync(path.join(dots, 'config', 'ok.txt'), 'OK-NEW\n');
  const secret = path.join(t.home, '.config', 'gh', 'hosts.yml');
  writeFileSync(secret, 'oauth_token: REVIEW3-SECRET\n');
  return { secret, ok: path.join(t.home, '.config', 'ok.txt') };
}

function dotfilesTree(): Tree {
  const t = tree();
  const dots = path.join(t.home, 'src', 'dotfiles');
  mkdirSync(path.join(dots, 'config'), { recursive: true });
  writeFileSync(path.join(dots, 'config', 'ok.txt'), 'OK-OLD\n');
  symlinkSync('src/dotfiles/config', path.join(t.home, '.config'));
  return t;
}

describe('review 3: listings trusted through a symlinked parent', () => {
  it('fixed (H1, high) a built-in secret under a symlinked ~/.config is readable by the next command after the link target\'s ancestor is replaced (pre-built sandbox; control: a fresh Sandbox masks it, the host reads it, the command sees the new directory)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    const w = dotfilesTree();
    const sb = await Sandbox.create({ workspace: w.ws, home: w.home });
    try {
      assert.match(await sh(sb, `cat ${w.home}/.config/ok.txt`), /OK-OLD/);
      assert.match(await sh(sb, `cat ${w.home}/.config/ok.txt`), /OK-OLD/); // the spare is built, its fingerprint taken
      const { secret, ok } = swapDotfiles(w);
      assert.equal(readFileSync(secret, 'utf8'), 'oauth_token: REVIEW3-SECRET\n', 'control: the host reads the token');
      const out = await sh(sb, `cat ${ok}; cat ${secret}`);
      assert.match(out, /OK-NEW/, 'control: the command sees the new dotfiles directory');
      // Control: a Sandbox compiled now masks the same path (it is a built-in deny path).
      const fresh = await Sandbox.create({ workspace: w.ws, home: w.home, prespawn: false });
      try {
        assert.doesNotMatch(await sh(fresh, `cat ${secret}`), /REVIEW3-SECRET/, 'control: ~/.config/gh is masked in a fresh sandbox');
      } finally {
        await fresh.close();
      }
      assert.doesNotMatch(out, /REVIEW3-SECRET/, 'the gh token was readable by the command after the swap');
    } finally {
      await sb.close();
      w.cleanup();
    }
  });

  it('fixed (H1, high) existingPaths() says a path below a symlinked parent is absent after the link target\'s ancestor is replaced (ground truth: lstat; control: the watcher off gets it right)', (t) => {
    if (!watcherAvailable()) return t.skip('no inotify addon');
    const w = dotfilesTree();
    try {
      const paths = [path.join(w.home, '.ssh'), path.join(w.home, '.config', 'gh'), path.join(w.home, '.config', 'ok.txt')];
      assert.deepEqual([...existingPaths(paths)], [false, false, true]);
      swapDotfiles(w);
      const truth = paths.map(lstatExists);
      assert.deepEqual(truth, [false, true, true], 'control: gh exists now');
      // Control: with the watcher off (one stat per directory, the code before the change) the answer is right.
      setDirWatch(false);
      clearDirCache();
      assert.deepEqual([...existingPaths([...paths])], truth, 'control: the stat check sees gh');
      setDirWatch(true);
      clearDirCache();
      // Again with the watcher: warm it up on the old tree, then swap once more.
      rmSync(path.join(w.home, 'src'), { recursive: true, force: true });
      mkdirSync(path.join(w.home, 'src', 'dotfiles', 'config'), { recursive: true });
      writeFileSync(path.join(w.home, 'src', 'dotfiles', 'config', 'ok.txt'), 'OK-OLD\n');
      const fresh = [...paths];
      assert.deepEqual([...existingPaths(fresh)], [false, false, true]);
      swapDotfiles(w);
      // A new array (no memo): the stale listing of ~/.config is trusted anyway.
      assert.deepEqual([...existingPaths([...paths])], paths.map(lstatExists), 'existingPaths trusted the old ~/.config listing');
    } finally {
      setDirWatch(true);
      clearDirCache();
      w.cleanup();
    }
  });
});

describe('review 3: attacks that held', () => {
  it('a real (non-symlink) ~/.config replaced between commands: the new gh token is masked (control: host reads it, command sees the new dir)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    const w = tree();
    mkdirSync(path.join(w.home, '.config'), { recursive: true });
    writeFileSync(path.join(w.home, '.config', 'ok.txt'), 'OK-OLD\n');
    const sb = await Sandbox.create({ workspace: w.ws, home: w.home });
    try {
      await sh(sb, 'true');
      await sh(sb, 'true');
      renameSync(path.join(w.home, '.config'), path.join(w.home, '.config.old'));
      mkdirSync(path.join(w.home, '.config', 'gh'), { recursive: true });
      writeFileSync(path.join(w.home, '.config', 'ok.txt'), 'OK-NEW\n');
      const secret = path.join(w.home, '.config', 'gh', 'hosts.yml');
      writeFileSync(secret, 'oauth_token: REVIEW3-SECRET\n');
      assert.match(readFileSync(secret, 'utf8'), /REVIEW3-SECRET/);
      const out = await sh(sb, `cat ${w.home}/.config/ok.txt; cat ${secret}`);
      assert.match(out, /OK-NEW/, 'control: the command sees the new ~/.config');
      assert.doesNotMatch(out, /REVIEW3-SECRET/);
    } finally {
      await sb.close();
      w.cleanup();
    }
  });

  it('a tree holding .env files renamed into the workspace from outside, deep, between commands: masked (control: host reads it)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    const w = tree();
    mkdirSync(path.join(w.ws, 'a', 'b'), { recursive: true });
    const sb = await Sandbox.create({ workspace: w.ws, home: w.home });
    try {
      await sh(sb, 'ls -R .', w.ws);
      await sh(sb, 'ls -R .', w.ws);
      const outside = path.join(w.root, 'outside');
      mkdirSync(path.join(outside, 'c', 'd'), { recursive: true });
      writeFileSync(path.join(outside, 'c', 'd', '.env'), 'API_KEY=REVIEW3-SECRET\n');
      writeFileSync(path.join(outside, 'c', 'd', 'ok.txt'), 'OK\n');
      renameSync(outside, path.join(w.ws, 'a', 'b', 'moved'));
      const env = path.join(w.ws, 'a', 'b', 'moved', 'c', 'd', '.env');
      assert.match(readFileSync(env, 'utf8'), /REVIEW3-SECRET/);
      const out = await sh(sb, `cat a/b/moved/c/d/ok.txt; cat ${env}`, w.ws);
      assert.match(out, /OK/);
      assert.doesNotMatch(out, /REVIEW3-SECRET/);
    } finally {
      await sb.close();
      w.cleanup();
    }
  });

  it('a workspace subdirectory replaced by a new one holding a .env, and a hard link of it in the old one, between commands: masked (control: host reads it, command lists it)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    const w = tree();
    mkdirSync(path.join(w.ws, 'sub', 'x'), { recursive: true });
    const sb = await Sandbox.create({ workspace: w.ws, home: w.home });
    try {
      await sh(sb, 'true');
      await sh(sb, 'true');
      // sub -> real dir moved aside; a new real dir with a .env takes its place (same name, new inode).
      renameSync(path.join(w.ws, 'sub'), path.join(w.ws, 'sub.old'));
      mkdirSync(path.join(w.ws, 'sub', 'x'), { recursive: true });
      writeFileSync(path.join(w.ws, 'sub', 'x', '.env'), 'API_KEY=REVIEW3-SECRET\n');
      assert.match(readFileSync(path.join(w.ws, 'sub', 'x', '.env'), 'utf8'), /REVIEW3-SECRET/);
      let out = await sh(sb, `ls sub/x; cat sub/x/.env`, w.ws);
      assert.match(out, /\.env/, 'control: the command lists the new directory');
      assert.doesNotMatch(out, /REVIEW3-SECRET/);
      // and: sub.old/x gets a .env through a hard link of the first one
      spawnSync('ln', [path.join(w.ws, 'sub', 'x', '.env'), path.join(w.ws, 'sub.old', 'x', '.env')]);
      out = await sh(sb, `cat sub.old/x/.env`, w.ws);
      assert.doesNotMatch(out, /REVIEW3-SECRET/);
    } finally {
      await sb.close();
      w.cleanup();
    }
  });

  it('a bind mount by the host over an empty workspace directory, between commands: its .env is masked (mount table change; control: host reads it)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    if (!isRoot) return t.skip('root only (mount)');
    const w = tree();
    mkdirSync(path.join(w.ws, 'mnt'), { recursive: true });
    const src = path.join(w.root, 'src');
    mkdirSync(src);
    writeFileSync(path.join(src, '.env'), 'API_KEY=REVIEW3-SECRET\n');
    const sb = await Sandbox.create({ workspace: w.ws, home: w.home });
    let mounted = false;
    try {
      await sh(sb, 'true');
      await sh(sb, 'true');
      const m = spawnSync('mount', ['--bind', src, path.join(w.ws, 'mnt')], { encoding: 'utf8' });
      assert.equal(m.status, 0, m.stderr);
      mounted = true;
      assert.match(readFileSync(path.join(w.ws, 'mnt', '.env'), 'utf8'), /REVIEW3-SECRET/);
      const out = await sh(sb, `ls -a mnt; cat mnt/.env`, w.ws);
      assert.doesNotMatch(out, /REVIEW3-SECRET/);
    } finally {
      await sb.close();
      if (mounted) spawnSync('umount', [path.join(w.ws, 'mnt')]);
      w.cleanup();
    }
  });

  it('a sandboxed command making .git a symlink (to reach .git/hooks through a path the listing cache may trust) gets the next command refused, not an unprotected hooks dir (control: the first command runs)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    const w = tree();
    const sb = await Sandbox.create({ workspace: w.ws, home: w.home });
    try {
      assert.match(await sh(sb, 'mkdir -p x/y/git && ln -s x/y/git .git && echo made', w.ws), /made/);
      let refused = false;
      let out = '';
      try {
        out = await sh(sb, 'mv x/y x/y2 && mkdir -p x/y/git/hooks && echo evil > x/y/git/hooks/pre-commit; cat .git/hooks/pre-commit', w.ws);
      } catch (e) {
        refused = /SETUP_FAILED|symlink|ELOOP/.test(String(e));
      }
      assert.ok(refused || !/evil/.test(out), `the command ran with .git a symlink: ${out}`);
    } finally {
      await sb.close();
      w.cleanup();
    }
  });
});

describe('review 3: filesystems on the watched list whose changes can bypass the overlay inode', () => {
  it('fixed (H2, medium) a .env written straight into an overlayfs upper dir between commands is readable by the next command (control: host reads it through the overlay, the command lists it; with CORDON_DIRWATCH=0 it is masked)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    if (!isRoot) return t.skip('root only (mount -t overlay)');
    const w = tree();
    for (const d of ['lower', 'upper', 'work']) mkdirSync(path.join(w.root, d));
    mkdirSync(path.join(w.root, 'lower', 'sub'));
    const m = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${w.root}/lower,upperdir=${w.root}/upper,workdir=${w.root}/work`, w.ws], { encoding: 'utf8' });
    if (m.status !== 0) {
      w.cleanup();
      return t.skip(`no overlayfs: ${m.stderr}`);
    }
    mkdirSync(path.join(w.ws, 'sub2')); // a directory of the upper layer only
    try {
      const sb = await Sandbox.create({ workspace: w.ws, home: w.home });
      let out: string;
      try {
        await sh(sb, 'ls -R', w.ws);
        await sh(sb, 'ls -R', w.ws);
        // What a container host (or anything with the layer paths) does: write the layer, not the overlay.
        writeFileSync(path.join(w.root, 'upper', 'sub2', '.env'), 'API_KEY=REVIEW3-SECRET\n');
        assert.match(readFileSync(path.join(w.ws, 'sub2', '.env'), 'utf8'), /REVIEW3-SECRET/, 'control: visible through the overlay');
        out = await sh(sb, 'ls -a sub2; cat sub2/.env', w.ws);
      } finally {
        await sb.close();
      }
      assert.match(out, /\.env/, 'control: the command lists the file');
      assert.doesNotMatch(out, /REVIEW3-SECRET/, 'the .env written into the upper layer was readable');
    } finally {
      spawnSync('umount', [w.ws]);
      w.cleanup();
    }
  });
});

describe('review 3: the stage mount', () => {
  it('read roots under every stage candidate: the root is built under a scratch root instead, and the sandbox keeps its own /proc (control: one candidate free runs)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    const w = tree();
    try {
      const candidates = ['/proc', '/sys', '/run', '/mnt', '/srv', '/media', '/boot'].filter((c) => {
        try {
          return lstatSync(c).isDirectory();
        } catch {
          return false;
        }
      });
      const under = candidates.map((c) => (c === '/proc' ? '/proc/sys' : c));
      const ok = await Sandbox.create({ workspace: w.ws, home: w.home, read: under.slice(1), prespawn: false });
      try {
        assert.match(await sh(ok, 'echo ran'), /ran/, 'control: a free candidate (/proc) is used');
      } finally {
        await ok.close();
      }
      const sb = await Sandbox.create({ workspace: w.ws, home: w.home, read: under, prespawn: false });
      try {
        // (Fixed after review: no stage free means the old scratch-root layout, not an error.)
        assert.match(await sh(sb, 'echo ran; ls /proc | grep -c "^[0-9]"'), /ran\n[1-4]\n/);
      } finally {
        await sb.close();
      }
    } finally {
      w.cleanup();
    }
  });

  it('fixed (H3, low) a read root of / (an ancestor of every stage candidate) runs as before the stage change, or fails with a clear error — not a silent exit 127 for every command (control: the same sandbox without / runs)', async (t) => {
    const why = await sandboxUnavailable();
    if (why) return t.skip(why);
    const w = tree();
    try {
      const ok = await Sandbox.create({ workspace: w.ws, home: w.home, prespawn: false });
      try {
        const r = await ok.exec(['/bin/echo', 'ran']);
        assert.equal(r.stdout.toString(), 'ran\n', 'control');
      } finally {
        await ok.close();
      }
      const sb = await Sandbox.create({ workspace: w.ws, home: w.home, read: ['/'], prespawn: false });
      try {
        let r;
        try {
          r = await sb.exec(['/bin/echo', 'ran']);
        } catch (e) {
          assert.match(String(e), /stage|read root|refus/i, `an unclear error: ${String(e)}`);
          return;
        }
        assert.equal(r.exitCode, 0, `echo exited ${r.exitCode} with stderr ${JSON.stringify(r.stderr.toString())} (read root /)`);
        assert.equal(r.stdout.toString(), 'ran\n');
      } finally {
        await sb.close();
      }
    } finally {
      w.cleanup();
    }
  });
});
